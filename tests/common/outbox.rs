//! An [`Outbox`] that records what the assistant would show, for tests without a homeserver.

use std::sync::Mutex;

use async_trait::async_trait;
use threeam::chat::{OutMessage, Outbox, OutboxError};

#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Send {
        room: String,
        id: String,
        msg: OutMessage,
    },
    Edit {
        room: String,
        id: String,
        msg: OutMessage,
    },
    React {
        room: String,
        target: String,
        key: String,
    },
    Upload {
        room: String,
        filename: String,
        mime: String,
        data: Vec<u8>,
    },
    Typing {
        room: String,
        on: bool,
    },
}

#[derive(Default)]
pub struct RecordingOutbox {
    pub shown: Mutex<Vec<Shown>>,
}

impl RecordingOutbox {
    pub fn all(&self) -> Vec<Shown> {
        self.shown.lock().unwrap().clone()
    }

    /// Final text of each message (after its last edit), in the order they were first sent.
    pub fn messages(&self) -> Vec<(String, OutMessage)> {
        let mut out: Vec<(String, OutMessage)> = Vec::new();
        for s in self.all() {
            match s {
                Shown::Send { id, msg, .. } => out.push((id, msg)),
                Shown::Edit { id, msg, .. } => {
                    if let Some(slot) = out.iter_mut().find(|(i, _)| *i == id) {
                        slot.1 = msg;
                    }
                }
                _ => {}
            }
        }
        out
    }

    pub fn edits(&self) -> usize {
        self.all()
            .iter()
            .filter(|s| matches!(s, Shown::Edit { .. }))
            .count()
    }

    /// The texts message `id` was edited to, in order.
    pub fn edits_of(&self, id: &str) -> Vec<String> {
        self.all()
            .into_iter()
            .filter_map(|s| match s {
                Shown::Edit { id: i, msg, .. } if i == id => Some(msg.markdown),
                _ => None,
            })
            .collect()
    }

    pub fn clear(&self) {
        self.shown.lock().unwrap().clear();
    }
}

#[async_trait]
impl Outbox for RecordingOutbox {
    async fn send(&self, room_id: &str, msg: &OutMessage) -> Result<String, OutboxError> {
        let mut g = self.shown.lock().unwrap();
        let id = format!("$out{}", g.len());
        g.push(Shown::Send {
            room: room_id.into(),
            id: id.clone(),
            msg: msg.clone(),
        });
        Ok(id)
    }
    async fn edit(
        &self,
        room_id: &str,
        event_id: &str,
        msg: &OutMessage,
    ) -> Result<(), OutboxError> {
        self.shown.lock().unwrap().push(Shown::Edit {
            room: room_id.into(),
            id: event_id.into(),
            msg: msg.clone(),
        });
        Ok(())
    }
    async fn react(&self, room_id: &str, event_id: &str, key: &str) -> Result<String, OutboxError> {
        let mut g = self.shown.lock().unwrap();
        let id = format!("$react{}", g.len());
        g.push(Shown::React {
            room: room_id.into(),
            target: event_id.into(),
            key: key.into(),
        });
        Ok(id)
    }
    async fn upload(
        &self,
        room_id: &str,
        filename: &str,
        mime: &str,
        data: Vec<u8>,
    ) -> Result<String, OutboxError> {
        let mut g = self.shown.lock().unwrap();
        let id = format!("$file{}", g.len());
        g.push(Shown::Upload {
            room: room_id.into(),
            filename: filename.into(),
            mime: mime.into(),
            data,
        });
        Ok(id)
    }
    async fn typing(&self, room_id: &str, on: bool) {
        self.shown.lock().unwrap().push(Shown::Typing {
            room: room_id.into(),
            on,
        });
    }
}
