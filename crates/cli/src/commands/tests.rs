//! What `analyze` and `deploy` print, from API answers shaped as docs/API.md shows them.

use serde_json::json;

use crate::client::{Deployment, decode};

#[test]
fn analyze_report_shows_every_finding() {
    let spec = json!({
        "specVersion": 1,
        "source": "npm:@modelcontextprotocol/server-brave-search@0.6.2",
        "name": "brave",
        "description": "Web and local search",
        "runtime": "node",
        "package": {"registry": "npm", "name": "@modelcontextprotocol/server-brave-search", "version": "0.6.2"},
        "launch": {"command": "mcp-server-brave-search", "args": []},
        "env": [{"name": "BRAVE_API_KEY", "description": "Brave Search API key", "required": true,
                 "secret": true, "default": null, "choices": [],
                 "evidence": [{"file": "README.md", "line": 40, "note": "env in a config example"}]}],
        "evidence": [{"file": "package.json", "line": null, "note": "bin in package.json"}],
        "warnings": []
    });
    let text = super::analyze::render("npm:@modelcontextprotocol/server-brave-search@0.6.2", &spec);
    for expected in [
        "Runtime:     node\n",
        "Package:     @modelcontextprotocol/server-brave-search@0.6.2\n",
        "Launch:      mcp-server-brave-search\n",
        "Description: Web and local search\n",
        "NAME           REQUIRED  SECRET  DESCRIPTION\n",
        "BRAVE_API_KEY  yes       yes     Brave Search API key\n",
        "Evidence (2):\n",
        "  package.json: bin in package.json\n",
        "  BRAVE_API_KEY: README.md:40: env in a config example\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("Warnings"), "{text}");
}

#[test]
fn deploy_result_shows_endpoint_token_and_configs() {
    let created = json!({
        "deployment": {"id": "d1", "name": "brave", "source": "npm:x", "status": "running",
                       "status_reason": null, "endpoint": "http://127.0.0.1:7411/s/brave/mcp"},
        "token": "cwd_secret",
        "endpoint": "http://127.0.0.1:7411/s/brave/mcp",
        "configs": {
            "claude_code": "claude mcp add --transport http brave http://127.0.0.1:7411/s/brave/mcp",
            "cursor": {"mcpServers": {"brave": {"url": "http://127.0.0.1:7411/s/brave/mcp"}}}
        }
    });
    let deployment: Deployment = decode("test", &created["deployment"]).unwrap();
    let text = super::deploy::render_result(&created, &deployment, true);
    assert!(text.starts_with("Deployment: brave (running)\n"), "{text}");
    assert!(
        text.contains("Endpoint:   http://127.0.0.1:7411/s/brave/mcp\n"),
        "{text}"
    );
    assert!(text.contains("Token:      cwd_secret\n"), "{text}");
    assert!(text.contains("shown only once"), "{text}");
    assert!(
        text.contains("Claude Code (run in a shell):\nclaude mcp add"),
        "{text}"
    );
    assert!(text.contains("\"mcpServers\""), "{text}");

    let short = super::deploy::render_result(&created, &deployment, false);
    assert!(
        short.contains("cwd_secret") && !short.contains("mcpServers"),
        "{short}"
    );
}
