//! Realtime extraction: after each exchange, one JSON-schema-constrained call asks the chat
//! model for at most [`MAX_EXTRACTED`] lasting facts from the user's message. The schema does
//! the heavy lifting for a small model (facts that start with "The user", an `enum` of
//! categories, an integer priority, bounded strings and array), and [`clamp_extracted`]
//! checks whatever comes back anyway: a fact that is empty, too long, a repeat or below
//! [`MIN_PRIORITY`] is dropped, odd values are clamped, nothing panics. Then
//! [`super::grounding`] keeps only what the user actually wrote.
//!
//! The model sees the user's message alone: the assistant's reply is where a small model
//! finds things the user never said. Messages that only ask or greet are not sent at all.
//! Introductions (name, named relatives and pets, home) are read without the model, by
//! [`super::statements`], and stored beside what it finds.
//!
//! Run it in the background after the reply is sent; it never delays the answer.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::MemoryError;
use super::fact::{Category, NewFact, normalize_text, text_key};
use super::store::{StoreOutcome, store_facts};
use crate::llm::{ChatMessage, LlmClient};

/// At most this many facts per exchange: a small model fills any room it is given with
/// inventions, and one message rarely holds more.
pub const MAX_EXTRACTED: usize = 3;
/// Facts below this priority are not worth a realtime write (the night cycle sees them).
pub const MIN_PRIORITY: u8 = 3;
/// Longest extracted fact text, in characters.
pub const MAX_EXTRACTED_CHARS: usize = 200;
/// How much of each message the model is shown, in characters.
const MAX_INPUT_CHARS: usize = 2000;

/// The JSON schema of the answer: `{"facts": [{"text", "category", "priority"}]}`.
pub fn schema() -> Value {
    facts_schema(MAX_EXTRACTED, MAX_EXTRACTED_CHARS, None)
}

/// The schema of an extraction answer: at most `max_items` facts of text, category and
/// priority, and, with `sources_up_to: Some(n)`, the 1-based numbers (1..=n, 1 to 4 of
/// them) of the exchanges each fact comes from.
pub(crate) fn facts_schema(
    max_items: usize,
    max_chars: usize,
    sources_up_to: Option<usize>,
) -> Value {
    let categories: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let mut item = json!({
        "type": "object",
        "properties": {
            "text": {"type": "string", "minLength": 3, "maxLength": max_chars, "pattern": "^The user"},
            "category": {"type": "string", "enum": categories},
            "priority": {"type": "integer", "minimum": 1, "maximum": 5}
        },
        "required": ["text", "category", "priority"],
        "additionalProperties": false
    });
    if let Some(n) = sources_up_to {
        item["properties"]["sources"] = json!({
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": n.max(1)},
            "minItems": 1,
            "maxItems": 4
        });
        item["required"] = json!(["text", "category", "priority", "sources"]);
    }
    json!({
        "type": "object",
        "properties": {
            "facts": {"type": "array", "maxItems": max_items, "items": item}
        },
        "required": ["facts"],
        "additionalProperties": false
    })
}

/// The prompt: what to keep, then three worked examples in the ways people write (a
/// question that tells nothing comes first, so the last example before the real message is
/// never an empty answer; terse lower case; another language, answered in English), then the
/// user's message alone. The examples' names and places are ones no persona of the tests
/// uses, and [`super::grounding`] drops them if the model copies them anyway.
pub fn messages(user_msg: &str, now: DateTime<Utc>) -> Vec<ChatMessage> {
    let system = format!(
        "You turn a message a user wrote to their assistant into short facts about the user, \
         each a sentence starting with \"The user\", in English whatever language the message \
         is in. Keep only what the user says about themselves and their life: name, home, job, \
         family and pets, health, allergies, diet, likes and dislikes, plans. A question or a \
         request for help gives no facts, unless it also says something about the user. Never \
         add anything the user did not say. Priority: 5 name, home, job, family; 4 health, \
         diet, strong likes or dislikes; 3 plans and other details. Today is {}; write dates, \
         not \"tomorrow\".",
        now.format("%A %-d %B %Y"),
    );
    let fact = |text: &str, category: &str, priority: u8| json!({"text": text, "category": category, "priority": priority});
    let answer = |facts: Vec<Value>| json!({ "facts": facts }).to_string();
    vec![
        ChatMessage::system(system),
        ChatMessage::user("Message: What's the capital of Peru?"),
        ChatMessage::assistant(answer(vec![])),
        ChatMessage::user("Message: hey, zoltan here. im a plumber, 2 daughters"),
        ChatMessage::assistant(answer(vec![
            fact("The user's name is Zoltan.", "identity", 5),
            fact("The user works as a plumber.", "work", 5),
            fact("The user has two daughters.", "relationship", 5),
        ])),
        ChatMessage::user("Message: Ich wohne seit März in Graz und bin allergisch gegen Nüsse."),
        ChatMessage::assistant(answer(vec![
            fact("The user lives in Graz.", "identity", 5),
            fact("The user is allergic to nuts.", "health", 4),
        ])),
        ChatMessage::user(format!("Message: {}", clip(user_msg, MAX_INPUT_CHARS))),
    ]
}

/// Asks the chat model for the facts of one message, and keeps those grounded in it. The
/// facts come back without source ids (set them with [`NewFact::with_sources`] before
/// storing) and observed at `now`. A message that only asks or greets costs no model call.
pub async fn extract_realtime(
    llm: &LlmClient,
    user_msg: &str,
    now: DateTime<Utc>,
) -> Result<Vec<NewFact>, MemoryError> {
    if super::grounding::nothing_to_learn(user_msg) {
        return Ok(Vec::new());
    }
    let raw: Value = llm
        .chat_json(messages(user_msg, now), "facts", schema(), 300)
        .await?;
    Ok(clamp_extracted(&raw, now)
        .into_iter()
        .filter(|f| {
            let kept = super::grounding::grounded(&f.text, user_msg);
            if !kept {
                tracing::debug!(fact = %f.text, "dropped an extracted fact the message does not say");
            }
            kept
        })
        .collect())
}

/// Extraction and storing in one call, for the chat pipeline's background task: skips the
/// model entirely when this exchange's events are already in memory (a redelivery), and
/// returns what happened to each extracted fact. The facts come from the user's message; the
/// source ids name the message and the reply it got.
pub async fn learn_from_exchange(
    pool: &sqlx::PgPool,
    llm: &LlmClient,
    user_id: &str,
    user_msg: &str,
    source_event_ids: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<StoreOutcome>, MemoryError> {
    if !source_event_ids.is_empty() {
        let seen: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM facts WHERE user_id = $1 AND source_event_ids @> $2)",
        )
        .bind(user_id)
        .bind(source_event_ids)
        .fetch_one(pool)
        .await?;
        if seen {
            return Ok(Vec::new());
        }
    }
    // What people say when they introduce themselves is read without the model (a small
    // model garbles it); the model's facts join it, near-duplicates merging when stored.
    let mut found: Vec<NewFact> = super::statements::self_statements(user_msg)
        .into_iter()
        .map(|f| f.observed_at(now))
        .collect();
    for f in extract_realtime(llm, user_msg, now).await? {
        let key = super::fact::text_key(&f.text);
        if !found.iter().any(|g| super::fact::text_key(&g.text) == key) {
            found.push(f);
        }
    }
    let facts: Vec<NewFact> = found
        .into_iter()
        .map(|f| f.with_sources(source_event_ids.iter().cloned()))
        .collect();
    if facts.is_empty() {
        return Ok(Vec::new());
    }
    let texts: Vec<String> = facts.iter().map(|f| f.text.clone()).collect();
    let outcomes = store_facts(pool, llm, user_id, facts).await?;
    // A fact merged into one already stored counts with the words it came in ("The user lives
    // in Dresden." folded into "The user is last week in Dresden." still moves the user).
    let stored: Vec<(i64, String)> = outcomes
        .iter()
        .zip(texts)
        .filter_map(|(o, t)| o.fact_id().map(|id| (id, t)))
        .collect();
    super::store::supersede_by_slot(pool, user_id, &stored, now).await?;
    Ok(outcomes)
}

/// Turns the model's answer into valid facts. Accepts `{"facts": [...]}` or a bare array;
/// each item needs a text; category falls back to `other`, priority to 3 (numbers in strings
/// and floats are read, then clamped to 1–5). Drops texts that are too short or too long,
/// repeats (same words), and priorities below [`MIN_PRIORITY`]; keeps at most
/// [`MAX_EXTRACTED`]. Pure and total.
pub fn clamp_extracted(raw: &Value, now: DateTime<Utc>) -> Vec<NewFact> {
    let text = |item: &Value| match item {
        Value::Object(o) => o.get("text").and_then(Value::as_str).map(str::to_owned),
        Value::String(s) => Some(s.clone()),
        _ => None,
    };
    let priority = |item: &Value| item.get("priority").map(read_priority).unwrap_or(3);
    let limits = FactLimits {
        max_items: MAX_EXTRACTED,
        max_chars: MAX_EXTRACTED_CHARS,
        min_priority: MIN_PRIORITY,
    };
    read_facts(raw, limits, text, priority)
        .into_iter()
        .map(|(fact, _)| fact.observed_at(now))
        .collect()
}

/// What an extraction answer may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FactLimits {
    pub max_items: usize,
    pub max_chars: usize,
    pub min_priority: u8,
}

/// Reads an extraction answer, `{"facts": [...]}` or a bare array, into at most
/// `max_items` facts with the item each came from: the text (`text_of` the item) normalised
/// and within bounds, no repeats (same words), category read leniently (else `other`),
/// priority (`priority_of` the item) at least `min_priority`. Pure and total.
pub(crate) fn read_facts(
    raw: &Value,
    limits: FactLimits,
    text_of: impl Fn(&Value) -> Option<String>,
    priority_of: impl Fn(&Value) -> u8,
) -> Vec<(NewFact, &Value)> {
    let items: &[Value] = match raw {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("facts") {
            Some(Value::Array(a)) => a,
            _ => &[],
        },
        _ => &[],
    };
    let mut out: Vec<(NewFact, &Value)> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for item in items {
        if out.len() == limits.max_items {
            break;
        }
        let Some(text) = text_of(item).map(|t| normalize_text(&t)) else {
            continue;
        };
        let chars = text.chars().count();
        if !(super::fact::MIN_FACT_CHARS..=limits.max_chars).contains(&chars) {
            continue;
        }
        let key = text_key(&text);
        if key.is_empty() || keys.contains(&key) {
            continue;
        }
        let category = item
            .get("category")
            .and_then(Value::as_str)
            .map(Category::parse_lenient)
            .unwrap_or(Category::Other);
        let priority = priority_of(item);
        if priority < limits.min_priority {
            continue;
        }
        keys.push(key);
        out.push((NewFact::new(text, category, priority), item));
    }
    out
}

fn read_priority(v: &Value) -> u8 {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n.is_finite() => n.round().clamp(1.0, 5.0) as u8,
        _ => 3,
    }
}

fn clip(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 14, 9, 30, 0).unwrap()
    }

    #[test]
    fn well_formed_output_becomes_facts() {
        let raw = json!({"facts": [
            {"text": "The user is called Ada.", "category": "identity", "priority": 5},
            {"text": "The user has a dentist appointment on 20 March.", "category": "plan", "priority": 3}
        ]});
        let facts = clamp_extracted(&raw, now());
        assert_eq!(facts.len(), 2);
        assert_eq!(facts[0].category, Category::Identity);
        assert_eq!(facts[0].priority, 5);
        assert_eq!(facts[0].observed_at, Some(now()));
        assert!(facts[1].source_event_ids.is_empty());
    }

    #[test]
    fn odd_output_is_clamped_or_dropped() {
        let long = "x ".repeat(200);
        let raw = json!({"facts": [
            {"text": "  The user   likes tea. ", "category": "LIKES", "priority": "4"},
            {"text": "the user likes TEA", "category": "preference", "priority": 4},
            {"text": "", "category": "other", "priority": 5},
            {"text": long, "category": "other", "priority": 5},
            {"text": "The user said hello.", "category": "other", "priority": 1},
            {"text": "The user is 190 cm tall.", "category": "zodiac", "priority": 99.4},
            {"category": "identity", "priority": 5},
            42,
            {"text": "The user owns a bike.", "priority": null}
        ]});
        let facts = clamp_extracted(&raw, now());
        let texts: Vec<&str> = facts.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "The user likes tea.",
                "The user is 190 cm tall.",
                "The user owns a bike.",
            ]
        );
        // A bare string is read as a fact's text.
        let bare = clamp_extracted(&json!(["The user plays chess."]), now());
        assert_eq!(bare[0].text, "The user plays chess.");
        assert_eq!(facts[0].category, Category::Preference);
        assert_eq!(facts[1].category, Category::Other);
        assert_eq!(facts[1].priority, 5);
        assert_eq!(facts[2].priority, 3);
    }

    #[test]
    fn at_most_three_and_bare_arrays_are_accepted() {
        let many: Vec<Value> = (0..9)
            .map(|i| json!({"text": format!("The user owns {i} boats."), "category": "other", "priority": 3}))
            .collect();
        assert_eq!(
            clamp_extracted(&Value::Array(many), now()).len(),
            MAX_EXTRACTED
        );
        assert!(clamp_extracted(&json!("nothing"), now()).is_empty());
        assert!(clamp_extracted(&json!({"facts": "none"}), now()).is_empty());
    }

    #[test]
    fn schema_constrains_categories_priority_and_count() {
        let s = schema();
        let item = &s["properties"]["facts"]["items"];
        assert_eq!(
            item["properties"]["category"]["enum"]
                .as_array()
                .unwrap()
                .len(),
            9
        );
        assert_eq!(item["properties"]["priority"]["type"], "integer");
        assert_eq!(s["properties"]["facts"]["maxItems"], MAX_EXTRACTED);
        assert_eq!(item["properties"]["text"]["pattern"], "^The user");
        let m = messages("I moved to Lyon", now());
        assert!(m[0].content.contains("Friday 14 March 2025"));
        assert_eq!(m.last().unwrap().content, "Message: I moved to Lyon");
        // The worked examples obey the schema's own rules, and the last one before the
        // message is not an empty answer (a small model repeats the last pattern it saw).
        for i in [2, 4, 6] {
            let example: Value = serde_json::from_str(&m[i].content).unwrap();
            for f in example["facts"].as_array().unwrap() {
                assert!(f["text"].as_str().unwrap().starts_with("The user"));
            }
            assert_eq!(
                clamp_extracted(&example, now()).len(),
                example["facts"].as_array().unwrap().len()
            );
        }
        let last: Value = serde_json::from_str(&m[m.len() - 2].content).unwrap();
        assert!(!last["facts"].as_array().unwrap().is_empty());
        // …and would pass the grounding check themselves.
        for (i, o) in [(3, 4), (5, 6)] {
            let said = m[i].content.trim_start_matches("Message: ");
            let example: Value = serde_json::from_str(&m[o].content).unwrap();
            for f in clamp_extracted(&example, now()) {
                assert!(crate::memory::grounded(&f.text, said), "{}", f.text);
            }
        }
    }

    proptest! {
        #[test]
        fn clamping_never_panics_and_always_obeys_the_bounds(s in ".{0,400}") {
            let raw: Value = serde_json::from_str(&s).unwrap_or(Value::String(s.clone()));
            for v in [raw.clone(), json!({"facts": [raw.clone(), {"text": s, "priority": s}]})] {
                let facts = clamp_extracted(&v, now());
                prop_assert!(facts.len() <= MAX_EXTRACTED);
                for f in facts {
                    prop_assert!(f.priority >= MIN_PRIORITY && f.priority <= 5);
                    prop_assert!(f.text.chars().count() <= MAX_EXTRACTED_CHARS);
                    prop_assert!(f.normalized().is_ok());
                }
            }
        }
    }
}
