//! 3AM: a self-evolving personal assistant that lives in a Matrix chat.
//!
//! The thinking core (`assistant`, `memory`, `gate`…) knows nothing about Matrix; only
//! `matrix` does. Pure logic (clustering, parsing, scoring) is kept apart from I/O.
#![recursion_limit = "256"]

pub mod app;
pub mod assistant;
pub mod backup;
pub mod behaviour;
pub mod bench;
pub mod chat;
pub mod client;
pub mod cluster;
pub mod confidence;
pub mod config;
pub mod db;
pub mod doctor;
pub mod gate;
pub mod llm;
pub mod map;
pub mod matrix;
pub mod memory;
pub mod metrics;
pub mod night;
pub mod observe;
pub mod reaction_key;
pub mod research;
pub mod store;
pub mod text;
pub mod tools;
