//! Opening the data directory, vault, store and first admin, and building the router.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use catwalk_gateway::{Budget, Gateway, GatewayConfig, Guard};
use catwalk_store::Store;
use catwalk_vault::Vault;

use crate::Config;
use crate::deployments::Deployments;
use crate::isolation::Isolation;

/// Held (an exclusive lock) by the Catwalk serving a data directory: a second one would start
/// every server a second time.
pub const LOCK_FILE: &str = "catwalk.lock";
/// The SQLite database in the data directory, when no database URL is given.
pub const DATABASE_FILE: &str = "catwalk.db";

/// Everything a request handler may need.
pub struct App {
    pub store: Store,
    pub deployments: Arc<Deployments>,
    pub gateway: Arc<Gateway>,
    pub public_url: String,
    guard: Arc<Guard>,
    /// Cookies get `Secure` when clients reach Catwalk over HTTPS.
    pub secure_cookies: bool,
    /// Sign-in attempts per username.
    pub sign_in_budget: Budget,
    /// REST API requests per API token (or browser session); `None`: no limit.
    pub api_budget: Option<Budget>,
    /// The OAuth authorization server for MCP clients (`oauth/`).
    pub oauth: crate::oauth::OAuth,
    /// Single sign-on providers (`/auth/{provider}/…`).
    pub sign_in: crate::sso::SignIn,
    /// Locked for as long as this Catwalk runs.
    _lock: std::fs::File,
}

impl App {
    pub async fn open(config: &Config, bound: SocketAddr) -> anyhow::Result<Arc<App>> {
        let data_dir = &config.data_dir;
        create_private_dir(data_dir)?;
        let lock = lock_data_dir(data_dir)?;
        let vault_key = std::env::var(catwalk_vault::KEY_ENV).ok();
        let vault = Vault::load_or_create(data_dir, vault_key.as_deref())
            .context("cannot open the vault")?;
        let database_url = match &config.database_url {
            Some(url) => url.clone(),
            None => Store::sqlite_url(&data_dir.join(DATABASE_FILE)),
        };
        let store = Store::connect(&database_url)
            .await
            .context("cannot open the database")?;
        crate::auth::ensure_admin(&store, data_dir).await?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_string();

        let cache_dir = config
            .cache_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("cache"));
        let deployments = Deployments::new(
            store.clone(),
            vault,
            data_dir,
            &cache_dir,
            public_url.clone(),
            config.health_interval,
            Arc::new(Isolation::detect(data_dir, config.allow_unsandboxed)),
        );
        if let Some(llm) = &config.llm {
            deployments.set_assist(llm.clone());
        }
        let guard = Arc::new(guard(&public_url, bound));
        let gateway = Gateway::new(
            deployments.clone(),
            GatewayConfig {
                guard: guard.clone(),
                keep_alive: config.sse_keep_alive,
                rate_limits: config.rate_limits,
                max_body_bytes: config.max_request_bytes,
                oauth_base_url: Some(public_url.clone()),
                ..GatewayConfig::default()
            },
        );
        gateway.spawn_session_sweeper();
        // A burst of 10 guesses per username, then one every 6 seconds: with argon2id on top,
        // guessing a 12-character password online is hopeless.
        let sign_in_budget = Budget::per_minute(NonZeroU32::new(10).expect("10 is not zero"));
        let api_budget = config.api_rate_limit.map(Budget::per_minute);
        crate::oauth::spawn_purge(store.clone());
        deployments.attach_gateway(&gateway);
        let sign_in = crate::sso::SignIn::new(&config.sso, &public_url)
            .context("invalid single sign-on settings")?;
        let app = Arc::new(App {
            store,
            deployments,
            gateway,
            guard,
            secure_cookies: public_url.starts_with("https://"),
            sign_in_budget,
            api_budget,
            oauth: crate::oauth::OAuth::from_env(),
            sign_in,
            public_url,
            _lock: lock,
        });
        app.spawn_budget_sweeper();
        Ok(app)
    }

    /// Forgets budgets that are full again, now and then: sign-in budgets are keyed by whatever
    /// usernames strangers try, which must not grow memory without end.
    fn spawn_budget_sweeper(self: &Arc<Self>) {
        let app = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(app) = app.upgrade() else { return };
                app.sign_in_budget.forget_idle();
                if let Some(budget) = &app.api_budget {
                    budget.forget_idle();
                }
            }
        });
    }

    pub fn router(self: &Arc<Self>) -> Router {
        // The gateway's routes carry the same guard layer of their own.
        Router::new()
            .route("/", get(crate::dashboard::page))
            .nest("/api", crate::api::router(self.clone()))
            .merge(crate::sso::router(self.clone()))
            .layer(axum::middleware::from_fn_with_state(
                self.guard.clone(),
                catwalk_gateway::guard,
            ))
            .route("/metrics", get(metrics).with_state(self.clone()))
            .merge(crate::oauth::router(self.clone(), self.guard.clone()))
            .merge(
                self.gateway
                    .router()
                    .layer(axum::middleware::from_fn_with_state(
                        self.deployments.metrics.clone(),
                        crate::metrics::track,
                    )),
            )
            .layer(tower_http::trace::TraceLayer::new_for_http())
    }
}

/// `GET /metrics`: Prometheus text, for a scraper holding an admin's API token.
async fn metrics(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let principal = match crate::auth::principal_of(&app.store, &headers).await {
        Ok(principal) => principal,
        Err(error) => return error.into_response(),
    };
    if !principal.is_some_and(|p| p.is_admin()) {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            "send an admin's API token as 'Authorization: Bearer TOKEN'\n",
        )
            .into_response();
    }
    let statuses = match app.store.list_deployments_brief().await {
        Ok(deployments) => deployments.into_iter().map(|d| d.status),
        Err(error) => {
            return (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot read the deployments: {error}\n"),
            )
                .into_response();
        }
    };
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.deployments
            .metrics
            .render(statuses, app.deployments.held()),
    )
        .into_response()
}

/// Takes the data directory's lock, or says which Catwalk holds it. The kernel drops the lock
/// when the process ends, however it ends, so a `kill -9` leaves no stale lock behind.
fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let path = data_dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if let Err(error) = file.try_lock() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        let who = if holder.is_empty() {
            String::new()
        } else {
            format!(" (pid {holder})")
        };
        anyhow::bail!(
            "another Catwalk{who} is serving the data directory {}; stop it first, or give this \
             one its own --data-dir ({error})",
            data_dir.display()
        );
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    Ok(file)
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

/// The names Catwalk is reached by: the public URL's, plus the loopback names of the bound port
/// (browsers and clients on the same machine may use any of them). Bound to all interfaces with no
/// public URL, Catwalk cannot know its host names, so it does not check `Host`.
fn guard(public_url: &str, bound: SocketAddr) -> Guard {
    let public_origin = origin_of(public_url);
    let mut guard = Guard {
        allowed_origins: vec![public_origin.clone()],
        allowed_hosts: Vec::new(),
    };
    let public_host = public_origin
        .split_once("://")
        .map_or(public_origin.as_str(), |(_, host)| host);
    let host_is_known = !public_host.starts_with("0.0.0.0") && !public_host.starts_with("[::]");
    if host_is_known {
        guard.allowed_hosts.push(public_host.to_string());
    }
    if bound.ip().is_loopback() || bound.ip().is_unspecified() {
        let port = bound.port();
        for host in ["localhost", "127.0.0.1", "[::1]"] {
            guard.allowed_origins.push(format!("http://{host}:{port}"));
            if host_is_known {
                guard.allowed_hosts.push(format!("{host}:{port}"));
            }
        }
    }
    if !host_is_known {
        tracing::warn!(
            "listening on all interfaces without --public-url: Host names are not checked \
             (set --public-url to the address clients use, to guard against DNS rebinding)"
        );
    }
    guard
}

fn origin_of(url: &str) -> String {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(slash) => url[..after_scheme + slash].to_string(),
        None => url.to_string(),
    }
}
