-- Live events (GET /api/v1/events) and the supervisor view (GET /api/v1/supervisor);
-- docs/live.md describes both.
--
-- inbox_events is a short-lived journal of changes, written in the same transaction as
-- the change by the triggers below (messages, conversations) or by anyone calling
-- inbox_event(). Each insert NOTIFYs the channel switchboard_inbox_events with the
-- namespace as the only payload (PostgreSQL folds equal notifications of one transaction
-- into one); every inbox process LISTENs once and reads the rows.
-- Rows older than 15 minutes are pruned in batches (inbox_events_prune): a client that
-- reconnects with Last-Event-ID within that time misses nothing.
--
-- The routing (migration 00007) writes its changes' audit rows and its queue counts; the
-- triggers here turn them into events too (availability.changed, conversation.accepted,
-- queue.changed), so the routing need not call inbox_event() itself.
--
-- The supervisor view reads conversations.first_assigned_at ("assigned within 5 s") and
-- waiting_since (the oldest waiting age). Both are the routing's columns (00007); they are
-- added here if missing, and a trigger fills them when a writer leaves them NULL.

-- +goose Up
CREATE TABLE inbox_events (
    id              bigserial   PRIMARY KEY,
    namespace       text        NOT NULL CHECK (namespace <> ''),
    -- message.created, message.status, conversation.created, conversation.assigned, …
    -- (docs/live.md lists them; inbox_event() callers may add their own "<object>.<verb>").
    kind            text        NOT NULL CHECK (kind ~ '^[a-z][a-zA-Z]*\.[a-z][a-zA-Z]*$'),
    conversation_id bigint,
    -- The teams the event concerns (a transfer: the old and the new team). An agent
    -- without conversations.readAll sees the event when it belongs to one of them.
    teams           text[]      NOT NULL DEFAULT '{}' CHECK (array_position(teams, NULL) IS NULL),
    -- The agent the event concerns: the conversation's assignee, or the agent whose
    -- availability changed. That agent sees the event whatever its teams.
    agent           text,
    payload         jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
    at              timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX inbox_events_namespace_idx ON inbox_events (namespace, id);
CREATE INDEX inbox_events_at_idx ON inbox_events (at);

-- inbox_event records one event and notifies the inbox processes when the caller's
-- transaction commits. It returns the event's id. Writers that change state the triggers
-- do not see (availability, queue) call it in the transaction of the change, e.g.
--   SELECT inbox_event('acme', 'availability.changed', NULL, NULL, '{"availability":"away"}', 'ana');
-- An xid is taken before the id: a reader that sees a gap in the ids knows that the
-- transaction holding the missing id is among those running (docs/live.md, "Order").
-- +goose StatementBegin
CREATE FUNCTION inbox_event(p_namespace text, p_kind text, p_conversation_id bigint, p_teams text[], p_payload jsonb,
                            p_agent text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM pg_current_xact_id();
    INSERT INTO inbox_events (namespace, kind, conversation_id, teams, payload, agent)
    VALUES (p_namespace, p_kind, p_conversation_id,
            COALESCE((SELECT array_agg(DISTINCT t ORDER BY t) FROM unnest(p_teams) t WHERE t IS NOT NULL), '{}'),
            COALESCE(p_payload, '{}'), p_agent)
    RETURNING id INTO v_id;
    -- PostgreSQL serialises the commits of notifying transactions (a global lock held
    -- through the commit's WAL flush): only one transaction in flight at a time notifies,
    -- the others' events are read at its notification or at the readers' next poll.
    IF pg_try_advisory_xact_lock(hashtext('switchboard_inbox_events'), 0) THEN
        PERFORM pg_notify('switchboard_inbox_events', p_namespace);
    END IF;
    RETURN v_id;
END
$$;
-- +goose StatementEnd

-- inbox_events_prune deletes at most p_batch events older than p_older_than and returns
-- how many it deleted (callers repeat while it returns p_batch).
-- +goose StatementBegin
CREATE FUNCTION inbox_events_prune(p_older_than interval, p_batch integer) RETURNS integer
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM inbox_events WHERE id IN (
            SELECT id FROM inbox_events WHERE at < clock_timestamp() - p_older_than ORDER BY at LIMIT p_batch)
        RETURNING 1)
    SELECT count(*)::integer FROM gone
$$;
-- +goose StatementEnd

ALTER TABLE conversations ADD COLUMN IF NOT EXISTS first_assigned_at timestamptz;
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS waiting_since timestamptz;
UPDATE conversations SET waiting_since = created_at
 WHERE status <> 'resolved' AND assignee IS NULL AND waiting_since IS NULL;

-- The queues by team (the supervisor view).
CREATE INDEX conversations_team_waiting_idx ON conversations (namespace, team, waiting_since)
    WHERE status <> 'resolved' AND assignee IS NULL;
-- Agents' replies in time order (response times).
CREATE INDEX messages_agent_replies_idx ON messages (namespace, created_at)
    WHERE direction = 'out' AND author LIKE 'agent:%';

-- +goose StatementBegin
CREATE FUNCTION conversations_fill_times() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.assignee IS NOT NULL AND NEW.first_assigned_at IS NULL THEN
        NEW.first_assigned_at := clock_timestamp();
    END IF;
    IF NEW.assignee IS NULL AND NEW.status <> 'resolved' AND NEW.waiting_since IS NULL THEN
        NEW.waiting_since := CASE TG_OP WHEN 'INSERT' THEN NEW.created_at ELSE clock_timestamp() END;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER conversations_fill_times BEFORE INSERT OR UPDATE OF assignee, status ON conversations
    FOR EACH ROW EXECUTE FUNCTION conversations_fill_times();

-- Conversation events: created; assigned (a first assignee or a first team),
-- transferred (another assignee, or another team than a previous one), unassigned (the
-- assignee removed); status (open, pending, resolved).
-- +goose StatementBegin
CREATE FUNCTION conversations_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v jsonb := jsonb_build_object('status', NEW.status, 'assignee', NEW.assignee, 'team', NEW.team,
                                  'number', NEW.number, 'priority', NEW.priority);
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM inbox_event(NEW.namespace, 'conversation.created', NEW.id, ARRAY[NEW.team], v, NEW.assignee);
        RETURN NULL;
    END IF;
    IF (OLD.team IS NOT NULL AND OLD.team IS DISTINCT FROM NEW.team)
       OR (OLD.assignee IS NOT NULL AND NEW.assignee IS NOT NULL AND OLD.assignee <> NEW.assignee) THEN
        PERFORM inbox_event(NEW.namespace, 'conversation.transferred', NEW.id, ARRAY[OLD.team, NEW.team],
                            v || jsonb_build_object('fromAssignee', OLD.assignee, 'fromTeam', OLD.team), NEW.assignee);
    ELSIF (OLD.assignee IS NULL AND NEW.assignee IS NOT NULL) OR (OLD.team IS NULL AND NEW.team IS NOT NULL) THEN
        PERFORM inbox_event(NEW.namespace, 'conversation.assigned', NEW.id, ARRAY[NEW.team], v, NEW.assignee);
    ELSIF OLD.assignee IS NOT NULL AND NEW.assignee IS NULL THEN
        PERFORM inbox_event(NEW.namespace, 'conversation.unassigned', NEW.id, ARRAY[NEW.team],
                            v || jsonb_build_object('fromAssignee', OLD.assignee), OLD.assignee);
    END IF;
    IF OLD.status <> NEW.status THEN
        PERFORM inbox_event(NEW.namespace, 'conversation.status', NEW.id, ARRAY[NEW.team],
                            v || jsonb_build_object('fromStatus', OLD.status), NEW.assignee);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER conversations_live_event AFTER INSERT OR UPDATE OF assignee, team, status ON conversations
    FOR EACH ROW EXECUTE FUNCTION conversations_live_event();

-- Message events: created (inbound and outbound), status (sent, delivered, read, played,
-- failed: the message row's status, which apply_message_statuses moves only forward).
-- An agent's first reply also sets the conversation's first_response_at.
-- +goose StatementBegin
CREATE FUNCTION messages_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_team text;
    v_assignee text;
    v jsonb;
BEGIN
    SELECT team, assignee INTO v_team, v_assignee FROM conversations WHERE id = NEW.conversation_id;
    v := jsonb_build_object('messageId', NEW.id, 'direction', NEW.direction, 'type', NEW.type,
                            'status', NEW.status, 'wamid', NEW.wamid, 'author', NEW.author,
                            'createdAt', NEW.created_at);
    IF TG_OP = 'INSERT' THEN
        PERFORM inbox_event(NEW.namespace, 'message.created', NEW.conversation_id, ARRAY[v_team],
                            v || jsonb_build_object('text', NEW.text), v_assignee);
        IF NEW.direction = 'out' AND NEW.author LIKE 'agent:%' THEN
            UPDATE conversations SET first_response_at = NEW.created_at
             WHERE id = NEW.conversation_id AND first_response_at IS NULL;
        END IF;
    ELSIF OLD.status <> NEW.status THEN
        PERFORM inbox_event(NEW.namespace, 'message.status', NEW.conversation_id, ARRAY[v_team],
                            v || jsonb_build_object('errorCode', NEW.error_code, 'errorTitle', NEW.error_title), v_assignee);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER messages_live_event AFTER INSERT OR UPDATE OF status ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_live_event();

-- The routing's audited changes that the triggers above do not see: an agent's
-- availability (object: the agent) and an accept (object: the conversation).
-- +goose StatementBegin
CREATE FUNCTION audit_log_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_conv bigint;
    v_team text;
    v_agent text;
BEGIN
    IF NEW.object_kind = 'conversation' AND NEW.object_id ~ '^[0-9]{1,18}$' THEN
        v_conv := NEW.object_id::bigint;
        SELECT team, assignee INTO v_team, v_agent FROM conversations WHERE id = v_conv AND namespace = NEW.namespace;
    ELSIF NEW.object_kind = 'agent' THEN
        v_agent := NEW.object_id;
    END IF;
    PERFORM inbox_event(NEW.namespace, NEW.action, v_conv, ARRAY[v_team],
        jsonb_build_object('actor', NEW.actor, 'auditId', NEW.id)
        || CASE WHEN NEW.object_kind = 'agent' THEN jsonb_build_object('agent', NEW.object_id) ELSE '{}' END
        || COALESCE(CASE WHEN jsonb_typeof(NEW.after) = 'object' THEN NEW.after END, '{}'), v_agent);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_live_event AFTER INSERT ON audit_log
    FOR EACH ROW WHEN (NEW.action IN ('availability.changed', 'conversation.accepted'))
    EXECUTE FUNCTION audit_log_live_event();

-- queue.changed: a team's count of waiting conversations, from the routing's
-- routing_state.queues ({"<team>": n}) as each plan saves it.
-- +goose StatementBegin
CREATE FUNCTION routing_state_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t text;
    n jsonb;
BEGIN
    FOR t, n IN
        SELECT k, COALESCE(NEW.queues -> k, '0')
          FROM (SELECT jsonb_object_keys(NEW.queues) UNION SELECT jsonb_object_keys(COALESCE(OLD.queues, '{}'))) AS keys(k)
         WHERE (NEW.queues -> k) IS DISTINCT FROM (OLD.queues -> k)
    LOOP
        PERFORM inbox_event(NEW.namespace, 'queue.changed', NULL, ARRAY[NULLIF(t, '')],
                            jsonb_build_object('team', t, 'waiting', n));
    END LOOP;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- inbox_live_attach_routing creates the routing_state trigger when that table exists
-- (the routing's migration 00007 comes first); a no-op otherwise or when it exists.
-- +goose StatementBegin
CREATE FUNCTION inbox_live_attach_routing() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('routing_state') IS NULL
       OR EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'routing_state_live_event') THEN
        RETURN false;
    END IF;
    CREATE TRIGGER routing_state_live_event AFTER INSERT OR UPDATE OF queues ON routing_state
        FOR EACH ROW EXECUTE FUNCTION routing_state_live_event();
    RETURN true;
END
$$;
-- +goose StatementEnd

SELECT inbox_live_attach_routing();

-- +goose Down
DROP TRIGGER messages_live_event ON messages;
DROP FUNCTION messages_live_event();
DROP TRIGGER conversations_live_event ON conversations;
DROP FUNCTION conversations_live_event();
-- +goose StatementBegin
DO $$ BEGIN
    IF to_regclass('routing_state') IS NOT NULL THEN
        DROP TRIGGER IF EXISTS routing_state_live_event ON routing_state;
    END IF;
END $$;
-- +goose StatementEnd
DROP FUNCTION inbox_live_attach_routing();
DROP FUNCTION routing_state_live_event();
DROP TRIGGER audit_log_live_event ON audit_log;
DROP FUNCTION audit_log_live_event();
DROP TRIGGER conversations_fill_times ON conversations;
DROP FUNCTION conversations_fill_times();
DROP INDEX messages_agent_replies_idx;
DROP INDEX conversations_team_waiting_idx;
-- first_assigned_at and waiting_since stay: the routing (00007) may own them.
DROP FUNCTION inbox_events_prune(interval, integer);
DROP FUNCTION inbox_event(text, text, bigint, text[], jsonb, text);
DROP TABLE inbox_events;
