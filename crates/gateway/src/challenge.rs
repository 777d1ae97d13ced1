//! Bearer tokens, the OAuth way (RFC 6750, RFC 9728), on every deployment route:
//! - a token in the query string (`?access_token=`) is refused with 400 before anything reads
//!   it: URLs end up in logs, histories and `Referer` headers, so the MCP authorization spec
//!   forbids them; tokens travel only in the `Authorization` header;
//! - a 401 names the deployment's Protected Resource Metadata in `WWW-Authenticate`
//!   (`resource_metadata`), from which an OAuth client discovers the authorization server, and
//!   says `error="invalid_token"` when the request did carry a token.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use catwalk_protocol::codes;

use crate::reply;

/// Catwalk's public base URL (`GatewayConfig::oauth_base_url`); `None`: plain challenges.
pub(crate) type BaseUrl = Arc<Option<String>>;

pub(crate) async fn check(State(base): State<BaseUrl>, request: Request, next: Next) -> Response {
    let carries_query_token = request.uri().query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some("access_token"))
    });
    if carries_query_token {
        let mut response = reply::error(
            StatusCode::BAD_REQUEST,
            codes::INVALID_REQUEST,
            "Bad Request: access tokens are accepted only in the Authorization header, never in \
             the URL",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer error=\"invalid_request\", error_description=\"token in query string\"",
            ),
        );
        return response;
    }
    let had_token = request.headers().contains_key(header::AUTHORIZATION);
    let deployment = deployment_of(request.uri().path()).map(str::to_string);
    let mut response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED
        && let (Some(base), Some(deployment)) = (base.as_deref(), deployment)
    {
        let mut challenge = format!(
            "Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource/s/{deployment}/mcp\""
        );
        if had_token {
            challenge.push_str(", error=\"invalid_token\"");
        }
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

/// The deployment name in `/s/{name}/…`.
fn deployment_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/s/")?;
    let name = rest.split('/').next()?;
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_names_come_from_the_path() {
        assert_eq!(deployment_of("/s/demo/mcp"), Some("demo"));
        assert_eq!(deployment_of("/s/demo/messages"), Some("demo"));
        assert_eq!(deployment_of("/s//mcp"), None);
        assert_eq!(deployment_of("/api/x"), None);
    }
}
