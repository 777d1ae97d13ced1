//! The REST API under `/api`, documented in docs/API.md.

mod deployments;
mod error;
mod vault;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::setup::App;
pub use error::ApiError;

pub fn router(app: Arc<App>) -> Router {
    let protected = Router::new()
        .route("/analyze", post(deployments::analyze))
        .route(
            "/deployments",
            get(deployments::list).post(deployments::create),
        )
        .route(
            "/deployments/{name}",
            get(deployments::show)
                .patch(deployments::update)
                .delete(deployments::remove),
        )
        .route("/deployments/{name}/token", post(deployments::rotate_token))
        .route(
            "/deployments/{name}/credentials",
            axum::routing::patch(deployments::set_credentials),
        )
        .route("/vault/rotate", post(vault::rotate))
        .route("/deployments/{name}/stop", post(deployments::stop))
        .route("/deployments/{name}/start", post(deployments::start))
        .route("/deployments/{name}/events", get(deployments::events))
        .route("/deployments/{name}/logs", get(deployments::logs))
        .route(
            "/deployments/{name}/logs/stream",
            get(deployments::log_stream),
        )
        .route("/system", get(system))
        .layer(middleware::from_fn_with_state(app.clone(), require_admin));
    Router::new()
        .route("/health", get(health))
        .merge(protected)
        .fallback(|| async { ApiError::not_found("no such API route; see docs/API.md") })
        .with_state(app)
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// How this Catwalk runs servers (sandboxed or not, and why), and which LLM helps analyses
/// (provider and model, never the key).
async fn system(State(app): State<Arc<App>>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "isolation": app.deployments.isolation().describe(),
        "llm": app.deployments.assist().map(|a| a.describe()),
    }))
}

/// The token of an `Authorization: Bearer TOKEN` header.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

async fn require_admin(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    match bearer_token(request.headers()) {
        Some(token) if app.is_admin(token) => next.run(request).await,
        Some(_) => ApiError::unauthorized("the token is not Catwalk's admin token").into_response(),
        None => ApiError::unauthorized(
            "send the admin token as 'Authorization: Bearer TOKEN' (it is in the data directory's admin-token file)",
        )
        .into_response(),
    }
}
