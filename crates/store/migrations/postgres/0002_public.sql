-- A public deployment answers MCP requests without a token (off by default). 0/1 rather than a
-- boolean so that both backends decode it the same way through sqlx's Any driver.
ALTER TABLE deployments ADD COLUMN public BIGINT NOT NULL DEFAULT 0;
