-- Retention, executed by the inbox (docs/retentionpolicy.md, runtime/inbox/retention).
--
--   * retention_runs: one row per run of a RetentionPolicy, started when the run begins and
--     finished when it ends; a row left unfinished by a crash is finished by the next run
--     (purges are idempotent: they delete what is older than a cutoff, in batches).
--     trigger is 'schedule' or 'run-now'; run_now is the value of the policy's
--     switchboard.dev/run-now annotation that a run-now run handled, so it runs once.
--   * audit_log stays append-only for everyone, except a transaction that sets
--     switchboard.audit_purge = 'on' (SET LOCAL) and deletes rows: only the retention run
--     does, for entries older than the auditLog period. UPDATE and TRUNCATE stay refused.

-- +goose Up
CREATE TABLE retention_runs (
    id            bigserial   PRIMARY KEY,
    namespace     text        NOT NULL CHECK (namespace <> ''),
    policy        text        NOT NULL CHECK (policy <> ''),
    trigger       text        NOT NULL CHECK (trigger IN ('schedule', 'run-now')),
    run_now       text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    messages      bigint      NOT NULL DEFAULT 0 CHECK (messages >= 0),
    media         bigint      NOT NULL DEFAULT 0 CHECK (media >= 0),
    audit_log     bigint      NOT NULL DEFAULT 0 CHECK (audit_log >= 0),
    conversations bigint      NOT NULL DEFAULT 0 CHECK (conversations >= 0),
    error         text
);
CREATE INDEX retention_runs_policy_idx ON retention_runs (namespace, policy, started_at DESC);

-- Old messages of a Number, oldest first (the purge walks them in batches).
CREATE INDEX messages_age_idx ON messages (namespace, created_at, id);
CREATE INDEX audit_log_age_idx ON audit_log (namespace, at, id);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('switchboard.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
DROP INDEX audit_log_age_idx;
DROP INDEX messages_age_idx;
DROP TABLE retention_runs;
