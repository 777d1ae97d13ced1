//! The deployment routes.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use catwalk_store::{DeploymentPageQuery, MAX_DEPLOYMENT_PAGE};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, body};
use crate::auth::Principal;
use crate::configs::client_configs;
use crate::credentials::{CredentialChange, Credentials};
use crate::options::{DeploymentOptions, Limits, ProcessModel};
use crate::setup::App;

#[derive(Deserialize)]
pub struct AnalyzeBody {
    source: String,
    /// Start the server with placeholder values and list what it offers.
    #[serde(default)]
    introspect: bool,
    /// Reuse a spec made earlier from the same content.
    #[serde(default = "yes")]
    cache: bool,
}

#[derive(Deserialize)]
pub struct CreateBody {
    source: String,
    name: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// Values of the spec's argument fields, by field name.
    #[serde(default)]
    args: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    public: bool,
    call_timeout_secs: Option<u64>,
    #[serde(default)]
    process_model: ProcessModel,
    sleep_after_secs: Option<u64>,
    #[serde(default = "yes")]
    network: bool,
    #[serde(default)]
    limits: Limits,
    /// Record tool call arguments in the audit trail.
    #[serde(default)]
    audit_arguments: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    public: Option<bool>,
    /// Absent: unchanged; `null`: no limit; a number: seconds.
    #[serde(default, deserialize_with = "present")]
    call_timeout_secs: Option<Option<u64>>,
    /// These three restart the server with the new settings. Absent: unchanged; `null`: never
    /// sleeps.
    #[serde(default, deserialize_with = "present")]
    sleep_after_secs: Option<Option<u64>>,
    network: Option<bool>,
    /// Replaces every limit (a limit left out is lifted).
    limits: Option<Limits>,
    /// Records tool call arguments in the audit trail (changes in place).
    audit_arguments: Option<bool>,
}

/// Tells a field given as `null` (Some(None)) from an absent one (None).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
pub struct Page {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

pub async fn analyze(
    State(app): State<Arc<App>>,
    request: Result<Json<AnalyzeBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let request = body(request)?;
    let mut spec = app
        .deployments
        .analyze_with(request.source.trim(), request.cache)
        .await?;
    if request.introspect {
        spec.introspection = Some(app.deployments.introspect(&spec).await);
    }
    Ok(Json(serde_json::to_value(spec).expect("specs serialize")))
}

pub async fn create(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    request: Result<Json<CreateBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let request = body(request)?;
    let created = app
        .deployments
        .create(
            &principal.user.id,
            request.source.trim(),
            request.name,
            Credentials {
                env: request.env,
                args: request.args,
            },
            request.public,
            DeploymentOptions {
                call_timeout_secs: request.call_timeout_secs,
                process_model: request.process_model,
                sleep_after_secs: request.sleep_after_secs,
                network: request.network,
                limits: request.limits,
                audit_arguments: request.audit_arguments,
            },
        )
        .await?;
    let name = created.deployment.name.clone();
    let endpoint = app.deployments.endpoint(&name);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "deployment": view(&app, &created.deployment),
            "token": created.token,
            "endpoint": endpoint,
            "configs": client_configs(&name, &endpoint, &created.token),
        })),
    ))
}

/// The page size of `GET /deployments` when the caller names none.
pub const DEFAULT_PAGE: i64 = 100;

/// The query of `GET /deployments`, as text, so that a bad value gets this API's 400 and says
/// what is allowed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<String>,
    /// The last name of the previous page.
    after: Option<String>,
    status: Option<String>,
}

/// `GET /deployments?limit=N&after=NAME&status=S`: the caller's deployments in name order, one
/// page at a time. The body is the page (an array, as before paging); `X-Total-Count` says how
/// many there are in all (with that status), and `Link: <…>; rel="next"` where the next page is,
/// while there is one.
pub async fn list(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(query) = query.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let limit = page_limit(query.limit.as_deref())?;
    let after = query.after.as_deref().filter(|after| !after.is_empty());
    let status = query.status.as_deref().filter(|status| !status.is_empty());
    let owner = &principal.user.id;
    let page = app
        .store
        .deployments_page_of(
            owner,
            &DeploymentPageQuery {
                after,
                status,
                limit,
            },
        )
        .await?;
    let total = app.store.count_deployments_of(owner, status).await?;
    let mut headers = HeaderMap::new();
    headers.insert(TOTAL_COUNT, HeaderValue::from(total));
    if page.more
        && let Some(last) = page.deployments.last()
    {
        headers.insert(
            header::LINK,
            next_link(&app.public_url, &last.name, limit, status)?,
        );
    }
    // Without their specs: a page stays small and quick (each spec is kilobytes of evidence);
    // `GET /deployments/NAME` has it.
    let body: Vec<Value> = page.deployments.iter().map(|d| summary(&app, d)).collect();
    Ok((headers, Json(body)).into_response())
}

const TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

/// The page size asked for: 1 to [`MAX_DEPLOYMENT_PAGE`], [`DEFAULT_PAGE`] when not given.
fn page_limit(given: Option<&str>) -> ApiResult<i64> {
    let Some(given) = given else {
        return Ok(DEFAULT_PAGE);
    };
    match given.parse::<i64>() {
        Ok(limit) if (1..=MAX_DEPLOYMENT_PAGE).contains(&limit) => Ok(limit),
        _ => Err(ApiError::bad_request(format!(
            "limit must be a whole number from 1 to {MAX_DEPLOYMENT_PAGE} (default \
             {DEFAULT_PAGE}), not {given:?}"
        ))),
    }
}

/// `<{public URL}/api/deployments?after=LAST&limit=N>; rel="next"` (RFC 8288), absolute like
/// every other URL the API hands out (endpoints, OAuth metadata).
fn next_link(
    public_url: &str,
    last: &str,
    limit: i64,
    status: Option<&str>,
) -> ApiResult<HeaderValue> {
    let limit = limit.to_string();
    let mut pairs = vec![("after", last), ("limit", limit.as_str())];
    pairs.extend(status.map(|status| ("status", status)));
    let query = serde_urlencoded::to_string(pairs).map_err(ApiError::internal)?;
    HeaderValue::try_from(format!(
        "<{public_url}/api/deployments?{query}>; rel=\"next\""
    ))
    .map_err(ApiError::internal)
}

pub async fn show(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let deployment = owned(&app, &principal, &name).await?;
    Ok(Json(view(&app, &deployment)))
}

pub async fn update(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    request: Result<Json<UpdateBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    owned(&app, &principal, &name).await?;
    let request = body(request)?;
    if let Some(public) = request.public
        && !app.deployments.set_public(&name, public).await?
    {
        return Err(ApiError::no_deployment(&name));
    }
    if let Some(limit) = request.call_timeout_secs
        && !app.deployments.set_call_timeout(&name, limit).await?
    {
        return Err(ApiError::no_deployment(&name));
    }
    if let Some(on) = request.audit_arguments
        && !app.deployments.set_audit_arguments(&name, on).await?
    {
        return Err(ApiError::no_deployment(&name));
    }
    let reshapes =
        request.sleep_after_secs.is_some() || request.network.is_some() || request.limits.is_some();
    if reshapes
        && !app
            .deployments
            .set_process_options(&name, |options| {
                if let Some(sleep_after) = request.sleep_after_secs {
                    options.sleep_after_secs = sleep_after;
                }
                if let Some(network) = request.network {
                    options.network = network;
                }
                if let Some(limits) = request.limits {
                    options.limits = limits;
                }
            })
            .await?
    {
        return Err(ApiError::no_deployment(&name));
    }
    show(State(app), Extension(principal), Path(name)).await
}

pub async fn remove(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    owned(&app, &principal, &name).await?;
    if app.deployments.remove(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::no_deployment(&name))
    }
}

pub async fn stop(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    owned(&app, &principal, &name).await?;
    if !app.deployments.stop_deployment(&name).await? {
        return Err(ApiError::no_deployment(&name));
    }
    show(State(app), Extension(principal), Path(name)).await
}

pub async fn start(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    owned(&app, &principal, &name).await?;
    if !app.deployments.start_deployment(&name).await? {
        return Err(ApiError::no_deployment(&name));
    }
    show(State(app), Extension(principal), Path(name)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenName {
    #[serde(default = "default_token_name")]
    name: String,
}

fn default_token_name() -> String {
    catwalk_store::DEFAULT_TOKEN.to_string()
}

/// `POST /deployments/{name}/token`: replaces the access token of that name (`default` when
/// the body is empty); the old one stops working at once.
pub async fn rotate_token(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    request: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    owned(&app, &principal, &name).await?;
    let token_name = if request.iter().all(u8::is_ascii_whitespace) {
        default_token_name()
    } else {
        serde_json::from_slice::<TokenName>(&request)
            .map_err(|error| ApiError::bad_request(format!("invalid body: {error}")))?
            .name
    };
    put_token(&app, &name, &token_name, true).await
}

/// `POST /deployments/{name}/tokens {"name"}`: one more access token (409 if the name is taken).
pub async fn add_token(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    request: Result<Json<TokenName>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    owned(&app, &principal, &name).await?;
    let token_name = body(request)?.name;
    let shown = put_token(&app, &name, &token_name, false).await?;
    Ok((StatusCode::CREATED, shown))
}

async fn put_token(
    app: &App,
    name: &str,
    token_name: &str,
    replace: bool,
) -> ApiResult<Json<Value>> {
    if !crate::auth::is_plain_name(token_name) {
        return Err(ApiError::bad_request(format!(
            "invalid token name {token_name:?}: use 1 to 64 letters, digits, '-', '_' or '.'"
        )));
    }
    let (stored, token) = match app.deployments.put_token(name, token_name, replace).await {
        Ok(Some(made)) => made,
        Ok(None) => return Err(ApiError::no_deployment(name)),
        Err(catwalk_store::StoreError::Conflict(message)) => {
            return Err(ApiError::new(StatusCode::CONFLICT, "conflict", message));
        }
        Err(error) => return Err(error.into()),
    };
    let endpoint = app.deployments.endpoint(name);
    Ok(Json(json!({
        "id": stored.id,
        "name": stored.name,
        "created_at": stored.created_at,
        "token": token,
        "endpoint": endpoint,
        "configs": client_configs(name, &endpoint, &token),
    })))
}

/// `GET /deployments/{name}/tokens`: its access tokens, never the tokens themselves.
pub async fn list_tokens(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    owned(&app, &principal, &name).await?;
    Ok(Json(json!(app.store.list_deployment_tokens(&name).await?)))
}

/// `DELETE /deployments/{name}/tokens/{id}`: revokes one access token; sessions end.
pub async fn revoke_token(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    owned(&app, &principal, &name).await?;
    if app.deployments.revoke_token(&name, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "{name:?} has no access token with id {id:?}"
        )))
    }
}

/// Sets or removes environment variables and argument values; the server restarts with them.
pub async fn set_credentials(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    request: Result<Json<CredentialChange>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    owned(&app, &principal, &name).await?;
    let change = body(request)?;
    if !app.deployments.set_credentials(&name, change).await? {
        return Err(ApiError::no_deployment(&name));
    }
    show(State(app), Extension(principal), Path(name)).await
}

pub async fn events(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    owned(&app, &principal, &name).await?;
    let events = app
        .store
        .events_after(&name, page.after, page.limit.unwrap_or(100).clamp(1, 1000))
        .await?;
    Ok(Json(
        serde_json::to_value(events).expect("events serialize"),
    ))
}

pub async fn logs(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    owned(&app, &principal, &name).await?;
    let logs = app
        .store
        .logs_after(&name, page.after, page.limit.unwrap_or(200).clamp(1, 5000))
        .await?;
    Ok(Json(serde_json::to_value(logs).expect("logs serialize")))
}

/// A live tail: every stored line after `after`, then each new one as it is stored, as SSE
/// events (`id` = the line's id, `data` = the line as JSON). Ends when the deployment is removed.
pub async fn log_stream(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<axum::response::Sse<impl futures::Stream<Item = Result<Event, Infallible>>>> {
    owned(&app, &principal, &name).await?;
    let mut feed = app.deployments.log_feed.subscribe();
    let stream = async_stream::stream! {
        let mut after = page.after;
        loop {
            let lines = match app.store.logs_after(&name, after, 1000).await {
                Ok(lines) => lines,
                Err(error) => {
                    yield Ok(Event::default().event("error").data(error.to_string()));
                    return;
                }
            };
            for line in &lines {
                after = after.max(line.id);
                let data = serde_json::to_string(line).expect("log lines serialize");
                yield Ok(Event::default().id(line.id.to_string()).data(data));
            }
            if !lines.is_empty() {
                continue;
            }
            // Wait for this deployment's next lines; look again now and then regardless, to
            // notice a removal.
            let woken = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    match feed.recv().await {
                        Ok(grown) if grown == name => return,
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                            std::future::pending::<()>().await
                        }
                    }
                }
            })
            .await;
            if woken.is_err() && !matches!(app.store.get_deployment(&name).await, Ok(Some(_))) {
                return;
            }
        }
    };
    Ok(axum::response::Sse::new(stream).keep_alive(axum::response::sse::KeepAlive::default()))
}

/// The caller's deployment of that name. Another user's is answered exactly like one that does
/// not exist (404), so nobody learns what others run.
async fn owned(
    app: &App,
    principal: &Principal,
    name: &str,
) -> ApiResult<catwalk_store::Deployment> {
    match app.store.get_deployment(name).await? {
        Some(deployment) if principal.owns(&deployment) => Ok(deployment),
        _ => Err(ApiError::no_deployment(name)),
    }
}

/// A deployment as the API shows it: never its token hash or credentials.
fn view(app: &App, deployment: &catwalk_store::Deployment) -> Value {
    let mut shown = summary(app, deployment);
    shown["spec"] = serde_json::from_str(&deployment.spec_json).unwrap_or(Value::Null);
    shown["tools"] = json!(crate::deployments::Deployments::tools_of(deployment));
    shown
}

/// A deployment without its server spec (for lists).
fn summary(app: &App, deployment: &catwalk_store::Deployment) -> Value {
    let options = DeploymentOptions::from_stored(&deployment.options_json);
    json!({
        "id": deployment.id,
        "name": deployment.name,
        "source": deployment.source,
        "status": deployment.status,
        "status_reason": deployment.status_reason,
        "public": deployment.public,
        "call_timeout_secs": options.call_timeout_secs,
        "process_model": options.process_model,
        "sleep_after_secs": options.sleep_after_secs,
        "network": options.network,
        "limits": options.limits,
        "audit_arguments": options.audit_arguments,
        "data_folder": app.deployments.data_folder(&deployment.id),
        "endpoint": app.deployments.endpoint(&deployment.name),
        "env_keys": deployment.env_keys,
        "created_at": deployment.created_at,
        "updated_at": deployment.updated_at,
    })
}

#[cfg(test)]
mod tests;
