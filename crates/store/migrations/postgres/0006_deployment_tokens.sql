-- Several named access tokens per deployment (hashed, shown once, each revocable), replacing
-- the single `deployments.token_hash`. Keep in step with ../sqlite/0006_deployment_tokens.sql.

CREATE TABLE deployment_tokens (
    id            TEXT   PRIMARY KEY NOT NULL,
    deployment_id TEXT   NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    name          TEXT   NOT NULL,
    token_hash    TEXT   NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    UNIQUE (deployment_id, name)
);

-- Each existing token becomes the deployment's token named `default`.
INSERT INTO deployment_tokens (id, deployment_id, name, token_hash, created_at)
SELECT 'default-' || id, id, 'default', token_hash, created_at FROM deployments;

ALTER TABLE deployments DROP COLUMN token_hash;
