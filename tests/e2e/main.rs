//! End-to-end tests on the stack's real Synapse: the bot in an encrypted DM with a scripted
//! Matrix user.

#[path = "../common/mod.rs"]
mod common;

mod e2e_chat;
mod e2e_keys;
mod e2e_kill;
mod e2e_night;
mod e2e_privacy;
mod e2e_recovery;
mod e2e_research;
mod e2e_tools;
mod matrix_human;
