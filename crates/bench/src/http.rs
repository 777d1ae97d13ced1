//! A minimal MCP client over Streamable HTTP: one keep-alive HTTP/1.1 connection per worker, and
//! answers read whether they come as a JSON body or as an SSE stream.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// The version the bench asks for; every peer and Catwalk support it.
pub const PROTOCOL_VERSION: &str = "2025-06-18";
/// No single call should take this long on loopback; past it the target is considered stuck.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where an MCP endpoint is: `http://HOST:PORT/PATH` on loopback.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub addr: SocketAddr,
    pub authority: String,
    pub path: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("the bench only speaks plain http, not {url}"))?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        let addr = authority
            .parse()
            .with_context(|| format!("{url} is not an IP:PORT address"))?;
        Ok(Endpoint {
            url: url.to_string(),
            addr,
            authority: authority.to_string(),
            path: path.to_string(),
        })
    }
}

/// An MCP session on a target: its id and the protocol version it negotiated.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub version: String,
}

/// One keep-alive connection, reopened if the server closes it.
pub struct Conn {
    endpoint: Endpoint,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// The JSON-RPC message that answered a request.
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    result: Option<IgnoredAny>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

impl Conn {
    pub async fn open(endpoint: &Endpoint) -> Result<Conn> {
        let mut conn = Conn {
            endpoint: endpoint.clone(),
            sender: None,
        };
        conn.connect().await?;
        Ok(conn)
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Full<Bytes>>> {
        let stream = tokio::net::TcpStream::connect(self.endpoint.addr)
            .await
            .with_context(|| format!("connecting to {}", self.endpoint.url))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            // The connection ends when its sender drops or the server closes it; either is fine.
            let _ = connection.await;
        });
        Ok(self.sender.insert(sender))
    }

    /// POSTs one JSON-RPC message and returns the response with its body read.
    pub async fn post(
        &mut self,
        session: Option<&Session>,
        body: Bytes,
    ) -> Result<(Response<()>, Bytes)> {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(&self.endpoint.path)
            .header("host", &self.endpoint.authority)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(session) = session {
            builder = builder
                .header("mcp-session-id", &session.id)
                .header("mcp-protocol-version", &session.version);
        }
        let request = builder.body(Full::new(body))?;
        let response = tokio::time::timeout(CALL_TIMEOUT, self.send(request))
            .await
            .map_err(|_| {
                anyhow!(
                    "{} did not answer within {CALL_TIMEOUT:?}",
                    self.endpoint.url
                )
            })??;
        let (parts, body) = response.into_parts();
        let bytes = tokio::time::timeout(CALL_TIMEOUT, body.collect())
            .await
            .map_err(|_| {
                anyhow!(
                    "{} did not finish its answer within {CALL_TIMEOUT:?}",
                    self.endpoint.url
                )
            })?
            .context("reading the response body")?
            .to_bytes();
        Ok((Response::from_parts(parts, ()), bytes))
    }

    /// The connection's sender once it can take a request, reconnecting if the server closed it.
    async fn ready(&mut self) -> Result<&mut SendRequest<Full<Bytes>>> {
        let alive = match &mut self.sender {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        if !alive {
            self.connect().await?;
        }
        Ok(self.sender.as_mut().expect("connected above"))
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>> {
        let sender = self.ready().await?;
        match sender.try_send_request(request).await {
            Ok(response) => Ok(response),
            // A keep-alive connection the server closed between requests: the request was not
            // sent, so it is safe to send it again on a fresh connection.
            Err(mut error) => match error.take_message() {
                Some(request) if error.error().is_closed() || error.error().is_canceled() => {
                    Ok(self.connect().await?.send_request(request).await?)
                }
                _ => Err(error.into_error().into()),
            },
        }
    }

    /// A GET of `path` on the same server that must answer 200 (the HTTP floor: no MCP at all).
    pub async fn get_ok(&mut self, path: &str) -> Result<()> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header("host", &self.endpoint.authority)
            .body(Full::new(Bytes::new()))?;
        let response = tokio::time::timeout(CALL_TIMEOUT, self.send(request))
            .await
            .map_err(|_| anyhow!("{path} did not answer within {CALL_TIMEOUT:?}"))??;
        let status = response.status();
        response.into_body().collect().await?;
        if status != StatusCode::OK {
            bail!("GET {path} answered HTTP {status}");
        }
        Ok(())
    }

    /// Any request on this connection's server (REST calls, metrics, pages): the status and the
    /// whole body, whatever the status.
    pub async fn send_to(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        json: Option<&serde_json::Value>,
    ) -> Result<(StatusCode, Bytes)> {
        self.send_to_within(method, path, bearer, json, CALL_TIMEOUT)
            .await
    }

    /// [`Conn::send_to`] for calls that may take longer than a call on loopback should (an
    /// analysis that downloads a package).
    pub async fn send_to_within(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        json: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes)> {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("host", &self.endpoint.authority);
        if let Some(token) = bearer {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let body = match json {
            Some(value) => {
                builder = builder.header("content-type", "application/json");
                Bytes::from(serde_json::to_vec(value)?)
            }
            None => Bytes::new(),
        };
        let request = builder.body(Full::new(body))?;
        let response = tokio::time::timeout(timeout, self.send(request))
            .await
            .map_err(|_| anyhow!("{method} {path} did not answer within {timeout:?}"))??;
        let (parts, body) = response.into_parts();
        let bytes = tokio::time::timeout(timeout, body.collect())
            .await
            .map_err(|_| anyhow!("{method} {path} did not finish its body within {timeout:?}"))?
            .with_context(|| format!("reading the body of {method} {path}"))?
            .to_bytes();
        Ok((parts.status, bytes))
    }

    /// A request that expects a JSON-RPC answer with a `result`; returns the answer's text.
    pub async fn request(
        &mut self,
        session: Option<&Session>,
        id: u64,
        body: Bytes,
    ) -> Result<(Response<()>, Bytes)> {
        let (response, bytes) = self.post(session, body).await?;
        if response.status() != StatusCode::OK {
            bail!(
                "{} answered HTTP {}: {}",
                self.endpoint.url,
                response.status(),
                String::from_utf8_lossy(&bytes)
            );
        }
        let message = answer_text(&response, &bytes, id)?;
        let answer: Answer =
            serde_json::from_slice(&message).context("the answer is not JSON-RPC")?;
        if let Some(error) = answer.error {
            bail!(
                "{} answered with an error: {}",
                self.endpoint.url,
                error.get()
            );
        }
        if answer.result.is_none() || answer.id.is_none_or(|got| got.get() != id.to_string()) {
            bail!(
                "unexpected answer to request {id}: {}",
                String::from_utf8_lossy(&message)
            );
        }
        Ok((response, message))
    }

    /// initialize + notifications/initialized; the session the target assigned.
    pub async fn open_session(&mut self) -> Result<Session> {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"{PROTOCOL_VERSION}","capabilities":{{}},"clientInfo":{{"name":"catwalk-bench","version":"1"}}}}}}"#
        );
        let (response, message) = self.request(None, 0, Bytes::from(body)).await?;
        let id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("{} gave no Mcp-Session-Id", self.endpoint.url))?
            .to_string();
        let version =
            serde_json::from_slice::<serde_json::Value>(&message)?["result"]["protocolVersion"]
                .as_str()
                .unwrap_or(PROTOCOL_VERSION)
                .to_string();
        let session = Session { id, version };
        let notification = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        let (response, bytes) = self
            .post(Some(&session), Bytes::from_static(notification.as_bytes()))
            .await?;
        if !response.status().is_success() {
            bail!(
                "{} refused notifications/initialized: HTTP {} {}",
                self.endpoint.url,
                response.status(),
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(session)
    }

    /// Ends a session (DELETE); the answer does not matter to the bench.
    pub async fn close_session(&mut self, session: &Session) -> Result<()> {
        let request = Request::builder()
            .method(Method::DELETE)
            .uri(&self.endpoint.path)
            .header("host", &self.endpoint.authority)
            .header("mcp-session-id", &session.id)
            .header("mcp-protocol-version", &session.version)
            .body(Full::new(Bytes::new()))?;
        let response = self.ready().await?.send_request(request).await?;
        response.into_body().collect().await?;
        Ok(())
    }
}

/// An open standalone SSE stream; it stays open (unread) until this drops.
pub struct Stream {
    _sender: SendRequest<Empty<Bytes>>,
    _response: Response<Incoming>,
}

/// Opens the session's standalone SSE stream (GET) on a connection of its own, as MCP clients do
/// right after the handshake to hear from the server.
pub async fn open_stream(endpoint: &Endpoint, session: &Session) -> Result<Stream> {
    let stream = tokio::net::TcpStream::connect(endpoint.addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = Request::builder()
        .method(Method::GET)
        .uri(&endpoint.path)
        .header("host", &endpoint.authority)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session.id)
        .header("mcp-protocol-version", &session.version)
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    if response.status() != StatusCode::OK {
        bail!("GET stream refused: HTTP {}", response.status());
    }
    Ok(Stream {
        _sender: sender,
        _response: response,
    })
}

/// The answer's JSON text: the body itself, or the SSE event whose message carries `id`.
pub(crate) fn answer_text(response: &Response<()>, body: &Bytes, id: u64) -> Result<Bytes> {
    let is_sse = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !is_sse {
        return Ok(body.clone());
    }
    let text = std::str::from_utf8(body).context("the SSE stream is not UTF-8")?;
    for event in text.split("\n\n") {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|data| data.strip_prefix(' ').unwrap_or(data))
            .collect();
        if data.is_empty() {
            continue;
        }
        let data = data.join("\n");
        if let Ok(answer) = serde_json::from_str::<Answer>(&data)
            && answer.id.is_some_and(|got| got.get() == id.to_string())
        {
            return Ok(Bytes::from(data));
        }
    }
    bail!("the SSE stream ended without the answer to request {id}: {text}")
}
