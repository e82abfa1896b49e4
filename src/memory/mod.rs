//! Long-term memory: facts learned from conversations, hybrid retrieval for each turn, and
//! the user's control over what is remembered.
//!
//! The life of a fact:
//!
//! 1. **Learned.** After an exchange, [`extract_realtime`] asks the chat model (one
//!    JSON-schema-constrained call) for up to five lasting facts; [`store_facts`] embeds them
//!    and inserts each one, or merges it into a near-duplicate the user already has (cosine
//!    ≥ 0.92). Storing is idempotent for the source event ids, so a redelivered exchange
//!    adds nothing. [`learn_from_exchange`] does both, for the chat pipeline's background
//!    task. `!remember` ([`remember`]) stores a priority-5 fact directly.
//! 2. **Recalled.** Each turn, [`retrieve`] fuses full-text and vector candidates by
//!    reciprocal rank, boosts them by priority, cluster importance and recency, and packs
//!    the best into a token budget after the user's profile ([`Retrieved::context`] goes
//!    into the system prompt). If the embedding server is slow or down, it falls back to
//!    full-text only and logs a warning.
//! 3. **Shown and erased.** [`list_grouped`], [`search`], [`find`], [`forget`],
//!    [`forget_everything`] and [`export`] are the data layer of the memory commands.
//!
//! The system itself never deletes a fact (newer facts supersede, decay archives); only the
//! user's `!forget` does, for real. Every query is scoped by `user_id`.
//!
//! Files: [`fact`] (types, pure), [`store`] (insert and merge), [`extract`] (the model call),
//! [`score`] (fusion, boosts, packing; pure), [`retrieve`], [`control`] (the commands'
//! data layer), [`clusters`] (the topics' storage), [`upkeep`] (the night stages' reads and
//! writes). Its benchmarks (latency, evidence recall on LoCoMo) live with the others, in `bench`.

pub mod clusters;
pub mod control;
mod error;
pub mod extract;
pub mod fact;
pub mod grounding;
pub mod reembed;
pub mod retrieve;
pub mod score;
pub mod slots;
pub mod statements;
pub mod store;
pub mod upkeep;

pub use control::{
    ARCHIVED, UNCLUSTERED, export, find, forget, forget_everything, list_grouped, parse_ids,
    remember, search,
};
pub use error::MemoryError;
pub use extract::{extract_realtime, learn_from_exchange};
pub use fact::{Category, Fact, Kind, NewFact, Status};
pub use grounding::grounded;
pub use retrieve::{
    RetrieveOptions, Retrieved, ScoredFact, pinned, record_facts_used, retrieve,
    retrieve_with_vector,
};
pub use store::{MERGE_SIMILARITY, StoreOutcome, get_fact, live_count, profile, store_facts};
