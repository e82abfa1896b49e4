//! The scripted llama-server lives in the library (`threeam::bench::stub_llm`) so the turn
//! benchmark and the tests share one.
pub use threeam::bench::stub_llm::*;
