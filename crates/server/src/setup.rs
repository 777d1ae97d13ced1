//! Opening the data directory, vault, store and admin token, and building the router.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use catwalk_gateway::{Gateway, GatewayConfig, Guard};
use catwalk_store::Store;
use catwalk_vault::Vault;

use crate::Config;
use crate::deployments::Deployments;
use crate::isolation::Isolation;

/// The file in the data directory that holds the admin token for the local CLI.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";
/// Held (an exclusive lock) by the Catwalk serving a data directory: a second one would start
/// every server a second time.
pub const LOCK_FILE: &str = "catwalk.lock";
/// The SQLite database in the data directory, when no database URL is given.
pub const DATABASE_FILE: &str = "catwalk.db";
const ADMIN_TOKEN_SETTING: &str = "admin_token_hash";

/// Everything a request handler may need.
pub struct App {
    pub store: Store,
    pub deployments: Arc<Deployments>,
    pub gateway: Arc<Gateway>,
    pub public_url: String,
    guard: Arc<Guard>,
    admin_token_hash: String,
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
        let admin_token_hash = admin_token_hash(&store, data_dir).await?;
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
                ..GatewayConfig::default()
            },
        );
        gateway.spawn_session_sweeper();
        deployments.attach_gateway(&gateway);
        Ok(Arc::new(App {
            store,
            deployments,
            gateway,
            guard,
            public_url,
            admin_token_hash,
            _lock: lock,
        }))
    }

    pub fn router(self: &Arc<Self>) -> Router {
        // The gateway's routes carry the same guard layer of their own.
        Router::new()
            .route("/", get(crate::dashboard::page))
            .nest("/api", crate::api::router(self.clone()))
            .layer(axum::middleware::from_fn_with_state(
                self.guard.clone(),
                catwalk_gateway::guard,
            ))
            .route("/metrics", get(metrics).with_state(self.clone()))
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

    pub fn is_admin(&self, token: &str) -> bool {
        catwalk_vault::token_matches(token, &self.admin_token_hash)
    }
}

/// `GET /metrics`: Prometheus text, for a scraper holding the admin token.
async fn metrics(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !crate::api::bearer_token(&headers).is_some_and(|token| app.is_admin(token)) {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            "send the admin token as 'Authorization: Bearer TOKEN'\n",
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
        app.deployments.metrics.render(statuses),
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

/// The admin token's hash, creating the token at first start. The token itself is written once
/// to the data directory (mode 0600) so the local CLI finds it; only its hash is stored.
async fn admin_token_hash(store: &Store, data_dir: &Path) -> anyhow::Result<String> {
    let file = data_dir.join(ADMIN_TOKEN_FILE);
    if let Some(hash) = store.get_setting(ADMIN_TOKEN_SETTING).await? {
        if !file.exists() {
            tracing::warn!(
                "the database has an admin token but {} is missing: the CLI needs --token",
                file.display()
            );
        }
        return Ok(hash);
    }
    let token = catwalk_vault::new_token("cwa");
    let hash = catwalk_vault::hash_token(&token);
    if file.exists() {
        // A data directory from another database: its token is stale.
        std::fs::remove_file(&file)
            .with_context(|| format!("cannot replace {}", file.display()))?;
    }
    catwalk_vault::write_private_file(&file, token.as_bytes())
        .with_context(|| format!("cannot write {}", file.display()))?;
    store.put_setting(ADMIN_TOKEN_SETTING, &hash).await?;
    tracing::info!("created the admin token in {}", file.display());
    Ok(hash)
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
