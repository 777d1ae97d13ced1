//! Who is asking: users, their API tokens and browser sessions, and the checks every API request
//! passes (authentication, token scopes, CSRF for cookie sessions, admin-only routes).
//!
//! A request to `/api` carries either `Authorization: Bearer TOKEN` (an API token, for the CLI
//! and scripts) or the `catwalk_session` cookie (the dashboard). Cookie-authenticated requests
//! that change anything must also carry the session's CSRF token in `X-CSRF-Token` (or, for an
//! HTML form, a `csrf` field checked by the form's handler): a cross-site page can make the
//! browser send the cookie, never the token.

mod bootstrap;
pub mod passwords;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use catwalk_store::{Store, User};
use cookie::{Cookie, SameSite};

use crate::api::ApiError;
use crate::setup::App;
pub use bootstrap::{ADMIN_TOKEN_FILE, ensure_admin};

/// The cookie holding a browser session's id.
pub const SESSION_COOKIE: &str = "catwalk_session";
/// The header carrying a cookie session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a browser session lasts.
pub const SESSION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

pub const ADMIN: &str = "admin";
pub const MEMBER: &str = "member";
/// Scopes of API tokens: `read` allows GET requests, `write` everything else a user may do.
pub const SCOPES: [&str; 2] = ["read", "write"];

/// The user behind a request and how they proved it.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: User,
    pub via: Via,
}

#[derive(Clone, Debug)]
pub enum Via {
    Token { id: String, scopes: Vec<String> },
    Session { csrf_token: String },
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.user.role == ADMIN
    }

    /// The scopes this request acts with (a session has all of them).
    pub fn scopes(&self) -> Vec<String> {
        match &self.via {
            Via::Token { scopes, .. } => scopes.clone(),
            Via::Session { .. } => SCOPES.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// 404 unless the user owns the deployment: another user's deployment is not there for them.
    pub fn owns(&self, deployment: &catwalk_store::Deployment) -> bool {
        deployment.owner_id.as_deref() == Some(self.user.id.as_str())
    }
}

/// Authenticates every protected API request and checks its scope and CSRF token, leaving the
/// [`Principal`] in the request's extensions for the handlers.
pub async fn authenticate(
    State(app): State<Arc<App>>,
    mut request: Request,
    next: Next,
) -> Response {
    let principal = match principal_of(&app.store, request.headers()).await {
        Ok(Some(principal)) => principal,
        Ok(None) => {
            return ApiError::unauthorized(
                "sign in: send an API token as 'Authorization: Bearer TOKEN' (`catwalk login` \
                 makes one; the admin's is in the data directory's admin-token file)",
            )
            .into_response();
        }
        Err(error) => return error.into_response(),
    };
    if let Some(budget) = &app.api_budget {
        let key = match &principal.via {
            Via::Token { id, .. } => format!("token\n{id}"),
            Via::Session { .. } => format!("user\n{}", principal.user.id),
        };
        if let Err(retry_after) = budget.check(&key) {
            return ApiError::too_many_requests("this token's API budget is spent", retry_after)
                .into_response();
        }
    }
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if writes {
        match &principal.via {
            Via::Token { scopes, .. } if !scopes.iter().any(|s| s == "write") => {
                return ApiError::forbidden(
                    "this API token is read-only (its scopes lack `write`)",
                )
                .into_response();
            }
            Via::Session { csrf_token } if !csrf_matches(request.headers(), csrf_token) => {
                return ApiError::forbidden(
                    "missing or wrong X-CSRF-Token header (GET /api/me gives the session's)",
                )
                .into_response();
            }
            _ => {}
        }
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// Admin-only routes: members get 403 (the route exists; they may not use it).
pub async fn require_admin(request: Request, next: Next) -> Response {
    match request.extensions().get::<Principal>() {
        Some(principal) if principal.is_admin() => next.run(request).await,
        _ => ApiError::forbidden("only an admin may do this").into_response(),
    }
}

/// The principal of a bearer token or session cookie; `None` when neither is valid.
pub async fn principal_of(
    store: &Store,
    headers: &HeaderMap,
) -> Result<Option<Principal>, ApiError> {
    if let Some(token) = crate::api::bearer_token(headers) {
        let hash = catwalk_vault::hash_token(token);
        let Some((token, user)) = store.find_api_token(&hash).await? else {
            return Ok(None);
        };
        // Recorded to the minute, not per request: a write per call would cost more than the
        // call.
        let stale = catwalk_store::now_millis() - 60_000;
        if token.last_used_at.is_none_or(|at| at < stale) {
            let (store, id) = (store.clone(), token.id.clone());
            tokio::spawn(async move {
                if let Err(error) = store.touch_api_token(&id).await {
                    tracing::debug!(%error, "could not record an API token's use");
                }
            });
        }
        return Ok(Some(Principal {
            user,
            via: Via::Token {
                id: token.id,
                scopes: token.scopes,
            },
        }));
    }
    let Some(session_id) = session_cookie(headers) else {
        return Ok(None);
    };
    let hash = catwalk_vault::hash_token(&session_id);
    Ok(store
        .find_web_session(&hash)
        .await?
        .map(|session| Principal {
            user: session.user,
            via: Via::Session {
                csrf_token: session.csrf_token,
            },
        }))
}

/// The session id from the request's cookies.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE)
}

/// The value of the request's cookie `name`, if it sent one.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_string())
}

/// A `Set-Cookie` value for a cookie only Catwalk's own pages get back: path `/`, HttpOnly,
/// SameSite=Lax (it must come back on top-level navigations, such as a provider's redirect),
/// Secure over HTTPS, kept for `lifetime` (zero: removed).
pub fn private_cookie(
    name: &str,
    value: String,
    secure: bool,
    lifetime: std::time::Duration,
) -> String {
    Cookie::build((name.to_string(), value))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(lifetime.as_secs() as i64))
        .build()
        .to_string()
}

/// Whether the request's CSRF header equals the session's token (in constant time).
fn csrf_matches(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|given| same_secret(given, expected))
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(given: &str, expected: &str) -> bool {
    catwalk_vault::token_matches(given, &catwalk_vault::hash_token(expected))
}

/// Starts a browser session for `user`: stores it and returns the `Set-Cookie` value and the
/// session's CSRF token.
pub async fn start_session(
    store: &Store,
    user: &User,
    secure: bool,
) -> Result<(String, String), ApiError> {
    let session_id = catwalk_vault::new_token("cws");
    let csrf_token = catwalk_vault::new_token("csrf");
    let expires_at = catwalk_store::now_millis() + SESSION_LIFETIME.as_millis() as i64;
    store
        .create_web_session(
            &catwalk_vault::hash_token(&session_id),
            &user.id,
            &csrf_token,
            expires_at,
        )
        .await?;
    let cookie = private_cookie(SESSION_COOKIE, session_id, secure, SESSION_LIFETIME);
    Ok((cookie, csrf_token))
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn end_session_cookie(secure: bool) -> String {
    private_cookie(
        SESSION_COOKIE,
        String::new(),
        secure,
        std::time::Duration::ZERO,
    )
}

/// A username: what URLs and the CLI can carry without escaping.
pub fn valid_username(name: &str) -> Result<(), String> {
    let ok = is_plain_name(name) && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid username {name:?}: use 1 to 64 letters, digits, '-', '_' or '.', starting \
             with a letter or digit"
        ))
    }
}

/// 1 to 64 letters, digits, '-', '_' or '.': the names of users and access tokens.
pub fn is_plain_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub fn valid_role(role: &str) -> Result<(), String> {
    if role == ADMIN || role == MEMBER {
        Ok(())
    } else {
        Err(format!("unknown role {role:?}: use `admin` or `member`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_roles() {
        assert!(valid_username("ada.l-1_x").is_ok());
        for bad in ["", "-ada", "a/b", "ada lovelace", "é", &"a".repeat(65)] {
            assert!(valid_username(bad).is_err(), "{bad}");
        }
        assert!(valid_role("admin").is_ok() && valid_role("member").is_ok());
        assert!(valid_role("root").is_err());
    }

    #[test]
    fn session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; catwalk_session=cws_x; b=2".parse().unwrap(),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("cws_x"));
        headers.insert(header::COOKIE, "catwalk_sessionx=1".parse().unwrap());
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn session_cookies_are_http_only_and_same_site() {
        let cookie = end_session_cookie(true);
        for part in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=0"] {
            assert!(cookie.contains(part), "{cookie} lacks {part}");
        }
        assert!(!end_session_cookie(false).contains("Secure"));
    }
}
