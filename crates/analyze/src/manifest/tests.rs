//! Unit tests of the smithery.yaml, Dockerfile, `.env.example` and command-line readers, on
//! small inputs shaped like real servers' files (brave-search, github, slack, postgres,
//! filesystem, git, time).

use super::smithery::{EnvValue, JsArg};
use super::{cli, dockerfile, dotenv, smithery};
use crate::env::{Finding, Origin};
use crate::files::SourceFile;
use crate::launch::{ArgOrigin, Identity};

fn file(rel: &str, text: &str) -> SourceFile {
    SourceFile {
        rel: rel.to_string(),
        text: text.to_string(),
    }
}

fn get<'a>(findings: &'a [Finding], name: &str) -> &'a Finding {
    findings.iter().find(|f| f.name == name).unwrap_or_else(|| {
        let names: Vec<_> = findings.iter().map(|f| f.name.as_str()).collect();
        panic!("{name} not in {names:?}")
    })
}

const BRAVE_SMITHERY: &str = r#"# Smithery configuration file: https://smithery.ai/docs/config#smitheryyaml

startCommand:
  type: stdio
  configSchema:
    # JSON Schema defining the configuration options for the MCP.
    type: object
    required:
      - braveApiKey
    properties:
      braveApiKey:
        type: string
        description: The API key for the BRAVE Search server.
      maxResults:
        type: integer
        default: 10
        description: Results per query
  commandFunction:
    # A function that produces the CLI command to start the MCP on stdio.
    |-
    (config) => ({ command: 'node', args: ['dist/index.js'], env: { BRAVE_API_KEY: config.braveApiKey, BRAVE_MAX_RESULTS: String(config.maxResults ?? 10) } })
"#;

#[test]
fn smithery_maps_schema_properties_to_variables() {
    let parsed = smithery::parse(&file("smithery.yaml", BRAVE_SMITHERY)).expect("parses");
    let function = parsed.command.as_ref().expect("a commandFunction");
    assert_eq!(function.command.as_deref(), Some("node"));
    assert_eq!(function.args, [JsArg::Literal("dist/index.js".into())]);
    assert_eq!(function.line, Some(21));
    let findings = parsed.env_findings();
    let key = get(&findings, "BRAVE_API_KEY");
    assert_eq!(key.origin, Origin::Smithery);
    assert_eq!(key.required, Some(true));
    assert_eq!(
        key.description.as_deref(),
        Some("The API key for the BRAVE Search server.")
    );
    assert_eq!(key.evidence.line, Some(21));
    assert!(
        key.evidence.note.contains("braveApiKey"),
        "{}",
        key.evidence.note
    );
    let max = get(&findings, "BRAVE_MAX_RESULTS");
    assert_eq!(max.required, Some(false), "not in the required list");
    assert_eq!(max.default.as_deref(), Some("10"));
    assert_eq!(max.format.as_deref(), Some("number"));
    assert_eq!(max.description.as_deref(), Some("Results per query"));
    assert_eq!(findings.len(), 2, "both properties are mapped: no guesses");
    assert_eq!(
        parsed.invocation(),
        Some(("node".to_string(), vec!["dist/index.js".to_string()]))
    );
}

#[test]
fn smithery_reads_block_bodies_and_destructured_parameters() {
    let yaml = r#"
startCommand:
  type: stdio
  configSchema:
    type: object
    properties:
      githubPersonalAccessToken: { type: string, description: "Your GitHub token" }
      logLevel: { type: string, enum: [debug, info, warn], default: info }
  commandFunction: |-
    (config) => {
      const env = {};
      if (config.githubPersonalAccessToken) env.GITHUB_PERSONAL_ACCESS_TOKEN = config.githubPersonalAccessToken;
      env["LOG_LEVEL_NAME"] = config.logLevel || 'info';
      env.MCP_MODE = 'stdio';
      return { command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env };
    }
"#;
    let parsed = smithery::parse(&file("smithery.yml", yaml)).expect("parses");
    let findings = parsed.env_findings();
    let token = get(&findings, "GITHUB_PERSONAL_ACCESS_TOKEN");
    assert_eq!(token.description.as_deref(), Some("Your GitHub token"));
    assert_eq!(token.required, None, "no required list");
    assert_eq!(token.evidence.line, Some(12));
    let level = get(&findings, "LOG_LEVEL_NAME");
    assert_eq!(level.choices, ["debug", "info", "warn"]);
    assert_eq!(level.default.as_deref(), Some("info"));
    let mode = get(&findings, "MCP_MODE");
    assert_eq!(mode.default.as_deref(), Some("stdio"));

    let destructured = r#"
startCommand:
  type: stdio
  configSchema:
    type: object
    required: [apiKey]
    properties:
      apiKey: { type: string, description: Slack bot token }
  commandFunction: "({ apiKey }) => ({ command: 'node', args: ['dist/index.js'], env: { SLACK_BOT_TOKEN: apiKey } })"
"#;
    let parsed = smithery::parse(&file("smithery.yaml", destructured)).expect("parses");
    let findings = parsed.env_findings();
    let token = get(&findings, "SLACK_BOT_TOKEN");
    assert_eq!(token.required, Some(true));
    assert_eq!(token.description.as_deref(), Some("Slack bot token"));
}

#[test]
fn smithery_args_become_argument_findings() {
    let yaml = r#"
startCommand:
  type: stdio
  commandFunction:
    |-
    (config) => ({ command: 'python', args: ['-m', 'mcp_server_git', '--repository', config.repository, `--branch=${config.branch}`, ...(config.debug ? ['--debug'] : []), ...config.extraPaths], env: {} })
  configSchema:
    type: object
    required: [repository]
    properties:
      repository: { type: string, description: Path of the repository }
      branch: { type: string, default: main }
      debug: { type: boolean }
      extraPaths: { type: array, description: More folders }
"#;
    let parsed = smithery::parse(&file("smithery.yaml", yaml)).expect("parses");
    let function = parsed.command.as_ref().unwrap();
    assert_eq!(
        function.args,
        [
            JsArg::Literal("-m".into()),
            JsArg::Literal("mcp_server_git".into()),
            JsArg::Literal("--repository".into()),
            JsArg::Config("repository".into()),
            JsArg::Inline {
                flag: "--branch".into(),
                prop: "branch".into()
            },
            JsArg::Conditional {
                prop: "debug".into(),
                inner: vec![JsArg::Literal("--debug".into())]
            },
            JsArg::Spread("extraPaths".into()),
        ]
    );
    let (command, words) = parsed.invocation().unwrap();
    assert_eq!(command, "python");
    assert_eq!(
        words,
        [
            "-m",
            "mcp_server_git",
            "--repository",
            "{config.repository}",
            "--branch={config.branch}",
            "{config.extraPaths}"
        ]
    );
    // `python -m mcp_server_git` names the server: two words to skip.
    let args = parsed.arg_findings(2);
    assert_eq!(args.len(), 4, "{args:?}");
    assert!(args.iter().all(|a| a.origin == ArgOrigin::Smithery));
    let repository = &args[0];
    assert_eq!(repository.flag.as_deref(), Some("--repository"));
    assert_eq!(repository.required, Some(true));
    assert_eq!(
        repository.description.as_deref(),
        Some("Path of the repository")
    );
    assert_eq!(args[1].flag.as_deref(), Some("--branch"));
    assert_eq!(args[1].default.as_deref(), Some("main"));
    assert_eq!(args[2].flag.as_deref(), Some("--debug"));
    assert!(args[2].boolean);
    assert_eq!(args[2].required, Some(false));
    let extra = &args[3];
    assert_eq!((extra.flag.as_ref(), extra.position), (None, Some(0)));
    assert!(extra.repeated);
    assert_eq!(extra.name.as_deref(), Some("extra-paths"));
    // Nothing is mapped to a variable; the properties used as arguments are not guessed as
    // variables either.
    assert!(parsed.env_findings().is_empty());
}

#[test]
fn smithery_properties_without_a_mapping() {
    let yaml = r#"
runtime: typescript
startCommand:
  type: http
  configSchema:
    type: object
    required: [ATTIO_API_KEY]
    properties:
      ATTIO_API_KEY: { type: string, description: Your Attio API key }
      workspaceId: { type: string, description: Optional workspace }
"#;
    let parsed = smithery::parse(&file("smithery.yaml", yaml)).expect("parses");
    let findings = parsed.env_findings();
    let key = get(&findings, "ATTIO_API_KEY");
    assert!(!key.enrich_only);
    assert_eq!(key.required, Some(true));
    assert_eq!(key.evidence.line, Some(9));
    let guess = get(&findings, "WORKSPACE_ID");
    assert!(
        guess.enrich_only,
        "a camelCase property is only a name guess"
    );
    assert_eq!(
        smithery::upper_snake("braveApiKey").as_deref(),
        Some("BRAVE_API_KEY")
    );
    assert_eq!(smithery::upper_snake("api-key").as_deref(), Some("API_KEY"));
}

#[test]
fn smithery_refuses_what_is_not_its_shape() {
    assert!(smithery::parse(&file("smithery.yaml", "startCommand: [unclosed")).is_none());
    assert!(smithery::parse(&file("smithery.yaml", "name: x\n")).is_none());
    // An alias bomb stays within serde-saphyr's budgets: refused or bounded, never exploding.
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..12 {
        let previous = if level == 1 {
            "a".to_string()
        } else {
            format!("a{}", level - 1)
        };
        bomb.push_str(&format!(
            "a{level}: &a{level} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"
        ));
    }
    bomb.push_str("startCommand: *a11\n");
    let started = std::time::Instant::now();
    assert!(smithery::parse(&file("smithery.yaml", &bomb)).is_none());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn dockerfile_last_stage_command_and_env() {
    let text = r#"# syntax=docker/dockerfile:1
FROM node:22 AS builder
ENV BUILD_ONLY_TOKEN=abc
WORKDIR /app
COPY . .
RUN npm ci && npm run build

FROM node:22-alpine AS release
ARG SERVER_VERSION=1.2.3
WORKDIR /app
COPY --from=builder /app/dist /app/dist
ENV NODE_ENV=production
# Where the server keeps its cache
ENV CACHE_DIR=/data/cache \
    SERVER_VERSION_LABEL=${SERVER_VERSION} \
    GITHUB_TOKEN=your-token-here
ENV LEGACY_SETTING some value
ENTRYPOINT ["node", "dist/index.js"]
CMD ["--stdio"]
"#;
    let parsed = dockerfile::parse(&file("Dockerfile", text));
    let (command, line) = parsed.command.expect("a command");
    assert_eq!(command, ["node", "dist/index.js", "--stdio"]);
    assert_eq!(line, 18);
    let names: Vec<&str> = parsed.env.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "CACHE_DIR",
            "SERVER_VERSION_LABEL",
            "GITHUB_TOKEN",
            "LEGACY_SETTING"
        ],
        "builder ENV and NODE_ENV are left out"
    );
    let cache = get(&parsed.env, "CACHE_DIR");
    assert_eq!(cache.default.as_deref(), Some("/data/cache"));
    assert_eq!(
        cache.description.as_deref(),
        Some("Where the server keeps its cache")
    );
    assert_eq!(cache.evidence.line, Some(14));
    assert_eq!(cache.origin, Origin::Dockerfile);
    let label = get(&parsed.env, "SERVER_VERSION_LABEL");
    assert_eq!(label.default.as_deref(), Some("1.2.3"));
    assert!(
        label
            .evidence
            .note
            .contains("build argument SERVER_VERSION")
    );
    assert_eq!(
        get(&parsed.env, "LEGACY_SETTING").default.as_deref(),
        Some("some value")
    );

    let shell = "FROM python:3.12-slim\nCMD uv run mcp-server-time --local-timezone UTC\n";
    let parsed = dockerfile::parse(&file("Dockerfile", shell));
    assert_eq!(
        parsed.command.unwrap().0,
        ["uv", "run", "mcp-server-time", "--local-timezone", "UTC"]
    );
    let wrapped = "FROM node:22\nENTRYPOINT [\"sh\", \"-c\", \"node build/index.js --transport stdio\"]\nCMD [\"ignored\"]\n";
    let parsed = dockerfile::parse(&file("Containerfile", wrapped));
    assert_eq!(
        parsed.command.unwrap().0,
        ["node", "build/index.js", "--transport", "stdio", "ignored"]
    );
}

#[test]
fn dotenv_names_defaults_comments_and_sections() {
    let text = r#"# Brave Search
# Get a key at https://brave.com/search/api/
BRAVE_API_KEY=your-api-key-here

# Required
SLACK_TEAM_ID=
SLACK_BOT_TOKEN="xoxb-your-bot-token"

# Optional settings
LOG_LEVEL=info # one of debug, info, warn
export CACHE_TTL_SECONDS='300'
# TIMEOUT_MS=5000
# this line is prose = not a variable
"#;
    let findings = dotenv::findings(&file(".env.example", text));
    let names: Vec<&str> = findings.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "BRAVE_API_KEY",
            "SLACK_TEAM_ID",
            "SLACK_BOT_TOKEN",
            "LOG_LEVEL",
            "CACHE_TTL_SECONDS",
            "TIMEOUT_MS"
        ]
    );
    let brave = get(&findings, "BRAVE_API_KEY");
    assert_eq!(
        brave.description.as_deref(),
        Some("Brave Search Get a key at https://brave.com/search/api/")
    );
    assert_eq!(brave.required, None);
    assert_eq!(brave.evidence.line, Some(3));
    assert_eq!(brave.origin, Origin::DotEnv);
    assert_eq!(get(&findings, "SLACK_TEAM_ID").required, Some(true));
    assert_eq!(get(&findings, "SLACK_TEAM_ID").default, None);
    assert_eq!(
        get(&findings, "SLACK_BOT_TOKEN").default.as_deref(),
        Some("xoxb-your-bot-token"),
        "the reader keeps it; merging drops placeholders"
    );
    let level = get(&findings, "LOG_LEVEL");
    assert_eq!(level.default.as_deref(), Some("info"));
    assert_eq!(level.required, Some(false));
    assert_eq!(
        level.description.as_deref(),
        Some("one of debug, info, warn")
    );
    assert_eq!(
        get(&findings, "CACHE_TTL_SECONDS").default.as_deref(),
        Some("300")
    );
    let timeout = get(&findings, "TIMEOUT_MS");
    assert_eq!(timeout.required, Some(false));
    assert_eq!(timeout.default.as_deref(), Some("5000"));
    assert!(timeout.evidence.note.contains("commented out"));
}

fn identity() -> Identity {
    Identity {
        package: "@modelcontextprotocol/server-filesystem".into(),
        commands: vec!["mcp-server-filesystem".into()],
        bin_files: vec!["dist/index.js".into()],
        modules: Vec::new(),
    }
}

#[test]
fn usage_lines_in_code_and_readme() {
    let code = r#"
const args = process.argv.slice(2);
if (args.length === 0) {
    console.error("Usage: mcp-server-filesystem [allowed-directory] [additional-directories...]");
}
"#;
    let found = cli::usage_findings("dist/index.js", code, &identity(), true);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].name.as_deref(), Some("allowed-directory"));
    assert_eq!(
        (found[0].position, found[0].required),
        (Some(0), Some(false))
    );
    assert!(!found[0].repeated);
    assert_eq!(found[1].name.as_deref(), Some("additional-directories"));
    assert!(found[1].repeated);
    assert_eq!(found[1].evidence.line, Some(4));
    // Not a missing-argument exit: the block only prints.
    assert!(cli::code_findings(&file("dist/index.js", code)).is_empty());

    let readme = "Usage: npx -y @modelcontextprotocol/server-filesystem <dir>... [--read-only] [-c, --config FILE]\n\nUsage: other-tool <x>\n";
    let found = cli::usage_findings("README.md", readme, &identity(), false);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[0].name.as_deref(), Some("dir"));
    assert_eq!(found[0].required, Some(true));
    assert!(found[0].repeated);
    assert_eq!(found[1].flag.as_deref(), Some("--read-only"));
    assert!(found[1].boolean);
    assert_eq!(found[2].flag.as_deref(), Some("--config"));
    assert_eq!(found[2].aliases, ["-c"]);
    assert_eq!(found[2].required, Some(false));
    assert!(!found[2].boolean);

    // The program's own name counts only in the entry point's code.
    let python = "print(f\"Usage: {sys.argv[0]} <repository>\")\n";
    assert_eq!(
        cli::usage_findings("pkg/main.py", python, &identity(), true).len(),
        1
    );
    assert!(cli::usage_findings("pkg/main.py", python, &identity(), false).is_empty());
}

#[test]
fn argument_parser_declarations() {
    let git = r#"
@click.command()
@click.option("--repository", "-r", type=Path, help="Git repository path")
@click.option("-v", "--verbose", count=True)
@click.argument("workdir", type=click.Path(exists=True))
def main(repository, verbose, workdir):
    pass
"#;
    let found = cli::code_findings(&file("mcp_server_git/__init__.py", git));
    assert_eq!(found.len(), 3, "{found:?}");
    let repository = &found[0];
    assert_eq!(repository.flag.as_deref(), Some("--repository"));
    assert_eq!(repository.aliases, ["-r"]);
    assert_eq!(
        repository.description.as_deref(),
        Some("Git repository path")
    );
    assert_eq!(repository.required, Some(false));
    assert!(!repository.creates, "an optional option only enriches");
    assert_eq!(repository.format.as_deref(), Some("filepath"));
    assert!(found[1].boolean);
    let workdir = &found[2];
    assert_eq!((workdir.position, workdir.required), (Some(0), Some(true)));
    assert!(workdir.creates);

    let time = r#"
    parser = argparse.ArgumentParser(description="give a model the ability to handle time queries")
    parser.add_argument("--local-timezone", type=str, help="Override local timezone")
    parser.add_argument("--units", choices=["metric", "imperial"], default="metric", required=True)
    parser.add_argument("paths", nargs="+", help="Folders")
"#;
    let found = cli::code_findings(&file("mcp_server_time/__init__.py", time));
    assert_eq!(found.len(), 3);
    assert_eq!(
        found[0].description.as_deref(),
        Some("Override local timezone")
    );
    assert_eq!(found[1].choices, ["metric", "imperial"]);
    assert_eq!(found[1].default.as_deref(), Some("metric"));
    assert_eq!(found[1].required, Some(true));
    assert!(found[2].repeated && found[2].required == Some(true));

    let commander = r#"
program
  .requiredOption('-k, --api-key <key>', 'API key of the service')
  .option('--read-only', 'Refuse writes')
  .argument('[dirs...]', 'Allowed folders')
  .option('timeout', { describe: 'Seconds to wait', demandOption: true, default: 30 });
"#;
    let found = cli::code_findings(&file("dist/cli.js", commander));
    assert_eq!(found.len(), 4, "{found:?}");
    assert_eq!(found[0].flag.as_deref(), Some("--api-key"));
    assert_eq!(found[0].required, Some(true));
    assert!(!found[0].boolean);
    assert!(found[1].boolean && found[1].required == Some(false));
    assert!(found[2].repeated && found[2].required == Some(false));
    assert_eq!(found[3].flag.as_deref(), Some("--timeout"));
    assert_eq!(found[3].required, Some(true));
    assert_eq!(found[3].default.as_deref(), Some("30"));
}

#[test]
fn argv_checks_that_exit() {
    let postgres = r#"
const args = process.argv.slice(2);
if (args.length === 0) {
    console.error("Please provide a database URL as a command-line argument");
    process.exit(1);
}
const databaseUrl = args[0];
"#;
    let found = cli::code_findings(&file("dist/index.js", postgres));
    assert_eq!(found.len(), 1);
    let url = &found[0];
    assert_eq!(url.origin, ArgOrigin::CodeCheck);
    assert_eq!((url.position, url.required), (Some(0), Some(true)));
    assert_eq!(url.name.as_deref(), Some("database-url"));
    assert_eq!(
        url.description.as_deref(),
        Some("Please provide a database URL as a command-line argument")
    );
    assert_eq!(url.evidence.line, Some(3));

    let python = "import sys\nif len(sys.argv) < 2:\n    print(\"Please specify the SQLite file to serve\")\n    sys.exit(1)\n";
    let found = cli::code_findings(&file("server.py", python));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name.as_deref(), Some("sqlite-file"));

    // A length test on something else is not an argument check.
    let other = "const args = process.argv.slice(2);\nconst dirs = [];\nif (dirs.length === 0) {\n  throw new Error('no dirs');\n}\n";
    assert!(cli::code_findings(&file("dist/index.js", other)).is_empty());
}

#[test]
fn env_values_of_the_function() {
    let yaml = "startCommand:\n  type: stdio\n  commandFunction: \"(c) => ({command: 'node', args: [], env: {A_URL: c.url || 'http://localhost', B_FLAG: c.flag ? '1' : undefined, C_RAW: process.env.X}})\"\n";
    let parsed = smithery::parse(&file("smithery.yaml", yaml)).expect("parses");
    let env = &parsed.command.as_ref().unwrap().env;
    assert_eq!(env.len(), 3);
    assert_eq!(
        env[0].value,
        EnvValue::Config {
            prop: "url".into(),
            fallback: Some("http://localhost".into())
        }
    );
    assert_eq!(
        env[1].value,
        EnvValue::Config {
            prop: "flag".into(),
            fallback: None
        }
    );
    assert_eq!(env[2].value, EnvValue::Other);
}
