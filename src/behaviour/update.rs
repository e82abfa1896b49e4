//! The night's learning rule: experience rows in, maybe a new profile version out.
//!
//! # Evidence
//!
//! Only **fresh, rated** rows count: created in the last [`WINDOW_DAYS`] days, rated 👍/👎, and
//! whose rating arrived after the current profile was written (`evidence_at >
//! profile.updated_at`). Evidence from before a change was gathered under the old behaviour
//! and has already been acted on; counting it again is how the original project's thresholds
//! drifted to their bounds.
//!
//! The rows are split into groups by the current profile's search threshold `t`:
//! * **near answers**: answered without search, confidence in `[t, t + 0.1)`: the answers
//!   the gate was only just sure enough of;
//! * **unsure answers**: answered without search, confidence `< t` (hedged or plain);
//! * **sure answers**: answered without search, confidence `≥ t + 0.1`;
//! * **searched**: replies for which a web search ran;
//! * **asks**: clarifying questions.
//!
//! In these groups a 👎 whose only tag is 📜 too verbose does not count as 👎: it is about
//! length, not about what the gate should have known (verbosity has its own rule).
//!
//! A group is *disliked* when its fresh rows hold at least [`MIN_EVIDENCE`] ratings and at
//! least 40 % are 👎, and *worse than* an alternative when its 👎 rate exceeds the
//! alternative's by 0.2 (or the alternative has fewer than 3 ratings: nothing to compare
//! with). The alternative is judged on the whole 14-day window, fresh or not: after
//! switching away from searching, the bad searches of last week still say searching was
//! bad, so the rule does not flip back for lack of fresh searches.
//!
//! # Moves (each at most one step a night)
//! * **Search threshold up** by [`THRESHOLD_STEP`] when near answers are disliked, worse than
//!   searched replies (searching would have helped) and worse than sure answers (it is the
//!   low confidence that goes wrong, not everything): the gate was too easily sure.
//! * **Search threshold down** when searched replies are disliked and worse than near
//!   answers: searching did not help. At the lower bound, the unsure action steps back from
//!   search to hedge instead.
//! * **Unsure action one step more careful** (answer → hedge → search) when unsure answers
//!   are disliked (50 %) and worse than both searched replies and sure answers.
//! * **Ask threshold down** when at least 4 clarifying questions were rated and half got 👎;
//!   **up** when at least 3 unsure answers were tagged 🎯 off-topic (≥ 40 % of them)
//!   and asking is not disliked. It stays [`super::THRESHOLD_GAP`] below the search threshold.
//! * **Verbosity down** by [`VERBOSITY_STEP`] when at least 3 👎 were tagged 📜 too verbose and
//!   they are at least a third of the 👎. Nothing asks for longer answers, so verbosity
//!   never rises by itself: a rule without evidence for a direction must not move that way.
//!
//! All values stay within [`super::SEARCH_THRESHOLD_BOUNDS`], [`super::ASK_THRESHOLD_BOUNDS`]
//! and [`super::VERBOSITY_BOUNDS`]; a field is only clamped when a rule moves it.
//!
//! # Why it is idempotent and settles
//! *Idempotent:* a new version carries `updated_at = now`, and only rows whose evidence time
//! is after it count, so running the rule again on the same rows sees no evidence and
//! returns `None`. Without a change nothing is written and the evidence keeps accumulating.
//! *Settles:* every move needs fresh evidence of the problem it fixes, gathered under the
//! moved behaviour. When the pattern is absorbed (e.g. the threshold has risen past the
//! confidence below which answers fail), the near answers are liked and no rule fires, however
//! many more nights of the same pattern follow. Opposite moves cannot alternate on the same
//! evidence because "up" needs near answers worse than searches and "down" the reverse.

use chrono::{DateTime, Duration, Utc};

use super::profile::{
    ASK_THRESHOLD_BOUNDS, SEARCH_THRESHOLD_BOUNDS, THRESHOLD_GAP, VERBOSITY_BOUNDS,
};
use super::{BehaviourProfile, ExperienceSample};
use crate::gate::{GateAction, UnsureAction};
use crate::reaction_key::tags::{HALLUCINATED, OFF_TOPIC, TOO_VERBOSE, WRONG};

/// Only the last two weeks count: older behaviour says little about today's.
pub const WINDOW_DAYS: i64 = 14;
/// The most a threshold moves in one night.
pub const THRESHOLD_STEP: f32 = 0.05;
/// The most verbosity moves in one night.
pub const VERBOSITY_STEP: f32 = 0.1;
/// Ratings a group needs before it can move anything.
pub const MIN_EVIDENCE: usize = 5;

/// Width of the "near answers" band above the search threshold.
const BAND: f32 = 0.1;
/// A group with at least this 👎 rate is disliked.
const DISLIKED: f64 = 0.4;
/// Unsure answers must be this disliked to make the unsure action more careful.
const UNSURE_DISLIKED: f64 = 0.5;
/// How much worse one group must be than the alternative it is compared with.
const WORSE_BY: f64 = 0.2;
/// Below this many ratings the alternative is unknown, and the comparison is waived.
const COMPARE_MIN: usize = 3;
/// Rated clarifying questions needed to lower the ask threshold.
const MIN_ASKS: usize = 4;
/// Tagged replies needed to act on a tag.
const MIN_TAGGED: usize = 3;

/// 👍/👎 counts of one group of rows.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    rated: usize,
    down: usize,
    hallucinated: usize,
}

impl Tally {
    fn of<'a>(rows: impl IntoIterator<Item = &'a ExperienceSample>) -> Self {
        let mut t = Tally::default();
        for r in rows {
            t.rated += 1;
            let only_verbose = !r.tags.is_empty() && r.tags.iter().all(|t| t == TOO_VERBOSE);
            if r.is_down() && !only_verbose {
                t.down += 1;
                if r.has_tag(HALLUCINATED) || r.has_tag(WRONG) {
                    t.hallucinated += 1;
                }
            }
        }
        t
    }

    fn rate(&self) -> f64 {
        if self.rated == 0 {
            0.0
        } else {
            self.down as f64 / self.rated as f64
        }
    }

    /// At least [`MIN_EVIDENCE`] ratings and a 👎 rate of at least `level`.
    fn disliked(&self, level: f64) -> bool {
        self.rated >= MIN_EVIDENCE && self.rate() >= level
    }

    /// Clearly worse than `other`, or `other` is too small to compare with.
    fn worse_than(&self, other: &Tally) -> bool {
        other.rated < COMPARE_MIN || other.rate() + WORSE_BY <= self.rate()
    }

    /// "4 of 6", with "(3 marked wrong or made up)" when tags say so.
    fn describe(&self) -> String {
        if self.hallucinated > 0 {
            format!(
                "{} of {} got 👎, {} marked wrong or made up",
                self.down, self.rated, self.hallucinated
            )
        } else {
            format!("{} of {} got 👎", self.down, self.rated)
        }
    }
}

/// The groups of the module docs, for one set of rows and search threshold `t`.
struct Groups {
    near: Tally,
    sure: Tally,
    unsure: Tally,
    searched: Tally,
    asks: Tally,
}

impl Groups {
    fn of(rows: &[&ExperienceSample], t: f32) -> Self {
        let answered = |r: &&&ExperienceSample| r.gate_action == GateAction::Answer && !r.searched;
        let conf_in = |lo: f32, hi: f32| {
            move |r: &&&ExperienceSample| r.score().is_some_and(|c| c >= lo && c < hi)
        };
        Groups {
            near: Tally::of(
                rows.iter()
                    .filter(answered)
                    .filter(conf_in(t, t + BAND))
                    .copied(),
            ),
            sure: Tally::of(
                rows.iter()
                    .filter(answered)
                    .filter(conf_in(t + BAND, f32::MAX))
                    .copied(),
            ),
            unsure: Tally::of(
                rows.iter()
                    .filter(answered)
                    .filter(conf_in(f32::MIN, t))
                    .copied(),
            ),
            searched: Tally::of(rows.iter().filter(|r| r.searched).copied()),
            asks: Tally::of(
                rows.iter()
                    .filter(|r| r.gate_action == GateAction::Ask)
                    .copied(),
            ),
        }
    }
}

/// The night's update. `rows` may hold anything (it is filtered here); `now` is the time of
/// the run. Returns the next version and the changes in words for the digest, or `None`
/// when the evidence asks for no change. See the module docs for the rule.
pub fn update(
    current: &BehaviourProfile,
    rows: &[ExperienceSample],
    now: DateTime<Utc>,
) -> Option<(BehaviourProfile, Vec<String>)> {
    let window_start = now - Duration::days(WINDOW_DAYS);
    let since = current
        .updated_at
        .map_or(window_start, |u| u.max(window_start));
    let window: Vec<&ExperienceSample> = rows
        .iter()
        .filter(|r| r.is_rated())
        .filter(|r| r.created_at >= window_start && r.created_at <= now)
        .filter(|r| r.evidence_at() <= now)
        .collect();
    let fresh: Vec<&ExperienceSample> = window
        .iter()
        .filter(|r| r.evidence_at() > since)
        .copied()
        .collect();
    if fresh.is_empty() {
        return None;
    }

    let (t, t_ask) = current.thresholds();
    // Moves are triggered by fresh evidence; the alternatives they are compared with are
    // judged on the whole window (an alternative not tried since the last change is not
    // unknown: two weeks of it say how it went).
    let new = Groups::of(&fresh, t);
    let all = Groups::of(&window, t);
    let (near, unsure, searched, asks) = (new.near, new.unsure, new.searched, new.asks);

    let mut next = current.clone();
    let mut reasons = Vec::new();

    // The unsure action: what happens below the search threshold.
    if current.unsure_action != UnsureAction::Search
        && unsure.disliked(UNSURE_DISLIKED)
        && unsure.worse_than(&all.searched)
        && unsure.worse_than(&all.sure)
    {
        next.unsure_action = current.unsure_action.more_careful();
        reasons.push(match next.unsure_action {
            UnsureAction::Search => format!(
                "When I'm unsure I'll search the web first: of the answers I was unsure of, {}.",
                unsure.describe()
            ),
            _ => format!(
                "When I'm unsure I'll say so: of the answers I was unsure of, {}.",
                unsure.describe()
            ),
        });
    }

    // The search threshold: where "sure enough" begins.
    let (lo, hi) = SEARCH_THRESHOLD_BOUNDS;
    if near.disliked(DISLIKED) && near.worse_than(&all.searched) && near.worse_than(&all.sure) {
        next.search_threshold = (t + THRESHOLD_STEP).clamp(lo, hi);
        if next.search_threshold > t {
            let careful = match next.unsure_action {
                UnsureAction::Search => "search the web",
                _ => "say when I'm unsure",
            };
            reasons.push(format!(
                "I'll {careful} more often: of the answers I was only just sure of \
                 (confidence {t:.2}–{:.2}), {}.",
                t + BAND,
                near.describe()
            ));
        }
    } else if searched.disliked(DISLIKED) && searched.worse_than(&all.near) {
        next.search_threshold = (t - THRESHOLD_STEP).clamp(lo, hi);
        if next.search_threshold < t {
            reasons.push(format!(
                "I'll search the web less often: of the answers after a web search, {}.",
                searched.describe()
            ));
        } else if current.unsure_action == UnsureAction::Search {
            next.unsure_action = UnsureAction::Hedge;
            reasons.push(format!(
                "When I'm unsure I'll say so instead of searching: of the answers after a web \
                 search, {}.",
                searched.describe()
            ));
        }
    }

    // The ask threshold: when to ask back instead of guessing.
    let (ask_lo, ask_hi) = ASK_THRESHOLD_BOUNDS;
    let ask_ceiling = (next.search_threshold - THRESHOLD_GAP)
        .min(ask_hi)
        .max(ask_lo);
    // Off-topic after a search blames the search results, not the request's clarity.
    let unsure_replies: Vec<&ExperienceSample> = fresh
        .iter()
        .filter(|r| r.gate_action == GateAction::Answer && !r.searched)
        .filter(|r| r.score().is_some_and(|c| c < t))
        .copied()
        .collect();
    let off_topic = unsure_replies
        .iter()
        .filter(|r| r.has_tag(OFF_TOPIC))
        .count();
    let mut ask = t_ask;
    if asks.rated >= MIN_ASKS && asks.rate() >= 0.5 {
        ask = t_ask - THRESHOLD_STEP;
    } else if off_topic >= MIN_TAGGED
        && off_topic as f64 >= 0.4 * unsure_replies.len() as f64
        && !(all.asks.rated >= COMPARE_MIN && all.asks.rate() >= 0.5)
    {
        ask = t_ask + THRESHOLD_STEP;
    }
    // Keep the gap below a lowered search threshold even without evidence about asking.
    if ask != t_ask || next.search_threshold < t {
        next.ask_threshold = ask.clamp(ask_lo, ask_ceiling);
        if next.ask_threshold < t_ask && ask < t_ask {
            reasons.push(format!(
                "I'll ask fewer clarifying questions: {} of {} of them got 👎.",
                asks.down, asks.rated
            ));
        } else if next.ask_threshold > t_ask {
            reasons.push(format!(
                "I'll ask when a request is unclear: {off_topic} of {} answers I was unsure \
                 of missed the point (🎯).",
                unsure_replies.len()
            ));
        }
    }

    // Verbosity: only complaints move it, and only down.
    let downs = fresh.iter().filter(|r| r.is_down()).count();
    let verbose = fresh
        .iter()
        .filter(|r| r.is_down() && r.has_tag(TOO_VERBOSE))
        .count();
    if verbose >= MIN_TAGGED && verbose * 3 >= downs {
        let (v_lo, v_hi) = VERBOSITY_BOUNDS;
        let v = (current.verbosity - VERBOSITY_STEP).clamp(v_lo, v_hi);
        if v < current.verbosity {
            next.verbosity = v;
            reasons.push(format!(
                "I'll keep answers shorter: {verbose} of your last {downs} 👎 said too verbose."
            ));
        }
    }

    if next == *current {
        return None;
    }
    next.version = current.version + 1;
    next.reason = if reasons.is_empty() {
        "kept the ask threshold below the search threshold".into()
    } else {
        reasons.join(" ")
    };
    next.updated_at = Some(now);
    Some((next, reasons))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: i64, hour: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap()
            + Duration::days(day)
            + Duration::hours(hour)
    }

    fn row(
        day: i64,
        action: GateAction,
        conf: f32,
        feedback: i16,
        tags: &[&str],
    ) -> ExperienceSample {
        ExperienceSample {
            feedback: Some(feedback),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..ExperienceSample::new(at(day, 10), action, Some(conf))
        }
    }

    #[test]
    fn no_rated_rows_no_change() {
        let p = BehaviourProfile::default();
        assert_eq!(update(&p, &[], at(1, 3)), None);
        let unrated = ExperienceSample::new(at(0, 10), GateAction::Answer, Some(0.5));
        assert_eq!(update(&p, &[unrated], at(1, 3)), None);
    }

    #[test]
    fn too_little_evidence_moves_nothing() {
        let p = BehaviourProfile::default();
        let rows: Vec<_> = (0..4)
            .map(|_| row(0, GateAction::Answer, 0.47, -1, &[HALLUCINATED]))
            .collect();
        assert_eq!(update(&p, &rows, at(1, 3)), None);
    }

    #[test]
    fn disliked_near_answers_raise_the_search_threshold_once() {
        let p = BehaviourProfile::default();
        let rows: Vec<_> = (0..6)
            .map(|i| {
                row(
                    0,
                    GateAction::Answer,
                    0.46 + i as f32 * 0.01,
                    -1,
                    &[HALLUCINATED],
                )
            })
            .collect();
        let (next, reasons) = update(&p, &rows, at(1, 3)).unwrap();
        assert!((next.search_threshold - 0.50).abs() < 1e-6);
        assert_eq!(next.version, 1);
        assert_eq!(next.updated_at, Some(at(1, 3)));
        assert_eq!(reasons.len(), 1);
        assert!(
            reasons[0].contains("6 of 6 got 👎, 6 marked wrong or made up"),
            "{reasons:?}"
        );
        // Idempotent: the same rows again change nothing.
        assert_eq!(update(&next, &rows, at(1, 3)), None);
        assert_eq!(update(&next, &rows, at(2, 3)), None);
    }

    #[test]
    fn feedback_arriving_after_a_change_is_fresh_evidence() {
        let p = BehaviourProfile {
            updated_at: Some(at(1, 3)),
            ..BehaviourProfile::default()
        };
        let mut rows: Vec<_> = (0..6)
            .map(|_| row(0, GateAction::Answer, 0.47, -1, &[]))
            .collect();
        assert_eq!(update(&p, &rows, at(2, 3)), None, "rated before the change");
        for r in &mut rows {
            r.feedback_at = Some(at(1, 12));
        }
        assert!(update(&p, &rows, at(2, 3)).is_some());
    }

    #[test]
    fn rows_older_than_the_window_do_not_count() {
        let p = BehaviourProfile::default();
        let rows: Vec<_> = (0..8)
            .map(|_| row(0, GateAction::Answer, 0.47, -1, &[]))
            .collect();
        assert_eq!(update(&p, &rows, at(WINDOW_DAYS + 1, 3)), None);
    }

    #[test]
    fn when_searching_is_no_better_the_threshold_stays() {
        let p = BehaviourProfile::default();
        let mut rows: Vec<_> = (0..6)
            .map(|_| row(0, GateAction::Answer, 0.5, -1, &[]))
            .collect();
        rows.extend((0..4).map(|_| row(0, GateAction::Search, 0.5, -1, &[])));
        // Near answers 6/6 👎, searches 4/4 👎: a grumpy user, not a threshold problem.
        let (next, _) = update(&p, &rows, at(1, 3)).unwrap_or((p.clone(), vec![]));
        assert_eq!(next.search_threshold, p.search_threshold);
    }

    #[test]
    fn disliked_searches_lower_the_threshold_then_stop_searching() {
        let mut p = BehaviourProfile {
            unsure_action: UnsureAction::Search,
            ..BehaviourProfile::default()
        };
        let rows: Vec<_> = (0..6)
            .map(|_| row(0, GateAction::Search, 0.6, -1, &[OFF_TOPIC]))
            .collect();
        let (next, reasons) = update(&p, &rows, at(1, 3)).unwrap();
        assert!((next.search_threshold - 0.40).abs() < 1e-6);
        assert!(
            reasons[0].contains("search the web less often"),
            "{reasons:?}"
        );
        p.search_threshold = SEARCH_THRESHOLD_BOUNDS.0;
        p.ask_threshold = 0.1;
        let (next, reasons) = update(&p, &rows, at(1, 3)).unwrap();
        assert_eq!(next.search_threshold, SEARCH_THRESHOLD_BOUNDS.0);
        assert_eq!(next.unsure_action, UnsureAction::Hedge);
        assert!(reasons[0].contains("instead of searching"), "{reasons:?}");
    }

    #[test]
    fn disliked_unsure_answers_make_the_unsure_action_more_careful() {
        let p = BehaviourProfile {
            unsure_action: UnsureAction::Answer,
            ..BehaviourProfile::default()
        };
        let rows: Vec<_> = (0..5)
            .map(|_| row(0, GateAction::Answer, 0.3, -1, &[WRONG]))
            .collect();
        let (next, _) = update(&p, &rows, at(1, 3)).unwrap();
        assert_eq!(next.unsure_action, UnsureAction::Hedge);
    }

    #[test]
    fn verbosity_drops_on_too_verbose_complaints() {
        let p = BehaviourProfile::default();
        let mut rows: Vec<_> = (0..4)
            .map(|_| row(0, GateAction::Answer, 0.9, -1, &[TOO_VERBOSE]))
            .collect();
        rows.extend((0..2).map(|_| row(0, GateAction::Answer, 0.9, -1, &[])));
        rows.extend((0..5).map(|_| row(0, GateAction::Answer, 0.9, 1, &[])));
        let (next, reasons) = update(&p, &rows, at(1, 3)).unwrap();
        assert!((next.verbosity - 0.4).abs() < 1e-6);
        assert_eq!(
            reasons,
            vec!["I'll keep answers shorter: 4 of your last 6 👎 said too verbose.".to_owned()]
        );
        assert_eq!(next.reason, reasons[0]);
    }

    #[test]
    fn asks_move_with_their_feedback() {
        let p = BehaviourProfile::default();
        let rows: Vec<_> = (0..4)
            .map(|_| row(0, GateAction::Ask, 0.1, -1, &[]))
            .collect();
        let (next, reasons) = update(&p, &rows, at(1, 3)).unwrap();
        assert!((next.ask_threshold - 0.20).abs() < 1e-6);
        assert!(reasons[0].contains("fewer clarifying questions"));

        let rows: Vec<_> = (0..3)
            .map(|_| row(0, GateAction::Answer, 0.3, -1, &[OFF_TOPIC]))
            .collect();
        let (next, reasons) = update(&p, &rows, at(1, 3)).unwrap();
        assert!((next.ask_threshold - 0.30).abs() < 1e-6);
        assert!(reasons[0].contains("unclear"), "{reasons:?}");
    }

    #[test]
    fn the_ask_threshold_keeps_below_the_search_threshold() {
        let p = BehaviourProfile {
            search_threshold: 0.4,
            ask_threshold: 0.3,
            ..BehaviourProfile::default()
        };
        let rows: Vec<_> = (0..3)
            .map(|_| row(0, GateAction::Answer, 0.2, -1, &[OFF_TOPIC]))
            .collect();
        // It would rise, but 0.3 is already at the gap: nothing to do.
        assert_eq!(update(&p, &rows, at(1, 3)), None);
    }

    fn any_row() -> impl proptest::strategy::Strategy<Value = ExperienceSample> {
        use proptest::prelude::*;
        (
            0i64..20,
            prop_oneof![
                Just(GateAction::Answer),
                Just(GateAction::Search),
                Just(GateAction::Ask)
            ],
            proptest::option::of(0.0f32..=1.0),
            prop_oneof![Just(None), Just(Some(-1i16)), Just(Some(0)), Just(Some(1))],
            proptest::sample::subsequence(vec![HALLUCINATED, TOO_VERBOSE, OFF_TOPIC, WRONG], 0..=2),
            any::<bool>(),
        )
            .prop_map(
                |(day, action, conf, feedback, tags, searched)| ExperienceSample {
                    feedback,
                    tags: tags.into_iter().map(str::to_owned).collect(),
                    searched: searched || action == GateAction::Search,
                    ..ExperienceSample::new(at(day, 10), action, conf)
                },
            )
    }

    fn any_profile() -> impl proptest::strategy::Strategy<Value = BehaviourProfile> {
        use proptest::prelude::*;
        (0.2f32..=0.8, 0.1f32..=0.5, 0.1f32..=0.9, 0usize..3).prop_map(|(s, a, v, u)| {
            BehaviourProfile {
                search_threshold: s,
                ask_threshold: a.min(s - THRESHOLD_GAP).max(ASK_THRESHOLD_BOUNDS.0),
                verbosity: v,
                unsure_action: [
                    UnsureAction::Answer,
                    UnsureAction::Hedge,
                    UnsureAction::Search,
                ][u],
                ..BehaviourProfile::default()
            }
        })
    }

    proptest::proptest! {
        #[test]
        fn updates_are_bounded_small_and_idempotent(
            rows in proptest::collection::vec(any_row(), 0..120),
            p in any_profile(),
        ) {
            let now = at(20, 3);
            if let Some((next, reasons)) = update(&p, &rows, now) {
                proptest::prop_assert_eq!(next.version, p.version + 1);
                proptest::prop_assert!(!next.reason.is_empty());
                proptest::prop_assert!(reasons.len() <= 4, "{:?}", reasons);
                proptest::prop_assert!((next.search_threshold - p.search_threshold).abs() <= THRESHOLD_STEP + 1e-6);
                proptest::prop_assert!((next.ask_threshold - p.ask_threshold).abs() <= THRESHOLD_STEP + 1e-6);
                proptest::prop_assert!((next.verbosity - p.verbosity).abs() <= VERBOSITY_STEP + 1e-6);
                let (lo, hi) = SEARCH_THRESHOLD_BOUNDS;
                proptest::prop_assert!((lo..=hi).contains(&next.search_threshold));
                let (lo, hi) = ASK_THRESHOLD_BOUNDS;
                proptest::prop_assert!((lo..=hi).contains(&next.ask_threshold));
                proptest::prop_assert!(next.ask_threshold <= next.search_threshold - THRESHOLD_GAP + 1e-6);
                let (lo, hi) = VERBOSITY_BOUNDS;
                proptest::prop_assert!((lo..=hi).contains(&next.verbosity));
                // No new evidence, no change: the same night again, or any later night.
                proptest::prop_assert_eq!(update(&next, &rows, now), None);
                proptest::prop_assert_eq!(update(&next, &rows, at(25, 3)), None);
            }
        }
    }
}
