//! Integration tests on the stack's real PostgreSQL + pgvector (a fresh database per test) with
//! the scripted llama-server stub: chat turns, the gate, the guard, memory, the night,
//! feedback, the store, the doctor.

#[path = "../common/mod.rs"]
mod common;

mod backup;
mod chat_gate;
mod chat_guard;
mod chat_memory;
mod chat_turn;
mod db_schema;
mod doctor;
mod feedback_loop;
mod gate_draft;
mod llm_client;
mod memory_control;
mod memory_extract;
mod memory_isolation;
mod memory_map;
mod memory_reembed;
mod memory_retrieve;
mod memory_store;
mod night_cycle;
mod night_scheduler;
mod observe;
mod research_idle;
mod store;
mod tools_pipeline;
mod tools_sandbox;
