//! The numbers behind `!stats`, and their Markdown. Pure: the caller chooses which rows
//! (e.g. the last 30 days) and passes the current profile.

use std::collections::HashMap;
use std::fmt::Write;

use super::{BehaviourProfile, ExperienceSample, auroc};
use crate::behaviour::auroc::{MIN_AUROC_PER_CLASS, MIN_AUROC_RATINGS};
use crate::gate::GateAction;
use crate::reaction_key::tags::reaction_for_tag;

/// Buckets of width 0.2 over [0, 1]; the last one includes 1.0.
const BUCKETS: usize = 5;

/// Replies whose confidence fell in `[low, high)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfidenceBucket {
    pub low: f32,
    pub high: f32,
    pub replies: usize,
    pub rated: usize,
    pub thumbs_down: usize,
}

impl ConfidenceBucket {
    /// Share of the rated replies that got 👎, if any were rated.
    pub fn down_rate(&self) -> Option<f64> {
        (self.rated > 0).then(|| self.thumbs_down as f64 / self.rated as f64)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActionCounts {
    pub answer: usize,
    pub search: usize,
    pub ask: usize,
}

/// Feedback statistics over a set of replies.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub replies: usize,
    pub rated: usize,
    pub thumbs_up: usize,
    pub thumbs_down: usize,
    /// Five buckets from low to high confidence.
    pub buckets: Vec<ConfidenceBucket>,
    /// Replies without a confidence (no logprobs).
    pub without_confidence: usize,
    /// What the gate decided.
    pub actions: ActionCounts,
    /// Replies for which a web search ran.
    pub searched: usize,
    /// Tags, most frequent first (ties by name).
    pub top_tags: Vec<(String, usize)>,
    /// How well low confidence predicts 👎, once there are enough ratings.
    pub auroc: Option<f64>,
}

impl Stats {
    /// Share of replies that were rated, if there are any replies.
    pub fn rated_share(&self) -> Option<f64> {
        (self.replies > 0).then(|| self.rated as f64 / self.replies as f64)
    }

    /// `!stats` as Markdown (lists only: not every client renders tables).
    pub fn to_markdown(&self, profile: &BehaviourProfile) -> String {
        let mut out = String::new();
        let pct = |x: f64| format!("{:.0}%", x * 100.0);
        let _ = writeln!(
            out,
            "**Replies:** {} · rated {}{} · 👍 {} · 👎 {}",
            self.replies,
            self.rated,
            self.rated_share()
                .map(|s| format!(" ({})", pct(s)))
                .unwrap_or_default(),
            self.thumbs_up,
            self.thumbs_down
        );
        let _ = writeln!(
            out,
            "**Gate:** answered {} · searched first {} · asked back {} (web searches run: {})",
            self.actions.answer, self.actions.search, self.actions.ask, self.searched
        );
        let _ = writeln!(out, "\n**Confidence and 👎 rate:**");
        for b in &self.buckets {
            let rate = b
                .down_rate()
                .map(|r| format!("👎 {}", pct(r)))
                .unwrap_or_else(|| "no ratings".into());
            let _ = writeln!(
                out,
                "- {:.1}–{:.1}: {} replies, {} rated, {rate}",
                b.low, b.high, b.replies, b.rated
            );
        }
        if self.without_confidence > 0 {
            let _ = writeln!(out, "- no confidence: {} replies", self.without_confidence);
        }
        if !self.top_tags.is_empty() {
            let tags: Vec<String> = self
                .top_tags
                .iter()
                .map(|(t, n)| {
                    let emoji = reaction_for_tag(t)
                        .map(|e| format!("{e} "))
                        .unwrap_or_default();
                    format!("{emoji}{} {n}", t.replace('_', " "))
                })
                .collect();
            let _ = writeln!(out, "\n**Top tags:** {}", tags.join(" · "));
        }
        let _ = match self.auroc {
            Some(a) => writeln!(
                out,
                "\n**Does low confidence predict 👎?** AUROC {a:.2} (0.5 = no better than chance, 1 = perfectly)"
            ),
            None => writeln!(
                out,
                "\n**Does low confidence predict 👎?** Not enough ratings yet (needs {MIN_AUROC_RATINGS}, at least {MIN_AUROC_PER_CLASS} each of 👍 and 👎)."
            ),
        };
        let _ = writeln!(
            out,
            "\n**Behaviour (v{}):** {}\n_{}_",
            profile.version,
            profile.summary(),
            profile.reason
        );
        out.trim_end().to_owned()
    }
}

/// Aggregates the replies for `!stats`.
pub fn stats(samples: &[ExperienceSample]) -> Stats {
    let mut buckets: Vec<ConfidenceBucket> = (0..BUCKETS)
        .map(|i| ConfidenceBucket {
            low: i as f32 / BUCKETS as f32,
            high: (i + 1) as f32 / BUCKETS as f32,
            replies: 0,
            rated: 0,
            thumbs_down: 0,
        })
        .collect();
    let mut actions = ActionCounts::default();
    let mut tags: HashMap<&str, usize> = HashMap::new();
    let mut without_confidence = 0;
    for s in samples {
        match s.gate_action {
            GateAction::Answer => actions.answer += 1,
            GateAction::Search => actions.search += 1,
            GateAction::Ask => actions.ask += 1,
        }
        match s.score() {
            Some(c) => {
                let i = ((c.clamp(0.0, 1.0) * BUCKETS as f32) as usize).min(BUCKETS - 1);
                let b = &mut buckets[i];
                b.replies += 1;
                if s.is_rated() {
                    b.rated += 1;
                }
                if s.is_down() {
                    b.thumbs_down += 1;
                }
            }
            None => without_confidence += 1,
        }
        for t in &s.tags {
            *tags.entry(t.as_str()).or_default() += 1;
        }
    }
    let mut top_tags: Vec<(String, usize)> =
        tags.into_iter().map(|(t, n)| (t.to_owned(), n)).collect();
    top_tags.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top_tags.truncate(5);
    Stats {
        replies: samples.len(),
        rated: samples.iter().filter(|s| s.is_rated()).count(),
        thumbs_up: samples.iter().filter(|s| s.is_up()).count(),
        thumbs_down: samples.iter().filter(|s| s.is_down()).count(),
        buckets,
        without_confidence,
        actions,
        searched: samples.iter().filter(|s| s.searched).count(),
        top_tags,
        auroc: auroc(samples),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::behaviour::{HALLUCINATED, TOO_VERBOSE};

    fn s(
        action: GateAction,
        conf: Option<f32>,
        fb: Option<i16>,
        tags: &[&str],
    ) -> ExperienceSample {
        ExperienceSample {
            feedback: fb,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..ExperienceSample::new(Utc::now(), action, conf)
        }
    }

    #[test]
    fn aggregates_and_renders() {
        let rows = vec![
            s(GateAction::Answer, Some(0.1), Some(-1), &[HALLUCINATED]),
            s(
                GateAction::Answer,
                Some(0.15),
                Some(-1),
                &[HALLUCINATED, TOO_VERBOSE],
            ),
            s(GateAction::Search, Some(0.5), Some(1), &[]),
            s(GateAction::Ask, Some(0.2), None, &[]),
            s(GateAction::Answer, Some(1.0), Some(1), &[]),
            s(GateAction::Answer, None, Some(0), &[]),
        ];
        let st = stats(&rows);
        assert_eq!(
            (st.replies, st.rated, st.thumbs_up, st.thumbs_down),
            (6, 4, 2, 2)
        );
        assert_eq!(st.rated_share(), Some(4.0 / 6.0));
        assert_eq!(
            st.actions,
            ActionCounts {
                answer: 4,
                search: 1,
                ask: 1
            }
        );
        assert_eq!(st.searched, 1);
        assert_eq!(st.without_confidence, 1);
        assert_eq!(st.buckets[0].replies, 2);
        assert_eq!(st.buckets[0].down_rate(), Some(1.0));
        assert_eq!(st.buckets[1].replies, 1, "0.2 belongs to the second bucket");
        assert_eq!(st.buckets[1].down_rate(), None);
        assert_eq!(st.buckets[4].replies, 1, "1.0 belongs to the last bucket");
        assert_eq!(
            st.top_tags,
            vec![(HALLUCINATED.to_owned(), 2), (TOO_VERBOSE.to_owned(), 1)]
        );
        assert_eq!(st.auroc, None);

        let md = st.to_markdown(&BehaviourProfile::default());
        assert!(
            md.contains("**Replies:** 6 · rated 4 (67%) · 👍 2 · 👎 2"),
            "{md}"
        );
        assert!(
            md.contains("- 0.0–0.2: 2 replies, 2 rated, 👎 100%"),
            "{md}"
        );
        assert!(md.contains("🤥 hallucinated 2 · 📜 too verbose 1"), "{md}");
        assert!(md.contains("Not enough ratings yet"), "{md}");
        assert!(md.contains("**Behaviour (v0):**"), "{md}");
    }

    #[test]
    fn empty_stats_render() {
        let st = stats(&[]);
        assert_eq!(st.rated_share(), None);
        let md = st.to_markdown(&BehaviourProfile::default());
        assert!(
            md.starts_with("**Replies:** 0 · rated 0 · 👍 0 · 👎 0"),
            "{md}"
        );
    }
}
