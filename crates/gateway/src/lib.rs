//! The HTTP front of every deployment: MCP Streamable HTTP at `/s/{name}/mcp`, of both the legacy
//! era (sessions, 2025-03-26 to 2025-11-25) and the modern stateless one (2026-07-28, chosen per
//! request, see [`modern`]), and the legacy HTTP+SSE transport (2024-11-05) at `/s/{name}/sse`
//! with its message endpoint.
//!
//! The gateway authenticates each request through a [`Resolver`] (the server crate decides what a
//! token means and which running server a deployment maps to), keeps client sessions, and turns a
//! bridge session's message streams into HTTP responses: JSON when a request's answer comes alone,
//! Server-Sent Events when the server sends something first (progress, a request to the client).
//! It never knows how or where the server process runs.

mod guard;
mod legacy_sse;
mod limits;
mod modern;
mod reply;
mod resume;
mod sessions;
mod streamable;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use catwalk_bridge::Upstream;
use futures::future::BoxFuture;
use serde_json::value::RawValue;

pub use guard::{Guard, check as guard};
pub use limits::{Budget, RateLimits};
pub use sessions::Sessions;

/// The path of a deployment's MCP endpoint, relative to Catwalk's base URL.
pub fn endpoint_path(deployment: &str) -> String {
    format!("/s/{deployment}/mcp")
}

/// Grants access to a deployment's running server.
pub trait Resolver: Send + Sync + 'static {
    /// Checks `token` (the bearer token of the request, if any) for `deployment` and returns its
    /// running server. Called on every request, so a revoked token stops working at once.
    fn resolve<'a>(
        &'a self,
        deployment: &'a str,
        token: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Access, Refusal>>;

    /// The server a new client session talks to: by default the shared one in `access`; a
    /// deployment that gives each session its own process starts one here, initialized with
    /// `client_params` (the client's `initialize` parameters; `None` for a legacy HTTP+SSE
    /// session, which opens before its client sends them).
    fn session_upstream<'a>(
        &'a self,
        deployment: &'a str,
        access: &'a Access,
        client_params: Option<&'a RawValue>,
    ) -> BoxFuture<'a, Result<Upstream, Refusal>> {
        let _ = (deployment, client_params);
        Box::pin(async move { Ok(access.upstream.clone()) })
    }

    /// Who is told about the tool calls of a new client session of `principal` on `deployment`
    /// (the audit trail); `None`: nobody.
    fn call_observer(
        &self,
        deployment: &str,
        principal: &str,
    ) -> Option<std::sync::Arc<dyn catwalk_bridge::CallObserver>> {
        let _ = (deployment, principal);
        None
    }
}

/// What a request may use.
pub struct Access {
    pub upstream: Upstream,
    /// Who is calling (for example a hash of the token). A session is bound to the principal that
    /// created it: another principal presenting its id gets 404.
    pub principal: String,
}

/// Why a request may not reach a deployment.
#[derive(Debug)]
pub enum Refusal {
    NotFound,
    Unauthorized,
    /// The deployment exists but its server is not running (the reason is shown to the client).
    Unavailable(String),
}

/// The default of [`GatewayConfig::max_body_bytes`]: room for large tool arguments (a file's
/// content, an image in base64), far from what a memory-exhausting body needs.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// The `Origin` and `Host` values requests may carry (403 otherwise), against DNS rebinding.
    pub guard: Arc<Guard>,
    /// Interval of SSE keep-alive comments, so idle streams survive proxies.
    pub keep_alive: Duration,
    /// A session unused for this long is forgotten.
    pub session_idle_timeout: Duration,
    /// How long a 2026-07-28 request that ended with `input_required` keeps waiting upstream
    /// for the client's retry before it is cancelled.
    pub input_timeout: Duration,
    /// Requests per minute per token and per deployment (429 beyond them).
    pub rate_limits: RateLimits,
    /// The largest request body accepted (413 beyond it).
    pub max_body_bytes: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            guard: Arc::default(),
            keep_alive: Duration::from_secs(15),
            session_idle_timeout: Duration::from_secs(3600),
            input_timeout: Duration::from_secs(300),
            rate_limits: RateLimits::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

pub struct Gateway {
    resolver: Arc<dyn Resolver>,
    sessions: Sessions,
    legacy: legacy_sse::LegacySessions,
    modern: modern::Modern,
    limiter: limits::Limiter,
    config: GatewayConfig,
}

impl Gateway {
    pub fn new(resolver: Arc<dyn Resolver>, config: GatewayConfig) -> Arc<Gateway> {
        Arc::new(Gateway {
            resolver,
            sessions: Sessions::default(),
            legacy: Default::default(),
            modern: Default::default(),
            limiter: limits::Limiter::new(config.rate_limits),
            config,
        })
    }

    /// The routes of every deployment's endpoint.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(
                "/s/{name}/mcp",
                post(streamable::post)
                    .get(streamable::get)
                    .delete(streamable::delete),
            )
            .route("/s/{name}/sse", get(legacy_sse::open))
            .route("/s/{name}/messages", post(legacy_sse::post))
            .with_state(self.clone())
            .layer(axum::extract::DefaultBodyLimit::max(
                self.config.max_body_bytes,
            ))
            .layer(axum::middleware::from_fn_with_state(
                self.config.guard.clone(),
                guard::check,
            ))
    }

    /// Forgets idle sessions now and then, for clients that never send DELETE.
    pub fn spawn_session_sweeper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let gateway = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(gateway) = gateway.upgrade() else {
                    return;
                };
                gateway
                    .sessions
                    .forget_idle(gateway.config.session_idle_timeout);
                gateway.limiter.forget_idle();
            }
        })
    }

    /// Ends every session of a deployment (it was removed or restarted).
    pub fn end_sessions_of(&self, deployment: &str) {
        self.sessions.forget_deployment(deployment);
        self.legacy.forget_deployment(deployment);
        self.modern.forget_deployment(deployment);
    }

    /// Open client sessions, of both transports.
    pub fn session_count(&self) -> usize {
        self.sessions.len() + self.legacy.len()
    }
}

#[cfg(test)]
mod tests;
