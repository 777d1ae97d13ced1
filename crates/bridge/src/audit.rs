//! Tool calls as the audit trail sees them: which tool, how long, how it ended, and (only when
//! the observer asks) its arguments. The bridge is where every call of every front door (both
//! Streamable HTTP eras, the legacy SSE transport) meets its answer, so it is observed here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use catwalk_protocol::Message;
use serde_json::value::RawValue;

/// Receives every finished `tools/call` of the sessions it observes. Called on the bridge's own
/// paths (some under its lock): it must only hand the record on, never wait.
pub trait CallObserver: Send + Sync + 'static {
    /// Whether records should carry the call's arguments.
    fn wants_arguments(&self) -> bool;
    fn finished(&self, call: FinishedCall);
}

#[derive(Debug)]
pub struct FinishedCall {
    pub tool: String,
    /// The call's `arguments`, when the observer wants them.
    pub arguments: Option<Box<RawValue>>,
    pub duration: Duration,
    pub outcome: CallOutcome,
}

#[derive(Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// A result the tool did not mark as an error.
    Ok,
    /// A result with `isError: true`.
    ToolError,
    /// A JSON-RPC error (from the server, or Catwalk's when the server was gone or too slow).
    Error { code: i64, message: String },
    /// No answer reached the client: it cancelled the call or went away.
    Abandoned,
}

/// One observed call in flight. Dropped without an answer, it records [`CallOutcome::Abandoned`].
pub(crate) struct CallAudit {
    observer: Arc<dyn CallObserver>,
    tool: String,
    arguments: Option<Box<RawValue>>,
    started: Instant,
    done: bool,
}

impl CallAudit {
    /// Starts observing `request` if it is a `tools/call` and the session is observed.
    pub(crate) fn of(
        observer: Option<&Arc<dyn CallObserver>>,
        request: &Message,
    ) -> Option<CallAudit> {
        let observer = observer?;
        if request.method.as_deref() != Some("tools/call") {
            return None;
        }
        // One pass over the params that copies only the name (and the arguments, as raw text,
        // when wanted); everything else is skipped unparsed.
        #[derive(serde::Deserialize)]
        struct Params<'a> {
            #[serde(default, borrow)]
            name: std::borrow::Cow<'a, str>,
            #[serde(default, borrow)]
            arguments: Option<&'a RawValue>,
        }
        let params = request
            .params
            .as_deref()
            .and_then(|raw| serde_json::from_str::<Params>(raw.get()).ok());
        let (tool, arguments) = match params {
            Some(params) => (
                params.name.into_owned(),
                params
                    .arguments
                    .filter(|_| observer.wants_arguments())
                    .map(RawValue::to_owned),
            ),
            None => (String::new(), None),
        };
        Some(CallAudit {
            tool,
            arguments,
            observer: observer.clone(),
            started: Instant::now(),
            done: false,
        })
    }

    /// How the call ended, judged from the answer the client gets. Cheap for the usual answer:
    /// a result is parsed only when its text mentions `isError`.
    pub(crate) fn outcome_of(answer: &Message) -> CallOutcome {
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            #[serde(default)]
            code: i64,
            #[serde(default)]
            message: String,
        }
        if let Some(error) = &answer.error {
            let body = serde_json::from_str::<ErrorBody>(error.get()).unwrap_or(ErrorBody {
                code: 0,
                message: "an error the server did not describe".to_string(),
            });
            return CallOutcome::Error {
                code: body.code,
                message: body.message,
            };
        }
        let mentions_error = answer
            .result
            .as_ref()
            .is_some_and(|result| result.get().contains("\"isError\""));
        if mentions_error && answer.result_field::<bool>("isError") == Some(true) {
            CallOutcome::ToolError
        } else {
            CallOutcome::Ok
        }
    }

    /// Records the call as ended with `outcome`.
    pub(crate) fn ended(mut self, outcome: CallOutcome) {
        self.report(outcome);
    }

    fn report(&mut self, outcome: CallOutcome) {
        self.done = true;
        self.observer.finished(FinishedCall {
            tool: std::mem::take(&mut self.tool),
            arguments: self.arguments.take(),
            duration: self.started.elapsed(),
            outcome,
        });
    }
}

impl Drop for CallAudit {
    fn drop(&mut self) {
        if !self.done {
            self.report(CallOutcome::Abandoned);
        }
    }
}
