-- Reports (docs/reports.md, runtime/inbox/reports): the rate card that message costs are
-- computed from, and customer-satisfaction surveys.
--
--   * rate_cards: the price of one delivered template message per market and category,
--     in millionths of the currency's unit (micros: exact for Meta's rates, which have at
--     most 4 decimals). A market is an ISO 3166-1 alpha-2 country code, or OTHER.
--   * csat_surveys: one survey per resolved conversation (an interactive list 1-5 sent
--     when it is resolved inside the customer-service window), with the agent and team
--     that held it; rating is set by the customer's answer (trigger csat_answer on
--     messages: a list_reply whose id is "csat:<conversation id>:<1-5>", from the same
--     contact on the same Number). The answer comes after the resolve, so it opens a new
--     conversation: the trigger resolves it at once when the answer is all it holds.

-- +goose Up
CREATE TABLE rate_cards (
    namespace    text   NOT NULL CHECK (namespace <> ''),
    market       text   NOT NULL CHECK (market ~ '^([A-Z]{2}|OTHER)$'),
    category     text   NOT NULL CHECK (category IN ('marketing', 'utility', 'authentication',
                                                     'authentication-international', 'service')),
    currency     text   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    price_micros bigint NOT NULL CHECK (price_micros >= 0),
    PRIMARY KEY (namespace, market, category)
);

CREATE TABLE csat_surveys (
    conversation_id bigint      PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    namespace       text        NOT NULL CHECK (namespace <> ''),
    number          text        NOT NULL CHECK (number <> ''),
    agent           text,
    team            text,
    outbox_id       bigint      REFERENCES outbox (id) ON DELETE SET NULL,
    sent_at         timestamptz NOT NULL DEFAULT now(),
    rating          smallint    CHECK (rating BETWEEN 1 AND 5),
    answered_at     timestamptz,
    CHECK ((rating IS NULL) = (answered_at IS NULL))
);
CREATE INDEX csat_surveys_sent_idx ON csat_surveys (namespace, sent_at);

-- Statuses carrying a pricing object, by time (the cost report).
CREATE INDEX message_statuses_priced_idx ON message_statuses (namespace, at) WHERE payload ? 'pricing';

-- +goose StatementBegin
CREATE FUNCTION csat_answer() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parts text[];
BEGIN
    parts := regexp_match(NEW.content #>> '{interactive,list_reply,id}', '^csat:([0-9]{1,18}):([1-5])$');
    IF parts IS NOT NULL THEN
        -- The first answer counts, from the same contact on the same Number.
        UPDATE csat_surveys s SET rating = parts[2]::smallint, answered_at = NEW.created_at
          FROM conversations surveyed, conversations cur
         WHERE s.conversation_id = parts[1]::bigint AND s.namespace = NEW.namespace AND s.rating IS NULL
           AND surveyed.id = s.conversation_id AND cur.id = NEW.conversation_id
           AND surveyed.contact_id = cur.contact_id AND surveyed.number = cur.number;
        -- The answer arrives after the resolve, so it opened a conversation of its own:
        -- when the answer is all it holds, it needs no agent.
        IF FOUND THEN
            UPDATE conversations SET status = 'resolved', resolved_at = NEW.created_at, updated_at = now()
             WHERE id = NEW.conversation_id AND status <> 'resolved'
               AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = NEW.conversation_id AND m.id <> NEW.id);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER messages_csat_answer AFTER INSERT ON messages
    FOR EACH ROW WHEN (NEW.direction = 'in' AND NEW.type = 'interactive')
    EXECUTE FUNCTION csat_answer();

-- +goose Down
DROP TRIGGER messages_csat_answer ON messages;
DROP FUNCTION csat_answer();
DROP INDEX message_statuses_priced_idx;
DROP TABLE csat_surveys;
DROP TABLE rate_cards;
