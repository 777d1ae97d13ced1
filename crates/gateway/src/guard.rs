//! DNS-rebinding protection: the `Origin` and `Host` of every request are checked against the
//! names Catwalk is reached by. A page on another site can make a browser send requests to
//! Catwalk, and a DNS rebinding attack can even make them look same-origin to the browser; the
//! headers the browser sends still name the attacker's site, so refusing them here stops both.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use catwalk_protocol::codes;

use crate::reply;

/// The names Catwalk may be reached by.
#[derive(Clone, Debug, Default)]
pub struct Guard {
    /// Origins (`scheme://host[:port]`) a browser may call from. A request whose `Origin` is not
    /// listed gets 403; a request without `Origin` (not from a browser page) passes.
    pub allowed_origins: Vec<String>,
    /// `Host` values (`host[:port]`) Catwalk answers to; empty: any. A request with another
    /// `Host` gets 403.
    pub allowed_hosts: Vec<String>,
}

impl Guard {
    fn refusal(&self, request: &Request) -> Option<&'static str> {
        let header = |name: header::HeaderName| {
            request
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap_or("\u{0}"))
        };
        if let Some(origin) = header(header::ORIGIN)
            && !listed(&self.allowed_origins, origin)
        {
            return Some("Forbidden: this Origin may not call Catwalk");
        }
        if !self.allowed_hosts.is_empty() {
            let host =
                header(header::HOST).or_else(|| request.uri().authority().map(|a| a.as_str()));
            if !host.is_some_and(|host| listed(&self.allowed_hosts, host)) {
                return Some(
                    "Forbidden: Catwalk does not answer to this Host name (see --public-url)",
                );
            }
        }
        None
    }
}

fn listed(allowed: &[String], value: &str) -> bool {
    allowed.iter().any(|a| a.eq_ignore_ascii_case(value))
}

/// The middleware: 403 with a JSON-RPC error body for a refused request.
pub async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    match guard.refusal(&request) {
        Some(message) => reply::error(StatusCode::FORBIDDEN, codes::INVALID_REQUEST, message),
        None => next.run(request).await,
    }
}
