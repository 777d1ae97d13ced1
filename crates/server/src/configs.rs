//! Ready-to-paste client configurations for a deployment's endpoint.

use serde_json::{Value, json};

/// Snippets for Claude Desktop, Claude Code, Cursor and VS Code.
pub fn client_configs(name: &str, endpoint: &str, token: &str) -> Value {
    let bearer = format!("Bearer {token}");
    json!({
        // Claude Desktop's config file launches local commands only, so it reaches a remote
        // endpoint through mcp-remote. The header goes through an env var because some platforms
        // split arguments on the space in "Bearer TOKEN".
        "claude_desktop": { "mcpServers": { name: {
            "command": "npx",
            "args": ["-y", "mcp-remote", endpoint, "--header", "Authorization:${CATWALK_AUTH}"],
            "env": { "CATWALK_AUTH": bearer },
        }}},
        "claude_code": format!(
            "claude mcp add --transport http {name} {endpoint} --header \"Authorization: {bearer}\""
        ),
        "cursor": { "mcpServers": { name: { "url": endpoint, "headers": { "Authorization": bearer } } } },
        "vscode": { "servers": { name: { "type": "http", "url": endpoint, "headers": { "Authorization": bearer } } } },
    })
}
