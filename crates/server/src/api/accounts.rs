//! Signing in, the signed-in user's own account and API tokens, and (for admins) the users.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use catwalk_store::{NewApiToken, StoreError, User};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, body};
use crate::auth::{self, ADMIN, MEMBER, Principal, SCOPES, Via, passwords};
use crate::setup::App;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    username: Option<String>,
    password: Option<String>,
    /// An API token instead of a password: how the first admin signs in to the dashboard.
    token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Required with a password (`POST /api/auth/token`); the caller's own credentials.
    username: Option<String>,
    password: Option<String>,
    name: String,
    scopes: Option<Vec<String>>,
    expires_in_days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: Option<String>,
    new_password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    #[serde(default = "member")]
    role: String,
    password: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    role: Option<String>,
    password: Option<String>,
}

fn member() -> String {
    MEMBER.to_string()
}

/// `POST /api/auth/session`: signs in with a username and password (or an API token) and sets
/// the session cookie. JSON only, so a cross-site form cannot sign a browser in.
pub async fn sign_in(
    State(app): State<Arc<App>>,
    request: Result<Json<SignIn>, JsonRejection>,
) -> ApiResult<Response> {
    let request = body(request)?;
    let user = match (request.token, request.username, request.password) {
        (Some(token), None, None) => {
            match app
                .store
                .find_api_token(&catwalk_vault::hash_token(token.trim()))
                .await?
            {
                // A browser session may do everything: only a token that may too can start one.
                Some((token, _)) if !token.scopes.iter().any(|s| s == "write") => {
                    return Err(ApiError::forbidden(
                        "a read-only token cannot start a browser session",
                    ));
                }
                Some((_, user)) => user,
                None => {
                    return Err(ApiError::unauthorized(
                        "the token is unknown, revoked or expired",
                    ));
                }
            }
        }
        (None, Some(username), Some(password)) => check_password(&app, &username, password).await?,
        _ => {
            return Err(ApiError::bad_request(
                "send {\"username\", \"password\"} or {\"token\"}",
            ));
        }
    };
    let (cookie, csrf_token) = auth::start_session(&app.store, &user, app.secure_cookies).await?;
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "user": user, "csrf_token": csrf_token })),
    )
        .into_response())
}

/// `DELETE /api/auth/session`: signs out (the session ends on the server, the cookie goes).
pub async fn sign_out(
    State(app): State<Arc<App>>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    if let Some(session_id) = auth::session_cookie(&headers) {
        app.store
            .delete_web_session(&catwalk_vault::hash_token(&session_id))
            .await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            auth::end_session_cookie(app.secure_cookies),
        )],
    )
        .into_response())
}

/// `POST /api/auth/token`: a new API token for a username and password (`catwalk login`).
pub async fn token_for_password(
    State(app): State<Arc<App>>,
    request: Result<Json<NewToken>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut request = body(request)?;
    let (Some(username), Some(password)) = (request.username.take(), request.password.take())
    else {
        return Err(ApiError::bad_request("send \"username\" and \"password\""));
    };
    let user = check_password(&app, &username, password).await?;
    issue_token(&app, &user, None, request).await
}

/// The user whose password this is, or 401 saying only that the pair is wrong.
async fn check_password(app: &App, username: &str, password: String) -> ApiResult<User> {
    if let Err(retry_after) = app.sign_in_budget.check(username) {
        return Err(ApiError::too_many_requests(
            "too many sign-in attempts for this user",
            retry_after,
        ));
    }
    let user = app.store.get_user_by_name(username).await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    if passwords::verify(password, stored).await
        && let Some(user) = user
    {
        return Ok(user);
    }
    Err(ApiError::unauthorized("wrong username or password"))
}

/// `GET /api/me`: who is signed in, how, and (for a browser session) its CSRF token.
pub async fn me(Extension(principal): Extension<Principal>) -> Json<Value> {
    let (via, token_id, csrf_token) = match &principal.via {
        Via::Token { id, .. } => ("token", Some(id.clone()), None),
        Via::Session { csrf_token } => ("session", None, Some(csrf_token.clone())),
    };
    Json(json!({
        "user": principal.user,
        "has_password": principal.user.password_hash.is_some(),
        "via": via,
        "token_id": token_id,
        "scopes": principal.scopes(),
        "csrf_token": csrf_token,
    }))
}

/// `PUT /api/me/password`: sets the caller's password (the current one is required when there
/// is one). Every browser session of the user ends.
pub async fn set_my_password(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    request: Result<Json<PasswordChange>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let request = body(request)?;
    if principal.user.password_hash.is_some() {
        let current = request.current_password.unwrap_or_default();
        check_password(&app, &principal.user.username, current).await?;
    }
    set_password(&app, &principal.user.id, request.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_password(app: &App, user_id: &str, password: String) -> ApiResult<()> {
    passwords::check_policy(&password).map_err(ApiError::bad_request)?;
    let hash = passwords::hash(password).await;
    app.store.set_password_hash(user_id, Some(&hash)).await?;
    Ok(())
}

/// `GET /api/tokens`: the caller's API tokens (never the tokens themselves).
pub async fn list_tokens(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let tokens = app.store.list_api_tokens(&principal.user.id).await?;
    Ok(Json(json!(tokens)))
}

/// `POST /api/tokens`: a new API token for the caller, shown once. A token may only make
/// tokens with scopes it has itself.
pub async fn create_token(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    request: Result<Json<NewToken>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let request = body(request)?;
    if request.username.is_some() || request.password.is_some() {
        return Err(ApiError::bad_request(
            "signed in already: leave out username and password",
        ));
    }
    let user = principal.user.clone();
    issue_token(&app, &user, Some(&principal), request).await
}

async fn issue_token(
    app: &App,
    user: &User,
    by: Option<&Principal>,
    request: NewToken,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = request.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::bad_request(
            "give the token a name of 1 to 100 characters",
        ));
    }
    let scopes = request
        .scopes
        .unwrap_or_else(|| SCOPES.iter().map(|s| s.to_string()).collect());
    if scopes.is_empty() {
        return Err(ApiError::bad_request(
            "a token needs at least one scope: read, write",
        ));
    }
    for scope in &scopes {
        if !SCOPES.contains(&scope.as_str()) {
            return Err(ApiError::bad_request(format!(
                "unknown scope {scope:?}: use read, write"
            )));
        }
        if let Some(by) = by
            && !by.scopes().contains(scope)
        {
            return Err(ApiError::forbidden(format!(
                "this token cannot make a token with the `{scope}` scope it lacks"
            )));
        }
    }
    let expires_at = request
        .expires_in_days
        .map(|days| catwalk_store::now_millis() + i64::from(days) * 86_400_000);
    let token = catwalk_vault::new_token("cwt");
    let stored = app
        .store
        .create_api_token(&NewApiToken {
            user_id: &user.id,
            name,
            token_hash: &catwalk_vault::hash_token(&token),
            scopes: &scopes,
            expires_at,
        })
        .await?;
    let mut shown = json!(stored);
    shown["token"] = json!(token);
    shown["user"] = json!(user.username);
    Ok((StatusCode::CREATED, Json(shown)))
}

/// `DELETE /api/tokens/{id}`: revokes one of the caller's tokens (another user's: 404).
pub async fn revoke_token(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if app.store.revoke_api_token(&principal.user.id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "no live API token with id {id:?}"
        )))
    }
}

/// `GET /api/users` (admin).
pub async fn list_users(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(app.store.list_users().await?)))
}

/// `POST /api/users` (admin): a new user, with a password or without one (they then sign in
/// with an API token the admin makes for them, or by single sign-on).
pub async fn create_user(
    State(app): State<Arc<App>>,
    request: Result<Json<NewUser>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let request = body(request)?;
    auth::valid_username(&request.username).map_err(ApiError::bad_request)?;
    auth::valid_role(&request.role).map_err(ApiError::bad_request)?;
    let hash = match request.password {
        Some(password) => {
            passwords::check_policy(&password).map_err(ApiError::bad_request)?;
            Some(passwords::hash(password).await)
        }
        None => None,
    };
    let user = app
        .store
        .create_user(&request.username, &request.role, hash.as_deref())
        .await
        .map_err(conflict)?;
    Ok((StatusCode::CREATED, Json(json!(user))))
}

/// `PATCH /api/users/{username}` (admin): role and password.
pub async fn update_user(
    State(app): State<Arc<App>>,
    Path(username): Path<String>,
    request: Result<Json<UserChange>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let request = body(request)?;
    let user = user_named(&app, &username).await?;
    if let Some(role) = request.role {
        auth::valid_role(&role).map_err(ApiError::bad_request)?;
        if role != ADMIN && user.role == ADMIN {
            keep_an_admin(&app).await?;
        }
        app.store.set_role(&user.id, &role).await?;
    }
    if let Some(password) = request.password {
        set_password(&app, &user.id, password).await?;
    }
    Ok(Json(json!(user_named(&app, &username).await?)))
}

/// `DELETE /api/users/{username}` (admin): only once they own no deployment.
pub async fn delete_user(
    State(app): State<Arc<App>>,
    Path(username): Path<String>,
) -> ApiResult<StatusCode> {
    let user = user_named(&app, &username).await?;
    if user.role == ADMIN {
        keep_an_admin(&app).await?;
    }
    app.store.delete_user(&user.id).await.map_err(conflict)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn user_named(app: &App, username: &str) -> ApiResult<User> {
    app.store
        .get_user_by_name(username)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user named {username:?}")))
}

/// 409 when the change would leave Catwalk without an admin.
async fn keep_an_admin(app: &App) -> ApiResult<()> {
    if app.store.count_users_with_role(ADMIN).await? <= 1 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "last_admin",
            "Catwalk needs at least one admin: make another user admin first",
        ));
    }
    Ok(())
}

fn conflict(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
        other => other.into(),
    }
}
