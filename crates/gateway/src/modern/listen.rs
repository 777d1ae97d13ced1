//! `subscriptions/listen`: the long-lived stream of change notifications that replaces the GET
//! stream and `resources/subscribe` in 2026-07-28.
//!
//! The stream opens a bridge session of its own, whose broadcasts carry every notification the
//! upstream sends on its own (list changes, resource updates). It starts with
//! `notifications/subscriptions/acknowledged` naming the subset of the client's filter the
//! server can honour (from its capabilities), then relays only the notification types in that
//! subset, each tagged with the subscription id (the id of the `subscriptions/listen` request).
//! Resource subscriptions go through the bridge session as legacy `resources/subscribe`
//! requests; the bridge shares them among sessions and withdraws them upstream when the last
//! session holding one ends (here: when the stream closes).
//!
//! When the upstream goes away the stream ends gracefully, with a result for the listen request.

use std::time::Duration;

use axum::response::Response;
use catwalk_bridge::Session;
use catwalk_protocol::{Id, Kind, Message, codes, raw};
use serde_json::{Map, Value, json};

use super::Call;
use super::forward::Context;
use crate::reply;

const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
/// How long the upstream may take to accept one `resources/subscribe`.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Filter flags and the capability that makes the server send them.
const LIST_FLAGS: [(&str, &str, &str); 3] = [
    (
        "toolsListChanged",
        "tools",
        "notifications/tools/list_changed",
    ),
    (
        "promptsListChanged",
        "prompts",
        "notifications/prompts/list_changed",
    ),
    (
        "resourcesListChanged",
        "resources",
        "notifications/resources/list_changed",
    ),
];

/// What one subscription relays.
struct Filter {
    /// Notification methods of the list flags the server honours.
    lists: Vec<&'static str>,
    resources: Vec<String>,
}

impl Filter {
    fn wants(&self, message: &Message) -> bool {
        match message.method.as_deref() {
            Some("notifications/resources/updated") => message
                .param::<String>("uri")
                .is_some_and(|uri| self.resources.contains(&uri)),
            Some(method) => self.lists.contains(&method),
            None => false,
        }
    }
}

pub(crate) async fn open(context: Context, call: Call) -> Response {
    let requested = match call.params.get("notifications") {
        Some(Value::Object(requested)) => requested.clone(),
        _ => Map::new(),
    };
    let session = context.upstream.open_session();
    let Some(mut broadcasts) = session.try_standalone() else {
        unreachable!("a new session's stream has no other reader");
    };

    let mut agreed = Map::new();
    let mut filter = Filter {
        lists: Vec::new(),
        resources: Vec::new(),
    };
    for (flag, feature, method) in LIST_FLAGS {
        if requested.get(flag) == Some(&Value::Bool(true))
            && context.facts.declares(feature, "listChanged")
        {
            agreed.insert(flag.into(), Value::Bool(true));
            filter.lists.push(method);
        }
    }
    if let Some(Value::Array(uris)) = requested.get("resourceSubscriptions")
        && context.facts.declares("resources", "subscribe")
    {
        for (n, uri) in uris.iter().filter_map(Value::as_str).enumerate() {
            if subscribe(&session, uri, n).await {
                filter.resources.push(uri.to_string());
            }
        }
        agreed.insert("resourceSubscriptions".into(), json!(filter.resources));
    }

    let subscription = serde_json::to_value(&call.id).expect("ids serialize");
    let ack = Message::notification(
        "notifications/subscriptions/acknowledged",
        Some(raw(&json!({
            "_meta": { SUBSCRIPTION_ID: subscription },
            "notifications": agreed,
        }))),
    );
    let keep_alive = context.gateway.config.keep_alive;
    let stream = async_stream::stream! {
        yield ack;
        while let Some(message) = broadcasts.recv().await {
            match message.kind() {
                Kind::Notification if filter.wants(&message) => {
                    yield tag(*message, &subscription);
                }
                Kind::Request => {
                    // Nothing of this client's waits for input here; the server must not hang.
                    let refusal = Message::error(
                        message.id.clone(),
                        codes::METHOD_NOT_FOUND,
                        "a 2026-07-28 client cannot answer requests outside its own calls",
                    );
                    session.respond(refusal).await;
                }
                _ => {}
            }
        }
        let mut meta = Map::new();
        meta.insert(SUBSCRIPTION_ID.into(), subscription.clone());
        yield Message::response(call.id.clone(), raw(&context.facts.empty_result(meta)));
    };
    reply::sse(stream, keep_alive)
}

/// Subscribes to one resource upstream; false if the server refused or did not answer.
async fn subscribe(session: &Session, uri: &str, n: usize) -> bool {
    let request = Message::request(
        Id::String(format!("catwalk-subscribe-{n}")),
        "resources/subscribe",
        Some(raw(&json!({ "uri": uri }))),
    );
    let mut answers = session.request(request).await;
    let answered = async {
        while let Some(message) = answers.recv().await {
            if message.kind() == Kind::Response {
                return message.result.is_some();
            }
        }
        false
    };
    tokio::time::timeout(SUBSCRIBE_TIMEOUT, answered)
        .await
        .unwrap_or(false)
}

/// The notification with the subscription id in `params._meta`.
fn tag(mut message: Message, subscription: &Value) -> Message {
    let mut params: Map<String, Value> = message
        .params
        .as_ref()
        .and_then(|p| serde_json::from_str(p.get()).ok())
        .unwrap_or_default();
    let meta = params.entry("_meta").or_insert_with(|| json!({}));
    if let Value::Object(meta) = meta {
        meta.insert(SUBSCRIPTION_ID.into(), subscription.clone());
    }
    message.params = Some(raw(&params));
    message
}
