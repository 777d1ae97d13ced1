//! Routing of what the server writes on stdout to the sessions that should see it.

use catwalk_protocol::{Id, Kind, Message, codes, raw};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::{Owner, Pending, Reply, ServerOutput, ServerRequest, Upstream};

/// Reads the server's stdout until it closes, routing every message.
pub(crate) async fn read_loop(
    upstream: Upstream,
    mut from_server: Box<dyn ServerOutput>,
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

fn route_response(upstream: &Upstream, message: Message) {
    let Some(Id::Number(id)) = message.id else {
        tracing::warn!("the server answered a request Catwalk never sent");
        return;
    };
    let mut state = upstream.state();
    let Some(pending) = state.pending.remove(&id) else {
        return;
    };
    if message.error.is_some()
        && let (Some(uri), Some(session)) = (&pending.subscribing, pending.session)
    {
        // The server refused the subscription: nobody holds it.
        state.subscriptions.unsubscribe(uri, session);
    }
    drop(state);
    pending.finish(message);
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
            let _ = tx.try_send(Box::new(message));
        }
        return;
    }
    let state = upstream.state();
    if message.method.as_deref() == Some("notifications/message") {
        // A log line while requests run concerns one of them: it goes to that request's stream
        // when only one session has requests in flight, and nowhere when several do (it could
        // carry one client's data to another). With nothing in flight it goes to every session.
        match state.owner_of_unsolicited() {
            Owner::Request(_, tx) => {
                let _ = tx.try_send(Box::new(message));
                return;
            }
            Owner::Ambiguous => return,
            Owner::Idle(..) | Owner::Nobody => {}
        }
    }
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
        let _ = session.try_send(Box::new(message.clone()));
    }
}

async fn route_server_request(upstream: &Upstream, mut message: Message) {
    let upstream_id = message.id.clone().expect("a request has an id");
    let needed = message.method.as_deref().and_then(capability_for);
    let target = {
        let mut state = upstream.state();
        let target = match state.owner_of_unsolicited() {
            Owner::Request(session, tx) | Owner::Idle(session, tx) => Ok(Some((session, tx))),
            Owner::Ambiguous => Err(
                "several clients have calls in flight on this server, so Catwalk cannot tell \
                 which one this request is for (a deployment with a process per session avoids \
                 this)"
                    .to_string(),
            ),
            Owner::Nobody => Ok(None),
        };
        match target {
            Err(reason) => Err(reason),
            Ok(Some((session, _))) if needed.is_some_and(|c| !state.declared(session, c)) => {
                Err(format!(
                    "the client of this request did not declare the {} capability",
                    needed.unwrap_or_default()
                ))
            }
            Ok(Some((session, tx))) => {
                state.next_server_request += 1;
                let client_facing = format!("catwalk-{}", state.next_server_request);
                state.server_requests.insert(
                    client_facing.clone(),
                    ServerRequest {
                        session,
                        upstream_id: upstream_id.clone(),
                    },
                );
                Ok((client_facing, tx))
            }
            Ok(None) => Err("no client session is connected to answer this request".to_string()),
        }
    };
    match target {
        Ok((client_facing, tx)) => {
            message.id = Some(Id::String(client_facing));
            let _ = tx.try_send(Box::new(message));
        }
        Err(reason) => refuse(upstream, upstream_id, &reason).await,
    }
}

/// Answers a server's request with an error, since no client may answer it.
async fn refuse(upstream: &Upstream, id: Id, reason: &str) {
    let refusal = Message::error(Some(id), codes::METHOD_NOT_FOUND, reason);
    upstream.send(&refusal).await;
}

/// The client capability a server-to-client request needs.
fn capability_for(method: &str) -> Option<&'static str> {
    match method {
        "sampling/createMessage" => Some("sampling"),
        "elicitation/create" => Some("elicitation"),
        "roots/list" => Some("roots"),
        _ => None,
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
