//! One reply as the learning rule and `!stats` see it: a projection of an `experience` row.

use chrono::{DateTime, Utc};

use crate::gate::GateAction;

/// One reply and what the user made of it.
///
/// Loaded from `experience`: `created_at`, `gate_action`, `confidence`, `feedback`,
/// `feedback_at`, `tags`, `searched`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperienceSample {
    pub created_at: DateTime<Utc>,
    pub gate_action: GateAction,
    /// The answer's confidence; `None` when the server sent no logprobs.
    pub confidence: Option<f32>,
    /// 👍 = 1, 👎 = -1; `None` (or 0) when unrated.
    pub feedback: Option<i16>,
    /// When the feedback was last set; `None` falls back to `created_at`.
    pub feedback_at: Option<DateTime<Utc>>,
    /// Tags from the reactions after a 👎 (see [`super::TAG_REACTIONS`]).
    pub tags: Vec<String>,
    /// A web search ran for this reply.
    pub searched: bool,
}

impl ExperienceSample {
    /// An unrated reply (convenient for tests and fixtures).
    pub fn new(
        created_at: DateTime<Utc>,
        gate_action: GateAction,
        confidence: Option<f32>,
    ) -> Self {
        ExperienceSample {
            created_at,
            gate_action,
            confidence,
            feedback: None,
            feedback_at: None,
            tags: Vec::new(),
            searched: gate_action == GateAction::Search,
        }
    }

    /// 👍 or 👎 (0 and `None` are unrated).
    pub fn is_rated(&self) -> bool {
        matches!(self.feedback, Some(1 | -1))
    }

    pub fn is_down(&self) -> bool {
        self.feedback == Some(-1)
    }

    pub fn is_up(&self) -> bool {
        self.feedback == Some(1)
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// When this row last became evidence: its feedback time, else its creation.
    pub fn evidence_at(&self) -> DateTime<Utc> {
        self.feedback_at.unwrap_or(self.created_at)
    }

    /// The confidence, if it is a usable number.
    pub fn score(&self) -> Option<f32> {
        self.confidence.filter(|c| c.is_finite())
    }
}
