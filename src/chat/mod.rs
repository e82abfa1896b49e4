//! The chat boundary, neutral between the core and any chat protocol: the messages that come
//! in ([`IncomingMessage`]) and go out ([`OutMessage`]), the [`Outbox`] the core speaks
//! through, and reply splitting. The core (`assistant`, `night`) and the Matrix adapter
//! (`matrix`) both depend on this module; it depends on neither.

pub mod allow;
mod message;
mod outbox;
mod split;

pub use allow::AllowList;
pub use message::{IncomingMessage, OutMessage};
pub use outbox::{Outbox, OutboxError};
pub use split::{MAX_PART_BYTES, split_reply};
