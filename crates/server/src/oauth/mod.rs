//! Catwalk's OAuth 2.1 authorization server for MCP clients (the MCP authorization spec,
//! 2025-06-18 to 2026-07-28): a client that meets a deployment's 401 discovers Catwalk through
//! the Protected Resource Metadata (RFC 9728) the `WWW-Authenticate` header names, reads the
//! authorization server metadata (RFC 8414), registers (RFC 7591) or is known by its metadata
//! document URL (Client ID Metadata Documents), sends its user to `/oauth/authorize`, where the
//! deployment's owner signs in and approves, and trades the code for tokens at `/oauth/token`.
//!
//! Why by hand: the Rust OAuth crates (`oauth2`, `openidconnect`) are clients; the server side is
//! a handful of rules, each written down and tested in `rules.rs`, and Catwalk's tokens are
//! opaque random strings stored as SHA-256 hashes like every other token (no JWTs, so revocation
//! is immediate and there is no signing key to manage).
//!
//! Invariants:
//! - PKCE with S256 is required on every authorization; `plain` or none is refused.
//! - A redirect URI must match a registered one exactly (loopback IP ports excepted), checked
//!   before anything is redirected; an unknown client or redirect gets an error page, never a
//!   redirect.
//! - Every token names one deployment: the `resource` indicator is required, and an access token
//!   opens only that deployment (by id), and only while its grant stands and the user who granted
//!   it still owns the deployment.
//! - Codes are single use and live five minutes; a replayed code revokes the tokens it produced.
//!   Refresh tokens rotate on every use; a rotated one presented again revokes the whole grant.
//! - Only the deployment's owner may approve; anyone else gets the same page whether or not the
//!   deployment exists. The consent form carries the session's CSRF token.
//! - Tokens travel only in the `Authorization` header (the gateway refuses `access_token` in a
//!   query string) and never reach the upstream server, which sees only MCP messages.

mod cimd;
mod clients;
mod consent;
mod metadata;
mod pages;
mod register;
mod rules;
mod token;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use catwalk_gateway::Guard;
use catwalk_store::{Store, StoreError};

use crate::setup::App;

/// How long an authorization code may wait for its exchange.
pub const CODE_LIFETIME: Duration = Duration::from_secs(300);
/// How long an access token works (short: a refresh is cheap, a stolen token expires soon).
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// How long a refresh token may wait for its (single) use.
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// Readable prefixes of what Catwalk hands out (secret scanners and humans tell them apart).
pub const ACCESS_TOKEN_PREFIX: &str = "cwoa";
const REFRESH_TOKEN_PREFIX: &str = "cwor";
const CODE_PREFIX: &str = "cwoc";

/// The authorization server's own state.
pub struct OAuth {
    documents: cimd::Fetcher,
}

impl OAuth {
    pub fn from_env() -> OAuth {
        OAuth {
            documents: cimd::Fetcher::from_env(),
        }
    }
}

/// The principal (for sessions and rate limits) of a request with a valid OAuth access token for
/// `deployment`, `None` when the token is not one. One grant is one principal, so a session
/// survives its client's token refreshes.
pub async fn admit(
    store: &Store,
    deployment: &str,
    token: &str,
) -> Result<Option<String>, StoreError> {
    if !token.starts_with(ACCESS_TOKEN_PREFIX) {
        return Ok(None);
    }
    let hash = catwalk_vault::hash_token(token);
    Ok(store
        .oauth_access_grant(&hash, deployment)
        .await?
        .map(|grant| format!("oauth:{}", grant.id)))
}

/// Forgets expired codes and tokens once an hour.
pub fn spawn_purge(store: Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(error) = store.purge_expired_oauth().await {
                tracing::warn!(%error, "could not purge expired OAuth codes and tokens");
            }
        }
    })
}

/// The routes. The pages a browser shows (`/oauth/authorize`, `/oauth/sign-in`) pass the same
/// `Origin`/`Host` guard as the dashboard; the documents and endpoints that clients call from
/// anywhere (metadata, token, registration) answer cross-origin requests instead.
pub fn router(app: Arc<App>, guard: Arc<Guard>) -> Router {
    let pages = Router::new()
        .route(
            "/oauth/authorize",
            get(consent::authorize_page).post(consent::decide),
        )
        .route("/oauth/sign-in", post(consent::sign_in))
        .with_state(app.clone())
        .layer(axum::middleware::from_fn_with_state(
            guard,
            catwalk_gateway::guard,
        ));
    let machines = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::authorization_server),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(metadata::protected_resource_root),
        )
        .route(
            "/.well-known/oauth-protected-resource/s/{name}/{endpoint}",
            get(metadata::protected_resource),
        )
        .route("/oauth/token", post(token::token))
        .route("/oauth/register", post(register::register))
        .with_state(app)
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn(cors));
    pages.merge(machines)
}

/// Cross-origin access for browser-based clients: these answers carry no cookie-based authority
/// (metadata is public, the token endpoint needs a code and its verifier), so any origin may read
/// them.
async fn cors(request: Request, next: Next) -> Response {
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, mcp-protocol-version"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    response
}
