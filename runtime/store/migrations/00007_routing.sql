-- Routing wired into the inbox (docs/routing.md): agents' availability, the RoundRobin
-- cursors and the routing lock, and what the queue and assignWithin need on conversations.
--
--   * agent_availability: one row per agent (login name, what RoutingPolicy
--     teams[].members lists) that has ever set its availability. An agent without a row
--     is offline. reason says who set it last ("set" by the agent or a supervisor,
--     "Missed" or "Disconnected" by the away rules). idle_since: when the agent last
--     received a conversation or came online (LeastLoaded's tie-break). connections and
--     gone_since: live connections (the event stream) open now, and when the last one
--     closed (NULL while one is open or never tracked). misses: assignments in a row that
--     lapsed (reset by an accept or an answer).
--   * routing_state: one row per namespace (the tenant). Every routing transaction locks
--     it first (SELECT ... FOR UPDATE), so that plans of several inbox replicas never
--     interleave; cursors holds the RoundRobin cursor of each RoutingPolicy by name,
--     queues the count of waiting conversations per team after the last plan (so that a
--     plan emits a queue event only when a count changes).
--   * conversations: waiting_since (when it began to wait; kept when an assignment
--     lapses or it is transferred to a team), assigned_at, accepted_at (accepted or
--     answered by the assignee; an accepted assignment never lapses), first_assigned_at
--     (for the "assigned within 5 s" metric), exclude_agent (the agent that last let it
--     lapse). The existing team column, when set (a transfer or an assignment to a
--     team), limits the eligible teams to that one.

-- +goose Up
CREATE TABLE agent_availability (
    namespace    text        NOT NULL CHECK (namespace <> ''),
    login        text        NOT NULL CHECK (login <> ''),
    availability text        NOT NULL CHECK (availability IN ('online', 'away', 'offline')),
    reason       text        NOT NULL DEFAULT 'set',
    changed_at   timestamptz NOT NULL DEFAULT now(),
    idle_since   timestamptz,
    connections  integer     NOT NULL DEFAULT 0 CHECK (connections >= 0),
    gone_since   timestamptz,
    misses       integer     NOT NULL DEFAULT 0 CHECK (misses >= 0),
    PRIMARY KEY (namespace, login)
);

CREATE TABLE routing_state (
    namespace text  PRIMARY KEY CHECK (namespace <> ''),
    cursors   jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(cursors) = 'object'),
    queues    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(queues) = 'object')
);

ALTER TABLE conversations
    ADD COLUMN waiting_since     timestamptz,
    ADD COLUMN assigned_at       timestamptz,
    ADD COLUMN accepted_at       timestamptz,
    ADD COLUMN first_assigned_at timestamptz,
    ADD COLUMN exclude_agent     text;

UPDATE conversations SET waiting_since = created_at WHERE status <> 'resolved' AND assignee IS NULL;
ALTER TABLE conversations ALTER COLUMN waiting_since SET DEFAULT now();
UPDATE conversations SET assigned_at = updated_at, accepted_at = updated_at, first_assigned_at = updated_at
 WHERE assignee IS NOT NULL;

-- The queue: unassigned unresolved conversations.
CREATE INDEX conversations_queue_idx ON conversations (namespace, priority DESC, waiting_since, id)
    WHERE status <> 'resolved' AND assignee IS NULL;
-- Agents' loads and pending assignments.
CREATE INDEX conversations_assignee_idx ON conversations (namespace, assignee)
    WHERE status <> 'resolved' AND assignee IS NOT NULL;

-- Assignments not accepted yet, oldest first (the lapses).
CREATE INDEX conversations_pending_idx ON conversations (namespace, assigned_at)
    WHERE status <> 'resolved' AND assignee IS NOT NULL AND accepted_at IS NULL;

-- +goose Down
DROP INDEX conversations_pending_idx;
DROP INDEX conversations_assignee_idx;
DROP INDEX conversations_queue_idx;
ALTER TABLE conversations
    DROP COLUMN exclude_agent,
    DROP COLUMN first_assigned_at,
    DROP COLUMN accepted_at,
    DROP COLUMN assigned_at,
    DROP COLUMN waiting_since;
DROP TABLE routing_state;
DROP TABLE agent_availability;
