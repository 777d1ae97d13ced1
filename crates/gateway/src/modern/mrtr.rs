//! Multi round-trip requests (MRTR) in front of a legacy server.
//!
//! A legacy server asks its client for input with a request of its own (elicitation, sampling,
//! roots) while the client's request waits. A 2026-07-28 client cannot receive requests:
//! instead its request ends with an `input_required` result listing what the server asks, and
//! the client retries the request with `inputResponses`.
//!
//! Catwalk bridges the two by keeping the upstream request waiting (parked, with its bridge
//! session) and handing the client a `requestState` that names it: 256 random bits, meaningless
//! outside this Catwalk process. The retry must come from the same principal, for the same
//! deployment, method and name; its answer then goes to the upstream as the response to its
//! request, and the retry's answer is whatever the upstream does next (its result, or another
//! `input_required`). A retry without the answer gets the same question again, under a new
//! `requestState` (as SEP-2322 recommends, rather than an error). A parked request nobody
//! retries is cancelled upstream after [`crate::GatewayConfig::input_timeout`].
//!
//! The state is held in memory, not encoded in `requestState`: a legacy server's waiting request
//! lives in its process, so a retry can only ever succeed against this Catwalk instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::StatusCode;
use catwalk_protocol::{Id, Message, raw};
use serde_json::{Map, Value, json};

use super::forward::{Context, Exchange};
use super::{Call, Rejection};

struct Waiting {
    deployment: String,
    principal: String,
    /// The key of the input request in `inputRequests`: the id the bridge gave the upstream's
    /// request, under which its answer goes back.
    key: String,
    /// The entry of `inputRequests` (the server's request without its id).
    input: Value,
    exchange: Exchange,
}

/// What a retry leads to.
pub(crate) enum Resumed {
    /// The client's input went upstream; the request goes on.
    Continue(Exchange),
    /// The retry did not answer: the same question again, as the answer to the retry.
    Again(Message),
}

/// Requests waiting for a client's retry, by `requestState`.
#[derive(Default)]
pub(crate) struct Parked {
    map: Mutex<HashMap<String, Waiting>>,
}

impl Parked {
    pub(crate) fn forget_deployment(&self, deployment: &str) {
        // Dropping an exchange cancels its request upstream; do it outside the lock.
        let gone: Vec<Waiting> = {
            let mut map = self.lock();
            let tokens: Vec<String> = map
                .iter()
                .filter(|(_, w)| w.deployment == deployment)
                .map(|(token, _)| token.clone())
                .collect();
            tokens.iter().filter_map(|t| map.remove(t)).collect()
        };
        drop(gone);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn remove(&self, token: &str) {
        let gone = self.lock().remove(token);
        drop(gone);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Waiting>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Parks the exchange and returns the `input_required` answer to the client's request.
pub(crate) fn park(
    context: &Context,
    exchange: Exchange,
    request: Message,
    reply_id: Id,
) -> Message {
    let key = match &request.id {
        Some(Id::String(key)) => key.clone(),
        Some(Id::Number(number)) => number.to_string(),
        None => unreachable!("a server-to-client request has an id"),
    };
    let mut input_request = Map::new();
    input_request.insert(
        "method".into(),
        json!(request.method.as_deref().unwrap_or_default()),
    );
    if let Some(params) = &request.params
        && let Ok(params) = serde_json::from_str::<Value>(params.get())
    {
        input_request.insert("params".into(), params);
    }
    park_input(
        context,
        exchange,
        key,
        Value::Object(input_request),
        reply_id,
    )
}

fn park_input(
    context: &Context,
    exchange: Exchange,
    key: String,
    input: Value,
    reply_id: Id,
) -> Message {
    let token = crate::sessions::unguessable_id();
    context.gateway.modern.parked.lock().insert(
        token.clone(),
        Waiting {
            deployment: context.deployment.clone(),
            principal: context.principal.clone(),
            key: key.clone(),
            input: input.clone(),
            exchange,
        },
    );
    let gateway = Arc::downgrade(&context.gateway);
    let timeout = context.gateway.config.input_timeout;
    let expiring = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        if let Some(gateway) = gateway.upgrade() {
            gateway.modern.parked.remove(&expiring);
        }
    });
    let mut requests = Map::new();
    requests.insert(key, input);
    let result = context
        .facts
        .input_required(Value::Object(requests), &token);
    Message::response(reply_id, raw(&result))
}

/// Takes the exchange a retry's `requestState` names and delivers the client's input to it.
pub(crate) async fn resume(context: &Context, call: &Call) -> Result<Resumed, Rejection> {
    let unknown = || {
        Rejection::invalid_params(
            StatusCode::OK,
            "requestState is unknown, expired, or belongs to another request; send the request \
             again without requestState and inputResponses"
                .into(),
        )
    };
    let token = call
        .params
        .get("requestState")
        .and_then(Value::as_str)
        .ok_or_else(unknown)?;
    let waiting = {
        let mut map = context.gateway.modern.parked.lock();
        // Only the rightful retry may take (and so end) a parked request.
        let rightful = map.get(token).is_some_and(|w| {
            w.deployment == context.deployment
                && w.principal == context.principal
                && w.exchange.method == call.method
                && w.exchange.name.as_deref() == call.name()
        });
        if !rightful {
            return Err(unknown());
        }
        map.remove(token).expect("checked above")
    };
    let mut exchange = waiting.exchange;
    exchange.adopt(call).await;
    let answer = call
        .params
        .get("inputResponses")
        .and_then(|responses| responses.get(&waiting.key));
    let Some(answer) = answer else {
        let again = park_input(
            context,
            exchange,
            waiting.key,
            waiting.input,
            call.id.clone(),
        );
        return Ok(Resumed::Again(again));
    };
    exchange
        .respond(Message::response(Id::String(waiting.key), raw(answer)))
        .await;
    Ok(Resumed::Continue(exchange))
}
