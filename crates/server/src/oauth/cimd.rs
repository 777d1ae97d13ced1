//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a client whose
//! `client_id` is an https URL publishes its metadata there, and Catwalk fetches it.
//!
//! The URL comes from whoever starts an authorization request, so fetching it is a server-side
//! request forgery risk. The guard: https only, no credentials in the URL, every address of the
//! host must be public (checked inside the connection's own resolver, so a second DNS answer
//! cannot differ from the checked one; IP literals are checked before connecting), no redirects,
//! no proxy, 5 seconds, 64 KiB. The operator may let loopback addresses through (and then plain
//! http to them), for clients on the same machine and for tests:
//! `CATWALK_OAUTH_ALLOW_LOOPBACK_CLIENTS=1`. Documents are cached for five minutes.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::Value;
use url::Url;

/// The environment variable that lets client metadata documents live on loopback addresses.
pub const ALLOW_LOOPBACK_ENV: &str = "CATWALK_OAUTH_ALLOW_LOOPBACK_CLIENTS";

const MAX_BYTES: usize = 64 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);
const CACHE_FOR: Duration = Duration::from_secs(300);
const CACHE_ENTRIES: usize = 1000;

/// Fetches and caches client metadata documents.
pub struct Fetcher {
    client: reqwest::Client,
    allow_loopback: bool,
    cache: Mutex<HashMap<String, (Instant, Value)>>,
}

/// Whether a `client_id` is meant as a metadata document URL (else it is a registered id).
pub fn is_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

impl Fetcher {
    pub fn new(allow_loopback: bool) -> Fetcher {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver { allow_loopback }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("catwalk/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a reqwest client builds with these settings");
        Fetcher {
            client,
            allow_loopback,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// From the environment: loopback allowed when `CATWALK_OAUTH_ALLOW_LOOPBACK_CLIENTS` is 1.
    pub fn from_env() -> Fetcher {
        let allow = std::env::var(ALLOW_LOOPBACK_ENV).is_ok_and(|v| v == "1" || v == "true");
        if allow {
            tracing::warn!(
                "{ALLOW_LOOPBACK_ENV} is set: OAuth client metadata documents may be fetched from \
                 loopback addresses"
            );
        }
        Fetcher::new(allow)
    }

    /// The validated metadata document of `client_id`, or why it cannot be used (in words for
    /// the person looking at the error page).
    pub async fn fetch(&self, client_id: &str) -> Result<Value, String> {
        if let Some((at, document)) = self.cache().get(client_id)
            && at.elapsed() < CACHE_FOR
        {
            return Ok(document.clone());
        }
        let url = self.check_url(client_id)?;
        let response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("cannot fetch the client's metadata document: {}", cause(&e)))?;
        if !response.status().is_success() {
            return Err(format!(
                "the client's metadata document answered HTTP {}",
                response.status().as_u16()
            ));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BYTES as u64)
        {
            return Err("the client's metadata document is larger than 64 KiB".into());
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                format!("cannot read the client's metadata document: {}", cause(&e))
            })?;
            if body.len() + chunk.len() > MAX_BYTES {
                return Err("the client's metadata document is larger than 64 KiB".into());
            }
            body.extend_from_slice(&chunk);
        }
        let document = validate(client_id, &body)?;
        let mut cache = self.cache();
        if cache.len() >= CACHE_ENTRIES {
            cache.retain(|_, (at, _)| at.elapsed() < CACHE_FOR);
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(client_id.to_string(), (Instant::now(), document.clone()));
        Ok(document)
    }

    /// The URL rules before any network access.
    fn check_url(&self, client_id: &str) -> Result<Url, String> {
        let url = Url::parse(client_id).map_err(|e| format!("client_id is not a URL: {e}"))?;
        let ip_literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        let plain_http_allowed =
            self.allow_loopback && ip_literal.is_some_and(|ip| ip.is_loopback());
        if url.scheme() != "https" && !(url.scheme() == "http" && plain_http_allowed) {
            return Err("a client_id URL must use https".into());
        }
        if url.path().is_empty() || url.path() == "/" {
            return Err("a client_id URL must have a path".into());
        }
        if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err("a client_id URL must have no fragment and no credentials".into());
        }
        if url
            .path_segments()
            .is_some_and(|mut s| s.any(|s| s == "." || s == ".."))
        {
            return Err("a client_id URL must not have dot segments".into());
        }
        // reqwest does not ask the resolver about IP literals: check them here.
        if let Some(ip) = ip_literal
            && !allowed(ip, self.allow_loopback)
        {
            return Err(format!(
                "the client's metadata document is on a non-public address ({ip})"
            ));
        }
        Ok(url)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Value)>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The document's rules: a JSON object whose `client_id` is the URL it was fetched from, with a
/// `client_name` and a non-empty list of `redirect_uris`; no client secret (a document is
/// public, so a client that needs a secret cannot be described by one).
pub fn validate(client_id: &str, body: &[u8]) -> Result<Value, String> {
    let document: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the client's metadata document is not JSON: {e}"))?;
    if !document.is_object() {
        return Err("the client's metadata document is not a JSON object".into());
    }
    if document.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err(
            "the client's metadata document names another client_id than its own URL".into(),
        );
    }
    let redirects = document.get("redirect_uris").and_then(Value::as_array);
    if redirects.is_none_or(|r| r.is_empty() || r.iter().any(|u| !u.is_string())) {
        return Err("the client's metadata document has no redirect_uris".into());
    }
    if document
        .get("client_name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err("the client's metadata document has no client_name".into());
    }
    let method = document
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .unwrap_or("none");
    if document.get("client_secret").is_some() || method.starts_with("client_secret") {
        return Err("a client metadata document must not use a client secret".into());
    }
    Ok(document)
}

fn allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    catwalk_analyze::is_public_address(ip) || (allow_loopback && ip.is_loopback())
}

/// The innermost cause of a reqwest error (its own text says only "error sending request").
fn cause(error: &reqwest::Error) -> String {
    use std::error::Error;
    let mut source: &dyn Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    if error.is_timeout() {
        return "it took longer than 5 seconds".into();
    }
    source.to_string()
}

/// Resolves like the system, then keeps only the addresses a document may be fetched from.
struct CheckedResolver {
    allow_loopback: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allowed(a.ip(), allow_loopback))
                .collect();
            if kept.is_empty() || kept.len() != found.len() {
                let listed: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
                return Err(format!(
                    "{host} resolves to a non-public address ({})",
                    listed.join(", ")
                )
                .into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "https://client.example/oauth/metadata.json";

    fn doc(value: Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap()
    }

    #[test]
    fn documents_must_name_themselves() {
        let good = serde_json::json!({
            "client_id": ID, "client_name": "Example", "redirect_uris": ["http://127.0.0.1:3000/cb"]
        });
        assert!(validate(ID, &doc(good.clone())).is_ok());
        let mut other = good.clone();
        other["client_id"] = "https://client.example/other.json".into();
        assert!(
            validate(ID, &doc(other))
                .unwrap_err()
                .contains("another client_id")
        );
        let mut no_redirects = good.clone();
        no_redirects["redirect_uris"] = serde_json::json!([]);
        assert!(validate(ID, &doc(no_redirects)).is_err());
        let mut no_name = good.clone();
        no_name.as_object_mut().unwrap().remove("client_name");
        assert!(validate(ID, &doc(no_name)).is_err());
        let mut secret = good.clone();
        secret["token_endpoint_auth_method"] = "client_secret_basic".into();
        assert!(validate(ID, &doc(secret)).is_err());
        assert!(validate(ID, b"[1,2]").is_err());
        assert!(validate(ID, b"not json").is_err());
    }

    #[test]
    fn urls_are_checked_before_any_request() {
        let strict = Fetcher::new(false);
        for bad in [
            "http://client.example/m.json",
            "https://client.example",
            "https://client.example/",
            "https://user:pw@client.example/m.json",
            "https://client.example/m.json#x",
            "https://127.0.0.1/m.json",
            "https://10.0.0.8/m.json",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/m.json",
            "https://[::ffff:127.0.0.1]/m.json",
            "http://127.0.0.1:8080/m.json",
        ] {
            assert!(strict.check_url(bad).is_err(), "{bad}");
        }
        assert!(strict.check_url(ID).is_ok());
        let loopback = Fetcher::new(true);
        assert!(loopback.check_url("http://127.0.0.1:8080/m.json").is_ok());
        assert!(loopback.check_url("https://[::1]/m.json").is_ok());
        assert!(loopback.check_url("https://10.0.0.8/m.json").is_err());
        assert!(loopback.check_url("http://10.0.0.8/m.json").is_err());
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        // `localhost` resolves to loopback: refused unless the operator allows loopback.
        let strict = Fetcher::new(false);
        let error = strict
            .fetch("https://localhost:9/client.json")
            .await
            .unwrap_err();
        assert!(error.contains("non-public"), "{error}");
    }

    #[tokio::test]
    async fn a_loopback_document_is_fetched_when_allowed_and_checked() {
        use axum::routing::get;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let id = format!("http://127.0.0.1:{port}/client.json");
        let served = serde_json::json!({
            "client_id": id, "client_name": "Local", "redirect_uris": ["http://127.0.0.1/cb"]
        });
        let big = "x".repeat(MAX_BYTES + 1);
        let app = axum::Router::new()
            .route(
                "/client.json",
                get(move || async move { axum::Json(served) }),
            )
            .route("/big.json", get(move || async move { big }))
            .route(
                "/moved.json",
                get(|| async { axum::response::Redirect::temporary("/client.json") }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });

        let fetcher = Fetcher::new(true);
        let document = fetcher.fetch(&id).await.unwrap();
        assert_eq!(document["client_name"], "Local");
        let big = fetcher
            .fetch(&format!("http://127.0.0.1:{port}/big.json"))
            .await
            .unwrap_err();
        assert!(big.contains("64 KiB"), "{big}");
        let moved = fetcher
            .fetch(&format!("http://127.0.0.1:{port}/moved.json"))
            .await
            .unwrap_err();
        assert!(
            moved.contains("HTTP 307"),
            "redirects are not followed: {moved}"
        );
        assert!(Fetcher::new(false).fetch(&id).await.is_err());
    }
}
