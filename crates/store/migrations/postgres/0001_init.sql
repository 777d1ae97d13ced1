-- Catwalk schema, version 1 (PostgreSQL). Keep in step with ../sqlite/0001_init.sql.
-- Timestamps are unix milliseconds (BIGINT); deployment ids are UUID text. Only types the sqlx
-- Any driver can carry are used (BIGINT, TEXT), so both backends share one set of queries.

CREATE TABLE deployments (
    id             TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    source         TEXT    NOT NULL,
    spec_json      TEXT    NOT NULL,
    env_ciphertext TEXT    NOT NULL,
    env_keys       TEXT    NOT NULL DEFAULT '[]',
    token_hash     TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    status_reason  TEXT,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);

CREATE TABLE deployment_events (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployment_id TEXT    NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    at            BIGINT  NOT NULL,
    kind          TEXT    NOT NULL,
    message       TEXT    NOT NULL
);
CREATE INDEX deployment_events_by_deployment ON deployment_events (deployment_id, id);

CREATE TABLE deployment_logs (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployment_id TEXT    NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    at            BIGINT  NOT NULL,
    stream        TEXT    NOT NULL,
    line          TEXT    NOT NULL
);
CREATE INDEX deployment_logs_by_deployment ON deployment_logs (deployment_id, id);

CREATE TABLE settings (
    name       TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
