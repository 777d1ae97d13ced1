//! Unit tests of the reading rules that decide which variables a stdio deployment needs:
//! option `envvar=`, `process.env` held in a local, helpers, multi-line pydantic-settings
//! fields, comments and bundled dependencies, container-only and HTTP-only variables, secret
//! names. Each snippet is modelled on a real package of the corpus.

use std::collections::BTreeSet;

use crate::env::{self, Finding, Origin};
use crate::files::SourceFile;
use crate::launch::Identity;
use crate::spec::Evidence;
use crate::{code_env, readme, transport};

fn file(rel: &str, text: &str) -> SourceFile {
    SourceFile {
        rel: rel.to_string(),
        text: text.to_string(),
    }
}

fn names(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.name.as_str()).collect()
}

fn get<'a>(findings: &'a [Finding], name: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} not in {:?}", names(findings)))
}

fn identity() -> Identity {
    Identity {
        package: "some-server".into(),
        commands: vec!["some-server".into()],
        bin_files: vec![],
        modules: vec!["some_server".into()],
    }
}

#[test]
fn click_option_envvars() {
    let source = r#"
@click.command()
@click.option("--port", default=8000, envvar="MCP_PORT", help="Port for HTTP")
@click.option(
    "--db-path",
    default=":memory:",
    envvar="MCP_DB_PATH",
    help="(Default: `:memory:`) Path to local DuckDB database file "
    "or MotherDuck database",
)
@click.option(
    "--motherduck-token",
    default=None,
    envvar=["motherduck_token", "MOTHERDUCK_TOKEN"],
    help="Access token",
)
@click.option("--read-write", is_flag=True, envvar="MCP_READ_WRITE")
@click.option("--mode", type=click.Choice(["a", "b"]), envvar="MCP_MODE")
@click.option("--auth-token", envvar="SENTRY_TOKEN", required=True, help="Sentry authentication token")
def main(port, db_path, motherduck_token, read_write, mode, auth_token):
    pass
"#;
    let found = code_env::find(&file("pkg/__init__.py", source));
    assert_eq!(
        names(&found),
        [
            "MCP_PORT",
            "MCP_DB_PATH",
            "motherduck_token",
            "MOTHERDUCK_TOKEN",
            "MCP_READ_WRITE",
            "MCP_MODE",
            "SENTRY_TOKEN"
        ]
    );
    let db = get(&found, "MCP_DB_PATH");
    assert_eq!(db.required, Some(false));
    assert_eq!(db.default.as_deref(), Some(":memory:"));
    assert_eq!(
        db.description.as_deref(),
        Some("(Default: `:memory:`) Path to local DuckDB database file or MotherDuck database")
    );
    assert_eq!(db.evidence.line, Some(7));
    assert!(
        db.evidence.note.contains("--db-path"),
        "{}",
        db.evidence.note
    );
    let lower = get(&found, "motherduck_token");
    assert!(lower.explicit && lower.required == Some(false) && lower.default.is_none());
    assert_eq!(
        get(&found, "MCP_READ_WRITE").format.as_deref(),
        Some("boolean")
    );
    assert_eq!(get(&found, "MCP_MODE").choices, ["a", "b"]);
    let sentry = get(&found, "SENTRY_TOKEN");
    assert_eq!(sentry.required, Some(true));
    assert_eq!(
        sentry.description.as_deref(),
        Some("Sentry authentication token")
    );
    // The lowercase spelling survives the merge, as a secret.
    let merged = env::merge(found);
    let token = merged
        .iter()
        .find(|v| v.name == "motherduck_token")
        .unwrap();
    assert!(token.secret && !token.required);
}

#[test]
fn process_env_held_in_a_local() {
    let source = r#"
function buildConfigFromEnv(env = process.env) {
  const exaApiKey = env.EXA_API_KEY;
  return {
    enabledTools: parseTools(env.ENABLED_TOOLS ?? env.TOOLS),
    source: env["EXA_SOURCE"],
    debug: env.DEBUG === "true",
  };
}
const e = process.env;
const region = e.SERVICE_REGION || "eu";
const { env: vars } = process;
const { FIRST_ONE, SECOND_ONE: second } = vars;
const other = { env: {} };
other.env.NOT_PROCESS_ENV;
"#;
    let found = code_env::find(&file("dist/stdio.cjs", source));
    assert_eq!(
        names(&found),
        [
            "EXA_API_KEY",
            "ENABLED_TOOLS",
            "TOOLS",
            "EXA_SOURCE",
            "SERVICE_REGION",
            "FIRST_ONE",
            "SECOND_ONE"
        ]
    );
    let region = get(&found, "SERVICE_REGION");
    assert_eq!(
        (region.required, region.default.as_deref()),
        (Some(false), Some("eu"))
    );
    assert_eq!(get(&found, "EXA_API_KEY").evidence.line, Some(3));
}

#[test]
fn bundled_dependencies_and_comments_are_not_reads() {
    let js = r#"// node_modules/agnost/dist/index.js
var level = process.env.AGNOST_LOG_LEVEL || "info";

// src/tools/config.ts
const url = "http://example.org"; // process.env.IN_A_COMMENT
/* process.env.IN_A_BLOCK
   comment */
const key = process.env.EXA_API_KEY;
const s = '/* not a comment */'; const t = process.env.AFTER_STRING;
"#;
    let found = code_env::find(&file("dist/stdio.cjs", js));
    assert_eq!(names(&found), ["EXA_API_KEY", "AFTER_STRING"]);

    let py = r#"
def _resolve(ca_certs):
    """Return the value to pass as verify=.

    httpx no longer reads SSL_CERT_FILE; os.environ.get("DOC_ONLY") is not a read here.
    """
    # os.getenv("COMMENTED_OUT")
    return os.getenv("REAL_ONE", "x")  # uses os.getenv("TRAILING")
"#;
    let found = code_env::find(&file("server.py", py));
    assert_eq!(names(&found), ["REAL_ONE"]);
}

#[test]
fn helpers_that_read_the_environment() {
    let py = r#"
def _env_flag(name: str) -> bool:
    """True when the named env var is set to a truthy string."""
    return os.getenv(name, "").strip().lower() in ("1", "true")


def _env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.getenv(name)
    if raw is None or not str(raw).strip():
        return default
    return int(raw)


def require(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is required")
    return value


ALLOW = _env_flag("DDG_ALLOW_PRIVATE_URLS")
RPM = _env_int("DDG_SEARCH_RPM", 30, minimum=1)
KEY = require("SERVICE_API_KEY")
config.get("NOT_A_HELPER_CALL")
"#;
    let found = code_env::find(&file("server.py", py));
    assert_eq!(
        names(&found),
        [
            "DDG_ALLOW_PRIVATE_URLS",
            "DDG_SEARCH_RPM",
            "SERVICE_API_KEY"
        ]
    );
    assert_eq!(get(&found, "DDG_ALLOW_PRIVATE_URLS").required, Some(false));
    let rpm = get(&found, "DDG_SEARCH_RPM");
    assert_eq!(
        (rpm.required, rpm.default.as_deref()),
        (Some(false), Some("30"))
    );
    assert_eq!(get(&found, "SERVICE_API_KEY").required, Some(true));

    // A helper defined in one file is resolved in another.
    let helper = file(
        "src/env.ts",
        "export const getEnv = (name: string) => process.env[name];\n",
    );
    let user = file("src/index.ts", "const token = getEnv(\"SERVICE_TOKEN\");\n");
    let found = code_env::find_all(&[&helper, &user]);
    assert_eq!(names(&found), ["SERVICE_TOKEN"]);
    assert_eq!(found[0].evidence.file, "src/index.ts");
}

#[test]
fn multi_line_pydantic_fields_aliases_and_defaults() {
    let source = r#"
DEFAULT_DESCRIPTION = "Keep the memory"


class ToolSettings(BaseSettings):
    """
    Configuration: for all the tools.
    """

    tool_store_description: str = Field(
        default=DEFAULT_DESCRIPTION,
        validation_alias="TOOL_STORE_DESCRIPTION",
    )
    collection_name: str | None = Field(
        default=None, validation_alias="COLLECTION_NAME"
    )
    provider: str = Field(validation_alias=AliasChoices("EMBEDDING_PROVIDER", "provider_type"))
    filterable_fields: list[str] | None = Field(default=None)
    items: list[str] = Field(default_factory=list)
"#;
    let found = code_env::find(&file("pkg/settings.py", source));
    assert_eq!(
        names(&found),
        [
            "TOOL_STORE_DESCRIPTION",
            "COLLECTION_NAME",
            "EMBEDDING_PROVIDER",
            "PROVIDER_TYPE",
            "FILTERABLE_FIELDS",
            "ITEMS"
        ]
    );
    assert_eq!(get(&found, "TOOL_STORE_DESCRIPTION").required, Some(false));
    assert_eq!(
        get(&found, "TOOL_STORE_DESCRIPTION").evidence.line,
        Some(10)
    );
    assert_eq!(get(&found, "COLLECTION_NAME").required, Some(false));
    assert_eq!(
        get(&found, "EMBEDDING_PROVIDER").required,
        Some(true),
        "a Field without a default"
    );
    assert_eq!(get(&found, "FILTERABLE_FIELDS").required, Some(false));
    assert_eq!(get(&found, "ITEMS").required, Some(false));
}

#[test]
fn container_only_readme_variables_and_negations() {
    let text = r#"# Time server

## Configuration

```json
{ "mcpServers": { "time": { "command": "uvx", "args": ["some-server"], "env": { "TIME_FORMAT": "iso" } } } }
```

```json
{ "mcpServers": { "time": { "command": "docker", "args": ["run", "-i", "--rm", "-e", "LOCAL_TIMEZONE", "mcp/time"], "env": { "TIME_FORMAT": "iso" } } } }
```

```bash
docker run -i --rm \
  -e DOCKER_ONLY_TOKEN=xyz \
  mcp/time
SHELL_SET_VAR=1 some-server
```

The server sets the `TIME_ZONE_DB` environment variable, but httpx no longer reads the
`SSL_CERT_FILE` environment variable.
"#;
    let mut found = readme::find("README.md", text, &identity());
    for docker in ["LOCAL_TIMEZONE", "DOCKER_ONLY_TOKEN"] {
        assert!(
            found.iter().filter(|f| f.name == docker).all(|f| f.docker),
            "{docker}"
        );
    }
    assert!(
        found
            .iter()
            .any(|f| f.name == "TIME_FORMAT" && f.stdio_config)
    );
    assert!(found.iter().any(|f| f.name == "SHELL_SET_VAR" && !f.docker));
    assert!(found.iter().any(|f| f.name == "TIME_ZONE_DB"));
    assert!(!found.iter().any(|f| f.name == "SSL_CERT_FILE"));

    let left = env::leave_out(&mut found, &BTreeSet::new(), &|_| true);
    let left: Vec<&str> = left.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(left, ["DOCKER_ONLY_TOKEN", "LOCAL_TIMEZONE"]);
    let kept: BTreeSet<&str> = names(&found).into_iter().collect();
    assert_eq!(
        kept.into_iter().collect::<Vec<_>>(),
        ["SHELL_SET_VAR", "TIME_FORMAT", "TIME_ZONE_DB"],
        "TIME_FORMAT is also in a docker entry, but not only there"
    );
}

#[test]
fn transport_setting_names() {
    for name in [
        "MCP_PORT",
        "MCP_HOST",
        "FASTMCP_HOST",
        "MCP_TRANSPORT",
        "MCP_STATELESS_HTTP",
        "WIKIPEDIA_MCP_AUTH_TOKEN",
        "DDG_ALLOWED_HOSTS",
        "DDG_ALLOWED_ORIGINS",
        "DDG_DISABLE_DNS_REBINDING_PROTECTION",
        "SERVER_TRANSPORT",
        "CORS_ORIGIN",
        "HTTP_STREAMABLE_SERVER",
        "SSE_LOCAL",
    ] {
        assert!(transport::is_transport_setting(name), "{name}");
    }
    for name in [
        "OBSIDIAN_HOST",
        "OBSIDIAN_PORT",
        "MCP_SESSION_ID",
        "MCP_MAX_DURATION_SECONDS",
        "REDIS_URL",
        "SMTP_SERVER_PORT",
        "AUTH_TOKEN",
    ] {
        assert!(!transport::is_transport_setting(name), "{name}");
    }
}

#[test]
fn reads_on_http_paths_only() {
    let ts = r#"
export async function startServer(args: string[] = process.argv) {
  const baseUrl = process.env.BASE_URL ?? undefined
  if (transport === 'stdio') {
    const proxy = await initProxy(specPath, baseUrl)
  } else if (transport === 'http') {
    const app = express()
    if (!options.unsafeDisableAuth) {
      authToken = options.authToken || process.env.AUTH_TOKEN || randomBytes(32).toString('hex')
    }
  }
}
"#;
    let found = code_env::find(&file("scripts/start-server.ts", ts));
    assert!(!get(&found, "BASE_URL").http_only);
    assert!(get(&found, "AUTH_TOKEN").http_only);

    let py = r#"
def main():
    token = os.getenv("SERVICE_TOKEN")
    if args.transport != "stdio":
        secret = os.getenv("SERVICE_JWT_SECRET")
"#;
    let found = code_env::find(&file("pkg/__main__.py", py));
    assert!(!get(&found, "SERVICE_TOKEN").http_only);
    assert!(get(&found, "SERVICE_JWT_SECRET").http_only);

    let header = "\"\"\"Authentication configuration for network MCP transports.\"\"\"\nimport os\nmode = os.getenv(\"SERVICE_AUTH_MODE\")\n";
    let found = code_env::find(&file("pkg/auth_config.py", header));
    assert!(get(&found, "SERVICE_AUTH_MODE").http_only);
    let found = code_env::find(&file("src/sse.ts", "const k = process.env.SSE_ONLY_KEY;\n"));
    assert!(found[0].http_only);
}

#[test]
fn variables_documented_only_for_http() {
    let readme = r#"# Server

## Configuration

Set `NOTION_TOKEN`.

### Transport options

#### STDIO transport (default)

```bash
npx some-server
```

#### Streamable HTTP transport

```bash
# Enable per-request tokens (flag or ENABLE_TOKEN_PASSTHROUGH=true)
npx some-server --transport http --enable-token-passthrough
```

### Examples

AUTH_TOKEN=x npx some-server --transport http
"#;
    let help = file(
        "bin/cli.mjs",
        "  HELP_ONLY_TOKEN   Bearer token for HTTP transport authentication\n",
    );
    let names: BTreeSet<String> = [
        "NOTION_TOKEN",
        "ENABLE_TOKEN_PASSTHROUGH",
        "AUTH_TOKEN",
        "HELP_ONLY_TOKEN",
        "UNDOCUMENTED",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let http = transport::documented_for_http(&names, Some(readme), &[&help]);
    assert_eq!(
        http.into_iter().collect::<Vec<_>>(),
        ["AUTH_TOKEN", "ENABLE_TOKEN_PASSTHROUGH", "HELP_ONLY_TOKEN"]
    );
}

#[test]
fn leave_out_keeps_declared_and_stdio_config_variables() {
    let ev = |file: &str| Evidence::new(file, Some(1), "x");
    let code = |name: &str, http_only: bool| {
        let mut f = Finding::new(name, Origin::Code, ev("index.js"));
        f.http_only = http_only;
        f
    };
    let mut minified = Finding::new("DEBUG_MIME", Origin::Code, ev("bin/cli.mjs"));
    minified.minified = true;
    let mut documented_minified = Finding::new("NOTION_TOKEN", Origin::Code, ev("bin/cli.mjs"));
    documented_minified.minified = true;
    let mut declared_port = Finding::new("MCP_PORT", Origin::ServerJson, ev("server.json"));
    declared_port.required = Some(false);
    let mut in_config = Finding::new("AUTH_TOKEN", Origin::Readme, ev("README.md"));
    in_config.stdio_config = true;
    let mut findings = vec![
        code("MCP_HOST", false),
        code("MCP_PORT", false),
        declared_port,
        code("HTTP_PATH_ONLY", true),
        code("BOTH_PATHS", true),
        code("BOTH_PATHS", false),
        code("AUTH_TOKEN", true),
        in_config,
        code("HTTP_DOCUMENTED", false),
        minified,
        documented_minified,
    ];
    let http_documented: BTreeSet<String> = ["HTTP_DOCUMENTED".to_string()].into();
    let left = env::leave_out(&mut findings, &http_documented, &|name| {
        name == "NOTION_TOKEN"
    });
    let left: Vec<&str> = left.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        left,
        [
            "DEBUG_MIME",
            "HTTP_DOCUMENTED",
            "HTTP_PATH_ONLY",
            "MCP_HOST"
        ]
    );
    let kept: BTreeSet<&str> = names(&findings).into_iter().collect();
    assert_eq!(
        kept.into_iter().collect::<Vec<_>>(),
        ["AUTH_TOKEN", "BOTH_PATHS", "MCP_PORT", "NOTION_TOKEN"]
    );
}

#[test]
fn secret_names_places_headers_and_switches() {
    for name in [
        "OPENAPI_MCP_HEADERS",
        "CUSTOM_HEADER",
        "motherduck_token",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        assert!(env::is_secret_name(name), "{name}");
    }
    for name in [
        "GDRIVE_CREDENTIALS_PATH",
        "GOOGLE_APPLICATION_CREDENTIALS_FILE",
        "SSH_KEY_DIR",
        "DDG_ALLOW_PRIVATE_URLS",
        "ENABLE_TOKEN_PASSTHROUGH",
    ] {
        assert!(!env::is_secret_name(name), "{name}");
    }
}
