//! The bridge driven against a scripted server: the test plays the stdio server's part.

use super::*;
use std::time::Duration;

struct FakeServer {
    from_bridge: mpsc::Receiver<String>,
    to_bridge: mpsc::Sender<String>,
}

impl FakeServer {
    async fn next(&mut self) -> Message {
        let line = tokio::time::timeout(Duration::from_secs(5), self.from_bridge.recv())
            .await
            .expect("the bridge sent nothing")
            .expect("the bridge closed stdin");
        Message::parse(line.as_bytes()).unwrap()
    }

    async fn say(&self, json: Value) {
        self.to_bridge.send(json.to_string()).await.unwrap();
    }
}

async fn started() -> (Upstream, FakeServer) {
    let (to_server, from_server, mut server) = fake_pipes();
    let start = tokio::spawn(Upstream::start(
        to_server,
        from_server,
        Duration::from_secs(5),
    ));
    serve_handshake(&mut server, "fake").await;
    let (upstream, info) = start.await.unwrap().unwrap();
    assert_eq!(info.protocol_version, "2025-06-18");
    (upstream, server)
}

fn request(id: Value, method: &str, params: Value) -> Message {
    let text =
        serde_json::json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}).to_string();
    Message::parse(text.as_bytes()).unwrap()
}

/// Initializes a session declaring these client capabilities.
async fn initialize(session: &Session, capabilities: Value) {
    let params = serde_json::json!({"protocolVersion":"2025-06-18","capabilities":capabilities,"clientInfo":{"name":"t","version":"1"}});
    let mut answer = session
        .request(request("init".into(), "initialize", params))
        .await;
    assert!(next(&mut answer).await.error.is_none());
}

async fn next(rx: &mut Inbox) -> Message {
    *tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap()
}

fn result_of(message: &Message) -> Value {
    serde_json::from_str(message.result.as_ref().unwrap().get()).unwrap()
}

#[tokio::test]
async fn interleaved_sessions_each_get_their_own_answer() {
    let (upstream, mut server) = started().await;
    let a = upstream.open_session();
    let b = upstream.open_session();
    // Both clients pick the same id; the server must see two different ones.
    let mut a_stream = a
        .request(request(
            1.into(),
            "tools/call",
            serde_json::json!({"name":"echo","arguments":{"m":"a"}}),
        ))
        .await;
    let mut b_stream = b
        .request(request(
            1.into(),
            "tools/call",
            serde_json::json!({"name":"echo","arguments":{"m":"b"}}),
        ))
        .await;
    let first = server.next().await;
    let second = server.next().await;
    assert_ne!(first.id, second.id);
    // Answer in the opposite order, echoing each request's argument.
    for sent in [&second, &first] {
        let m = sent.param::<Value>("arguments").unwrap()["m"].clone();
        server
            .say(serde_json::json!({"jsonrpc":"2.0","id":sent.id,"result":{"echo":m}}))
            .await;
    }
    let a_answer = next(&mut a_stream).await;
    let b_answer = next(&mut b_stream).await;
    assert_eq!(a_answer.id, Some(Id::Number(1)));
    assert_eq!(result_of(&a_answer)["echo"], "a");
    assert_eq!(b_answer.id, Some(Id::Number(1)));
    assert_eq!(result_of(&b_answer)["echo"], "b");
}

#[tokio::test]
async fn initialize_is_answered_from_the_handshake() {
    let (upstream, _server) = started().await;
    let session = upstream.open_session();
    let mut stream = session
        .request(request("init".into(), "initialize", serde_json::json!({"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}})))
        .await;
    let answer = next(&mut stream).await;
    assert_eq!(answer.id, Some(Id::String("init".into())));
    let result = result_of(&answer);
    assert_eq!(result["protocolVersion"], "2024-11-05");
    assert_eq!(result["serverInfo"]["name"], "fake");

    let mut newer = session
        .request(request(
            2.into(),
            "initialize",
            serde_json::json!({"protocolVersion":"2025-11-25"}),
        ))
        .await;
    assert_eq!(
        result_of(&next(&mut newer).await)["protocolVersion"],
        "2025-06-18"
    );
}

#[tokio::test]
async fn progress_goes_to_the_request_that_asked_for_it() {
    let (upstream, mut server) = started().await;
    let a = upstream.open_session();
    let b = upstream.open_session();
    let mut a_stream = a
        .request(request(
            5.into(),
            "tools/call",
            serde_json::json!({"name":"slow","_meta":{"progressToken":"tok"}}),
        ))
        .await;
    let mut b_stream = b
        .request(request(
            5.into(),
            "tools/call",
            serde_json::json!({"name":"slow","_meta":{"progressToken":"tok"}}),
        ))
        .await;
    let sent_a = server.next().await;
    let _sent_b = server.next().await;
    let upstream_token = sent_a.param::<Value>("_meta").unwrap()["progressToken"].clone();
    assert_eq!(
        Some(upstream_token.as_i64().unwrap()),
        match sent_a.id {
            Some(Id::Number(n)) => Some(n),
            _ => None,
        }
    );
    server.say(serde_json::json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":upstream_token,"progress":1,"total":2}})).await;
    server
        .say(serde_json::json!({"jsonrpc":"2.0","id":sent_a.id,"result":{}}))
        .await;
    let progress = next(&mut a_stream).await;
    assert_eq!(progress.method.as_deref(), Some("notifications/progress"));
    assert_eq!(
        progress.param::<String>("progressToken").as_deref(),
        Some("tok")
    );
    assert_eq!(next(&mut a_stream).await.id, Some(Id::Number(5)));
    assert!(b_stream.try_recv().is_err(), "session b saw a's progress");
}

#[tokio::test]
async fn server_requests_reach_the_session_in_flight_and_answers_return() {
    let (upstream, mut server) = started().await;
    let idle = upstream.open_session();
    let busy = upstream.open_session();
    initialize(&busy, serde_json::json!({"sampling":{}})).await;
    let mut stream = busy
        .request(request(
            9.into(),
            "tools/call",
            serde_json::json!({"name":"sample"}),
        ))
        .await;
    let sent = server.next().await;
    server.say(serde_json::json!({"jsonrpc":"2.0","id":"srv-1","method":"sampling/createMessage","params":{}})).await;
    let asked = next(&mut stream).await;
    assert_eq!(asked.method.as_deref(), Some("sampling/createMessage"));
    let client_facing = asked.id.clone().unwrap();
    // Another session cannot answer on the busy session's behalf.
    let forged = Message::response(
        client_facing.clone(),
        raw(&serde_json::json!({"forged":true})),
    );
    idle.respond(forged).await;
    busy.respond(Message::response(
        client_facing,
        raw(&serde_json::json!({"text":"hi"})),
    ))
    .await;
    let answer = server.next().await;
    assert_eq!(answer.id, Some(Id::String("srv-1".into())));
    assert_eq!(result_of(&answer)["text"], "hi");
    server
        .say(serde_json::json!({"jsonrpc":"2.0","id":sent.id,"result":{"done":true}}))
        .await;
    assert_eq!(next(&mut stream).await.id, Some(Id::Number(9)));
}

#[tokio::test]
async fn list_changed_reaches_every_session() {
    let (upstream, server) = started().await;
    let a = upstream.open_session();
    let b = upstream.open_session();
    server
        .say(serde_json::json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed"}))
        .await;
    for session in [&a, &b] {
        let mut standalone = session.try_standalone().unwrap();
        assert!(
            session.try_standalone().is_none(),
            "a second holder was allowed"
        );
        let message = next(&mut standalone).await;
        assert_eq!(
            message.method.as_deref(),
            Some("notifications/tools/list_changed")
        );
    }
}

#[tokio::test]
async fn a_server_exit_answers_every_request_in_flight() {
    let (upstream, mut server) = started().await;
    let session = upstream.open_session();
    let mut stream = session
        .request(request(3.into(), "tools/call", serde_json::json!({})))
        .await;
    let _ = server.next().await;
    drop(server);
    let answer = next(&mut stream).await;
    assert_eq!(answer.id, Some(Id::Number(3)));
    assert!(answer.error.unwrap().get().contains("exited"));
    assert!(matches!(upstream.status(), Status::Interrupted(_)));
    assert!(
        !upstream.is_closed(),
        "an exit is not the end: the supervisor may restart it"
    );
    upstream.close("the deployment was removed");
    assert!(upstream.is_closed());
    let mut after = session
        .request(request(4.into(), "tools/list", serde_json::json!({})))
        .await;
    let refused = next(&mut after).await;
    assert!(
        refused
            .error
            .unwrap()
            .get()
            .contains("the deployment was removed")
    );
}

#[tokio::test]
async fn a_session_outlives_its_process() {
    let (upstream, mut server) = started().await;
    let session = upstream.open_session();
    let mut in_flight = session
        .request(request(
            1.into(),
            "tools/call",
            serde_json::json!({"name":"slow"}),
        ))
        .await;
    let _ = server.next().await;
    drop(server);
    assert!(
        next(&mut in_flight).await.error.is_some(),
        "an in-flight request must fail at once"
    );

    // A request sent while the process is gone waits for the next one.
    let waiting = async {
        let mut stream = session
            .request(request(2.into(), "tools/list", serde_json::json!({})))
            .await;
        next(&mut stream).await
    };
    let (to_server, from_bridge) = mpsc::channel(16);
    let (to_bridge, from_server) = mpsc::channel(16);
    let mut replacement = FakeServer {
        from_bridge,
        to_bridge,
    };
    let restart = async {
        let restarted = upstream.restart(to_server, from_server, Duration::from_secs(5));
        let serve = async {
            let init = replacement.next().await;
            assert_eq!(init.method.as_deref(), Some("initialize"));
            assert_eq!(
                init.param::<Value>("clientInfo").unwrap()["name"],
                "catwalk"
            );
            replacement.say(serde_json::json!({"jsonrpc":"2.0","id":init.id,"result":{
                "protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"fake-2","version":"2"}}})).await;
            assert_eq!(
                replacement.next().await.method.as_deref(),
                Some("notifications/initialized")
            );
            let list = replacement.next().await;
            assert_eq!(list.method.as_deref(), Some("tools/list"));
            replacement
                .say(serde_json::json!({"jsonrpc":"2.0","id":list.id,"result":{"tools":[]}}))
                .await;
        };
        let (info, ()) = tokio::join!(restarted, serve);
        assert!(info.unwrap().result.get().contains("fake-2"));
    };
    let (answer, ()) = tokio::join!(waiting, restart);
    assert_eq!(answer.id, Some(Id::Number(2)));
    assert!(answer.error.is_none(), "{answer:?}");
    assert_eq!(upstream.status(), Status::Running);
}

#[tokio::test]
async fn cancellation_is_translated_to_the_upstream_id() {
    let (upstream, mut server) = started().await;
    let session = upstream.open_session();
    let _stream = session
        .request(request("c1".into(), "tools/call", serde_json::json!({})))
        .await;
    let sent = server.next().await;
    let cancel = Message::parse(br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"c1","reason":"user"}}"#).unwrap();
    session.notify(cancel).await;
    let forwarded = server.next().await;
    assert_eq!(forwarded.param::<Id>("requestId"), sent.id);
    assert_eq!(forwarded.param::<String>("reason").as_deref(), Some("user"));
    // A cancelled request no longer counts as in flight, answered or not.
    assert!(upstream.idle_for().is_some());
}

#[tokio::test]
async fn a_closed_session_cancels_what_it_left_in_flight() {
    let (upstream, mut server) = started().await;
    let session = upstream.open_session();
    let _stream = session
        .request(request(1.into(), "tools/call", serde_json::json!({})))
        .await;
    let sent = server.next().await;
    assert_eq!(upstream.idle_for(), None);
    drop(session);
    let cancel = server.next().await;
    assert_eq!(cancel.method.as_deref(), Some("notifications/cancelled"));
    assert_eq!(cancel.param::<Id>("requestId"), sent.id);
    assert!(upstream.idle_for().is_some());
}

#[tokio::test]
async fn resource_subscriptions_are_shared_and_counted() {
    let (upstream, mut server) = started().await;
    let a = upstream.open_session();
    let b = upstream.open_session();
    let bystander = upstream.open_session();
    let subscribe = |id: i64| {
        request(
            id.into(),
            "resources/subscribe",
            serde_json::json!({"uri":"demo://r/1"}),
        )
    };
    let unsubscribe = |id: i64| {
        request(
            id.into(),
            "resources/unsubscribe",
            serde_json::json!({"uri":"demo://r/1"}),
        )
    };

    let mut first = a.request(subscribe(1)).await;
    let sent = server.next().await;
    assert_eq!(sent.method.as_deref(), Some("resources/subscribe"));
    server
        .say(serde_json::json!({"jsonrpc":"2.0","id":sent.id,"result":{}}))
        .await;
    assert!(next(&mut first).await.error.is_none());
    // The second subscription is answered by Catwalk: the server already has one.
    let mut second = b.request(subscribe(1)).await;
    assert!(next(&mut second).await.error.is_none());

    server.say(serde_json::json!({"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"demo://r/1"}})).await;
    for session in [&a, &b] {
        let mut standalone = session.try_standalone().unwrap();
        assert_eq!(
            next(&mut standalone).await.method.as_deref(),
            Some("notifications/resources/updated")
        );
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        bystander.try_standalone().unwrap().try_recv().is_err(),
        "an unsubscribed session got the update"
    );

    // A leaves: answered here. B leaves: now the server hears of it.
    let mut left = a.request(unsubscribe(2)).await;
    assert!(next(&mut left).await.error.is_none());
    let mut last = b.request(unsubscribe(2)).await;
    let sent = server.next().await;
    assert_eq!(sent.method.as_deref(), Some("resources/unsubscribe"));
    server
        .say(serde_json::json!({"jsonrpc":"2.0","id":sent.id,"result":{}}))
        .await;
    assert!(next(&mut last).await.error.is_none());

    // A session that goes away without unsubscribing releases the server's subscription.
    let mut again = a.request(subscribe(3)).await;
    let sent = server.next().await;
    server
        .say(serde_json::json!({"jsonrpc":"2.0","id":sent.id,"result":{}}))
        .await;
    assert!(next(&mut again).await.error.is_none());
    drop(a);
    let released = server.next().await;
    assert_eq!(released.method.as_deref(), Some("resources/unsubscribe"));
    assert_eq!(
        released.param::<String>("uri").as_deref(),
        Some("demo://r/1")
    );
}

#[tokio::test]
async fn quiet_calls_time_out_but_progress_keeps_them_alive() {
    let (upstream, mut server) = started().await;
    upstream.set_call_timeout(Some(Duration::from_millis(900)));
    let session = upstream.open_session();

    let mut chatty = session
        .request(request(
            1.into(),
            "tools/call",
            serde_json::json!({"name":"long","_meta":{"progressToken":"t"}}),
        ))
        .await;
    let sent = server.next().await;
    let token = sent.param::<Value>("_meta").unwrap()["progressToken"].clone();
    for step in 1..=4 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        server.say(serde_json::json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":token,"progress":step}})).await;
    }
    server
        .say(serde_json::json!({"jsonrpc":"2.0","id":sent.id,"result":{"done":true}}))
        .await;
    let mut answer = next(&mut chatty).await;
    while answer.method.is_some() {
        answer = next(&mut chatty).await;
    }
    assert!(
        answer.error.is_none(),
        "a call with progress was cut off after 2 s: {answer:?}"
    );

    let mut quiet = session
        .request(request(
            2.into(),
            "tools/call",
            serde_json::json!({"name":"stuck"}),
        ))
        .await;
    let stuck = server.next().await;
    let answer = next(&mut quiet).await;
    let error: Value = serde_json::from_str(answer.error.unwrap().get()).unwrap();
    assert_eq!(error["code"], REQUEST_TIMEOUT);
    let cancel = server.next().await;
    assert_eq!(cancel.method.as_deref(), Some("notifications/cancelled"));
    assert_eq!(cancel.param::<Id>("requestId"), stuck.id);
}

#[tokio::test]
async fn a_server_request_needs_the_capability_its_client_declared() {
    let (upstream, mut server) = started().await;
    let plain = upstream.open_session();
    initialize(&plain, serde_json::json!({})).await;
    let mut stream = plain
        .request(request(
            1.into(),
            "tools/call",
            serde_json::json!({"name":"sample"}),
        ))
        .await;
    let _ = server.next().await;
    server.say(serde_json::json!({"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{}})).await;
    let refusal = server.next().await;
    assert_eq!(refusal.id, Some(Id::String("s1".into())));
    assert!(
        refusal
            .error
            .unwrap()
            .get()
            .contains("did not declare the sampling capability")
    );
    assert!(
        stream.try_recv().is_err(),
        "the request reached a client that cannot answer it"
    );
}

#[tokio::test]
async fn a_refused_subscription_is_not_kept() {
    let (upstream, mut server) = started().await;
    let a = upstream.open_session();
    let b = upstream.open_session();
    let subscribe = |id: i64| {
        request(
            id.into(),
            "resources/subscribe",
            serde_json::json!({"uri":"test://nope"}),
        )
    };
    let mut first = a.request(subscribe(1)).await;
    let sent = server.next().await;
    server.say(serde_json::json!({"jsonrpc":"2.0","id":sent.id,"error":{"code":-32602,"message":"Resource not found"}})).await;
    assert!(next(&mut first).await.error.is_some());
    // B's subscription goes to the server, which refuses it again.
    let mut second = b.request(subscribe(2)).await;
    let sent = server.next().await;
    assert_eq!(sent.method.as_deref(), Some("resources/subscribe"));
    server.say(serde_json::json!({"jsonrpc":"2.0","id":sent.id,"error":{"code":-32602,"message":"Resource not found"}})).await;
    assert!(next(&mut second).await.error.is_some());
}

#[tokio::test]
async fn log_messages_go_to_the_request_in_flight() {
    let (upstream, mut server) = started().await;
    let caller = upstream.open_session();
    let other = upstream.open_session();
    let mut stream = caller
        .request(request(
            1.into(),
            "tools/call",
            serde_json::json!({"name":"logs"}),
        ))
        .await;
    let sent = server.next().await;
    server.say(serde_json::json!({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"working"}})).await;
    server
        .say(serde_json::json!({"jsonrpc":"2.0","id":sent.id,"result":{}}))
        .await;
    assert_eq!(
        next(&mut stream).await.method.as_deref(),
        Some("notifications/message")
    );
    assert!(next(&mut stream).await.result.is_some());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        other.try_standalone().unwrap().try_recv().is_err(),
        "another session got the log line"
    );
    // With nothing in flight, a log line goes to every session.
    server.say(serde_json::json!({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"idle"}})).await;
    for session in [&caller, &other] {
        let mut standalone = session.try_standalone().unwrap();
        assert_eq!(
            next(&mut standalone).await.method.as_deref(),
            Some("notifications/message")
        );
    }
}

#[tokio::test]
async fn a_server_request_is_refused_when_two_clients_could_be_meant() {
    let (upstream, mut server) = started().await;
    let a = upstream.open_session();
    let b = upstream.open_session();
    initialize(&a, serde_json::json!({"sampling":{}})).await;
    initialize(&b, serde_json::json!({"sampling":{}})).await;
    let mut a_call = a
        .request(request(
            1.into(),
            "tools/call",
            serde_json::json!({"name":"sample"}),
        ))
        .await;
    let mut b_call = b
        .request(request(
            1.into(),
            "tools/call",
            serde_json::json!({"name":"slow"}),
        ))
        .await;
    let _ = server.next().await;
    let _ = server.next().await;
    // A's prompt must not reach B: with both in flight, nobody gets it.
    server.say(serde_json::json!({"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"secret prompt of A"}}]}})).await;
    let refusal = server.next().await;
    assert_eq!(refusal.id, Some(Id::String("s1".into())));
    assert!(refusal.error.unwrap().get().contains("several clients"));
    // Log lines are not broadcast either.
    server.say(serde_json::json!({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"A's data"}})).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(a_call.try_recv().is_err() && b_call.try_recv().is_err());
    for session in [&a, &b] {
        assert!(session.try_standalone().unwrap().try_recv().is_err());
    }
}

/// Plays a fresh process's handshake; returns the `initialize` params it was sent.
async fn serve_handshake(server: &mut FakeServer, name: &str) -> Value {
    let init = server.next().await;
    assert_eq!(init.method.as_deref(), Some("initialize"));
    server.say(serde_json::json!({"jsonrpc":"2.0","id":init.id,"result":{
        "protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":name,"version":"1"}}})).await;
    assert_eq!(
        server.next().await.method.as_deref(),
        Some("notifications/initialized")
    );
    serde_json::from_str(init.params.unwrap().get()).unwrap()
}

async fn interrupted(upstream: &Upstream) {
    let mut status = upstream.inner.status.subscribe();
    tokio::time::timeout(
        Duration::from_secs(5),
        status.wait_for(|s| matches!(s, Status::Interrupted(_))),
    )
    .await
    .expect("the upstream did not notice its process was gone")
    .unwrap();
}

fn fake_pipes() -> (mpsc::Sender<String>, mpsc::Receiver<String>, FakeServer) {
    let (to_server, from_bridge) = mpsc::channel(16);
    let (to_bridge, from_server) = mpsc::channel(16);
    let server = FakeServer {
        from_bridge,
        to_bridge,
    };
    (to_server, from_server, server)
}

#[tokio::test]
async fn a_dedicated_process_is_initialized_as_its_client_and_again_after_a_restart() {
    let client = serde_json::json!({"protocolVersion":"2025-03-26",
        "capabilities":{"roots":{"listChanged":true}},"clientInfo":{"name":"my-editor","version":"7"}});
    let (to_server, from_server, mut server) = fake_pipes();
    let start = tokio::spawn(Upstream::start_for_client(
        to_server,
        from_server,
        Duration::from_secs(5),
        Some(raw(&client)),
    ));
    assert_eq!(serve_handshake(&mut server, "first").await, client);
    let (upstream, _) = start.await.unwrap().unwrap();

    drop(server);
    interrupted(&upstream).await;
    let (to_server, from_server, mut server) = fake_pipes();
    let restart = upstream.restart(to_server, from_server, Duration::from_secs(5));
    let (info, params) = tokio::join!(restart, serve_handshake(&mut server, "second"));
    assert!(info.unwrap().result.get().contains("second"));
    assert_eq!(params, client, "a restart must present the same client");
}

#[tokio::test]
async fn a_dedicated_process_adopts_its_clients_parameters_once_they_arrive() {
    // A legacy HTTP+SSE session opens before its client says who it is.
    let (to_server, from_server, mut server) = fake_pipes();
    let start = tokio::spawn(Upstream::start_for_client(
        to_server,
        from_server,
        Duration::from_secs(5),
        None,
    ));
    let first = serve_handshake(&mut server, "first").await;
    assert_eq!(first["clientInfo"]["name"], "catwalk");
    let (upstream, _) = start.await.unwrap().unwrap();
    let session = upstream.open_session();
    initialize(&session, serde_json::json!({"sampling":{}})).await;

    drop(server);
    interrupted(&upstream).await;
    let (to_server, from_server, mut server) = fake_pipes();
    let restart = upstream.restart(to_server, from_server, Duration::from_secs(5));
    let (info, params) = tokio::join!(restart, serve_handshake(&mut server, "second"));
    info.unwrap();
    assert_eq!(params["clientInfo"]["name"], "t");
    assert_eq!(params["capabilities"], serde_json::json!({"sampling":{}}));
}

#[tokio::test]
async fn a_shared_process_keeps_catwalks_own_parameters() {
    let (upstream, server) = started().await;
    let session = upstream.open_session();
    initialize(&session, serde_json::json!({"roots":{}})).await;
    drop(server);
    interrupted(&upstream).await;
    let (to_server, from_server, mut server) = fake_pipes();
    let restart = upstream.restart(to_server, from_server, Duration::from_secs(5));
    let (info, params) = tokio::join!(restart, serve_handshake(&mut server, "second"));
    info.unwrap();
    assert_eq!(params["clientInfo"]["name"], "catwalk");
}

#[tokio::test]
async fn an_idle_upstream_sleeps_and_a_request_wakes_it() {
    let (upstream, mut server) = started().await;
    let session = upstream.open_session();
    let mut busy = session
        .request(request(1.into(), "tools/call", serde_json::json!({})))
        .await;
    let call = server.next().await;
    assert_eq!(upstream.idle_for(), None, "a call is in flight");
    assert!(
        !upstream.suspend("sleeping"),
        "never while a call is in flight"
    );
    server
        .say(serde_json::json!({"jsonrpc":"2.0","id":call.id,"result":{}}))
        .await;
    next(&mut busy).await;
    assert!(upstream.idle_for().is_some());

    assert!(upstream.suspend("sleeping: idle"));
    // The old process ends; that is not a crash, and the status stays as suspend left it.
    drop(server);
    tokio::task::yield_now().await;
    assert_eq!(
        upstream.status(),
        Status::Interrupted("sleeping: idle".into())
    );

    let waiting = async {
        let mut stream = session
            .request(request(2.into(), "tools/list", serde_json::json!({})))
            .await;
        next(&mut stream).await
    };
    let wake = async {
        tokio::time::timeout(Duration::from_secs(5), upstream.demanded())
            .await
            .expect("a waiting request must signal demand");
        let (to_server, from_server, mut server) = fake_pipes();
        let restart = upstream.restart(to_server, from_server, Duration::from_secs(5));
        let serve = async {
            serve_handshake(&mut server, "woken").await;
            let list = server.next().await;
            assert_eq!(list.method.as_deref(), Some("tools/list"));
            server
                .say(serde_json::json!({"jsonrpc":"2.0","id":list.id,"result":{"tools":[]}}))
                .await;
        };
        let (info, ()) = tokio::join!(restart, serve);
        info.unwrap();
    };
    let (answer, ()) = tokio::join!(waiting, wake);
    assert_eq!(answer.id, Some(Id::Number(2)));
    assert!(answer.error.is_none(), "{answer:?}");
}

#[tokio::test]
async fn a_dormant_upstream_answers_initialize_and_wakes_on_the_first_request() {
    let params = raw(
        &serde_json::json!({"protocolVersion":"2025-06-18","capabilities":{},
        "clientInfo":{"name":"catwalk","version":"1"}}),
    );
    let init = InitInfo {
        protocol_version: "2025-06-18".into(),
        result: raw(
            &serde_json::json!({"protocolVersion":"2025-06-18","capabilities":{},
            "serverInfo":{"name":"remembered","version":"1"}}),
        ),
    };
    let upstream = Upstream::dormant(params.clone(), init, "sleeping");
    let session = upstream.open_session();
    let mut answer = session
        .request(request(
            0.into(),
            "initialize",
            serde_json::json!({"protocolVersion":"2025-06-18","capabilities":{},
                "clientInfo":{"name":"c","version":"1"}}),
        ))
        .await;
    assert!(
        result_of(&next(&mut answer).await)
            .to_string()
            .contains("remembered")
    );

    let waiting = async {
        let mut stream = session
            .request(request(1.into(), "ping", serde_json::json!({})))
            .await;
        next(&mut stream).await
    };
    let wake = async {
        upstream.demanded().await;
        let (to_server, from_server, mut server) = fake_pipes();
        let restart = upstream.restart(to_server, from_server, Duration::from_secs(5));
        let serve = async {
            let sent = serve_handshake(&mut server, "awake").await;
            assert_eq!(sent, serde_json::from_str::<Value>(params.get()).unwrap());
            let ping = server.next().await;
            server
                .say(serde_json::json!({"jsonrpc":"2.0","id":ping.id,"result":{}}))
                .await;
        };
        let (info, ()) = tokio::join!(restart, serve);
        info.unwrap();
    };
    let (answer, ()) = tokio::join!(waiting, wake);
    assert!(answer.error.is_none(), "{answer:?}");
}

/// Collects what the audit trail would be told.
#[derive(Default)]
struct Recorder {
    arguments: bool,
    calls: Mutex<Vec<FinishedCall>>,
}

impl CallObserver for Recorder {
    fn wants_arguments(&self) -> bool {
        self.arguments
    }
    fn finished(&self, call: FinishedCall) {
        self.calls.lock().unwrap().push(call);
    }
}

#[tokio::test]
async fn observed_tool_calls_are_recorded_with_how_they_ended() {
    let (upstream, mut server) = started().await;
    let recorder = Arc::new(Recorder {
        arguments: true,
        ..Recorder::default()
    });
    let mut session = upstream.open_session();
    session.observe(recorder.clone());
    let unobserved = upstream.open_session();
    let call = |id: i64, tool: &str| {
        request(
            id.into(),
            "tools/call",
            serde_json::json!({"name": tool, "arguments": {"q": id}}),
        )
    };

    // Answered, a tool error, a JSON-RPC error; other methods and other sessions are not observed.
    for (id, result) in [
        (1, serde_json::json!({"result": {"content": []}})),
        (
            2,
            serde_json::json!({"result": {"content": [], "isError": true}}),
        ),
        (
            3,
            serde_json::json!({"error": {"code": -32602, "message": "no such tool"}}),
        ),
    ] {
        let mut answers = session.request(call(id, "search")).await;
        let sent = server.next().await;
        let mut reply = serde_json::json!({"jsonrpc": "2.0", "id": sent.id});
        reply
            .as_object_mut()
            .unwrap()
            .extend(result.as_object().unwrap().clone());
        server.say(reply).await;
        let answer = next(&mut answers).await;
        assert_eq!(answer.id, Some(Id::Number(id)), "the client's own id");
    }
    let mut listed = session
        .request(request(4.into(), "tools/list", serde_json::json!({})))
        .await;
    let sent = server.next().await;
    server
        .say(serde_json::json!({"jsonrpc": "2.0", "id": sent.id, "result": {"tools": []}}))
        .await;
    next(&mut listed).await;
    let mut other = unobserved.request(call(5, "search")).await;
    let sent = server.next().await;
    server
        .say(serde_json::json!({"jsonrpc": "2.0", "id": sent.id, "result": {}}))
        .await;
    next(&mut other).await;

    // One the client abandons (its session goes), one the crash of the server ends.
    let _abandoned = session.request(call(6, "slow")).await;
    server.next().await;
    let mut second = upstream.open_session();
    second.observe(recorder.clone());
    drop(session);
    let mut crashed = second.request(call(7, "slow")).await;
    server.next().await;
    drop(server);
    let answer = next(&mut crashed).await;
    assert!(answer.error.is_some());

    let calls = recorder.calls.lock().unwrap();
    let outcomes: Vec<(&str, &CallOutcome)> = calls
        .iter()
        .map(|c| (c.tool.as_str(), &c.outcome))
        .collect();
    assert_eq!(outcomes.len(), 5, "{calls:?}");
    assert_eq!(outcomes[0], ("search", &CallOutcome::Ok));
    assert_eq!(outcomes[1], ("search", &CallOutcome::ToolError));
    assert_eq!(
        outcomes[2],
        (
            "search",
            &CallOutcome::Error {
                code: -32602,
                message: "no such tool".into()
            }
        )
    );
    assert_eq!(outcomes[3], ("slow", &CallOutcome::Abandoned));
    assert!(
        matches!(outcomes[4], ("slow", CallOutcome::Error { code, .. }) if *code == codes::SERVER_UNAVAILABLE),
        "{calls:?}"
    );
    assert_eq!(calls[0].arguments.as_ref().unwrap().get(), r#"{"q":1}"#);
}
