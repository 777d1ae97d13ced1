//! Tables, config snippets and shell quoting.

use serde_json::json;

use super::{render_configs, shell_quote, table};

#[test]
fn table_aligns_columns_without_trailing_blanks() {
    let rows = vec![
        vec!["brave".to_owned(), "running".to_owned(), "x".to_owned()],
        vec!["a".to_owned(), "failed".to_owned(), String::new()],
    ];
    assert_eq!(
        table(&["NAME", "STATUS", "SOURCE"], &rows),
        "NAME   STATUS   SOURCE\nbrave  running  x\na      failed\n"
    );
}

#[test]
fn configs_in_a_stable_order() {
    let configs = json!({
        "vscode": {"servers": {}},
        "zed": "z",
        "claude_code": "claude mcp add --transport http brave http://h/s/brave/mcp",
        "claude_desktop": {"mcpServers": {}},
        "cursor": {"mcpServers": {}},
    });
    let text = render_configs(&configs);
    let positions: Vec<usize> = ["Claude Desktop", "Claude Code", "Cursor", "VS Code", "zed:"]
        .iter()
        .map(|title| {
            text.find(title)
                .unwrap_or_else(|| panic!("{title} in {text}"))
        })
        .collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    assert!(text.contains("claude mcp add --transport http brave http://h/s/brave/mcp\n"));
    assert!(text.contains("\"mcpServers\": {}"));
}

#[test]
fn shell_quoting() {
    assert_eq!(shell_quote("node"), "node");
    assert_eq!(shell_quote("dist/index.js"), "dist/index.js");
    assert_eq!(shell_quote("--port=3000"), "--port=3000");
    assert_eq!(shell_quote("a b"), "'a b'");
    assert_eq!(shell_quote("it's"), r"'it'\''s'");
    assert_eq!(shell_quote(""), "''");
}
