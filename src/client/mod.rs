//! The user's side of a Matrix chat, not the bot's: [`human`] is a scripted Matrix user (an
//! encrypted DM with the bot, messages, edits, threads, reactions, a saved session) that the
//! end-to-end tests talk through, and [`terminal`] is `threeam client`, the same user at a
//! prompt. Neither touches the bot's code or its database.

pub mod human;
pub mod terminal;
