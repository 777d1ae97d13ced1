-- Single sign-on: which provider account belongs to which user, and the sign-ins in progress.
-- Keep in step with ../postgres/0008_identities.sql.

-- A provider account linked to a user. It is found by (provider, issuer, subject) only: never
-- by a username or an email, which another person may hold at the provider. The issuer is the
-- OIDC issuer or the GitHub base URL (github.com and a GitHub Enterprise number users apart).
-- No provider token is kept.
CREATE TABLE identities (
    provider   TEXT   NOT NULL,
    issuer     TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    user_id    TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The provider's display name for the account (GitHub login, preferred_username), as of
    -- the last sign-in.
    login      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (provider, issuer, subject)
);
CREATE INDEX identities_by_user ON identities (user_id);

-- A sign-in begun at /auth/{provider}/start and not yet back: found by the SHA-256 hash of the
-- id in the browser's short-lived cookie, used once, and useless after expires_at (10 minutes).
CREATE TABLE sign_in_flows (
    id_hash       TEXT   PRIMARY KEY NOT NULL,
    provider      TEXT   NOT NULL,
    state         TEXT   NOT NULL,
    pkce_verifier TEXT   NOT NULL,
    nonce         TEXT   NOT NULL,
    -- Set when a signed-in user links an account to themselves.
    link_user_id  TEXT   REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sign_in_flows_by_expiry ON sign_in_flows (expires_at);
