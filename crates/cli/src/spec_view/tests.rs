//! Reading the spec leniently: the analyzer's camelCase shape, and older or partial ones.

use serde_json::json;

use super::{EnvVarView, SpecView};

#[test]
fn reads_the_analyzer_shape() {
    let spec = json!({
        "specVersion": 1,
        "source": "npm:@modelcontextprotocol/server-brave-search@0.6.2",
        "name": "brave",
        "description": "Web search",
        "mcpName": null,
        "runtime": "node",
        "runtimeRequirement": ">=18",
        "package": {"registry": "npm", "name": "@modelcontextprotocol/server-brave-search",
                    "version": "0.6.2", "path": null, "revision": null},
        "launch": {"command": "mcp-server-brave-search", "args": ["--flag with space"]},
        "env": [
            {"name": "BRAVE_API_KEY", "description": "API key", "required": true, "secret": true,
             "default": null, "format": null, "choices": [],
             "evidence": [{"file": "README.md", "line": 12, "note": "env in config example"}]},
            {"name": "LOG_LEVEL", "description": "", "required": false, "secret": false,
             "default": "info", "choices": ["debug", "info"], "evidence": []}
        ],
        "evidence": [{"file": "package.json", "line": null, "note": "bin in package.json"}],
        "warnings": ["no README found"]
    });
    let view = SpecView::from_value(&spec);
    assert_eq!(view.name.as_deref(), Some("brave"));
    assert_eq!(view.runtime.as_deref(), Some("node (>=18)"));
    assert_eq!(
        view.package.as_deref(),
        Some("@modelcontextprotocol/server-brave-search@0.6.2")
    );
    assert_eq!(
        view.launch.as_deref(),
        Some("mcp-server-brave-search '--flag with space'")
    );
    assert_eq!(
        view.env[0],
        EnvVarView {
            name: "BRAVE_API_KEY".into(),
            required: true,
            secret: true,
            description: "API key".into(),
            default: None,
            choices: Vec::new(),
            evidence: vec!["README.md:12: env in config example".into()],
        }
    );
    assert_eq!(view.env[1].default.as_deref(), Some("info"));
    assert_eq!(view.env[1].choices, vec!["debug", "info"]);
    assert_eq!(
        view.evidence,
        vec!["package.json: bin in package.json".to_owned()]
    );
    assert_eq!(view.warnings, vec!["no README found".to_owned()]);
}

#[test]
fn git_sources_show_their_commit() {
    let spec = json!({
        "runtime": "python",
        "package": {"registry": "pypi", "name": "mcp-server-x", "version": "0.1.0",
                    "revision": "0123abc"},
        "launch": {"command": "python", "args": ["-m", "mcp_server_x"]},
    });
    let view = SpecView::from_value(&spec);
    assert_eq!(view.runtime.as_deref(), Some("python"));
    assert_eq!(
        view.package.as_deref(),
        Some("mcp-server-x@0.1.0 (commit 0123abc)")
    );
    assert_eq!(view.launch.as_deref(), Some("python -m mcp_server_x"));
}

#[test]
fn tolerates_other_shapes() {
    let spec = json!({
        "runtime": {"kind": "python"},
        "package": "mcp-server-time",
        "version": "0.6.2",
        "command": "python",
        "args": ["-m", "mcp_server_time"],
        "env_vars": {"TZ": {"required": false, "evidence": {"path": "README.md"}}}
    });
    let view = SpecView::from_value(&spec);
    assert_eq!(view.runtime.as_deref(), Some("python"));
    assert_eq!(view.package.as_deref(), Some("mcp-server-time@0.6.2"));
    assert_eq!(view.launch.as_deref(), Some("python -m mcp_server_time"));
    assert_eq!(view.env[0].name, "TZ");
    assert_eq!(view.env[0].evidence, vec!["README.md".to_owned()]);

    assert_eq!(
        SpecView::from_value(&json!("not an object")),
        SpecView::default()
    );
}
