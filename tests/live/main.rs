//! Live tests on the stack's real llama-servers: real conversations with quality floors, a chat
//! completion and a whole turn, a short night, and the memory benchmarks (ignored unless
//! asked).

#[path = "../common/mod.rs"]
mod common;

mod conversation_live;
mod live_model;
mod memory_bench;
mod night_live;
mod research_live;
mod tools_live;
