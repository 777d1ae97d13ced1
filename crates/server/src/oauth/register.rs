//! `POST /oauth/register`: Dynamic Client Registration (RFC 7591), for clients that do not use a
//! Client ID Metadata Document. Every client is public (`token_endpoint_auth_method: none`, no
//! secret): PKCE protects its codes, and a secret a desktop app ships is no secret.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::rules::registrable_redirect_uri;
use crate::setup::App;

/// Registrations are unauthenticated, so their number is capped.
const MAX_CLIENTS: i64 = 10_000;
const MAX_REDIRECT_URIS: usize = 20;
const MAX_TEXT: usize = 2048;

pub async fn register(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => return error("invalid_client_metadata", "the body must be a JSON object"),
    };
    let metadata = match registered_metadata(&request) {
        Ok(metadata) => metadata,
        Err((code, message)) => return error(code, &message),
    };
    match app.store.count_oauth_clients().await {
        Ok(n) if n >= MAX_CLIENTS => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": "temporarily_unavailable",
                    "error_description": "too many registered clients"})),
            )
                .into_response();
        }
        Ok(_) => {}
        Err(error) => return internal(error),
    }
    let client_id = uuid::Uuid::new_v4().to_string();
    let text = Value::Object(metadata.clone()).to_string();
    if let Err(error) = app.store.create_oauth_client(&client_id, &text).await {
        return internal(error);
    }
    let mut answer = metadata;
    answer.insert("client_id".into(), client_id.into());
    answer.insert(
        "client_id_issued_at".into(),
        (catwalk_store::now_millis() / 1000).into(),
    );
    let mut response = (StatusCode::CREATED, Json(Value::Object(answer))).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The metadata Catwalk registers: the client's, checked, with what Catwalk supports filled in
/// or substituted (RFC 7591, section 3.2.1 lets the server replace requested values).
fn registered_metadata(request: &Value) -> Result<Map<String, Value>, (&'static str, String)> {
    let invalid = |message: String| ("invalid_client_metadata", message);
    let redirect_uris = request
        .get("redirect_uris")
        .and_then(Value::as_array)
        .filter(|uris| !uris.is_empty())
        .ok_or_else(|| {
            (
                "invalid_redirect_uri",
                "redirect_uris must list at least one URI".to_string(),
            )
        })?;
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(invalid(format!(
            "at most {MAX_REDIRECT_URIS} redirect_uris"
        )));
    }
    let mut uris = Vec::new();
    for uri in redirect_uris {
        let Some(uri) = uri.as_str().filter(|u| u.len() <= MAX_TEXT) else {
            return Err(("invalid_redirect_uri", "redirect_uris must be URIs".into()));
        };
        registrable_redirect_uri(uri).map_err(|m| ("invalid_redirect_uri", m))?;
        uris.push(Value::from(uri));
    }
    let list =
        |key: &str, allowed: &[&str], default: &[&str]| -> Result<Value, (&'static str, String)> {
            match request.get(key) {
                None | Some(Value::Null) => Ok(json!(default)),
                Some(Value::Array(items)) => {
                    for item in items {
                        if !item.as_str().is_some_and(|s| allowed.contains(&s)) {
                            return Err(invalid(format!(
                                "{key}: {item} is not supported (supported: {})",
                                allowed.join(", ")
                            )));
                        }
                    }
                    Ok(Value::Array(items.clone()))
                }
                Some(_) => Err(invalid(format!("{key} must be a list"))),
            }
        };
    let grant_types = list(
        "grant_types",
        &["authorization_code", "refresh_token"],
        &["authorization_code", "refresh_token"],
    )?;
    let response_types = list("response_types", &["code"], &["code"])?;

    let mut metadata = Map::new();
    metadata.insert("redirect_uris".into(), Value::Array(uris));
    metadata.insert("grant_types".into(), grant_types);
    metadata.insert("response_types".into(), response_types);
    metadata.insert("token_endpoint_auth_method".into(), "none".into());
    for key in [
        "client_name",
        "client_uri",
        "scope",
        "software_id",
        "software_version",
    ] {
        match request.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.len() <= MAX_TEXT => {
                metadata.insert(key.into(), s.clone().into());
            }
            Some(_) => return Err(invalid(format!("{key} must be a string"))),
        }
    }
    if let Some(uri) = metadata.get("client_uri").and_then(Value::as_str)
        && !uri.starts_with("https://")
        && !uri.starts_with("http://")
    {
        return Err(invalid("client_uri must be an http(s) URL".into()));
    }
    match request.get("application_type").and_then(Value::as_str) {
        Some(kind @ ("native" | "web")) => {
            metadata.insert("application_type".into(), kind.into());
        }
        None => {}
        Some(other) => {
            return Err(invalid(format!(
                "application_type {other:?} is not supported (native or web)"
            )));
        }
    }
    Ok(metadata)
}

fn error(code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": code, "error_description": message })),
    )
        .into_response()
}

fn internal(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "OAuth client registration failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": "server_error"})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_fills_in_and_substitutes() {
        let metadata = registered_metadata(&json!({
            "redirect_uris": ["http://localhost:6274/oauth/callback"],
            "client_name": "MCP Inspector",
            "token_endpoint_auth_method": "client_secret_basic",
            "application_type": "native",
        }))
        .unwrap();
        assert_eq!(metadata["token_endpoint_auth_method"], "none");
        assert_eq!(
            metadata["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(metadata["client_name"], "MCP Inspector");
        assert_eq!(metadata["application_type"], "native");
    }

    #[test]
    fn registration_refuses_bad_metadata() {
        for (request, code) in [
            (json!({}), "invalid_redirect_uri"),
            (json!({"redirect_uris": []}), "invalid_redirect_uri"),
            (
                json!({"redirect_uris": ["http://evil.example/cb"]}),
                "invalid_redirect_uri",
            ),
            (
                json!({"redirect_uris": ["javascript:alert(1)"]}),
                "invalid_redirect_uri",
            ),
            (
                json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": ["https://a.example/cb"], "client_uri": "javascript:x"}),
                "invalid_client_metadata",
            ),
        ] {
            assert_eq!(
                registered_metadata(&request).unwrap_err().0,
                code,
                "{request}"
            );
        }
    }
}
