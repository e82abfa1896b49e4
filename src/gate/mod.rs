//! The decision gate: before answering, decide whether 3AM knows enough to answer, should
//! search the web first, or should ask one clarifying question. Pure: no I/O, no async.
//!
//! # Two stages
//!
//! 1. **Cheap rules** on the message text ([`rules`]), so most turns cost no extra model call:
//!    * the user explicitly asks not to search ("don't look it up") → answer;
//!    * small talk (greetings, thanks, "ok", "bye") → answer;
//!    * an explicit web request ("search for…", "look up…", "google…") or a question about
//!      something that changes (latest, news, price, weather, today's, current…) → search,
//!      unless the wording is about the user's own things ("my current job") or memory
//!      ("search your memory"), or past tense ("I searched…");
//!    * a very short request made only of pointers and function words ("what about it?",
//!      "do that", "and then?") with no memory support and no conversation in progress → ask.
//!
//!    [`precheck`] runs only these; when it returns `None` the caller starts the answer, reads
//!    its first [`DRAFT_TOKENS`] tokens with their logprobs (the draft), holding them back from
//!    the user, and calls [`decide`] with the draft's [`Confidence`]. An answer goes on in
//!    the same generation; any other outcome starts again with the decision's instruction.
//!
//! 2. **The draft-based decision.** Let `c` be the draft's confidence score (see
//!    [`crate::confidence`]: token probabilities, the least likely token and the entropy of the
//!    alternatives, in [0, 1]) and `m` the memory coverage: the strength of the best matching
//!    memory in [0, 1]. They combine into a *knowledge* score by a weighted noisy-OR:
//!
//!    ```text
//!    k = c + (1 − c) · α · m          α = MEMORY_WEIGHT = 0.5
//!    ```
//!
//!    Either signal alone can make the answer trustworthy, and neither can lower `k`: a memory
//!    that covers the question fills part of the model's remaining doubt `(1 − c)`. Memory is
//!    discounted (α < 1) because retrieval similarity says a fact is *related*, not that it
//!    answers the question; the draft, generated with those memories in its prompt, already
//!    reflects whether they helped. `k` is non-decreasing in both `c` and `m`, and `k ∈ [0, 1]`.
//!
//!    With the profile's thresholds `t_ask < t_search`:
//!
//!    ```text
//!    k ≥ t_search                                   → answer
//!    k < t_ask, not clarified, message not specific → ask one clarifying question
//!    otherwise (unsure)                             → the profile's unsure action:
//!        answer → answer;  hedge → answer, stating the uncertainty;
//!        search → search, or, if the question is about the user (a web search cannot know
//!                 their sister's birthday) or the web is disabled, answer with a hedge.
//!    ```
//!
//!    A "specific" message ([`rules::is_specific`]) is long enough or names something (a
//!    capitalised name, a number, a quotation): when the model knows nothing about a clear
//!    question, asking the user to rephrase it would not help, so it falls to the unsure
//!    action instead.
//!
//! # Guarantees (property-tested)
//! * With the web disabled the gate never chooses [`GateAction::Search`].
//! * Raising `c` or `m` never makes the outcome more cautious: with the order
//!   ask < search < hedged answer < answer, the outcome's rank is non-decreasing in both.
//!   In particular a higher confidence never turns an answer into a search.
//! * A message that was already clarified is never answered with another question.
//! * Without a draft confidence (the server sent no logprobs) the gate answers directly: an
//!   unknown signal must not make every turn search.

mod decide;
mod instruction;
mod policy;
pub mod rules;

pub use decide::{decide, precheck};
pub use instruction::{DRAFT_TOKENS, DRAFT_TOP_LOGPROBS, instruction};
pub use policy::{GatePolicy, UnknownUnsureAction, UnsureAction};

use std::fmt;
use std::str::FromStr;

use crate::confidence::Confidence;

/// How much a fully matching memory counts towards the knowledge score (α in the module docs).
pub const MEMORY_WEIGHT: f32 = 0.5;

/// A memory at least this strong counts as supporting the message (see [`MemoryCoverage`]).
pub const SUPPORT_SCORE: f32 = 0.5;

/// What the gate decided to do with a message. Stored in `experience.gate_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GateAction {
    Answer,
    Search,
    Ask,
}

impl GateAction {
    /// The value of the `experience.gate_action` column.
    pub fn as_str(self) -> &'static str {
        match self {
            GateAction::Answer => "answer",
            GateAction::Search => "search",
            GateAction::Ask => "ask",
        }
    }
}

impl fmt::Display for GateAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of `answer`, `search`, `ask`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown gate action {0:?} (expected answer, search or ask)")]
pub struct UnknownGateAction(pub String);

impl FromStr for GateAction {
    type Err = UnknownGateAction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "answer" => Ok(GateAction::Answer),
            "search" => Ok(GateAction::Search),
            "ask" => Ok(GateAction::Ask),
            other => Err(UnknownGateAction(other.to_owned())),
        }
    }
}

/// Why an answer should state its uncertainty; each has its own prompt instruction
/// ([`instruction`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hedge {
    /// The draft was unsure and the profile says to hedge (or to answer anyway).
    Unsure,
    /// Searching would have been right, but web access is disabled.
    WebUnavailable,
    /// The question is about the user and memory has nothing on it.
    NotInMemory,
}

/// How well the user's memory covers a message.
///
/// `top_score` is the strength of the best match in [0, 1]: the cosine similarity of the best
/// vector match, or a fixed strength such as 0.6 for a fact found only by full-text search.
/// `supporting_facts` counts the matches of at least [`SUPPORT_SCORE`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MemoryCoverage {
    pub top_score: f32,
    pub supporting_facts: usize,
}

impl MemoryCoverage {
    /// Nothing in memory.
    pub const NONE: MemoryCoverage = MemoryCoverage {
        top_score: 0.0,
        supporting_facts: 0,
    };

    /// Coverage from the match strengths of the retrieved facts (any order; values outside
    /// [0, 1] are clamped, NaN counts as 0).
    pub fn from_scores(scores: impl IntoIterator<Item = f32>) -> Self {
        let mut out = MemoryCoverage::NONE;
        for s in scores {
            let s = clamp01(s);
            out.top_score = out.top_score.max(s);
            if s >= SUPPORT_SCORE {
                out.supporting_facts += 1;
            }
        }
        out
    }

    /// True when at least one memory supports the message.
    pub fn supports(&self) -> bool {
        self.supporting_facts > 0
    }
}

/// Everything the gate looks at for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct GateInput<'a> {
    /// The user's message, as sent.
    pub message: &'a str,
    pub memory: MemoryCoverage,
    /// The draft's confidence; `None` before the draft ran or when the server sent no logprobs.
    pub draft: Option<Confidence>,
    /// `config.web.enabled`: when false the gate never chooses search.
    pub web_enabled: bool,
    /// This message answers the bot's clarifying question: do not ask again.
    pub clarified: bool,
    /// A conversation is in progress (the bot replied in the last few minutes), so short
    /// follow-ups like "and then?" refer to it and are not vague.
    pub follows_conversation: bool,
}

/// The gate's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct GateDecision {
    pub action: GateAction,
    /// For [`GateAction::Answer`]: state the uncertainty, and why. Always `None` otherwise.
    pub hedge: Option<Hedge>,
    /// A short human explanation for the experience log (`experience.gate_reason`).
    pub reason: String,
    /// The cheap rule that decided, or `None` when the draft decided.
    pub rule: Option<&'static str>,
    /// The knowledge score `k` of the draft decision (`None` for rules).
    pub knowledge: Option<f32>,
}

impl GateDecision {
    /// An order from most to least cautious, used by the monotonicity guarantees:
    /// ask 0, search 1, hedged answer 2, answer 3.
    pub fn caution_rank(&self) -> u8 {
        match (self.action, self.hedge) {
            (GateAction::Ask, _) => 0,
            (GateAction::Search, _) => 1,
            (GateAction::Answer, Some(_)) => 2,
            (GateAction::Answer, None) => 3,
        }
    }
}

/// The knowledge score `k = c + (1 − c) · α · m` (see the module docs).
pub fn knowledge(confidence: f32, memory: &MemoryCoverage) -> f32 {
    let c = clamp01(confidence);
    let m = clamp01(memory.top_score);
    (c + (1.0 - c) * MEMORY_WEIGHT * m).clamp(0.0, 1.0)
}

/// Clamps to [0, 1]; NaN becomes 0 so a broken signal reads as "no evidence".
fn clamp01(x: f32) -> f32 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_action_round_trips_through_the_column_text() {
        for a in [GateAction::Answer, GateAction::Search, GateAction::Ask] {
            assert_eq!(a.as_str().parse::<GateAction>().unwrap(), a);
        }
        assert!("maybe".parse::<GateAction>().is_err());
    }

    #[test]
    fn coverage_counts_supporting_matches() {
        let c = MemoryCoverage::from_scores([0.2, 0.7, 0.55, f32::NAN, 3.0]);
        assert_eq!(c.top_score, 1.0);
        assert_eq!(c.supporting_facts, 3);
        assert!(!MemoryCoverage::from_scores([]).supports());
    }

    #[test]
    fn knowledge_is_a_noisy_or() {
        assert_eq!(knowledge(0.4, &MemoryCoverage::NONE), 0.4);
        let full = MemoryCoverage {
            top_score: 1.0,
            supporting_facts: 1,
        };
        assert!((knowledge(0.4, &full) - 0.7).abs() < 1e-6);
        assert_eq!(knowledge(1.0, &full), 1.0);
        assert_eq!(knowledge(f32::NAN, &MemoryCoverage::NONE), 0.0);
    }
}
