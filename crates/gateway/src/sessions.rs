//! Client sessions of the legacy (2025-03-26 to 2025-11-25) Streamable HTTP era.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use catwalk_bridge::Session;
use rand::RngCore;

use crate::resume::Streams;

/// One client's session: which deployment and principal it belongs to, and its bridge session.
pub struct ClientSession {
    pub deployment: String,
    pub principal: String,
    pub protocol_version: String,
    pub bridge: Session,
    /// Its SSE streams, recorded for resumption.
    pub streams: Arc<Streams>,
    /// Whether a GET holds the standalone stream (only one may).
    standalone_attached: Arc<AtomicBool>,
    last_used: Mutex<Instant>,
}

/// Holds the standalone stream for one GET; dropping it frees the stream for the next.
pub struct Attached(Arc<AtomicBool>);

impl Drop for Attached {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl ClientSession {
    /// Takes the standalone stream for a GET, or `None` while another GET holds it.
    pub fn attach_standalone(&self) -> Option<Attached> {
        self.standalone_attached
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Attached(self.standalone_attached.clone()))
    }

    /// Whether the session's SSE streams start with a priming event (2025-11-25 and later).
    pub fn primes_streams(&self) -> bool {
        self.protocol_version.as_str() >= "2025-11-25"
    }

    pub fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }
}

/// 256 random bits from the OS, as hex: visible ASCII (as session ids must be) and unguessable.
/// Used for session ids and for the modern era's `requestState`.
pub(crate) fn unguessable_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<ClientSession>>>,
}

impl Sessions {
    /// Creates a session and returns its id (see [`unguessable_id`]).
    pub fn create(
        &self,
        deployment: &str,
        principal: &str,
        protocol_version: String,
        bridge: Session,
    ) -> String {
        let id = unguessable_id();
        let streams = Arc::new(Streams::default());
        if let Some(standalone) = bridge.try_standalone() {
            streams.record_standalone(standalone);
        }
        let session = Arc::new(ClientSession {
            deployment: deployment.to_string(),
            principal: principal.to_string(),
            protocol_version,
            bridge,
            streams,
            standalone_attached: Arc::default(),
            last_used: Mutex::new(Instant::now()),
        });
        self.lock().insert(id.clone(), session);
        id
    }

    /// The session with this id, if it exists, belongs to this deployment and principal, and its
    /// server is still the one it was opened on. A session whose server has gone is ended here:
    /// the client gets 404 and starts a new one, as the spec prescribes.
    pub fn find(&self, id: &str, deployment: &str, principal: &str) -> Option<Arc<ClientSession>> {
        let mut map = self.lock();
        let session = map.get(id)?;
        if session.bridge.upstream().is_closed() {
            map.remove(id);
            return None;
        }
        if session.deployment != deployment || session.principal != principal {
            return None;
        }
        session.touch();
        Some(session.clone())
    }

    pub fn remove(&self, id: &str) -> bool {
        self.lock().remove(id).is_some()
    }

    pub fn forget_idle(&self, idle_timeout: Duration) {
        self.lock()
            .retain(|_, s| s.idle_for() < idle_timeout && !s.bridge.upstream().is_closed());
    }

    pub fn forget_deployment(&self, deployment: &str) {
        self.lock().retain(|_, s| s.deployment != deployment);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<ClientSession>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}
