//! Resolution order (flag over environment over default) and the admin token lookup.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;

use super::{
    ClientSettings, DeploySettings, Environment, ServeSettings, local_source, parse_server_url,
};
use crate::args::{Cli, Command};
use crate::error::{CliError, ExitStatus};

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("catwalk").chain(args.iter().copied())).unwrap()
}

fn serve(args: &[&str], environment: &Environment) -> Result<ServeSettings, CliError> {
    let cli = cli(args);
    let Command::Serve(serve_args) = &cli.command else {
        panic!("not serve");
    };
    ServeSettings::resolve(&cli.global, serve_args, environment)
}

fn client(args: &[&str], environment: &Environment) -> Result<ClientSettings, CliError> {
    ClientSettings::resolve(&cli(args).global, environment)
}

fn deploy(args: &[&str], environment: &Environment) -> Result<DeploySettings, CliError> {
    let cli = cli(args);
    let Command::Deploy(deploy_args) = &cli.command else {
        panic!("not deploy");
    };
    DeploySettings::resolve(deploy_args, environment)
}

fn default_dir() -> Option<PathBuf> {
    Some(PathBuf::from("/home/u/.local/share/catwalk"))
}

#[test]
fn serve_defaults() {
    let environment = Environment::new(Vec::<(String, String)>::new(), default_dir());
    let settings = serve(&["serve"], &environment).unwrap();
    assert_eq!(
        settings,
        ServeSettings {
            listen: "127.0.0.1:7411".parse().unwrap(),
            data_dir: PathBuf::from("/home/u/.local/share/catwalk"),
            database_url: None,
            public_url: None,
            cache_dir: None,
            sse_keep_alive: std::time::Duration::from_secs(15),
            health_interval: std::time::Duration::from_secs(30),
            allow_unsandboxed: false,
            rate_limits: catwalk_server::RateLimits::default(),
            max_request_bytes: 4 * 1024 * 1024,
            api_rate_limit: std::num::NonZeroU32::new(600),
            sso: catwalk_server::SsoConfig::default(),
            llm: None,
        }
    );
}

#[test]
fn llm_flags_over_variables_and_the_key_only_from_the_environment() {
    let environment = Environment::new(
        [
            ("CATWALK_LLM_PROVIDER", "openai"),
            ("CATWALK_LLM_MODEL", "from-variable"),
            ("CATWALK_LLM_API_KEY", "sk-secret"),
        ],
        default_dir(),
    );
    let settings = serve(&["serve", "--llm-model", "from-flag"], &environment).unwrap();
    let llm = settings.llm.expect("configured");
    assert_eq!(llm.provider, catwalk_analyze::assist::Provider::OpenAi);
    assert_eq!(llm.model, "from-flag");
    assert_eq!(llm.base_url, "https://api.openai.com/v1");
    assert_eq!(
        llm.api_key,
        Some(catwalk_analyze::assist::ApiKey::new("sk-secret"))
    );
    assert!(!format!("{llm:?}").contains("sk-secret"));
    let local = serve(
        &[
            "serve",
            "--llm-provider",
            "anthropic",
            "--llm-base-url",
            "http://127.0.0.1:8080/",
        ],
        &environment,
    )
    .unwrap()
    .llm
    .unwrap();
    assert_eq!(local.base_url, "http://127.0.0.1:8080");
    let error = serve(&["serve", "--llm-provider", "gemini"], &environment)
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown LLM provider"), "{error}");
}

#[test]
fn rate_limits_flag_over_variable_and_zero_lifts_them() {
    let environment = Environment::new(
        [
            ("CATWALK_RATE_LIMIT_PER_TOKEN", "60"),
            ("CATWALK_MAX_REQUEST_BYTES", "1000"),
            ("CATWALK_RATE_LIMIT_API", "30"),
        ],
        default_dir(),
    );
    let from_var = serve(&["serve"], &environment).unwrap();
    assert_eq!(from_var.rate_limits.per_token.unwrap().get(), 60);
    assert_eq!(from_var.rate_limits.per_deployment.unwrap().get(), 6000);
    assert_eq!(from_var.max_request_bytes, 1000);
    assert_eq!(from_var.api_rate_limit.unwrap().get(), 30);
    let lifted = serve(
        &[
            "serve",
            "--rate-limit-per-token",
            "0",
            "--rate-limit-per-deployment",
            "0",
            "--rate-limit-api",
            "0",
        ],
        &environment,
    )
    .unwrap();
    assert_eq!(lifted.api_rate_limit, None);
    assert_eq!(lifted.rate_limits.per_token, None);
    assert_eq!(lifted.rate_limits.per_deployment, None);
    assert!(serve(&["serve", "--max-request-bytes", "0"], &environment).is_err());
    let garbage = Environment::new([("CATWALK_RATE_LIMIT_PER_TOKEN", "lots")], default_dir());
    let error = serve(&["serve"], &garbage).unwrap_err().to_string();
    assert!(error.contains("CATWALK_RATE_LIMIT_PER_TOKEN"), "{error}");
}

#[test]
fn sse_keepalive_flag_over_variable_and_validated() {
    let environment = Environment::new([("CATWALK_SSE_KEEPALIVE", "30")], default_dir());
    let from_var = serve(&["serve"], &environment).unwrap();
    assert_eq!(from_var.sse_keep_alive, std::time::Duration::from_secs(30));
    let from_flag = serve(&["serve", "--sse-keepalive", "5"], &environment).unwrap();
    assert_eq!(from_flag.sse_keep_alive, std::time::Duration::from_secs(5));
    assert!(serve(&["serve", "--sse-keepalive", "0"], &environment).is_err());
    let garbage = Environment::new([("CATWALK_SSE_KEEPALIVE", "soon")], default_dir());
    assert!(serve(&["serve"], &garbage).is_err());
}

#[test]
fn health_interval_flag_over_variable_and_validated() {
    let environment = Environment::new([("CATWALK_HEALTH_INTERVAL", "7")], default_dir());
    let from_var = serve(&["serve"], &environment).unwrap();
    assert_eq!(from_var.health_interval, std::time::Duration::from_secs(7));
    let from_flag = serve(&["serve", "--health-interval", "2"], &environment).unwrap();
    assert_eq!(from_flag.health_interval, std::time::Duration::from_secs(2));
    let error = serve(&["serve", "--health-interval", "0"], &environment).unwrap_err();
    assert!(
        error.to_string().contains("health check interval"),
        "{error}"
    );
}

#[test]
fn serve_environment_over_default() {
    let environment = Environment::new(
        [
            ("CATWALK_LISTEN", "0.0.0.0:8000"),
            ("CATWALK_DATA_DIR", "/srv/catwalk"),
            ("DATABASE_URL", "postgres://db/catwalk"),
            ("CATWALK_PUBLIC_URL", "https://mcp.example.test"),
            ("CATWALK_CACHE_DIR", "/var/cache/catwalk"),
        ],
        default_dir(),
    );
    let settings = serve(&["serve"], &environment).unwrap();
    assert_eq!(
        settings.cache_dir.as_deref(),
        Some(Path::new("/var/cache/catwalk"))
    );
    assert_eq!(
        settings.listen,
        "0.0.0.0:8000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(settings.data_dir, Path::new("/srv/catwalk"));
    assert_eq!(
        settings.database_url.as_deref(),
        Some("postgres://db/catwalk")
    );
    assert_eq!(
        settings.public_url.as_deref(),
        Some("https://mcp.example.test")
    );
}

#[test]
fn serve_flags_over_environment() {
    let environment = Environment::new(
        [
            ("CATWALK_LISTEN", "0.0.0.0:8000"),
            ("CATWALK_DATA_DIR", "/srv/catwalk"),
            ("DATABASE_URL", "postgres://db/catwalk"),
            ("CATWALK_PUBLIC_URL", "https://mcp.example.test"),
            ("CATWALK_CACHE_DIR", "/var/cache/catwalk"),
        ],
        default_dir(),
    );
    let settings = serve(
        &[
            "serve",
            "--cache-dir",
            "/tmp/cache",
            "--listen",
            "127.0.0.1:9000",
            "--data-dir",
            "/tmp/cw",
            "--database",
            "sqlite:///tmp/cw/x.db",
            "--public-url",
            "http://localhost:9000",
        ],
        &environment,
    )
    .unwrap();
    assert_eq!(
        settings.listen,
        "127.0.0.1:9000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(settings.data_dir, Path::new("/tmp/cw"));
    assert_eq!(
        settings.database_url.as_deref(),
        Some("sqlite:///tmp/cw/x.db")
    );
    assert_eq!(
        settings.public_url.as_deref(),
        Some("http://localhost:9000")
    );
    // The data dir flag is global, so it may also come before the command.
    let settings = serve(&["--data-dir", "/tmp/before", "serve"], &environment).unwrap();
    assert_eq!(settings.data_dir, Path::new("/tmp/before"));
}

#[test]
fn empty_environment_values_count_as_unset() {
    let environment = Environment::new(
        [("CATWALK_LISTEN", ""), ("DATABASE_URL", "")],
        default_dir(),
    );
    let settings = serve(&["serve"], &environment).unwrap();
    assert_eq!(
        settings.listen,
        "127.0.0.1:7411".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(settings.database_url, None);
}

#[test]
fn listen_addresses() {
    let environment = Environment::new(Vec::<(String, String)>::new(), default_dir());
    let settings = serve(&["serve", "--listen", "[::1]:7411"], &environment).unwrap();
    assert_eq!(settings.listen, "[::1]:7411".parse::<SocketAddr>().unwrap());
    let settings = serve(&["serve", "--listen", "localhost:7411"], &environment).unwrap();
    assert!(settings.listen.ip().is_loopback());
    let error = serve(&["serve", "--listen", "7411"], &environment).unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Usage);
    assert!(error.to_string().contains("IP:PORT"), "{error}");
}

#[test]
fn no_home_means_data_dir_is_required() {
    let environment = Environment::new(Vec::<(String, String)>::new(), None);
    let error = serve(&["serve"], &environment).unwrap_err();
    assert!(error.to_string().contains("--data-dir"), "{error}");
}

#[test]
fn client_server_url_order() {
    let environment = Environment::new([("CATWALK_TOKEN", "t")], default_dir());
    let settings = client(&["ls"], &environment).unwrap();
    assert_eq!(settings.server.as_str(), "http://127.0.0.1:7411/");

    let environment = Environment::new(
        [
            ("CATWALK_TOKEN", "t"),
            ("CATWALK_URL", "https://cw.example.test"),
        ],
        default_dir(),
    );
    let settings = client(&["ls"], &environment).unwrap();
    assert_eq!(settings.server.as_str(), "https://cw.example.test/");
    let settings = client(&["ls", "--server", "http://10.0.0.2:7411"], &environment).unwrap();
    assert_eq!(settings.server.as_str(), "http://10.0.0.2:7411/");
}

#[test]
fn server_url_forms() {
    assert_eq!(
        parse_server_url("localhost:7411").unwrap().as_str(),
        "http://localhost:7411/"
    );
    for bad in ["ftp://host", "http://", "http://exa mple"] {
        let error = parse_server_url(bad).unwrap_err();
        assert_eq!(error.exit_status(), ExitStatus::Usage, "{bad}");
    }
}

#[test]
fn token_flag_over_environment_over_file() {
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::write(data_dir.path().join("admin-token"), "from-file\n").unwrap();
    let data_dir_text = data_dir.path().to_str().unwrap();

    let environment = Environment::new(
        [
            ("CATWALK_TOKEN", "from-env"),
            ("CATWALK_DATA_DIR", data_dir_text),
        ],
        default_dir(),
    );
    assert_eq!(
        client(&["ls", "--token", "from-flag"], &environment)
            .unwrap()
            .token,
        "from-flag"
    );
    assert_eq!(client(&["ls"], &environment).unwrap().token, "from-env");

    let environment = Environment::new([("CATWALK_DATA_DIR", data_dir_text)], default_dir());
    assert_eq!(client(&["ls"], &environment).unwrap().token, "from-file");

    // --data-dir beats CATWALK_DATA_DIR for finding the file too.
    let other_dir = tempfile::tempdir().unwrap();
    std::fs::write(other_dir.path().join("admin-token"), "other\n").unwrap();
    let flag_dir = other_dir.path().to_str().unwrap();
    assert_eq!(
        client(&["ls", "--data-dir", flag_dir], &environment)
            .unwrap()
            .token,
        "other"
    );
}

#[test]
fn missing_token_file_says_what_to_do() {
    let data_dir = tempfile::tempdir().unwrap();
    let environment = Environment::new(
        [("CATWALK_DATA_DIR", data_dir.path().to_str().unwrap())],
        default_dir(),
    );
    let error = client(&["ls"], &environment).unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Auth);
    assert!(error.to_string().contains("admin-token"), "{error}");
    assert!(error.hint().unwrap().contains("--token"));
    assert!(error.hint().unwrap().contains("catwalk login"));

    std::fs::write(data_dir.path().join("admin-token"), " \n").unwrap();
    let error = client(&["ls"], &environment).unwrap_err();
    assert!(error.to_string().contains("empty"), "{error}");
}

#[test]
fn deploy_env_file_then_flags() {
    let directory = tempfile::tempdir().unwrap();
    let env_file = directory.path().join("prod.env");
    std::fs::write(&env_file, "A=from-file\nB=file-only\n").unwrap();
    let environment = Environment::new([("SHELL_SECRET", "s3cret")], default_dir());
    let settings = deploy(
        &[
            "deploy",
            "npm:pkg",
            "--env-file",
            env_file.to_str().unwrap(),
            "-e",
            "A=from-flag",
            "--env",
            "C=x=y",
            "--env",
            "SHELL_SECRET",
            "--name",
            "mine",
            "--timeout",
            "5",
        ],
        &environment,
    )
    .unwrap();
    assert_eq!(settings.source, "npm:pkg");
    assert_eq!(settings.name.as_deref(), Some("mine"));
    assert_eq!(settings.env["A"], "from-flag");
    assert_eq!(settings.env["B"], "file-only");
    assert_eq!(settings.env["C"], "x=y");
    assert_eq!(settings.env["SHELL_SECRET"], "s3cret");
    assert_eq!(settings.env.len(), 4);
    assert!(settings.wait);
    assert_eq!(settings.timeout.as_secs(), 5);

    let settings = deploy(&["deploy", "npm:pkg", "--no-wait"], &environment).unwrap();
    assert!(!settings.wait);
    assert_eq!(settings.timeout.as_secs(), 600);
    assert!(settings.env.is_empty());
}

#[test]
fn deploy_input_errors_are_usage_errors() {
    let environment = Environment::new(Vec::<(String, String)>::new(), default_dir());
    let error = deploy(
        &[
            "deploy",
            "npm:pkg",
            "--env-file",
            "/nonexistent/catwalk.env",
        ],
        &environment,
    )
    .unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Usage);
    assert!(
        error.to_string().contains("/nonexistent/catwalk.env"),
        "{error}"
    );

    let error = deploy(&["deploy", "npm:pkg", "-e", "NOT_SET"], &environment).unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Usage);
    assert!(error.to_string().contains("NOT_SET"), "{error}");
}

#[test]
fn local_folders_become_absolute_and_other_sources_pass_unchanged() {
    let here = std::env::current_dir().unwrap();
    let relative = "src";
    assert_eq!(
        local_source(relative),
        here.join("src").canonicalize().unwrap().to_string_lossy()
    );
    for source in [
        "npm:@scope/pkg@1.0.0",
        "pypi:mcp-server-time",
        "https://example.test/r.git",
        "no/such/folder",
    ] {
        assert_eq!(local_source(source), source);
    }
}

#[test]
fn deploy_argument_values_collect_by_name() {
    let environment = Environment::new(Vec::<(String, String)>::new(), default_dir());
    let settings = deploy(
        &[
            "deploy",
            "npm:x",
            "--arg",
            "allowed-dir=/srv",
            "--arg",
            "allowed-dir=/tmp",
            "--arg",
            "read-only=true",
        ],
        &environment,
    )
    .unwrap();
    assert_eq!(settings.args["allowed-dir"], ["/srv", "/tmp"]);
    assert_eq!(settings.args["read-only"], ["true"]);
    let error = deploy(&["deploy", "npm:x", "--arg", "=oops"], &environment).unwrap_err();
    assert!(error.to_string().contains("NAME=VALUE"), "{error}");
}

#[test]
fn a_login_for_the_server_comes_before_the_admin_token_file() {
    let data_dir = tempfile::tempdir().unwrap();
    let config_dir = tempfile::tempdir().unwrap();
    std::fs::write(data_dir.path().join("admin-token"), "from-file\n").unwrap();
    let server = reqwest::Url::parse("http://127.0.0.1:7411").unwrap();
    let other = reqwest::Url::parse("http://127.0.0.1:9999").unwrap();
    crate::logins::set_token(config_dir.path(), &other, Some("elsewhere")).unwrap();
    let vars = [
        ("CATWALK_DATA_DIR", data_dir.path().to_str().unwrap()),
        ("CATWALK_CONFIG_DIR", config_dir.path().to_str().unwrap()),
    ];
    let environment = Environment::new(vars, default_dir());
    assert_eq!(client(&["ls"], &environment).unwrap().token, "from-file");
    crate::logins::set_token(config_dir.path(), &server, Some("logged-in")).unwrap();
    assert_eq!(client(&["ls"], &environment).unwrap().token, "logged-in");
    let with_flag = client(&["ls", "--token", "flag"], &environment).unwrap();
    assert_eq!(with_flag.token, "flag");
}
