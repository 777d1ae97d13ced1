//! What modern clients learn about the upstream server, derived from the `InitializeResult` the
//! bridge cached at the handshake, and the fields Catwalk adds to every modern result.
//!
//! Caching hints (`ttlMs`, `cacheScope`). A legacy server gives no freshness information; Catwalk
//! only knows, from its capabilities, whether a list may change while the process runs:
//! - a list whose feature declares `listChanged` may change at any moment, so it gets `ttlMs: 0`
//!   (clients re-fetch, or listen for the change through `subscriptions/listen`);
//! - a list that cannot change, and `server/discover`, stay fresh for five minutes (only a
//!   redeploy changes them);
//! - `resources/read` gets `ttlMs: 0`: a resource may change at any time (that is what
//!   resource subscriptions exist for).
//!
//! `cacheScope` is always `"private"`: a deployment may be private to its token holders, and a
//! shared cache must not hand its lists or contents to anyone else.

use catwalk_bridge::InitInfo;
use catwalk_protocol::raw;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::VERSION;

const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
/// Freshness of results that only a redeploy changes.
const STABLE_TTL_MS: u64 = 300_000;
const CACHE_SCOPE: &str = "private";
/// Capability keys that mean the same in both eras. Others are left out, notably the
/// 2025-11-25 `tasks`, whose methods changed shape in 2026 and are not relayed.
const CAPABILITIES: [&str; 6] = [
    "experimental",
    "logging",
    "completions",
    "prompts",
    "resources",
    "tools",
];

/// Every version the endpoint serves: the modern one per request, the legacy ones through
/// `initialize` and a session.
pub(crate) fn supported_versions() -> Vec<&'static str> {
    std::iter::once(VERSION)
        .chain(catwalk_protocol::SUPPORTED_VERSIONS.iter().copied())
        .collect()
}

pub(crate) struct Facts {
    capabilities: Map<String, Value>,
    server_info: Value,
    instructions: Option<Value>,
}

impl Facts {
    pub(crate) fn from_init(info: &InitInfo) -> Facts {
        let result: Map<String, Value> =
            serde_json::from_str(info.result.get()).unwrap_or_default();
        let mut capabilities = match result.get("capabilities") {
            Some(Value::Object(capabilities)) => capabilities.clone(),
            _ => Map::new(),
        };
        capabilities.retain(|key, _| CAPABILITIES.contains(&key.as_str()));
        Facts {
            capabilities,
            server_info: result
                .get("serverInfo")
                .cloned()
                .unwrap_or_else(|| json!({ "name": "unknown", "version": "unknown" })),
            instructions: result.get("instructions").cloned(),
        }
    }

    /// Whether the server offers a method (capabilities gate the feature methods).
    pub(crate) fn serves(&self, method: &str) -> bool {
        let feature = match method {
            "server/discover" | "subscriptions/listen" => return true,
            "tools/list" | "tools/call" => "tools",
            "prompts/list" | "prompts/get" => "prompts",
            "resources/list" | "resources/read" | "resources/templates/list" => "resources",
            "completion/complete" => "completions",
            _ => return false,
        };
        self.capabilities.contains_key(feature)
    }

    /// Whether a capability sets a flag, e.g. `("tools", "listChanged")`.
    pub(crate) fn declares(&self, feature: &str, flag: &str) -> bool {
        self.capabilities
            .get(feature)
            .and_then(|c| c.get(flag))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub(crate) fn discover(&self) -> Value {
        let mut result = Map::new();
        result.insert("supportedVersions".into(), json!(supported_versions()));
        result.insert(
            "capabilities".into(),
            Value::Object(self.capabilities.clone()),
        );
        if let Some(instructions) = &self.instructions {
            result.insert("instructions".into(), instructions.clone());
        }
        self.decorate(&mut result);
        result.insert("ttlMs".into(), json!(STABLE_TTL_MS));
        result.insert("cacheScope".into(), json!(CACHE_SCOPE));
        Value::Object(result)
    }

    /// A legacy server's result, as a modern client expects it.
    pub(crate) fn complete(&self, method: &str, result: &RawValue) -> Box<RawValue> {
        let mut result: Map<String, Value> = serde_json::from_str(result.get()).unwrap_or_default();
        self.decorate(&mut result);
        if let Some(ttl) = self.ttl_ms(method) {
            result.entry("ttlMs").or_insert(json!(ttl));
            result.entry("cacheScope").or_insert(json!(CACHE_SCOPE));
        }
        raw(&result)
    }

    /// The end of a subscription, or another result with no fields of its own.
    pub(crate) fn empty_result(&self, meta: Map<String, Value>) -> Value {
        let mut result = Map::new();
        result.insert("_meta".into(), Value::Object(meta));
        self.decorate(&mut result);
        Value::Object(result)
    }

    /// A result asking the client for input before the request can finish (no caching hints:
    /// it is not cacheable).
    pub(crate) fn input_required(&self, input_requests: Value, request_state: &str) -> Value {
        let mut result = Map::new();
        result.insert("inputRequests".into(), input_requests);
        result.insert("requestState".into(), json!(request_state));
        self.decorate(&mut result);
        result.insert("resultType".into(), json!("input_required"));
        Value::Object(result)
    }

    /// `resultType` and the server's identity, which every modern result carries.
    fn decorate(&self, result: &mut Map<String, Value>) {
        result
            .entry("resultType")
            .or_insert_with(|| json!("complete"));
        let meta = result.entry("_meta").or_insert_with(|| json!({}));
        if let Value::Object(meta) = meta {
            meta.entry(SERVER_INFO)
                .or_insert_with(|| self.server_info.clone());
        }
    }

    fn ttl_ms(&self, method: &str) -> Option<u64> {
        let feature = match method {
            "tools/list" => "tools",
            "prompts/list" => "prompts",
            "resources/list" | "resources/templates/list" => "resources",
            "resources/read" => return Some(0),
            _ => return None,
        };
        Some(if self.declares(feature, "listChanged") {
            0
        } else {
            STABLE_TTL_MS
        })
    }
}
