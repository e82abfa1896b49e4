//! The behaviour profile: one versioned row of `behaviour_profile`, and the sentences it adds
//! to the system prompt.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

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

/// What to do when the draft is unsure (between the ask and the search threshold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnsureAction {
    /// Answer as if sure.
    Answer,
    /// Answer, saying how sure it is.
    Hedge,
    /// Search the web first (when web access is enabled; otherwise hedge).
    Search,
}

impl UnsureAction {
    /// The value of the `behaviour_profile.unsure_action` column.
    pub fn as_str(self) -> &'static str {
        match self {
            UnsureAction::Answer => "answer",
            UnsureAction::Hedge => "hedge",
            UnsureAction::Search => "search",
        }
    }

    /// One step more careful (answer → hedge → search); search stays search.
    pub fn more_careful(self) -> Self {
        match self {
            UnsureAction::Answer => UnsureAction::Hedge,
            _ => UnsureAction::Search,
        }
    }
}

impl fmt::Display for UnsureAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of `answer`, `hedge`, `search`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown unsure action {0:?} (expected answer, hedge or search)")]
pub struct UnknownUnsureAction(pub String);

impl FromStr for UnsureAction {
    type Err = UnknownUnsureAction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "answer" => Ok(UnsureAction::Answer),
            "hedge" => Ok(UnsureAction::Hedge),
            "search" => Ok(UnsureAction::Search),
            other => Err(UnknownUnsureAction(other.to_owned())),
        }
    }
}

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
        BehaviourProfile {
            version: 0,
            verbosity: 0.5,
            unsure_action: UnsureAction::Hedge,
            search_threshold: 0.45,
            ask_threshold: 0.25,
            reason: "initial profile".into(),
            updated_at: None,
        }
    }
}

impl BehaviourProfile {
    /// `(search, ask)` thresholds as the gate uses them: in [0, 1], NaN replaced by the
    /// default, and the ask threshold never above the search threshold.
    pub fn thresholds(&self) -> (f32, f32) {
        let d = BehaviourProfile::default();
        let clean = |x: f32, default: f32| {
            if x.is_nan() {
                default
            } else {
                x.clamp(0.0, 1.0)
            }
        };
        let search = clean(self.search_threshold, d.search_threshold);
        let ask = clean(self.ask_threshold, d.ask_threshold).min(search);
        (search, ask)
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
