-- Accounts: users, their API tokens and browser sessions, and who owns each deployment.
-- Keep in step with ../postgres/0005_accounts.sql. Tokens and session ids are stored as SHA-256
-- hashes, passwords as argon2id PHC strings; the store never sees either in clear.

CREATE TABLE users (
    id            TEXT   PRIMARY KEY NOT NULL,
    username      TEXT   NOT NULL UNIQUE,
    -- NULL: no password sign-in (an admin created at first start, or a single sign-on user).
    password_hash TEXT,
    role          TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id           TEXT   PRIMARY KEY NOT NULL,
    user_id      TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    token_hash   TEXT   NOT NULL UNIQUE,
    -- A JSON array of scope names.
    scopes       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

CREATE TABLE web_sessions (
    id_hash    TEXT   PRIMARY KEY NOT NULL,
    user_id    TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions (user_id);

-- NULL only until the first start after this migration gives every such deployment to the admin.
ALTER TABLE deployments ADD COLUMN owner_id TEXT REFERENCES users (id);
CREATE INDEX deployments_by_owner ON deployments (owner_id, name);
