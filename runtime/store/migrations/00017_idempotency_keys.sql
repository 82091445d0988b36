-- Idempotency keys (docs/api.md#idempotency; draft-ietf-httpapi-idempotency-key-header):
-- a request to the agents' API that sends to a customer or creates something, given an
-- Idempotency-Key header, records the key here in the transaction of its effect, with the
-- answer it gave. A retry with the same key replays that answer instead of acting again.
--
--   * principal: the caller (authz.Principal.Actor, "kind:subject"): one caller's key never
--     replays another's answer; namespace: the Inbox (the tenant).
--   * method, path, fingerprint: the request the key was first used for; fingerprint is the
--     hex SHA-256 of the method, the path and the request's canonical content (the decoded
--     JSON body, or a media request's file hash and form fields). Another request with the
--     same key is refused (422).
--   * status, body: the answer (the JSON bytes as sent), replayed verbatim.
--   * created_at: a key is kept 24 hours (idempotency.TTL); expired rows are pruned on write.
--
-- The outbound media rows' own idempotency_key (migration 00015) is folded into this
-- table: the column is dropped (its keys, at most a day old, are not carried over).

-- +goose Up
CREATE TABLE idempotency_keys (
    namespace   text        NOT NULL,
    principal   text        NOT NULL,
    key         text        NOT NULL CHECK (key <> '' AND length(key) <= 255),
    method      text        NOT NULL,
    path        text        NOT NULL,
    fingerprint text        NOT NULL,
    status      integer     NOT NULL,
    body        bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (namespace, principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (namespace, created_at);

DROP INDEX media_idempotency_key;
ALTER TABLE media DROP COLUMN idempotency_key;

-- +goose Down
ALTER TABLE media ADD COLUMN idempotency_key text CHECK (idempotency_key <> '');
CREATE UNIQUE INDEX media_idempotency_key ON media (namespace, idempotency_key) WHERE idempotency_key IS NOT NULL;
DROP TABLE idempotency_keys;
