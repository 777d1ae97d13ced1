-- The audit trail: tool calls and changes made through the API. Keep in step with
-- ../sqlite/0009_audit.sql. `owner_id` says whose trail a row is in (the deployment's owner,
-- or the acting user); NULL for instance-wide admin actions, which only admins read.
CREATE TABLE audit_events (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT  NOT NULL,
    owner_id    TEXT,
    actor       TEXT    NOT NULL,
    deployment  TEXT,
    kind        TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    duration_ms BIGINT,
    arguments   TEXT
);
CREATE INDEX audit_events_by_owner ON audit_events (owner_id, id);
CREATE INDEX audit_events_by_time ON audit_events (at);
