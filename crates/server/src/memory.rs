//! Catwalk's own memory: freed memory handed back to the system.
//!
//! glibc's allocator keeps what a program frees for later reuse, so the memory a deployment's
//! supervisor, upstream, pipes and buffers held stays in Catwalk's RSS after the deployment goes
//! to deep sleep, until something else reuses it. A sleeping deployment should cost nothing,
//! and an operator reads that in the RSS: after deployments let go, `malloc_trim` returns the
//! free pages. On other allocators or systems there is nothing to do.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Gathers the releases of one moment (many deployments falling asleep together) into one trim.
const GATHER: Duration = Duration::from_secs(1);

/// Hands freed memory back to the system soon: once, a moment from now, however often it is
/// asked for meanwhile.
pub(crate) fn give_back_soon() {
    static SCHEDULED: AtomicBool = AtomicBool::new(false);
    if SCHEDULED.swap(true, Ordering::AcqRel) {
        return;
    }
    tokio::spawn(async {
        tokio::time::sleep(GATHER).await;
        SCHEDULED.store(false, Ordering::Release);
        // It walks the heap (milliseconds for a large one): not on a worker thread.
        let _ = tokio::task::spawn_blocking(trim).await;
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() {
    // SAFETY: malloc_trim only releases free memory of the allocator's own heaps; it may be
    // called at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
