-- Switchboard's system of record, first part: the outbox the per-number sender drains.
--
-- Naming, so the inbox can follow without renames:
--   * every table keyed by a number carries (namespace, number): the Number object's
--     metadata.namespace and metadata.name (never the phone number itself);
--   * "outbox" holds outbound messages handed to the sender (one row per Cloud API call);
--   * next migrations add "contacts" (namespace, number, wa_id, profile, ...),
--     "conversations" (per contact, with the 24-hour window, assignment and skill) and
--     "messages" (what agents see, inbound and outbound, idempotent on wamid); an outbound
--     message there will point to its outbox row by "outbox_id", and status webhooks
--     (sent, delivered, read, failed) find the row by outbox.wamid;
--   * state columns are text with CHECK constraints (not enum types) so adding a value is
--     a constraint swap, not an ALTER TYPE.

-- +goose Up
CREATE TABLE outbox (
    id                 bigserial   PRIMARY KEY,
    namespace          text        NOT NULL CHECK (namespace <> ''),
    number             text        NOT NULL CHECK (number <> ''),
    recipient          text        NOT NULL CHECK (recipient <> ''),
    lane               text        NOT NULL CHECK (lane IN ('conversation', 'campaign')),
    -- The Cloud API message object without messaging_product and to.
    payload            jsonb       NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    state              text        NOT NULL DEFAULT 'queued'
                                   CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    -- Claims so far (a claim counts as an attempt; Retry keeps the count).
    attempts           integer     NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    wamid              text,
    -- The last error seen (Meta's error.code, or 0 for a transport error).
    error_code         integer,
    error_message      text,
    -- Set when a sender died between claiming the row and recording Meta's answer: the
    -- message may already have been sent once.
    possibly_duplicate boolean     NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    sent_at            timestamptz
);

CREATE UNIQUE INDEX outbox_wamid_key ON outbox (wamid) WHERE wamid IS NOT NULL;

-- Claiming: due queued rows of one number and lane, oldest first.
CREATE INDEX outbox_due_idx ON outbox (namespace, number, lane, next_attempt_at, id)
    WHERE state = 'queued';

-- Per-number counts (metrics) and crash recovery (rows left in 'sending').
CREATE INDEX outbox_number_state_idx ON outbox (namespace, number, state);

-- The messaging limit counts unique business-initiated recipients per rolling 24 hours:
-- one row per (number, recipient) with the last campaign send. Kept in the database so
-- a restarted sender does not start again from a full budget.
CREATE TABLE campaign_recipients (
    namespace    text        NOT NULL,
    number       text        NOT NULL,
    recipient    text        NOT NULL,
    last_sent_at timestamptz NOT NULL,
    PRIMARY KEY (namespace, number, recipient)
);

CREATE INDEX campaign_recipients_window_idx
    ON campaign_recipients (namespace, number, last_sent_at);

-- +goose Down
DROP TABLE campaign_recipients;
DROP TABLE outbox;
