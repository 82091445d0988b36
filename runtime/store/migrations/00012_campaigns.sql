-- Campaigns (docs/campaigns.md): one approved template with per-contact parameters sent
-- to a list or a tag filter of contacts, through the sender's campaign lane.
--
--   * campaigns: what to send, to whom (target), from which Number, and its state:
--     draft → scheduled → running ⇄ paused → completed, or cancelled from any of the
--     first four. window bounds how many of its outbox rows may be queued or sending at
--     once: the runner adds recipients to the outbox only as the sender drains them.
--   * campaign_members: one row per recipient, deduplicated by the canonical wa_id
--     (runtime/phone). ("campaign_recipients" is the sender's unique-recipients budget,
--     00001.) state is what the runner decided: pending (not yet looked at), queued (an
--     outbox row exists: outbox_id), skipped (reason: opted_out, blocked:<rule>,
--     missing_parameter:<attribute>), cancelled. Once queued, its delivery state (sent,
--     delivered, read, failed and the error code) is read from the outbox row, which the
--     sender and the status webhooks keep up to date.
--   * outbox.campaign_id: the campaign of a campaign-lane row. The sender claims such a
--     row only while its campaign is running (runtime/store claimSQL), so a pause holds
--     the queued rows at once, and resume releases the same rows: nothing is enqueued
--     twice. A unique index allows one outbox row per campaign and recipient.
--   * Opt-outs: contacts.marketing_opt_out / marketing_opt_out_at (00003) record them
--     (a 131050 status, a STOP keyword); no new column is needed.

-- +goose Up
CREATE TABLE campaigns (
    id           bigserial   PRIMARY KEY,
    namespace    text        NOT NULL CHECK (namespace <> ''),
    name         text        NOT NULL CHECK (name ~ '^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$'),
    -- The Number (metadata.name) that sends it.
    number       text        NOT NULL CHECK (number <> ''),
    template     text        NOT NULL CHECK (template <> ''),
    language     text        NOT NULL CHECK (language <> ''),
    -- One source per body parameter {{1}}, {{2}}…: {"attribute": "first_name",
    -- "default": "…"} (a contact attribute) or {"value": "…"} (the same for everyone).
    parameters   jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(parameters) = 'array'),
    -- {"tags": {"allOf": [...], "anyOf": [...], "noneOf": [...]}}, {"recipients": N} (an
    -- explicit list, kept in campaign_members) or {"segment": "name"}.
    target       jsonb       NOT NULL CHECK (jsonb_typeof(target) = 'object'),
    state        text        NOT NULL DEFAULT 'draft'
                             CHECK (state IN ('draft', 'scheduled', 'running', 'paused', 'cancelled', 'completed')),
    start_at     timestamptz,
    "window"     integer     NOT NULL DEFAULT 200 CHECK ("window" BETWEEN 1 AND 10000),
    created_by   text        NOT NULL CHECK (created_by <> ''),
    started_by   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    UNIQUE (namespace, name)
);

-- The runner's work: scheduled campaigns that are due, running ones.
CREATE INDEX campaigns_active_idx ON campaigns (state, start_at) WHERE state IN ('scheduled', 'running', 'cancelled');

CREATE TABLE campaign_members (
    id          bigserial   PRIMARY KEY,
    campaign_id bigint      NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    namespace   text        NOT NULL CHECK (namespace <> ''),
    wa_id       text        NOT NULL CHECK (wa_id ~ '^[0-9]{1,20}$'),
    -- Parameters given with an explicit list (an array of strings); NULL: from the
    -- campaign's parameter sources and the contact's attributes.
    parameters  jsonb       CHECK (parameters IS NULL OR jsonb_typeof(parameters) = 'array'),
    state       text        NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'queued', 'skipped', 'cancelled')),
    reason      text,
    -- SET NULL: retention purges finished outbox rows; the member then counts as purged.
    outbox_id   bigint      UNIQUE REFERENCES outbox (id) ON DELETE SET NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, wa_id),
    CHECK ((state = 'skipped') = (reason IS NOT NULL))
);

CREATE INDEX campaign_members_pending_idx ON campaign_members (campaign_id, id) WHERE state = 'pending';

ALTER TABLE outbox ADD COLUMN campaign_id bigint REFERENCES campaigns (id);

CREATE UNIQUE INDEX outbox_campaign_recipient_key ON outbox (campaign_id, recipient) WHERE campaign_id IS NOT NULL;
CREATE INDEX outbox_campaign_state_idx ON outbox (campaign_id, state) WHERE campaign_id IS NOT NULL;

-- +goose Down
DROP INDEX outbox_campaign_state_idx;
DROP INDEX outbox_campaign_recipient_key;
ALTER TABLE outbox DROP COLUMN campaign_id;
DROP TABLE campaign_members;
DROP TABLE campaigns;
