-- Per-deployment options (call timeout, ...) as a JSON object that the server reads and writes;
-- the store keeps it opaque so that new options need no migration.
ALTER TABLE deployments ADD COLUMN options_json TEXT NOT NULL DEFAULT '{}';
