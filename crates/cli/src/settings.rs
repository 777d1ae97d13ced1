//! Resolved settings: command-line flag over environment variable over default, in one place.
//!
//! The process environment is captured once into an [`Environment`], so resolution is a pure
//! function of (arguments, environment) and tests need not touch the real environment.

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;

use crate::args::{DeployArgs, EnvArgs, GlobalArgs, ServeArgs, ValueArgs};
use crate::client::ApiClient;
use crate::env_input;
use crate::error::CliError;

/// The environment variables `catwalk` reads, declared once.
pub mod vars {
    /// Base URL of the Catwalk server the client commands talk to.
    pub const CATWALK_URL: &str = "CATWALK_URL";
    /// API token for the client commands.
    pub const CATWALK_TOKEN: &str = "CATWALK_TOKEN";
    /// Where `catwalk login` keeps its tokens.
    pub const CATWALK_CONFIG_DIR: &str = "CATWALK_CONFIG_DIR";
    /// Data directory (server state; also where the client finds the admin token).
    pub const CATWALK_DATA_DIR: &str = "CATWALK_DATA_DIR";
    /// Address `catwalk serve` listens on.
    pub const CATWALK_LISTEN: &str = "CATWALK_LISTEN";
    /// Database URL for `catwalk serve`.
    pub const DATABASE_URL: &str = "DATABASE_URL";
    /// Public base URL for `catwalk serve`.
    pub const CATWALK_PUBLIC_URL: &str = "CATWALK_PUBLIC_URL";
    /// Package and source cache for `catwalk serve`.
    pub const CATWALK_CACHE_DIR: &str = "CATWALK_CACHE_DIR";
    /// Seconds between SSE keep-alive comments on idle streams.
    pub const CATWALK_SSE_KEEPALIVE: &str = "CATWALK_SSE_KEEPALIVE";
    pub const CATWALK_HEALTH_INTERVAL: &str = "CATWALK_HEALTH_INTERVAL";
    pub const CATWALK_ALLOW_UNSANDBOXED: &str = "CATWALK_ALLOW_UNSANDBOXED";
    /// Requests per minute per token and per deployment on the MCP endpoints (0: no limit).
    pub const CATWALK_RATE_LIMIT_PER_TOKEN: &str = "CATWALK_RATE_LIMIT_PER_TOKEN";
    pub const CATWALK_RATE_LIMIT_PER_DEPLOYMENT: &str = "CATWALK_RATE_LIMIT_PER_DEPLOYMENT";
    /// REST API requests per minute per API token or browser session (0: no limit).
    pub const CATWALK_RATE_LIMIT_API: &str = "CATWALK_RATE_LIMIT_API";
    /// The largest request body the MCP endpoints accept, in bytes.
    pub const CATWALK_MAX_REQUEST_BYTES: &str = "CATWALK_MAX_REQUEST_BYTES";
    /// Single sign-on through a GitHub OAuth app (the secret only from the environment).
    pub const CATWALK_GITHUB_CLIENT_ID: &str = "CATWALK_GITHUB_CLIENT_ID";
    pub const CATWALK_GITHUB_CLIENT_SECRET: &str = "CATWALK_GITHUB_CLIENT_SECRET";
    pub const CATWALK_GITHUB_URL: &str = "CATWALK_GITHUB_URL";
    pub const CATWALK_GITHUB_API_URL: &str = "CATWALK_GITHUB_API_URL";
    /// Single sign-on through an OpenID Connect provider (the secret only from the environment).
    pub const CATWALK_OIDC_ISSUER: &str = "CATWALK_OIDC_ISSUER";
    pub const CATWALK_OIDC_CLIENT_ID: &str = "CATWALK_OIDC_CLIENT_ID";
    pub const CATWALK_OIDC_CLIENT_SECRET: &str = "CATWALK_OIDC_CLIENT_SECRET";
    pub const CATWALK_OIDC_NAME: &str = "CATWALK_OIDC_NAME";
    /// `member` or `none`: whether an unknown account becomes a new user at sign-in.
    pub const CATWALK_SSO_NEW_USERS: &str = "CATWALK_SSO_NEW_USERS";
    /// The optional LLM that helps analyses (the key only from the environment).
    pub const CATWALK_LLM_PROVIDER: &str = catwalk_analyze::assist::ENV_PROVIDER;
    pub const CATWALK_LLM_BASE_URL: &str = catwalk_analyze::assist::ENV_BASE_URL;
    pub const CATWALK_LLM_MODEL: &str = catwalk_analyze::assist::ENV_MODEL;
    pub const CATWALK_LLM_API_KEY: &str = catwalk_analyze::assist::ENV_API_KEY;
}

pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:7411";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7411";

/// The environment settings are resolved against.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    vars: HashMap<String, String>,
    /// Where the data directory is when neither flag nor variable says: `<data_dir()>/catwalk`.
    default_data_dir: Option<PathBuf>,
    /// Where `catwalk login` keeps tokens when `CATWALK_CONFIG_DIR` does not say.
    default_config_dir: Option<PathBuf>,
}

impl Environment {
    pub fn from_process() -> Environment {
        // Variables whose name or value is not UTF-8 cannot be any of ours, nor a usable env
        // value for a deployment, so they are left out.
        let vars = std::env::vars_os()
            .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        Environment {
            vars,
            default_data_dir: dirs::data_dir().map(|dir| dir.join("catwalk")),
            default_config_dir: dirs::config_dir().map(|dir| dir.join("catwalk")),
        }
    }

    pub fn new<K, V>(
        vars: impl IntoIterator<Item = (K, V)>,
        default_data_dir: Option<PathBuf>,
    ) -> Environment
    where
        K: Into<String>,
        V: Into<String>,
    {
        Environment {
            vars: vars
                .into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
            default_data_dir,
            default_config_dir: None,
        }
    }

    /// Where `catwalk login` keeps its tokens: `CATWALK_CONFIG_DIR`, else
    /// `$XDG_CONFIG_HOME/catwalk` (`~/.config/catwalk`).
    pub fn config_dir(&self) -> Option<PathBuf> {
        self.var(vars::CATWALK_CONFIG_DIR)
            .map(PathBuf::from)
            .or_else(|| self.default_config_dir.clone())
    }

    /// The variable's value; set-but-empty counts as unset, as most tools treat it.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// The variable exactly as set, empty included: for `--env KEY`, where empty is a value.
    pub fn shell_var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The data directory: `--data-dir`, then `CATWALK_DATA_DIR`, then the platform default.
    pub fn data_dir(&self, flag: Option<&Path>) -> Option<PathBuf> {
        flag.map(Path::to_path_buf)
            .or_else(|| self.var(vars::CATWALK_DATA_DIR).map(PathBuf::from))
            .or_else(|| self.default_data_dir.clone())
    }
}

/// Flag over environment variable, as an owned string.
fn flag_or_var(flag: Option<&str>, environment: &Environment, var: &str) -> Option<String> {
    flag.filter(|value| !value.is_empty())
        .or_else(|| environment.var(var))
        .map(str::to_owned)
}

/// Settings shared by every command that talks to a server.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    pub server: Url,
    pub token: String,
}

impl ClientSettings {
    pub fn resolve(global: &GlobalArgs, environment: &Environment) -> Result<Self, CliError> {
        let server = server_url(global, environment)?;
        // Flag, variable, `catwalk login`'s token for this server, then the admin-token file
        // of a Catwalk on this machine.
        let mut token = flag_or_var(global.token.as_deref(), environment, vars::CATWALK_TOKEN);
        if token.is_none()
            && let Some(config_dir) = environment.config_dir()
        {
            token = crate::logins::token_for(&config_dir, &server)?;
        }
        let token = match token {
            Some(token) => token,
            None => {
                let data_dir = environment
                    .data_dir(global.data_dir.as_deref())
                    .ok_or_else(|| {
                        CliError::MissingToken(
                            "no API token given, and no data directory to read the admin's \
                             from (no home directory)"
                                .to_owned(),
                        )
                    })?;
                read_admin_token(&data_dir)?
            }
        };
        Ok(ClientSettings { server, token })
    }

    /// A client without a token, for signing in.
    pub fn anonymous(
        global: &GlobalArgs,
        environment: &Environment,
    ) -> Result<ApiClient, CliError> {
        Ok(ApiClient::new(
            server_url(global, environment)?,
            String::new(),
        )?)
    }

    pub fn client(&self) -> Result<ApiClient, CliError> {
        Ok(ApiClient::new(self.server.clone(), self.token.clone())?)
    }
}

/// The server the client commands talk to: `--server`, `CATWALK_URL`, or the default.
fn server_url(global: &GlobalArgs, environment: &Environment) -> Result<Url, CliError> {
    let text = flag_or_var(global.server.as_deref(), environment, vars::CATWALK_URL)
        .unwrap_or_else(|| DEFAULT_SERVER_URL.to_owned());
    parse_server_url(&text)
}

/// Accepts `http(s)://host[:port][/prefix]`, and a bare `host:port` as shorthand for http.
pub fn parse_server_url(text: &str) -> Result<Url, CliError> {
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}")
    };
    let url = Url::parse(&with_scheme).map_err(|error| {
        CliError::Usage(format!(
            "invalid server URL {text:?} ({error}); expected e.g. {DEFAULT_SERVER_URL}"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(CliError::Usage(format!(
            "invalid server URL {text:?}: it must be http:// or https:// with a host, e.g. \
             {DEFAULT_SERVER_URL}"
        )));
    }
    Ok(url)
}

/// Reads `<data_dir>/admin-token`, which `catwalk serve` writes on first start.
pub fn read_admin_token(data_dir: &Path) -> Result<String, CliError> {
    let path = data_dir.join(catwalk_server::ADMIN_TOKEN_FILE);
    let contents = match std::fs::read_to_string(&path) {
        Ok(contents) => contents,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(CliError::MissingToken(format!(
                "no admin token: {} does not exist",
                path.display()
            )));
        }
        Err(error) => {
            return Err(CliError::MissingToken(format!(
                "cannot read the admin token from {}: {error}",
                path.display()
            )));
        }
    };
    let token = contents.trim();
    if token.is_empty() {
        return Err(CliError::MissingToken(format!(
            "the admin token file {} is empty",
            path.display()
        )));
    }
    Ok(token.to_owned())
}

/// Settings for `catwalk serve`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub cache_dir: Option<PathBuf>,
    pub sse_keep_alive: std::time::Duration,
    pub health_interval: std::time::Duration,
    pub allow_unsandboxed: bool,
    pub rate_limits: catwalk_server::RateLimits,
    pub max_request_bytes: usize,
    pub api_rate_limit: Option<NonZeroU32>,
    pub sso: catwalk_server::SsoConfig,
    pub llm: Option<catwalk_analyze::assist::AssistConfig>,
}

/// Seconds between SSE keep-alive comments when neither flag nor variable says.
pub const DEFAULT_SSE_KEEPALIVE_SECS: u64 = 15;
/// Seconds between health checks when neither flag nor variable says.
pub const DEFAULT_HEALTH_INTERVAL_SECS: u64 = 30;

impl ServeSettings {
    pub fn resolve(
        global: &GlobalArgs,
        args: &ServeArgs,
        environment: &Environment,
    ) -> Result<Self, CliError> {
        let defaults = catwalk_server::RateLimits::default();
        let listen_text = flag_or_var(args.listen.as_deref(), environment, vars::CATWALK_LISTEN)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = parse_listen(&listen_text)?;
        let data_dir = environment
            .data_dir(global.data_dir.as_deref())
            .ok_or_else(|| {
                CliError::Usage(
                    "cannot find a default data directory (no home directory); pass --data-dir \
                     or set CATWALK_DATA_DIR"
                        .to_owned(),
                )
            })?;
        Ok(ServeSettings {
            listen,
            data_dir,
            database_url: flag_or_var(args.database.as_deref(), environment, vars::DATABASE_URL),
            public_url: flag_or_var(
                args.public_url.as_deref(),
                environment,
                vars::CATWALK_PUBLIC_URL,
            ),
            cache_dir: args
                .cache_dir
                .clone()
                .or_else(|| environment.var(vars::CATWALK_CACHE_DIR).map(PathBuf::from)),
            sse_keep_alive: seconds(
                args.sse_keepalive,
                environment,
                vars::CATWALK_SSE_KEEPALIVE,
                DEFAULT_SSE_KEEPALIVE_SECS,
                "the SSE keep-alive interval",
            )?,
            health_interval: seconds(
                args.health_interval,
                environment,
                vars::CATWALK_HEALTH_INTERVAL,
                DEFAULT_HEALTH_INTERVAL_SECS,
                "the health check interval",
            )?,
            allow_unsandboxed: args.allow_unsandboxed
                || environment
                    .var(vars::CATWALK_ALLOW_UNSANDBOXED)
                    .is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes")),
            rate_limits: catwalk_server::RateLimits {
                per_token: NonZeroU32::new(number(
                    args.rate_limit_per_token,
                    environment,
                    vars::CATWALK_RATE_LIMIT_PER_TOKEN,
                    defaults.per_token.map_or(0, NonZeroU32::get),
                    "a number of requests per minute (0 for no limit)",
                )?),
                per_deployment: NonZeroU32::new(number(
                    args.rate_limit_per_deployment,
                    environment,
                    vars::CATWALK_RATE_LIMIT_PER_DEPLOYMENT,
                    defaults.per_deployment.map_or(0, NonZeroU32::get),
                    "a number of requests per minute (0 for no limit)",
                )?),
            },
            max_request_bytes: match number(
                args.max_request_bytes,
                environment,
                vars::CATWALK_MAX_REQUEST_BYTES,
                catwalk_server::DEFAULT_MAX_REQUEST_BYTES,
                "a number of bytes",
            )? {
                0 => {
                    return Err(CliError::Usage(
                        "the request size limit must be at least 1 byte".to_owned(),
                    ));
                }
                bytes => bytes,
            },
            api_rate_limit: NonZeroU32::new(number(
                args.rate_limit_api,
                environment,
                vars::CATWALK_RATE_LIMIT_API,
                catwalk_server::DEFAULT_API_RATE_LIMIT,
                "a number of requests per minute (0 for no limit)",
            )?),
            sso: sso::resolve(&args.sso, environment)?,
            llm: catwalk_analyze::assist::AssistConfig::from_parts(
                flag_or_var(
                    args.llm_provider.as_deref(),
                    environment,
                    vars::CATWALK_LLM_PROVIDER,
                )
                .as_deref(),
                flag_or_var(
                    args.llm_base_url.as_deref(),
                    environment,
                    vars::CATWALK_LLM_BASE_URL,
                )
                .as_deref(),
                flag_or_var(
                    args.llm_model.as_deref(),
                    environment,
                    vars::CATWALK_LLM_MODEL,
                )
                .as_deref(),
                environment.var(vars::CATWALK_LLM_API_KEY),
            )
            .map_err(|e| CliError::Usage(e.to_string()))?,
        })
    }

    pub fn into_config(self) -> catwalk_server::Config {
        catwalk_server::Config {
            listen: self.listen,
            data_dir: self.data_dir,
            database_url: self.database_url,
            public_url: self.public_url,
            cache_dir: self.cache_dir,
            sse_keep_alive: self.sse_keep_alive,
            health_interval: self.health_interval,
            allow_unsandboxed: self.allow_unsandboxed,
            rate_limits: self.rate_limits,
            max_request_bytes: self.max_request_bytes,
            api_rate_limit: self.api_rate_limit,
            sso: self.sso,
            llm: self.llm,
        }
    }
}

/// A number from a flag, else a variable, else the default.
fn number<T: std::str::FromStr>(
    flag: Option<T>,
    environment: &Environment,
    var: &str,
    default: T,
    what: &str,
) -> Result<T, CliError> {
    match (flag, environment.var(var)) {
        (Some(value), _) => Ok(value),
        (None, Some(text)) => text
            .trim()
            .parse()
            .map_err(|_| CliError::Usage(format!("{var} must be {what}, not {text:?}"))),
        (None, None) => Ok(default),
    }
}

/// A positive number of seconds from a flag, else a variable, else the default.
fn seconds(
    flag: Option<u64>,
    environment: &Environment,
    var: &str,
    default: u64,
    what: &str,
) -> Result<std::time::Duration, CliError> {
    let secs = number(flag, environment, var, default, "a whole number of seconds")?;
    if secs == 0 {
        return Err(CliError::Usage(format!("{what} must be at least 1 second")));
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// Accepts `IP:PORT`, or `HOST:PORT` resolved once at start (e.g. `localhost:7411`).
pub fn parse_listen(text: &str) -> Result<SocketAddr, CliError> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    let invalid = |why: String| {
        CliError::Usage(format!(
            "invalid listen address {text:?} ({why}); expected IP:PORT such as {DEFAULT_LISTEN} \
             or 0.0.0.0:7411"
        ))
    };
    let mut addresses = text
        .to_socket_addrs()
        .map_err(|error| invalid(error.to_string()))?;
    addresses
        .next()
        .ok_or_else(|| invalid("the host name has no address".to_owned()))
}

/// Settings for `catwalk deploy`.
#[derive(Clone, Debug)]
pub struct DeploySettings {
    pub source: String,
    pub name: Option<String>,
    pub env: BTreeMap<String, String>,
    pub args: BTreeMap<String, Vec<String>>,
    pub public: bool,
    pub call_timeout: Option<u64>,
    pub process_per_session: bool,
    pub sleep_after: Option<u64>,
    pub network: bool,
    pub audit_arguments: bool,
    pub limits: serde_json::Value,
    pub wait: bool,
    pub timeout: Duration,
}

impl DeploySettings {
    pub fn resolve(args: &DeployArgs, environment: &Environment) -> Result<Self, CliError> {
        let Values { env, args: values } = read_values(&args.values, environment)?;
        Ok(DeploySettings {
            source: local_source(&args.source),
            name: args.name.clone().filter(|name| !name.is_empty()),
            env,
            args: values,
            public: args.public,
            call_timeout: args.call_timeout,
            process_per_session: args.process_per_session,
            sleep_after: args.sleep_after,
            network: !args.no_network,
            audit_arguments: args.audit_arguments,
            limits: serde_json::json!({
                "memory_mib": args.memory,
                "processes": args.max_processes,
                "open_files": args.max_open_files,
                "cpu_millicores": args.cpu,
            }),
            wait: !args.no_wait,
            timeout: Duration::from_secs(args.timeout),
        })
    }
}

/// What `--env-file`, `--env` and `--arg` give: environment variables, and argument field
/// values by field name.
struct Values {
    env: BTreeMap<String, String>,
    args: BTreeMap<String, Vec<String>>,
}

fn read_values(args: &ValueArgs, environment: &Environment) -> Result<Values, CliError> {
    let mut env = match &args.env_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|error| {
                CliError::Usage(format!(
                    "cannot read the env file {}: {error}",
                    path.display()
                ))
            })?;
            env_input::parse_env_file(&text)
                .map_err(|error| CliError::Usage(format!("env file {}: {error}", path.display())))?
        }
        None => BTreeMap::new(),
    };
    for arg in &args.env {
        let (key, value) =
            env_input::parse_env_arg(arg, |key| environment.shell_var(key).map(str::to_owned))
                .map_err(|error| CliError::Usage(error.to_string()))?;
        env.insert(key, value);
    }
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for arg in &args.args {
        let Some((name, value)) = arg.split_once('=').filter(|(name, _)| !name.is_empty()) else {
            return Err(CliError::Usage(format!(
                "--arg {arg:?} is not NAME=VALUE (the names are the fields `catwalk analyze` lists)"
            )));
        };
        values
            .entry(name.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    Ok(Values { env, args: values })
}

/// Settings for `catwalk env`: the change to send.
#[derive(Clone, Debug)]
pub struct EnvSettings {
    pub name: String,
    pub change: serde_json::Value,
    pub timeout: Duration,
}

impl EnvSettings {
    pub fn resolve(args: &EnvArgs, environment: &Environment) -> Result<Self, CliError> {
        let Values { env, args: values } = read_values(&args.values, environment)?;
        let mut env: serde_json::Map<String, serde_json::Value> =
            env.into_iter().map(|(k, v)| (k, v.into())).collect();
        let mut arg_values: serde_json::Map<String, serde_json::Value> = values
            .into_iter()
            .map(|(k, v)| (k, serde_json::json!(v)))
            .collect();
        for key in &args.unset {
            if env.insert(key.clone(), serde_json::Value::Null).is_some() {
                return Err(CliError::Usage(format!("{key} is both set and --unset")));
            }
        }
        for name in &args.unset_arg {
            if arg_values
                .insert(name.clone(), serde_json::Value::Null)
                .is_some()
            {
                return Err(CliError::Usage(format!(
                    "argument {name} is both given and --unset-arg"
                )));
            }
        }
        if env.is_empty() && arg_values.is_empty() && !args.replace {
            return Err(CliError::Usage(
                "nothing to change: give KEY=VALUE with -e, --env-file, --arg, --unset or \
                 --unset-arg"
                    .to_owned(),
            ));
        }
        Ok(EnvSettings {
            name: args.name.clone(),
            change: serde_json::json!({
                "env": env,
                "args": arg_values,
                "replace": args.replace,
            }),
            timeout: Duration::from_secs(args.timeout),
        })
    }
}

mod sso;
#[cfg(test)]
mod tests;

/// A source naming a folder on this machine, made absolute: the server resolves paths from its
/// own working directory, not the shell's. Other sources (npm:, pypi:, URLs) pass unchanged.
pub fn local_source(source: &str) -> String {
    let has_scheme = [
        "npm:", "pypi:", "file:", "http://", "https://", "git@", "ssh://", "git://",
    ]
    .iter()
    .any(|prefix| source.starts_with(prefix));
    if has_scheme {
        return source.to_owned();
    }
    match std::fs::canonicalize(source) {
        Ok(path) if path.is_dir() => path.to_string_lossy().into_owned(),
        _ => source.to_owned(),
    }
}
