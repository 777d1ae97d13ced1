//! The HTTP+SSE transport of protocol version 2024-11-05, deprecated but still spoken by older
//! clients: `GET /s/{name}/sse` opens a stream whose first event (`endpoint`) names the URL to
//! POST messages to; every message from the server, responses included, then arrives on that
//! stream as an `event: message`. It sits beside the Streamable HTTP endpoint of the same
//! deployment and shares its bridge, guard and authentication.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use catwalk_bridge::{Outbox, Session};
use catwalk_protocol::{Kind, Message};
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::streamable::admit;
use crate::{Gateway, reply};

/// Messages queued for one legacy stream before the client is considered gone.
const QUEUE: usize = 256;

/// The open legacy streams, by session id.
#[derive(Default)]
pub struct LegacySessions {
    map: Mutex<HashMap<String, Arc<LegacySession>>>,
}

pub struct LegacySession {
    deployment: String,
    principal: String,
    bridge: Session,
    out: Outbox,
}

impl LegacySessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<LegacySession>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn forget_deployment(&self, deployment: &str) {
        self.lock().retain(|_, s| s.deployment != deployment);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Removes the session when its stream ends (the client went away).
struct Forget {
    gateway: Arc<Gateway>,
    id: String,
}

impl Drop for Forget {
    fn drop(&mut self) {
        self.gateway.legacy.lock().remove(&self.id);
    }
}

pub async fn open(
    State(gateway): State<Arc<Gateway>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let access = match admit(&gateway, &name, &headers).await {
        Ok(access) => access,
        Err(response) => return response,
    };
    let id = crate::sessions::unguessable_id();
    let (out, replies) = mpsc::channel(QUEUE);
    let upstream = match gateway
        .resolver
        .session_upstream(&name, &access, None)
        .await
    {
        Ok(upstream) => upstream,
        Err(refusal) => return crate::streamable::refused(refusal, &name),
    };
    let mut bridge = upstream.open_session();
    if let Some(observer) = gateway.resolver.call_observer(&name, &access.principal) {
        bridge.observe(observer);
    }
    let standalone = bridge
        .try_standalone()
        .expect("a new session's stream is free");
    gateway.legacy.lock().insert(
        id.clone(),
        Arc::new(LegacySession {
            deployment: name.clone(),
            principal: access.principal,
            bridge,
            out,
        }),
    );

    let endpoint = format!("/s/{name}/messages?sessionId={id}");
    let forget = Forget {
        gateway: gateway.clone(),
        id,
    };
    let replies = futures::stream::unfold(replies, |mut replies| async move {
        let message = replies.recv().await?;
        Some((message, replies))
    });
    let unsolicited = futures::stream::unfold(standalone, |mut standalone| async move {
        let message = standalone.recv().await?;
        Some((message, standalone))
    });
    let messages = futures::stream::select(replies, unsolicited).map(move |message| {
        // The stream owns the guard that forgets the session when the client disconnects.
        let _ = &forget;
        Ok::<_, Infallible>(Event::default().event("message").data(message.to_json()))
    });
    let first =
        futures::stream::once(async move { Ok(Event::default().event("endpoint").data(endpoint)) });
    // The stream ends when the server process does, so that the client reconnects.
    let messages = messages.take_until(async move { upstream.closed().await });
    Sse::new(first.chain(messages))
        .keep_alive(KeepAlive::new().interval(gateway.config.keep_alive))
        .into_response()
}

#[derive(Deserialize)]
pub struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

pub async fn post(
    State(gateway): State<Arc<Gateway>>,
    Path(name): Path<String>,
    Query(query): Query<SessionQuery>,
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
    let Some(id) = query.session_id else {
        return reply::bad_request("Bad Request: the sessionId query parameter is required");
    };
    let session = gateway.legacy.lock().get(&id).cloned();
    let Some(session) = session
        .filter(|s| s.deployment == name && s.principal == access.principal && !s.out.is_closed())
    else {
        return reply::session_not_found();
    };
    let message = match Message::parse(&body) {
        Ok(message) => message,
        Err(error) => {
            return reply::error(StatusCode::BAD_REQUEST, error.code(), &error.to_string());
        }
    };
    match message.kind() {
        Kind::Request => {
            let mut messages = session.bridge.request(message).await;
            let out = session.out.clone();
            tokio::spawn(async move {
                while let Some(message) = messages.recv().await {
                    if out.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
        Kind::Notification => session.bridge.notify(message).await,
        Kind::Response => session.bridge.respond(message).await,
    }
    (StatusCode::ACCEPTED, "Accepted").into_response()
}
