-- What the server answered at its last MCP handshake (and what it was asked), as JSON: lets a
-- sleeping deployment answer a new session's initialize without starting its process, even
-- after Catwalk restarts.
ALTER TABLE deployments ADD COLUMN handshake_json TEXT;
