//! How the core talks back: an [`Outbox`] sends, edits, reacts, uploads and shows typing in
//! a room. The Matrix layer implements it; tests and benchmarks record into it instead.

use async_trait::async_trait;

use super::OutMessage;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OutboxError(pub String);

/// How the core talks back; implemented by the Matrix layer (and by recorders in tests).
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    async fn send(&self, room_id: &str, msg: &OutMessage) -> Result<String, OutboxError>;
    async fn edit(
        &self,
        room_id: &str,
        event_id: &str,
        msg: &OutMessage,
    ) -> Result<(), OutboxError>;
    async fn react(&self, room_id: &str, event_id: &str, key: &str) -> Result<String, OutboxError>;
    /// A file in the room (encrypted like any attachment in an encrypted room).
    async fn upload(
        &self,
        room_id: &str,
        filename: &str,
        mime: &str,
        data: Vec<u8>,
    ) -> Result<String, OutboxError>;
    async fn typing(&self, room_id: &str, on: bool);
}
