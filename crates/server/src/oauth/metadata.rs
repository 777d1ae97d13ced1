//! The discovery documents: Protected Resource Metadata (RFC 9728) for each deployment, and the
//! authorization server metadata (RFC 8414).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::setup::App;

/// `GET /.well-known/oauth-authorization-server`: what this authorization server supports. The
/// issuer is Catwalk's public URL, with no path, so this is the only well-known location clients
/// try first (RFC 8414, section 3; OpenID discovery is not offered: Catwalk issues no ID tokens).
pub async fn authorization_server(State(app): State<Arc<App>>) -> Json<Value> {
    let issuer = &app.public_url;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "registration_endpoint": format!("{issuer}/oauth/register"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": true,
    }))
}

/// `GET /.well-known/oauth-protected-resource/s/{name}/mcp` (and `/sse`): the metadata of one
/// deployment's endpoint. It is served for any well-formed name, existing or not, so it tells
/// nobody which deployments exist.
pub async fn protected_resource(
    State(app): State<Arc<App>>,
    Path((name, endpoint)): Path<(String, String)>,
) -> Response {
    let resource = format!("{}/s/{name}/{endpoint}", app.public_url);
    if super::rules::deployment_of_resource(&app.public_url, &resource).is_none() {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "not_found"}))).into_response();
    }
    Json(resource_metadata(&app.public_url, &resource)).into_response()
}

/// `GET /.well-known/oauth-protected-resource`: the root form (RFC 9728, section 3). Catwalk as a
/// whole is no resource a token is issued for: an authorization request must name one
/// deployment's endpoint, which each 401 points at (`resource_metadata`).
pub async fn protected_resource_root(State(app): State<Arc<App>>) -> Json<Value> {
    Json(resource_metadata(&app.public_url, &app.public_url))
}

fn resource_metadata(issuer: &str, resource: &str) -> Value {
    json!({
        "resource": resource,
        "authorization_servers": [issuer],
        "bearer_methods_supported": ["header"],
        "resource_name": "Catwalk MCP deployment",
    })
}
