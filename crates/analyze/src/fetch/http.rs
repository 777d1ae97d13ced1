//! HTTP(S) downloads (archives, the MCP registry) with reqwest, bounded in size and time.
//!
//! Every connection goes through [`CheckedResolver`], which drops non-public addresses unless
//! private networks are allowed: the address checked is the address connected to, so DNS
//! rebinding cannot slip past the check. IP-literal hosts never reach a resolver, so they are
//! checked up front and on every redirect. Proxies from the environment are not used: a proxy
//! would resolve the host itself, out of reach of the check.

use std::error::Error as StdError;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Client, StatusCode, Url, redirect};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::network;
use crate::Analyzer;
use crate::error::AnalyzeError;
use crate::source::redact_url;

const MAX_REDIRECTS: usize = 5;

/// A resolver that only hands out addresses the analyzer may connect to.
struct CheckedResolver {
    allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found = network::resolve_checked(&host, 0, allow_private).await;
            match found {
                Ok(addresses) => Ok(Box::new(addresses.into_iter()) as Addrs),
                Err(e) => Err(Box::new(e) as Box<dyn StdError + Send + Sync>),
            }
        })
    }
}

/// Refuses an IP-literal host that is not public (names are checked by the resolver).
fn check_literal_host(url: &Url, allow_private: bool) -> Result<(), AnalyzeError> {
    let host = url.host_str().unwrap_or("");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let Ok(ip) = bare.parse::<std::net::IpAddr>() else {
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(0);
    network::filter(
        &ip.to_string(),
        vec![std::net::SocketAddr::new(ip, port)],
        allow_private,
    )
    .map(|_| ())
}

/// A client for one analysis: checked resolver, checked redirects, no proxy, a total timeout.
pub(crate) fn client(analyzer: &Analyzer) -> Result<Client, AnalyzeError> {
    let allow_private = analyzer.allow_private_network;
    let policy = redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        if !matches!(attempt.url().scheme(), "http" | "https") {
            return attempt.error("a redirect to a scheme other than http(s)");
        }
        match check_literal_host(attempt.url(), allow_private) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    });
    Client::builder()
        .use_rustls_tls()
        .no_proxy()
        .dns_resolver(Arc::new(CheckedResolver { allow_private }))
        .redirect(policy)
        .timeout(analyzer.fetch_timeout)
        .connect_timeout(analyzer.fetch_timeout.min(Duration::from_secs(15)))
        .user_agent(concat!("catwalk-analyze/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AnalyzeError::Download {
            url: String::new(),
            detail: format!("cannot set up the HTTP client: {e}"),
        })
}

/// A refusal raised inside reqwest (by the resolver or the redirect policy), if that is what
/// made the request fail.
fn refusal(error: &reqwest::Error) -> Option<AnalyzeError> {
    let mut current: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(e) = current {
        if let Some(AnalyzeError::PrivateNetwork { host, detail }) =
            e.downcast_ref::<AnalyzeError>()
        {
            return Some(AnalyzeError::PrivateNetwork {
                host: host.clone(),
                detail: detail.clone(),
            });
        }
        current = e.source();
    }
    None
}

/// reqwest's message followed by its causes ("error sending request: connection refused").
fn describe(error: &reqwest::Error) -> String {
    let mut parts = vec![error.without_url_text()];
    let mut current = error.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

trait WithoutUrl {
    fn without_url_text(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    /// The message without the URL reqwest appends (the caller shows a redacted one).
    fn without_url_text(&self) -> String {
        let text = self.to_string();
        match text.find(" for url (") {
            Some(i) => text[..i].to_string(),
            None => text,
        }
    }
}

fn request_error(error: reqwest::Error, shown: &str, timeout: Duration) -> AnalyzeError {
    if let Some(refused) = refusal(&error) {
        return refused;
    }
    if error.is_timeout() {
        return AnalyzeError::Timeout {
            command: format!("the download of {shown}"),
            seconds: timeout.as_secs(),
        };
    }
    AnalyzeError::Download {
        url: shown.to_string(),
        detail: describe(&error),
    }
}

fn parse_url(url: &str, analyzer: &Analyzer) -> Result<Url, AnalyzeError> {
    let parsed = Url::parse(url).map_err(|e| AnalyzeError::Download {
        url: redact_url(url),
        detail: format!("not a valid URL: {e}"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(AnalyzeError::Download {
            url: redact_url(url),
            detail: "only http and https URLs can be downloaded".into(),
        });
    }
    check_literal_host(&parsed, analyzer.allow_private_network)?;
    Ok(parsed)
}

/// A finished download.
pub(crate) struct Downloaded {
    /// The SHA-256 of the bytes received, in hex.
    pub sha256: String,
    pub bytes: u64,
}

/// Streams `url` into the file `dest`, stopping (and failing) past `max_bytes` or the timeout.
pub(crate) async fn download(
    analyzer: &Analyzer,
    url: &str,
    dest: &Path,
    max_bytes: u64,
) -> Result<Downloaded, AnalyzeError> {
    let shown = redact_url(url);
    let parsed = parse_url(url, analyzer)?;
    let client = client(analyzer)?;
    let timeout = analyzer.fetch_timeout;
    let fail = |e: reqwest::Error| request_error(e, &shown, timeout);
    let mut response = client.get(parsed).send().await.map_err(fail)?;
    let status = response.status();
    if !status.is_success() {
        return Err(AnalyzeError::Download {
            url: shown.clone(),
            detail: format!("the server answered HTTP {status}"),
        });
    }
    let too_large = || AnalyzeError::TooLarge {
        what: format!("the download of {shown}"),
        limit: format!("{} bytes", max_bytes),
    };
    if response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(too_large());
    }
    let mut file = tokio::fs::File::create(dest)
        .await
        .map_err(|e| AnalyzeError::io(format!("cannot create {}", dest.display()), e))?;
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(fail)? {
        bytes += chunk.len() as u64;
        if bytes > max_bytes {
            drop(file);
            let _ = tokio::fs::remove_file(dest).await;
            return Err(too_large());
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| AnalyzeError::io(format!("cannot write {}", dest.display()), e))?;
    }
    file.flush()
        .await
        .map_err(|e| AnalyzeError::io(format!("cannot write {}", dest.display()), e))?;
    Ok(Downloaded {
        sha256: hex::encode(hasher.finalize()),
        bytes,
    })
}

/// GETs `url` and returns the status and at most `max_bytes` of body (more is an error).
pub(crate) async fn get(
    analyzer: &Analyzer,
    client: &Client,
    url: &Url,
    max_bytes: u64,
) -> Result<(StatusCode, Vec<u8>), AnalyzeError> {
    let shown = redact_url(url.as_str());
    check_literal_host(url, analyzer.allow_private_network)?;
    let timeout = analyzer.fetch_timeout;
    let fail = |e: reqwest::Error| request_error(e, &shown, timeout);
    let mut response = client
        .get(url.clone())
        .header("accept", "application/json")
        .send()
        .await
        .map_err(fail)?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(fail)? {
        if body.len() as u64 + chunk.len() as u64 > max_bytes {
            return Err(AnalyzeError::TooLarge {
                what: format!("the answer of {shown}"),
                limit: format!("{max_bytes} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}
