//! Turning messages into HTTP responses: JSON bodies, SSE streams, and errors.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use catwalk_protocol::{Id, Message, codes};
use futures::{Stream, StreamExt};

pub const SESSION_HEADER: &str = "mcp-session-id";

/// An HTTP error whose body is a JSON-RPC error without an id, as the transport spec allows.
pub fn error(status: StatusCode, code: i64, message: &str) -> Response {
    error_for(status, None, code, message)
}

/// The answer to a body that could not be read: 413 for one over the size limit.
pub(crate) fn body_rejected(
    rejection: &axum::extract::rejection::BytesRejection,
    limit: usize,
) -> Response {
    let status = rejection.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!(
            "Payload Too Large: the request body is over this endpoint's limit of {limit} bytes"
        )
    } else {
        format!(
            "Bad Request: the request body could not be read ({})",
            rejection.body_text()
        )
    };
    error(status, codes::INVALID_REQUEST, &message)
}

/// 429 for a request over a rate limit, with `Retry-After` in whole seconds (at least 1).
pub(crate) fn rate_limited(exhausted: &crate::limits::Exhausted) -> Response {
    let seconds = exhausted.retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        codes::RATE_LIMITED,
        &format!(
            "Too Many Requests: {} budget of requests per minute is spent; retry after {seconds} s",
            exhausted.budget
        ),
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&seconds.to_string()).expect("digits are a valid header value"),
    );
    response
}

/// An HTTP error whose body is a JSON-RPC error answering the request with this id, when the
/// request could be read (clients match errors to requests by id).
pub fn error_for(status: StatusCode, id: Option<&Id>, code: i64, message: &str) -> Response {
    json_with_status(status, &Message::error(id.cloned(), code, message))
}

/// An HTTP response carrying one JSON-RPC message with the given status.
pub fn json_with_status(status: StatusCode, message: &Message) -> Response {
    let body = message.to_json();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

pub fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, codes::INVALID_REQUEST, message)
}

pub fn bad_request_for(id: Option<&Id>, message: &str) -> Response {
    error_for(StatusCode::BAD_REQUEST, id, codes::INVALID_REQUEST, message)
}

pub fn unauthorized() -> Response {
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        codes::INVALID_REQUEST,
        "Unauthorized: send the deployment's access token as 'Authorization: Bearer TOKEN'",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"catwalk\""),
    );
    response
}

pub fn session_not_found() -> Response {
    session_not_found_for(None)
}

pub fn session_not_found_for(id: Option<&Id>) -> Response {
    error_for(
        StatusCode::NOT_FOUND,
        id,
        codes::INVALID_REQUEST,
        "Session not found: it ended or never existed; send a new initialize request",
    )
}

pub fn json(message: &Message) -> Response {
    json_with_status(StatusCode::OK, message)
}

pub fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

pub fn with_session(mut response: Response, session_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(session_id) {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    response
}

/// An SSE stream of recorded, resumable events (see [`crate::resume`]), after a priming event
/// (an id with empty data, which a 2025-11-25 client may resume from) when one is given.
pub fn sse_events(
    events: impl Stream<Item = crate::resume::Event> + Send + 'static,
    priming: Option<String>,
    keep_alive: Duration,
) -> Response {
    let priming = priming.map(|id| {
        Ok::<_, Infallible>(
            Event::default()
                .id(id)
                .retry(Duration::from_secs(1))
                .data(""),
        )
    });
    let events = futures::stream::iter(priming).chain(events.map(|event| {
        Ok::<_, Infallible>(
            Event::default()
                .id(event.id)
                .event("message")
                .data(&*event.data),
        )
    }));
    streaming(Sse::new(events).keep_alive(KeepAlive::new().interval(keep_alive)))
}

pub fn sse(
    messages: impl Stream<Item = Message> + Send + 'static,
    keep_alive: Duration,
) -> Response {
    let events = messages.map(|message| {
        Ok::<_, Infallible>(Event::default().event("message").data(message.to_json()))
    });
    streaming(Sse::new(events).keep_alive(KeepAlive::new().interval(keep_alive)))
}

fn streaming(sse: impl IntoResponse) -> Response {
    let mut response = sse.into_response();
    // Proxies such as nginx would otherwise hold the stream back.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The error a request gets when its stream ends without an answer (the bridge dropped it).
pub(crate) fn lost(id: Id) -> Message {
    Message::error(
        Some(id),
        codes::SERVER_UNAVAILABLE,
        "the MCP server stopped before answering",
    )
}
