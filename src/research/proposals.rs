//! Which topics to offer to keep an eye on. Pure: the caller gathers what the user talked
//! about recently, this picks a few.
//!
//! Two sources, both from the last days of conversation:
//! * **what the user asked to look up**: the subjects of messages the gate answered with a
//!   web search, the more often asked the better;
//! * **the user's topics** (the night's clusters) that are active and mostly about interests,
//!   work or plans, not about the person (health, family and identity are never researched).
//!
//! A proposal is never a topic the user already has in any state (approved, rejected,
//! deleted), nor one that speaks of a person ("my", "you").

use std::collections::HashSet;

use chrono::{DateTime, Utc};

/// A subject the user asked to look up.
#[derive(Debug, Clone, PartialEq)]
pub struct Searched {
    pub subject: String,
    pub at: DateTime<Utc>,
}

/// One of the user's topics (a cluster).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterCandidate {
    pub name: String,
    pub size: usize,
    /// Share of its facts about interests, work, plans or knowledge (not the person).
    pub interest_share: f64,
    /// Facts of it were said in the proposal window.
    pub active: bool,
}

/// A topic to offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub topic: String,
    pub query: String,
    /// Why, in a sentence for the user.
    pub reason: String,
}

const MIN_CLUSTER: usize = 2;
const MIN_INTEREST: f64 = 0.6;
const MAX_WORDS: usize = 6;

/// The topic's words, for comparing names.
fn key(topic: &str) -> Vec<String> {
    let mut w: Vec<String> = crate::text::words(topic)
        .into_iter()
        .filter(|w| !crate::text::is_stop_word(w))
        .collect();
    w.sort();
    w.dedup();
    w
}

/// Whether a name is fit to be a topic: a few words, none about a person.
pub fn usable(topic: &str) -> bool {
    let words = crate::text::words(topic);
    let chars = topic.trim().chars().count();
    (3..=60).contains(&chars)
        && !words.is_empty()
        && words.len() <= MAX_WORDS
        && !words.iter().any(|w| {
            crate::text::is_first_person(w)
                || crate::text::is_second_person(w)
                || crate::text::is_first_person_plural(w)
        })
        && key(topic).iter().any(|w| w.len() >= 3)
}

/// The search a topic runs: its name, asking for what is new.
pub fn query_for(topic: &str) -> String {
    format!("{} latest news", topic.trim())
}

/// Up to `limit` proposals, the best first.
pub fn pick(
    searched: &[Searched],
    clusters: &[ClusterCandidate],
    known_topics: &[String],
    limit: usize,
) -> Vec<Proposal> {
    let mut taken: HashSet<Vec<String>> = known_topics.iter().map(|t| key(t)).collect();
    let mut out = Vec::new();

    // Subjects asked about, most often first, then most recent.
    let mut counts: Vec<(Vec<String>, &Searched, usize)> = Vec::new();
    for s in searched {
        let k = key(&s.subject);
        match counts.iter_mut().find(|(ck, _, _)| *ck == k) {
            Some((_, latest, n)) => {
                *n += 1;
                if s.at > latest.at {
                    *latest = s;
                }
            }
            None => counts.push((k, s, 1)),
        }
    }
    counts.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.at.cmp(&a.1.at)));
    for (k, s, n) in counts {
        if out.len() >= limit {
            return out;
        }
        let topic = s
            .subject
            .trim()
            .trim_end_matches(['?', '.', '!'])
            .to_owned();
        if !usable(&topic) || !taken.insert(k) {
            continue;
        }
        let reason = if n > 1 {
            format!("you asked me to look it up {n} times lately")
        } else {
            format!("you asked me to look it up on {}", s.at.format("%-d %B"))
        };
        out.push(Proposal {
            query: query_for(&topic),
            topic,
            reason,
        });
    }

    let mut clusters: Vec<&ClusterCandidate> = clusters
        .iter()
        .filter(|c| c.active && c.size >= MIN_CLUSTER && c.interest_share >= MIN_INTEREST)
        .collect();
    clusters.sort_by_key(|c| std::cmp::Reverse(c.size));
    for c in clusters {
        if out.len() >= limit {
            break;
        }
        if !usable(&c.name) || !taken.insert(key(&c.name)) {
            continue;
        }
        out.push(Proposal {
            topic: c.name.trim().to_owned(),
            query: query_for(&c.name),
            reason: format!(
                "it is one of your topics ({} things you told me recently)",
                c.size
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap()
    }

    fn cluster(name: &str, size: usize, share: f64, active: bool) -> ClusterCandidate {
        ClusterCandidate {
            name: name.into(),
            size,
            interest_share: share,
            active,
        }
    }

    #[test]
    fn asked_subjects_come_first_and_known_topics_never() {
        let searched = [
            Searched {
                subject: "owls".into(),
                at: at(3),
            },
            Searched {
                subject: "rust releases".into(),
                at: at(4),
            },
            Searched {
                subject: "Owls".into(),
                at: at(5),
            },
            Searched {
                subject: "jazz festivals".into(),
                at: at(6),
            },
        ];
        let clusters = [
            cluster("Marathon training", 5, 0.8, true),
            cluster("Family", 9, 0.1, true),
            cluster("Old hobby", 4, 0.9, false),
        ];
        let known = ["Jazz Festivals".to_owned()];
        let p = pick(&searched, &clusters, &known, 3);
        let topics: Vec<&str> = p.iter().map(|p| p.topic.as_str()).collect();
        assert_eq!(topics, ["Owls", "rust releases", "Marathon training"]);
        assert_eq!(p[0].reason, "you asked me to look it up 2 times lately");
        assert_eq!(p[1].reason, "you asked me to look it up on 4 November");
        assert_eq!(p[0].query, "Owls latest news");
    }

    #[test]
    fn the_limit_and_personal_names_hold() {
        let searched = [
            Searched {
                subject: "my blood test results".into(),
                at: at(3),
            },
            Searched {
                subject: "a b".into(),
                at: at(3),
            },
            Searched {
                subject: "the history of every single european railway line".into(),
                at: at(3),
            },
            Searched {
                subject: "owls".into(),
                at: at(3),
            },
        ];
        let p = pick(&searched, &[], &[], 1);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].topic, "owls");
        assert!(pick(&searched, &[], &[], 0).is_empty());
    }
}
