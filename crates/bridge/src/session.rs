//! A client session on a shared upstream: what the gateway holds for one client. Requests get a
//! fresh upstream id and their own answer stream; `initialize` is answered from the process's
//! handshake; notifications and answers to the server's requests are translated back.

use std::sync::Arc;
use std::time::Duration;

use catwalk_protocol::{Id, Message, codes, raw};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::audit::CallAudit;
use crate::{
    CallObserver, Inbox, Pending, REQUEST_QUEUE, RESTART_PATIENCE, Reply, Status, Upstream, route,
    subscriptions,
};

/// One client session on a shared upstream.
pub struct Session {
    pub(crate) id: u64,
    pub(crate) upstream: Upstream,
    pub(crate) standalone: Arc<tokio::sync::Mutex<Inbox>>,
    /// Told about every `tools/call` of this session when it ends (the audit trail).
    pub(crate) observer: Option<Arc<dyn CallObserver>>,
}

impl Session {
    /// Reports this session's tool calls to `observer` from now on.
    pub fn observe(&mut self, observer: Arc<dyn CallObserver>) {
        self.observer = Some(observer);
    }

    /// Forwards a client request. The returned stream yields the messages related to it (progress
    /// notifications, server-to-client requests) and ends with its response.
    pub async fn request(&self, message: Message) -> Inbox {
        let (tx, rx) = mpsc::channel(REQUEST_QUEUE);
        let client_id = message.id.clone().expect("a request has an id");
        if message.method.as_deref() == Some("initialize") {
            let _ = tx.try_send(Box::new(self.answer_initialize(&message, client_id)));
            return rx;
        }
        if self.subscription_is_shared(&message) {
            let _ = tx.try_send(Box::new(Message::response(
                client_id,
                raw(&serde_json::json!({})),
            )));
            return rx;
        }
        let (id, progress_token) = loop {
            // A request that comes while the process restarts waits for the new one.
            if let Err(reason) = self.upstream.ready(RESTART_PATIENCE).await {
                let error = Message::error(
                    Some(client_id),
                    codes::SERVER_UNAVAILABLE,
                    &format!("the MCP server is not running: {reason}"),
                );
                if let Some(audit) = CallAudit::of(self.observer.as_ref(), &message) {
                    audit.ended(CallAudit::outcome_of(&error));
                }
                let _ = tx.try_send(Box::new(error));
                return rx;
            }
            let mut state = self.upstream.state();
            // Checked again under the lock that `interrupt` takes, so no request is left pending
            // on a process that is already gone.
            if state.status != Status::Running {
                continue;
            }
            let id = state.allocate_id();
            state.last_active_session = Some(self.id);
            state.last_activity = Some(std::time::Instant::now());
            let progress_token = progress_token(&message);
            state.pending.insert(
                id,
                Pending {
                    session: Some(self.id),
                    client_id,
                    reply: Reply::Stream(tx),
                    progress_token: progress_token.clone(),
                    last_activity: std::time::Instant::now(),
                    subscribing: (message.method.as_deref() == Some("resources/subscribe"))
                        .then(|| message.param::<String>("uri"))
                        .flatten(),
                    audit: CallAudit::of(self.observer.as_ref(), &message),
                },
            );
            break (id, progress_token);
        };
        let mut upstream_message = message;
        upstream_message.id = Some(Id::Number(id));
        if progress_token.is_some() {
            // The server reports progress under the upstream id, which is unique across sessions.
            upstream_message.params = upstream_message
                .params
                .map(|params| route::set_progress_token(&params, id));
        }
        self.upstream.send(&upstream_message).await;
        rx
    }

    /// Forwards a client notification. `notifications/initialized` is swallowed (the handshake
    /// already happened) and cancellations are translated to the upstream id.
    pub async fn notify(&self, message: Message) {
        match message.method.as_deref() {
            Some("notifications/initialized") => {}
            Some("notifications/cancelled") => {
                let Some(request_id) = message.param::<Id>("requestId") else {
                    return;
                };
                // Forgotten at once: a server need not answer a cancelled request, and one left
                // pending would count as in flight for good (and make server requests look
                // ambiguous).
                let upstream_id = {
                    let mut state = self.upstream.state();
                    let id = state
                        .pending
                        .iter()
                        .find(|(_, p)| p.session == Some(self.id) && p.client_id == request_id)
                        .map(|(id, _)| *id);
                    if let Some(id) = id {
                        state.pending.remove(&id);
                    }
                    id
                };
                if let Some(upstream_id) = upstream_id {
                    let params = route::with_request_id(&message, Id::Number(upstream_id));
                    self.upstream
                        .send(&Message::notification(
                            "notifications/cancelled",
                            Some(params),
                        ))
                        .await;
                }
            }
            _ => self.upstream.send(&message).await,
        }
    }

    /// Forwards the client's answer to a server-to-client request, with the server's original id.
    pub async fn respond(&self, mut message: Message) {
        let Some(Id::String(client_facing)) = &message.id else {
            return;
        };
        let upstream_id = {
            let mut state = self.upstream.state();
            match state.server_requests.get(client_facing) {
                Some(request) if request.session == self.id => state
                    .server_requests
                    .remove(client_facing)
                    .map(|r| r.upstream_id),
                _ => None,
            }
        };
        if let Some(upstream_id) = upstream_id {
            message.id = Some(upstream_id);
            self.upstream.send(&message).await;
        }
    }

    /// The session's standalone stream (the GET stream of Streamable HTTP). Only one holder at a
    /// time: `None` while another holds it.
    pub fn try_standalone(&self) -> Option<tokio::sync::OwnedMutexGuard<Inbox>> {
        self.standalone.clone().try_lock_owned().ok()
    }

    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// Records the client capabilities of this session (from its `initialize`, or, for a
    /// stateless client, from a request's `_meta`): a server's request for a capability the
    /// session did not declare is refused.
    pub fn declare_capabilities(&self, capabilities: Value) {
        self.upstream.state().declared.insert(self.id, capabilities);
    }

    /// Records a `resources/(un)subscribe`; true when another session's subscription makes
    /// forwarding it wrong (the server would see a second subscribe, or lose the other's).
    fn subscription_is_shared(&self, message: &Message) -> bool {
        let method = message.method.as_deref();
        if !matches!(
            method,
            Some("resources/subscribe" | "resources/unsubscribe")
        ) {
            return false;
        }
        let Some(uri) = message.param::<String>("uri") else {
            return false;
        };
        let mut state = self.upstream.state();
        let verdict = if method == Some("resources/subscribe") {
            state.subscriptions.subscribe(&uri, self.id)
        } else {
            state.subscriptions.unsubscribe(&uri, self.id)
        };
        verdict == subscriptions::Upstream::AnswerHere
    }

    fn answer_initialize(&self, request: &Message, client_id: Id) -> Message {
        let Some(info) = self.upstream.init_info() else {
            return Message::error(
                Some(client_id),
                codes::SERVER_UNAVAILABLE,
                "the MCP server has not finished starting",
            );
        };
        let capabilities = request
            .param::<Value>("capabilities")
            .unwrap_or(Value::Null);
        {
            let mut state = self.upstream.state();
            state.declared.insert(self.id, capabilities);
            if state.dedicated
                && let Some(params) = &request.params
            {
                state.init_params = Some(params.clone());
            }
        }
        let requested = request.param::<String>("protocolVersion");
        let version = negotiate(requested.as_deref(), &info.protocol_version);
        let mut result: serde_json::Map<String, Value> =
            serde_json::from_str(info.result.get()).unwrap_or_default();
        result.insert("protocolVersion".into(), Value::String(version));
        Message::response(client_id, raw(&result))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let (orphaned, abandoned) = {
            let mut state = self.upstream.state();
            // Requests of a gone client: nobody waits for their answers.
            let abandoned: Vec<i64> = state
                .pending
                .iter()
                .filter(|(_, p)| p.session == Some(self.id))
                .map(|(id, _)| *id)
                .collect();
            for id in &abandoned {
                state.pending.remove(id);
            }
            state.sessions.remove(&self.id);
            state.declared.remove(&self.id);
            state.server_requests.retain(|_, r| r.session != self.id);
            if state.last_active_session == Some(self.id) {
                state.last_active_session = None;
            }
            (state.subscriptions.drop_session(self.id), abandoned)
        };
        self.upstream
            .inner
            .session_count
            .send_modify(|n| *n = n.saturating_sub(1));
        // The server keeps no subscription that no session holds, and stops work nobody awaits.
        if (!orphaned.is_empty() || !abandoned.is_empty())
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let upstream = self.upstream.clone();
            runtime.spawn(async move {
                for id in abandoned {
                    let params = raw(&serde_json::json!({
                        "requestId": id,
                        "reason": "the client session ended",
                    }));
                    let cancel = Message::notification("notifications/cancelled", Some(params));
                    upstream.send(&cancel).await;
                }
                for uri in orphaned {
                    let params = raw(&serde_json::json!({ "uri": uri }));
                    let _ = upstream
                        .call(
                            "resources/unsubscribe",
                            Some(params),
                            Duration::from_secs(10),
                        )
                        .await;
                }
            });
        }
    }
}

/// The version a session gets: the client's own when it is older than the server's and Catwalk
/// supports it (the messages Catwalk relays are compatible across these versions), else the
/// server's.
fn negotiate(requested: Option<&str>, server: &str) -> String {
    match requested {
        Some(version) if catwalk_protocol::is_supported_version(version) && version < server => {
            version.to_string()
        }
        _ => server.to_string(),
    }
}

fn progress_token(message: &Message) -> Option<Value> {
    let params = message.params.as_ref()?;
    if !params.get().contains("progressToken") {
        return None;
    }
    let params: Value = serde_json::from_str(params.get()).ok()?;
    params.get("_meta")?.get("progressToken").cloned()
}
