//! The REST API under `/api`, documented in docs/API.md.

mod accounts;
mod audit;
mod deployments;
mod error;
mod vault;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::middleware;
use axum::routing::{get, post};

use crate::setup::App;
pub(crate) use accounts::check_password;
pub use error::ApiError;

type ApiResult<T> = Result<T, ApiError>;

/// A JSON body, or an error in the API's shape saying what is wrong with it: 400 for bad JSON,
/// 415 without `Content-Type: application/json` (so no cross-site form can post here).
fn body<T>(body: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>) -> ApiResult<T> {
    body.map(|axum::Json(b)| b).map_err(|rejection| {
        let status = rejection.status();
        if status == axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE {
            ApiError::new(status, "unsupported_media_type", rejection.body_text())
        } else {
            ApiError::bad_request(rejection.body_text())
        }
    })
}

pub fn router(app: Arc<App>) -> Router {
    let admin_only = Router::new()
        .route("/vault/rotate", post(vault::rotate))
        .route(
            "/users",
            get(accounts::list_users).post(accounts::create_user),
        )
        .route(
            "/users/{username}",
            axum::routing::patch(accounts::update_user).delete(accounts::delete_user),
        )
        .layer(middleware::from_fn(crate::auth::require_admin))
        .layer(middleware::from_fn_with_state(
            (app.clone(), audit::Trail::Instance),
            audit::record_changes,
        ));
    let own = Router::new()
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
            "/deployments/{name}/tokens",
            get(deployments::list_tokens).post(deployments::add_token),
        )
        .route(
            "/deployments/{name}/tokens/{id}",
            axum::routing::delete(deployments::revoke_token),
        )
        .route(
            "/deployments/{name}/credentials",
            axum::routing::patch(deployments::set_credentials),
        )
        .route("/deployments/{name}/stop", post(deployments::stop))
        .route("/deployments/{name}/start", post(deployments::start))
        .route("/deployments/{name}/events", get(deployments::events))
        .route("/deployments/{name}/logs", get(deployments::logs))
        .route(
            "/deployments/{name}/logs/stream",
            get(deployments::log_stream),
        )
        .route("/system", get(system))
        .route("/me", get(accounts::me))
        .route(
            "/me/password",
            axum::routing::put(accounts::set_my_password),
        )
        .route("/auth/session", axum::routing::delete(accounts::sign_out))
        .route(
            "/tokens",
            get(accounts::list_tokens).post(accounts::create_token),
        )
        .route(
            "/tokens/{id}",
            axum::routing::delete(accounts::revoke_token),
        )
        .route("/audit", get(audit::list))
        .layer(middleware::from_fn_with_state(
            (app.clone(), audit::Trail::Own),
            audit::record_changes,
        ));
    let protected = own.merge(admin_only).layer(middleware::from_fn_with_state(
        app.clone(),
        crate::auth::authenticate,
    ));
    Router::new()
        .route("/health", get(health))
        .route("/auth/session", post(accounts::sign_in))
        .route("/auth/token", post(accounts::token_for_password))
        .route("/auth/providers", get(crate::sso::providers))
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
