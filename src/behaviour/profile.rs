//! The behaviour profile: one versioned row of `behaviour_profile`, and the sentences it adds
//! to the system prompt.

use chrono::{DateTime, Utc};

use crate::gate::{GatePolicy, UnsureAction};

/// The search threshold never leaves this range: below 0.2 the gate would trust almost any
/// draft; above 0.8 it would search for almost everything.
pub const SEARCH_THRESHOLD_BOUNDS: (f32, f32) = (0.2, 0.8);
/// The ask threshold's range; asking back on every second message would be unbearable.
pub const ASK_THRESHOLD_BOUNDS: (f32, f32) = (0.1, 0.5);
/// The ask threshold stays at least this far below the search threshold, so the unsure zone
/// between them (where the unsure action applies) never vanishes.
pub const THRESHOLD_GAP: f32 = 0.1;
/// Verbosity's range: 0.1 is "a sentence or two", 0.9 "thorough, with examples".
pub const VERBOSITY_BOUNDS: (f32, f32) = (0.1, 0.9);

/// One version of a user's behaviour profile (a `behaviour_profile` row).
#[derive(Debug, Clone, PartialEq)]
pub struct BehaviourProfile {
    /// 0 for the built-in default; each learned change adds one.
    pub version: i32,
    /// 0 = terse … 1 = thorough.
    pub verbosity: f32,
    pub unsure_action: UnsureAction,
    /// Below this knowledge score the draft counts as unsure.
    pub search_threshold: f32,
    /// Below this (and for an unspecific request) the gate asks a clarifying question.
    pub ask_threshold: f32,
    /// Why this version exists, in words for the user.
    pub reason: String,
    /// When this version was written (`created_at`); `None` for the built-in default.
    /// Evidence from before it was already acted on (see [`super::update`]).
    pub updated_at: Option<DateTime<Utc>>,
}

impl Default for BehaviourProfile {
    /// The schema's defaults.
    fn default() -> Self {
        let gate = GatePolicy::default();
        BehaviourProfile {
            version: 0,
            verbosity: 0.5,
            unsure_action: gate.unsure_action,
            search_threshold: gate.search_threshold,
            ask_threshold: gate.ask_threshold,
            reason: "initial profile".into(),
            updated_at: None,
        }
    }
}

impl BehaviourProfile {
    /// What the gate needs of this profile.
    pub fn gate_policy(&self) -> GatePolicy {
        GatePolicy {
            search_threshold: self.search_threshold,
            ask_threshold: self.ask_threshold,
            unsure_action: self.unsure_action,
        }
    }

    /// `(search, ask)` thresholds as the gate uses them (see [`GatePolicy::thresholds`]).
    pub fn thresholds(&self) -> (f32, f32) {
        self.gate_policy().thresholds()
    }

    /// A one-line summary for `!stats` and logs.
    pub fn summary(&self) -> String {
        format!(
            "verbosity {:.2} · when unsure: {} · unsure below {:.2} · ask below {:.2}",
            self.verbosity, self.unsure_action, self.search_threshold, self.ask_threshold
        )
    }
}

/// One or two plain sentences for the system prompt: how long to answer, and what to do when
/// unsure. Thresholds are the gate's business and are not mentioned.
pub fn prompt_sentences(profile: &BehaviourProfile) -> String {
    let v = if profile.verbosity.is_nan() {
        0.5
    } else {
        profile.verbosity
    };
    let length = if v < 0.25 {
        "Keep answers very short: one to three sentences, no lists unless asked."
    } else if v < 0.45 {
        "Keep answers short and to the point; add detail only when asked."
    } else if v <= 0.6 {
        "Answer concisely, with detail only where it helps."
    } else if v <= 0.75 {
        "Give fuller answers with a brief explanation of the why."
    } else {
        "Give thorough answers with explanations and examples."
    };
    let unsure = match profile.unsure_action {
        UnsureAction::Answer => {
            "When unsure, still answer directly and mention doubts only if they matter."
        }
        UnsureAction::Hedge => "When unsure, say so briefly rather than guessing.",
        UnsureAction::Search => {
            "When unsure of a fact, rely on web sources you are given and cite them; never guess."
        }
    };
    format!("{length} {unsure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsure_action_round_trips_and_steps() {
        for a in [
            UnsureAction::Answer,
            UnsureAction::Hedge,
            UnsureAction::Search,
        ] {
            assert_eq!(a.as_str().parse::<UnsureAction>().unwrap(), a);
        }
        assert!("maybe".parse::<UnsureAction>().is_err());
        assert_eq!(UnsureAction::Answer.more_careful(), UnsureAction::Hedge);
        assert_eq!(UnsureAction::Hedge.more_careful(), UnsureAction::Search);
        assert_eq!(UnsureAction::Search.more_careful(), UnsureAction::Search);
    }

    #[test]
    fn thresholds_are_sanitised() {
        let p = BehaviourProfile {
            search_threshold: f32::NAN,
            ask_threshold: 0.9,
            ..BehaviourProfile::default()
        };
        assert_eq!(p.thresholds(), (0.45, 0.45));
        assert_eq!(BehaviourProfile::default().thresholds(), (0.45, 0.25));
    }

    #[test]
    fn prompt_sentences_follow_the_profile() {
        let mut p = BehaviourProfile::default();
        let s = prompt_sentences(&p);
        assert!(s.starts_with("Answer concisely"), "{s}");
        assert!(s.contains("say so briefly"));
        p.verbosity = 0.1;
        p.unsure_action = UnsureAction::Search;
        let s = prompt_sentences(&p);
        assert!(s.contains("very short") && s.contains("web sources"), "{s}");
        assert_eq!(s.matches(". ").count() + 1, 2, "two sentences: {s}");
        p.verbosity = 0.9;
        assert!(prompt_sentences(&p).contains("thorough"));
    }
}
