//! An [`Outbox`] that keeps what the assistant shows, with the moment each message appeared,
//! for benchmarks that measure what a user would see and when (no homeserver involved).

use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;

use crate::chat::{OutMessage, Outbox, OutboxError};

/// One message as the user would see it: its latest text, and when it first appeared.
#[derive(Debug, Clone)]
pub struct Seen {
    pub event_id: String,
    pub room_id: String,
    pub first_shown: Instant,
    pub last_change: Instant,
    pub text: String,
}

pub struct Recorder {
    seen: Mutex<Vec<Seen>>,
    next: Mutex<u64>,
    /// Event ids are unique across recorders (the messages table keys on them).
    prefix: String,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            seen: Mutex::default(),
            next: Mutex::default(),
            prefix: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
        }
    }
}

impl Recorder {
    /// The messages of `room_id` that appeared after `since`, oldest first.
    pub fn shown_since(&self, room_id: &str, since: Instant) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.room_id == room_id && s.first_shown >= since)
            .cloned()
            .collect()
    }
}

#[async_trait]
impl Outbox for Recorder {
    async fn send(&self, room_id: &str, msg: &OutMessage) -> Result<String, OutboxError> {
        let id = {
            let mut n = self.next.lock().unwrap();
            *n += 1;
            format!("$bench-{}-reply-{n}", self.prefix)
        };
        let now = Instant::now();
        self.seen.lock().unwrap().push(Seen {
            event_id: id.clone(),
            room_id: room_id.to_owned(),
            first_shown: now,
            last_change: now,
            text: msg.markdown.clone(),
        });
        Ok(id)
    }

    async fn edit(&self, _room: &str, event_id: &str, msg: &OutMessage) -> Result<(), OutboxError> {
        let mut seen = self.seen.lock().unwrap();
        match seen.iter_mut().find(|s| s.event_id == event_id) {
            Some(s) => {
                s.text = msg.markdown.clone();
                s.last_change = Instant::now();
                Ok(())
            }
            None => Err(OutboxError(format!("no message {event_id} to edit"))),
        }
    }

    async fn react(&self, _: &str, _: &str, _: &str) -> Result<String, OutboxError> {
        let mut n = self.next.lock().unwrap();
        *n += 1;
        Ok(format!("$bench-{}-reaction-{n}", self.prefix))
    }

    async fn upload(&self, _: &str, _: &str, _: &str, _: Vec<u8>) -> Result<String, OutboxError> {
        let mut n = self.next.lock().unwrap();
        *n += 1;
        Ok(format!("$bench-{}-upload-{n}", self.prefix))
    }

    async fn typing(&self, _: &str, _: bool) {}
}
