-- The teams that may take a waiting conversation (docs/routing.md#eligible-teams,
-- docs/permissions.md#visibility).
--
--   * conversations.eligible_teams: the teams the routing's plan found eligible for an
--     unassigned unresolved conversation (RoutingPolicy teams; the Skills strategy keeps
--     the teams with the required skill; a set team column narrows them to that team),
--     written by the plan in the batch that saves the queue counts, cleared when the
--     conversation is assigned or resolved. NULL when no team is named: the Number has
--     no RoutingPolicy ("(unrouted)"), or its policy has no teams ("(any)"), or no plan
--     has run since it began to wait. An agent of one of these teams sees the
--     conversation while it is unassigned (authz.Scope).
--   * The live events of an unassigned conversation (conversation and message events)
--     concern its eligible teams as well as its team, so that their agents receive them.
--
-- No index: the list reads it only as a filter of rows found by the namespace's
-- indexes (an OR with team and assignee, which a GIN index would not serve).

-- +goose Up
ALTER TABLE conversations ADD COLUMN eligible_teams text[]
    CHECK (array_position(eligible_teams, NULL) IS NULL);

-- conversation_event_teams is the teams an event about a conversation (a conversations
-- row as jsonb) concerns: its team, and while it is unassigned its eligible teams. It
-- reads the row as jsonb so that the trigger functions below work unchanged without
-- the column (after the Down migration).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION conversation_event_teams(c jsonb) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY[c->>'team'] || CASE WHEN c->>'assignee' IS NULL AND jsonb_typeof(c->'eligible_teams') = 'array'
        THEN ARRAY(SELECT jsonb_array_elements_text(c->'eligible_teams')) ELSE '{}' END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION conversations_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v jsonb := jsonb_build_object('status', NEW.status, 'assignee', NEW.assignee, 'team', NEW.team,
                                  'number', NEW.number, 'priority', NEW.priority);
    v_teams text[] := conversation_event_teams(to_jsonb(NEW));
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM inbox_event(NEW.namespace, 'conversation.created', NEW.id, v_teams, v, NEW.assignee);
        RETURN NULL;
    END IF;
    IF (OLD.team IS NOT NULL AND OLD.team IS DISTINCT FROM NEW.team)
       OR (OLD.assignee IS NOT NULL AND NEW.assignee IS NOT NULL AND OLD.assignee <> NEW.assignee) THEN
        PERFORM inbox_event(NEW.namespace, 'conversation.transferred', NEW.id, ARRAY[OLD.team] || v_teams,
                            v || jsonb_build_object('fromAssignee', OLD.assignee, 'fromTeam', OLD.team), NEW.assignee);
    ELSIF (OLD.assignee IS NULL AND NEW.assignee IS NOT NULL) OR (OLD.team IS NULL AND NEW.team IS NOT NULL) THEN
        PERFORM inbox_event(NEW.namespace, 'conversation.assigned', NEW.id, v_teams, v, NEW.assignee);
    ELSIF OLD.assignee IS NOT NULL AND NEW.assignee IS NULL THEN
        PERFORM inbox_event(NEW.namespace, 'conversation.unassigned', NEW.id, v_teams,
                            v || jsonb_build_object('fromAssignee', OLD.assignee), OLD.assignee);
    END IF;
    IF OLD.status <> NEW.status THEN
        PERFORM inbox_event(NEW.namespace, 'conversation.status', NEW.id, v_teams,
                            v || jsonb_build_object('fromStatus', OLD.status), NEW.assignee);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION messages_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_teams text[];
    v_assignee text;
    v jsonb;
BEGIN
    SELECT conversation_event_teams(to_jsonb(c)), c.assignee INTO v_teams, v_assignee
      FROM conversations c WHERE c.id = NEW.conversation_id;
    v := jsonb_build_object('messageId', NEW.id, 'direction', NEW.direction, 'type', NEW.type,
                            'status', NEW.status, 'wamid', NEW.wamid, 'author', NEW.author,
                            'createdAt', NEW.created_at);
    IF TG_OP = 'INSERT' THEN
        PERFORM inbox_event(NEW.namespace, 'message.created', NEW.conversation_id, v_teams,
                            v || jsonb_build_object('text', NEW.text), v_assignee);
        IF NEW.direction = 'out' AND NEW.author LIKE 'agent:%' THEN
            UPDATE conversations SET first_response_at = NEW.created_at
             WHERE id = NEW.conversation_id AND first_response_at IS NULL;
        END IF;
    ELSIF OLD.status <> NEW.status THEN
        PERFORM inbox_event(NEW.namespace, 'message.status', NEW.conversation_id, v_teams,
                            v || jsonb_build_object('errorCode', NEW.error_code, 'errorTitle', NEW.error_title), v_assignee);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Without the column the trigger functions above send the events to the team only, as
-- migration 00009's did; they stay.
ALTER TABLE conversations DROP COLUMN eligible_teams;
