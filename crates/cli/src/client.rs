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

    pub async fn list_deployments(&self) -> Result<Value, ClientError> {
        self.call(Method::GET, &["deployments"], &[], None).await
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
        let bytes = response
            .bytes()
            .await
            .map_err(|error| ClientError::from_transport(&url_text, &error))?;
        if !status.is_success() {
            return Err(ClientError::from_response(&url_text, status, &bytes));
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|error| ClientError::Protocol {
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
