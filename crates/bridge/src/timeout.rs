//! The call timeout: a client request that gets neither an answer nor a progress notification
//! for this long is answered with an error and cancelled upstream. There is no timeout unless the
//! deployment sets one, and progress resets the clock, so a long call that reports progress is
//! never cut off.

use std::sync::Weak;
use std::time::{Duration, Instant};

use catwalk_protocol::{Id, Message, raw};
use tokio::sync::watch;

use crate::{Inner, Upstream};

/// JSON-RPC error code for a request that timed out (as the MCP SDKs use it).
pub const REQUEST_TIMEOUT: i64 = -32001;

/// Checks the requests in flight now and then while the deployment has a call timeout, until
/// the upstream is gone. Without one it sleeps until one is set: thousands of idle or sleeping
/// deployments must not each wake twice a second.
pub(crate) async fn sweep(upstream: Weak<Inner>, mut limits: watch::Receiver<Option<Duration>>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Ends (Err) when the upstream, which holds the sender, is dropped.
        if limits.wait_for(Option::is_some).await.is_err() {
            return;
        }
        tick.tick().await;
        let Some(inner) = upstream.upgrade() else {
            return;
        };
        let upstream = Upstream { inner };
        if upstream.is_closed() {
            return;
        }
        let Some(limit) = upstream.call_timeout() else {
            continue;
        };
        let expired: Vec<(i64, crate::Pending)> = {
            let mut state = upstream.state();
            let now = Instant::now();
            let ids: Vec<i64> = state
                .pending
                .iter()
                .filter(|(_, p)| p.session.is_some() && now - p.last_activity > limit)
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter()
                .filter_map(|id| state.pending.remove(&id).map(|p| (id, p)))
                .collect()
        };
        for (id, pending) in expired {
            let reason = format!(
                "the MCP server sent neither an answer nor progress within {} s (the deployment's call timeout)",
                limit.as_secs()
            );
            let cancel = serde_json::json!({ "requestId": Id::Number(id), "reason": reason });
            upstream
                .send(&Message::notification(
                    "notifications/cancelled",
                    Some(raw(&cancel)),
                ))
                .await;
            pending.finish(Message::error(None, REQUEST_TIMEOUT, &reason));
        }
    }
}
