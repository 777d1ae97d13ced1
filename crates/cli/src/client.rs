//! The REST API client (docs/API.md): the only place that speaks HTTP and maps its failures.
//!
//! Responses stay raw [`Value`]s so that `--json` prints exactly what the API returned; commands
//! that need fields decode them into the small edge types at the bottom of this file.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ExitStatus;

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the Catwalk server at {url} ({reason})")]
    Unreachable { url: String, reason: String },
    /// HTTP 401: the admin token is missing or wrong.
    #[error("{message}")]
    Unauthorized { message: String },
    /// Any other error status, with the message from the API's error body.
    #[error("{message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// The server answered something that is not the documented API.
    #[error("unexpected response from {url}: {detail}")]
    Protocol { url: String, detail: String },
}

impl ClientError {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            ClientError::Unreachable { .. } => ExitStatus::Unreachable,
            ClientError::Unauthorized { .. } => ExitStatus::Auth,
            ClientError::Api { .. } | ClientError::Protocol { .. } => ExitStatus::Failure,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            ClientError::Unreachable { .. } => Some(
                "start the server with `catwalk serve`, or point --server / CATWALK_URL at a \
                 running one"
                    .to_owned(),
            ),
            ClientError::Unauthorized { .. } => Some(
                "run `catwalk login`, or pass an API token with --token or CATWALK_TOKEN (the \
                 admin's is in <data-dir>/admin-token on the server's machine)"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// True for the API's `404 not_found`, which callers turn into "no such deployment".
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Api { status: 404, .. })
    }

    /// Builds the error for a non-success response from its status and body.
    pub fn from_response(url: &str, status: StatusCode, body: &[u8]) -> ClientError {
        #[derive(Deserialize)]
        struct ErrorBody {
            error: ErrorDetail,
        }
        #[derive(Deserialize)]
        struct ErrorDetail {
            #[serde(default)]
            code: String,
            message: String,
        }
        let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
        if status == StatusCode::UNAUTHORIZED {
            let message = parsed
                .map(|body| body.error.message)
                .unwrap_or_else(|| "the server rejected the admin token (HTTP 401)".to_owned());
            return ClientError::Unauthorized { message };
        }
        match parsed {
            Some(body) => ClientError::Api {
                status: status.as_u16(),
                code: body.error.code,
                message: body.error.message,
            },
            // Not our API's error format: a proxy page, or not a Catwalk server at all.
            None => ClientError::Api {
                status: status.as_u16(),
                code: String::new(),
                message: format!("HTTP {status} from {url} (not a Catwalk API error body)"),
            },
        }
    }

    fn from_transport(url: &str, error: &reqwest::Error) -> ClientError {
        // reqwest's own message is generic ("error sending request"); the innermost cause says
        // what happened ("Connection refused", "dns error", ...).
        let mut innermost: &dyn std::error::Error = error;
        while let Some(source) = innermost.source() {
            innermost = source;
        }
        ClientError::Unreachable {
            url: url.to_owned(),
            reason: innermost.to_string(),
        }
    }
}

/// A client for one Catwalk server, authenticated with the admin token.
#[derive(Clone, Debug)]
pub struct ApiClient {
    http: reqwest::Client,
    base: Url,
    token: String,
}

impl ApiClient {
    /// `base` must be an `http` or `https` URL (checked by the settings layer).
    pub fn new(base: Url, token: String) -> Result<ApiClient, ClientError> {
        // No overall timeout: analyze and deploy download packages and may take minutes.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("catwalk-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ClientError::Protocol {
                url: base.to_string(),
                detail: format!("cannot build the HTTP client: {error}"),
            })?;
        Ok(ApiClient { http, base, token })
    }

    /// The server's base URL, as given.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    pub async fn analyze(&self, source: &str, introspect: bool) -> Result<Value, ClientError> {
        let body = serde_json::json!({ "source": source, "introspect": introspect });
        self.call(Method::POST, &["analyze"], &[], Some(&body))
            .await
    }

    pub async fn create_deployment(&self, body: &Value) -> Result<Value, ClientError> {
        self.call(Method::POST, &["deployments"], &[], Some(body))
            .await
    }

    /// Every one of the caller's deployments (with `status` only, if given), in name order. The
    /// API answers a page at a time with a `Link` to the next: this asks for `page_size` per
    /// page and follows the links to the end, but always on this client's own server (the link
    /// names the server's public URL, which may not be the address given to the CLI, and a token
    /// goes nowhere else).
    pub async fn list_deployments(
        &self,
        status: Option<&str>,
        page_size: u32,
    ) -> Result<Vec<Value>, ClientError> {
        let mut query = vec![("limit".to_owned(), page_size.to_string())];
        query.extend(status.map(|status| ("status".to_owned(), status.to_owned())));
        let mut all = Vec::new();
        loop {
            let pairs: Vec<(&str, String)> =
                query.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            let (page, headers) = self
                .call_with_headers(Method::GET, &["deployments"], &pairs, None)
                .await?;
            let url = self.api_url(&["deployments"]);
            let Value::Array(page) = page else {
                return Err(ClientError::Protocol {
                    url: url.to_string(),
                    detail: "the list of deployments is not a JSON array".to_owned(),
                });
            };
            let empty = page.is_empty();
            all.extend(page);
            let Some(next) = next_link(&headers) else {
                return Ok(all);
            };
            let next_query: Vec<(String, String)> = url
                .join(&next)
                .map_err(|error| ClientError::Protocol {
                    url: url.to_string(),
                    detail: format!("the next page's link {next:?} is not a URL ({error})"),
                })?
                .query_pairs()
                .into_owned()
                .collect();
            // A server that pointed back at the same page, or sent an empty page with more to
            // come, would keep this loop going forever.
            if empty || next_query == query {
                return Err(ClientError::Protocol {
                    url: url.to_string(),
                    detail: format!("the next page's link {next:?} does not move on"),
                });
            }
            query = next_query;
        }
    }

    pub async fn deployment(&self, name: &str) -> Result<Value, ClientError> {
        self.call(Method::GET, &["deployments", name], &[], None)
            .await
    }

    pub async fn delete_deployment(&self, name: &str) -> Result<(), ClientError> {
        self.call(Method::DELETE, &["deployments", name], &[], None)
            .await
            .map(drop)
    }

    pub async fn update_deployment(&self, name: &str, body: &Value) -> Result<Value, ClientError> {
        self.call(Method::PATCH, &["deployments", name], &[], Some(body))
            .await
    }

    /// `POST /api/deployments/NAME/ACTION` (`stop`, `start`).
    pub async fn deployment_action(&self, name: &str, action: &str) -> Result<Value, ClientError> {
        self.call(Method::POST, &["deployments", name, action], &[], None)
            .await
    }

    pub async fn set_credentials(&self, name: &str, change: &Value) -> Result<Value, ClientError> {
        let path = ["deployments", name, "credentials"];
        self.call(Method::PATCH, &path, &[], Some(change)).await
    }

    /// `GET /api/<segments...>?<query>`.
    pub async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Value, ClientError> {
        self.call(Method::GET, segments, query, None).await
    }

    /// Any other API route: `METHOD /api/<segments...>` with an optional JSON body.
    pub async fn request(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        self.call(method, segments, &[], body).await
    }

    pub async fn rotate_vault_key(&self) -> Result<Value, ClientError> {
        self.call(Method::POST, &["vault", "rotate"], &[], None)
            .await
    }

    pub async fn events(&self, name: &str, after: i64, limit: u32) -> Result<Value, ClientError> {
        let query = [("after", after.to_string()), ("limit", limit.to_string())];
        self.call(Method::GET, &["deployments", name, "events"], &query, None)
            .await
    }

    pub async fn logs(&self, name: &str, after: i64, limit: u32) -> Result<Value, ClientError> {
        let query = [("after", after.to_string()), ("limit", limit.to_string())];
        self.call(Method::GET, &["deployments", name, "logs"], &query, None)
            .await
    }

    /// The URL of `/api/<segments...>`; each segment is percent-encoded, so a name can never
    /// reach another route.
    pub fn api_url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("api").extend(segments);
        }
        url
    }

    /// Opens the live tail of a deployment's log (an SSE stream of lines after `after`).
    pub async fn log_stream(&self, name: &str, after: i64) -> Result<LogStream, ClientError> {
        let url = self.api_url(&["deployments", name, "logs", "stream"]);
        let url_text = url.to_string();
        let response = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .query(&[("after", after.to_string())])
            .send()
            .await
            .map_err(|error| ClientError::from_transport(&url_text, &error))?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(ClientError::from_response(&url_text, status, &bytes));
        }
        Ok(LogStream {
            response,
            url: url_text,
            buffer: String::new(),
        })
    }

    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        self.call_with_headers(method, segments, query, body)
            .await
            .map(|(value, _)| value)
    }

    /// [`ApiClient::call`], with the response's headers.
    async fn call_with_headers(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(Value, reqwest::header::HeaderMap), ClientError> {
        let url = self.api_url(segments);
        let url_text = url.to_string();
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| ClientError::from_transport(&url_text, &error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| ClientError::from_transport(&url_text, &error))?;
        if !status.is_success() {
            return Err(ClientError::from_response(&url_text, status, &bytes));
        }
        if bytes.is_empty() {
            return Ok((Value::Null, headers));
        }
        serde_json::from_slice(&bytes)
            .map(|value| (value, headers))
            .map_err(|error| ClientError::Protocol {
                url: url_text,
                detail: format!("the body is not JSON ({error})"),
            })
    }
}

/// The events of a live log tail. Only `data` lines matter: each holds one log entry as JSON
/// (the event id repeats the entry's id).
pub struct LogStream {
    response: reqwest::Response,
    url: String,
    buffer: String,
}

impl LogStream {
    /// The next log entry, or `None` when the server ended the stream.
    pub async fn next(&mut self) -> Result<Option<Value>, ClientError> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = event
                    .lines()
                    .filter_map(|line| line.strip_prefix("data:"))
                    .map(|data| data.strip_prefix(' ').unwrap_or(data))
                    .collect();
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return serde_json::from_str(&data.join("\n"))
                    .map(Some)
                    .map_err(|error| ClientError::Protocol {
                        url: self.url.clone(),
                        detail: format!("a log event is not JSON ({error})"),
                    });
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self
                    .buffer
                    .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n")),
                Ok(None) => return Ok(None),
                Err(error) => return Err(ClientError::from_transport(&self.url, &error)),
            }
        }
    }
}

/// The target of the `rel="next"` link among a response's `Link` headers (RFC 8288: each
/// header holds `<target>; param; ...` entries separated by commas; `rel` may list several
/// relation types, quoted or not).
pub fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            let mut rest = value;
            while let Some(open) = rest.find('<') {
                let close = open + rest[open..].find('>')?;
                let target = &rest[open + 1..close];
                let params_end = rest[close..].find('<').map_or(rest.len(), |at| close + at);
                let is_next = rest[close + 1..params_end]
                    .split([';', ','])
                    .filter_map(|param| {
                        let (name, value) = param.split_once('=')?;
                        name.trim()
                            .eq_ignore_ascii_case("rel")
                            .then(|| value.trim().trim_matches('"'))
                    })
                    .any(|rel| {
                        rel.split_ascii_whitespace()
                            .any(|kind| kind.eq_ignore_ascii_case("next"))
                    });
                if is_next {
                    return Some(target.to_owned());
                }
                rest = &rest[params_end..];
            }
            None
        })
}

/// Decodes an API value into an edge type, reporting a mismatch as a protocol error.
pub fn decode<T: DeserializeOwned>(what: &str, value: &Value) -> Result<T, ClientError> {
    T::deserialize(value).map_err(|error| ClientError::Protocol {
        url: what.to_owned(),
        detail: error.to_string(),
    })
}

/// The fields of a Deployment the CLI acts on.
#[derive(Clone, Debug, Deserialize)]
pub struct Deployment {
    pub name: String,
    #[serde(default)]
    pub source: String,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub public: bool,
}

/// One entry of `/events`.
#[derive(Clone, Debug, Deserialize)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub message: String,
}

/// One entry of `/logs`.
#[derive(Clone, Debug, Deserialize)]
pub struct LogLine {
    pub id: i64,
    #[serde(default)]
    pub stream: String,
    pub line: String,
}

#[cfg(test)]
mod tests;
