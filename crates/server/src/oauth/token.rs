//! `POST /oauth/token`: a code (with its PKCE verifier) or a refresh token for a new access token
//! and a new refresh token. Public clients only: the client identifies itself with `client_id`
//! (in the body, or as the user of HTTP Basic); there is no secret to check.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use catwalk_store::{Consumed, OAUTH_ACCESS, OAUTH_REFRESH, OAuthGrant, now_millis};
use serde::Deserialize;
use serde_json::json;

use super::rules::{deployment_of_resource, pkce_s256_matches};
use crate::setup::App;

#[derive(Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    resource: Option<String>,
    // Accepted and ignored: a public client has no secret, and a scope cannot widen a grant.
    #[serde(default, rename = "client_secret")]
    _client_secret: Option<String>,
    #[serde(default, rename = "scope")]
    _scope: Option<String>,
}

pub async fn token(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // Parsed by hand: a repeated parameter is an error (OAuth 2.1, section 3.2), and axum's
    // rejection would not be an OAuth error body.
    let request: TokenRequest = match serde_urlencoded::from_bytes(&body) {
        Ok(request) => request,
        Err(e) => return error("invalid_request", &format!("malformed request: {e}")),
    };
    let Some(client_id) = request.client_id.clone().or_else(|| basic_user(&headers)) else {
        return error_with(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id is required",
        );
    };
    let outcome = match request.grant_type.as_deref() {
        Some("authorization_code") => exchange_code(&app, &client_id, &request).await,
        Some("refresh_token") => refresh(&app, &client_id, &request).await,
        Some(other) => Err(Refused::new(
            "unsupported_grant_type",
            format!("grant_type {other:?} is not supported"),
        )),
        None => Err(Refused::new("invalid_request", "grant_type is required")),
    };
    match outcome {
        Ok(grant) => match issue(&app, &grant).await {
            Ok(response) => response,
            Err(e) => internal(e),
        },
        Err(refused) if refused.code == "server_error" => internal(refused.message),
        Err(refused) => error(refused.code, &refused.message),
    }
}

struct Refused {
    code: &'static str,
    message: String,
}

impl Refused {
    fn new(code: &'static str, message: impl Into<String>) -> Refused {
        Refused {
            code,
            message: message.into(),
        }
    }
}

impl From<catwalk_store::StoreError> for Refused {
    fn from(error: catwalk_store::StoreError) -> Refused {
        Refused::new("server_error", error.to_string())
    }
}

async fn exchange_code(
    app: &App,
    client_id: &str,
    request: &TokenRequest,
) -> Result<OAuthGrant, Refused> {
    let (Some(code), Some(verifier)) = (&request.code, &request.code_verifier) else {
        return Err(Refused::new(
            "invalid_request",
            "code and code_verifier are required",
        ));
    };
    let code_hash = catwalk_vault::hash_token(code);
    // Consumed before it is checked: a stolen code tried without its verifier is spent.
    let stored = match app.store.consume_oauth_code(&code_hash).await? {
        Consumed::Fresh(stored) => stored,
        Consumed::Unknown => {
            return Err(Refused::new(
                "invalid_grant",
                "the code is unknown or expired",
            ));
        }
        Consumed::Replayed => {
            return Err(Refused::new(
                "invalid_grant",
                "the code was used before; the tokens issued for it are revoked",
            ));
        }
    };
    if stored.client_id != client_id {
        return Err(Refused::new(
            "invalid_grant",
            "the code was issued to another client",
        ));
    }
    if request.redirect_uri.as_deref() != Some(stored.redirect_uri.as_str()) {
        return Err(Refused::new(
            "invalid_grant",
            "redirect_uri differs from the authorization request's",
        ));
    }
    if !pkce_s256_matches(verifier, &stored.code_challenge) {
        return Err(Refused::new(
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        ));
    }
    same_resource(app, request.resource.as_deref(), &stored.resource)?;
    Ok(app.store.create_oauth_grant(&code_hash, &stored).await?)
}

async fn refresh(
    app: &App,
    client_id: &str,
    request: &TokenRequest,
) -> Result<OAuthGrant, Refused> {
    let Some(token) = &request.refresh_token else {
        return Err(Refused::new("invalid_request", "refresh_token is required"));
    };
    let hash = catwalk_vault::hash_token(token);
    let grant = match app.store.consume_oauth_refresh_token(&hash).await? {
        Consumed::Fresh(grant) => grant,
        Consumed::Unknown => {
            return Err(Refused::new(
                "invalid_grant",
                "the refresh token is unknown, expired or revoked",
            ));
        }
        Consumed::Replayed => {
            return Err(Refused::new(
                "invalid_grant",
                "the refresh token was used before; every token of its grant is revoked",
            ));
        }
    };
    if grant.client_id != client_id {
        app.store.revoke_oauth_grant(&grant.id).await?;
        return Err(Refused::new(
            "invalid_grant",
            "the refresh token was issued to another client",
        ));
    }
    same_resource(app, request.resource.as_deref(), &grant.resource)?;
    Ok(grant)
}

/// A `resource` sent at the token endpoint must name the deployment of the grant (RFC 8707,
/// section 2.2: a token for another resource would be a wider one).
fn same_resource(app: &App, requested: Option<&str>, granted: &str) -> Result<(), Refused> {
    let Some(requested) = requested else {
        return Ok(());
    };
    let issuer = &app.public_url;
    let same = requested == granted
        || deployment_of_resource(issuer, requested).is_some_and(|name| {
            deployment_of_resource(issuer, granted).is_some_and(|granted| granted == name)
        });
    if same {
        Ok(())
    } else {
        Err(Refused::new(
            "invalid_target",
            "resource differs from the one the authorization was granted for",
        ))
    }
}

/// A new access token and a new refresh token for the grant.
async fn issue(app: &App, grant: &OAuthGrant) -> Result<Response, catwalk_store::StoreError> {
    let now = now_millis();
    let access = catwalk_vault::new_token(super::ACCESS_TOKEN_PREFIX);
    let refresh = catwalk_vault::new_token(super::REFRESH_TOKEN_PREFIX);
    let access_lifetime = super::ACCESS_TOKEN_LIFETIME.as_millis() as i64;
    let refresh_lifetime = super::REFRESH_TOKEN_LIFETIME.as_millis() as i64;
    app.store
        .create_oauth_token(
            &catwalk_vault::hash_token(&access),
            &grant.id,
            OAUTH_ACCESS,
            now + access_lifetime,
        )
        .await?;
    app.store
        .create_oauth_token(
            &catwalk_vault::hash_token(&refresh),
            &grant.id,
            OAUTH_REFRESH,
            now + refresh_lifetime,
        )
        .await?;
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": super::ACCESS_TOKEN_LIFETIME.as_secs(),
        "refresh_token": refresh,
    });
    if let Some(scope) = &grant.scope {
        body["scope"] = scope.clone().into();
    }
    Ok(no_store((StatusCode::OK, Json(body)).into_response()))
}

/// The user part of `Authorization: Basic` (client_secret_basic clients send their id there).
fn basic_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, _) = decoded.split_once(':')?;
    let user = percent_encoding::percent_decode_str(user)
        .decode_utf8()
        .ok()?
        .into_owned();
    (!user.is_empty()).then_some(user)
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn error(code: &str, message: &str) -> Response {
    error_with(StatusCode::BAD_REQUEST, code, message)
}

fn error_with(status: StatusCode, code: &str, message: &str) -> Response {
    no_store(
        (
            status,
            Json(json!({ "error": code, "error_description": message })),
        )
            .into_response(),
    )
}

fn internal(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "the OAuth token endpoint failed");
    error_with(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "Catwalk hit an internal error",
    )
}
