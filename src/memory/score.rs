//! The arithmetic of retrieval, kept pure so it can be tested without a database:
//!
//! 1. **Reciprocal rank fusion** merges the full-text and the vector candidate lists. Each
//!    list only contributes ranks, never raw scores, so a text score and a cosine distance
//!    never have to be put on one scale: `rrf(d) = Σ 1 / (K + rank_i(d))`.
//!    The full-text list of a natural question is ranked by the rarity of the words a fact
//!    shares with it ([`weigh_terms`]): an IDF weight from the column's statistics, so
//!    "Caroline" (in half the facts) counts less than "adoption".
//! 2. **Boosts** multiply the fused score by `1 + priority + cluster importance + recency`
//!    terms, each small enough that relevance still decides between clearly better and
//!    worse matches.
//! 3. **Packing** puts the user profile first, then facts best first while they fit the
//!    token budget, and words the result for the system prompt.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

/// The `K` of reciprocal rank fusion. The classic 60 is tuned for fusing long result lists;
/// with a few dozen candidates a smaller K keeps the gap between rank 1 and rank 10 large
/// enough for the boosts not to drown it (and measured best on LoCoMo among 5–40).
pub const RRF_K: f64 = 10.0;

/// Fuses ranked lists of ids (best first) into one ranking, best first. Ties keep the order
/// in which ids were first seen (list by list), so the result is deterministic.
pub fn reciprocal_rank_fusion(lists: &[Vec<i64>], k: f64) -> Vec<(i64, f64)> {
    let mut scores: HashMap<i64, (f64, usize)> = HashMap::new();
    let mut seen = 0usize;
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            let entry = scores.entry(*id).or_insert_with(|| {
                seen += 1;
                (0.0, seen)
            });
            entry.0 += 1.0 / (k + rank as f64 + 1.0);
        }
    }
    let mut out: Vec<(i64, f64, usize)> = scores
        .into_iter()
        .map(|(id, (s, order))| (id, s, order))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    out.into_iter().map(|(id, s, _)| (id, s)).collect()
}

/// How much each signal may add to a fact's fused score (as a fraction of it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoostWeights {
    /// Added in full for priority 5, nothing for priority 1.
    pub priority: f64,
    /// Times the cluster's importance (clamped to 0–1).
    pub importance: f64,
    /// Added in full for a fact confirmed just now, half after `half_life_days`.
    pub recency: f64,
    pub half_life_days: f64,
}

impl Default for BoostWeights {
    fn default() -> Self {
        BoostWeights {
            priority: 0.2,
            importance: 0.1,
            recency: 0.1,
            half_life_days: 30.0,
        }
    }
}

/// What the boosts look at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signals {
    pub priority: u8,
    /// `clusters.importance` of the fact's cluster, if it has one (expected in 0–1).
    pub importance: Option<f32>,
    /// When the fact was last stated or confirmed.
    pub updated_at: DateTime<Utc>,
}

/// The factor (≥ 1) a fused score is multiplied by.
pub fn boost(signals: &Signals, now: DateTime<Utc>, w: &BoostWeights) -> f64 {
    let priority = (f64::from(signals.priority.clamp(1, 5)) - 1.0) / 4.0;
    let importance = signals
        .importance
        .map(|i| f64::from(i).clamp(0.0, 1.0))
        .filter(|i| i.is_finite())
        .unwrap_or(0.0);
    let age_days = ((now - signals.updated_at).num_seconds() as f64 / 86_400.0).max(0.0);
    let recency = if w.half_life_days > 0.0 {
        0.5f64.powf(age_days / w.half_life_days)
    } else {
        0.0
    };
    1.0 + w.priority * priority + w.importance * importance + w.recency * recency
}

/// Rough token count, erring high for any script: ~3.5 ASCII characters a token (at least
/// one per word), and one token per byte of anything else (CJK, emoji), which a byte-level
/// tokenizer can never exceed; the 3.5-character rule alone underrates those several times.
pub fn estimate_tokens(text: &str) -> usize {
    let ascii = text.chars().filter(char::is_ascii).count();
    let other_bytes = text.len() - ascii;
    let words = text.split_whitespace().count();
    ((ascii * 2).div_ceil(7) + other_bytes).max(words) + 4
}

/// One fact offered to the packer, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct PackItem<'a> {
    pub text: &'a str,
    /// When it was learned or last confirmed; shown as a date so the model can reason about
    /// time ("last week", "in May").
    pub date: DateTime<Utc>,
}

/// The packer's result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Packed {
    /// Ready for the system prompt; empty when there is nothing to say.
    pub context: String,
    /// Indices (into the offered items) of the facts that made it in, best first.
    pub included: Vec<usize>,
    pub profile_included: bool,
}

const PROFILE_HEADER: &str = "What you know about the user:";
const FACTS_HEADER: &str =
    "Memories that may help (most relevant first; dates are when you learned them):";

/// Packs the profile (at most half the budget, cut at a word if longer) and then up to `k`
/// facts, best first, skipping any that would overflow `budget` tokens.
pub fn pack(profile: Option<&str>, items: &[PackItem<'_>], k: usize, budget: usize) -> Packed {
    let mut out = Packed::default();
    let mut used = 0usize;
    let mut context = String::new();

    if let Some(profile) = profile.map(str::trim).filter(|p| !p.is_empty()) {
        let room = (budget / 2).saturating_sub(estimate_tokens(PROFILE_HEADER));
        let text = truncate_to_tokens(profile, room);
        if !text.is_empty() {
            context.push_str(PROFILE_HEADER);
            context.push('\n');
            context.push_str(&text);
            used += estimate_tokens(PROFILE_HEADER) + estimate_tokens(&text);
            out.profile_included = true;
        }
    }

    let header_cost = estimate_tokens(FACTS_HEADER);
    let mut lines = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if out.included.len() >= k {
            break;
        }
        let line = format!("- {}: {}", item.date.format("%Y-%m-%d"), item.text);
        let cost = estimate_tokens(&line) + if lines.is_empty() { header_cost } else { 0 };
        if used + cost > budget {
            continue;
        }
        used += cost;
        lines.push(line);
        out.included.push(i);
    }
    if !lines.is_empty() {
        if !context.is_empty() {
            context.push_str("\n\n");
        }
        context.push_str(FACTS_HEADER);
        for line in lines {
            context.push('\n');
            context.push_str(&line);
        }
    }
    out.context = context;
    out
}

/// The longest prefix of `text` (cut after a word, marked with "…") within `tokens`.
pub fn truncate_to_tokens(text: &str, tokens: usize) -> String {
    if estimate_tokens(text) <= tokens {
        return text.to_owned();
    }
    let mut out = String::new();
    for word in text.split_whitespace() {
        let candidate = if out.is_empty() {
            word.to_owned()
        } else {
            format!("{out} {word}")
        };
        if estimate_tokens(&format!("{candidate}…")) > tokens {
            break;
        }
        out = candidate;
    }
    if out.is_empty() {
        out
    } else {
        format!("{out}…")
    }
}

/// Words that say nothing in a question to one's own assistant, on top of the English stop
/// words Postgres drops itself: nearly every extracted fact says "The user…".
const QUESTION_NOISE: [&str; 8] = [
    "user", "users", "remember", "remind", "know", "tell", "recall", "please",
];

/// The words of a question, lower-cased, de-duplicated, without [`QUESTION_NOISE`]; only
/// letters and digits pass, so they are safe in any `tsquery` syntax. At most 32.
pub fn question_words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.chars().count() <= 64)
    {
        let w = w.to_lowercase();
        if !words.contains(&w) && !QUESTION_NOISE.contains(&w.as_str()) {
            words.push(w);
        }
        if words.len() == 32 {
            break;
        }
    }
    words
}

/// The words of a natural question joined by `|`, for `to_tsquery`: "where do I live?"
/// matches any fact containing "live" instead of requiring every word, as
/// `websearch_to_tsquery` does. `None` when there is no word left.
pub fn or_tsquery(query: &str) -> Option<String> {
    let words = question_words(query);
    (!words.is_empty()).then(|| words.join(" | "))
}

/// Terms in more than this fraction of all facts are left out of the any-word search: they
/// carry little meaning and would make the search touch a large part of the table.
pub const MAX_TERM_FREQUENCY: f64 = 0.2;
/// Nor may a term be expected in more than this many facts, so the any-word search stays
/// cheap in a large memory (at 100k facts the cap is 2%).
pub const MAX_TERM_ROWS: f64 = 2000.0;

/// Statistics of the `tsv` column, as `ANALYZE` keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TermStats {
    /// Frequency of the rarest listed lexeme; `None` when there are no statistics yet.
    pub min_frequency: Option<f64>,
    /// Estimated number of facts in the table.
    pub rows: f64,
}

impl TermStats {
    /// The highest frequency a term may have to take part in the any-word search.
    pub fn frequency_cap(&self) -> f64 {
        if self.rows > 0.0 {
            MAX_TERM_FREQUENCY.min(MAX_TERM_ROWS / self.rows)
        } else {
            MAX_TERM_FREQUENCY
        }
    }
}

/// Weights for the stemmed terms of a question, from `(lexeme, frequency)` pairs where the
/// frequency is the share of facts containing it according to the column statistics
/// (`None`: rarer than the rarest listed). The weight is an inverse document frequency,
/// `ln(1 + 1/f)`; terms above [`TermStats::frequency_cap`] are dropped unless every term is
/// that common, then only the rarest stays. Without statistics (a young database) every
/// term weighs 1. Lexemes that could not be quoted safely in a `tsquery` are skipped. Pure.
pub fn weigh_terms(terms: &[(String, Option<f64>)], stats: TermStats) -> Vec<(String, f64)> {
    let mut seen: Vec<&str> = Vec::new();
    let mut freq: Vec<(&str, f64)> = Vec::new();
    for (lexeme, f) in terms {
        if lexeme.is_empty() || lexeme.contains(['\'', '\\']) || seen.contains(&lexeme.as_str()) {
            continue;
        }
        seen.push(lexeme);
        let f = match stats.min_frequency {
            Some(min) => f.unwrap_or(min / 2.0),
            None => f64::NAN,
        };
        freq.push((lexeme, f));
    }
    if stats.min_frequency.is_none() {
        return freq.into_iter().map(|(l, _)| (l.to_owned(), 1.0)).collect();
    }
    let idf = |f: f64| (1.0 + 1.0 / f.max(1e-6)).ln();
    let cap = stats.frequency_cap();
    let kept: Vec<(String, f64)> = freq
        .iter()
        .filter(|(_, f)| *f <= cap)
        .map(|(l, f)| ((*l).to_owned(), idf(*f)))
        .collect();
    if !kept.is_empty() {
        return kept;
    }
    freq.iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(l, f)| vec![((*l).to_owned(), idf(*f))])
        .unwrap_or_default()
}

/// A lexeme as a `tsquery` operand: `'lexeme'` (callers pass lexemes from [`weigh_terms`],
/// which contain no quote or backslash).
pub fn quoted_lexeme(lexeme: &str) -> String {
    format!("'{lexeme}'")
}

/// Nearest-rank percentile of unsorted samples (`p` in 0–100); 0 for no samples.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn rrf_rewards_agreement_between_lists() {
        let fused = reciprocal_rank_fusion(&[vec![1, 2, 3], vec![3, 4, 1]], 60.0);
        let ids: Vec<i64> = fused.iter().map(|(id, _)| *id).collect();
        // 1 is first and third, 3 is third and first: equal; 1 was seen first.
        assert_eq!(ids, vec![1, 3, 2, 4]);
        let s1 = fused[0].1;
        assert!((s1 - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-12);
        // 2 and 4 are both second in one list: equal scores, first seen first.
        assert_eq!(fused[2].1, fused[3].1);
    }

    #[test]
    fn rrf_of_one_list_keeps_its_order_and_handles_empty() {
        let fused = reciprocal_rank_fusion(&[vec![9, 8, 7]], RRF_K);
        assert!(fused[0].1 > fused[1].1);
        assert_eq!(fused.iter().map(|f| f.0).collect::<Vec<_>>(), vec![9, 8, 7]);
        assert!(reciprocal_rank_fusion(&[vec![], vec![]], RRF_K).is_empty());
    }

    #[test]
    fn boosts_grow_with_priority_importance_and_recency() {
        let w = BoostWeights::default();
        let now = t0();
        let base = Signals {
            priority: 1,
            importance: None,
            updated_at: now - Duration::days(3650),
        };
        let b0 = boost(&base, now, &w);
        assert!((b0 - 1.0).abs() < 1e-3, "{b0}");
        let p5 = boost(
            &Signals {
                priority: 5,
                ..base
            },
            now,
            &w,
        );
        assert!((p5 - b0 - w.priority).abs() < 1e-9);
        let imp = boost(
            &Signals {
                importance: Some(7.0),
                ..base
            },
            now,
            &w,
        );
        assert!(
            (imp - b0 - w.importance).abs() < 1e-9,
            "importance clamps to 1"
        );
        let fresh = boost(
            &Signals {
                updated_at: now,
                ..base
            },
            now,
            &w,
        );
        let month = boost(
            &Signals {
                updated_at: now - Duration::days(30),
                ..base
            },
            now,
            &w,
        );
        assert!((fresh - 1.0 - w.recency).abs() < 1e-9);
        assert!((month - 1.0 - w.recency / 2.0).abs() < 1e-3);
        // A date in the future counts as now, NaN importance as none.
        let future = Signals {
            updated_at: now + Duration::days(5),
            importance: Some(f32::NAN),
            ..base
        };
        assert!((boost(&future, now, &w) - fresh).abs() < 1e-9);
    }

    #[test]
    fn packing_puts_profile_first_and_respects_k_and_budget() {
        let d = t0();
        let items = [
            PackItem {
                text: "The user lives in Lyon.",
                date: d,
            },
            PackItem {
                text: &"very long fact ".repeat(60),
                date: d,
            },
            PackItem {
                text: "The user has a cat named Miso.",
                date: d,
            },
            PackItem {
                text: "The user likes tea.",
                date: d,
            },
        ];
        let p = pack(Some("Ada, an engineer in Lyon."), &items, 2, 100);
        assert!(p.profile_included);
        assert!(p.context.starts_with(PROFILE_HEADER));
        assert_eq!(
            p.included,
            vec![0, 2],
            "the long one is skipped, k stops at 2"
        );
        assert!(p.context.contains("- 2025-06-01: The user lives in Lyon."));
        let lines = p.context.lines().count();
        assert_eq!(lines, 2 + 1 + 1 + 2, "{}", p.context);
        assert!(estimate_tokens(&p.context) <= 100);

        let none = pack(None, &[], 5, 100);
        assert_eq!(none, Packed::default());
        let tiny = pack(Some(&"word ".repeat(500)), &items, 5, 50);
        assert!(tiny.profile_included);
        assert!(tiny.context.contains('…'));
    }

    #[test]
    fn or_query_is_safe_and_deduplicated() {
        assert_eq!(
            or_tsquery("Where do I live? where!").as_deref(),
            Some("where | do | i | live")
        );
        assert_eq!(
            or_tsquery("a & b | !c:* 'd'").as_deref(),
            Some("a | b | c | d")
        );
        assert_eq!(or_tsquery(" ?! "), None);
        assert_eq!(
            or_tsquery("Do you remember the user's dog?").as_deref(),
            Some("do | you | the | s | dog")
        );
        assert_eq!(
            or_tsquery("Élodie à Zürich").as_deref(),
            Some("élodie | à | zürich")
        );
    }

    #[test]
    fn rare_terms_weigh_more_and_common_ones_drop_out() {
        let t = |l: &str, f: Option<f64>| (l.to_owned(), f);
        let stats = |min: f64, rows: f64| TermStats {
            min_frequency: Some(min),
            rows,
        };
        let w = weigh_terms(
            &[
                t("caroline", Some(0.3)),
                t("adopt", None),
                t("agenc", Some(0.01)),
                t("adopt", None),
            ],
            stats(0.004, 3000.0),
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(w[0].0, "adopt");
        assert!(
            w[0].1 > w[1].1,
            "unlisted means rarer than the rarest listed"
        );
        assert!((w[1].1 - (1.0f64 + 100.0).ln()).abs() < 1e-9);
        // In a large table the cap is in rows: 1% of 1M facts is too many.
        let big = weigh_terms(
            &[t("agenc", Some(0.01)), t("adopt", None)],
            stats(0.0001, 1e6),
        );
        assert_eq!(
            big.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            vec!["adopt"]
        );
        // All common: the rarest stays. No statistics: all weigh 1.
        let common = weigh_terms(
            &[t("like", Some(0.5)), t("user", Some(0.9))],
            stats(0.01, 10.0),
        );
        assert_eq!(
            common.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            vec!["like"]
        );
        let young = weigh_terms(&[t("like", None), t("tea", None)], TermStats::default());
        assert_eq!(
            young,
            vec![("like".to_owned(), 1.0), ("tea".to_owned(), 1.0)]
        );
        assert!(weigh_terms(&[t("it's", None), t("a\\b", None)], TermStats::default()).is_empty());
        assert!(weigh_terms(&[], stats(0.1, 10.0)).is_empty());
        assert_eq!(quoted_lexeme("tea"), "'tea'");
        assert_eq!(TermStats::default().frequency_cap(), MAX_TERM_FREQUENCY);
        assert!((stats(0.1, 100_000.0).frequency_cap() - 0.02).abs() < 1e-12);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&s, 50.0), 50.0);
        assert_eq!(percentile(&s, 95.0), 95.0);
        assert_eq!(percentile(&s, 100.0), 100.0);
        assert_eq!(percentile(&[3.0], 95.0), 3.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn truncation_cuts_at_words() {
        let t = truncate_to_tokens("one two three four five six seven", 8);
        assert!(t.ends_with('…') && t.starts_with("one"), "{t}");
        assert_eq!(truncate_to_tokens("short", 100), "short");
    }

    #[test]
    fn the_token_estimate_errs_high_for_any_script() {
        // Qwen2.5's tokenizer: 10 CJK characters are about 10 tokens, 5 emoji about 10.
        assert!(estimate_tokens("今天天气很好我们去公园") >= 10 + 4);
        assert!(estimate_tokens("🦉🦉🦉🦉🦉") >= 10 + 4);
        assert_eq!(estimate_tokens("Owls hunt at night."), 6 + 4);
    }
}
