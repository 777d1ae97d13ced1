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
//! deployment, method and name; its answers then go to the upstream as the responses to its
//! requests, and the retry's answer is whatever the upstream does next (its result, or another
//! `input_required`). A retry that leaves some requests unanswered gets those again, under a new
//! `requestState` (as SEP-2322 recommends, rather than an error); the answered ones go upstream
//! at once. A parked request nobody retries is cancelled upstream after
//! [`crate::GatewayConfig::input_timeout`].
//!
//! The keys of `inputRequests` are the ids the bridge gave the server's requests: a legacy
//! server's request carries no name for what it asks, so Catwalk cannot use the server's own.
//!
//! Several requests at once: a server may ask for several inputs concurrently (elicitation,
//! sampling and roots together), and a client should get them in one `input_required`, not one
//! round trip each. Stdio says nothing about which requests belong together, so Catwalk gathers
//! what arrives close together: after a request, it waits up to [`GATHER_QUIET`] for another,
//! and [`GATHER_LIMIT`] in all. A server writes concurrent requests back to back, so they land
//! well within that. Gathering only groups: a request that comes later is not lost, it becomes
//! the next `input_required` once the client has answered these. Whatever else arrives while
//! gathering (progress, the result) is kept for the next step.
//!
//! The state is held in memory, not encoded in `requestState`: a legacy server's waiting request
//! lives in its process, so a retry can only ever succeed against this Catwalk instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::StatusCode;
use catwalk_protocol::{Id, Message, raw};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::forward::{Context, Exchange, Step};
use super::{Call, Rejection};

/// How long gathering waits for one more request after the last one.
const GATHER_QUIET: Duration = Duration::from_millis(30);
/// How long gathering goes on at most, from the first request.
const GATHER_LIMIT: Duration = Duration::from_millis(300);

/// One of the server's requests the client is asked to answer.
struct Input {
    /// The id the bridge gave the upstream's request, under which its answer goes back.
    id: Id,
    /// The key of the input request in `inputRequests`: that id as a string.
    key: String,
    /// The entry of `inputRequests` (the server's request without its id).
    request: Value,
}

struct Waiting {
    deployment: String,
    principal: String,
    /// What the client was asked, none answered yet.
    inputs: Vec<Input>,
    exchange: Exchange,
}

/// What a retry leads to.
pub(crate) enum Resumed {
    /// The client's input went upstream; the request goes on.
    Continue(Exchange),
    /// The retry left requests unanswered: those again (the answered ones went upstream), as
    /// the answer to the retry.
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

/// Gathers the server's requests that come with `first`, then parks the exchange and returns
/// the `input_required` answer to the client's request; or, when one of them needs a capability
/// the client did not declare, ends the request with that error instead.
pub(crate) async fn park(
    context: &Context,
    mut exchange: Exchange,
    first: Message,
    reply_id: Id,
) -> Message {
    let mut requests = vec![first];
    let limit = Instant::now() + GATHER_LIMIT;
    loop {
        let deadline = limit.min(Instant::now() + GATHER_QUIET);
        match exchange.next_until(Some(deadline)).await {
            None => break,
            Some(Step::Input(request)) => requests.push(request),
            Some(Step::Missing(request, capability)) => {
                requests.push(request);
                return exchange
                    .fail_missing(context, &requests, capability, reply_id)
                    .await;
            }
            Some(step) => {
                exchange.hold(step);
                break;
            }
        }
    }
    let inputs = requests.iter().map(input).collect();
    park_inputs(context, exchange, inputs, reply_id)
}

fn input(request: &Message) -> Input {
    let id = request
        .id
        .clone()
        .expect("a server-to-client request has an id");
    let key = match &id {
        Id::String(key) => key.clone(),
        Id::Number(number) => number.to_string(),
    };
    let mut entry = Map::new();
    entry.insert(
        "method".into(),
        json!(request.method.as_deref().unwrap_or_default()),
    );
    if let Some(params) = &request.params
        && let Ok(params) = serde_json::from_str::<Value>(params.get())
    {
        entry.insert("params".into(), params);
    }
    Input {
        id,
        key,
        request: Value::Object(entry),
    }
}

fn park_inputs(context: &Context, exchange: Exchange, inputs: Vec<Input>, reply_id: Id) -> Message {
    let token = crate::sessions::unguessable_id();
    let requests: Map<String, Value> = inputs
        .iter()
        .map(|input| (input.key.clone(), input.request.clone()))
        .collect();
    context.gateway.modern.parked.lock().insert(
        token.clone(),
        Waiting {
            deployment: context.deployment.clone(),
            principal: context.principal.clone(),
            inputs,
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
    let result = context
        .facts
        .input_required(Value::Object(requests), &token);
    Message::response(reply_id, raw(&result))
}

/// Takes the exchange a retry's `requestState` names and delivers the client's answers to it.
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
    // Keys the server did not ask are ignored, as SEP-2322 asks.
    let responses = call.params.get("inputResponses");
    let mut unanswered = Vec::new();
    for input in waiting.inputs {
        match responses.and_then(|r| r.get(&input.key)) {
            Some(answer) => {
                exchange
                    .respond(Message::response(input.id, raw(answer)))
                    .await;
            }
            None => unanswered.push(input),
        }
    }
    if unanswered.is_empty() {
        Ok(Resumed::Continue(exchange))
    } else {
        Ok(Resumed::Again(park_inputs(
            context,
            exchange,
            unanswered,
            call.id.clone(),
        )))
    }
}
