//! Routing of what the server writes on stdout to the sessions that should see it.

use catwalk_protocol::{Id, Kind, Message, codes, raw};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::{Pending, Reply, ServerRequest, Upstream};

/// Reads the server's stdout until it closes, routing every message.
pub(crate) async fn read_loop(
    upstream: Upstream,
    mut from_server: mpsc::Receiver<String>,
    generation: u64,
) {
    while let Some(line) = from_server.recv().await {
        let message = match Message::parse(line.as_bytes()) {
            Ok(message) => message,
            Err(error) => {
                // Servers sometimes print banners on stdout; they are not protocol messages.
                tracing::warn!(%error, "ignoring a line the server wrote to stdout that is not JSON-RPC");
                continue;
            }
        };
        match message.kind() {
            Kind::Response => route_response(&upstream, message),
            Kind::Notification => route_notification(&upstream, message),
            Kind::Request => route_server_request(&upstream, message).await,
        }
    }
    upstream.interrupt(generation, "the server closed its output");
}

fn route_response(upstream: &Upstream, mut message: Message) {
    let Some(Id::Number(id)) = message.id else {
        tracing::warn!("the server answered a request Catwalk never sent");
        return;
    };
    let Some(pending) = upstream.state().pending.remove(&id) else {
        return;
    };
    message.id = Some(pending.client_id);
    pending.reply.deliver(message);
}

fn route_notification(upstream: &Upstream, mut message: Message) {
    if message.method.as_deref() == Some("notifications/progress") {
        let token = message.param::<Value>("progressToken");
        let mut state = upstream.state();
        let pending = token
            .as_ref()
            .and_then(Value::as_i64)
            .and_then(|id| state.pending.get_mut(&id));
        if let Some(Pending {
            reply: Reply::Stream(tx),
            progress_token: Some(original),
            last_activity,
            ..
        }) = pending
        {
            *last_activity = std::time::Instant::now();
            message.params = message
                .params
                .map(|params| replace_field(&params, "progressToken", original.clone()));
            let _ = tx.try_send(message);
        }
        return;
    }
    let state = upstream.state();
    let subscribers = match message.method.as_deref() {
        Some("notifications/resources/updated") => message
            .param::<String>("uri")
            .and_then(|uri| state.subscriptions.subscribers(&uri).cloned()),
        _ => None,
    };
    for (id, session) in &state.sessions {
        if subscribers.as_ref().is_some_and(|s| !s.contains(id)) {
            continue;
        }
        // A session whose standalone stream is full (nobody listening) misses the message, as it
        // would if it had no GET stream open at all.
        let _ = session.try_send(message.clone());
    }
}

async fn route_server_request(upstream: &Upstream, mut message: Message) {
    let upstream_id = message.id.clone().expect("a request has an id");
    let target = {
        let mut state = upstream.state();
        // The most recent request still in flight: its ids grow with time.
        let in_flight = state
            .pending
            .iter()
            .filter_map(|(id, p)| match (&p.reply, p.session) {
                (Reply::Stream(tx), Some(session)) => Some((*id, session, tx.clone())),
                _ => None,
            })
            .max_by_key(|(id, _, _)| *id);
        let target = match in_flight {
            Some((_, session, tx)) => Some((session, tx)),
            None => state
                .last_active_session
                .and_then(|s| state.sessions.get(&s).map(|tx| (s, tx.clone()))),
        };
        target.map(|(session, tx)| {
            state.next_server_request += 1;
            let client_facing = format!("catwalk-{}", state.next_server_request);
            state.server_requests.insert(
                client_facing.clone(),
                ServerRequest {
                    session,
                    upstream_id: upstream_id.clone(),
                },
            );
            (client_facing, tx)
        })
    };
    match target {
        Some((client_facing, tx)) => {
            message.id = Some(Id::String(client_facing));
            let _ = tx.try_send(message);
        }
        None => {
            let refusal = Message::error(
                Some(upstream_id),
                codes::METHOD_NOT_FOUND,
                "no client session is connected to answer this request",
            );
            upstream.send(&refusal).await;
        }
    }
}

/// `params` with `_meta.progressToken` set to the upstream request id.
pub(crate) fn set_progress_token(params: &RawValue, id: i64) -> Box<RawValue> {
    let mut value: Value = serde_json::from_str(params.get()).unwrap_or(Value::Null);
    if let Some(meta) = value.get_mut("_meta").and_then(Value::as_object_mut) {
        meta.insert("progressToken".into(), Value::from(id));
    }
    raw(&value)
}

/// A cancellation's params pointing at another request id.
pub(crate) fn with_request_id(message: &Message, id: Id) -> Box<RawValue> {
    let id = serde_json::to_value(id).expect("ids serialize");
    match message.params.as_deref() {
        Some(params) => replace_field(params, "requestId", id),
        None => raw(&serde_json::json!({ "requestId": id })),
    }
}

fn replace_field(params: &RawValue, field: &str, value: Value) -> Box<RawValue> {
    let mut object: serde_json::Map<String, Value> =
        serde_json::from_str(params.get()).unwrap_or_default();
    object.insert(field.into(), value);
    raw(&object)
}
