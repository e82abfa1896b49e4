//! Three weeks of a simulated user, night by night: synthetic experience rows with a known
//! pattern are produced by the real gate under the current profile, rated by the pattern
//! (with some noise), and fed to the night's update. The profile must move the right way,
//! stay in bounds, in bounded steps, and stop moving once the pattern is absorbed, both with
//! more evidence of the same pattern and with none.

use chrono::{DateTime, Duration, TimeZone, Utc};
use threeam::behaviour::{
    ASK_THRESHOLD_BOUNDS, BehaviourProfile, ExperienceSample, HALLUCINATED, OFF_TOPIC,
    SEARCH_THRESHOLD_BOUNDS, THRESHOLD_STEP, TOO_VERBOSE, VERBOSITY_BOUNDS, VERBOSITY_STEP, update,
};
use threeam::confidence::Confidence;
use threeam::gate::{self, GateAction, GateInput, MemoryCoverage, UnsureAction};

const REPLIES_PER_DAY: usize = 24;
const QUESTION: &str = "What year did the Treaty of Westphalia end the Thirty Years' War?";

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0).unwrap()
}

/// The night after `day`, at 03:00.
fn night(day: usize) -> DateTime<Utc> {
    start() + Duration::days(day as i64 + 1) + Duration::hours(3)
}

/// A deterministic, evenly spread stream in (0, 1): the golden-ratio sequence.
fn spread(n: usize) -> f32 {
    ((0.5 + n as f64 * 0.618_033_988_75).fract() * 0.96 + 0.02) as f32
}

/// A deterministic coin: true for about `percent` % of `n`.
fn coin(n: usize, percent: u64) -> bool {
    let mut h = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 32;
    h % 100 < percent
}

/// The user's taste: given a reply, 👍/👎 and tags (before noise).
type Pattern = fn(conf: f32, searched: bool, profile: &BehaviourProfile) -> (i16, Vec<String>);

/// One day of replies: the gate decides each under `profile`, the user rates 80 % of them by
/// `pattern`, and 8 % of ratings are flipped (people misclick and change their minds).
fn day(d: usize, profile: &BehaviourProfile, pattern: Pattern) -> Vec<ExperienceSample> {
    (0..REPLIES_PER_DAY)
        .map(|i| {
            let n = d * REPLIES_PER_DAY + i;
            let conf = spread(n);
            let decision = gate::decide(
                &GateInput {
                    message: QUESTION,
                    memory: MemoryCoverage::NONE,
                    draft: Some(Confidence {
                        mean_logprob: conf.ln(),
                        min_token_prob: conf,
                        mean_entropy: 1.0 - conf,
                        score: conf,
                    }),
                    web_enabled: true,
                    clarified: false,
                    follows_conversation: false,
                },
                &profile.gate_policy(),
            );
            let created_at =
                start() + Duration::days(d as i64) + Duration::minutes(480 + 30 * i as i64);
            let mut row = ExperienceSample::new(created_at, decision.action, Some(conf));
            if !coin(n, 80) {
                return row;
            }
            let (mut feedback, tags) = pattern(conf, row.searched, profile);
            if coin(n + 1_000_003, 8) {
                feedback = -feedback;
            }
            row.feedback = Some(feedback);
            row.tags = if feedback < 0 { tags } else { vec![] };
            row.feedback_at = Some(created_at + Duration::minutes(5));
            row
        })
        .collect()
}

/// Runs `nights` nights from `profile`; returns every night's profile (index 0 = start).
fn simulate(
    profile: BehaviourProfile,
    nights: usize,
    pattern: Pattern,
) -> (
    Vec<BehaviourProfile>,
    Vec<ExperienceSample>,
    Vec<Vec<String>>,
) {
    let mut history: Vec<ExperienceSample> = Vec::new();
    let mut trajectory = vec![profile];
    let mut reasons = Vec::new();
    for d in 0..nights {
        let current = trajectory.last().unwrap().clone();
        history.extend(day(d, &current, pattern));
        match update(&current, &history, night(d)) {
            Some((next, why)) => {
                reasons.push(why);
                trajectory.push(next);
            }
            None => {
                reasons.push(vec![]);
                trajectory.push(current);
            }
        }
    }
    (trajectory, history, reasons)
}

fn assert_bounded(trajectory: &[BehaviourProfile]) {
    for w in trajectory.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!((b.search_threshold - a.search_threshold).abs() <= THRESHOLD_STEP + 1e-6);
        assert!((b.ask_threshold - a.ask_threshold).abs() <= THRESHOLD_STEP + 1e-6);
        assert!((b.verbosity - a.verbosity).abs() <= VERBOSITY_STEP + 1e-6);
        assert!(
            (SEARCH_THRESHOLD_BOUNDS.0..=SEARCH_THRESHOLD_BOUNDS.1).contains(&b.search_threshold)
        );
        assert!((ASK_THRESHOLD_BOUNDS.0..=ASK_THRESHOLD_BOUNDS.1).contains(&b.ask_threshold));
        assert!((VERBOSITY_BOUNDS.0..=VERBOSITY_BOUNDS.1).contains(&b.verbosity));
        assert!(b.ask_threshold < b.search_threshold);
        assert!(b.version == a.version || b.version == a.version + 1);
    }
}

fn print(name: &str, trajectory: &[BehaviourProfile], reasons: &[Vec<String>]) {
    eprintln!("{name}:");
    for (i, p) in trajectory.iter().enumerate().skip(1) {
        eprintln!(
            "  night {i:2}: v{} search {:.2} ask {:.2} unsure {} verbosity {:.1} {}",
            p.version,
            p.search_threshold,
            p.ask_threshold,
            p.unsure_action,
            p.verbosity,
            reasons[i - 1].join(" ")
        );
    }
}

/// After the run: more nights of no evidence, and re-running the last night, change nothing.
fn assert_settled(last: &BehaviourProfile, history: &[ExperienceSample], nights: usize) {
    assert_eq!(
        update(last, history, night(nights - 1)),
        None,
        "re-run of the last night"
    );
    for extra in nights..nights + 7 {
        assert_eq!(
            update(last, history, night(extra)),
            None,
            "quiet night {extra}"
        );
    }
}

/// Index of the last night that changed the profile.
fn last_change(trajectory: &[BehaviourProfile]) -> usize {
    (1..trajectory.len())
        .rev()
        .find(|&i| trajectory[i] != trajectory[i - 1])
        .unwrap_or(0)
}

/// Answers below 0.6 confidence are wrong unless a web search backed them.
fn knowledge_boundary(conf: f32, searched: bool, _: &BehaviourProfile) -> (i16, Vec<String>) {
    if !searched && conf < 0.6 {
        (-1, vec![HALLUCINATED.to_owned()])
    } else {
        (1, vec![])
    }
}

#[test]
fn low_confidence_answers_get_thumbs_down_unless_searched() {
    let nights = 21;
    let (trajectory, history, reasons) =
        simulate(BehaviourProfile::default(), nights, knowledge_boundary);
    print("knowledge boundary at 0.6", &trajectory, &reasons);
    assert_bounded(&trajectory);

    let first = &trajectory[0];
    let last = trajectory.last().unwrap();
    // The right way: search when unsure, and a threshold up at the boundary.
    assert_eq!(last.unsure_action, UnsureAction::Search);
    assert!(
        (0.6 - 1e-6..=0.65 + 1e-6).contains(&last.search_threshold),
        "{}",
        last.search_threshold
    );
    // Never the wrong way.
    for w in trajectory.windows(2) {
        assert!(w[1].search_threshold >= w[0].search_threshold);
    }
    assert_eq!(last.ask_threshold, first.ask_threshold);
    assert_eq!(last.verbosity, first.verbosity);
    // Absorbed well before the end, then a week of the same pattern moved nothing.
    let settled_at = last_change(&trajectory);
    assert!(
        settled_at <= nights - 7,
        "still moving on night {settled_at}"
    );
    assert!(
        last.reason.contains("search the web more often"),
        "{}",
        last.reason
    );
    assert_settled(last, &history, nights);

    // And the gate now acts on it: a draft at 0.55 is searched, at 0.7 answered.
    let at = |score: f32| {
        gate::decide(
            &GateInput {
                message: QUESTION,
                memory: MemoryCoverage::NONE,
                draft: Some(Confidence {
                    mean_logprob: 0.0,
                    min_token_prob: score,
                    mean_entropy: 0.0,
                    score,
                }),
                web_enabled: true,
                clarified: false,
                follows_conversation: false,
            },
            &last.gate_policy(),
        )
        .action
    };
    assert_eq!(at(0.55), GateAction::Search);
    assert_eq!(at(0.7), GateAction::Answer);
}

/// Searches come back off-topic; plain answers are fine.
fn useless_search(_: f32, searched: bool, _: &BehaviourProfile) -> (i16, Vec<String>) {
    if searched {
        (-1, vec![OFF_TOPIC.to_owned()])
    } else {
        (1, vec![])
    }
}

#[test]
fn when_searching_does_not_help_it_searches_less_then_stops() {
    let nights = 21;
    let start = BehaviourProfile {
        unsure_action: UnsureAction::Search,
        ..BehaviourProfile::default()
    };
    let (trajectory, history, reasons) = simulate(start, nights, useless_search);
    print("useless search", &trajectory, &reasons);
    assert_bounded(&trajectory);
    for w in trajectory.windows(2) {
        assert!(w[1].search_threshold <= w[0].search_threshold);
        assert!(
            w[1].ask_threshold <= w[0].ask_threshold,
            "off-topic searches are not unclear requests"
        );
    }
    let last = trajectory.last().unwrap();
    assert!(last.search_threshold < 0.45);
    assert_eq!(last.unsure_action, UnsureAction::Hedge);
    // Once searching stopped, it did not flip back for lack of fresh searches.
    let settled_at = last_change(&trajectory);
    assert!(
        settled_at <= nights - 5,
        "still moving on night {settled_at}"
    );
    assert_settled(last, &history, nights);
}

/// Every third answer is 👎 "too verbose" until verbosity is down to 0.3.
fn wordy(_: f32, _: bool, profile: &BehaviourProfile) -> (i16, Vec<String>) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if profile.verbosity > 0.3 + 1e-6 && n.is_multiple_of(3) {
        (-1, vec![TOO_VERBOSE.to_owned()])
    } else {
        (1, vec![])
    }
}

#[test]
fn too_verbose_complaints_shorten_answers_until_they_stop() {
    let nights = 21;
    // Sure of everything, so only verbosity is in play.
    let start = BehaviourProfile {
        search_threshold: SEARCH_THRESHOLD_BOUNDS.0,
        ask_threshold: ASK_THRESHOLD_BOUNDS.0,
        ..BehaviourProfile::default()
    };
    let (trajectory, history, reasons) = simulate(start, nights, wordy);
    print("too verbose", &trajectory, &reasons);
    assert_bounded(&trajectory);
    let last = trajectory.last().unwrap();
    assert!((last.verbosity - 0.3).abs() < 1e-6, "{}", last.verbosity);
    assert!(
        reasons
            .iter()
            .flatten()
            .any(|r| r.starts_with("I'll keep answers shorter:")
                && r.contains("👎 said too verbose")),
        "{reasons:?}"
    );
    assert!(last_change(&trajectory) <= 3);
    assert_settled(last, &history, nights);
}
