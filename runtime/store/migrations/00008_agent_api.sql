-- The agents' API (docs/api.md): internal notes, and the indexes its lists need.
--
--   * conversation_notes: an agent's internal note on a conversation, never sent to the
--     customer; author is the principal's actor ("agent:<login>", "token:<name>"). Notes
--     go with their conversation when retention purges it (ON DELETE CASCADE).
--   * Conversations are listed by latest activity, COALESCE(last_message_at, created_at),
--     then id, both descending (keyset pagination on the pair): one index per namespace,
--     one per namespace and status (the usual "open" page), one per namespace and team
--     (agents without conversations.readAll see their teams only). GIN on tags.
--   * Contacts: by wa_id prefix (phone search) and newest first; the audit log newest
--     first and by actor (by time: audit_log_age_idx of 00013).

-- +goose Up
CREATE TABLE conversation_notes (
    id              bigserial   PRIMARY KEY,
    namespace       text        NOT NULL CHECK (namespace <> ''),
    conversation_id bigint      NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author          text        NOT NULL CHECK (author <> ''),
    body            text        NOT NULL CHECK (char_length(body) BETWEEN 1 AND 4096),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX conversation_notes_conversation_idx ON conversation_notes (conversation_id, id);

CREATE INDEX conversations_activity_idx
    ON conversations (namespace, (COALESCE(last_message_at, created_at)) DESC, id DESC);
CREATE INDEX conversations_status_activity_idx
    ON conversations (namespace, status, (COALESCE(last_message_at, created_at)) DESC, id DESC);
CREATE INDEX conversations_team_activity_idx
    ON conversations (namespace, team, (COALESCE(last_message_at, created_at)) DESC, id DESC);
CREATE INDEX conversations_tags_idx ON conversations USING gin (tags);

CREATE INDEX contacts_wa_id_prefix_idx ON contacts (namespace, wa_id text_pattern_ops);
CREATE INDEX contacts_newest_idx ON contacts (namespace, id DESC);

CREATE INDEX audit_log_newest_idx ON audit_log (namespace, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (namespace, actor, id DESC);

-- +goose Down
DROP INDEX audit_log_actor_idx;
DROP INDEX audit_log_newest_idx;
DROP INDEX contacts_newest_idx;
DROP INDEX contacts_wa_id_prefix_idx;
DROP INDEX conversations_tags_idx;
DROP INDEX conversations_team_activity_idx;
DROP INDEX conversations_status_activity_idx;
DROP INDEX conversations_activity_idx;
DROP TABLE conversation_notes;
