//! The gateway's HTTP behaviour, driven through its router with a scripted stdio peer behind the
//! bridge (the test plays the server's part; the gateway and bridge are the real ones).

use super::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use catwalk_protocol::Message;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tower::ServiceExt;

pub(crate) const TOKEN: &str = "good-token";

pub(crate) struct OneDeployment {
    pub(crate) upstream: Upstream,
}

impl Resolver for OneDeployment {
    fn resolve<'a>(
        &'a self,
        deployment: &'a str,
        token: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Access, Refusal>> {
        Box::pin(async move {
            if deployment != "demo" {
                return Err(Refusal::NotFound);
            }
            match token {
                Some(t) if t == TOKEN || t == "other-token" => Ok(Access {
                    upstream: self.upstream.clone(),
                    principal: t.to_string(),
                }),
                _ => Err(Refusal::Unauthorized),
            }
        })
    }
}

/// A tiny scripted server: answers `tools/call` of `echo` with its argument, and `slow` with a
/// progress notification first.
async fn scripted_server() -> Upstream {
    let (to_server, mut from_bridge) = mpsc::channel::<String>(64);
    let (to_bridge, from_server) = mpsc::channel::<String>(64);
    tokio::spawn(async move {
        while let Some(line) = from_bridge.recv().await {
            let Ok(message) = Message::parse(line.as_bytes()) else {
                continue;
            };
            let Some(id) = message.id.clone() else {
                continue;
            };
            let reply = match message.method.as_deref() {
                Some("initialize") => {
                    json!({"jsonrpc":"2.0","id":id,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"scripted","version":"1"}}})
                }
                Some("tools/call")
                    if message.param::<String>("name").as_deref() == Some("slow") =>
                {
                    let token =
                        message.param::<Value>("_meta").unwrap_or_default()["progressToken"]
                            .clone();
                    let progress = json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":token,"progress":1}});
                    to_bridge.send(progress.to_string()).await.unwrap();
                    json!({"jsonrpc":"2.0","id":id,"result":{"content":[{"type":"text","text":"slow done"}]}})
                }
                Some("tools/call")
                    if message.param::<String>("name").as_deref() == Some("announce") =>
                {
                    let change =
                        json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed"});
                    to_bridge.send(change.to_string()).await.unwrap();
                    json!({"jsonrpc":"2.0","id":id,"result":{"content":[]}})
                }
                Some("tools/call")
                    if message.param::<String>("name").as_deref() == Some("gated") =>
                {
                    // Progress, a pause (the client drops its connection then), progress, answer.
                    let token =
                        message.param::<Value>("_meta").unwrap_or_default()["progressToken"]
                            .clone();
                    let to_bridge = to_bridge.clone();
                    tokio::spawn(async move {
                        for step in 1..=2 {
                            let progress = json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":token,"progress":step}});
                            to_bridge.send(progress.to_string()).await.unwrap();
                            tokio::time::sleep(Duration::from_millis(300)).await;
                        }
                        let done = json!({"jsonrpc":"2.0","id":id,"result":{"content":[{"type":"text","text":"gated done"}]}});
                        to_bridge.send(done.to_string()).await.unwrap();
                    });
                    continue;
                }
                Some("tools/call") => {
                    let text =
                        message.param::<Value>("arguments").unwrap_or_default()["message"].clone();
                    json!({"jsonrpc":"2.0","id":id,"result":{"content":[{"type":"text","text":text}]}})
                }
                _ => json!({"jsonrpc":"2.0","id":id,"result":{}}),
            };
            to_bridge.send(reply.to_string()).await.unwrap();
        }
    });
    Upstream::start(to_server, from_server, Duration::from_secs(5))
        .await
        .unwrap()
        .0
}

async fn app() -> Router {
    app_with(|_| {}).await
}

async fn app_with(change: impl FnOnce(&mut GatewayConfig)) -> Router {
    let upstream = scripted_server().await;
    let mut config = GatewayConfig {
        guard: Arc::new(Guard {
            allowed_origins: vec!["http://127.0.0.1:7411".into()],
            allowed_hosts: vec!["127.0.0.1:7411".into(), "localhost:7411".into()],
        }),
        ..GatewayConfig::default()
    };
    change(&mut config);
    Gateway::new(Arc::new(OneDeployment { upstream }), config).router()
}

#[tokio::test]
async fn a_token_over_its_budget_gets_429_with_retry_after() {
    let app = app_with(|config| {
        config.rate_limits = crate::RateLimits {
            per_token: std::num::NonZeroU32::new(4),
            per_deployment: std::num::NonZeroU32::new(6),
        };
    })
    .await;
    let session = open(&app).await;
    for id in 1..=3 {
        let (status, _, body) = send(&app, call(&session, id, "echo", "hi")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, headers, body) = send(&app, call(&session, 4, "echo", "hi")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // 4 per minute: one more every 15 s.
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((14..=15).contains(&retry), "{retry}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        answer["error"]["code"],
        catwalk_protocol::codes::RATE_LIMITED
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("this token's budget"),
        "{answer}"
    );
    // Another token still has its own budget, until the deployment's is spent.
    let other = |id: i64| {
        let body = json!({"jsonrpc":"2.0","id":id,"method":"ping"}).to_string();
        Request::post("http://127.0.0.1:7411/s/demo/mcp")
            .header("authorization", "Bearer other-token")
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    assert_ne!(send(&app, other(1)).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_ne!(send(&app, other(2)).await.0, StatusCode::TOO_MANY_REQUESTS);
    let (status, _, body) = send(&app, other(3)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("this deployment's budget"), "{body}");
    // A refused token is refused before it can spend anything.
    let stranger = Request::post("http://127.0.0.1:7411/s/demo/mcp")
        .header("authorization", "Bearer wrong")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(Body::from(INIT))
        .unwrap();
    assert_eq!(send(&app, stranger).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_and_the_session_goes_on() {
    let app = app_with(|config| config.max_body_bytes = 64 * 1024).await;
    let session = open(&app).await;
    let (status, _, body) = send(&app, call(&session, 1, "echo", &"x".repeat(65 * 1024))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit of 65536 bytes"),
        "{answer}"
    );
    let (status, _, body) = send(&app, call(&session, 2, "echo", &"x".repeat(60 * 1024))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn post() -> axum::http::request::Builder {
    Request::post("http://127.0.0.1:7411/s/demo/mcp")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
}

pub(crate) async fn send(
    app: &Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

async fn open(app: &Router) -> String {
    let (status, headers, body) = send(app, post().body(Body::from(INIT)).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("scripted"));
    headers["mcp-session-id"].to_str().unwrap().to_string()
}

fn call(session: &str, id: i64, tool: &str, message: &str) -> Request<Body> {
    let body = json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{"message":message},"_meta":{"progressToken":"p"}}}).to_string();
    post()
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-06-18")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn a_session_lists_and_calls_through_json() {
    let app = app().await;
    let session = open(&app).await;
    assert_eq!(session.len(), 64);
    let (status, headers, body) = send(&app, call(&session, 1, "echo", "hello")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["result"]["content"][0]["text"], "hello");
}

#[tokio::test]
async fn progress_turns_the_answer_into_an_sse_stream() {
    let app = app().await;
    let session = open(&app).await;
    let (status, headers, body) = send(&app, call(&session, 2, "slow", "")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let progress = body.find("notifications/progress").expect(&body);
    let done = body.find("slow done").expect(&body);
    assert!(progress < done, "{body}");
    assert!(body.contains(r#""progressToken":"p""#), "{body}");
}

#[tokio::test]
async fn notifications_get_202() {
    let app = app().await;
    let session = open(&app).await;
    let body = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let (status, _, text) = send(
        &app,
        post()
            .header("mcp-session-id", &session)
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(text.is_empty());
}

#[tokio::test]
async fn bad_requests_get_precise_errors() {
    let app = app().await;
    let session = open(&app).await;

    let (status, _, body) = send(
        &app,
        post()
            .header("mcp-session-id", &session)
            .body(Body::from("{oops"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        -32700
    );

    let no_accept = Request::post("http://127.0.0.1:7411/s/demo/mcp")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Body::from(INIT))
        .unwrap();
    assert_eq!(send(&app, no_accept).await.0, StatusCode::NOT_ACCEPTABLE);

    let text = post().header("content-type", "text/plain");
    let mut request = text.body(Body::from(INIT)).unwrap();
    request
        .headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    assert_eq!(
        send(&app, request).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );

    let list = r#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#;
    let (status, _, body) = send(&app, post().body(Body::from(list)).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("Mcp-Session-Id"));
    // The error answers the request by its id.
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["id"], 5);

    let (status, _, _) = send(
        &app,
        post()
            .header("mcp-session-id", "nope")
            .body(Body::from(list))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _, body) = send(
        &app,
        post()
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "1999-01-01")
            .body(Body::from(list))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Unsupported protocol version"));

    let batch = format!("[{list},{list}]");
    let (status, _, body) = send(
        &app,
        post()
            .header("mcp-session-id", &session)
            .body(Body::from(batch.clone()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("batches"), "{body}");
}

#[tokio::test]
async fn tokens_and_origins_are_checked() {
    let app = app().await;
    let missing = Request::post("http://127.0.0.1:7411/s/demo/mcp")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(Body::from(INIT))
        .unwrap();
    let (status, headers, _) = send(&app, missing).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key("www-authenticate"));

    let mut wrong = post().body(Body::from(INIT)).unwrap();
    wrong
        .headers_mut()
        .insert("authorization", "Bearer bad".parse().unwrap());
    assert_eq!(send(&app, wrong).await.0, StatusCode::UNAUTHORIZED);

    let unknown = Request::post("http://127.0.0.1:7411/s/ghost/mcp")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::from(INIT))
        .unwrap();
    assert_eq!(send(&app, unknown).await.0, StatusCode::NOT_FOUND);

    let evil = post()
        .header("origin", "http://evil.example")
        .body(Body::from(INIT))
        .unwrap();
    assert_eq!(send(&app, evil).await.0, StatusCode::FORBIDDEN);
    let good = post()
        .header("origin", "http://127.0.0.1:7411")
        .body(Body::from(INIT))
        .unwrap();
    assert_eq!(send(&app, good).await.0, StatusCode::OK);

    // DNS rebinding: a request for another host name is refused even without an Origin.
    let rebound = post()
        .header("host", "evil.example:7411")
        .body(Body::from(INIT))
        .unwrap();
    assert_eq!(send(&app, rebound).await.0, StatusCode::FORBIDDEN);
    let localhost = post()
        .header("host", "localhost:7411")
        .body(Body::from(INIT))
        .unwrap();
    assert_eq!(send(&app, localhost).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_session_belongs_to_its_principal_and_ends_with_delete() {
    let app = app().await;
    let session = open(&app).await;
    let mut stolen = call(&session, 1, "echo", "x");
    stolen
        .headers_mut()
        .insert("authorization", "Bearer other-token".parse().unwrap());
    assert_eq!(send(&app, stolen).await.0, StatusCode::NOT_FOUND);

    let delete = Request::delete("http://127.0.0.1:7411/s/demo/mcp")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("mcp-session-id", &session)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, delete).await.0, StatusCode::OK);
    assert_eq!(
        send(&app, call(&session, 1, "echo", "x")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn one_get_stream_per_session() {
    let app = app().await;
    let session = open(&app).await;
    let get = || {
        Request::get("http://127.0.0.1:7411/s/demo/mcp")
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &session)
            .body(Body::empty())
            .unwrap()
    };
    let first = app.clone().oneshot(get()).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let (status, _, _) = send(&app, get()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    drop(first);
    let again = app.clone().oneshot(get()).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn interleaved_sessions_over_http_get_their_own_answers() {
    let app = app().await;
    let a = open(&app).await;
    let b = open(&app).await;
    let mut calls = Vec::new();
    for i in 0..20 {
        let (session, who) = if i % 2 == 0 { (&a, "a") } else { (&b, "b") };
        let app = app.clone();
        let request = call(session, 7, "echo", &format!("{who}-{i}"));
        calls.push(tokio::spawn(
            async move { (who, i, send(&app, request).await) },
        ));
    }
    for call in calls {
        let (who, i, (status, _, body)) = call.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["id"], 7);
        assert_eq!(answer["result"]["content"][0]["text"], format!("{who}-{i}"));
    }
}

/// Reads an SSE body until `needle` appears, returning all it read.
pub(crate) async fn read_until(body: &mut Body, needle: &str) -> String {
    let mut seen = String::new();
    while !seen.contains(needle) {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} in {seen:?}"))
            .expect("the stream ended")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
    seen
}

#[tokio::test]
async fn legacy_http_sse_clients_work_beside_streamable_http() {
    let app = app().await;
    let open = Request::get("http://127.0.0.1:7411/s/demo/sse")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("accept", "text/event-stream")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(open).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.into_body();
    let first = read_until(&mut stream, "\n\n").await;
    assert!(
        first.starts_with("event: endpoint\ndata: /s/demo/messages?sessionId="),
        "{first}"
    );
    let endpoint = first
        .lines()
        .nth(1)
        .unwrap()
        .trim_start_matches("data: ")
        .to_string();

    let post_message = |body: String, token: &str| {
        Request::post(format!("http://127.0.0.1:7411{endpoint}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let (status, _, text) = send(&app, post_message(INIT.to_string(), TOKEN)).await;
    assert_eq!((status, text.as_str()), (StatusCode::ACCEPTED, "Accepted"));
    let init = read_until(&mut stream, "scripted").await;
    assert!(init.contains("event: message"), "{init}");

    let call = json!({"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"echo","arguments":{"message":"over sse"}}});
    assert_eq!(
        send(&app, post_message(call.to_string(), TOKEN)).await.0,
        StatusCode::ACCEPTED
    );
    let answer = read_until(&mut stream, "over sse").await;
    assert!(answer.contains(r#""id":"c""#), "{answer}");

    // Another principal cannot post into this stream; bad JSON is a 400 with -32700.
    assert_eq!(
        send(&app, post_message(call.to_string(), "other-token"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, _, body) = send(&app, post_message("{nope".into(), TOKEN)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("-32700"));

    // Closing the stream ends the session.
    drop(stream);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        send(&app, post_message(call.to_string(), TOKEN)).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_dropped_stream_resumes_with_last_event_id() {
    let app = app().await;
    let session = open(&app).await;
    let response = app
        .clone()
        .oneshot(call(&session, 4, "gated", ""))
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = response.into_body();
    let seen = read_until(&mut body, "\n\n").await;
    assert!(seen.contains(r#""progress":1"#), "{seen}");
    let last_id = seen
        .lines()
        .find_map(|line| line.strip_prefix("id: "))
        .expect("events carry ids")
        .to_string();
    // The connection breaks before the rest arrives.
    drop(body);
    tokio::time::sleep(Duration::from_millis(800)).await;

    let resume = Request::get("http://127.0.0.1:7411/s/demo/mcp")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("last-event-id", &last_id)
        .body(Body::empty())
        .unwrap();
    let (status, _, rest) = send(&app, resume).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !rest.contains(r#""progress":1"#),
        "an event was sent twice: {rest}"
    );
    let progress = rest.find(r#""progress":2"#).expect(&rest);
    let done = rest.find("gated done").expect(&rest);
    assert!(progress < done, "{rest}");

    let bogus = Request::get("http://127.0.0.1:7411/s/demo/mcp")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("last-event-id", "99-1")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, bogus).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn standalone_messages_wait_for_the_next_get_and_come_once() {
    let app = app().await;
    let session = open(&app).await;
    let get = || {
        Request::get("http://127.0.0.1:7411/s/demo/mcp")
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &session)
            .body(Body::empty())
            .unwrap()
    };
    for round in 1..=2 {
        // The server announces a change while no GET stream is open...
        assert_eq!(
            send(&app, call(&session, round, "announce", "")).await.0,
            StatusCode::OK
        );
        // ...and the next GET gets it, with the next id: nothing lost, nothing repeated.
        let mut body = app.clone().oneshot(get()).await.unwrap().into_body();
        let seen = read_until(&mut body, "list_changed").await;
        assert!(
            seen.contains(&format!("id: 0-{round}\n")),
            "round {round}: {seen}"
        );
    }
}

mod fuzz {
    //! The HTTP front under arbitrary input: any body, any header values, any method on the
    //! endpoint, through the real router and bridge. Every request gets an answer (no panic, no
    //! hang), and the session keeps working afterwards.

    use super::*;
    use proptest::prelude::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Bodies: random bytes, or JSON-RPC-shaped text with random parts.
    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            (
                prop_oneof![
                    Just("initialize".to_string()),
                    Just("tools/call".to_string()),
                    Just("tools/list".to_string()),
                    Just("server/discover".to_string()),
                    Just("ping".to_string()),
                    ".{0,12}"
                ],
                prop_oneof![
                    Just("1".to_string()),
                    Just("\"x\"".to_string()),
                    Just("null".to_string()),
                    Just("{}".to_string()),
                    "[0-9]{1,20}"
                ],
                prop_oneof![
                    Just("{}".to_string()),
                    Just(r#"{"name":"echo","arguments":{"message":"m"}}"#.to_string()),
                    Just(
                        r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}"#
                            .to_string()
                    ),
                    ".{0,40}"
                ],
            )
                .prop_map(|(method, id, params)| format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#
                )
                .into_bytes()),
        ]
    }

    fn header_value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("2025-06-18".into()),
            Just("2026-07-28".into()),
            Just("=?base64?ZWNobw==?=".into()),
            "[ -~]{0,30}"
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn every_request_gets_an_answer(
            body in body(),
            method in prop_oneof![Just("POST"), Just("GET"), Just("DELETE"), Just("PUT")],
            version in header_value(),
            mcp_method in header_value(),
            mcp_name in header_value(),
            last_event_id in header_value(),
            with_session in any::<bool>(),
        ) {
            runtime().block_on(async {
                let app = app().await;
                let session = open(&app).await;
                let mut request = Request::builder()
                    .method(method)
                    .uri("http://127.0.0.1:7411/s/demo/mcp")
                    .header("authorization", format!("Bearer {TOKEN}"))
                    .header("accept", "application/json, text/event-stream")
                    .header("content-type", "application/json");
                for (name, value) in [("mcp-protocol-version", &version), ("mcp-method", &mcp_method), ("mcp-name", &mcp_name), ("last-event-id", &last_event_id)] {
                    if !value.is_empty() {
                        request = request.header(name, value.as_str());
                    }
                }
                if with_session {
                    request = request.header("mcp-session-id", &session);
                }
                let response = tokio::time::timeout(
                    Duration::from_secs(5),
                    app.clone().oneshot(request.body(Body::from(body)).unwrap()),
                )
                .await
                .expect("the gateway answers within 5 s")
                .unwrap();
                let status = response.status();
                // Streams stay open by design (GET); everything else must finish.
                if !response.headers().get("content-type").is_some_and(|t| t.to_str().unwrap_or("").starts_with("text/event-stream")) {
                    tokio::time::timeout(Duration::from_secs(5), response.into_body().collect())
                        .await
                        .expect("the body ends")
                        .unwrap();
                }
                assert!(status.as_u16() < 500 || status == StatusCode::SERVICE_UNAVAILABLE, "{status}");
                // The session still works, unless that request was a DELETE of it.
                let (status, _, answer) = send(&app, call(&session, 77, "echo", "still alive")).await;
                if method == "DELETE" && with_session && status == StatusCode::NOT_FOUND {
                    return;
                }
                assert_eq!(status, StatusCode::OK, "{answer}");
                assert!(answer.contains("still alive"), "{answer}");
            });
        }
    }
}

#[tokio::test]
async fn a_401_names_the_protected_resource_metadata() {
    let app = app_with(|config| config.oauth_base_url = Some("http://127.0.0.1:7411".into())).await;
    let request = |token: Option<&str>| {
        let mut builder = Request::post("http://127.0.0.1:7411/s/demo/mcp")
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json");
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        builder.body(Body::from(INIT)).unwrap()
    };
    let (status, headers, _) = send(&app, request(None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers["www-authenticate"],
        "Bearer resource_metadata=\"http://127.0.0.1:7411/.well-known/oauth-protected-resource/s/demo/mcp\""
    );
    let (status, headers, _) = send(&app, request(Some("expired"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(challenge.contains("/s/demo/mcp\""), "{challenge}");
    let (status, _, _) = send(&app, request(Some(TOKEN))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_token_in_the_query_string_is_refused_even_a_good_one() {
    let app = app_with(|config| config.oauth_base_url = Some("http://127.0.0.1:7411".into())).await;
    for uri in [
        format!("http://127.0.0.1:7411/s/demo/mcp?access_token={TOKEN}"),
        format!("http://127.0.0.1:7411/s/demo/mcp?x=1&access_token={TOKEN}"),
        format!("http://127.0.0.1:7411/s/demo/sse?access_token={TOKEN}"),
        format!("http://127.0.0.1:7411/s/demo/messages?sessionId=x&access_token={TOKEN}"),
    ] {
        let request = Request::post(&uri)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(Body::from(INIT))
            .unwrap();
        let (status, headers, body) = send(&app, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(body.contains("Authorization header"), "{body}");
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_request")
        );
    }
}
