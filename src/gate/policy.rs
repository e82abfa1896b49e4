//! What the gate takes from the behaviour profile: two thresholds on the knowledge score and
//! what to do in the unsure zone between them. The behaviour profile learns these
//! from feedback; the gate only reads them, so the dependency runs one way.

use std::fmt;
use std::str::FromStr;

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

/// The gate's tunable part, as the behaviour profile currently sets it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GatePolicy {
    /// Below this knowledge score the draft counts as unsure.
    pub search_threshold: f32,
    /// Below this (and for an unspecific request) the gate asks a clarifying question.
    pub ask_threshold: f32,
    pub unsure_action: UnsureAction,
}

impl Default for GatePolicy {
    /// The schema's defaults (`behaviour_profile`'s column defaults).
    fn default() -> Self {
        GatePolicy {
            search_threshold: 0.45,
            ask_threshold: 0.25,
            unsure_action: UnsureAction::Hedge,
        }
    }
}

impl GatePolicy {
    /// `(search, ask)` thresholds as the gate uses them: in [0, 1], NaN replaced by the
    /// default, and the ask threshold never above the search threshold.
    pub fn thresholds(&self) -> (f32, f32) {
        let d = GatePolicy::default();
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
}
