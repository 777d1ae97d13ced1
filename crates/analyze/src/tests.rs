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
    // The user-specific path is not copied: it becomes an optional argument field, since one
    // of the two stdio invocations goes without it (the SSE one does not count).
    let fields = launch::merge_args(launch::readme_arg_findings(&found, &[]));
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
    let fields = launch::merge_args(launch::readme_arg_findings(&found, &[]));
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

#[test]
fn go_and_rust_reads() {
    let go = r#"
package main

func main() {
	token := os.Getenv("GITLAB_TOKEN")
	if token == "" {
		log.Fatal("GITLAB_TOKEN is required")
	}
	url, ok := os.LookupEnv("GITLAB_URL")
	_ = os.Getenv("HOME")
}
"#;
    let found = code_env::find(&file("cmd/server/main.go", go));
    assert_eq!(names(&found), ["GITLAB_TOKEN", "GITLAB_URL"]);
    assert_eq!(found[0].required, Some(true));
    assert!(found[0].evidence.note.contains("exits when it is unset"));
    assert_eq!(found[1].required, None);

    let rust = r#"
fn config() -> Result<Config> {
    let api_key = std::env::var("TAVILY_API_KEY").expect("TAVILY_API_KEY must be set");
    let base = env::var("TAVILY_BASE_URL").unwrap_or_else(|_| "https://api.tavily.com".to_string());
    let depth = env::var("TAVILY_DEPTH").ok();
}
"#;
    let found = code_env::find(&file("src/main.rs", rust));
    assert_eq!(
        names(&found),
        ["TAVILY_API_KEY", "TAVILY_BASE_URL", "TAVILY_DEPTH"]
    );
    assert_eq!(found[0].required, Some(true));
    assert_eq!(found[1].required, Some(false));
    assert_eq!(found[1].default.as_deref(), Some("https://api.tavily.com"));
    assert_eq!(found[2].required, Some(false));
}

#[test]
fn pydantic_settings_fields() {
    let source = r#"
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JIRA_", env_file=".env")

    url: str = Field(..., description="Base URL of the Jira site")
    api_token: SecretStr
    # How many issues a search returns
    page_size: int = 50
    project: Optional[str] = None
    timeout: float = Field(default=30.0, description="Seconds per request")
    email: str = Field(description="Account e-mail", validation_alias="ATLASSIAN_EMAIL")

    def headers(self) -> dict:
        return {}


class Other:
    not_a_field: int = 3
"#;
    let found = code_env::find(&file("src/jira_mcp/config.py", source));
    assert_eq!(
        names(&found),
        [
            "JIRA_URL",
            "JIRA_API_TOKEN",
            "JIRA_PAGE_SIZE",
            "JIRA_PROJECT",
            "JIRA_TIMEOUT",
            "ATLASSIAN_EMAIL"
        ]
    );
    let get = |n: &str| found.iter().find(|f| f.name == n).unwrap();
    assert_eq!(get("JIRA_URL").required, Some(true));
    assert_eq!(
        get("JIRA_URL").description.as_deref(),
        Some("Base URL of the Jira site")
    );
    assert_eq!(get("JIRA_API_TOKEN").required, Some(true));
    assert_eq!(get("JIRA_PAGE_SIZE").required, Some(false));
    assert_eq!(get("JIRA_PAGE_SIZE").default.as_deref(), Some("50"));
    assert_eq!(
        get("JIRA_PAGE_SIZE").description.as_deref(),
        Some("How many issues a search returns")
    );
    assert_eq!(get("JIRA_PROJECT").required, Some(false));
    assert_eq!(get("JIRA_TIMEOUT").default.as_deref(), Some("30.0"));
    assert_eq!(get("ATLASSIAN_EMAIL").required, Some(true));
    assert_eq!(get("JIRA_URL").evidence.line, Some(9));
}

#[test]
fn readme_snippets_keep_only_our_servers_env() {
    let text = r#"# GitHub MCP

## Usage with Claude Desktop

```json
"mcpServers": {
  "github": {
    "command": "npx",
    "args": ["-y", "@scope/some-server"],
    "env": {
      "GITHUB_PERSONAL_ACCESS_TOKEN": "<YOUR_TOKEN>"
    }
  },
  "brave": {
    "command": "npx",
    "args": ["-y", "@modelcontextprotocol/server-brave-search"],
    "env": { "BRAVE_API_KEY": "x" }
  },
  "docker": {
    "command": "docker",
    "args": ["run", "-i", "--rm", "-e", "GITHUB_TOOLSETS", "ghcr.io/org/server"],
    "env": { "GITHUB_TOOLSETS": "repos,issues", },
  }
}
```

## Configuration

| Name | Required | Description |
|------|----------|-------------|
| `GITHUB_HOST` (enterprise) | No | Hostname of a GitHub Enterprise server |

| Variable | Optional | Meaning |
|---|---|---|
| GITHUB_READ_ONLY | yes | Refuse writes |
"#;
    let found = readme::find("README.md", text, &identity());
    let get = |n: &str| found.iter().find(|f| f.name == n);
    let token = get("GITHUB_PERSONAL_ACCESS_TOKEN").expect("our env block");
    assert_eq!(token.evidence.line, Some(11));
    assert!(
        get("BRAVE_API_KEY").is_none(),
        "another package's env block"
    );
    assert!(get("GITHUB_TOOLSETS").is_some(), "a docker entry is ours");
    let host = get("GITHUB_HOST").expect("a name cell with extra words");
    assert_eq!(host.required, Some(false));
    assert_eq!(
        host.description.as_deref(),
        Some("Hostname of a GitHub Enterprise server")
    );
    let read_only = get("GITHUB_READ_ONLY").expect("an Optional column");
    assert_eq!(read_only.required, Some(false));
}

#[test]
fn merge_precedence_and_confidence() {
    let ev = |file: &str, line: u32, note: &str| Evidence::new(file, Some(line), note);
    let finding =
        |name: &str, origin: Origin, file: &str| Finding::new(name, origin, ev(file, 1, "seen"));
    // The README says required, the code falls back to a default: the code wins.
    let mut readme = finding("SEARCH_REGION", Origin::Readme, "README.md");
    readme.required = Some(true);
    readme.description = Some("Region of the index".into());
    let mut code = Finding::new(
        "SEARCH_REGION",
        Origin::Code,
        ev(
            "index.js",
            9,
            "read via process.env, falling back to \"eu\"",
        ),
    );
    code.required = Some(false);
    code.default = Some("eu".into());
    code.description = Some("a comment".into());
    // smithery's words beat the README's; .env placeholders and secrets take no default.
    let mut smithery = finding("SEARCH_API_KEY", Origin::Smithery, "smithery.yaml");
    smithery.description = Some("Key from the dashboard".into());
    let mut readme_key = finding("SEARCH_API_KEY", Origin::Readme, "README.md");
    readme_key.description = Some("The key".into());
    let mut dotenv_key = finding("SEARCH_API_KEY", Origin::DotEnv, ".env.example");
    dotenv_key.default = Some("sk-live-1234".into());
    let mut dotenv_url = finding("SEARCH_URL", Origin::DotEnv, ".env.example");
    dotenv_url.default = Some("https://your-instance.example.com".into());
    let mut docker = finding("SEARCH_CACHE", Origin::Dockerfile, "Dockerfile");
    docker.default = Some("/cache".into());
    let mut guess = finding("SEARCH_NOWHERE", Origin::Smithery, "smithery.yaml");
    guess.enrich_only = true;
    let merged = env::merge(vec![
        readme, code, smithery, readme_key, dotenv_key, dotenv_url, docker, guess,
    ]);
    let names: Vec<&str> = merged.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "SEARCH_API_KEY",
            "SEARCH_REGION",
            "SEARCH_URL",
            "SEARCH_CACHE"
        ],
        "declared first, then read by the code, then documented; a name guess alone is dropped"
    );
    let key = &merged[0];
    assert_eq!(key.description, "Key from the dashboard");
    assert_eq!(
        key.default, None,
        "a secret takes no default from an example file"
    );
    assert_eq!(key.confidence.level, Level::High);
    let region = &merged[1];
    assert!(!region.required);
    assert_eq!(region.default.as_deref(), Some("eu"));
    assert_eq!(region.description, "Region of the index");
    assert_eq!(region.confidence.level, Level::High, "read and documented");
    assert!(
        region
            .confidence
            .reasons
            .iter()
            .any(|r| r.starts_with("optional: read via process.env, falling back")),
        "{:?}",
        region.confidence.reasons
    );
    let url = &merged[2];
    assert_eq!(url.default, None, "a placeholder is no default");
    assert_eq!(url.confidence.level, Level::Medium);
    let cache = &merged[3];
    assert_eq!(cache.default.as_deref(), Some("/cache"));
    assert_eq!(
        cache.confidence.level,
        Level::Low,
        "only set in the Dockerfile"
    );
}

#[test]
fn placeholders() {
    for value in [
        "",
        "your-key-here",
        "<YOUR_TOKEN>",
        "YOUR_API_KEY_HERE",
        "xxxxxxxx",
        "sk-...",
        "changeme",
        "${API_KEY}",
        "/path/to/dir",
        "https://api.example.com",
    ] {
        assert!(env::is_placeholder(value), "{value:?}");
    }
    for value in ["info", "30", "https://api.github.com", "eu-west-1", "false"] {
        assert!(!env::is_placeholder(value), "{value:?}");
    }
}

#[test]
fn command_args_put_fields_after_the_fixed_arguments() {
    use std::collections::BTreeMap;

    use crate::spec::{ArgField, Confidence, Launch, PackageRef, Registry, Runtime, ServerSpec};

    let field = |name: &str, flag: Option<&str>, required: bool| ArgField {
        name: name.into(),
        flag: flag.map(String::from),
        description: String::new(),
        required,
        repeated: false,
        secret: false,
        default: None,
        format: None,
        choices: Vec::new(),
        evidence: Vec::new(),
        confidence: Confidence::default(),
    };
    let mut dirs = field("allowed-directory", None, true);
    dirs.repeated = true;
    let mut read_only = field("read-only", Some("--read-only"), false);
    read_only.format = Some("boolean".into());
    let mut branch = field("branch", Some("--branch"), false);
    branch.default = Some("main".into());
    let spec = ServerSpec {
        spec_version: crate::spec::SPEC_VERSION,
        source: "npm:x".into(),
        name: "x".into(),
        description: None,
        mcp_name: None,
        runtime: Runtime::Node,
        runtime_requirement: None,
        package: PackageRef {
            registry: Registry::Npm,
            name: "x".into(),
            version: "1.0.0".into(),
            path: None,
            revision: None,
        },
        launch: Launch {
            command: "x".into(),
            args: vec!["stdio".into()],
        },
        env: Vec::new(),
        left_out: Vec::new(),
        args: vec![
            dirs,
            field("repository", Some("--repository"), true),
            read_only,
            branch,
        ],
        confidence: Confidence::default(),
        evidence: Vec::new(),
        warnings: Vec::new(),
        introspection: None,
        assist: None,
    };
    let values = |pairs: &[(&str, &[&str])]| -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    };
    let line = spec
        .command_args(&values(&[
            ("allowed-directory", &["/data", "/tmp/x y"]),
            ("repository", &["/repo"]),
            ("read-only", &["true"]),
            ("unknown", &["ignored"]),
        ]))
        .unwrap();
    assert_eq!(
        line,
        [
            "stdio",
            "--repository",
            "/repo",
            "--read-only",
            "--branch",
            "main",
            "/data",
            "/tmp/x y"
        ]
    );
    let missing = spec
        .command_args(&values(&[("read-only", &["false"]), ("repository", &[""])]))
        .unwrap_err();
    assert_eq!(missing.0, ["allowed-directory", "repository"]);
    assert!(
        missing
            .to_string()
            .starts_with("missing required arguments: allowed-directory, repository")
    );

    // A format-1 spec (no args, no confidence) still reads.
    let mut json = serde_json::to_value(&spec).unwrap();
    let object = json.as_object_mut().unwrap();
    object.remove("args");
    object.remove("confidence");
    object.insert("specVersion".into(), 1.into());
    let old: ServerSpec = serde_json::from_value(json).unwrap();
    assert!(old.args.is_empty());
    assert_eq!(old.confidence, Confidence::default());
    assert_eq!(old.introspection, None);
}

#[test]
fn an_introspection_reads_back_in_its_documented_form() {
    let json = serde_json::json!({
        "status": "needs_credentials",
        "tools": [{"name": "echo", "description": "Echoes"}, {"name": "bare"}],
        "prompts": [],
        "resources": [{"uri": "file:///a", "name": "a"}],
        "serverInfo": {"name": "x", "version": "1"},
        "protocolVersion": "2025-06-18",
        "message": "it exited",
        "stderr": ["API_KEY is invalid"],
        "placeholders": ["API_KEY"],
        "durationMs": 1234
    });
    let read: crate::Introspection = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(read.status, crate::IntrospectionStatus::NeedsCredentials);
    assert_eq!(read.tools[1].description, "");
    assert_eq!(read.duration_ms, 1234);
    let written = serde_json::to_value(&read).unwrap();
    assert_eq!(written["tools"][0], json["tools"][0]);
    assert_eq!(written["serverInfo"], json["serverInfo"]);
    assert_eq!(written["status"], "needs_credentials");
    assert_eq!(written["durationMs"], 1234);
}

#[test]
fn fallbacks_either_checks_and_minified_lines() {
    let source = r#"
const baseUrl = (process.env.SEARCH_API_URL ?? DEFAULT_API_URL).replace(/\/$/, "");
const key = process.env.SEARCH_API_KEY || "";
if (!key) {
  throw new Error("SEARCH_API_KEY is required");
}
const a = process.env.EITHER_TOKEN;
if (!a && !process.env.EITHER_URL) {
  throw new Error("set one");
}
"#;
    // A bundled library: one very long line.
    let minified = format!(
        "var x=process.env.BUNDLED_FLAG;if(!process.env.BUNDLED_FLAG)throw new TypeError(\"argument namespace is required\");{}\n",
        "var y=1;".repeat(60)
    );
    let source = format!("{source}{minified}");
    let found = code_env::find(&file("dist/index.js", &source));
    let get = |n: &str| found.iter().find(|f| f.name == n).unwrap();
    assert_eq!(get("SEARCH_API_URL").required, Some(false));
    assert!(
        get("SEARCH_API_URL")
            .evidence
            .note
            .contains("with a fallback")
    );
    assert_eq!(
        get("SEARCH_API_KEY").required,
        Some(true),
        "an empty fallback is no fallback"
    );
    assert_eq!(get("EITHER_TOKEN").required, None, "one of two is enough");
    assert_eq!(
        get("BUNDLED_FLAG").required,
        None,
        "a minified line says nothing"
    );
}
