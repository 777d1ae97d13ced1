//! The command line as clap sees it: raw, unvalidated, with no defaults applied.
//!
//! Environment variables and defaults are merged later, in [`crate::settings`], so that the
//! merge rule (flag over environment over default) lives in one testable place. The help text
//! names the variables; their names are declared once, in [`crate::settings::vars`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Catwalk turns any MCP server (npm or PyPI package, local folder, git URL) into a remote MCP
/// endpoint.
///
/// Start the server with `catwalk serve`, then deploy with `catwalk deploy SOURCE`, or open the
/// dashboard at the server's address.
#[derive(Debug, Parser)]
#[command(name = "catwalk", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts (before or after the command name).
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Catwalk server to talk to [env: CATWALK_URL] [default: http://127.0.0.1:7411]
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help_heading = "Global options"
    )]
    pub server: Option<String>,

    /// API token [env: CATWALK_TOKEN] [default: the one `catwalk login` stored for the server,
    /// else <data-dir>/admin-token]
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        help_heading = "Global options"
    )]
    pub token: Option<String>,

    /// Catwalk's data directory [env: CATWALK_DATA_DIR] [default: $XDG_DATA_HOME/catwalk or
    /// ~/.local/share/catwalk]
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        help_heading = "Global options"
    )]
    pub data_dir: Option<PathBuf>,

    /// Print the API's JSON to stdout instead of text (progress still goes to stderr)
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Catwalk server: REST API, dashboard and MCP endpoints
    Serve(ServeArgs),
    /// Show what Catwalk finds in a source: runtime, launch command, env vars
    Analyze(AnalyzeArgs),
    /// Deploy a source and wait until it runs
    Deploy(DeployArgs),
    /// List deployments
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Print a deployment's server log (its stderr)
    Logs(LogsArgs),
    /// Stop and remove a deployment
    #[command(visible_alias = "remove")]
    Rm(NameArgs),
    /// Stop a deployment's server and keep it stopped (also when Catwalk restarts)
    Stop(NameArgs),
    /// Start a stopped deployment again
    Start(NameArgs),
    /// Set or remove a deployment's environment variables and argument values; its server
    /// restarts with them
    Env(EnvArgs),
    /// Manage a deployment's access token
    Token(TokenArgs),
    /// Manage the vault that encrypts every stored secret
    Vault(VaultArgs),
    /// Show the audit trail: tool calls of your deployments and changes you made
    Audit(AuditArgs),
    /// Sign in with a username and password; stores an API token for the other commands
    Login(LoginArgs),
    /// Revoke the token `catwalk login` stored, and forget it
    Logout,
    /// Show who the CLI acts as
    Whoami,
    /// Set your password
    Passwd(PasswordArgs),
    /// Manage users (admins only)
    User(UserArgs),
    /// Manage your API tokens (for scripts and other machines)
    ApiToken(ApiTokenArgs),
    /// Choose who may use a deployment's endpoint: `public` (anyone with the URL) or `token`
    /// (only with its access token, the default)
    Access(AccessArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [env: CATWALK_LISTEN] [default: 127.0.0.1:7411]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Database URL, sqlite:// or postgres:// [env: DATABASE_URL] [default: SQLite in the data
    /// directory]
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,

    /// Base URL clients reach Catwalk at, used in endpoint URLs [env: CATWALK_PUBLIC_URL]
    /// [default: http://<listen address>]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,

    /// Where installed packages and fetched sources are kept (may be shared between instances)
    /// [env: CATWALK_CACHE_DIR] [default: <data-dir>/cache]
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Seconds between keep-alive comments on idle SSE streams, so proxies do not cut them
    /// [env: CATWALK_SSE_KEEPALIVE] [default: 15]
    #[arg(long, value_name = "SECS")]
    pub sse_keepalive: Option<u64>,

    /// Seconds between health checks of each running server (an MCP ping; a server that does
    /// not answer within 10 s is restarted), which also decide when idle deployments sleep
    /// [env: CATWALK_HEALTH_INTERVAL] [default: 30]
    #[arg(long, value_name = "SECS")]
    pub health_interval: Option<u64>,

    /// Run servers as plain processes when bubblewrap is missing or unusable (without it, they
    /// do not start) [env: CATWALK_ALLOW_UNSANDBOXED=1]
    #[arg(long)]
    pub allow_unsandboxed: bool,

    /// Requests per minute each token may send to a deployment's MCP endpoint, in bursts of up
    /// to as many (429 with Retry-After beyond); 0 for no limit
    /// [env: CATWALK_RATE_LIMIT_PER_TOKEN] [default: 1200]
    #[arg(long, value_name = "N")]
    pub rate_limit_per_token: Option<u32>,

    /// Requests per minute a deployment's MCP endpoint takes from everyone together; 0 for no
    /// limit [env: CATWALK_RATE_LIMIT_PER_DEPLOYMENT] [default: 6000]
    #[arg(long, value_name = "N")]
    pub rate_limit_per_deployment: Option<u32>,

    /// The largest request body an MCP endpoint accepts, in bytes (413 beyond)
    /// [env: CATWALK_MAX_REQUEST_BYTES] [default: 4194304]
    #[arg(long, value_name = "BYTES")]
    pub max_request_bytes: Option<usize>,

    /// REST API requests per minute each API token (or browser session) may send (429 with
    /// Retry-After beyond); 0 for no limit [env: CATWALK_RATE_LIMIT_API] [default: 600]
    #[arg(long, value_name = "N")]
    pub rate_limit_api: Option<u32>,

    /// An LLM that helps the analyzer fill what the evidence leaves empty (descriptions,
    /// defaults), never required: openai (any OpenAI-compatible API) or anthropic; its key is
    /// read from CATWALK_LLM_API_KEY only [env: CATWALK_LLM_PROVIDER] [default: none]
    #[arg(long, value_name = "PROVIDER")]
    pub llm_provider: Option<String>,

    /// The LLM API's base URL [env: CATWALK_LLM_BASE_URL] [default: the provider's]
    #[arg(long, value_name = "URL")]
    pub llm_base_url: Option<String>,

    /// The LLM model [env: CATWALK_LLM_MODEL]
    #[arg(long, value_name = "MODEL")]
    pub llm_model: Option<String>,

    #[command(flatten)]
    pub sso: SsoArgs,
}

/// Single sign-on (the client secrets come only from the environment:
/// CATWALK_GITHUB_CLIENT_SECRET, CATWALK_OIDC_CLIENT_SECRET).
#[derive(Debug, Args)]
pub struct SsoArgs {
    /// Client id of a GitHub OAuth app whose callback URL is <public-url>/auth/github/callback;
    /// enables "Sign in with GitHub" [env: CATWALK_GITHUB_CLIENT_ID]
    #[arg(long, value_name = "ID")]
    pub github_client_id: Option<String>,

    /// GitHub's web address; a GitHub Enterprise server's base URL
    /// [env: CATWALK_GITHUB_URL] [default: https://github.com]
    #[arg(long, value_name = "URL")]
    pub github_url: Option<String>,

    /// GitHub's REST API; `<server>/api/v3` for GitHub Enterprise
    /// [env: CATWALK_GITHUB_API_URL] [default: https://api.github.com]
    #[arg(long, value_name = "URL")]
    pub github_api_url: Option<String>,

    /// Issuer URL of an OpenID Connect provider (found by discovery); enables its sign-in
    /// button, with the callback URL <public-url>/auth/oidc/callback [env: CATWALK_OIDC_ISSUER]
    #[arg(long, value_name = "URL")]
    pub oidc_issuer: Option<String>,

    /// Client id registered at the OpenID Connect provider [env: CATWALK_OIDC_CLIENT_ID]
    #[arg(long, value_name = "ID")]
    pub oidc_client_id: Option<String>,

    /// The provider's name on the dashboard's button, "Sign in with NAME"
    /// [env: CATWALK_OIDC_NAME] [default: OpenID Connect]
    #[arg(long, value_name = "NAME")]
    pub oidc_name: Option<String>,

    /// What an account no user is linked to gets at sign-in: `member` (a new user) or `none`
    /// (refused; users link accounts while signed in) [env: CATWALK_SSO_NEW_USERS]
    /// [default: member]
    #[arg(long, value_name = "POLICY")]
    pub sso_new_users: Option<String>,
}

/// A source is `npm:PACKAGE[@VERSION]`, `pypi:PACKAGE[==VERSION]`, a local folder or a git URL.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// What to analyze: npm:PKG, pypi:PKG, a local folder or a git URL
    pub source: String,

    /// Do not install and start the server to list its tools, prompts and resources (by
    /// default it is started once in the sandbox, with placeholder values for what it needs)
    #[arg(long)]
    pub no_introspect: bool,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// What to deploy: npm:PKG, pypi:PKG, a local folder or a git URL
    pub source: String,

    /// Deployment name [default: the name Catwalk suggests from the source]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    #[command(flatten)]
    pub values: ValueArgs,

    /// Let anyone with the URL use the endpoint, without a token (off by default; see `catwalk
    /// access`)
    #[arg(long)]
    pub public: bool,

    /// Cancel a tool call that gets neither an answer nor progress for this many seconds
    /// [default: no limit]
    #[arg(long, value_name = "SECS")]
    pub call_timeout: Option<u64>,

    /// Give each client session a server process of its own (isolated state, more memory)
    /// instead of one process shared by all sessions
    #[arg(long)]
    pub process_per_session: bool,

    /// Stop the server process after this many seconds without a request (the deployment
    /// sleeps, costing no memory); the next request wakes it [default: never]
    #[arg(long, value_name = "SECS")]
    pub sleep_after: Option<u64>,

    /// Cut the server off the network entirely (for servers that need none)
    #[arg(long)]
    pub no_network: bool,

    /// Record the arguments of tool calls in the audit trail (off by default: they may hold
    /// personal data); `catwalk audit NAME --record-arguments off` turns it off again
    #[arg(long)]
    pub audit_arguments: bool,

    /// Memory limit in MiB; a server that exceeds it is stopped and reported as such
    #[arg(long, value_name = "MIB")]
    pub memory: Option<u64>,

    /// Limit on the server's processes and threads together
    #[arg(long, value_name = "N")]
    pub max_processes: Option<u32>,

    /// Limit on each server process's open files
    #[arg(long, value_name = "N")]
    pub max_open_files: Option<u64>,

    /// CPU limit in thousandths of a core (500 = half a core); the server is throttled
    #[arg(long, value_name = "MILLICORES")]
    pub cpu: Option<u32>,

    /// Return right after the deployment is created, without waiting for it to run
    #[arg(long)]
    pub no_wait: bool,

    /// Seconds to wait for the deployment to run before giving up (it keeps going on the server)
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub timeout: u64,
}

/// The values a user gives a server: `deploy` takes them, `env` changes them.
#[derive(Debug, Args)]
pub struct ValueArgs {
    /// Environment variable for the server, KEY=VALUE; a bare KEY takes the value from this
    /// shell's environment (keeps secrets out of shell history). Repeatable
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Value of one of the server's command-line argument fields (`catwalk analyze` lists
    /// them), NAME=VALUE; repeat a NAME for a field that takes several values
    #[arg(long = "arg", value_name = "NAME=VALUE")]
    pub args: Vec<String>,

    /// File of KEY=VALUE lines (# comments, blank lines, `export` and quotes allowed); --env
    /// wins over it
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Deployment name
    pub name: String,

    #[command(flatten)]
    pub values: ValueArgs,

    /// Remove this environment variable. Repeatable
    #[arg(long, value_name = "KEY")]
    pub unset: Vec<String>,

    /// Remove this argument field's value. Repeatable
    #[arg(long, value_name = "NAME")]
    pub unset_arg: Vec<String>,

    /// Start from nothing: the deployment keeps only the values given here
    #[arg(long)]
    pub replace: bool,

    /// Seconds to wait for the server to run again before giving up (it keeps going)
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct VaultArgs {
    #[command(subcommand)]
    pub action: VaultCommand,
}

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Re-encrypt every stored secret under a new key, while every deployment keeps running;
    /// the old key is dropped at the end
    Rotate,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Deployment name
    pub name: String,

    /// Keep printing new lines until Ctrl-C
    #[arg(short, long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only deployments with this status (running, sleeping, stopped, failed, ...)
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,

    /// Deployments per request: `ls` asks for page after page until it has them all
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    pub page_size: u32,
}

/// Names one deployment.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// Deployment name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub action: TokenCommand,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Replace an access token with a new one; the old one stops working at once
    Rotate {
        /// Deployment name
        name: String,
        /// Which of its tokens
        #[arg(
            long = "token-name",
            default_value = "default",
            value_name = "TOKEN_NAME"
        )]
        token_name: String,
    },
    /// Give a deployment one more access token, e.g. one per client or person
    New {
        /// Deployment name
        name: String,
        /// A name for the token (letters, digits, '-', '_', '.')
        #[arg(value_name = "TOKEN_NAME")]
        token_name: String,
    },
    /// List a deployment's access tokens (their names and ids, never the tokens)
    Ls {
        /// Deployment name
        name: String,
    },
    /// Revoke one of a deployment's access tokens; its clients' sessions end
    Revoke {
        /// Deployment name
        name: String,
        /// The token's id (from `catwalk token ls`)
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Deployment name
    pub name: String,

    /// `public`: anyone with the URL, no token; `token`: only with the access token
    pub mode: AccessMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AccessMode {
    Public,
    Token,
}

/// Where a password comes from: a prompt on the terminal, or the first line of stdin.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the password from the first line of stdin instead of prompting
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username (prompted for when missing)
    #[arg(long, short)]
    pub username: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub action: UserCommand,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List users
    Ls,
    /// Add a user (a member unless --admin); with --password-stdin, also their password
    Add {
        username: String,
        #[arg(long)]
        admin: bool,
        /// Read the new user's password from stdin (without it, they have none yet)
        #[arg(long)]
        password_stdin: bool,
    },
    /// Make a user an admin or a member
    Role {
        username: String,
        #[arg(value_parser = ["admin", "member"])]
        role: String,
    },
    /// Remove a user (once they own no deployment)
    Rm { username: String },
}

#[derive(Debug, Args)]
pub struct ApiTokenArgs {
    #[command(subcommand)]
    pub action: ApiTokenCommand,
}

#[derive(Debug, Subcommand)]
pub enum ApiTokenCommand {
    /// List your API tokens
    Ls,
    /// Make a new API token (printed once)
    New {
        /// What the token is for, e.g. the machine or script using it
        name: String,
        /// Allow only reading (GET requests)
        #[arg(long)]
        read_only: bool,
        /// Days until the token stops working [default: never]
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
    },
    /// Revoke an API token by its id (from `catwalk api-token ls`)
    Revoke { id: String },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this deployment's rows
    pub name: Option<String>,
    /// The instance's trail: admin actions on users and the vault (admins only)
    #[arg(long, conflicts_with = "name")]
    pub instance: bool,
    /// Rows after this id (to page on)
    #[arg(long, default_value_t = 0, value_name = "ID")]
    pub after: i64,
    /// Rows at most
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub limit: u32,
    /// Turn the recording of tool call arguments for the deployment on or off (needs NAME)
    #[arg(long, value_name = "on|off", requires = "name", value_parser = ["on", "off"])]
    pub record_arguments: Option<String>,
}
