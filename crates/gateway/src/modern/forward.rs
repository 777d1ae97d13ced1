//! Relaying one modern request to the legacy upstream and its answer back.
//!
//! Each request gets its own bridge session ([`Exchange`]). Its answer is JSON when the response
//! is the first thing the upstream sends, an SSE stream otherwise (progress, and log messages
//! when the request asked for a log level). Closing that stream, or dropping the connection
//! while waiting for a JSON answer, cancels the request upstream (`notifications/cancelled`):
//! in 2026-07-28 a closed stream is the cancellation signal.
//!
//! Log messages: a stdio server's `notifications/message` names no request. The bridge hands it
//! to the request sent most recently among those in flight, or to every session when none is; a
//! request with a log level relays what it gets at or above that level, a request without one
//! relays none.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use catwalk_bridge::{Session, Upstream};
use catwalk_protocol::{Id, Kind, Message, codes, raw};
use serde_json::{Map, Value, json};
use tokio::sync::{OwnedMutexGuard, mpsc};

use super::{Call, Facts, LOG_LEVELS, mrtr};
use crate::{Gateway, reply};

/// What a request is served with.
pub(crate) struct Context {
    pub gateway: Arc<Gateway>,
    pub deployment: String,
    pub principal: String,
    pub upstream: Upstream,
    pub facts: Arc<Facts>,
}

/// One request in flight upstream, on a session of its own.
pub(crate) struct Exchange {
    session: Arc<Session>,
    answers: mpsc::Receiver<Message>,
    /// The session's stream of broadcasts, held only while the client wants log messages.
    logs: Option<OwnedMutexGuard<mpsc::Receiver<Message>>>,
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
}

impl Exchange {
    async fn start(upstream: &Upstream, call: &Call) -> Exchange {
        let session = Arc::new(upstream.open_session());
        let request = Message::request(
            call.id.clone(),
            &call.method,
            Some(raw(&call.upstream_params())),
        );
        session.declare_capabilities(Value::Object(call.client_capabilities.clone()));
        let answers = session.request(request).await;
        let mut exchange = Exchange {
            session,
            answers,
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
        if self.client_capabilities != call.client_capabilities {
            self.session
                .declare_capabilities(Value::Object(call.client_capabilities.clone()));
        }
        self.client_capabilities = call.client_capabilities.clone();
        self.log_level = call.log_level;
        if self.log_level.is_none() {
            self.logs = None;
        } else if self.logs.is_none() {
            self.logs = self.session.try_standalone();
        }
    }

    pub(crate) async fn next(&mut self) -> Step {
        loop {
            let logs = &mut self.logs;
            let from_logs = async {
                match logs {
                    Some(logs) => logs.recv().await,
                    None => std::future::pending().await,
                }
            };
            let (message, broadcast) = tokio::select! {
                message = self.answers.recv() => (message, false),
                message = from_logs => (message, true),
            };
            if broadcast && message.is_none() {
                self.logs = None;
                continue;
            }
            let Some(message) = message else {
                self.finished = true;
                return Step::Answer(Message::error(
                    Some(self.upstream_id.clone()),
                    codes::SERVER_UNAVAILABLE,
                    "the MCP server stopped before answering",
                ));
            };
            match message.kind() {
                Kind::Response if !broadcast => {
                    self.finished = true;
                    return Step::Answer(message);
                }
                Kind::Response => {}
                Kind::Notification => {
                    if message.method.as_deref() != Some("notifications/message") {
                        // Progress comes on the request's own stream; other broadcasts (list
                        // changes) belong to subscriptions/listen.
                        if !broadcast {
                            return Step::Related(message);
                        }
                    } else if self.wants_log(&message) {
                        return Step::Related(message);
                    }
                }
                Kind::Request => match self.refusal(&message) {
                    None if !broadcast => return Step::Input(message),
                    refusal => {
                        let reason = refusal.unwrap_or_else(|| {
                            "the request it would belong to is not waiting for input".into()
                        });
                        self.refuse(&message, &reason).await;
                    }
                },
            }
        }
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

    /// Why the client cannot be asked this request, if it cannot: MRTR carries only
    /// elicitation, sampling and roots, and only when this request declared the capability.
    fn refusal(&self, request: &Message) -> Option<String> {
        let method = request.method.as_deref().unwrap_or_default();
        let capability = match method {
            "elicitation/create" => "elicitation",
            "sampling/createMessage" => "sampling",
            "roots/list" => "roots",
            _ => return Some(format!("{method} cannot be relayed to a 2026-07-28 client")),
        };
        if self.client_capabilities.contains_key(capability) {
            None
        } else {
            Some(format!(
                "the client did not declare the {capability} capability on this request"
            ))
        }
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
            Ok(mrtr::Resumed::Again(question)) => reply::json(&question),
            Err(rejection) => rejection.respond(&call.id),
        };
    }
    let exchange = Exchange::start(&context.upstream, &call).await;
    answer(context, exchange, call.id).await
}

/// JSON when the first thing the upstream sends finishes the request, SSE otherwise.
async fn answer(context: Context, mut exchange: Exchange, reply_id: Id) -> Response {
    let first = exchange.next().await;
    let first = match first {
        Step::Related(message) => message,
        Step::Answer(response) => {
            let response = finish(&context, &exchange.method, response, reply_id);
            let status = if error_code(&response) == Some(codes::METHOD_NOT_FOUND) {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            return reply::json_with_status(status, &response);
        }
        Step::Input(request) => {
            return reply::json(&mrtr::park(&context, exchange, request, reply_id));
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
                    yield mrtr::park(&context, current, request, reply_id.clone());
                }
            }
        }
    };
    reply::sse(stream, keep_alive)
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
