//! What spans more than one message: SSE answers, cancellation, input_required round trips,
//! subscriptions/listen, and the legacy era beside the modern one.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::tests::{TOKEN, read_until, send};

#[tokio::test]
async fn progress_and_requested_logs_stream_before_the_result() {
    let f = fixture().await;
    let slow = |meta: Value| {
        modern(
            json!(9),
            "tools/call",
            json!({"name": "slow", "arguments": {}, "_meta": meta}),
        )
    };
    let (status, headers, body) = send(
        &f.app,
        slow(json!({"progressToken": "p", "io.modelcontextprotocol/logLevel": "info"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = events(&body);
    let methods: Vec<&str> = events
        .iter()
        .map(|e| e["method"].as_str().unwrap_or(""))
        .collect();
    // The debug line is below the requested level.
    assert_eq!(
        methods,
        ["notifications/progress", "notifications/message", ""],
        "{body}"
    );
    assert_eq!(events[0]["params"]["progressToken"], "p");
    assert_eq!(events[2]["id"], 9);
    assert_eq!(events[2]["result"]["resultType"], "complete");

    // Without a log level, no log message.
    let (_, _, body) = send(&f.app, slow(json!({"progressToken": "p"}))).await;
    assert!(!body.contains("notifications/message"), "{body}");
    assert!(body.contains("slow done"), "{body}");
}

#[tokio::test]
async fn closing_the_stream_cancels_the_request_upstream() {
    let f = fixture().await;
    let hang = modern(
        json!(3),
        "tools/call",
        json!({"name": "hang", "arguments": {}, "_meta": {"progressToken": 1}}),
    );
    let response = f.app.clone().oneshot(hang).await.unwrap();
    let mut body = response.into_body();
    read_until(&mut body, "notifications/progress").await;
    assert!(f.received("notifications/cancelled").is_empty());
    drop(body);
    let upstream_id = f.received("tools/call").pop().unwrap()["id"].clone();
    for _ in 0..100 {
        if let Some(cancel) = f.received("notifications/cancelled").pop() {
            assert_eq!(cancel["params"]["requestId"], upstream_id);
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no notifications/cancelled reached the server");
}

#[tokio::test]
async fn a_server_request_becomes_input_required_and_the_retry_answers_it() {
    let f = fixture().await;
    let ask = |id: Value, extra: Value| {
        let mut params = json!({"name": "ask", "arguments": {}, "_meta": {
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}});
        for (key, value) in extra.as_object().unwrap() {
            params[key] = value.clone();
        }
        modern(id, "tools/call", params)
    };
    let (status, first) = call(&f.app, ask(json!(1), json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    let (key, input) = result["inputRequests"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert_eq!(input["method"], "elicitation/create");
    assert_eq!(input["params"]["message"], "Your name?");
    let state = result["requestState"].as_str().unwrap().to_string();
    assert_eq!(f.gateway.modern.parked.len(), 1);

    // A forged state, or the right one from another principal, gets nowhere.
    let forged = ask(
        json!(2),
        json!({"requestState": "nope", "inputResponses": {}}),
    );
    assert_eq!(call(&f.app, forged).await.1["error"]["code"], -32602);
    let stolen = with(
        ask(
            json!(2),
            json!({"requestState": state, "inputResponses": {}}),
        ),
        "authorization",
        "Bearer other-token",
    );
    assert_eq!(call(&f.app, stolen).await.1["error"]["code"], -32602);

    // A retry without the answer gets the same question under a new state; the old one is spent.
    let unanswered = json!({"requestState": state, "inputResponses": {"other": {}}});
    let (_, again) = call(&f.app, ask(json!(2), unanswered)).await;
    assert_eq!(again["id"], 2);
    assert_eq!(again["result"]["resultType"], "input_required", "{again}");
    assert_eq!(again["result"]["inputRequests"][key], *input);
    let old_state = state;
    let state = again["result"]["requestState"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(state, old_state);
    let spent = ask(
        json!(2),
        json!({"requestState": old_state, "inputResponses": {}}),
    );
    assert_eq!(call(&f.app, spent).await.1["error"]["code"], -32602);

    let answer = json!({key.clone(): {"action": "accept", "content": {"name": "Ada"}}});
    let retry = ask(
        json!(3),
        json!({"requestState": state, "inputResponses": answer}),
    );
    let (status, done) = call(&f.app, retry).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done["id"], 3);
    assert_eq!(done["result"]["resultType"], "complete");
    let text = done["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("Ada"), "{done}");
    // The server got the answer under its own id, and the retry's extra fields stayed here.
    let sent = f.received.lock().unwrap().clone();
    assert!(
        sent.iter()
            .any(|m| m["id"] == "s1" && m["result"]["action"] == "accept")
    );
    assert!(!sent.iter().any(|m| m["params"]["requestState"].is_string()));
    assert_eq!(f.gateway.modern.parked.len(), 0);
}

#[tokio::test]
async fn an_unanswered_input_request_expires_and_cancels_the_call() {
    let f = fixture().await;
    let ask = modern(
        json!(1),
        "tools/call",
        json!({"name": "ask", "arguments": {}, "_meta": {
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}}),
    );
    let (_, first) = call(&f.app, ask).await;
    assert_eq!(first["result"]["resultType"], "input_required");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(f.gateway.modern.parked.len(), 0);
    assert_eq!(f.received("notifications/cancelled").len(), 1);
}

#[tokio::test]
async fn a_server_request_for_an_undeclared_capability_fails_the_request_with_32021() {
    let f = fixture().await;
    let request = |id: Value, tool: &str| {
        // Sampling is declared, elicitation (what both tools ask for) is not.
        modern(
            id,
            "tools/call",
            json!({"name": tool, "arguments": {}, "_meta": {
                "io.modelcontextprotocol/clientCapabilities": {"sampling": {}}}}),
        )
    };
    let (status, answer) = call(&f.app, request(json!(1), "ask")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["error"]["code"], -32021, "{answer}");
    assert_eq!(
        answer["error"]["data"],
        json!({"requiredCapabilities": {"elicitation": {}}})
    );
    assert_eq!(f.gateway.modern.parked.len(), 0);
    // The server's request got an error; `ask` then ends its call, which needs no cancelling
    // (the fixture's input_timeout, 500 ms, bounds the wait before one).
    tokio::time::sleep(Duration::from_millis(800)).await;
    let refused = |id: &str| {
        f.received
            .lock()
            .unwrap()
            .iter()
            .any(|m| m["id"] == id && m["error"]["message"].is_string())
    };
    assert!(refused("s1"), "{:?}", f.received.lock().unwrap());
    assert!(f.received("notifications/cancelled").is_empty());

    // `ask_forever` goes on after the error: its call is cancelled.
    let (status, answer) = call(&f.app, request(json!(2), "ask_forever")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], -32021, "{answer}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(refused("f1"));
    assert!(f.received("notifications/cancelled").is_empty());
    tokio::time::sleep(Duration::from_millis(600)).await;
    let upstream_id = f.received("tools/call").pop().unwrap()["id"].clone();
    let cancelled = f.received("notifications/cancelled");
    assert_eq!(cancelled.len(), 1, "{cancelled:?}");
    assert_eq!(cancelled[0]["params"]["requestId"], upstream_id);
}

#[tokio::test]
async fn one_undeclared_capability_among_gathered_requests_fails_them_all() {
    let f = fixture().await;
    // `ask_all` asks for elicitation, sampling and roots at once; roots is not declared.
    let ask_all = modern(
        json!(1),
        "tools/call",
        json!({"name": "ask_all", "arguments": {}, "_meta": {
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}, "sampling": {}}}}),
    );
    let (status, answer) = call(&f.app, ask_all).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], -32021, "{answer}");
    assert_eq!(
        answer["error"]["data"],
        json!({"requiredCapabilities": {"roots": {}}})
    );
    assert_eq!(f.gateway.modern.parked.len(), 0);
    // None of the server's requests is left waiting: each got an error.
    for _ in 0..100 {
        let refused = f
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m["method"].is_null() && m["error"].is_object())
            .count();
        if refused == 3 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "not every request was refused: {:?}",
        f.received.lock().unwrap()
    );
}

#[tokio::test]
async fn concurrent_server_requests_come_as_one_input_required() {
    let f = fixture().await;
    let ask_all = |id: Value, extra: Value| {
        let mut params = json!({"name": "ask_all", "arguments": {}, "_meta": {
            "io.modelcontextprotocol/clientCapabilities":
                {"elicitation": {}, "sampling": {}, "roots": {}}}});
        for (key, value) in extra.as_object().unwrap() {
            params[key] = value.clone();
        }
        modern(id, "tools/call", params)
    };
    let (_, first) = call(&f.app, ask_all(json!(1), json!({}))).await;
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    let requests = result["inputRequests"].as_object().unwrap();
    let key_of = |method: &str| {
        requests
            .iter()
            .find(|(_, request)| request["method"] == method)
            .unwrap_or_else(|| panic!("no {method} in {first}"))
            .0
            .clone()
    };
    let (elicit, sample, roots) = (
        key_of("elicitation/create"),
        key_of("sampling/createMessage"),
        key_of("roots/list"),
    );
    assert_eq!(requests.len(), 3, "{first}");
    let state = result["requestState"].clone();

    // A malformed retry is refused and the request keeps waiting for a good one.
    let malformed = json!({"requestState": state, "inputResponses": {elicit.clone(): "Ada"}});
    let (status, refused) = call(&f.app, ask_all(json!(2), malformed)).await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!(-32602))
    );
    assert_eq!(f.gateway.modern.parked.len(), 1);

    // Two answers (and a key nobody asked, which is ignored): those go upstream, the third
    // question comes again.
    let partial = json!({"requestState": state, "inputResponses": {
        elicit.clone(): {"action": "accept", "content": {"name": "Ada"}},
        roots.clone(): {"roots": [{"uri": "file:///work"}]},
        "unasked": {"action": "decline"},
    }});
    let (_, again) = call(&f.app, ask_all(json!(3), partial)).await;
    assert_eq!(again["result"]["resultType"], "input_required", "{again}");
    let remaining: Vec<&String> = again["result"]["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(remaining, [&sample], "{again}");
    assert_ne!(again["result"]["requestState"], state);
    let answered = || {
        let mut ids: Vec<String> = f
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m["method"].is_null() && m["result"].is_object())
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    for _ in 0..100 {
        if answered().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(answered(), ["m1", "m3"]);

    let last = json!({"requestState": again["result"]["requestState"], "inputResponses": {
        sample: {"role": "assistant", "model": "m", "content": {"type": "text", "text": "Hello"}},
    }});
    let (status, done) = call(&f.app, ask_all(json!(4), last)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done["id"], 4);
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    let text = done["result"]["content"][0]["text"].as_str().unwrap();
    for answer in ["Ada", "file:///work", "Hello"] {
        assert!(text.contains(answer), "{answer} missing from {text}");
    }
    assert_eq!(f.gateway.modern.parked.len(), 0);
}

#[tokio::test]
async fn what_arrives_while_requests_are_gathered_comes_after_the_retry() {
    let f = fixture().await;
    let ask = |id: Value, extra: Value| {
        let mut params = json!({"name": "ask_then_progress", "arguments": {}, "_meta": {
            "progressToken": "p",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}});
        for (key, value) in extra.as_object().unwrap() {
            params[key] = value.clone();
        }
        modern(id, "tools/call", params)
    };
    let (_, first) = call(&f.app, ask(json!(1), json!({}))).await;
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    let key = result["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap();
    // The progress that came right after the question is not lost: the retry streams it first.
    let answer = json!({"requestState": result["requestState"],
        "inputResponses": {key.clone(): {"action": "accept", "content": {"name": "Ada"}}}});
    let (status, _, body) = send(&f.app, ask(json!(2), answer)).await;
    assert_eq!(status, StatusCode::OK);
    let events = events(&body);
    assert_eq!(events.len(), 2, "{body}");
    assert_eq!(events[0]["method"], "notifications/progress", "{body}");
    assert_eq!(events[0]["params"]["progressToken"], "p", "{body}");
    assert_eq!(events[1]["id"], 2, "{body}");
    assert_eq!(events[1]["result"]["resultType"], "complete", "{body}");
}

#[tokio::test]
async fn listen_acknowledges_then_relays_only_what_was_asked() {
    let f = fixture().await;
    let listen = modern(
        json!("sub-1"),
        "subscriptions/listen",
        json!({"notifications": {"toolsListChanged": true, "promptsListChanged": true,
            "resourceSubscriptions": ["file:///a"]}}),
    );
    let response = f.app.clone().oneshot(listen).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let ack = events(&read_until(&mut body, "\n\n").await).remove(0);
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "sub-1"
    );
    // The server cannot announce prompt list changes: that part is not acknowledged.
    assert_eq!(
        ack["params"]["notifications"],
        json!({"toolsListChanged": true, "resourceSubscriptions": ["file:///a"]})
    );
    assert_eq!(
        f.received("resources/subscribe")[0]["params"]["uri"],
        "file:///a"
    );

    let change = modern(
        json!(2),
        "tools/call",
        json!({"name": "change", "arguments": {}}),
    );
    assert_eq!(call(&f.app, change).await.0, StatusCode::OK);
    let seen = read_until(&mut body, "file:///a").await;
    let relayed = events(&seen);
    let methods: Vec<&str> = relayed
        .iter()
        .map(|e| e["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        [
            "notifications/tools/list_changed",
            "notifications/resources/updated"
        ]
    );
    for event in &relayed {
        assert_eq!(
            event["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            "sub-1"
        );
    }
    // The stream stays open for more.
    let more = tokio::time::timeout(Duration::from_millis(100), body.frame()).await;
    assert!(more.is_err(), "the stream should wait for more");
}

#[tokio::test]
async fn modern_clients_get_405_on_get_and_delete_while_legacy_sessions_go_on() {
    let f = fixture().await;
    for method in ["GET", "DELETE"] {
        let request = Request::builder()
            .method(method)
            .uri("http://127.0.0.1:7411/s/demo/mcp")
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .body(Body::empty())
            .unwrap();
        let (status, headers, _) = send(&f.app, request).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(headers["allow"], "POST");
    }
    // A legacy client on the same endpoint keeps its session, GET stream and all.
    let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let open = Request::post("http://127.0.0.1:7411/s/demo/mcp")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(Body::from(init))
        .unwrap();
    let (status, headers, body) = send(&f.app, open).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        !body.contains("resultType"),
        "legacy results stay legacy: {body}"
    );
    let session = headers["mcp-session-id"].to_str().unwrap();
    let get = Request::get("http://127.0.0.1:7411/s/demo/mcp")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-06-18")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        f.app.clone().oneshot(get).await.unwrap().status(),
        StatusCode::OK
    );
}
