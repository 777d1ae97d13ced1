-- The OAuth 2.1 authorization server for MCP clients. Keep in step with ../sqlite/0007_oauth.sql.
-- Codes and tokens are stored as SHA-256 hashes, never in clear. Everything a deployment or a
-- user had granted goes with it (ON DELETE CASCADE).

-- Clients registered with Dynamic Client Registration (RFC 7591). Clients whose id is the URL of
-- a Client ID Metadata Document are not stored: their document is fetched when they come.
CREATE TABLE oauth_clients (
    id            TEXT   PRIMARY KEY NOT NULL,
    -- The registered metadata as the registration response returned it (JSON).
    metadata      TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);

-- One user's consent for one client to reach one deployment. Its access and refresh tokens form
-- a family: revoking the grant revokes them all (refresh token reuse does).
CREATE TABLE oauth_grants (
    id            TEXT   PRIMARY KEY NOT NULL,
    client_id     TEXT   NOT NULL,
    user_id       TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    deployment_id TEXT   NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    -- The resource indicator (RFC 8707) the client asked for: the deployment's endpoint URL.
    resource      TEXT   NOT NULL,
    scope         TEXT,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE INDEX oauth_grants_by_deployment ON oauth_grants (deployment_id);
CREATE INDEX oauth_grants_by_user ON oauth_grants (user_id);

-- Authorization codes: single use, minutes long. `grant_id` is set when the code is exchanged,
-- so that a replayed code can revoke what it produced.
CREATE TABLE oauth_codes (
    code_hash      TEXT   PRIMARY KEY NOT NULL,
    client_id      TEXT   NOT NULL,
    user_id        TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    deployment_id  TEXT   NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    resource       TEXT   NOT NULL,
    redirect_uri   TEXT   NOT NULL,
    code_challenge TEXT   NOT NULL,
    scope          TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    grant_id       TEXT
);

-- Access and refresh tokens (`kind`), each bound to its grant and so to one deployment.
CREATE TABLE oauth_tokens (
    token_hash TEXT   PRIMARY KEY NOT NULL,
    grant_id   TEXT   NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    kind       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- A refresh token is used once: set when it is exchanged for a new pair.
    used_at    BIGINT
);
CREATE INDEX oauth_tokens_by_grant ON oauth_tokens (grant_id);
