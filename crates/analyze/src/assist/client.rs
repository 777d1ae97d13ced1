//! The two wire protocols: OpenAI-compatible chat completions with a strict `json_schema`
//! response format, and Anthropic's Messages API with one forced tool.

use serde_json::{Value, json};

use super::{AssistConfig, Provider};

/// The Messages API version sent in `anthropic-version`.
const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The tool the Anthropic model is made to call; its input is the answer.
pub(crate) const TOOL_NAME: &str = "report_server_configuration";
/// The schema's name in OpenAI's `response_format`.
pub(crate) const SCHEMA_NAME: &str = "server_configuration";
/// The most tokens the answer may take.
const MAX_TOKENS: u32 = 4096;
/// How much of an error body is kept in the report.
const ERROR_BODY: usize = 300;

/// Why the model gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum AssistError {
    #[error("the LLM request failed: {0}")]
    Transport(String),
    #[error("the LLM request timed out after {0:?}")]
    Timeout(std::time::Duration),
    #[error("the LLM API answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("the LLM gave no usable answer: {0}")]
    Invalid(String),
}

/// Sends the prompt and returns the JSON the model produced (not yet validated).
pub(crate) async fn ask(
    config: &AssistConfig,
    system: &str,
    user: &str,
    schema: &Value,
) -> Result<Value, AssistError> {
    let client = reqwest::Client::builder()
        .timeout(config.timeout)
        .build()
        .map_err(|e| AssistError::Transport(e.to_string()))?;
    let (url, body) = match config.provider {
        Provider::OpenAi => (
            format!("{}/chat/completions", config.base_url),
            json!({
                "model": config.model,
                "messages": [
                    { "role": "system", "content": system },
                    { "role": "user", "content": user },
                ],
                "max_tokens": MAX_TOKENS,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": { "name": SCHEMA_NAME, "strict": true, "schema": schema },
                },
            }),
        ),
        Provider::Anthropic => (
            format!("{}/v1/messages", config.base_url),
            json!({
                "model": config.model,
                "max_tokens": MAX_TOKENS,
                "system": system,
                "messages": [{ "role": "user", "content": user }],
                "tools": [{
                    "name": TOOL_NAME,
                    "description": "Report what the evidence says about each environment variable of the server.",
                    "input_schema": schema,
                }],
                "tool_choice": { "type": "tool", "name": TOOL_NAME },
            }),
        ),
    };
    let mut request = client.post(&url).json(&body);
    if let Some(key) = &config.api_key {
        request = match config.provider {
            Provider::OpenAi => request.bearer_auth(key.expose()),
            Provider::Anthropic => request.header("x-api-key", key.expose()),
        };
    }
    if config.provider == Provider::Anthropic {
        request = request.header("anthropic-version", ANTHROPIC_VERSION);
    }
    let response = request.send().await.map_err(|e| transport(e, config))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| transport(e, config))?;
    if !status.is_success() {
        return Err(AssistError::Http {
            status: status.as_u16(),
            body: api_error_message(&text),
        });
    }
    let reply: Value = serde_json::from_str(&text)
        .map_err(|e| AssistError::Invalid(format!("the API's reply is not JSON: {e}")))?;
    match config.provider {
        Provider::OpenAi => openai_answer(&reply),
        Provider::Anthropic => anthropic_answer(&reply),
    }
}

fn transport(error: reqwest::Error, config: &AssistConfig) -> AssistError {
    if error.is_timeout() {
        AssistError::Timeout(config.timeout)
    } else {
        // Without the URL's query, which some gateways use for keys.
        AssistError::Transport(error.without_url().to_string())
    }
}

/// The `error.message` of both APIs' error bodies, else the start of the body.
fn api_error_message(body: &str) -> String {
    let message = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v.pointer("/error/message")
            .and_then(Value::as_str)
            .map(String::from)
    });
    let text = message.unwrap_or_else(|| body.trim().to_string());
    text.chars().take(ERROR_BODY).collect()
}

/// `choices[0].message.content`, a JSON string; a refusal or a cut answer is no answer.
fn openai_answer(reply: &Value) -> Result<Value, AssistError> {
    let choice = reply
        .pointer("/choices/0")
        .ok_or_else(|| AssistError::Invalid("the reply has no choices".into()))?;
    if let Some(refusal) = choice.pointer("/message/refusal").and_then(Value::as_str) {
        return Err(AssistError::Invalid(format!(
            "the model refused: {refusal}"
        )));
    }
    if choice.get("finish_reason").and_then(Value::as_str) == Some("length") {
        return Err(AssistError::Invalid(
            "the answer was cut at the token limit".into(),
        ));
    }
    let content = choice
        .pointer("/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| AssistError::Invalid("the reply's message has no content".into()))?;
    serde_json::from_str(content)
        .map_err(|e| AssistError::Invalid(format!("the answer is not JSON: {e}")))
}

/// The `input` of the `tool_use` block calling our tool.
fn anthropic_answer(reply: &Value) -> Result<Value, AssistError> {
    if reply.get("stop_reason").and_then(Value::as_str) == Some("max_tokens") {
        return Err(AssistError::Invalid(
            "the answer was cut at the token limit".into(),
        ));
    }
    reply
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|block| {
            block.get("type").and_then(Value::as_str) == Some("tool_use")
                && block.get("name").and_then(Value::as_str) == Some(TOOL_NAME)
        })
        .and_then(|block| block.get("input").cloned())
        .ok_or_else(|| {
            AssistError::Invalid(format!("the reply does not call the {TOOL_NAME} tool"))
        })
}
