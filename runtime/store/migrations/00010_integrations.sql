-- Integrations (docs/integrations.md): outbound webhooks to the user's services, the
-- chatbot hook, and their delivery log.
--
--   * integration_events: what happened, written by triggers in the same transaction as
--     the change itself (an inbound message stored, a conversation assigned or resolved),
--     whichever code path makes it. The inbox's dispatcher turns each event into one
--     delivery per subscribed endpoint (and a chatbot call) and deletes it, in one
--     transaction, claiming events with FOR UPDATE SKIP LOCKED.
--   * integration_deliveries: one request to send, with its exact body (so that every
--     attempt signs the same bytes) and a stable delivery_id (the receiver's dedup key).
--     Workers claim due rows with FOR UPDATE SKIP LOCKED and lease them for the call (the
--     claim moves next_attempt_at past the call's timeout), so two inbox replicas never
--     send one row at once; a crashed call is tried again when the lease ends (at least
--     once).
--   * integration_attempts: the delivery log, one row per attempt (status code, error,
--     duration); never the secret or the signature.
--   * conversations.bot_handoff_at / bot_handoff_reason: when and why the chatbot gave the
--     conversation to a human (it is not asked again about that conversation).

-- +goose Up
CREATE TABLE integration_events (
    id                bigserial   PRIMARY KEY,
    namespace         text        NOT NULL CHECK (namespace <> ''),
    number            text        NOT NULL CHECK (number <> ''),
    type              text        NOT NULL
                                  CHECK (type IN ('message.received', 'conversation.assigned', 'conversation.resolved')),
    conversation_id   bigint      NOT NULL,
    message_id        bigint,
    assignee          text,
    previous_assignee text,
    occurred_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX integration_events_due ON integration_events (namespace, id);

CREATE TABLE integration_deliveries (
    id                bigserial   PRIMARY KEY,
    delivery_id       uuid        NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    namespace         text        NOT NULL CHECK (namespace <> ''),
    number            text        NOT NULL CHECK (number <> ''),
    kind              text        NOT NULL CHECK (kind IN ('webhook', 'chatbot')),
    -- spec.integrations.webhooks[].name, or "chatbot".
    endpoint          text        NOT NULL CHECK (endpoint <> ''),
    event_id          bigint      NOT NULL,
    event_type        text        NOT NULL,
    conversation_id   bigint      NOT NULL,
    body              text        NOT NULL,
    state             text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts          integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_status_code  integer,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    UNIQUE (namespace, event_id, kind, endpoint)
);
CREATE INDEX integration_deliveries_due ON integration_deliveries (namespace, kind, next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX integration_deliveries_log ON integration_deliveries (namespace, id DESC);

CREATE TABLE integration_attempts (
    id            bigserial   PRIMARY KEY,
    delivery_id   bigint      NOT NULL REFERENCES integration_deliveries (id) ON DELETE CASCADE,
    attempt       integer     NOT NULL CHECK (attempt > 0),
    at            timestamptz NOT NULL DEFAULT now(),
    status_code   integer,
    error         text,
    duration_ms   integer     NOT NULL CHECK (duration_ms >= 0),
    UNIQUE (delivery_id, attempt)
);

ALTER TABLE conversations ADD COLUMN bot_handoff_at timestamptz;
ALTER TABLE conversations ADD COLUMN bot_handoff_reason text;

-- +goose StatementBegin
CREATE FUNCTION integration_message_received() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO integration_events (namespace, number, type, conversation_id, message_id, occurred_at)
    SELECT n.namespace, c.number, 'message.received', n.conversation_id, n.id, n.stored_at
      FROM new_messages n JOIN conversations c ON c.id = n.conversation_id
     WHERE n.direction = 'in'
     ORDER BY n.id;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER messages_integration_events AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION integration_message_received();

-- +goose StatementBegin
CREATE FUNCTION integration_conversation_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.assignee IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.assignee IS DISTINCT FROM OLD.assignee) THEN
        INSERT INTO integration_events (namespace, number, type, conversation_id, assignee, previous_assignee)
        VALUES (NEW.namespace, NEW.number, 'conversation.assigned', NEW.id, NEW.assignee,
                CASE WHEN TG_OP = 'UPDATE' THEN OLD.assignee END);
    END IF;
    IF NEW.status = 'resolved' AND (TG_OP = 'INSERT' OR OLD.status <> 'resolved') THEN
        INSERT INTO integration_events (namespace, number, type, conversation_id, assignee)
        VALUES (NEW.namespace, NEW.number, 'conversation.resolved', NEW.id, NEW.assignee);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER conversations_integration_events AFTER INSERT OR UPDATE OF assignee, status ON conversations
    FOR EACH ROW EXECUTE FUNCTION integration_conversation_changed();

-- +goose Down
DROP TRIGGER conversations_integration_events ON conversations;
DROP FUNCTION integration_conversation_changed();
DROP TRIGGER messages_integration_events ON messages;
DROP FUNCTION integration_message_received();
ALTER TABLE conversations DROP COLUMN bot_handoff_reason;
ALTER TABLE conversations DROP COLUMN bot_handoff_at;
DROP TABLE integration_attempts;
DROP TABLE integration_deliveries;
DROP TABLE integration_events;
