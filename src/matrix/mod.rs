//! Everything that knows about Matrix lives here: the bot's side (`bot`), a scripted user for
//! tests and the terminal client (`human`, `terminal`), and account helpers.

pub mod allow;
pub mod bot;
pub mod format;
pub mod human;
pub mod probe;
pub mod register;
pub mod terminal;
