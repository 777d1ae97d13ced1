-- Catwalk schema, version 1 (SQLite). Keep in step with ../postgres/0001_init.sql.
-- Timestamps are unix milliseconds (BIGINT); deployment ids are UUID text.
-- Event and log ids use AUTOINCREMENT so that an id is never reused after a delete: readers page
-- through them with "after id N" cursors.

CREATE TABLE deployments (
    id             TEXT    PRIMARY KEY NOT NULL,
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
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT    NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    at            BIGINT  NOT NULL,
    kind          TEXT    NOT NULL,
    message       TEXT    NOT NULL
);
CREATE INDEX deployment_events_by_deployment ON deployment_events (deployment_id, id);

CREATE TABLE deployment_logs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT    NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    at            BIGINT  NOT NULL,
    stream        TEXT    NOT NULL,
    line          TEXT    NOT NULL
);
CREATE INDEX deployment_logs_by_deployment ON deployment_logs (deployment_id, id);

CREATE TABLE settings (
    name       TEXT   PRIMARY KEY NOT NULL,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
