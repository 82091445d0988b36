-- Outbound media (docs/inbox-media.md#outbound): a file an agent sends is stored in the
-- archive first, then uploaded to Meta; its media row is written already "stored", in the
-- transaction that queues the message, and links the message like an inbound one.
--
--   * direction: in (downloaded from Meta, queued by the trigger of migration 00005) or out
--     (sent by an agent). An outbound object's key is namespace/number/out-<random>, kept
--     in object_key (its media_id, Meta's, is only known after the upload).
--   * idempotency_key: the Idempotency-Key header of the request that sent it, unique per
--     namespace: a retried request answers the message already sent instead of sending it
--     again.

-- +goose Up
ALTER TABLE media ADD COLUMN direction text NOT NULL DEFAULT 'in' CHECK (direction IN ('in', 'out'));
ALTER TABLE media ADD COLUMN idempotency_key text CHECK (idempotency_key <> '');
CREATE UNIQUE INDEX media_idempotency_key ON media (namespace, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- +goose Down
DROP INDEX media_idempotency_key;
ALTER TABLE media DROP COLUMN idempotency_key;
ALTER TABLE media DROP COLUMN direction;
