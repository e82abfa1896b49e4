//! What the night asks the chat model, and how the answers are read. Pure. Every call is
//! JSON-schema constrained (a named schema, so tests and logs can tell them apart), and every
//! answer is checked again here: the schema keeps a small model on the rails, this keeps a
//! broken answer from doing harm.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::llm::ChatMessage;
use crate::memory::extract::{FactLimits, read_facts};
use crate::memory::fact::{NewFact, normalize_text};

/// At most this many facts per group.
pub const MAX_FACTS: usize = 8;
/// Facts below this priority are not kept.
pub const MIN_PRIORITY: u8 = 2;
/// Longest fact text, in characters.
pub const MAX_FACT_CHARS: usize = 200;

pub const EXTRACT_SCHEMA_NAME: &str = "night_facts";
pub const CONFLICT_SCHEMA_NAME: &str = "night_conflict";
pub const CLUSTER_SCHEMA_NAME: &str = "night_cluster_name";
pub const PROFILE_SCHEMA_NAME: &str = "night_profile";

/// One exchange as the extraction prompt shows it.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub user: String,
    pub reply: String,
}

pub fn extract_schema(n_exchanges: usize) -> Value {
    crate::memory::extract::facts_schema(MAX_FACTS, MAX_FACT_CHARS, Some(n_exchanges))
}

/// The transcript of a group, exchanges numbered from 1, each side clipped.
pub fn transcript(exchanges: &[Exchange]) -> String {
    let mut s = String::new();
    for (i, e) in exchanges.iter().enumerate() {
        s.push_str(&format!(
            "[{}] User: {}\n    Assistant: {}\n",
            i + 1,
            crate::text::clip(&normalize_text(&e.user), 600),
            crate::text::clip(&normalize_text(&e.reply), 300)
        ));
    }
    s
}

pub fn extract_messages(exchanges: &[Exchange], now: DateTime<Utc>) -> Vec<ChatMessage> {
    let system = format!(
        "You read a day of chat between a user and their assistant and list the lasting facts \
         about the user, as short sentences starting with \"The user\", in English whatever \
         language the user writes in. Only what the user says about themselves, their people, \
         work, health, home, plans and likes; not general knowledge, not what the assistant \
         said, nothing from a question the user asked. Priority: 5 = name, job, home, family; 4 = health, \
         relationships, strong preferences; 3 = plans and useful details; 2 = small details. \
         For each fact give the numbers of the exchanges it comes from. If the user corrects \
         or changes something (a move, a new job), state the new situation. Today is {}. At \
         most {MAX_FACTS} facts; an empty list if nothing is worth remembering.",
        now.format("%A %-d %B %Y"),
    );
    // One worked example in the ways people write (terse lower case, a question that tells
    // nothing, another language answered in English), with names no user of the tests has;
    // the grounding check drops them if the model copies them anyway.
    let example_in = transcript(&[
        Exchange {
            user: "hey, zoltan here. im a plumber, 2 daughters".into(),
            reply: "Nice to meet you, Zoltan!".into(),
        },
        Exchange {
            user: "What's the capital of Peru?".into(),
            reply: "Lima.".into(),
        },
        Exchange {
            user: "Ich wohne seit März in Graz und bin allergisch gegen Nüsse.".into(),
            reply: "Danke, ich merke es mir.".into(),
        },
    ]);
    let example_out = json!({"facts": [
        {"text": "The user's name is Zoltan.", "category": "identity", "priority": 5, "sources": [1]},
        {"text": "The user works as a plumber.", "category": "work", "priority": 5, "sources": [1]},
        {"text": "The user has two daughters.", "category": "relationship", "priority": 5, "sources": [1]},
        {"text": "The user lives in Graz.", "category": "identity", "priority": 5, "sources": [3]},
        {"text": "The user is allergic to nuts.", "category": "health", "priority": 4, "sources": [3]}
    ]});
    vec![
        ChatMessage::system(system),
        ChatMessage::user(example_in),
        ChatMessage::assistant(example_out.to_string()),
        ChatMessage::user(transcript(exchanges)),
    ]
}

/// A fact the model extracted, with the (1-based) exchanges it cites.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub fact: NewFact,
    pub sources: Vec<usize>,
}

/// Reads the extraction answer: at most [`MAX_FACTS`] facts of priority ≥ [`MIN_PRIORITY`],
/// no repeats, texts within bounds, sources within `1..=n` (a fact citing none cites the
/// whole group). Total and pure.
pub fn read_extracted(raw: &Value, n: usize) -> Vec<Extracted> {
    let text = |item: &Value| item.get("text").and_then(Value::as_str).map(str::to_owned);
    let priority = |item: &Value| match item.get("priority").and_then(Value::as_f64) {
        Some(p) if p.is_finite() => p.round().clamp(1.0, 5.0) as u8,
        _ => 3,
    };
    let limits = FactLimits {
        max_items: MAX_FACTS,
        max_chars: MAX_FACT_CHARS,
        min_priority: MIN_PRIORITY,
    };
    read_facts(raw, limits, text, priority)
        .into_iter()
        .map(|(fact, item)| {
            let mut sources: Vec<usize> = item
                .get("sources")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_u64)
                        .map(|s| s as usize)
                        .filter(|s| (1..=n).contains(s))
                        .collect()
                })
                .unwrap_or_default();
            sources.sort_unstable();
            sources.dedup();
            if sources.is_empty() {
                sources = (1..=n).collect();
            }
            Extracted { fact, sources }
        })
        .collect()
}

/// Whether `fact` keeps to what the user stated in these exchanges (see
/// [`crate::memory::grounding`]): in one of their messages, or in all of them together. Facts
/// about the user come from the user, not from the assistant's replies (which may invent
/// them), nor from the user's questions ("What am I allergic to?" states no allergy).
pub fn grounded(fact: &str, exchanges: &[Exchange]) -> bool {
    let stated: Vec<String> = exchanges
        .iter()
        .filter(|e| !crate::memory::grounding::nothing_to_learn(&e.user))
        .map(|e| normalize_text(&e.user))
        .collect();
    stated.iter().any(|m| crate::memory::grounded(fact, m))
        || crate::memory::grounded(fact, &stated.join("\n"))
}

pub fn conflict_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"replaces": {"type": "boolean"}},
        "required": ["replaces"],
        "additionalProperties": false
    })
}

pub fn conflict_messages(old: &str, new: &str) -> Vec<ChatMessage> {
    let ask = |o: &str, n: &str| {
        format!("Old: {o}\nNew: {n}\nDoes the new statement replace the old one?")
    };
    vec![
        ChatMessage::system(
            "You keep a memory of facts about a user up to date. Given an older and a newer \
             statement, answer replaces=true only if the newer one makes the older one no longer \
             true (a move, a changed job, a changed preference). If both can be true at the \
             same time, answer replaces=false.",
        ),
        ChatMessage::user(ask("The user lives in Paris.", "The user lives in Lyon.")),
        ChatMessage::assistant(json!({"replaces": true}).to_string()),
        ChatMessage::user(ask("The user plays tennis.", "The user plays the piano.")),
        ChatMessage::assistant(json!({"replaces": false}).to_string()),
        ChatMessage::user(ask(old, new)),
    ]
}

/// `Some(true)` when the answer says the new statement replaces the old one.
pub fn read_conflict(raw: &Value) -> Option<bool> {
    raw.get("replaces").and_then(Value::as_bool)
}

pub fn cluster_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"name": {"type": "string", "minLength": 2, "maxLength": 40}},
        "required": ["name"],
        "additionalProperties": false
    })
}

pub fn cluster_messages(members: &[String]) -> Vec<ChatMessage> {
    let list = |m: &[&str]| m.iter().map(|x| format!("- {x}\n")).collect::<String>();
    let members: Vec<&str> = members.iter().map(String::as_str).collect();
    vec![
        ChatMessage::system(
            "Give a short title (one to three words) for what these notes have in common.",
        ),
        ChatMessage::user(list(&[
            "The user runs 10 km every Sunday.",
            "The user is training for a marathon in May.",
        ])),
        ChatMessage::assistant(json!({"name": "Running"}).to_string()),
        ChatMessage::user(list(&[
            "The user's son Leo is six.",
            "The user's mother lives in Porto.",
        ])),
        ChatMessage::assistant(json!({"name": "Family"}).to_string()),
        ChatMessage::user(list(&members)),
    ]
}

/// A tidy cluster name: one line, at most 40 characters, first letter upper-case; `None`
/// for an empty name or one that merely echoes the request ("memories about the user").
pub fn read_cluster_name(raw: &Value) -> Option<String> {
    let name = normalize_text(raw.get("name")?.as_str()?);
    let name = name.trim_matches(|c: char| c == '"' || c == '.' || c.is_whitespace());
    let lower = name.to_lowercase();
    if name.chars().count() < 2
        || ["user", "memor", "topic", "note"]
            .iter()
            .any(|w| lower.contains(w))
    {
        return None;
    }
    let name: String = name.chars().take(40).collect();
    let mut chars = name.chars();
    let first = chars.next()?;
    Some(first.to_uppercase().chain(chars).collect())
}

/// A name when the model gives none: the word the members share most (not a common one).
pub fn fallback_cluster_name(members: &[String]) -> Option<String> {
    const COMMON: &[&str] = &[
        "the", "user", "user's", "users", "with", "from", "that", "this", "have", "has", "their",
        "they", "about", "every", "after", "before", "will", "would", "likes", "loves", "wants",
        "into", "at", "in", "on", "is", "was", "are", "and", "for", "his", "her", "year", "month",
        "week", "next", "last", "called", "named", "works", "lives",
    ];
    let mut counts: Vec<(String, usize, usize)> = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let mut seen: Vec<String> = Vec::new();
        for w in m.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
            let w = w.trim_end_matches("'s");
            let lw = w.to_lowercase();
            if lw.chars().count() < 4 || COMMON.contains(&lw.as_str()) || seen.contains(&lw) {
                continue;
            }
            seen.push(lw.clone());
            match counts.iter_mut().find(|(x, _, _)| x.to_lowercase() == lw) {
                Some(c) => c.1 += 1,
                None => counts.push((w.to_owned(), 1, i)),
            }
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    let (w, _, _) = counts.into_iter().next()?;
    let mut c = w.chars();
    let first = c.next()?;
    Some(first.to_uppercase().chain(c).collect())
}

/// Most words in the user profile.
pub const PROFILE_WORDS: usize = 200;

pub fn profile_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"profile": {"type": "string", "minLength": 10, "maxLength": 1600}},
        "required": ["profile"],
        "additionalProperties": false
    })
}

pub fn profile_messages(facts: &[String]) -> Vec<ChatMessage> {
    let list: String = facts.iter().map(|f| format!("- {f}\n")).collect();
    vec![
        ChatMessage::system(format!(
            "Write a compact profile of the user from these facts, for an assistant to read \
             before every conversation: who they are, their people, work, health and what \
             matters to them. Plain sentences about \"The user\", at most {PROFILE_WORDS} words, \
             nothing that is not in the facts."
        )),
        ChatMessage::user(list),
    ]
}

/// The profile text, cut to [`PROFILE_WORDS`] words.
pub fn read_profile(raw: &Value) -> Option<String> {
    let text = normalize_text(raw.get("profile")?.as_str()?);
    (text.chars().count() >= 10).then(|| limit_words(&text, PROFILE_WORDS))
}

/// At most `max` words.
pub fn limit_words(text: &str, max: usize) -> String {
    text.split_whitespace()
        .take(max)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::Category;
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn extraction_answers_are_read_and_bounded() {
        let raw = json!({"facts": [
            {"text": "The user lives in Lyon.", "category": "identity", "priority": 5, "sources": [2, 2, 9]},
            {"text": "the user LIVES in lyon", "category": "identity", "priority": 5, "sources": [2]},
            {"text": "The user said hi.", "category": "other", "priority": 1, "sources": [1]},
            {"text": "The user likes tea.", "category": "likes", "priority": 2, "sources": []},
        ]});
        let got = read_extracted(&raw, 3);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].sources, vec![2]);
        assert_eq!(got[1].fact.category, Category::Preference);
        assert_eq!(got[1].sources, vec![1, 2, 3]);
        let many: Vec<Value> = (0..12)
            .map(|i| json!({"text": format!("The user owns {i} cats."), "priority": 3, "sources": [1]}))
            .collect();
        assert_eq!(read_extracted(&json!({"facts": many}), 1).len(), MAX_FACTS);
        let m = extract_messages(
            &[Exchange {
                user: "I moved to Lyon".into(),
                reply: "Nice".into(),
            }],
            Utc.with_ymd_and_hms(2025, 3, 14, 3, 0, 0).unwrap(),
        );
        assert!(m[0].content.contains("Friday 14 March 2025"));
        assert!(m[3].content.starts_with("[1] User: I moved to Lyon"));
        // The worked example obeys its own rules, and every fact in it is grounded in what its
        // user wrote.
        let example: Value = serde_json::from_str(&m[2].content).unwrap();
        assert_eq!(read_extracted(&example, 3).len(), 5);
        let said: Vec<Exchange> = m[1]
            .content
            .lines()
            .filter_map(|l| l.split_once("User: ").map(|(_, u)| u))
            .map(|u| Exchange {
                user: u.to_owned(),
                reply: String::new(),
            })
            .collect();
        for f in read_extracted(&example, 3) {
            assert!(grounded(&f.fact.text, &said), "{}", f.fact.text);
        }
        assert_eq!(extract_schema(3)["properties"]["facts"]["maxItems"], 8);
    }

    #[test]
    fn facts_must_name_only_people_and_places_that_were_mentioned() {
        let t = [
            Exchange {
                user: "My sister Eve works at St Mary's in Lyon.".into(),
                reply: "Nice.".into(),
            },
            Exchange {
                user: "Who was the 14th prime minister of New Zealand?".into(),
                reply: "It was John D. Smith.".into(),
            },
        ];
        assert!(grounded("The user's sister Eve works at St Mary's.", &t));
        assert!(grounded("The user has a sister in Lyon.", &t));
        assert!(!grounded("The user's wife Ana likes jazz.", &t));
        assert!(
            !grounded("the user likes tea", &t),
            "tea was never mentioned"
        );
        // A name only the assistant said is not something the user told about themselves.
        assert!(!grounded("Your name is John D. Smith.", &t));
    }

    #[test]
    fn small_answers_are_read() {
        assert_eq!(read_conflict(&json!({"replaces": true})), Some(true));
        assert_eq!(read_conflict(&json!({"replaces": "yes"})), None);
        assert_eq!(
            read_cluster_name(&json!({"name": " \"family life.\" "})),
            Some("Family life".into())
        );
        assert_eq!(read_cluster_name(&json!({"name": "x"})), None);
        assert_eq!(
            read_cluster_name(&json!({"name": "User's memories about a user"})),
            None
        );
        let members = vec![
            "The user's daughter Léa loves drawing.".to_string(),
            "The user's daughter Léa starts school in September.".to_string(),
            "The user's husband Marc is a chef.".to_string(),
        ];
        assert_eq!(fallback_cluster_name(&members).as_deref(), Some("Daughter"));
        assert_eq!(fallback_cluster_name(&[]), None);
        let long = "word ".repeat(300);
        assert_eq!(
            read_profile(&json!({"profile": long}))
                .unwrap()
                .split(' ')
                .count(),
            PROFILE_WORDS
        );
        assert_eq!(read_profile(&json!({"nope": 1})), None);
    }

    proptest! {
        #[test]
        fn reading_never_panics(s in ".{0,300}", n in 0usize..20) {
            let raw: Value = serde_json::from_str(&s).unwrap_or(Value::String(s.clone()));
            let got = read_extracted(&json!({"facts": [raw.clone(), {"text": s, "sources": [n, -1]}]}), n);
            for e in got {
                prop_assert!(e.fact.priority >= MIN_PRIORITY);
                prop_assert!(e.sources.iter().all(|s| *s >= 1 && *s <= n));
            }
            let _ = read_cluster_name(&raw);
            let _ = read_profile(&raw);
        }
    }
}
