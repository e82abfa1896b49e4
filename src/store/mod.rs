//! Conversation state in PostgreSQL: users, rooms, the message log with its reply state, the
//! experience rows of replies, and reactions. Every query is scoped by `user_id`; every write
//! that a redelivered Matrix event could repeat is keyed by its event id.

pub mod approvals;
pub mod feedback;
pub mod messages;
pub mod night_log;
pub mod research;
pub mod tools;
pub mod users;

pub use sqlx::PgPool;
