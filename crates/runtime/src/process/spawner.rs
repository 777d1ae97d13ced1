//! Forks every server process from one dedicated, never-ending thread.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not when the process
//! does. Tokio runs `spawn` on whichever thread polls the caller, and its blocking-pool threads
//! exit after being idle for a while: a child forked there would be SIGKILLed at a random moment.
//! Forking from a thread that lives as long as Catwalk makes the death signal mean exactly
//! "Catwalk is gone" (including `kill -9`).

use std::io;
use std::sync::OnceLock;
use std::sync::mpsc;

use tokio::process::{Child, Command};
use tokio::runtime::Handle;

struct Request {
    command: Command,
    /// The caller's runtime: the child's pipes and exit notification are registered with it.
    runtime: Handle,
    reply: mpsc::SyncSender<io::Result<Child>>,
}

static SPAWNER: OnceLock<Result<mpsc::Sender<Request>, String>> = OnceLock::new();

fn start_thread() -> Result<mpsc::Sender<Request>, String> {
    let (sender, receiver) = mpsc::channel::<Request>();
    std::thread::Builder::new()
        .name("catwalk-spawner".to_string())
        .spawn(move || {
            // The sender lives in a static, so this loop (and the thread) never ends.
            for mut request in receiver {
                let _runtime = request.runtime.enter();
                let result = request.command.spawn();
                let _ = request.reply.send(result);
            }
        })
        .map(|_| sender)
        .map_err(|error| format!("cannot start the process spawner thread: {error}"))
}

/// Spawns `command` on the spawner thread. Blocks the caller for the duration of fork and exec,
/// as `Command::spawn` itself would.
pub(crate) fn spawn(command: Command, runtime: Handle) -> io::Result<Child> {
    let sender = SPAWNER
        .get_or_init(start_thread)
        .as_ref()
        .map_err(|message| io::Error::other(message.clone()))?;
    let (reply, replies) = mpsc::sync_channel(1);
    let gone = || io::Error::other("the process spawner thread has stopped");
    sender
        .send(Request {
            command,
            runtime,
            reply,
        })
        .map_err(|_| gone())?;
    replies.recv().map_err(|_| gone())?
}
