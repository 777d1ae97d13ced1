//! Validation of modern requests, `server/discover`, and the shape of relayed results.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use super::*;
use crate::tests::TOKEN;

#[tokio::test]
async fn discover_is_answered_from_the_cached_initialize_result() {
    let f = fixture().await;
    let (status, answer) = call(&f.app, modern(json!("d"), "server/discover", json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["id"], "d");
    let result = &answer["result"];
    assert_eq!(result["resultType"], "complete");
    let versions = result["supportedVersions"].as_array().unwrap();
    assert_eq!(versions[0], "2026-07-28");
    assert!(versions.contains(&json!("2025-06-18")), "{versions:?}");
    // The legacy tasks capability has another shape in 2026; it is not announced.
    assert_eq!(
        result["capabilities"],
        json!({"tools": {"listChanged": true}, "prompts": {},
               "resources": {"subscribe": true}, "logging": {}})
    );
    assert_eq!(result["instructions"], "Be kind.");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"],
        json!({"name": "scripted", "version": "1.2.3"})
    );
    assert_eq!(result["ttlMs"], 300_000);
    assert_eq!(result["cacheScope"], "private");
    // Nothing reached the server: the handshake's answer was enough.
    assert!(f.received("server/discover").is_empty());
}

#[tokio::test]
async fn malformed_modern_requests_get_modern_errors_with_their_id() {
    let f = fixture().await;
    let discover = || modern(json!(7), "server/discover", json!({}));
    let no_meta = with(
        Request::post("http://127.0.0.1:7411/s/demo/mcp")
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-method", "server/discover")
            .body(Body::from(
                r#"{"jsonrpc":"2.0","id":7,"method":"server/discover","params":{}}"#,
            ))
            .unwrap(),
        "mcp-protocol-version",
        "2026-07-28",
    );
    let no_capabilities = {
        let body = json!({"jsonrpc":"2.0","id":7,"method":"server/discover","params":{"_meta":{
            "io.modelcontextprotocol/protocolVersion": "2026-07-28"}}});
        let mut request = discover();
        *request.body_mut() = Body::from(body.to_string());
        request
    };
    let future = {
        let mut meta = meta();
        meta["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
        with(
            modern(json!(7), "server/discover", json!({"_meta": meta})),
            "mcp-protocol-version",
            "2099-01-01",
        )
    };
    let cases: Vec<(&str, Request<Body>, StatusCode, i64)> = vec![
        ("no _meta", no_meta, StatusCode::BAD_REQUEST, -32602),
        (
            "no capabilities",
            no_capabilities,
            StatusCode::BAD_REQUEST,
            -32602,
        ),
        (
            "no version header",
            without(discover(), "mcp-protocol-version"),
            StatusCode::BAD_REQUEST,
            -32020,
        ),
        (
            "version header differs from _meta",
            with(discover(), "mcp-protocol-version", "2025-11-25"),
            StatusCode::BAD_REQUEST,
            -32020,
        ),
        (
            "no Mcp-Method",
            without(discover(), "mcp-method"),
            StatusCode::BAD_REQUEST,
            -32020,
        ),
        (
            "Mcp-Method values are case-sensitive",
            with(discover(), "mcp-method", "SERVER/DISCOVER"),
            StatusCode::BAD_REQUEST,
            -32020,
        ),
        (
            "no Mcp-Name",
            without(
                modern(json!(7), "tools/call", json!({"name": "echo"})),
                "mcp-name",
            ),
            StatusCode::BAD_REQUEST,
            -32020,
        ),
        (
            "Mcp-Name differs",
            with(
                modern(json!(7), "tools/call", json!({"name": "echo"})),
                "mcp-name",
                "slow",
            ),
            StatusCode::BAD_REQUEST,
            -32020,
        ),
        (
            "Mcp-Name with broken Base64",
            with(
                modern(json!(7), "prompts/get", json!({"name": "echo"})),
                "mcp-name",
                "=?base64?ZWNob?=",
            ),
            StatusCode::BAD_REQUEST,
            -32020,
        ),
        (
            "unsupported version",
            future,
            StatusCode::BAD_REQUEST,
            -32022,
        ),
        (
            "initialize is gone",
            modern(json!(7), "initialize", json!({})),
            StatusCode::NOT_FOUND,
            -32601,
        ),
        (
            "ping is gone",
            modern(json!(7), "ping", json!({})),
            StatusCode::NOT_FOUND,
            -32601,
        ),
        (
            "resources/subscribe is gone",
            modern(json!(7), "resources/subscribe", json!({"uri": "file:///a"})),
            StatusCode::NOT_FOUND,
            -32601,
        ),
        (
            "unknown method",
            modern(json!(7), "tools/dance", json!({})),
            StatusCode::NOT_FOUND,
            -32601,
        ),
        (
            "a feature the server lacks",
            modern(json!(7), "completion/complete", json!({})),
            StatusCode::NOT_FOUND,
            -32601,
        ),
        (
            "inputResponses is not an object",
            modern(
                json!(7),
                "tools/call",
                json!({"name": "ask", "inputResponses": null}),
            ),
            StatusCode::BAD_REQUEST,
            -32602,
        ),
        (
            "an input response is not a result",
            modern(
                json!(7),
                "tools/call",
                json!({"name": "ask", "inputResponses": {"s1": 12345}}),
            ),
            StatusCode::BAD_REQUEST,
            -32602,
        ),
    ];
    for (case, request, status, code) in cases {
        let (got, answer) = call(&f.app, request).await;
        assert_eq!(
            (got, &answer["error"]["code"]),
            (status, &json!(code)),
            "{case}: {answer}"
        );
        assert_eq!(answer["id"], 7, "{case}: {answer}");
    }
    let (_, answer) = call(
        &f.app,
        with(
            modern(
                json!(8),
                "server/discover",
                json!({"_meta": {
                "io.modelcontextprotocol/protocolVersion": "2099-01-01"}}),
            ),
            "mcp-protocol-version",
            "2099-01-01",
        ),
    )
    .await;
    assert_eq!(answer["error"]["data"]["requested"], "2099-01-01");
    assert_eq!(answer["error"]["data"]["supported"][0], "2026-07-28");
    // Nothing malformed reached the server.
    assert!(f.received("tools/call").is_empty());
}

#[tokio::test]
async fn mirrored_headers_are_checked_against_the_body() {
    let f = fixture().await;
    let echo = |arguments: Value| {
        modern(
            json!(1),
            "tools/call",
            json!({"name": "echo", "arguments": arguments}),
        )
    };
    let ok = |request| async {
        let (status, answer) = call(&f.app, request).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(answer["result"].is_object(), "{answer}");
    };
    let mismatch = |request| async {
        let (status, answer) = call(&f.app, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"]["code"], -32020, "{answer}");
    };
    // Whitespace around a value is not part of it; a name may come Base64-encoded.
    ok(with(echo(json!({})), "mcp-name", "  echo\t")).await;
    ok(with(echo(json!({})), "mcp-name", "=?base64?ZWNobw==?=")).await;
    // The tool mirrors `region` into Mcp-Param-Region and `limits.count` into Mcp-Param-Count.
    mismatch(echo(json!({"region": "eu-west"}))).await;
    mismatch(with(
        echo(json!({"region": "eu-west"})),
        "mcp-param-region",
        "us-east",
    ))
    .await;
    mismatch(with(echo(json!({})), "mcp-param-region", "eu-west")).await;
    mismatch(with(
        echo(json!({"region": "Hi"})),
        "mcp-param-region",
        "=?base64?SGk?=",
    ))
    .await;
    ok(with(
        echo(json!({"region": "eu-west"})),
        "Mcp-Param-Region",
        "eu-west",
    ))
    .await;
    ok(with(
        echo(json!({"region": "Hi 世界"})),
        "mcp-param-region",
        "=?base64?SGkg5LiW55WM?=",
    ))
    .await;
    ok(with(
        echo(json!({"limits": {"count": 42}})),
        "mcp-param-count",
        "42.0",
    ))
    .await;
    mismatch(with(
        echo(json!({"limits": {"count": 42}})),
        "mcp-param-count",
        "41",
    ))
    .await;
    // Headers of parameters no tool declares are not Catwalk's business.
    ok(with(echo(json!({})), "mcp-param-other", "x")).await;
}

#[tokio::test]
async fn results_carry_result_type_server_info_and_caching_hints() {
    let f = fixture().await;
    let (_, tools) = call(&f.app, modern(json!(1), "tools/list", json!({}))).await;
    let result = &tools["result"];
    assert_eq!(result["tools"].as_array().unwrap().len(), 8);
    assert_eq!(result["resultType"], "complete");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "scripted"
    );
    // Tools declare listChanged: the list may change any moment. Prompts do not.
    assert_eq!(
        (&result["ttlMs"], &result["cacheScope"]),
        (&json!(0), &json!("private"))
    );
    let (_, prompts) = call(&f.app, modern(json!(2), "prompts/list", json!({}))).await;
    assert_eq!(prompts["result"]["ttlMs"], 300_000);
    let read = modern(json!(3), "resources/read", json!({"uri": "file:///a"}));
    let (_, read) = call(&f.app, read).await;
    assert_eq!(read["result"]["contents"][0]["text"], "hello");
    assert_eq!(read["result"]["ttlMs"], 0);
    // 2026-07-28 says "resource not found" with -32602.
    let missing = modern(
        json!(4),
        "resources/read",
        json!({"uri": "file:///missing"}),
    );
    let (status, missing) = call(&f.app, missing).await;
    assert_eq!(
        (status, &missing["error"]["code"]),
        (StatusCode::OK, &json!(-32602))
    );

    // The legacy server sees the rest of _meta and, of the modern keys, only the client's
    // capabilities (it was initialized with Catwalk's own, not this client's).
    let capabilities = json!({"sampling": {}, "roots": {"listChanged": true}});
    let echo = modern(
        json!("e"),
        "tools/call",
        json!({"name": "echo", "arguments": {}, "_meta": {"progressToken": 5, "x.y/z": 1,
            "io.modelcontextprotocol/clientCapabilities": capabilities,
            "io.modelcontextprotocol/logLevel": "debug"}}),
    );
    let (_, answer) = call(&f.app, echo).await;
    assert_eq!(answer["id"], "e");
    assert_eq!(answer["result"]["resultType"], "complete");
    let sent = f.received("tools/call").pop().unwrap();
    assert_eq!(
        sent["params"]["_meta"],
        json!({"progressToken": sent["id"], "x.y/z": 1,
            "io.modelcontextprotocol/clientCapabilities": capabilities})
    );
}
