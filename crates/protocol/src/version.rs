//! MCP protocol versions of the legacy (session) era that the gateway accepts.

/// Every version a client may negotiate through Catwalk, newest first. The upstream server
/// decides the version of its own session; Catwalk forwards whatever it picked.
pub const SUPPORTED_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// The version Catwalk offers when it initializes a server on its own behalf.
pub const LATEST_VERSION: &str = SUPPORTED_VERSIONS[0];

pub fn is_supported_version(version: &str) -> bool {
    SUPPORTED_VERSIONS.contains(&version)
}
