//! The bot's side of Matrix, the only part of the bot that knows it: login and sync (`bot`),
//! the allow-list, how messages look (`format`), events kept on disk while the database is away
//! (`spool`), and account helpers. The user's side (a
//! scripted user for tests, the terminal client) is in `crate::client`.

pub mod bot;
pub mod format;
pub mod late_keys;
pub mod privacy;
pub mod probe;
pub mod recovery;
pub mod register;
pub mod spool;
