//! Optional help from a language model, never required and never the source of truth.
//!
//! After the evidence-only spec is built, the model gets what the analyzer gathered (the
//! variables with their evidence, excerpts of the files around each read, the README's
//! environment sections, the variables left out) and answers, as JSON that must validate against
//! [`answer_schema`], what it knows of each variable. Its answer only fills gaps:
//!
//! - for a variable found from evidence: an empty `description`, a missing `default` (never for
//!   a secret), `format` or `choices`; `required` and `secret` are never changed;
//! - a name it adds is looked for in the package's text: found, it is added (optional, low
//!   confidence, `verified: true`); not found, it is listed with `verified: false`, optional;
//! - a name the evidence left out (HTTP transport, container) stays out.
//!
//! Two APIs are spoken: OpenAI-compatible chat completions with `response_format` `json_schema`
//! (strict), which OpenRouter and local servers also accept, and Anthropic's Messages API with
//! one tool whose `input_schema` is the answer schema, forced by `tool_choice`. Whatever goes
//! wrong (timeout, an HTTP error, a 401, an answer that is not JSON or not valid) is recorded in
//! the spec's `assist` section and the evidence-only spec is returned.

mod client;
mod evidence;
mod merge;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::files::SourceTree;
use crate::spec::{AssistReport, ServerSpec};

pub use client::AssistError;

/// The environment variables that configure the model (`catwalk serve` has matching flags,
/// except for the key, which is only read from the environment).
pub const ENV_PROVIDER: &str = "CATWALK_LLM_PROVIDER";
pub const ENV_BASE_URL: &str = "CATWALK_LLM_BASE_URL";
pub const ENV_MODEL: &str = "CATWALK_LLM_MODEL";
pub const ENV_API_KEY: &str = "CATWALK_LLM_API_KEY";

/// The API a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// OpenAI-compatible chat completions (`POST {base}/chat/completions`).
    OpenAi,
    /// Anthropic's Messages API (`POST {base}/v1/messages`).
    Anthropic,
}

impl Provider {
    pub fn parse(text: &str) -> Option<Provider> {
        match text.trim().to_ascii_lowercase().as_str() {
            "openai" => Some(Provider::OpenAi),
            "anthropic" => Some(Provider::Anthropic),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
        }
    }

    /// The base URL used when none is configured.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Provider::OpenAi => "https://api.openai.com/v1",
            Provider::Anthropic => "https://api.anthropic.com",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API key: never printed, never serialised.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(redacted)")
    }
}

/// Which model helps, and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistConfig {
    pub provider: Provider,
    /// Without a trailing `/`: `https://api.openai.com/v1`, `https://openrouter.ai/api/v1`,
    /// `http://127.0.0.1:11434/v1`, `https://api.anthropic.com`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<ApiKey>,
    /// The deadline of the whole request (default 60 s).
    pub timeout: Duration,
}

/// A configuration that cannot be used, said in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl AssistConfig {
    /// The configuration from a provider name, a base URL, a model and a key, as given by flags
    /// or the `CATWALK_LLM_*` variables. `None` when no provider is set (no help wanted).
    pub fn from_parts(
        provider: Option<&str>,
        base_url: Option<&str>,
        model: Option<&str>,
        api_key: Option<&str>,
    ) -> Result<Option<AssistConfig>, ConfigError> {
        let Some(provider) = provider.map(str::trim).filter(|p| !p.is_empty()) else {
            if model.is_some_and(|m| !m.trim().is_empty()) {
                return Err(ConfigError(format!(
                    "a model is set but no provider: set {ENV_PROVIDER} (openai or anthropic)"
                )));
            }
            return Ok(None);
        };
        let provider = Provider::parse(provider).ok_or_else(|| {
            ConfigError(format!(
                "unknown LLM provider {provider:?}: use openai (any OpenAI-compatible server) or anthropic"
            ))
        })?;
        let model = model
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                ConfigError(format!(
                    "the LLM provider is {provider} but no model is set ({ENV_MODEL})"
                ))
            })?;
        let base_url = base_url
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .unwrap_or(provider.default_base_url())
            .trim_end_matches('/')
            .to_string();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| ConfigError(format!("the LLM base URL {base_url:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ConfigError(format!(
                "the LLM base URL {base_url:?} must be http or https"
            )));
        }
        Ok(Some(AssistConfig {
            provider,
            base_url,
            model: model.to_string(),
            api_key: api_key
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(ApiKey::new),
            timeout: Duration::from_secs(60),
        }))
    }

    /// The configuration from the `CATWALK_LLM_*` variables of this process.
    pub fn from_env() -> Result<Option<AssistConfig>, ConfigError> {
        let var = |name: &str| std::env::var(name).ok();
        AssistConfig::from_parts(
            var(ENV_PROVIDER).as_deref(),
            var(ENV_BASE_URL).as_deref(),
            var(ENV_MODEL).as_deref(),
            var(ENV_API_KEY).as_deref(),
        )
    }

    /// What identifies the help in a cache key: specs made with different models (or none) are
    /// kept apart.
    pub(crate) fn cache_key(&self) -> String {
        format!("assist {} {} {}", self.provider, self.base_url, self.model)
    }

    /// What may be shown about it: the provider and the model (never the key, nor the base
    /// URL, which some gateways carry credentials in).
    pub fn describe(&self) -> Value {
        json!({ "provider": self.provider.as_str(), "model": self.model })
    }
}

/// The JSON schema every answer must validate against. It is strict-mode compatible (every
/// property required, no additional properties, null through type unions).
pub fn answer_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["variables"],
        "properties": {
            "variables": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name", "description", "required", "secret", "default", "format", "choices"],
                    "properties": {
                        "name": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
                        "description": { "type": ["string", "null"] },
                        "required": { "type": "boolean" },
                        "secret": { "type": "boolean" },
                        "default": { "type": ["string", "null"] },
                        "format": {
                            "type": ["string", "null"],
                            "enum": ["string", "number", "boolean", "filepath", "url", null]
                        },
                        "choices": { "type": "array", "items": { "type": "string" } }
                    }
                }
            }
        }
    })
}

/// One variable as the model describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Claim {
    pub name: String,
    pub description: Option<String>,
    pub required: bool,
    pub secret: bool,
    pub default: Option<String>,
    pub format: Option<String>,
    pub choices: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Answer {
    variables: Vec<Claim>,
}

/// Asks the model about the spec's variables and merges its answer; on any failure, records it
/// and leaves the spec as the evidence made it.
pub(crate) async fn assist(
    config: &AssistConfig,
    spec: &mut ServerSpec,
    tree: &SourceTree,
    readme: Option<(&str, &str)>,
) {
    let mut report = AssistReport {
        provider: config.provider.as_str().to_string(),
        model: config.model.clone(),
        changes: Vec::new(),
        error: None,
    };
    let prompt = evidence::prompt(spec, tree, readme);
    match ask_validated(config, &prompt).await {
        Ok(answer) => {
            report.changes = merge::merge(spec, tree, answer.variables);
        }
        Err(e) => {
            tracing::warn!("LLM help failed for {}: {e}", spec.source);
            report.error = Some(e.to_string());
        }
    }
    spec.assist = Some(report);
}

async fn ask_validated(
    config: &AssistConfig,
    prompt: &evidence::Prompt,
) -> Result<Answer, AssistError> {
    let schema = answer_schema();
    let value = client::ask(config, &prompt.system, &prompt.user, &schema).await?;
    let validator = jsonschema::validator_for(&schema)
        .map_err(|e| AssistError::Invalid(format!("the answer schema does not compile: {e}")))?;
    if let Some(error) = validator.iter_errors(&value).next() {
        return Err(AssistError::Invalid(format!(
            "the answer does not match the schema: {error} (at {})",
            error.instance_path()
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| AssistError::Invalid(format!("the answer cannot be read: {e}")))
}

#[cfg(test)]
mod tests;
