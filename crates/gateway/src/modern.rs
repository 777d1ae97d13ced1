//! The modern, stateless era of MCP (protocol 2026-07-28) at the same endpoint as the legacy one,
//! in front of legacy stdio servers.
//!
//! A modern request carries its protocol version, client capabilities and client info in
//! `params._meta`; there is no `initialize` and no session. The era is chosen per request
//! ([`is_modern`]): a body with `_meta["io.modelcontextprotocol/protocolVersion"]`, the method
//! `server/discover`, or a non-legacy `MCP-Protocol-Version` header without `Mcp-Session-Id`.
//! Everything else (`initialize`, requests inside a session, batches) stays on the legacy path.
//!
//! The upstream server still speaks a legacy version, so Catwalk translates:
//! - `server/discover` is answered from the upstream's cached `InitializeResult` ([`facts`]);
//! - every other request travels through a bridge session opened for that request alone and
//!   dropped with it ([`forward`]). A session per request keeps ids and cancellations of
//!   concurrent clients apart for free (the bridge rewrites ids per session), and a session is
//!   only a map entry and a channel, so it is cheap;
//! - results get `resultType`, the server's identity and caching hints; a server-to-client
//!   request (elicitation, sampling, roots) becomes an `input_required` result whose retry is
//!   delivered back to the waiting upstream request ([`mrtr`]);
//! - `subscriptions/listen` replaces the legacy GET stream ([`listen`]).

mod facts;
mod forward;
mod headers;
mod listen;
mod mrtr;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use catwalk_protocol::{Id, Kind, Message, codes, raw};
use serde_json::{Map, Value, json};

use crate::reply::{self, SESSION_HEADER};
use crate::streamable::{VERSION_HEADER, header_str};
use crate::{Access, Gateway};

pub(crate) use facts::Facts;

/// The protocol version of the modern era that Catwalk serves.
pub const VERSION: &str = "2026-07-28";

/// Error codes the 2026-07-28 specification adds.
pub mod codes_2026 {
    /// HTTP headers missing, malformed, or disagreeing with the body.
    pub const HEADER_MISMATCH: i64 = -32020;
    /// The request needs a client capability its `_meta` did not declare.
    pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i64 = -32021;
    /// The requested protocol version is not served here.
    pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
}

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
/// `_meta` keys with this prefix belong to the modern protocol and are not forwarded upstream,
/// except [`META_CAPABILITIES`] (see [`Call::upstream_params`]).
const META_PREFIX: &str = "io.modelcontextprotocol/";

/// Methods the 2026-07-28 revision removed; a modern request for one gets 404.
const REMOVED: [&str; 5] = [
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// Log levels of `notifications/message`, least severe first.
const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// State the modern path keeps between requests.
#[derive(Default)]
pub struct Modern {
    parked: mrtr::Parked,
    tool_headers: headers::ToolHeaders,
}

impl Modern {
    /// Forgets what belongs to a deployment (it was removed or restarted).
    pub fn forget_deployment(&self, deployment: &str) {
        self.parked.forget_deployment(deployment);
        self.tool_headers.forget(deployment);
    }
}

/// Whether a single-message POST belongs to the modern era.
pub(crate) fn is_modern(headers: &HeaderMap, message: &Message) -> bool {
    if headers.contains_key(SESSION_HEADER) {
        return false;
    }
    if message.method.as_deref() == Some("server/discover") || meta_has_version(message) {
        return true;
    }
    if message.method.as_deref() == Some("initialize") {
        return false;
    }
    is_modern_without_session(headers)
}

/// A request without a session whose version header names no legacy version: GET and DELETE
/// from such a client get 405, as the modern transport has neither.
pub(crate) fn is_modern_without_session(headers: &HeaderMap) -> bool {
    !headers.contains_key(SESSION_HEADER)
        && header_str(headers, VERSION_HEADER)
            .is_some_and(|version| !catwalk_protocol::is_supported_version(version.trim()))
}

pub(crate) fn method_not_allowed() -> Response {
    let mut response = reply::error(
        StatusCode::METHOD_NOT_ALLOWED,
        codes::INVALID_REQUEST,
        "Method Not Allowed: protocol version 2026-07-28 has no GET stream and no sessions to \
         delete; POST requests, and use subscriptions/listen for notifications",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

fn meta_has_version(message: &Message) -> bool {
    let Some(params) = &message.params else {
        return false;
    };
    // Cheap pre-check before parsing: most legacy traffic never mentions the key.
    params.get().contains(META_VERSION)
        && serde_json::from_str::<Value>(params.get())
            .ok()
            .and_then(|p| p.get("_meta")?.get(META_VERSION).cloned())
            .is_some()
}

/// A modern request that passed validation.
pub(crate) struct Call {
    pub id: Id,
    pub method: String,
    /// The params as received, `_meta` included.
    pub params: Map<String, Value>,
    pub client_capabilities: Map<String, Value>,
    /// Index into [`LOG_LEVELS`]; `None` means the client wants no log messages.
    pub log_level: Option<usize>,
}

impl Call {
    /// The params to send to the legacy upstream: without the MRTR fields, which a legacy server
    /// does not know, and without the modern `_meta` keys but one.
    ///
    /// The client's capabilities stay: a shared upstream was initialized with Catwalk's own
    /// (sampling and elicitation), which say nothing about the modern client behind this one
    /// request. Under the key the specification gives them, a server that looks for them can
    /// ask only for what this client can answer (2026-07-28 tells servers to read them from
    /// there), and a server that does not ignores an unknown `_meta` key, as `_meta` requires.
    /// The other keys stay here: a server that saw the modern version might answer in the modern
    /// shape on a connection Catwalk speaks legacy on.
    fn upstream_params(&self) -> Map<String, Value> {
        let mut params = self.params.clone();
        params.remove("inputResponses");
        params.remove("requestState");
        if let Some(Value::Object(meta)) = params.get_mut("_meta") {
            meta.retain(|key, _| key == META_CAPABILITIES || !key.starts_with(META_PREFIX));
            if meta.is_empty() {
                params.remove("_meta");
            }
        }
        params
    }

    /// `params.name` (tools, prompts) or `params.uri` (resources/read): what `Mcp-Name` mirrors.
    fn name(&self) -> Option<&str> {
        let field = match self.method.as_str() {
            "tools/call" | "prompts/get" => "name",
            "resources/read" => "uri",
            _ => return None,
        };
        self.params.get(field).and_then(Value::as_str)
    }
}

/// Why a modern request is refused, before anything reaches the upstream.
pub(crate) struct Rejection {
    status: StatusCode,
    code: i64,
    message: String,
    data: Option<Value>,
}

impl Rejection {
    fn new(status: StatusCode, code: i64, message: String) -> Rejection {
        Rejection {
            status,
            code,
            message,
            data: None,
        }
    }

    pub(crate) fn mismatch(message: String) -> Rejection {
        Rejection::new(
            StatusCode::BAD_REQUEST,
            codes_2026::HEADER_MISMATCH,
            format!("Header mismatch: {message}"),
        )
    }

    pub(crate) fn invalid_params(status: StatusCode, message: String) -> Rejection {
        Rejection::new(
            status,
            codes::INVALID_PARAMS,
            format!("Invalid params: {message}"),
        )
    }

    fn method_not_found(message: String) -> Rejection {
        Rejection::new(StatusCode::NOT_FOUND, codes::METHOD_NOT_FOUND, message)
    }

    pub(crate) fn respond(self, id: &Id) -> Response {
        reply::json_with_status(
            self.status,
            &error_message(id.clone(), self.code, &self.message, self.data),
        )
    }
}

/// A JSON-RPC error response, with `data` when there is some.
pub(crate) fn error_message(id: Id, code: i64, message: &str, data: Option<Value>) -> Message {
    let mut error = json!({ "code": code, "message": message });
    if let Some(data) = data {
        error["data"] = data;
    }
    let mut reply = Message::error(Some(id), code, message);
    reply.error = Some(raw(&error));
    reply
}

/// Serves one modern POST (authentication, Accept and Content-Type were checked by the caller).
pub(crate) async fn post(
    gateway: &Arc<Gateway>,
    name: &str,
    access: Access,
    headers: &HeaderMap,
    message: Message,
) -> Response {
    let id = match message.kind() {
        Kind::Request => message.id.clone().expect("requests have ids"),
        // 2026-07-28 defines no client notification over HTTP (closing a stream cancels), and
        // without a session there is nothing a notification could refer to.
        Kind::Notification => return reply::accepted(),
        Kind::Response => {
            return reply::bad_request_for(
                message.id.as_ref(),
                "Bad Request: in protocol version 2026-07-28 clients send no responses; answer \
                 an input_required result by retrying the request with inputResponses",
            );
        }
    };
    let Some(init) = access.upstream.init_info() else {
        return reply::error_for(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(&id),
            codes::SERVER_UNAVAILABLE,
            "Service Unavailable: the deployment's server has not finished starting",
        );
    };
    let facts = Arc::new(Facts::from_init(&init));
    let call = match check(headers, message, &facts) {
        Ok(call) => call,
        Err(rejection) => return rejection.respond(&id),
    };
    let context = forward::Context {
        gateway: gateway.clone(),
        deployment: name.to_string(),
        principal: access.principal,
        upstream: access.upstream,
        facts,
    };
    match call.method.as_str() {
        "server/discover" => reply::json(&Message::response(id, raw(&context.facts.discover()))),
        "subscriptions/listen" => listen::open(context, call).await,
        method => {
            if method == "tools/call" {
                let tool = call.name().unwrap_or_default();
                let arguments = call.params.get("arguments").cloned().unwrap_or(Value::Null);
                if let Err(rejection) = gateway
                    .modern
                    .tool_headers
                    .check(name, &context.upstream, headers, tool, &arguments)
                    .await
                {
                    return rejection.respond(&id);
                }
            }
            forward::run(context, call).await
        }
    }
}

/// Validates a modern request: `_meta`, then the version header and version, then the method,
/// then the mirrored headers. The order matters to clients: a missing `_meta` field is a
/// malformed request (-32602) even when the header would also disagree with it.
fn check(headers: &HeaderMap, message: Message, facts: &Facts) -> Result<Call, Rejection> {
    let id = message.id.clone().expect("requests have ids");
    let method = message.method.clone().expect("requests have a method");
    let params: Map<String, Value> = match &message.params {
        None => Map::new(),
        Some(params) => serde_json::from_str(params.get()).map_err(|_| {
            Rejection::invalid_params(StatusCode::BAD_REQUEST, "params must be an object".into())
        })?,
    };
    let meta_rejection = |what: &str| {
        Rejection::invalid_params(
            StatusCode::BAD_REQUEST,
            format!(
                "{what}; every 2026-07-28 request carries params._meta with \
                 {META_VERSION:?} (a string) and {META_CAPABILITIES:?} (an object)"
            ),
        )
    };
    let Some(Value::Object(meta)) = params.get("_meta") else {
        return Err(meta_rejection("params._meta is missing"));
    };
    let Some(Value::String(version)) = meta.get(META_VERSION) else {
        return Err(meta_rejection(&format!("_meta has no {META_VERSION:?}")));
    };
    let Some(Value::Object(client_capabilities)) = meta.get(META_CAPABILITIES) else {
        return Err(meta_rejection(&format!(
            "_meta has no {META_CAPABILITIES:?}"
        )));
    };
    let log_level = match meta.get(META_LOG_LEVEL) {
        None => None,
        Some(level) => Some(
            level
                .as_str()
                .and_then(|level| LOG_LEVELS.iter().position(|known| *known == level))
                .ok_or_else(|| {
                    Rejection::invalid_params(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "{META_LOG_LEVEL:?} must be one of {}",
                            LOG_LEVELS.join(", ")
                        ),
                    )
                })?,
        ),
    };

    check_input_responses(&params)?;

    match header_str(headers, VERSION_HEADER).map(str::trim) {
        None => {
            return Err(Rejection::mismatch(
                "the MCP-Protocol-Version header is required".into(),
            ));
        }
        Some(header) if header != version => {
            return Err(Rejection::mismatch(format!(
                "MCP-Protocol-Version header value {header:?} does not match body value {version:?}"
            )));
        }
        Some(_) => {}
    }
    if version != VERSION {
        let mut rejection = Rejection::new(
            StatusCode::BAD_REQUEST,
            codes_2026::UNSUPPORTED_PROTOCOL_VERSION,
            format!(
                "Unsupported protocol version {version:?}: per-request _meta is served for {VERSION}; \
                 the legacy versions are served through initialize"
            ),
        );
        rejection.data =
            Some(json!({ "supported": facts::supported_versions(), "requested": version }));
        return Err(rejection);
    }
    headers::check_method(headers, &method)?;
    if REMOVED.contains(&method.as_str()) {
        return Err(Rejection::method_not_found(format!(
            "Method not found: {method} was removed in protocol version {VERSION}"
        )));
    }
    if !facts.serves(&method) {
        return Err(Rejection::method_not_found(format!(
            "Method not found: {method} (the server does not offer it)"
        )));
    }

    let call = Call {
        id,
        method,
        client_capabilities: client_capabilities.clone(),
        log_level,
        params: params.clone(),
    };
    if matches!(
        call.method.as_str(),
        "tools/call" | "prompts/get" | "resources/read"
    ) {
        let field = if call.method == "resources/read" {
            "uri"
        } else {
            "name"
        };
        let Some(value) = call.name() else {
            return Err(Rejection::invalid_params(
                StatusCode::BAD_REQUEST,
                format!("{} needs params.{field} (a string)", call.method),
            ));
        };
        headers::check_name(headers, value)?;
    }
    Ok(call)
}

/// `inputResponses`, when present, maps keys to results (objects): anything else is a malformed
/// request, refused before it reaches a waiting request (which keeps waiting for a good retry).
fn check_input_responses(params: &Map<String, Value>) -> Result<(), Rejection> {
    let Some(responses) = params.get("inputResponses") else {
        return Ok(());
    };
    let malformed = |what: String| {
        Rejection::invalid_params(
            StatusCode::BAD_REQUEST,
            format!(
                "{what}; inputResponses maps each key of the inputRequests being answered to \
                 its result (an object)"
            ),
        )
    };
    let Value::Object(responses) = responses else {
        return Err(malformed(format!("inputResponses is {responses}")));
    };
    match responses.iter().find(|(_, response)| !response.is_object()) {
        Some((key, response)) => Err(malformed(format!("inputResponses[{key:?}] is {response}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
