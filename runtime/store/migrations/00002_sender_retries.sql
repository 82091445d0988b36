-- The sender's bounded retries and what Meta resolved the recipient to.
--
--   * retry_class, retry_count, retry_since: the class of the last failed call to Meta
--     ("transient", "pair-rate", "throughput" or "paused"; see docs/sender.md), how many
--     failed calls of that class came one after the other, and when the first of them
--     failed. The sender fails the row once either passes the class's bound. A failure of
--     another class starts the count again.
--   * resolved_wa_id: the wa_id in Meta's answer (contacts[0].wa_id), which can differ
--     from the recipient sent to (Brazil's ninth digit, Mexico's 521). NULL until sent, or
--     when Meta named none.

-- +goose Up
ALTER TABLE outbox
    ADD COLUMN retry_class    text,
    ADD COLUMN retry_count    integer NOT NULL DEFAULT 0,
    ADD COLUMN retry_since    timestamptz,
    ADD COLUMN resolved_wa_id text;

-- +goose Down
ALTER TABLE outbox
    DROP COLUMN resolved_wa_id,
    DROP COLUMN retry_since,
    DROP COLUMN retry_count,
    DROP COLUMN retry_class;
