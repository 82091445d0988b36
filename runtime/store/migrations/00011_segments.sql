-- Segments (docs/contacts.md): a named, stored filter over contacts' tags and attributes,
-- which campaigns send to.
--
--   * namespace: the tenant; name: unique per namespace, what the API and campaigns use.
--   * filter: {"tags":{"allOf":[…],"anyOf":[…],"noneOf":[…]},"attributes":{"key":value}}
--     as runtime/inbox/contacts.Filter validates it; stored as given after validation.
--   * created_by, updated_by: the audit log's actor of the last write.
--
-- contacts gains a GIN index on attributes (jsonb_path_ops: containment only), for the
-- segments' "attribute equals" test (attributes @> '{"key":value}').

-- +goose Up
CREATE TABLE segments (
    id          bigserial   PRIMARY KEY,
    namespace   text        NOT NULL CHECK (namespace <> ''),
    name        text        NOT NULL CHECK (name ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'),
    description text        NOT NULL DEFAULT '',
    filter      jsonb       NOT NULL CHECK (jsonb_typeof(filter) = 'object'),
    created_by  text        NOT NULL CHECK (created_by <> ''),
    updated_by  text        NOT NULL CHECK (updated_by <> ''),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (namespace, name)
);

CREATE INDEX contacts_attributes_idx ON contacts USING gin (attributes jsonb_path_ops);

-- +goose Down
DROP INDEX contacts_attributes_idx;
DROP TABLE segments;
