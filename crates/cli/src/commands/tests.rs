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
fn analyze_report_shows_left_out_variables_and_the_llm_help() {
    let mut spec = json!({
        "specVersion": 3, "source": "npm:x", "name": "x", "runtime": "node",
        "package": {"registry": "npm", "name": "x", "version": "1.0.0"},
        "launch": {"command": "x", "args": []}, "env": [], "evidence": [], "warnings": [],
        "leftOut": [{"name": "MCP_PORT", "reason": "configures the HTTP transport", "evidence": []}],
        "assist": {"provider": "openai", "model": "gpt-test",
                   "changes": ["X_TOKEN: description filled by the LLM"], "error": null}
    });
    let text = super::analyze::render("npm:x", &spec);
    for expected in [
        "Left out (1):\n  MCP_PORT: configures the HTTP transport\n",
        "LLM help: gpt-test (openai), 1 change(s):\n  X_TOKEN: description filled by the LLM\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    spec["assist"]["error"] = json!("the LLM API answered HTTP 401: bad key");
    let text = super::analyze::render("npm:x", &spec);
    assert!(
        text.contains("LLM help: gpt-test (openai) failed, evidence only: the LLM API answered HTTP 401: bad key\n"),
        "{text}"
    );
}

#[test]
fn analyze_report_shows_what_the_server_listed() {
    let mut spec = json!({
        "specVersion": 2, "source": "npm:x", "name": "x", "runtime": "node",
        "package": {"registry": "npm", "name": "x", "version": "1.0.0"},
        "launch": {"command": "x", "args": []}, "env": [], "evidence": [], "warnings": [],
        "introspection": {
            "status": "ok",
            "tools": [{"name": "echo", "description": "Echoes back the input\nSecond line"},
                      {"name": "add", "description": ""}],
            "prompts": [{"name": "simple_prompt", "description": "A prompt"}],
            "resources": [{"uri": "test://static/1", "name": "Resource 1"}],
            "serverInfo": {"name": "example-servers/everything", "version": "1.0.0"},
            "protocolVersion": "2025-06-18", "message": null, "stderr": ["noise"],
            "placeholders": [], "durationMs": 2345
        }
    });
    let text = super::analyze::render("npm:x", &spec);
    for expected in [
        "Started with placeholder values: ok (example-servers/everything 1.0.0, protocol 2025-06-18, 2.3 s)\n",
        "Tools (2):\n  echo  Echoes back the input\n  add\n",
        "Prompts (1):\n  simple_prompt  A prompt\n",
        "Resources (1):\n  test://static/1  Resource 1\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("noise"), "stderr of a healthy start: {text}");

    spec["introspection"] = json!({
        "status": "needs_credentials", "tools": [], "prompts": [], "resources": [],
        "serverInfo": null, "protocolVersion": null,
        "message": "the process exited with code 2 before it answered",
        "stderr": ["TOKEN is not a valid token"], "placeholders": ["TOKEN"], "durationMs": 400
    });
    let text = super::analyze::render("npm:x", &spec);
    for expected in [
        "Started with placeholder values: needs credentials (0.4 s)\n",
        "  the process exited with code 2 before it answered\n",
        "  Placeholders for: TOKEN\n",
        "  Its last output:\n    TOKEN is not a valid token\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("Tools"), "{text}");
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
