//! Shared fixtures for integration tests: a fresh database per test, the scripted llama-server
//! stub, and access to the stack's real services. Tests that need a service fail (never skip)
//! when it is missing: run them through `./scripts/test`, which brings the stack up.
#![allow(dead_code)]

pub mod bot;
pub mod core_rig;
pub mod db;
pub mod fixtures_web;
pub mod incoming;
pub mod memory_fixtures;
pub mod night_fixtures;
pub mod outbox;
pub mod research_fixtures;
pub mod stub_llm;
pub mod tools_fixtures;

/// A variable the stack exports in `.stack/env`; panics with the fix when it is missing.
pub fn stack_env(name: &str) -> String {
    if let Ok(v) = std::env::var(name)
        && !v.is_empty()
    {
        return v;
    }
    // Fall back to the stack's env file so `cargo test` works after `scripts/stack up`.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".stack/env");
    if let Ok(text) = std::fs::read_to_string(&path) {
        for line in text.lines() {
            let line = line.trim().trim_start_matches("export ").trim();
            if let Some((k, v)) = line.split_once('=')
                && k == name
            {
                return v.trim_matches(|c| c == '"' || c == '\'').to_owned();
            }
        }
    }
    panic!("{name} is not set: run the tests with ./scripts/test (or `scripts/stack up` first)");
}
