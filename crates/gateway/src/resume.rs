//! Resumable SSE streams of a legacy-era session (2025-03-26 to 2025-11-25).
//!
//! Every SSE stream of a session, the standalone (GET) one and each request's (POST) one, is
//! recorded in a bounded buffer, and every event carries the id `<stream>-<seq>`. A client whose
//! connection breaks sends GET with `Last-Event-ID` and gets the rest of *that* stream: the events
//! after the one it names, then the live ones, nothing twice and nothing from another stream.
//! Messages keep being recorded while no connection is open, so nothing is lost in between.
//! Stream 0 is the standalone stream; request streams count from 1.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use std::ops::DerefMut;

use catwalk_bridge::Inbox;
use catwalk_protocol::{Id, Kind, Message};
use futures::Stream;
use tokio::sync::watch;

/// Events kept per stream for replay; older ones are forgotten.
const EVENTS_PER_STREAM: usize = 512;
/// Finished request streams kept per session for replay.
const FINISHED_STREAMS: usize = 16;
/// The standalone stream's number.
pub const STANDALONE: u64 = 0;

#[derive(Default)]
pub struct Streams {
    state: Mutex<State>,
    /// Bumped on every change, to wake readers.
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    next_stream: u64,
    buffers: HashMap<u64, Buffer>,
    finished: VecDeque<u64>,
    /// How far the standalone stream has been delivered, so that a new GET without
    /// `Last-Event-ID` neither repeats what an earlier one delivered nor misses what came between.
    standalone_delivered: u64,
}

#[derive(Default)]
struct Buffer {
    /// The sequence number of `events[0]`; numbers start at 1.
    first: u64,
    events: VecDeque<Arc<str>>,
    done: bool,
}

/// An event to send: its id and its data.
pub struct Event {
    pub id: String,
    pub data: Arc<str>,
}

/// Why a `Last-Event-ID` cannot be honoured.
#[derive(Debug)]
pub enum ResumeError {
    Malformed,
    /// The stream is unknown or its events were forgotten.
    Gone,
}

impl Streams {
    /// Records the messages of a POST's requests as a new stream, until every request has its
    /// response (a request whose messages end without one gets an error); returns the stream.
    pub fn record_requests(
        self: &Arc<Self>,
        first: Option<Box<Message>>,
        messages: Inbox,
        ids: Vec<Id>,
    ) -> u64 {
        let stream = {
            let mut state = self.lock();
            state.next_stream += 1;
            let stream = state.next_stream;
            state.buffers.insert(
                stream,
                Buffer {
                    first: 1,
                    ..Buffer::default()
                },
            );
            stream
        };
        let streams = self.clone();
        tokio::spawn(async move {
            let mut unanswered = ids;
            let mut messages = messages;
            let mut next = first;
            loop {
                let Some(message) = next.take() else {
                    match messages.recv().await {
                        Some(message) => next = Some(message),
                        None => break,
                    }
                    continue;
                };
                if message.kind() == Kind::Response {
                    unanswered.retain(|id| Some(id) != message.id.as_ref());
                }
                streams.push(stream, message.to_json().into());
            }
            for id in unanswered {
                streams.push(stream, crate::reply::lost(id).to_json().into());
            }
            streams.finish(stream);
        });
        stream
    }

    /// Records the session's standalone messages for as long as the session lives.
    pub fn record_standalone<R>(self: &Arc<Self>, mut messages: R)
    where
        R: DerefMut<Target = Inbox> + Send + 'static,
    {
        self.lock().buffers.insert(
            STANDALONE,
            Buffer {
                first: 1,
                ..Buffer::default()
            },
        );
        let streams = self.clone();
        tokio::spawn(async move {
            while let Some(message) = messages.recv().await {
                streams.push(STANDALONE, message.to_json().into());
            }
            streams.finish(STANDALONE);
        });
    }

    fn push(&self, stream: u64, data: Arc<str>) {
        let mut state = self.lock();
        if let Some(buffer) = state.buffers.get_mut(&stream) {
            buffer.events.push_back(data);
            if buffer.events.len() > EVENTS_PER_STREAM {
                buffer.events.pop_front();
                buffer.first += 1;
            }
        }
        drop(state);
        self.changed.send_modify(|n| *n += 1);
    }

    fn finish(&self, stream: u64) {
        let mut state = self.lock();
        if let Some(buffer) = state.buffers.get_mut(&stream) {
            buffer.done = true;
        }
        if stream != STANDALONE {
            state.finished.push_back(stream);
            while state.finished.len() > FINISHED_STREAMS {
                if let Some(old) = state.finished.pop_front() {
                    state.buffers.remove(&old);
                }
            }
        }
        drop(state);
        self.changed.send_modify(|n| *n += 1);
    }

    /// The events of a stream from its start, then live until it ends.
    pub fn follow(self: &Arc<Self>, stream: u64) -> impl Stream<Item = Event> + Send + 'static {
        self.read(stream, 0)
    }

    /// Where a GET continues: after `Last-Event-ID` if given, else the standalone stream after
    /// what was already delivered.
    pub fn resume(
        self: &Arc<Self>,
        last_event_id: Option<&str>,
    ) -> Result<(u64, impl Stream<Item = Event> + Send + 'static), ResumeError> {
        let (stream, after) = match last_event_id {
            None => (STANDALONE, self.lock().standalone_delivered),
            Some(id) => parse_id(id).ok_or(ResumeError::Malformed)?,
        };
        {
            let state = self.lock();
            let buffer = state.buffers.get(&stream).ok_or(ResumeError::Gone)?;
            // Events after `after` must still be there.
            if after + 1 < buffer.first {
                return Err(ResumeError::Gone);
            }
        }
        Ok((stream, self.read(stream, after)))
    }

    fn read(
        self: &Arc<Self>,
        stream: u64,
        after: u64,
    ) -> impl Stream<Item = Event> + Send + 'static {
        let streams = self.clone();
        let changes = self.changed.subscribe();
        futures::stream::unfold(
            (streams, changes, after),
            move |(streams, mut changes, cursor)| async move {
                loop {
                    changes.borrow_and_update();
                    let next = {
                        let mut state = streams.lock();
                        let buffer = state.buffers.get(&stream)?;
                        let wanted = cursor + 1;
                        // A reader so far behind that its next event was forgotten ends here; the
                        // client may resume, and learns the events are gone.
                        let index = usize::try_from(wanted.checked_sub(buffer.first)?).ok()?;
                        let next = match buffer.events.get(index) {
                            Some(data) => Some(data.clone()),
                            None if buffer.done => return None,
                            None => None,
                        };
                        if next.is_some() && stream == STANDALONE {
                            state.standalone_delivered = state.standalone_delivered.max(wanted);
                        }
                        next
                    };
                    if let Some(data) = next {
                        let id = format!("{stream}-{}", cursor + 1);
                        return Some((Event { id, data }, (streams, changes, cursor + 1)));
                    }
                    if changes.changed().await.is_err() {
                        return None;
                    }
                }
            },
        )
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `"<stream>-<seq>"` into its numbers.
fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (stream, seq) = id.trim().split_once('-')?;
    Some((stream.parse().ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_parse() {
        assert_eq!(parse_id("3-17"), Some((3, 17)));
        assert_eq!(parse_id("0-0"), Some((0, 0)));
        assert_eq!(parse_id("x-1"), None);
        assert_eq!(parse_id("17"), None);
    }
}
