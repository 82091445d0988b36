-- The inbox's data model: contacts, conversations, messages, their delivery statuses, the
-- webhook events that are not messages, automatic replies, and an append-only audit log.
-- docs/inbox-data.md describes it with a diagram.
--
-- Every table carries "namespace" (the tenant: the Inbox's and the Numbers' namespace)
-- and every query filters on it. "number" is the Number object's metadata.name, as in the
-- outbox. Timestamps are timestamptz; state columns are text with CHECK constraints.
--
-- The outbox (the sender's table) gains only what status webhooks need to write on it:
-- delivered_at, read_at and failed_at (IF NOT EXISTS, in case an earlier migration adds
-- them), and a trigger that applies statuses which arrived before the sender recorded
-- the wamid (see apply_message_statuses).

-- +goose Up
CREATE TABLE contacts (
    id                       bigserial   PRIMARY KEY,
    namespace                text        NOT NULL CHECK (namespace <> ''),
    -- Meta's WhatsApp id: the canonical form, digits only (country code first, no "+").
    wa_id                    text        NOT NULL CHECK (wa_id ~ '^[0-9]{1,20}$'),
    profile_name             text,
    tags                     text[]      NOT NULL DEFAULT '{}'
                                         CHECK (cardinality(tags) <= 50 AND array_position(tags, NULL) IS NULL),
    attributes               jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    -- Set by a 131050 status ("stopped marketing messages"), or by hand.
    marketing_opt_out        boolean     NOT NULL DEFAULT false,
    marketing_opt_out_at     timestamptz,
    marketing_opt_out_reason text,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    UNIQUE (namespace, wa_id)
);

CREATE INDEX contacts_tags_idx ON contacts USING gin (tags);

CREATE TABLE conversations (
    id                bigserial   PRIMARY KEY,
    namespace         text        NOT NULL CHECK (namespace <> ''),
    number            text        NOT NULL CHECK (number <> ''),
    contact_id        bigint      NOT NULL REFERENCES contacts (id),
    status            text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'resolved')),
    priority          smallint    NOT NULL DEFAULT 0,
    required_skill    text,
    tags              text[]      NOT NULL DEFAULT '{}'
                                  CHECK (cardinality(tags) <= 50 AND array_position(tags, NULL) IS NULL),
    assignee          text,
    team              text,
    -- The customer-service window: 24 h after the customer's last message (Meta,
    -- "Service messages"); free-form messages are allowed only before it.
    window_expires_at timestamptz,
    last_message_at   timestamptz,
    first_response_at timestamptz,
    resolved_at       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);

-- At most one unresolved conversation per Number and contact: find-or-open is one
-- INSERT ... ON CONFLICT, safe with several inbox replicas.
CREATE UNIQUE INDEX conversations_active_key ON conversations (namespace, number, contact_id)
    WHERE status <> 'resolved';

-- Open (and pending) conversations of a Number, most recent first.
CREATE INDEX conversations_open_idx ON conversations (namespace, number, status, last_message_at DESC)
    WHERE status <> 'resolved';

CREATE INDEX conversations_contact_idx ON conversations (namespace, contact_id);

CREATE TABLE messages (
    id              bigserial   PRIMARY KEY,
    namespace       text        NOT NULL CHECK (namespace <> ''),
    conversation_id bigint      NOT NULL REFERENCES conversations (id),
    direction       text        NOT NULL CHECK (direction IN ('in', 'out')),
    -- Meta's message id; for an outbound message, set when the sender records it.
    wamid           text,
    -- Meta's message type as sent (text, image, …, or a type Switchboard does not know).
    type            text        NOT NULL CHECK (type <> ''),
    -- The text an agent reads: body, caption, tapped title; NULL for the other types.
    text            text,
    -- The whole message object as Meta sent it (inbound) or as enqueued (outbound).
    content         jsonb       NOT NULL CHECK (jsonb_typeof(content) = 'object'),
    media_id        text,
    media_mime_type text,
    media_sha256    text,
    media_filename  text,
    -- The wamid this message replies to or reacts to (context.id or reaction.message_id).
    context_wamid   text,
    -- received (inbound), queued (outbound, not yet sent), then Meta's statuses.
    status          text        NOT NULL
                                CHECK (status IN ('received', 'queued', 'sent', 'delivered', 'read', 'played', 'failed')),
    sent_at         timestamptz,
    delivered_at    timestamptz,
    read_at         timestamptz,
    failed_at       timestamptz,
    error_code      integer,
    error_title     text,
    error_reason    text,
    outbox_id       bigint      REFERENCES outbox (id),
    -- Who wrote an outbound message: "keyword:<rule>", "agent:<name>", …
    author          text,
    -- When the message was written: Meta's timestamp for inbound messages.
    created_at      timestamptz NOT NULL DEFAULT now(),
    stored_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((direction = 'in') = (status = 'received'))
);

CREATE UNIQUE INDEX messages_wamid_key ON messages (namespace, wamid) WHERE wamid IS NOT NULL;
CREATE UNIQUE INDEX messages_outbox_key ON messages (outbox_id) WHERE outbox_id IS NOT NULL;
-- A conversation's messages in order.
CREATE INDEX messages_conversation_idx ON messages (conversation_id, created_at, id);

-- Every status webhook, once per (wamid, status), whatever order they come in and whether
-- or not the message is known yet. The message's and the outbox row's status are
-- computed from this set (apply_message_statuses), so they never move backwards.
CREATE TABLE message_statuses (
    namespace    text        NOT NULL CHECK (namespace <> ''),
    wamid        text        NOT NULL CHECK (wamid <> ''),
    status       text        NOT NULL CHECK (status IN ('sent', 'delivered', 'read', 'played', 'failed')),
    at           timestamptz NOT NULL,
    recipient_id text,
    error_code   integer,
    error_title  text,
    error_reason text,
    -- The status object as Meta sent it (pricing, conversation, errors, …).
    payload      jsonb       NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, wamid, status)
);

-- Webhook changes that are not inbound messages or statuses (quality, account, capability,
-- template updates, fields Switchboard does not know): stored as sent, once each.
CREATE TABLE webhook_events (
    id          bigserial   PRIMARY KEY,
    namespace   text        NOT NULL CHECK (namespace <> ''),
    number      text,
    field       text        NOT NULL,
    waba_id     text,
    -- SHA-256 of the change's JSON: Meta's retries and duplicates are stored once.
    digest      bytea       NOT NULL,
    payload     jsonb       NOT NULL,
    error       text,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (namespace, digest)
);

CREATE INDEX webhook_events_field_idx ON webhook_events (namespace, field, received_at);

-- Automatic replies sent to a contact (keyword rules, after-hours replies): the memory
-- behind "not the same reply twice in 24 h", the per-contact hourly cap, and "once per
-- conversation per closed period".
CREATE TABLE auto_replies (
    id              bigserial   PRIMARY KEY,
    namespace       text        NOT NULL CHECK (namespace <> ''),
    contact_id      bigint      NOT NULL REFERENCES contacts (id),
    conversation_id bigint      NOT NULL REFERENCES conversations (id),
    -- "keyword:<rule>" or "after-hours:<period start, RFC 3339>".
    reply_key       text        NOT NULL CHECK (reply_key <> ''),
    outbox_id       bigint      REFERENCES outbox (id),
    sent_at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX auto_replies_contact_idx ON auto_replies (namespace, contact_id, sent_at);
CREATE INDEX auto_replies_conversation_idx ON auto_replies (conversation_id, reply_key);

-- Append-only: who did what to which object, with the object before and after.
CREATE TABLE audit_log (
    id          bigserial   PRIMARY KEY,
    namespace   text        NOT NULL CHECK (namespace <> ''),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL CHECK (actor <> ''),
    action      text        NOT NULL CHECK (action <> ''),
    object_kind text        NOT NULL CHECK (object_kind <> ''),
    object_id   text        NOT NULL,
    before      jsonb,
    after       jsonb
);

CREATE INDEX audit_log_object_idx ON audit_log (namespace, object_kind, object_id, at);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

ALTER TABLE outbox ADD COLUMN IF NOT EXISTS delivered_at timestamptz;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS read_at timestamptz;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS failed_at timestamptz;

-- The order of statuses: a later one never gives way to an earlier one (read never goes
-- back to delivered). failed ranks above sent only: Meta does not fail a message it has
-- delivered.
-- +goose StatementBegin
CREATE FUNCTION message_status_rank(s text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE s WHEN 'received' THEN 0 WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 WHEN 'failed' THEN 2
                  WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 WHEN 'played' THEN 5 ELSE 0 END
$$;
-- +goose StatementEnd

-- Recomputes the outbox row's and the message's delivery state of one wamid from all its
-- recorded statuses: idempotent, and the same whatever order the statuses came in.
-- +goose StatementBegin
CREATE FUNCTION apply_message_statuses(p_namespace text, p_wamid text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    s record;
BEGIN
    SELECT min(at) FILTER (WHERE status = 'sent')      AS sent_at,
           min(at) FILTER (WHERE status = 'delivered') AS delivered_at,
           min(at) FILTER (WHERE status = 'read')      AS read_at,
           min(at) FILTER (WHERE status = 'failed')    AS failed_at,
           (array_agg(status ORDER BY message_status_rank(status) DESC))[1] AS top,
           (array_agg(error_code) FILTER (WHERE status = 'failed'))[1]   AS error_code,
           (array_agg(error_title) FILTER (WHERE status = 'failed'))[1]  AS error_title,
           (array_agg(error_reason) FILTER (WHERE status = 'failed'))[1] AS error_reason
      INTO s
      FROM message_statuses WHERE namespace = p_namespace AND wamid = p_wamid;
    IF s.top IS NULL THEN
        RETURN;
    END IF;
    UPDATE outbox SET delivered_at = s.delivered_at, read_at = s.read_at,
                      failed_at = COALESCE(s.failed_at, failed_at),
                      error_code = COALESCE(s.error_code, error_code),
                      error_message = COALESCE(s.error_reason, s.error_title, error_message)
     WHERE namespace = p_namespace AND wamid = p_wamid
       AND (delivered_at, read_at, failed_at, error_code)
           IS DISTINCT FROM (s.delivered_at, s.read_at, COALESCE(s.failed_at, failed_at), COALESCE(s.error_code, error_code));
    UPDATE messages SET
           status = CASE WHEN message_status_rank(s.top) > message_status_rank(status) THEN s.top ELSE status END,
           sent_at = COALESCE(s.sent_at, sent_at), delivered_at = s.delivered_at, read_at = s.read_at,
           failed_at = s.failed_at, error_code = s.error_code, error_title = s.error_title,
           error_reason = s.error_reason
     WHERE namespace = p_namespace AND wamid = p_wamid AND direction = 'out';
END
$$;
-- +goose StatementEnd

-- When the sender records a wamid: link the inbox's message row to it and apply the
-- statuses that arrived first.
-- +goose StatementBegin
CREATE FUNCTION outbox_wamid_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages SET wamid = NEW.wamid, status = CASE WHEN status = 'queued' THEN 'sent' ELSE status END,
                        sent_at = COALESCE(sent_at, NEW.sent_at)
     WHERE outbox_id = NEW.id AND wamid IS NULL;
    PERFORM apply_message_statuses(NEW.namespace, NEW.wamid);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER outbox_wamid_recorded AFTER UPDATE OF wamid ON outbox
    FOR EACH ROW WHEN (NEW.wamid IS NOT NULL AND OLD.wamid IS DISTINCT FROM NEW.wamid)
    EXECUTE FUNCTION outbox_wamid_recorded();

-- +goose Down
DROP TRIGGER outbox_wamid_recorded ON outbox;
DROP FUNCTION outbox_wamid_recorded();
DROP FUNCTION apply_message_statuses(text, text);
DROP FUNCTION message_status_rank(text);
ALTER TABLE outbox DROP COLUMN IF EXISTS failed_at;
ALTER TABLE outbox DROP COLUMN IF EXISTS read_at;
ALTER TABLE outbox DROP COLUMN IF EXISTS delivered_at;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE auto_replies;
DROP TABLE webhook_events;
DROP TABLE message_statuses;
DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE contacts;
