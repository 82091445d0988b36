-- Agents and their authentication (docs/auth.md): accounts, browser sessions, API
-- tokens and login attempts. Package runtime/inbox/auth owns the SQL.
--
--   * agents: one account per (namespace, inbox, login). login is what RoutingPolicy
--     teams[].members names. password_hash is a PHC string ($argon2id$v=19$m=…,t=…,p=…$
--     salt$hash); NULL for an account without a local password (single sign-on only,
--     or declared in spec.agents and not given one yet). source says who made it: an
--     agent through the API (api), spec.agents (spec), the initial admin Secret
--     (initial) or a single sign-on login (oidc).
--   * agent_sessions: a browser session. Only the SHA-256 of the session id (the cookie's
--     value) is stored; the CSRF token is the synchronizer token that state-changing
--     requests authenticated by the cookie must echo in X-CSRF-Token.
--   * api_tokens: tokens for integrations ("sbt_…"), stored as SHA-256 only (they carry
--     256 random bits, so a fast hash is enough), scoped to a role, with an optional
--     expiry; revoking sets revoked_at (the row stays for the audit trail).
--   * login_attempts: failed and successful password logins, per login and source
--     address, for throttling across replicas; rows older than a day are deleted by the
--     logins themselves.

-- +goose Up
CREATE TABLE agents (
    namespace     text        NOT NULL CHECK (namespace <> ''),
    inbox         text        NOT NULL CHECK (inbox <> ''),
    login         text        NOT NULL CHECK (login ~ '^[a-z0-9]([a-z0-9._@-]{0,62}[a-z0-9])?$'),
    display_name  text        NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
    role          text        NOT NULL CHECK (role <> ''),
    disabled      boolean     NOT NULL DEFAULT false,
    password_hash text        CHECK (password_hash LIKE '$%'),
    source        text        NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'spec', 'initial', 'oidc')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, inbox, login)
);

CREATE TABLE agent_sessions (
    id_hash      bytea       PRIMARY KEY CHECK (length(id_hash) = 32),
    namespace    text        NOT NULL,
    inbox        text        NOT NULL,
    login        text        NOT NULL,
    csrf_token   text        NOT NULL CHECK (length(csrf_token) >= 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    FOREIGN KEY (namespace, inbox, login) REFERENCES agents (namespace, inbox, login) ON DELETE CASCADE
);

CREATE INDEX agent_sessions_agent_idx ON agent_sessions (namespace, inbox, login);
CREATE INDEX agent_sessions_expiry_idx ON agent_sessions (expires_at);

CREATE TABLE api_tokens (
    id           bigserial   PRIMARY KEY,
    namespace    text        NOT NULL CHECK (namespace <> ''),
    inbox        text        NOT NULL CHECK (inbox <> ''),
    name         text        NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$'),
    hash         bytea       NOT NULL UNIQUE CHECK (length(hash) = 32),
    role         text        NOT NULL CHECK (role <> ''),
    created_by   text        NOT NULL CHECK (created_by <> ''),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- A name is taken while its token is not revoked.
CREATE UNIQUE INDEX api_tokens_name_key ON api_tokens (namespace, inbox, name) WHERE revoked_at IS NULL;

CREATE TABLE login_attempts (
    id        bigserial   PRIMARY KEY,
    namespace text        NOT NULL,
    inbox     text        NOT NULL,
    login     text        NOT NULL,
    source    text        NOT NULL,
    succeeded boolean     NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX login_attempts_login_idx ON login_attempts (namespace, inbox, login, at);
CREATE INDEX login_attempts_source_idx ON login_attempts (namespace, inbox, source, at);
CREATE INDEX login_attempts_at_idx ON login_attempts (at);

-- +goose Down
DROP TABLE login_attempts;
DROP TABLE api_tokens;
DROP TABLE agent_sessions;
DROP TABLE agents;
