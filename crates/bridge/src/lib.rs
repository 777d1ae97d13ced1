//! One stdio MCP server process, many client sessions.
//!
//! A stdio server speaks to exactly one client. Catwalk lets many client sessions share it, so
//! this crate rewrites JSON-RPC ids on the way in (every upstream request gets a fresh numeric id)
//! and restores them on the way out, so that interleaved requests from different sessions each get
//! their own answer. It also routes what the server sends on its own:
//!
//! - a response goes back to the request that caused it, with the client's original id;
//! - `notifications/progress` goes to the stream of the request whose progress token it carries
//!   (progress tokens are rewritten too, since two sessions may pick the same token);
//! - a server-to-client request (sampling, roots, elicitation) goes to the one session that has
//!   requests in flight, on its most recent request's stream; with nothing in flight, to the most
//!   recently active session's standalone stream. Stdio gives no better clue, so when several
//!   sessions have requests in flight (or the chosen one did not declare the capability needed)
//!   the server gets an error rather than risk one client's prompt reaching another (the rule is
//!   documented in ARCHITECTURE.md);
//! - a log message (`notifications/message`) follows the same rule: dropped when ambiguous, to
//!   every session when nothing is in flight;
//! - `notifications/resources/updated` goes to the sessions subscribed to that resource
//!   (subscriptions are counted across sessions: see `subscriptions.rs`);
//! - every other notification (list changes, log messages) goes to every session.
//!
//! The handshake happens once per process, when Catwalk starts it ([`Upstream::start`]); each
//! session's `initialize` is then answered from that result. The bridge knows nothing about HTTP:
//! the gateway turns sessions into HTTP streams.

mod audit;
mod route;
mod session;
mod subscriptions;
mod timeout;

pub use audit::{CallObserver, CallOutcome, FinishedCall};
pub use session::Session;
pub use timeout::REQUEST_TIMEOUT;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use catwalk_protocol::{Id, Message, codes, raw};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot, watch};

/// The sending end of a stream of messages for a client: a request's stream, or a session's
/// standalone one. Messages travel boxed: a tokio channel allocates its slots 32 at a time, so
/// a channel of bare 120-byte messages holds about 4 kB before its first message (for every idle
/// session and every request), and one of boxes 256 bytes.
pub type Outbox = mpsc::Sender<Box<Message>>;
/// The receiving end of an [`Outbox`].
pub type Inbox = mpsc::Receiver<Box<Message>>;

/// Messages a session may queue for its standalone (GET) stream before new ones are dropped.
const SESSION_QUEUE: usize = 256;
/// Messages a single request's stream may queue.
const REQUEST_QUEUE: usize = 64;
/// How long a session's request waits for a restarting server before it gets an error.
const RESTART_PATIENCE: Duration = Duration::from_secs(30);

/// A future the pipe traits return (boxed: they are used as trait objects).
pub type PipeFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Where the bridge writes messages for the server: its stdin, one message per call.
pub trait ServerInput: Send + Sync + 'static {
    /// Writes one message (without its newline); false once the server cannot take any more.
    fn send(&self, message: String) -> PipeFuture<'_, bool>;
}

/// Where the bridge reads what the server writes: its stdout, one message per call.
pub trait ServerOutput: Send + 'static {
    /// The next message, or `None` once the server's output has ended.
    fn recv(&mut self) -> PipeFuture<'_, Option<String>>;
}

/// A channel stands in for a process (tests, and anything that already moves lines that way).
impl ServerInput for mpsc::Sender<String> {
    fn send(&self, message: String) -> PipeFuture<'_, bool> {
        Box::pin(async move { mpsc::Sender::send(self, message).await.is_ok() })
    }
}

impl ServerOutput for mpsc::Receiver<String> {
    fn recv(&mut self) -> PipeFuture<'_, Option<String>> {
        Box::pin(mpsc::Receiver::recv(self))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("the MCP server exited: {0}")]
    Exited(String),
    #[error("the MCP server did not answer {method} within {seconds} s")]
    Timeout { method: String, seconds: u64 },
    #[error("the MCP server answered {method} with an error: {message}")]
    Rejected { method: String, message: String },
}

/// What the server said in its `initialize` answer.
#[derive(Debug, Clone)]
pub struct InitInfo {
    pub protocol_version: String,
    pub result: Box<RawValue>,
}

/// A running server process, shared by any number of sessions.
#[derive(Clone)]
pub struct Upstream {
    inner: Arc<Inner>,
}

struct Inner {
    /// The current process's stdin; replaced when a new process is attached.
    to_server: Mutex<Arc<dyn ServerInput>>,
    state: Mutex<State>,
    /// A copy of `State::status` that can be waited on. Written only under the state lock.
    status: watch::Sender<Status>,
    /// See [`Upstream::set_call_timeout`].
    call_timeout: watch::Sender<Option<Duration>>,
    /// How many sessions are open (see [`Upstream::sessions_gone`]).
    session_count: watch::Sender<usize>,
    /// How many requests wait for a process that is not running (see [`Upstream::demanded`]).
    waiting: watch::Sender<usize>,
}

/// Where an upstream is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// A process is attached and initialized.
    Running,
    /// The process is gone (or not ready yet); a new one may be attached with
    /// [`Upstream::restart`]. Sessions live on; their requests wait for the new process.
    Interrupted(String),
    /// For good: every session has ended.
    Closed(String),
}

#[derive(Default)]
struct State {
    next_id: i64,
    pending: HashMap<i64, Pending>,
    next_session: u64,
    sessions: HashMap<u64, Outbox>,
    /// Server-to-client requests in flight: the id shown to the client -> where it came from.
    server_requests: HashMap<String, ServerRequest>,
    next_server_request: u64,
    last_active_session: Option<u64>,
    /// When a client last sent a request, or a process was last attached, whichever is later
    /// (Catwalk's own calls, such as pings, do not count).
    last_activity: Option<std::time::Instant>,
    init: Option<InitInfo>,
    /// What the first process got in its `initialize`, sent again to every new process.
    init_params: Option<Box<RawValue>>,
    /// The process serves one client session: its `initialize` parameters are the ones every
    /// new process gets (see [`Upstream::start_for_client`]).
    dedicated: bool,
    /// Counts attached processes; the read loop of an old one must not touch the new one.
    generation: u64,
    /// The client capabilities each session declared in its `initialize`.
    declared: HashMap<u64, Value>,
    subscriptions: subscriptions::Subscriptions,
    status: Status,
}

impl Default for Status {
    fn default() -> Status {
        Status::Interrupted("the server is starting".into())
    }
}

struct Pending {
    session: Option<u64>,
    client_id: Id,
    reply: Reply,
    progress_token: Option<Value>,
    /// When the request was sent or last reported progress (for the call timeout).
    last_activity: std::time::Instant,
    /// For a `resources/subscribe` that the server must confirm: the resource.
    subscribing: Option<String>,
    /// For an observed `tools/call`: its record for the audit trail.
    audit: Option<audit::CallAudit>,
}

impl Pending {
    /// Hands the client its answer, under the client's own id; an observed call is recorded
    /// after the answer is on its way.
    fn finish(self, mut answer: Message) {
        answer.id = Some(self.client_id);
        let observed = self
            .audit
            .map(|audit| (audit::CallAudit::outcome_of(&answer), audit));
        self.reply.deliver(answer);
        if let Some((outcome, audit)) = observed {
            audit.ended(outcome);
        }
    }
}

enum Reply {
    Stream(Outbox),
    Internal(oneshot::Sender<Message>),
}

/// See [`State::owner_of_unsolicited`].
enum Owner {
    /// The stream of a request in flight, of the only session with requests in flight.
    Request(u64, Outbox),
    /// Nothing is in flight: the most recently active session's standalone stream.
    Idle(u64, Outbox),
    /// Several sessions have requests in flight: any of them could be meant.
    Ambiguous,
    Nobody,
}

struct ServerRequest {
    session: u64,
    upstream_id: Id,
}

impl Upstream {
    /// Takes over a server's stdio channels and performs the MCP handshake on Catwalk's behalf:
    /// the process is shared, so it is initialized with Catwalk's own parameters, and every
    /// session's `initialize` is answered from the result.
    pub async fn start(
        to_server: impl ServerInput,
        from_server: impl ServerOutput,
        handshake_timeout: Duration,
    ) -> Result<(Upstream, InitInfo), BridgeError> {
        // Sampling and elicitation are offered so that servers expose the tools that use them;
        // their requests go to the session whose call caused them (see the module docs). Roots
        // are not: a client's local folders mean nothing to a server running on Catwalk's host.
        let params = serde_json::json!({
            "protocolVersion": catwalk_protocol::LATEST_VERSION,
            "capabilities": { "sampling": {}, "elicitation": {} },
            "clientInfo": { "name": "catwalk", "version": env!("CARGO_PKG_VERSION") },
        });
        Upstream::attach(
            to_server,
            from_server,
            handshake_timeout,
            raw(&params),
            false,
        )
        .await
    }

    /// Like [`Upstream::start`], for a process that serves one client session only: it is
    /// initialized with that client's own `initialize` parameters (when they are known yet: a
    /// legacy HTTP+SSE client sends them after its session opens), and after a restart it is
    /// initialized again with the same parameters, so the server sees the same client as before.
    pub async fn start_for_client(
        to_server: impl ServerInput,
        from_server: impl ServerOutput,
        handshake_timeout: Duration,
        client_params: Option<Box<RawValue>>,
    ) -> Result<(Upstream, InitInfo), BridgeError> {
        match client_params {
            Some(params) => {
                Upstream::attach(to_server, from_server, handshake_timeout, params, true).await
            }
            None => {
                let (upstream, info) =
                    Upstream::start(to_server, from_server, handshake_timeout).await?;
                upstream.state().dedicated = true;
                Ok((upstream, info))
            }
        }
    }

    async fn attach(
        to_server: impl ServerInput,
        from_server: impl ServerOutput,
        handshake_timeout: Duration,
        params: Box<RawValue>,
        dedicated: bool,
    ) -> Result<(Upstream, InitInfo), BridgeError> {
        let to_server: Arc<dyn ServerInput> = Arc::new(to_server);
        let upstream = Upstream::new(
            to_server.clone(),
            State {
                init_params: Some(params),
                dedicated,
                ..State::default()
            },
        );
        let info = upstream
            .attach_process(to_server, Box::new(from_server), handshake_timeout)
            .await?;
        Ok((upstream, info))
    }

    /// An upstream whose process sleeps: it was initialized by an earlier process (with
    /// `params`, answering `init`), so new sessions are answered at once, and their first request
    /// signals [`Upstream::demanded`] and waits for [`Upstream::restart`]. Used for deployments
    /// that were asleep when Catwalk started.
    pub fn dormant(params: Box<RawValue>, init: InitInfo, reason: &str) -> Upstream {
        // No process yet: messages have nowhere to go until `restart` attaches one.
        let (to_server, _) = mpsc::channel::<String>(1);
        let upstream = Upstream::new(
            Arc::new(to_server),
            State {
                init_params: Some(params),
                init: Some(init),
                ..State::default()
            },
        );
        upstream.set_status(
            &mut upstream.state(),
            Status::Interrupted(reason.to_string()),
        );
        upstream
    }

    fn new(to_server: Arc<dyn ServerInput>, state: State) -> Upstream {
        let upstream = Upstream {
            inner: Arc::new(Inner {
                to_server: Mutex::new(to_server),
                state: Mutex::new(state),
                status: watch::channel(Status::default()).0,
                call_timeout: watch::Sender::new(None),
                session_count: watch::channel(0).0,
                waiting: watch::channel(0).0,
            }),
        };
        tokio::spawn(timeout::sweep(
            Arc::downgrade(&upstream.inner),
            upstream.inner.call_timeout.subscribe(),
        ));
        upstream
    }

    /// The parameters this upstream initializes each new process with.
    pub fn init_params(&self) -> Option<Box<RawValue>> {
        self.state().init_params.clone()
    }

    /// How long no client request has been in flight, or `None` while one is, or while a
    /// session holds a resource subscription (a sleeping server sends no updates).
    pub fn idle_for(&self) -> Option<Duration> {
        let state = self.state();
        let busy = state.pending.values().any(|p| p.session.is_some())
            || !state.server_requests.is_empty()
            || !state.subscriptions.uris().is_empty();
        if busy {
            return None;
        }
        Some(
            state
                .last_activity
                .map_or(Duration::ZERO, |at| at.elapsed()),
        )
    }

    /// Detaches the running process so that it can be stopped while sessions live on (idle
    /// sleep): from now on requests wait for [`Upstream::restart`]. Refused (false) when a client
    /// request came in since [`Upstream::idle_for`] was asked, or the upstream is not running.
    pub fn suspend(&self, reason: &str) -> bool {
        let mut state = self.state();
        let busy = state.pending.values().any(|p| p.session.is_some());
        if busy || state.status != Status::Running {
            return false;
        }
        // The old process's read loop must not report its end as a crash.
        state.generation += 1;
        self.set_status(&mut state, Status::Interrupted(reason.to_string()));
        true
    }

    /// Resolves when a client request waits for a process (the upstream sleeps or restarts).
    pub async fn demanded(&self) {
        let mut waiting = self.inner.waiting.subscribe();
        let _ = waiting.wait_for(|n| *n > 0).await;
    }

    /// Attaches a new process after the previous one exited, and initializes it with the same
    /// parameters as the first. Sessions keep working without a new `initialize`; requests sent
    /// while the process was gone were answered with an error, and those waiting are now sent.
    pub async fn restart(
        &self,
        to_server: impl ServerInput,
        from_server: impl ServerOutput,
        handshake_timeout: Duration,
    ) -> Result<InitInfo, BridgeError> {
        self.attach_process(
            Arc::new(to_server),
            Box::new(from_server),
            handshake_timeout,
        )
        .await
    }

    async fn attach_process(
        &self,
        to_server: Arc<dyn ServerInput>,
        from_server: Box<dyn ServerOutput>,
        handshake_timeout: Duration,
    ) -> Result<InitInfo, BridgeError> {
        let (generation, params) = {
            let mut state = self.state();
            if let Status::Closed(reason) = &state.status {
                return Err(BridgeError::Exited(reason.clone()));
            }
            state.generation += 1;
            *self
                .inner
                .to_server
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = to_server;
            (state.generation, state.init_params.clone())
        };
        tokio::spawn(route::read_loop(self.clone(), from_server, generation));
        let answer = self.call("initialize", params, handshake_timeout).await?;
        let info = InitInfo {
            protocol_version: answer
                .result_field::<String>("protocolVersion")
                .unwrap_or_else(|| catwalk_protocol::LATEST_VERSION.to_string()),
            result: answer.result.clone().expect("call() returns only results"),
        };
        self.send(&Message::notification("notifications/initialized", None))
            .await;
        // A new process knows nothing of the subscriptions its sessions hold.
        let uris = self.state().subscriptions.uris();
        for uri in uris {
            let params = raw(&serde_json::json!({ "uri": uri }));
            if let Err(error) = self
                .call("resources/subscribe", Some(params), handshake_timeout)
                .await
            {
                tracing::warn!(%error, "cannot renew a resource subscription after a restart");
            }
        }
        {
            let mut state = self.state();
            if state.generation == generation && !matches!(state.status, Status::Closed(_)) {
                state.init = Some(info.clone());
                state.last_activity = Some(std::time::Instant::now());
                self.set_status(&mut state, Status::Running);
            }
        }
        Ok(info)
    }

    /// Sends a request on Catwalk's own behalf (the handshake, a readiness check) and waits for
    /// its result.
    pub async fn call(
        &self,
        method: &str,
        params: Option<Box<RawValue>>,
        timeout: Duration,
    ) -> Result<Message, BridgeError> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut state = self.state();
            if let Status::Closed(reason) = &state.status {
                return Err(BridgeError::Exited(reason.clone()));
            }
            let id = state.allocate_id();
            state.pending.insert(
                id,
                Pending {
                    session: None,
                    client_id: Id::Number(id),
                    reply: Reply::Internal(tx),
                    audit: None,
                    progress_token: None,
                    last_activity: std::time::Instant::now(),
                    subscribing: None,
                },
            );
            id
        };
        self.send(&Message::request(Id::Number(id), method, params))
            .await;
        let answer = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => {
                let reason = match self.status() {
                    Status::Interrupted(reason) | Status::Closed(reason) => reason,
                    Status::Running => "it dropped the request".to_string(),
                };
                return Err(BridgeError::Exited(reason));
            }
            Err(_) => {
                self.state().pending.remove(&id);
                return Err(BridgeError::Timeout {
                    method: method.to_string(),
                    seconds: timeout.as_secs(),
                });
            }
        };
        if let Some(error) = &answer.error {
            let message = serde_json::from_str::<Value>(error.get())
                .ok()
                .and_then(|e| e.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| error.get().to_string());
            if answer.id.is_none() || self.status() != Status::Running {
                return Err(BridgeError::Exited(message));
            }
            return Err(BridgeError::Rejected {
                method: method.to_string(),
                message,
            });
        }
        Ok(answer)
    }

    /// Opens a client session.
    pub fn open_session(&self) -> Session {
        let (tx, rx) = mpsc::channel(SESSION_QUEUE);
        let mut state = self.state();
        state.next_session += 1;
        let id = state.next_session;
        if !matches!(state.status, Status::Closed(_)) {
            state.sessions.insert(id, tx);
        }
        self.inner.session_count.send_modify(|n| *n += 1);
        Session {
            id,
            upstream: self.clone(),
            standalone: Arc::new(tokio::sync::Mutex::new(rx)),
            observer: None,
        }
    }

    pub fn init_info(&self) -> Option<InitInfo> {
        self.state().init.clone()
    }

    /// Answers (with [`REQUEST_TIMEOUT`]) and cancels client requests that get neither an answer
    /// nor progress for this long. `None` (the default): calls may take as long as they take.
    pub fn set_call_timeout(&self, limit: Option<Duration>) {
        self.inner.call_timeout.send_replace(limit);
    }

    fn call_timeout(&self) -> Option<Duration> {
        *self.inner.call_timeout.borrow()
    }

    /// Resolves once a session has been opened and every session has closed again (a process
    /// dedicated to one session is then stopped).
    pub async fn sessions_gone(&self) {
        let mut count = self.inner.session_count.subscribe();
        let _ = count.wait_for(|n| *n > 0).await;
        let _ = count.wait_for(|n| *n == 0).await;
    }

    /// How many handles to this upstream exist: the caller's, its sessions', and any other
    /// clone (a process's read loop holds one until the process's output ends). An owner that
    /// knows which handles are its own learns from this whether anyone else can still use it.
    pub fn handles(&self) -> usize {
        Arc::strong_count(&self.inner)
    }

    pub fn status(&self) -> Status {
        self.inner.status.borrow().clone()
    }

    /// Closed for good (see [`Status::Closed`]).
    pub fn is_closed(&self) -> bool {
        matches!(*self.inner.status.borrow(), Status::Closed(_))
    }

    /// Waits until the upstream is closed for good and returns why.
    pub async fn closed(&self) -> String {
        let mut status = self.inner.status.subscribe();
        let closed = status.wait_for(|s| matches!(s, Status::Closed(_))).await;
        match closed.as_deref() {
            Ok(Status::Closed(reason)) => reason.clone(),
            _ => "the upstream was dropped".to_string(),
        }
    }

    /// Waits up to `patience` for a running process; the reason it is not running otherwise.
    async fn ready(&self, patience: Duration) -> Result<(), String> {
        let mut status = self.inner.status.subscribe();
        if matches!(*status.borrow(), Status::Interrupted(_)) {
            // Counted, so that a sleeping deployment's supervisor wakes its process.
            let _waiting = Waiting::new(&self.inner.waiting);
            let _ = tokio::time::timeout(
                patience,
                status.wait_for(|s| !matches!(s, Status::Interrupted(_))),
            )
            .await;
        }
        match self.status() {
            Status::Running => Ok(()),
            Status::Interrupted(reason) | Status::Closed(reason) => Err(reason),
        }
    }

    /// The process is gone (its stdout closed): every request in flight gets an error at once.
    /// Ignored when it concerns an older process than the one attached.
    pub(crate) fn interrupt(&self, generation: u64, reason: &str) {
        let pending = {
            let mut state = self.state();
            if state.generation != generation || matches!(state.status, Status::Closed(_)) {
                return;
            }
            self.set_status(&mut state, Status::Interrupted(reason.to_string()));
            std::mem::take(&mut state.pending)
        };
        fail(pending, reason);
    }

    /// Closes the upstream for good: requests in flight get an error, and sessions end.
    pub fn close(&self, reason: &str) {
        let pending = {
            let mut state = self.state();
            if matches!(state.status, Status::Closed(_)) {
                return;
            }
            self.set_status(&mut state, Status::Closed(reason.to_string()));
            state.sessions.clear();
            state.server_requests.clear();
            std::mem::take(&mut state.pending)
        };
        fail(pending, reason);
    }

    fn set_status(&self, state: &mut State, status: Status) {
        state.status = status.clone();
        self.inner.status.send_replace(status);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain maps behind, still consistent enough to use.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn send(&self, message: &Message) {
        let to_server = self
            .inner
            .to_server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        // A failed write means the process is gone; its read loop then interrupts us and answers
        // whatever was in flight.
        let _ = to_server.send(message.to_json()).await;
    }
}

/// Counts a request waiting for a process while it waits (also when its wait is cancelled).
struct Waiting<'a>(&'a watch::Sender<usize>);

impl<'a> Waiting<'a> {
    fn new(count: &'a watch::Sender<usize>) -> Self {
        count.send_modify(|n| *n += 1);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// Answers requests whose process is gone.
fn fail(pending: HashMap<i64, Pending>, reason: &str) {
    for (_, pending) in pending {
        let error = Message::error(
            None,
            codes::SERVER_UNAVAILABLE,
            &format!("the MCP server exited before answering: {reason}"),
        );
        pending.finish(error);
    }
}

impl State {
    fn allocate_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Which client a message the server sends on its own concerns. Stdio does not say, so
    /// Catwalk only guesses where no other client could be meant: the requests in flight all
    /// belong to one session (its most recent request's stream is the target), or none is in
    /// flight (the most recently active session's standalone stream).
    fn owner_of_unsolicited(&self) -> Owner {
        let mut in_flight = self
            .pending
            .iter()
            .filter_map(|(id, p)| match (&p.reply, p.session) {
                (Reply::Stream(tx), Some(session)) => Some((*id, session, tx)),
                _ => None,
            });
        let Some(first) = in_flight.next() else {
            return match self
                .last_active_session
                .and_then(|s| Some((s, self.sessions.get(&s)?.clone())))
            {
                Some((session, tx)) => Owner::Idle(session, tx),
                None => Owner::Nobody,
            };
        };
        let mut latest = first;
        for candidate in in_flight {
            if candidate.1 != latest.1 {
                return Owner::Ambiguous;
            }
            if candidate.0 > latest.0 {
                latest = candidate;
            }
        }
        Owner::Request(latest.1, latest.2.clone())
    }

    fn declared(&self, session: u64, capability: &str) -> bool {
        self.declared
            .get(&session)
            .is_some_and(|caps| caps.get(capability).is_some_and(|c| !c.is_null()))
    }
}

impl Reply {
    fn deliver(self, message: Message) {
        match self {
            Reply::Stream(tx) => {
                let _ = tx.try_send(Box::new(message));
            }
            Reply::Internal(tx) => {
                let _ = tx.send(message);
            }
        }
    }
}

#[cfg(test)]
mod tests;
