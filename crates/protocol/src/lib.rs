//! The JSON-RPC envelope of MCP, and nothing more.
//!
//! Catwalk forwards messages between clients and servers; it never needs to understand what a
//! tool call means. So only the envelope (`jsonrpc`, `id`, `method`, `result`, `error`) is parsed,
//! and `params`, `result` and `error` stay raw JSON text ([`RawValue`]) that is forwarded byte for
//! byte. This keeps the gateway fast on large payloads and tolerant of fields it does not know.

mod version;

pub use version::{LATEST_VERSION, SUPPORTED_VERSIONS, is_supported_version};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// JSON-RPC error codes used by Catwalk.
pub mod codes {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// Implementation-defined server error: used when the upstream server cannot answer
    /// (it crashed, exited, or is not running).
    pub const SERVER_UNAVAILABLE: i64 = -32000;
    /// Implementation-defined server error: the request is over a rate limit (with HTTP 429
    /// and `Retry-After`).
    pub const RATE_LIMITED: i64 = -32029;
}

/// A JSON-RPC id: a number or a string (JSON-RPC also allows null, which MCP forbids).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    Number(i64),
    String(String),
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// One JSON-RPC message with its bodies kept as raw JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub jsonrpc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Box<RawValue>>,
}

/// What a message is, judged from the envelope alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Notification,
    Response,
}

/// Why a body is not a valid JSON-RPC message.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("Parse error: {0}")]
    Json(String),
    #[error("Invalid Request: {0}")]
    Invalid(&'static str),
}

impl ParseError {
    pub fn code(&self) -> i64 {
        match self {
            ParseError::Json(_) => codes::PARSE_ERROR,
            ParseError::Invalid(_) => codes::INVALID_REQUEST,
        }
    }
}

impl Message {
    /// Parses and checks one message.
    pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
        let message: Message =
            serde_json::from_slice(bytes).map_err(|e| ParseError::Json(e.to_string()))?;
        message.validate()?;
        Ok(message)
    }

    fn validate(&self) -> Result<(), ParseError> {
        if self.jsonrpc != "2.0" {
            return Err(ParseError::Invalid("jsonrpc must be \"2.0\""));
        }
        match (&self.method, &self.id, &self.result, &self.error) {
            (Some(_), _, None, None) => Ok(()),
            (None, Some(_), Some(_), None) | (None, Some(_), None, Some(_)) => Ok(()),
            // A response to a request whose id could not be read carries no id.
            (None, None, None, Some(_)) => Ok(()),
            (Some(_), _, _, _) => Err(ParseError::Invalid(
                "a request cannot carry result or error",
            )),
            _ => Err(ParseError::Invalid(
                "a message needs a method, or an id with exactly one of result and error",
            )),
        }
    }

    pub fn kind(&self) -> Kind {
        match (&self.method, &self.id) {
            (Some(_), Some(_)) => Kind::Request,
            (Some(_), None) => Kind::Notification,
            (None, _) => Kind::Response,
        }
    }

    pub fn request(id: Id, method: &str, params: Option<Box<RawValue>>) -> Message {
        Message {
            jsonrpc: "2.0".into(),
            id: Some(id),
            method: Some(method.into()),
            params,
            result: None,
            error: None,
        }
    }

    pub fn notification(method: &str, params: Option<Box<RawValue>>) -> Message {
        Message {
            jsonrpc: "2.0".into(),
            id: None,
            method: Some(method.into()),
            params,
            result: None,
            error: None,
        }
    }

    pub fn response(id: Id, result: Box<RawValue>) -> Message {
        Message {
            jsonrpc: "2.0".into(),
            id: Some(id),
            method: None,
            params: None,
            result: Some(result),
            error: None,
        }
    }

    /// An error response. `id` is `None` only when the request's id could not be read.
    pub fn error(id: Option<Id>, code: i64, message: &str) -> Message {
        let body = serde_json::json!({ "code": code, "message": message });
        Message {
            jsonrpc: "2.0".into(),
            id,
            method: None,
            params: None,
            result: None,
            error: Some(raw(&body)),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a message always serializes")
    }

    /// Reads one field of `params` (for example `protocolVersion` of an `initialize`).
    pub fn param<T: serde::de::DeserializeOwned>(&self, field: &str) -> Option<T> {
        let params: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(self.params.as_ref()?.get()).ok()?;
        serde_json::from_value(params.get(field)?.clone()).ok()
    }

    /// Reads one field of `result`.
    pub fn result_field<T: serde::de::DeserializeOwned>(&self, field: &str) -> Option<T> {
        let result: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(self.result.as_ref()?.get()).ok()?;
        serde_json::from_value(result.get(field)?.clone()).ok()
    }
}

/// A POST body: one message, or (2025-03-26 only) a batch.
#[derive(Debug)]
pub enum Body {
    Single(Message),
    Batch(Vec<Message>),
}

impl Body {
    pub fn parse(bytes: &[u8]) -> Result<Body, ParseError> {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') {
            let items: Vec<Box<RawValue>> =
                serde_json::from_slice(bytes).map_err(|e| ParseError::Json(e.to_string()))?;
            if items.is_empty() {
                return Err(ParseError::Invalid("an empty batch"));
            }
            let messages = items
                .iter()
                .map(|item| Message::parse(item.get().as_bytes()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Body::Batch(messages))
        } else {
            Message::parse(bytes).map(Body::Single)
        }
    }
}

/// Serializes a value into raw JSON.
pub fn raw<T: Serialize>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("JSON values always serialize")
}

#[cfg(test)]
mod tests;
