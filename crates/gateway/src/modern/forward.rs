//! Relaying one modern request to the legacy upstream and its answer back.
//!
//! Each request gets its own bridge session ([`Exchange`]). Its answer is JSON when the response
//! is the first thing the upstream sends, an SSE stream otherwise (progress, and log messages
//! when the request asked for a log level). Closing that stream, or dropping the connection
//! while waiting for a JSON answer, cancels the request upstream (`notifications/cancelled`):
//! in 2026-07-28 a closed stream is the cancellation signal.
//!
//! A server-to-client request becomes an `input_required` result ([`mrtr`]) when this request
//! declared the capability it needs, and ends the request with MissingRequiredClientCapability
//! (-32021, HTTP 400) when it did not: the server's request gets an error, and its call is
//! cancelled unless it ends by itself first ([`Exchange::wind_down`]). Other server requests
//! are refused (a `ping` is answered).
//!
//! Log messages: a stdio server's `notifications/message` names no request. The bridge hands it
//! to the request sent most recently among those in flight, or to every session when none is; a
//! request with a log level relays what it gets at or above that level, a request without one
//! relays none.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use catwalk_bridge::{Inbox, Session, Upstream};
use catwalk_protocol::{Id, Kind, Message, codes, raw};
use serde_json::{Map, Value, json};
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use super::{Call, Facts, LOG_LEVELS, META_CAPABILITIES, codes_2026, mrtr};
use crate::{Gateway, reply};

/// What a request is served with.
pub(crate) struct Context {
    pub gateway: Arc<Gateway>,
    pub deployment: String,
    pub principal: String,
    pub upstream: Upstream,
    pub facts: Arc<Facts>,
}

/// How long a call whose client's request has ended may take to end by itself upstream, before
/// it is cancelled; at most `input_timeout`, which bounds how long Catwalk keeps any call going
/// for a client that is not waiting for it.
const WIND_DOWN: Duration = Duration::from_secs(5);

/// The server-to-client methods MRTR relays, each with the client capability it needs.
const RELAYABLE: [(&str, &str); 3] = [
    ("elicitation/create", "elicitation"),
    ("sampling/createMessage", "sampling"),
    ("roots/list", "roots"),
];

/// One request in flight upstream, on a session of its own.
pub(crate) struct Exchange {
    session: Arc<Session>,
    answers: Inbox,
    /// A step taken from the streams but not yet handed out (see [`Exchange::hold`]).
    held: Option<Step>,
    /// The session's stream of broadcasts, held only while the client wants log messages.
    logs: Option<OwnedMutexGuard<Inbox>>,
    log_level: Option<usize>,
    client_capabilities: Map<String, Value>,
    /// The id the bridge knows the request by (the client's first id for it).
    upstream_id: Id,
    pub(crate) method: String,
    /// What `Mcp-Name` mirrored (the tool, prompt or resource), for matching a retry.
    pub(crate) name: Option<String>,
    finished: bool,
}

/// The next thing an exchange yields.
pub(crate) enum Step {
    /// A notification about the request (progress, a log message).
    Related(Message),
    /// The upstream's response.
    Answer(Message),
    /// A server-to-client request the client declared it can answer.
    Input(Message),
    /// A server-to-client request for a capability this request did not declare (the name).
    Missing(Message, &'static str),
}

impl Exchange {
    async fn start(context: &Context, call: &Call) -> Exchange {
        let mut session = context.upstream.open_session();
        let resolver = &context.gateway.resolver;
        if let Some(observer) = resolver.call_observer(&context.deployment, &context.principal) {
            session.observe(observer);
        }
        let session = Arc::new(session);
        let request = Message::request(
            call.id.clone(),
            &call.method,
            Some(raw(&call.upstream_params())),
        );
        // The bridge refuses on its own a server request whose capability the session did not
        // declare, unseen by this exchange. Declaring every relayable one leaves the decision
        // here, where a request for an undeclared one can fail the client's request the modern
        // way (-32021) instead of being refused behind its back ([`Exchange::classify`]).
        let relayable: Map<String, Value> = RELAYABLE
            .iter()
            .map(|(_, capability)| (capability.to_string(), json!({})))
            .collect();
        session.declare_capabilities(Value::Object(relayable));
        let answers = session.request(request).await;
        let mut exchange = Exchange {
            session,
            answers,
            held: None,
            logs: None,
            log_level: None,
            client_capabilities: call.client_capabilities.clone(),
            upstream_id: call.id.clone(),
            method: call.method.clone(),
            name: call.name().map(str::to_string),
            finished: false,
        };
        exchange.adopt(call).await;
        exchange
    }

    /// Takes the client's wishes of this attempt (a retry may declare other capabilities).
    pub(crate) async fn adopt(&mut self, call: &Call) {
        self.client_capabilities = call.client_capabilities.clone();
        self.log_level = call.log_level;
        if self.log_level.is_none() {
            self.logs = None;
        } else if self.logs.is_none() {
            self.logs = self.session.try_standalone();
        }
    }

    pub(crate) async fn next(&mut self) -> Step {
        self.next_until(None)
            .await
            .expect("without a deadline there is always a next step")
    }

    /// The next step, or `None` once `deadline` passes with none. Only the wait is cut short:
    /// a message taken from the streams is always dealt with (a refusal always reaches the
    /// server).
    pub(crate) async fn next_until(&mut self, deadline: Option<Instant>) -> Option<Step> {
        if let Some(step) = self.held.take() {
            return Some(step);
        }
        loop {
            let logs = &mut self.logs;
            let from_logs = async {
                match logs {
                    Some(logs) => logs.recv().await,
                    None => std::future::pending().await,
                }
            };
            let expired = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            let (message, broadcast) = tokio::select! {
                message = self.answers.recv() => (message, false),
                message = from_logs => (message, true),
                () = expired => return None,
            };
            if broadcast && message.is_none() {
                self.logs = None;
                continue;
            }
            let Some(message) = message.map(|boxed| *boxed) else {
                self.finished = true;
                return Some(Step::Answer(Message::error(
                    Some(self.upstream_id.clone()),
                    codes::SERVER_UNAVAILABLE,
                    "the MCP server stopped before answering",
                )));
            };
            match message.kind() {
                Kind::Response if !broadcast => {
                    self.finished = true;
                    return Some(Step::Answer(message));
                }
                Kind::Response => {}
                Kind::Notification => {
                    if message.method.as_deref() != Some("notifications/message") {
                        // Progress comes on the request's own stream; other broadcasts (list
                        // changes) belong to subscriptions/listen.
                        if !broadcast {
                            return Some(Step::Related(message));
                        }
                    } else if self.wants_log(&message) {
                        return Some(Step::Related(message));
                    }
                }
                Kind::Request if broadcast => {
                    let reason = "the request it would belong to is not waiting for input";
                    self.refuse(&message, reason).await;
                }
                Kind::Request => match self.classify(&message) {
                    Ok(None) => return Some(Step::Input(message)),
                    Ok(Some(capability)) => return Some(Step::Missing(message, capability)),
                    Err(reason) => self.refuse(&message, &reason).await,
                },
            }
        }
    }

    /// Puts a step back, to be the next one [`Exchange::next`] hands out.
    pub(crate) fn hold(&mut self, step: Step) {
        debug_assert!(self.held.is_none(), "one step is held at most");
        self.held = Some(step);
    }

    /// Answers a server-to-client request on the client's behalf.
    pub(crate) async fn respond(&self, answer: Message) {
        self.session.respond(answer).await;
    }

    fn wants_log(&self, message: &Message) -> bool {
        let level = message.param::<String>("level");
        match (self.log_level, level) {
            (Some(threshold), Some(level)) => LOG_LEVELS
                .iter()
                .position(|known| *known == level)
                .is_some_and(|rank| rank >= threshold),
            _ => false,
        }
    }

    /// Whether the client can be asked a server's request: `Ok(None)` when it can,
    /// `Ok(Some(capability))` when this request did not declare the capability it needs, and
    /// `Err(reason)` for a request MRTR cannot carry at all (only elicitation, sampling and
    /// roots travel as input requests).
    fn classify(&self, request: &Message) -> Result<Option<&'static str>, String> {
        let method = request.method.as_deref().unwrap_or_default();
        let Some((_, capability)) = RELAYABLE.iter().find(|(known, _)| *known == method) else {
            return Err(format!("{method} cannot be relayed to a 2026-07-28 client"));
        };
        let declared = self
            .client_capabilities
            .get(*capability)
            .is_some_and(|c| !c.is_null());
        Ok((!declared).then_some(*capability))
    }

    /// Ends the request because the server asked for `capability`, which the client did not
    /// declare: the server's requests (the one that needs it, and any gathered with it) get an
    /// error, the call ends upstream ([`Exchange::wind_down`]), and the client gets
    /// MissingRequiredClientCapabilityError naming the capability, under `reply_id`.
    pub(crate) async fn fail_missing(
        self,
        context: &Context,
        requests: &[Message],
        capability: &str,
        reply_id: Id,
    ) -> Message {
        let reason =
            format!("the client did not declare the {capability} capability on this request");
        for request in requests {
            self.refuse(request, &reason).await;
        }
        tokio::spawn(self.wind_down(WIND_DOWN.min(context.gateway.config.input_timeout)));
        super::error_message(
            reply_id,
            codes_2026::MISSING_REQUIRED_CLIENT_CAPABILITY,
            &format!(
                "Missing required client capability: the server asked for {capability}, which \
                 this request did not declare in _meta[{META_CAPABILITIES:?}]; declare it and \
                 send the request again"
            ),
            Some(json!({ "requiredCapabilities": { capability: {} } })),
        )
    }

    /// Lets the call end upstream after the client's request has ended: a server whose request
    /// failed usually gives up and answers at once, and gets `limit` to do so (its further
    /// requests refused); after that the call is cancelled (when the exchange drops).
    ///
    /// Why not cancel at once: a server does not answer a cancelled call, and the bridge counts
    /// a call as in flight until it is answered, so on a process shared by all clients every
    /// later server request would be refused as ambiguous. A call that ends by itself leaves
    /// nothing behind.
    async fn wind_down(mut self, limit: Duration) {
        let ended = async {
            loop {
                match self.next().await {
                    Step::Answer(_) => return,
                    Step::Related(_) => {}
                    Step::Input(request) | Step::Missing(request, _) => {
                        self.refuse(&request, "the client's request has ended")
                            .await;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(limit, ended).await;
    }

    async fn refuse(&self, request: &Message, reason: &str) {
        let answer = if request.method.as_deref() == Some("ping") {
            Message::response(request.id.clone().expect("a request"), raw(&json!({})))
        } else {
            Message::error(request.id.clone(), codes::METHOD_NOT_FOUND, reason)
        };
        self.session.respond(answer).await;
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // The client went away (or never retried an input_required result): stop the work.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let session = self.session.clone();
        let params = json!({
            "requestId": self.upstream_id,
            "reason": "the client closed the request's stream",
        });
        runtime.spawn(async move {
            let cancel = Message::notification("notifications/cancelled", Some(raw(&params)));
            session.notify(cancel).await;
        });
    }
}

/// Serves a request through a new exchange, or resumes the one its `requestState` names.
pub(crate) async fn run(context: Context, call: Call) -> Response {
    if call.params.contains_key("requestState") {
        return match mrtr::resume(&context, &call).await {
            Ok(mrtr::Resumed::Continue(exchange)) => answer(context, exchange, call.id).await,
            Ok(mrtr::Resumed::Again(question)) => json_answer(&question),
            Err(rejection) => rejection.respond(&call.id),
        };
    }
    let exchange = Exchange::start(&context, &call).await;
    answer(context, exchange, call.id).await
}

/// JSON when the first thing the upstream sends finishes the request, SSE otherwise.
async fn answer(context: Context, mut exchange: Exchange, reply_id: Id) -> Response {
    let first = exchange.next().await;
    let first = match first {
        Step::Related(message) => message,
        Step::Answer(response) => {
            return json_answer(&finish(&context, &exchange.method, response, reply_id));
        }
        Step::Input(request) => {
            return json_answer(&mrtr::park(&context, exchange, request, reply_id).await);
        }
        Step::Missing(request, capability) => {
            return json_answer(
                &exchange
                    .fail_missing(&context, &[request], capability, reply_id)
                    .await,
            );
        }
    };
    let keep_alive = context.gateway.config.keep_alive;
    let stream = async_stream::stream! {
        yield first;
        let mut exchange = Some(exchange);
        while let Some(mut current) = exchange.take() {
            match current.next().await {
                Step::Related(message) => {
                    yield message;
                    exchange = Some(current);
                }
                Step::Answer(response) => {
                    yield finish(&context, &current.method, response, reply_id.clone());
                }
                Step::Input(request) => {
                    yield mrtr::park(&context, current, request, reply_id.clone()).await;
                }
                Step::Missing(request, capability) => {
                    yield current.fail_missing(&context, &[request], capability, reply_id.clone()).await;
                }
            }
        }
    };
    reply::sse(stream, keep_alive)
}

/// The answer to a request as a JSON body, with the HTTP status its error (if any) calls for.
fn json_answer(answer: &Message) -> Response {
    let status = match error_code(answer) {
        Some(codes::METHOD_NOT_FOUND) => StatusCode::NOT_FOUND,
        Some(codes_2026::MISSING_REQUIRED_CLIENT_CAPABILITY) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    reply::json_with_status(status, answer)
}

/// The upstream's response as the modern client expects it, under the id of its request.
fn finish(context: &Context, method: &str, mut response: Message, reply_id: Id) -> Message {
    response.id = Some(reply_id);
    if let Some(result) = &response.result {
        if method == "tools/list"
            && let Ok(value) = serde_json::from_str::<Value>(result.get())
        {
            let headers = &context.gateway.modern.tool_headers;
            headers.learn(&context.deployment, &context.upstream, &value);
        }
        response.result = Some(context.facts.complete(method, result));
    } else if method == "resources/read" && error_code(&response) == Some(-32002) {
        // 2026-07-28 moved "resource not found" from -32002 to -32602.
        let mut error: Map<String, Value> = response
            .error
            .as_ref()
            .and_then(|e| serde_json::from_str(e.get()).ok())
            .unwrap_or_default();
        error.insert("code".into(), json!(codes::INVALID_PARAMS));
        response.error = Some(raw(&error));
    }
    response
}

fn error_code(message: &Message) -> Option<i64> {
    let error: Value = serde_json::from_str(message.error.as_ref()?.get()).ok()?;
    error.get("code")?.as_i64()
}
