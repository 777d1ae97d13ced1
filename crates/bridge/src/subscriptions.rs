//! Resource subscriptions shared by the sessions of one process.
//!
//! The server sees one client. When two sessions subscribe to the same resource, it must get one
//! `resources/subscribe`, and one `resources/unsubscribe` only when the last of them leaves; its
//! `notifications/resources/updated` then go to the sessions that subscribed, and only to them.

use std::collections::{HashMap, HashSet};

#[derive(Default)]
pub(crate) struct Subscriptions {
    by_uri: HashMap<String, HashSet<u64>>,
}

/// Whether the server needs to hear of a (un)subscription.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Upstream {
    Forward,
    /// Another session keeps the server's subscription as it is: Catwalk answers itself.
    AnswerHere,
}

impl Subscriptions {
    pub fn subscribe(&mut self, uri: &str, session: u64) -> Upstream {
        let sessions = self.by_uri.entry(uri.to_string()).or_default();
        let first = sessions.is_empty();
        sessions.insert(session);
        if first {
            Upstream::Forward
        } else {
            Upstream::AnswerHere
        }
    }

    pub fn unsubscribe(&mut self, uri: &str, session: u64) -> Upstream {
        let Some(sessions) = self.by_uri.get_mut(uri) else {
            // Not subscribed through Catwalk: let the server answer as it would.
            return Upstream::Forward;
        };
        sessions.remove(&session);
        if sessions.is_empty() {
            self.by_uri.remove(uri);
            Upstream::Forward
        } else {
            Upstream::AnswerHere
        }
    }

    /// Forgets a session; returns the resources nobody is subscribed to any more.
    pub fn drop_session(&mut self, session: u64) -> Vec<String> {
        let mut orphaned = Vec::new();
        self.by_uri.retain(|uri, sessions| {
            sessions.remove(&session);
            if sessions.is_empty() {
                orphaned.push(uri.clone());
            }
            !sessions.is_empty()
        });
        orphaned
    }

    pub fn subscribers(&self, uri: &str) -> Option<&HashSet<u64>> {
        self.by_uri.get(uri)
    }

    /// Every resource some session is subscribed to (to subscribe a new process again).
    pub fn uris(&self) -> Vec<String> {
        self.by_uri.keys().cloned().collect()
    }
}
