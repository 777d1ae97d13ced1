//! The request headers that mirror the body in 2026-07-28 (`Mcp-Method`, `Mcp-Name` and the
//! `Mcp-Param-*` headers a tool declares with `x-mcp-header`), checked against the body so that
//! an intermediary routing on a header can never be fooled by a body that says otherwise.
//!
//! `Mcp-Param-*` needs the tool's `inputSchema`. Catwalk keeps each deployment's annotated
//! parameters for a short while ([`FRESH_FOR`]), refreshed by its own `tools/list` call to the
//! upstream or by any complete `tools/list` a modern client makes. If the list cannot be read,
//! no parameter header is required (the upstream then judges the call on its own).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::Engine;
use catwalk_bridge::Upstream;
use catwalk_protocol::raw;
use serde_json::{Value, json};

use super::Rejection;

/// How long a deployment's tool annotations are trusted before they are read again.
const FRESH_FOR: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Pages of `tools/list` read at most (a guard against a server whose cursor never ends).
const MAX_PAGES: usize = 50;

pub(crate) fn check_method(headers: &HeaderMap, method: &str) -> Result<(), Rejection> {
    match value(headers, "mcp-method")? {
        None => Err(Rejection::mismatch(format!(
            "the Mcp-Method header is required (it must be {method:?})"
        ))),
        Some(header) if header != method => Err(Rejection::mismatch(format!(
            "Mcp-Method header value {header:?} does not match body value {method:?}"
        ))),
        Some(_) => Ok(()),
    }
}

/// `Mcp-Name` against `params.name` or `params.uri`.
pub(crate) fn check_name(headers: &HeaderMap, body: &str) -> Result<(), Rejection> {
    match value(headers, "mcp-name")? {
        None => Err(Rejection::mismatch(format!(
            "the Mcp-Name header is required (it must be {body:?})"
        ))),
        Some(header) if decode(header, "Mcp-Name")? != body => Err(Rejection::mismatch(format!(
            "Mcp-Name header value {header:?} does not match body value {body:?}"
        ))),
        Some(_) => Ok(()),
    }
}

/// A header's value without the optional whitespace around it (RFC 9110 §5.5); an error when
/// it holds characters a header value may not.
fn value<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Rejection> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| {
        Rejection::mismatch(format!(
            "the {name} header holds characters outside visible ASCII; encode such values as \
             =?base64?...?="
        ))
    })?;
    Ok(Some(text.trim_matches([' ', '\t'])))
}

/// Decodes the `=?base64?...?=` form (strict: canonical padding, standard alphabet); any other
/// value is literal.
fn decode(value: &str, name: &str) -> Result<String, Rejection> {
    let Some(encoded) = value
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    else {
        return Ok(value.to_string());
    };
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            Rejection::mismatch(format!(
                "the {name} header is not valid Base64 of UTF-8 text: {value:?}"
            ))
        })
}

/// A tool parameter mirrored into a header.
#[derive(Clone, Debug)]
struct ParamHeader {
    /// The `x-mcp-header` value, as declared (header names compare case-insensitively).
    name: String,
    /// The chain of `properties` keys from the schema root.
    path: Vec<String>,
}

struct Cached {
    upstream: Upstream,
    read_at: Instant,
    tools: HashMap<String, Vec<ParamHeader>>,
}

/// Each deployment's `x-mcp-header` annotations.
#[derive(Default)]
pub(crate) struct ToolHeaders {
    map: Mutex<HashMap<String, Cached>>,
}

impl ToolHeaders {
    /// Checks the `Mcp-Param-*` headers of a `tools/call` against its arguments.
    pub(crate) async fn check(
        &self,
        deployment: &str,
        upstream: &Upstream,
        headers: &HeaderMap,
        tool: &str,
        arguments: &Value,
    ) -> Result<(), Rejection> {
        let params = match self.cached(deployment, tool) {
            Some(params) => params,
            None => {
                let tools = fetch(upstream).await.unwrap_or_default();
                let params = tools.get(tool).cloned().unwrap_or_default();
                self.store(deployment, upstream, tools);
                params
            }
        };
        for param in &params {
            check_param(headers, param, arguments)?;
        }
        Ok(())
    }

    /// Learns from a complete (unpaginated) `tools/list` result relayed to a client.
    pub(crate) fn learn(&self, deployment: &str, upstream: &Upstream, result: &Value) {
        if result.get("nextCursor").is_some_and(|c| !c.is_null()) {
            return;
        }
        let mut tools = HashMap::new();
        collect_tools(result, &mut tools);
        self.store(deployment, upstream, tools);
    }

    pub(crate) fn forget(&self, deployment: &str) {
        self.lock().remove(deployment);
    }

    /// The annotations of one tool, if the deployment's list is fresh and from its current
    /// server process.
    fn cached(&self, deployment: &str, tool: &str) -> Option<Vec<ParamHeader>> {
        let map = self.lock();
        let cached = map.get(deployment)?;
        if cached.upstream.is_closed() || cached.read_at.elapsed() > FRESH_FOR {
            return None;
        }
        Some(cached.tools.get(tool).cloned().unwrap_or_default())
    }

    fn store(
        &self,
        deployment: &str,
        upstream: &Upstream,
        tools: HashMap<String, Vec<ParamHeader>>,
    ) {
        self.lock().insert(
            deployment.to_string(),
            Cached {
                upstream: upstream.clone(),
                read_at: Instant::now(),
                tools,
            },
        );
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Cached>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every page of the upstream's tool list; `None` when it cannot be read.
async fn fetch(upstream: &Upstream) -> Option<HashMap<String, Vec<ParamHeader>>> {
    let mut tools = HashMap::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = cursor
            .as_ref()
            .map(|cursor| raw(&json!({ "cursor": cursor })));
        let answer = upstream
            .call("tools/list", params, FETCH_TIMEOUT)
            .await
            .ok()?;
        let result: Value = serde_json::from_str(answer.result?.get()).ok()?;
        collect_tools(&result, &mut tools);
        cursor = result
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    Some(tools)
}

fn collect_tools(result: &Value, tools: &mut HashMap<String, Vec<ParamHeader>>) {
    for tool in result
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = tool.get("name").and_then(Value::as_str) else {
            continue;
        };
        let mut params = Vec::new();
        if let Some(schema) = tool.get("inputSchema") {
            collect_params(schema, &mut Vec::new(), &mut params);
        }
        // A client must drop a tool whose annotations break the rules; it will not call it
        // with headers, so none are required either.
        let mut names: Vec<String> = params.iter().map(|p| p.name.to_ascii_lowercase()).collect();
        names.sort();
        names.dedup();
        if names.len() != params.len() {
            params.clear();
        }
        tools.insert(name.to_string(), params);
    }
}

/// Annotated properties reachable from the schema root through `properties` alone.
fn collect_params(schema: &Value, path: &mut Vec<String>, out: &mut Vec<ParamHeader>) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, property) in properties {
        path.push(key.clone());
        if let Some(name) = property.get("x-mcp-header").and_then(Value::as_str) {
            let primitive = matches!(
                property.get("type").and_then(Value::as_str),
                Some("string" | "integer" | "boolean")
            );
            if primitive && is_token(name) {
                out.push(ParamHeader {
                    name: name.to_string(),
                    path: path.clone(),
                });
            }
        }
        collect_params(property, path, out);
        path.pop();
    }
}

/// RFC 9110 `1*tchar`.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn check_param(
    headers: &HeaderMap,
    param: &ParamHeader,
    arguments: &Value,
) -> Result<(), Rejection> {
    let header_name = format!("mcp-param-{}", param.name.to_ascii_lowercase());
    let display = format!("Mcp-Param-{}", param.name);
    let body = param
        .path
        .iter()
        .try_fold(arguments, |value, key| value.get(key))
        .filter(|value| !value.is_null());
    let header = value(headers, &header_name)?;
    let (header, body) = match (header, body) {
        (None, None) => return Ok(()),
        (Some(header), None) => {
            return Err(Rejection::mismatch(format!(
                "the {display} header is {header:?} but the argument {} is absent",
                param.path.join(".")
            )));
        }
        (None, Some(_)) => {
            return Err(Rejection::mismatch(format!(
                "the {display} header is required: the argument {} is present",
                param.path.join(".")
            )));
        }
        (Some(header), Some(body)) => (decode(header, &display)?, body),
    };
    let equal = match body {
        Value::String(text) => header == *text,
        Value::Bool(flag) => header == flag.to_string(),
        // Integers compare numerically, so that "42.0" matches 42.
        Value::Number(number) => header
            .parse::<f64>()
            .is_ok_and(|parsed| Some(parsed) == number.as_f64()),
        _ => false,
    };
    if equal {
        Ok(())
    } else {
        Err(Rejection::mismatch(format!(
            "{display} header value {header:?} does not match body value {body}"
        )))
    }
}
