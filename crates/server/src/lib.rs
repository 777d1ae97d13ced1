//! catwalk-server: the REST API, the dashboard, and the wiring of every part.
//!
//! `serve` opens the data directory, the vault and the store, brings every deployment back to
//! life, and serves three things on one address: the dashboard at `/`, the REST API under `/api`
//! (see docs/API.md), and each deployment's MCP endpoint under `/s/{name}/mcp` (the gateway).

mod api;
mod audit;
mod auth;
mod configs;
mod credentials;
mod dashboard;
mod deployments;
mod introspect;
mod isolation;
mod keys;
mod logs;
mod memory;
mod metrics;
mod oauth;
mod options;
mod per_session;
mod process;
mod resolver;
mod setup;
mod sso;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

pub use auth::ADMIN_TOKEN_FILE;
pub use catwalk_gateway::{DEFAULT_MAX_BODY_BYTES as DEFAULT_MAX_REQUEST_BYTES, RateLimits};
pub use setup::DATABASE_FILE;
pub use sso::{GITHUB_API_URL, GITHUB_URL, GitHubSso, NewUsers, OIDC_NAME, OidcSso, SsoConfig};

/// Resolved settings for `catwalk serve`.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `None`: SQLite at `<data_dir>/catwalk.db`.
    pub database_url: Option<String>,
    /// The base URL clients reach Catwalk at; `None`: `http://<listen>`.
    pub public_url: Option<String>,
    /// Installed packages and fetched sources; `None`: `<data_dir>/cache`.
    pub cache_dir: Option<PathBuf>,
    /// Interval of keep-alive comments on idle SSE streams.
    pub sse_keep_alive: std::time::Duration,
    /// How often each running server is pinged (a hung one is restarted) and checked for
    /// idleness (see the `sleep_after_secs` deployment option).
    pub health_interval: std::time::Duration,
    /// Run servers without a sandbox when bubblewrap is unusable (otherwise they do not start).
    pub allow_unsandboxed: bool,
    /// Requests per minute per token and per deployment on the MCP endpoints.
    pub rate_limits: RateLimits,
    /// The largest request body the MCP endpoints accept.
    pub max_request_bytes: usize,
    /// REST API requests per minute per API token (or browser session); `None`: no limit.
    pub api_rate_limit: Option<std::num::NonZeroU32>,
    /// Sign-in through GitHub and OpenID Connect providers.
    pub sso: SsoConfig,
    /// An LLM that helps analyses fill what the evidence leaves empty; `None`: evidence only.
    pub llm: Option<catwalk_analyze::assist::AssistConfig>,
}

#[cfg(test)]
impl Config {
    /// What the in-process tests of the API run with: a data directory of their own, the given
    /// public URL, and no sandbox needed (they start no server).
    pub(crate) fn for_tests(data_dir: PathBuf, public_url: &str) -> Config {
        Config {
            listen: "127.0.0.1:7411".parse().unwrap(),
            data_dir,
            database_url: None,
            public_url: Some(public_url.into()),
            cache_dir: None,
            sse_keep_alive: std::time::Duration::from_secs(15),
            health_interval: std::time::Duration::from_secs(30),
            allow_unsandboxed: true,
            rate_limits: Default::default(),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            api_rate_limit: None,
            sso: Default::default(),
            llm: None,
        }
    }
}

/// The REST API's default budget per API token: far above what the CLI and the dashboard need,
/// low enough that a leaked token cannot hammer the store.
pub const DEFAULT_API_RATE_LIMIT: u32 = 600;

/// Runs Catwalk until SIGINT or SIGTERM, then stops every server process it started.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let app = setup::App::open(&config, listener.local_addr()?).await?;
    let router = app.router();
    tracing::info!(
        "Catwalk is listening on {}; dashboard at {}/ (the admin token is in {})",
        listener.local_addr()?,
        app.public_url,
        config.data_dir.join(ADMIN_TOKEN_FILE).display()
    );
    let manager = Arc::clone(&app.deployments);
    manager.restore().await;
    // As a make-service, the router is made ready once and then shared by every connection;
    // given as a bare router, axum rebuilds its route table for each connection (some 30 kB,
    // held for as long as the connection lives: a client's GET stream keeps one for hours).
    axum::serve(listener, router.into_make_service())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the HTTP server failed")?;
    tracing::info!("stopping every deployment's server");
    manager.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("a SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
