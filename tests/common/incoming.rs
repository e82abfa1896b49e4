//! Incoming events as the chat layer hands them to the core, for tests below Matrix.

use threeam::assistant::Incoming;
use threeam::chat::IncomingMessage;

/// An encrypted message from `sender` in `room`, sent now.
pub fn message(
    room: &str,
    sender: &str,
    event: &str,
    body: &str,
    in_reply_to: Option<&str>,
) -> Incoming {
    Incoming::Message(IncomingMessage {
        event_id: event.into(),
        room_id: room.into(),
        sender: sender.into(),
        body: body.into(),
        thread_root: None,
        in_reply_to: in_reply_to.map(str::to_owned),
        sent_at: chrono::Utc::now(),
        encrypted: true,
    })
}

/// `sender` reacts `key` to `target` in `room`.
pub fn reaction(room: &str, sender: &str, event: &str, target: &str, key: &str) -> Incoming {
    Incoming::Reaction {
        event_id: event.into(),
        room_id: room.into(),
        sender: sender.into(),
        target_event_id: target.into(),
        key: key.into(),
    }
}
