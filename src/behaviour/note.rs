//! Behaviour notes: a change the hourly self-review offers when the day's 👎 carry the same
//! complaint more than once, so the owner need not wait for the night's learning rule (which
//! needs [`super::MIN_EVIDENCE`] rated answers). Pure: which note, its wording, and what a ✅
//! does to the profile (one step of the night's size, within the same bounds).
//!
//! Only complaints a profile change can answer get a note: answers too long (📜) → shorter
//! answers; answers that made things up (🤥) → search the web sooner when unsure. "Off-topic"
//! and "wrong" have no such knob.

use chrono::{DateTime, Utc};

use super::{
    BehaviourProfile, HALLUCINATED, SEARCH_THRESHOLD_BOUNDS, THRESHOLD_STEP, TOO_VERBOSE,
    VERBOSITY_BOUNDS, VERBOSITY_STEP,
};

/// Complaints of one kind in a day before a note is offered.
pub const MIN_COMPLAINTS: usize = 2;

/// A change the owner may approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    Shorter,
    SearchSooner,
}

impl Note {
    pub fn as_str(self) -> &'static str {
        match self {
            Note::Shorter => "shorter",
            Note::SearchSooner => "search_sooner",
        }
    }

    pub fn parse(s: &str) -> Option<Note> {
        match s {
            "shorter" => Some(Note::Shorter),
            "search_sooner" => Some(Note::SearchSooner),
            _ => None,
        }
    }

    /// The question to the owner, given how many answers drew the complaint.
    pub fn question(self, n: usize) -> String {
        match self {
            Note::Shorter => format!(
                "📝 Looking back over today: you found {n} of my answers too long (📜). Shall I \
                 keep my answers shorter from now on? React ✅ or ❌."
            ),
            Note::SearchSooner => format!(
                "📝 Looking back over today: {n} of my answers made things up (🤥). Shall I \
                 search the web first more often when I'm not sure? React ✅ or ❌."
            ),
        }
    }

    /// The profile after a ✅, or `None` when it is already at its bound.
    pub fn apply(self, p: &BehaviourProfile, now: DateTime<Utc>) -> Option<BehaviourProfile> {
        let mut next = p.clone();
        match self {
            Note::Shorter => {
                next.verbosity = (p.verbosity - VERBOSITY_STEP).max(VERBOSITY_BOUNDS.0);
                next.reason = "you asked for shorter answers".into();
            }
            Note::SearchSooner => {
                next.search_threshold =
                    (p.search_threshold + THRESHOLD_STEP).min(SEARCH_THRESHOLD_BOUNDS.1);
                next.reason = "you asked me to search sooner when I'm unsure".into();
            }
        }
        next.updated_at = Some(now);
        (next.verbosity != p.verbosity || next.search_threshold != p.search_threshold)
            .then_some(next)
    }
}

/// The note the day's 👎 tags call for, if any, with how many answers drew it: the most
/// frequent complaint with a knob, at least [`MIN_COMPLAINTS`] times.
pub fn pick(tags_of_thumbs_down: &[Vec<String>]) -> Option<(Note, usize)> {
    let count = |tag: &str| {
        tags_of_thumbs_down
            .iter()
            .filter(|t| t.iter().any(|x| x == tag))
            .count()
    };
    let (long, made_up) = (count(TOO_VERBOSE), count(HALLUCINATED));
    let best = if long >= made_up {
        (Note::Shorter, long)
    } else {
        (Note::SearchSooner, made_up)
    };
    (best.1 >= MIN_COMPLAINTS).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&[&str]]) -> Vec<Vec<String>> {
        t.iter()
            .map(|x| x.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn repeated_complaints_with_a_knob_get_a_note() {
        assert_eq!(
            pick(&tags(&[&[TOO_VERBOSE], &[TOO_VERBOSE, "wrong"]])),
            Some((Note::Shorter, 2))
        );
        assert_eq!(
            pick(&tags(&[&[HALLUCINATED], &[HALLUCINATED], &[TOO_VERBOSE]])),
            Some((Note::SearchSooner, 2))
        );
        assert_eq!(
            pick(&tags(&[&[TOO_VERBOSE], &["wrong"], &["off_topic"]])),
            None
        );
        assert_eq!(pick(&[]), None);
    }

    #[test]
    fn a_note_moves_one_step_within_bounds() {
        let now = chrono::Utc::now();
        let p = BehaviourProfile::default();
        let shorter = Note::Shorter.apply(&p, now).unwrap();
        assert!((shorter.verbosity - (p.verbosity - VERBOSITY_STEP)).abs() < 1e-6);
        assert_eq!(shorter.updated_at, Some(now));
        let mut floor = p.clone();
        floor.verbosity = VERBOSITY_BOUNDS.0;
        assert_eq!(Note::Shorter.apply(&floor, now), None);
        let sooner = Note::SearchSooner.apply(&p, now).unwrap();
        assert!(sooner.search_threshold > p.search_threshold);
        assert!(sooner.search_threshold <= SEARCH_THRESHOLD_BOUNDS.1);
        assert_eq!(
            Note::parse(Note::SearchSooner.as_str()),
            Some(Note::SearchSooner)
        );
        assert!(
            Note::Shorter
                .question(3)
                .contains("3 of my answers too long")
        );
    }
}
