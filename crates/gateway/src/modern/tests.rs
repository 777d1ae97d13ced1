//! The modern (2026-07-28) path through the real router and bridge, with a scripted stdio
//! server that speaks a legacy version behind them (as every npm server does today).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use catwalk_bridge::Upstream;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::tests::{OneDeployment, TOKEN, send};
use crate::{Gateway, GatewayConfig};

/// What the scripted server received, for the assertions.
pub(super) type Received = Arc<Mutex<Vec<Value>>>;

pub(super) fn tools() -> Value {
    json!([
        {"name": "echo", "inputSchema": {"type": "object", "properties": {
            "message": {"type": "string"},
            "region": {"type": "string", "x-mcp-header": "Region"},
            "limits": {"type": "object", "properties": {
                "count": {"type": "integer", "x-mcp-header": "Count"}
            }}
        }}},
        {"name": "slow", "inputSchema": {"type": "object"}},
        {"name": "ask", "inputSchema": {"type": "object"}},
        {"name": "ask_all", "inputSchema": {"type": "object"}},
        {"name": "ask_then_progress", "inputSchema": {"type": "object"}},
        {"name": "ask_forever", "inputSchema": {"type": "object"}},
        {"name": "hang", "inputSchema": {"type": "object"}},
        {"name": "change", "inputSchema": {"type": "object"}},
    ])
}

/// A legacy (2025-06-18) server:
/// - `echo` answers with the params it received, as text;
/// - `slow` sends progress and an info log line first;
/// - `ask` asks the client for input (elicitation) and answers with what it got;
/// - `ask_all` asks for elicitation, sampling and roots at once, and answers with all it got;
/// - `ask_then_progress` asks (elicitation), sends progress, and answers with what it got;
/// - `ask_forever` asks (elicitation) and never answers, whatever it gets;
/// - `hang` sends progress, then never answers;
/// - `change` announces list changes and resource updates, then answers.
pub(super) async fn scripted_server(received: Received) -> Upstream {
    let (to_server, mut from_bridge) = mpsc::channel::<String>(64);
    let (to_bridge, from_server) = mpsc::channel::<String>(64);
    tokio::spawn(async move {
        // The server's requests waiting for an answer (by id), each with the call that asked.
        let mut asking: Vec<(Value, Value)> = Vec::new();
        // The answers each call got so far.
        let mut answers: Vec<(Value, String)> = Vec::new();
        while let Some(line) = from_bridge.recv().await {
            let message: Value = serde_json::from_str(&line).unwrap();
            received.lock().unwrap().push(message.clone());
            let id = message["id"].clone();
            let params = &message["params"];
            let mut out = Vec::new();
            let reply = |result: Value| json!({"jsonrpc": "2.0", "id": id, "result": result});
            match message["method"].as_str() {
                None if id == "f1" => {}
                None => {
                    // The answer to one of our requests: the call that asked finishes once all
                    // of its requests are answered.
                    let position = asking.iter().position(|(asked, _)| *asked == id).unwrap();
                    let (_, caller) = asking.remove(position);
                    let text = if message["result"].is_null() {
                        format!("refused: {}", message["error"])
                    } else {
                        message["result"].to_string()
                    };
                    answers.push((caller.clone(), text));
                    if !asking.iter().any(|(_, waiting)| *waiting == caller) {
                        let text: Vec<String> = answers
                            .iter()
                            .filter(|(call, _)| *call == caller)
                            .map(|(_, text)| text.clone())
                            .collect();
                        answers.retain(|(call, _)| *call != caller);
                        out.push(json!({"jsonrpc":"2.0","id":caller,"result":{"content":[
                            {"type":"text","text":text.join(" | ")}]}}));
                    }
                }
                Some("initialize") => out.push(reply(json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {"tools": {"listChanged": true}, "prompts": {},
                        "resources": {"subscribe": true}, "logging": {}, "tasks": {"list": {}}},
                    "serverInfo": {"name": "scripted", "version": "1.2.3"},
                    "instructions": "Be kind.",
                }))),
                Some("tools/list") => out.push(reply(json!({"tools": tools()}))),
                Some("prompts/list") => out.push(reply(json!({"prompts": []}))),
                Some("resources/subscribe") => out.push(reply(json!({}))),
                Some("resources/read") if params["uri"] == "file:///missing" => out.push(
                    json!({"jsonrpc":"2.0","id":id,"error":{"code":-32002,"message":"Resource not found"}}),
                ),
                Some("resources/read") => out.push(reply(
                    json!({"contents": [{"uri": params["uri"], "text": "hello"}]}),
                )),
                Some("tools/call") => {
                    let token = params["_meta"]["progressToken"].clone();
                    let progress = json!({"jsonrpc":"2.0","method":"notifications/progress",
                        "params":{"progressToken":token,"progress":1}});
                    match params["name"].as_str().unwrap() {
                        "slow" => {
                            out.push(progress);
                            out.push(json!({"jsonrpc":"2.0","method":"notifications/message",
                                "params":{"level":"info","data":"working"}}));
                            out.push(json!({"jsonrpc":"2.0","method":"notifications/message",
                                "params":{"level":"debug","data":"details"}}));
                            out.push(reply(json!({"content":[{"type":"text","text":"slow done"}]})));
                        }
                        "ask" | "ask_then_progress" => {
                            asking.push((json!("s1"), id.clone()));
                            out.push(json!({"jsonrpc":"2.0","id":"s1","method":"elicitation/create",
                                "params":{"message":"Your name?","requestedSchema":{"type":"object"}}}));
                            if params["name"] == "ask_then_progress" {
                                out.push(progress);
                            }
                        }
                        "ask_forever" => {
                            out.push(json!({"jsonrpc":"2.0","id":"f1","method":"elicitation/create",
                                "params":{"message":"Forever?","requestedSchema":{"type":"object"}}}));
                        }
                        "ask_all" => {
                            for (asked, method, params) in [
                                ("m1", "elicitation/create", json!({"message": "Your name?",
                                    "requestedSchema": {"type": "object"}})),
                                ("m2", "sampling/createMessage", json!({"maxTokens": 9,
                                    "messages": [{"role": "user",
                                        "content": {"type": "text", "text": "Hi?"}}]})),
                                ("m3", "roots/list", json!({})),
                            ] {
                                asking.push((json!(asked), id.clone()));
                                out.push(json!({"jsonrpc":"2.0","id":asked,"method":method,
                                    "params":params}));
                            }
                        }
                        "hang" => out.push(progress),
                        "change" => {
                            for (method, params) in [
                                ("notifications/tools/list_changed", json!({})),
                                ("notifications/prompts/list_changed", json!({})),
                                ("notifications/resources/updated", json!({"uri": "file:///b"})),
                                ("notifications/resources/updated", json!({"uri": "file:///a"})),
                            ] {
                                out.push(json!({"jsonrpc":"2.0","method":method,"params":params}));
                            }
                            out.push(reply(json!({"content":[]})));
                        }
                        _ => out.push(reply(
                            json!({"content":[{"type":"text","text":params.to_string()}]}),
                        )),
                    }
                }
                Some(_) if id.is_null() => {}
                Some(_) => out.push(reply(json!({}))),
            }
            for message in out {
                to_bridge.send(message.to_string()).await.unwrap();
            }
        }
    });
    Upstream::start(to_server, from_server, Duration::from_secs(5))
        .await
        .unwrap()
        .0
}

pub(super) struct Fixture {
    pub(super) app: Router,
    pub(super) gateway: Arc<Gateway>,
    pub(super) received: Received,
}

pub(super) async fn fixture() -> Fixture {
    let received = Received::default();
    let upstream = scripted_server(received.clone()).await;
    let config = GatewayConfig {
        input_timeout: Duration::from_millis(500),
        ..GatewayConfig::default()
    };
    let gateway = Gateway::new(Arc::new(OneDeployment { upstream }), config);
    Fixture {
        app: gateway.router(),
        gateway,
        received,
    }
}

impl Fixture {
    pub(super) fn received(&self, method: &str) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m["method"] == method)
            .cloned()
            .collect()
    }
}

pub(super) fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    })
}

/// A well-formed modern request: `_meta` and every mirrored header filled in from the body.
pub(super) fn modern(id: Value, method: &str, mut params: Value) -> Request<Body> {
    let meta_in_params = params.get("_meta").cloned().unwrap_or(json!({}));
    let mut full_meta = meta();
    for (key, value) in meta_in_params.as_object().unwrap() {
        full_meta[key] = value.clone();
    }
    params["_meta"] = full_meta;
    let mut builder = Request::post("http://127.0.0.1:7411/s/demo/mcp")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    if let Some(name) = params
        .get("name")
        .or(params.get("uri"))
        .and_then(Value::as_str)
    {
        builder = builder.header("mcp-name", name);
    }
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    builder.body(Body::from(body.to_string())).unwrap()
}

pub(super) fn without(mut request: Request<Body>, header: &str) -> Request<Body> {
    request.headers_mut().remove(header);
    request
}

pub(super) fn with(mut request: Request<Body>, header: &'static str, value: &str) -> Request<Body> {
    request.headers_mut().insert(header, value.parse().unwrap());
    request
}

pub(super) async fn call(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let (status, _, body) = send(app, request).await;
    let value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    (status, value)
}

/// The JSON messages of an SSE body.
pub(super) fn events(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

mod requests;
mod streams;
