//! The Streamable HTTP handlers: POST (messages), GET (the server's own stream), DELETE (end).
//! A POST of the modern, stateless era (2026-07-28) is handed to [`crate::modern`].

// The checks below return the finished HTTP response as their error, once per request; boxing it
// would only add an allocation.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use catwalk_bridge::Inbox;
use catwalk_protocol::{Body, Id, Kind, Message, codes};
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::modern;
use crate::reply::{self, SESSION_HEADER};
use crate::resume::{self, ResumeError};
use crate::sessions::ClientSession;
use crate::{Access, Gateway, Refusal};

pub(crate) const VERSION_HEADER: &str = "mcp-protocol-version";
/// What the spec says to assume when a client sends no version header.
const DEFAULT_VERSION: &str = "2025-03-26";

pub async fn post(
    State(gateway): State<Arc<Gateway>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let access = match admit(&gateway, &name, &headers).await {
        Ok(access) => access,
        Err(response) => return response,
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return reply::body_rejected(&rejection, gateway.config.max_body_bytes),
    };
    if !accepts(&headers, "application/json") || !accepts(&headers, "text/event-stream") {
        return reply::error(
            StatusCode::NOT_ACCEPTABLE,
            codes::INVALID_REQUEST,
            "Not Acceptable: the client must accept both application/json and text/event-stream",
        );
    }
    if !is_json(&headers) {
        return reply::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::INVALID_REQUEST,
            "Unsupported Media Type: Content-Type must be application/json",
        );
    }
    let body = match Body::parse(&body) {
        Ok(body) => body,
        Err(error) => {
            return reply::error(StatusCode::BAD_REQUEST, error.code(), &error.to_string());
        }
    };
    // Errors about a single message answer its id, so that the client can match them.
    let request_id = match &body {
        Body::Single(message) => message.id.clone(),
        Body::Batch(_) => None,
    };
    let request_id = request_id.as_ref();
    let messages = match body {
        Body::Single(message) if modern::is_modern(&headers, &message) => {
            return modern::post(&gateway, &name, access, &headers, message).await;
        }
        Body::Single(message)
            if message.method.as_deref() == Some("initialize") && message.id.is_none() =>
        {
            return reply::bad_request("Bad Request: initialize is a request and needs an id");
        }
        Body::Single(message) if message.method.as_deref() == Some("initialize") => {
            if headers.contains_key(SESSION_HEADER) {
                return reply::bad_request_for(
                    request_id,
                    "Bad Request: initialize starts a new session; send it without Mcp-Session-Id",
                );
            }
            return initialize(&gateway, &name, access, message).await;
        }
        Body::Single(message) => vec![message],
        Body::Batch(messages) => messages,
    };
    let session = match session(&gateway, &name, &access, &headers, request_id) {
        Ok(session) => session,
        Err(response) => return response,
    };
    if let Err(response) = check_version(&headers, request_id) {
        return response;
    }
    if messages.len() > 1 && session.protocol_version != "2025-03-26" {
        return reply::bad_request(
            "Bad Request: JSON-RPC batches are only allowed in protocol version 2025-03-26",
        );
    }
    if messages
        .iter()
        .any(|m| m.method.as_deref() == Some("initialize"))
    {
        return reply::bad_request_for(
            request_id,
            "Bad Request: the session is already initialized",
        );
    }

    let mut streams = Vec::new();
    let mut ids = Vec::new();
    for message in messages {
        match message.kind() {
            Kind::Request => {
                ids.push(message.id.clone().expect("requests have ids"));
                streams.push(session.bridge.request(message).await);
            }
            Kind::Notification => session.bridge.notify(message).await,
            Kind::Response => session.bridge.respond(message).await,
        }
    }
    if streams.is_empty() {
        return reply::accepted();
    }
    answer(&session, streams, ids, gateway.config.keep_alive).await
}

/// The answer to a POST's requests: plain JSON when a single request's response is the first
/// thing the server sends; otherwise a resumable SSE stream carrying the related messages and
/// ending with the response(s).
async fn answer(
    session: &ClientSession,
    mut streams: Vec<Inbox>,
    ids: Vec<Id>,
    keep_alive: std::time::Duration,
) -> Response {
    let mut first = None;
    if let ([messages], [id]) = (streams.as_mut_slice(), ids.as_slice()) {
        match messages.recv().await {
            None => return reply::json(&reply::lost(id.clone())),
            Some(message) if message.kind() == Kind::Response => return reply::json(&message),
            Some(message) => first = Some(message),
        }
    }
    let merged = merge(streams);
    let stream = session.streams.record_requests(first, merged, ids);
    let priming = session.primes_streams().then(|| format!("{stream}-0"));
    reply::sse_events(session.streams.follow(stream), priming, keep_alive)
}

/// One channel carrying the messages of several requests.
fn merge(mut streams: Vec<Inbox>) -> Inbox {
    if streams.len() == 1 {
        return streams.pop().expect("one stream");
    }
    let (tx, rx) = mpsc::channel(64);
    for mut messages in streams {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(message) = messages.recv().await {
                if tx.send(message).await.is_err() {
                    return;
                }
            }
        });
    }
    rx
}

pub async fn get(
    State(gateway): State<Arc<Gateway>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let access = match admit(&gateway, &name, &headers).await {
        Ok(access) => access,
        Err(response) => return response,
    };
    if modern::is_modern_without_session(&headers) {
        return modern::method_not_allowed();
    }
    if !accepts(&headers, "text/event-stream") {
        return reply::error(
            StatusCode::NOT_ACCEPTABLE,
            codes::INVALID_REQUEST,
            "Not Acceptable: the client must accept text/event-stream",
        );
    }
    let session = match session(&gateway, &name, &access, &headers, None) {
        Ok(session) => session,
        Err(response) => return response,
    };
    if let Err(response) = check_version(&headers, None) {
        return response;
    }
    let last_event_id = header_str(&headers, "last-event-id");
    let (stream, events) = match session.streams.resume(last_event_id) {
        Ok(resumed) => resumed,
        Err(ResumeError::Malformed) => {
            return reply::bad_request(
                "Bad Request: Last-Event-ID is not an event id Catwalk sent",
            );
        }
        Err(ResumeError::Gone) => {
            return reply::bad_request(
                "Bad Request: the events after this Last-Event-ID are no longer kept",
            );
        }
    };
    let attached = if stream == resume::STANDALONE {
        match session.attach_standalone() {
            Some(attached) => Some(attached),
            None => {
                return reply::error(
                    StatusCode::CONFLICT,
                    codes::INVALID_REQUEST,
                    "Conflict: only one SSE stream is allowed per session",
                );
            }
        }
    } else {
        None
    };
    // The stream owns the attachment: when the client disconnects, another GET may attach.
    let events = events.map(move |event| {
        let _ = &attached;
        event
    });
    reply::sse_events(events, None, gateway.config.keep_alive)
}

pub async fn delete(
    State(gateway): State<Arc<Gateway>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let access = match admit(&gateway, &name, &headers).await {
        Ok(access) => access,
        Err(response) => return response,
    };
    if modern::is_modern_without_session(&headers) {
        return modern::method_not_allowed();
    }
    let session = match session(&gateway, &name, &access, &headers, None) {
        Ok(session) => session,
        Err(response) => return response,
    };
    let id = header_str(&headers, SESSION_HEADER).unwrap_or_default();
    gateway.sessions.remove(id);
    drop(session);
    StatusCode::OK.into_response()
}

async fn initialize(gateway: &Gateway, name: &str, access: Access, message: Message) -> Response {
    let id = message.id.clone().expect("initialize is a request");
    let upstream = match gateway
        .resolver
        .session_upstream(name, &access, message.params.as_deref())
        .await
    {
        Ok(upstream) => upstream,
        Err(refusal) => return refused(refusal, name),
    };
    let mut bridge = upstream.open_session();
    if let Some(observer) = gateway.resolver.call_observer(name, &access.principal) {
        bridge.observe(observer);
    }
    let mut answer = bridge.request(message).await;
    let Some(response) = answer.recv().await else {
        return reply::json(&Message::error(
            Some(id),
            codes::SERVER_UNAVAILABLE,
            "the MCP server stopped before answering",
        ));
    };
    if response.error.is_some() {
        return reply::json(&response);
    }
    let version = response
        .result_field::<String>("protocolVersion")
        .unwrap_or_else(|| DEFAULT_VERSION.to_string());
    let session_id = gateway
        .sessions
        .create(name, &access.principal, version, bridge);
    reply::with_session(reply::json(&response), &session_id)
}

/// Authentication through the resolver (Origin and Host were checked by the guard layer).
pub(crate) async fn admit(
    gateway: &Gateway,
    name: &str,
    headers: &HeaderMap,
) -> Result<Access, Response> {
    let token = header_str(headers, header::AUTHORIZATION.as_str()).and_then(|value| {
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let access = gateway
        .resolver
        .resolve(name, token)
        .await
        .map_err(|refusal| refused(refusal, name))?;
    gateway
        .limiter
        .check(name, &access.principal)
        .map_err(|exhausted| reply::rate_limited(&exhausted))?;
    Ok(access)
}

/// The HTTP answer to a refusal.
pub(crate) fn refused(refusal: Refusal, name: &str) -> Response {
    match refusal {
        Refusal::Unauthorized => reply::unauthorized(),
        Refusal::NotFound => reply::error(
            StatusCode::NOT_FOUND,
            codes::INVALID_REQUEST,
            &format!("Not Found: no deployment named {name:?}"),
        ),
        Refusal::Unavailable(reason) => reply::error(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::SERVER_UNAVAILABLE,
            &format!("Service Unavailable: the deployment's server is not running ({reason})"),
        ),
    }
}

/// The client's session; `request_id` is the id of the request being answered, if known.
fn session(
    gateway: &Gateway,
    name: &str,
    access: &Access,
    headers: &HeaderMap,
    request_id: Option<&Id>,
) -> Result<Arc<ClientSession>, Response> {
    let Some(id) = header_str(headers, SESSION_HEADER) else {
        return Err(reply::bad_request_for(
            request_id,
            "Bad Request: Mcp-Session-Id header is required (send initialize first)",
        ));
    };
    gateway
        .sessions
        .find(id, name, &access.principal)
        .ok_or_else(|| reply::session_not_found_for(request_id))
}

/// A missing header means 2025-03-26 (the spec's default); another supported version than the
/// session's is let through, since the messages Catwalk relays are the same.
fn check_version(headers: &HeaderMap, request_id: Option<&Id>) -> Result<(), Response> {
    match header_str(headers, VERSION_HEADER) {
        Some(version) if !catwalk_protocol::is_supported_version(version) => {
            Err(reply::bad_request_for(
                request_id,
                &format!(
                    "Bad Request: Unsupported protocol version: {version} (supported versions: {})",
                    catwalk_protocol::SUPPORTED_VERSIONS.join(", ")
                ),
            ))
        }
        _ => Ok(()),
    }
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    headers.get_all(header::ACCEPT).iter().any(|value| {
        value.to_str().unwrap_or("").split(',').any(|item| {
            let item = item.split(';').next().unwrap_or("").trim();
            item.eq_ignore_ascii_case(media_type) || item == "*/*"
        })
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    header_str(headers, header::CONTENT_TYPE.as_str())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}
