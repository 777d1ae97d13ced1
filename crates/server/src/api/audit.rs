//! `GET /api/audit` and the recording of every change made through the API.

use std::sync::Arc;

use axum::extract::{OriginalUri, Query, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use axum::{Extension, Json};
use catwalk_store::NewAuditEvent;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiResult};
use crate::auth::{Principal, Via};
use crate::setup::App;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
    /// Only this deployment's rows.
    deployment: Option<String>,
    /// The instance's trail (admin actions on users and the vault), for admins.
    #[serde(default)]
    instance: bool,
}

/// `GET /api/audit`: the caller's trail (their deployments' tool calls and their own changes),
/// oldest first, paged with `after`; `?instance=true` gives admins the instance's.
pub async fn list(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let owner = if query.instance {
        if !principal.is_admin() {
            return Err(ApiError::forbidden(
                "only an admin may read the instance's trail",
            ));
        }
        None
    } else {
        Some(principal.user.id.as_str())
    };
    let events = app
        .store
        .audit_after(
            owner,
            query.deployment.as_deref(),
            query.after,
            query.limit.unwrap_or(100).clamp(1, 1000),
        )
        .await?;
    Ok(Json(json!(events)))
}

/// Whose trail a router's changes go to.
#[derive(Clone, Copy)]
pub enum Trail {
    /// The acting user's (their deployments, tokens, account).
    Own,
    /// The instance's, which admins read (users, the vault).
    Instance,
}

/// Records every request that may change something (not reads), after it is answered: who,
/// the method and path, the status, the time it took. Bodies are never recorded.
pub async fn record_changes(
    State((app, trail)): State<(Arc<App>, Trail)>,
    OriginalUri(uri): OriginalUri,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let principal = request.extensions().get::<Principal>().cloned();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let began = std::time::Instant::now();
    let response = next.run(request).await;
    let Some(principal) = principal else {
        return response;
    };
    let path = uri.path();
    let status = response.status();
    app.deployments.audit.record(NewAuditEvent {
        at: catwalk_store::now_millis(),
        owner_id: match trail {
            Trail::Own => Some(principal.user.id.clone()),
            Trail::Instance => None,
        },
        actor: actor(&principal),
        deployment: path
            .strip_prefix("/api/deployments/")
            .and_then(|rest| rest.split('/').next())
            .map(str::to_string),
        kind: "api".into(),
        action: format!("{method} {path}"),
        outcome: format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or_default()
        ),
        duration_ms: Some(began.elapsed().as_millis() as i64),
        arguments: None,
    });
    response
}

/// `user NAME (browser)` or `user NAME (API token)`.
fn actor(principal: &Principal) -> String {
    let how = match principal.via {
        Via::Token { .. } => "API token",
        Via::Session { .. } => "browser",
    };
    format!("user {} ({how})", principal.user.username)
}
