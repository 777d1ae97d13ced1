//! A local stand-in, on 127.0.0.1, for the two LLM APIs the analyzer's help speaks, as their
//! documentation describes them:
//!
//! - OpenAI chat completions, `POST /v1/chat/completions`: `Authorization: Bearer KEY`; a body
//!   with `model`, `messages` (`role`, `content`) and `response_format` `{"type": "json_schema",
//!   "json_schema": {"name", "strict", "schema"}}`; the answer is a `chat.completion` object
//!   whose `choices[0].message.content` is the JSON text. A bad key gets 401 with `{"error":
//!   {"message", "type", "code": "invalid_api_key"}}`; a malformed body 400.
//! - Anthropic Messages, `POST /v1/messages`: `x-api-key` and `anthropic-version` headers; a
//!   body with `model`, `max_tokens`, `messages`, `tools` (`name`, `description`,
//!   `input_schema`) and `tool_choice` `{"type": "tool", "name"}`; the answer is a `message`
//!   whose `content` holds a `tool_use` block with that name and the JSON as `input`, with
//!   `stop_reason` `tool_use`. A bad key gets 401 with `{"type": "error", "error": {"type":
//!   "authentication_error", "message"}}`; a malformed body 400 `invalid_request_error`.
//!
//! Tests set what the model answers (any JSON, valid or not), or a delay, and read back every
//! request received. [`FakeLlm::start_keyless`] stands for a local OpenAI-compatible server
//! (llama.cpp, Ollama), which asks for no key. The CLI's end-to-end tests include this file by
//! path.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub const KEY: &str = "sk-test-fake-key";

#[derive(Default)]
struct Shared {
    keyless: bool,
    answer: Value,
    delay: Option<Duration>,
    requests: Vec<Received>,
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Clone)]
pub struct FakeLlm {
    shared: Arc<Mutex<Shared>>,
    pub base: String,
}

impl FakeLlm {
    pub async fn start() -> FakeLlm {
        FakeLlm::serve(Shared::default()).await
    }

    /// An OpenAI-compatible server that takes requests without a key.
    pub async fn start_keyless() -> FakeLlm {
        FakeLlm::serve(Shared {
            keyless: true,
            ..Shared::default()
        })
        .await
    }

    async fn serve(shared: Shared) -> FakeLlm {
        let shared = Arc::new(Mutex::new(shared));
        let app = Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeLlm {
            shared,
            base: format!("http://{address}"),
        }
    }

    /// What the model answers from now on (the JSON it produces).
    pub fn answer(&self, answer: Value) {
        self.shared.lock().unwrap().answer = answer;
    }

    /// Waits this long before answering.
    pub fn delay(&self, delay: Duration) {
        self.shared.lock().unwrap().delay = Some(delay);
    }

    /// The same fake's state, with requests sent to another base URL.
    pub fn at(&self, base: &str) -> FakeLlm {
        FakeLlm {
            shared: self.shared.clone(),
            base: base.to_string(),
        }
    }

    pub fn requests(&self) -> Vec<Received> {
        self.shared.lock().unwrap().requests.clone()
    }
}

type Handle = Arc<Mutex<Shared>>;

fn record(
    shared: &Handle,
    path: &str,
    headers: &HeaderMap,
    body: &Value,
) -> (Value, Option<Duration>, bool) {
    let mut shared = shared.lock().unwrap();
    shared.requests.push(Received {
        path: path.to_string(),
        headers: headers.clone(),
        body: body.clone(),
    });
    (shared.answer.clone(), shared.delay, shared.keyless)
}

fn openai_error(status: StatusCode, message: &str, code: Option<&str>) -> Response {
    (
        status,
        axum::Json(json!({
            "error": { "message": message, "type": "invalid_request_error", "param": null, "code": code }
        })),
    )
        .into_response()
}

async fn openai(State(shared): State<Handle>, headers: HeaderMap, body: String) -> Response {
    let body: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(_) => {
            return openai_error(
                StatusCode::BAD_REQUEST,
                "We could not parse the JSON body of your request.",
                None,
            );
        }
    };
    let (answer, delay, keyless) = record(&shared, "/v1/chat/completions", &headers, &body);
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {KEY}")) && !(keyless && auth.is_none()) {
        return openai_error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided: sk-wrong. You can find your API key at your account page.",
            Some("invalid_api_key"),
        );
    }
    let format = &body["response_format"];
    let well_formed = body["model"].is_string()
        && body["messages"].as_array().is_some_and(|m| {
            !m.is_empty()
                && m.iter().all(|x| {
                    matches!(x["role"].as_str(), Some("system" | "user" | "assistant"))
                        && x["content"].is_string()
                })
        })
        && format["type"] == "json_schema"
        && format["json_schema"]["name"].is_string()
        && format["json_schema"]["strict"] == true
        && format["json_schema"]["schema"].is_object();
    if !well_formed {
        return openai_error(
            StatusCode::BAD_REQUEST,
            "Invalid request: messages and response_format.json_schema are required.",
            None,
        );
    }
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    axum::Json(json!({
        "id": "chatcmpl-fake1",
        "object": "chat.completion",
        "created": 1_790_000_000,
        "model": body["model"],
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": answer.to_string(), "refusal": null, "annotations": [] },
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": { "prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150 }
    }))
    .into_response()
}

fn anthropic_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "type": "error", "error": { "type": kind, "message": message } })),
    )
        .into_response()
}

async fn anthropic(State(shared): State<Handle>, headers: HeaderMap, body: String) -> Response {
    let body: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(_) => {
            return anthropic_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "The request body is not valid JSON.",
            );
        }
    };
    let (answer, delay, _) = record(&shared, "/v1/messages", &headers, &body);
    if headers.get("anthropic-version").is_none() {
        return anthropic_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "anthropic-version: header is required",
        );
    }
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return anthropic_error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid x-api-key",
        );
    }
    let tool = &body["tools"][0];
    let well_formed = body["model"].is_string()
        && body["max_tokens"].as_u64().is_some_and(|n| n > 0)
        && body["messages"].as_array().is_some_and(|m| {
            m.first().is_some_and(|x| x["role"] == "user")
                && m.iter()
                    .all(|x| matches!(x["role"].as_str(), Some("user" | "assistant")))
        })
        && tool["name"].is_string()
        && tool["input_schema"]["type"] == "object"
        && body["tool_choice"]["type"] == "tool"
        && body["tool_choice"]["name"] == tool["name"];
    if !well_formed {
        return anthropic_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "messages, max_tokens, tools and tool_choice are malformed",
        );
    }
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    axum::Json(json!({
        "id": "msg_fake1",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [{ "type": "tool_use", "id": "toolu_fake1", "name": tool["name"], "input": answer }],
        "stop_reason": "tool_use",
        "stop_sequence": null,
        "usage": { "input_tokens": 100, "output_tokens": 50 }
    }))
    .into_response()
}
