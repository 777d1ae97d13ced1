//! Unit tests of the pattern-based readers (code, README, launch arguments, merging) on small
//! inputs modelled on real packages. Whole-package behaviour is tested in `tests/`.

use crate::env::{self, Finding, Origin};
use crate::files::SourceFile;
use crate::launch::{self, Identity};
use crate::spec::{Evidence, Level};
use crate::{code_env, readme};

fn file(rel: &str, text: &str) -> SourceFile {
    SourceFile {
        rel: rel.to_string(),
        text: text.to_string(),
    }
}

fn names(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.name.as_str()).collect()
}

#[test]
fn js_reads_defaults_and_exit_checks() {
    let source = r#"
const A = process.env.ALPHA_KEY;
if (!A) {
  console.error("ALPHA_KEY is required");
  process.exit(1);
}
const b = process.env["BETA_URL"] || "https://example.org";
const { GAMMA_TOKEN, DELTA_MODE: mode = "fast" } = process.env;
if (!GAMMA_TOKEN) throw new Error("missing");
process.env.SET_BY_US = "1";
const port = process.env.PORT ?? 3000;
if (!process.env.EPSILON_ID) {
  console.warn("no id, using a random one");
}
"#;
    let found = code_env::find(&file("dist/index.js", source));
    assert_eq!(
        names(&found),
        [
            "ALPHA_KEY",
            "BETA_URL",
            "EPSILON_ID",
            "GAMMA_TOKEN",
            "DELTA_MODE"
        ]
    );
    let get = |n: &str| found.iter().find(|f| f.name == n).unwrap();
    assert_eq!(get("ALPHA_KEY").required, Some(true));
    assert_eq!(get("ALPHA_KEY").evidence.line, Some(2));
    assert_eq!(
        get("BETA_URL").default.as_deref(),
        Some("https://example.org")
    );
    assert_eq!(
        get("BETA_URL").required,
        Some(false),
        "a fallback makes it optional"
    );
    assert_eq!(get("GAMMA_TOKEN").required, Some(true));
    assert_eq!(get("DELTA_MODE").default.as_deref(), Some("fast"));
    assert_eq!(get("DELTA_MODE").required, Some(false));
    assert_eq!(get("EPSILON_ID").required, None, "a warning is not an exit");
}

#[test]
fn python_reads_defaults_and_exit_checks() {
    let source = r#"
import os
KEY = os.environ["SUBSCRIPT_KEY"]
if "GUARDED" in os.environ:
    x = os.environ["GUARDED"]
level = os.getenv("LOG_LEVEL", "info")
# Where to cache things
cache = os.environ.get("CACHE_DIR")
def main():
    token = os.getenv("SERVICE_TOKEN")
    if token is None:
        sys.exit("SERVICE_TOKEN is required")
os.environ["WRITTEN"] = "1"
"#;
    let found = code_env::find(&file("server.py", source));
    assert_eq!(
        names(&found),
        [
            "SUBSCRIPT_KEY",
            "GUARDED",
            "LOG_LEVEL",
            "CACHE_DIR",
            "SERVICE_TOKEN"
        ]
    );
    let get = |n: &str| found.iter().find(|f| f.name == n).unwrap();
    assert_eq!(get("SUBSCRIPT_KEY").required, Some(true));
    assert_eq!(get("GUARDED").required, None);
    assert_eq!(get("LOG_LEVEL").default.as_deref(), Some("info"));
    assert_eq!(
        get("CACHE_DIR").description.as_deref(),
        Some("Where to cache things")
    );
    assert_eq!(get("SERVICE_TOKEN").required, Some(true));
}

#[test]
fn readme_tables_lists_blocks_and_shell() {
    let text = r#"# Some server

## Environment variables

| Name | Description | Required | Default |
|------|-------------|----------|---------|
| `SERVICE_API_KEY` | The key from the dashboard | Yes | |
| `SERVICE_REGION` | Region to call | No | `eu-west-1` |

## Options

- `SERVICE_TIMEOUT_MS`: request timeout (optional)
- **SERVICE_ORG_ID** - your organisation (required)

Set the `SERVICE_PROXY_URL` environment variable to use a proxy.

```json
{ "command": "npx", "args": ["-y", "some-server"], "env": { "SERVICE_API_KEY": "<key>", "EXTRA_FLAG": "1" } }
```

```bash
export SERVICE_HOME_DIR=/tmp/x
docker run -i --rm -e DOCKER_ONLY_VAR mcp/some
```

| Tool | What it does |
|------|--------------|
| `NOT_AN_ENV_VAR` | tables about tools are ignored |
"#;
    let found = readme::find("README.md", text, &identity());
    let get = |n: &str| {
        found
            .iter()
            .find(|f| f.name == n)
            .unwrap_or_else(|| panic!("{n} not found in {:?}", names(&found)))
    };
    assert_eq!(get("SERVICE_API_KEY").required, Some(true));
    assert_eq!(
        get("SERVICE_API_KEY").description.as_deref(),
        Some("The key from the dashboard")
    );
    assert_eq!(get("SERVICE_REGION").required, Some(false));
    assert_eq!(get("SERVICE_REGION").default.as_deref(), Some("eu-west-1"));
    assert_eq!(get("SERVICE_TIMEOUT_MS").required, Some(false));
    assert_eq!(get("SERVICE_ORG_ID").required, Some(true));
    assert_eq!(
        get("SERVICE_ORG_ID").description.as_deref(),
        Some("your organisation (required)")
    );
    assert!(
        get("SERVICE_PROXY_URL")
            .description
            .as_deref()
            .unwrap()
            .contains("proxy")
    );
    get("EXTRA_FLAG");
    get("SERVICE_HOME_DIR");
    get("DOCKER_ONLY_VAR");
    assert!(!found.iter().any(|f| f.name == "NOT_AN_ENV_VAR"));
}

fn identity() -> Identity {
    Identity {
        package: "@scope/some-server".into(),
        commands: vec!["some-server".into()],
        bin_files: vec!["./dist/index.js".into()],
        modules: vec!["some_server".into()],
    }
}

#[test]
fn launch_args_prefer_a_documented_stdio_selection() {
    let text = r#"
```json
{ "command": "npx", "args": ["-y", "@scope/some-server"] }
```
```json
{ "command": "npx", "args": ["-y", "@scope/some-server@latest", "--transport", "stdio", "/Users/me/data"] }
```
Or `npx @scope/some-server sse` for SSE.
"#;
    let found = launch::readme_invocations("README.md", text, &identity());
    assert_eq!(found.len(), 3);
    let choice = launch::choose(&found);
    assert_eq!(choice.args, ["--transport", "stdio"]);
    assert_eq!(choice.evidence.unwrap().line, Some(6));
    assert!(choice.warnings.is_empty(), "{:?}", choice.warnings);
    // The user-specific path is not copied: it becomes an optional argument field, since one
    // of the two stdio invocations goes without it (the SSE one does not count).
    let fields = launch::merge_args(launch::readme_arg_findings(&found));
    assert_eq!(fields.len(), 1, "{fields:?}");
    let path = &fields[0];
    assert_eq!(
        (path.name.as_str(), path.flag.as_deref(), path.required),
        ("path", None, false)
    );
    assert_eq!(path.format.as_deref(), Some("filepath"));
    assert_eq!(path.confidence.level, Level::Low);
}

#[test]
fn launch_args_from_scripts_and_other_commands() {
    let scripts = vec![(
        "start".to_string(),
        "tsc && node dist/index.js --stdio".to_string(),
    )];
    let found = launch::script_invocations(&scripts, &identity());
    assert_eq!(launch::choose(&found).args, ["--stdio"]);

    let text = "```\nuvx --from x some-server\npython -m some_server --verbose\ndocker run -i mcp/some stdio\n```\n";
    let found = launch::readme_invocations("README.md", text, &identity());
    let args: Vec<_> = found.iter().map(|i| i.args.clone()).collect();
    assert_eq!(args, [vec![], vec!["--verbose".to_string()]]);
    let choice = launch::choose(&found);
    assert!(choice.args.is_empty());
    assert!(choice.warnings.is_empty());
    let fields = launch::merge_args(launch::readme_arg_findings(&found));
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0].flag.as_deref(), Some("--verbose"));
    assert_eq!(fields[0].format.as_deref(), Some("boolean"));
    assert!(!fields[0].required);
}

#[test]
fn merge_lets_server_json_flags_win_and_keeps_all_evidence() {
    let ev = |file: &str| Evidence::new(file, Some(1), "x");
    let mut declared = Finding::new("MY_TOKEN", Origin::ServerJson, ev("server.json"));
    declared.required = Some(false);
    declared.secret = Some(false);
    let mut code = Finding::new("MY_TOKEN", Origin::Code, ev("index.js"));
    code.required = Some(true);
    code.description = Some("from a comment".into());
    let mut readme = Finding::new("MY_TOKEN", Origin::Readme, ev("README.md"));
    readme.description = Some("from the README".into());
    let other = Finding::new("OTHER_PASSWORD", Origin::Code, ev("index.js"));
    let ignored = Finding::new("NODE_ENV", Origin::Code, ev("index.js"));
    let merged = env::merge(vec![other, readme, code, declared, ignored]);
    assert_eq!(merged.len(), 2);
    assert_eq!(merged[0].name, "MY_TOKEN");
    assert!(!merged[0].required && !merged[0].secret);
    assert_eq!(merged[0].description, "from the README");
    assert_eq!(merged[0].evidence.len(), 3);
    assert!(merged[1].secret && !merged[1].required);
}

#[test]
fn secret_names() {
    for name in [
        "BRAVE_API_KEY",
        "GITHUB_TOKEN",
        "DB_PASSWORD",
        "CLIENT_SECRET",
        "APIKEY",
        "AUTH_HEADER",
        "PRIVATE_PEM",
        "SMTP_PASS",
    ] {
        assert!(env::is_secret_name(name), "{name}");
    }
    for name in [
        "LOG_LEVEL",
        "MAX_TOKENS",
        "AUTHOR_NAME",
        "KEYBOARD_LAYOUT",
        "BASE_URL",
    ] {
        assert!(!env::is_secret_name(name), "{name}");
    }
}
