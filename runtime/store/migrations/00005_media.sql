-- The media archive (docs/inbox-media.md): one row per media object a message carries,
-- which is also its download job.
--
--   * namespace, number: the tenant (the Inbox's namespace) and the Number resource whose
--     access token downloads it; media_id is Meta's media ID, unique per Number.
--   * message_id: the inbox message carrying it; set to NULL when the message is deleted, so
--     retention can still find the object to delete from the bucket.
--
-- Every inbound message stored with a media_id enqueues its row here, in the same
-- transaction, through the trigger messages_enqueue_media (so the ingest's pipelined
-- batches need no extra statement). A media_id that cannot be an object key is queued all
-- the same and failed by the worker with the reason: a bad webhook never blocks ingest.
--   * state: pending (to download), stored (in the bucket under object_key, its sha256
--     checked), failed (gave up after max attempts or a permanent refusal; last_error says
--     why, and the message shows it).
--   * attempts, next_attempt_at: the worker claims pending rows whose time has come with
--     FOR UPDATE SKIP LOCKED, so two inbox replicas never download the same media at once;
--     a claim moves next_attempt_at past the download's lease, so a crashed download is
--     retried after it.
--   * sha256 (hex, Meta's, checked), size_bytes, mime_type: what was stored.

-- +goose Up
CREATE TABLE media (
    id              bigserial   PRIMARY KEY,
    namespace       text        NOT NULL CHECK (namespace <> ''),
    number          text        NOT NULL CHECK (number <> ''),
    media_id        text        NOT NULL CHECK (media_id <> ''),
    message_id      bigint      REFERENCES messages (id) ON DELETE SET NULL,
    mime_type       text,
    state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'stored', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    object_key      text,
    sha256          text        CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes      bigint      CHECK (size_bytes >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    stored_at       timestamptz,
    UNIQUE (namespace, number, media_id),
    CHECK (state <> 'stored' OR (object_key IS NOT NULL AND sha256 IS NOT NULL AND size_bytes IS NOT NULL))
);
CREATE INDEX media_due ON media (next_attempt_at) WHERE state = 'pending';
CREATE INDEX media_message ON media (message_id) WHERE message_id IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION media_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO media (namespace, number, media_id, message_id, mime_type)
    SELECT NEW.namespace, c.number, NEW.media_id, NEW.id, NEW.media_mime_type
      FROM conversations c WHERE c.id = NEW.conversation_id
    ON CONFLICT (namespace, number, media_id) DO NOTHING;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER messages_enqueue_media AFTER INSERT ON messages
    FOR EACH ROW WHEN (NEW.direction = 'in' AND NEW.media_id IS NOT NULL AND NEW.media_id <> '')
    EXECUTE FUNCTION media_enqueue();

-- +goose Down
DROP TRIGGER messages_enqueue_media ON messages;
DROP FUNCTION media_enqueue();
DROP TABLE media;
