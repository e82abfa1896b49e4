//! How 3AM adapts its behaviour to feedback. Pure: no database, no async.
//!
//! * [`BehaviourProfile`]: how long answers should be, what to do when unsure, and the gate's
//!   thresholds; injected into the system prompt by [`prompt_sentences`].
//! * [`ExperienceSample`]: one reply as the learning rule sees it (gate action, confidence,
//!   👍/👎, tags from the reactions 🤥 📜 🎯 ❌ via [`tag_for_reaction`]).
//! * [`update`]: the night's learning rule, from the last 14 days of fresh evidence, with
//!   bounded steps, and idempotent (see [`update`]'s module for the argument).
//! * [`note`]: a change the hourly self-review offers after repeated complaints, applied on ✅.
//! * [`stats()`] and [`auroc`]: what `!stats` shows, including how well low confidence
//!   predicts 👎.

mod auroc;
mod experience;
pub mod note;
mod profile;
mod stats;
pub mod store;
mod update;

pub use crate::reaction_key::tags::{
    HALLUCINATED, OFF_TOPIC, TAG_REACTIONS, TOO_VERBOSE, WRONG, reaction_for_tag, tag_for_reaction,
};
pub use auroc::{MIN_AUROC_PER_CLASS, MIN_AUROC_RATINGS, auroc};
pub use experience::ExperienceSample;
pub use profile::{
    ASK_THRESHOLD_BOUNDS, BehaviourProfile, SEARCH_THRESHOLD_BOUNDS, THRESHOLD_GAP,
    VERBOSITY_BOUNDS, prompt_sentences,
};
pub use stats::{ActionCounts, ConfidenceBucket, Stats, stats};
pub use update::{MIN_EVIDENCE, THRESHOLD_STEP, VERBOSITY_STEP, WINDOW_DAYS, update};
