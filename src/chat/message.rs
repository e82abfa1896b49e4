//! The messages that cross the chat boundary: what a user sent (already decrypted and
//! allow-listed by the chat layer) and what the core wants shown. Plain data, no protocol.

use chrono::{DateTime, Utc};

/// A message from a user, already decrypted and allow-listed by the chat layer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct IncomingMessage {
    pub event_id: String,
    pub room_id: String,
    pub sender: String,
    pub body: String,
    pub thread_root: Option<String>,
    pub in_reply_to: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub encrypted: bool,
}

/// One message the assistant wants shown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutMessage {
    pub markdown: String,
    /// False while a streamed answer is still growing.
    pub complete: bool,
    pub thread_root: Option<String>,
    pub reply_to: Option<String>,
    /// Names this message for good (say "the first part of the reply to event X"): sending
    /// again under the same name, after a crash cut the bot off between the homeserver taking
    /// the message and the bot noting it, finds the first message instead of posting a second.
    /// `None`: every send is a new message.
    pub once: Option<String>,
}
