//! Realtime extraction: after each exchange, one JSON-schema-constrained call asks the chat
//! model for at most [`MAX_EXTRACTED`] lasting facts. The schema does the heavy lifting for
//! a small model (an `enum` of categories, an integer priority, bounded strings and array),
//! and [`clamp_extracted`] checks whatever comes back anyway: a fact that is empty, too long,
//! a repeat or below [`MIN_PRIORITY`] is dropped, odd values are clamped, nothing panics.
//!
//! Run it in the background after the reply is sent; it never delays the answer.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::MemoryError;
use super::fact::{Category, NewFact, normalize_text, text_key};
use super::store::{StoreOutcome, store_facts};
use crate::llm::{ChatMessage, LlmClient};

/// At most this many facts per exchange.
pub const MAX_EXTRACTED: usize = 5;
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
            "text": {"type": "string", "minLength": 3, "maxLength": max_chars},
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

/// The prompt: short and concrete, with today's date so "tomorrow" can become a date, and
/// two worked examples (one with facts, one without), which keep a small model from
/// inventing facts or repeating itself.
pub fn messages(user_msg: &str, reply: &str, now: DateTime<Utc>) -> Vec<ChatMessage> {
    let system = format!(
        "Extract lasting facts about the user from a chat exchange, as short sentences about \
         \"The user\". Only what the user says about themselves, their people, work, health, \
         plans and likes; never general knowledge. Priority: 5 = name, job, home, family; \
         4 = health, relationships, strong preferences; 3 = plans and useful details. \
         Today is {}; write dates, not \"tomorrow\". At most {MAX_EXTRACTED} facts; an empty \
         list if nothing is worth remembering.",
        now.format("%A %-d %B %Y"),
    );
    let example = json!({"facts": [
        {"text": "The user's name is Tom.", "category": "identity", "priority": 5},
        {"text": "The user teaches maths in Leeds.", "category": "work", "priority": 5},
        {"text": "The user's wife Ana loves jazz.", "category": "relationship", "priority": 4}
    ]});
    let user = format!(
        "User: {}\nAssistant: {}",
        clip(user_msg, MAX_INPUT_CHARS),
        clip(reply, MAX_INPUT_CHARS)
    );
    vec![
        ChatMessage::system(system),
        ChatMessage::user(
            "User: I'm Tom, I teach maths in Leeds. My wife Ana loves jazz. What's 2+2?\nAssistant: 4!",
        ),
        ChatMessage::assistant(example.to_string()),
        ChatMessage::user("User: How tall is Everest?\nAssistant: 8,849 m."),
        ChatMessage::assistant(json!({"facts": []}).to_string()),
        ChatMessage::user(user),
    ]
}

/// Asks the chat model for the facts of one exchange. The facts come back without source ids
/// (set them with [`NewFact::with_sources`] before storing) and observed at `now`.
pub async fn extract_realtime(
    llm: &LlmClient,
    user_msg: &str,
    reply: &str,
    now: DateTime<Utc>,
) -> Result<Vec<NewFact>, MemoryError> {
    if user_msg.trim().is_empty() {
        return Ok(Vec::new());
    }
    let raw: Value = llm
        .chat_json(messages(user_msg, reply, now), "facts", schema(), 400)
        .await?;
    Ok(clamp_extracted(&raw, now))
}

/// Extraction and storing in one call, for the chat pipeline's background task: skips the
/// model entirely when this exchange's events are already in memory (a redelivery), and
/// returns what happened to each extracted fact.
pub async fn learn_from_exchange(
    pool: &sqlx::PgPool,
    llm: &LlmClient,
    user_id: &str,
    user_msg: &str,
    reply: &str,
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
    let facts: Vec<NewFact> = extract_realtime(llm, user_msg, reply, now)
        .await?
        .into_iter()
        .filter(|f| {
            let kept = super::fact::names_grounded(&f.text, user_msg);
            if !kept {
                tracing::info!(%user_id, fact = %f.text, "dropped an extracted fact naming someone the user never mentioned");
            }
            kept
        })
        .map(|f| f.with_sources(source_event_ids.iter().cloned()))
        .collect();
    if facts.is_empty() {
        return Ok(Vec::new());
    }
    store_facts(pool, llm, user_id, facts).await
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
            {"text": "The user owns a bike.", "priority": null},
            42,
            "The user plays chess."
        ]});
        let facts = clamp_extracted(&raw, now());
        let texts: Vec<&str> = facts.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "The user likes tea.",
                "The user is 190 cm tall.",
                "The user owns a bike.",
                "The user plays chess."
            ]
        );
        assert_eq!(facts[0].category, Category::Preference);
        assert_eq!(facts[1].category, Category::Other);
        assert_eq!(facts[1].priority, 5);
        assert_eq!(facts[2].priority, 3);
    }

    #[test]
    fn at_most_five_and_bare_arrays_are_accepted() {
        let many: Vec<Value> = (0..9)
            .map(|i| json!({"text": format!("The user owns {i} boats."), "category": "other", "priority": 3}))
            .collect();
        assert_eq!(clamp_extracted(&Value::Array(many), now()).len(), 5);
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
        assert_eq!(s["properties"]["facts"]["maxItems"], 5);
        let m = messages("I moved to Lyon", "Nice!", now());
        assert!(m[0].content.contains("Friday 14 March 2025"));
        assert!(
            m.last()
                .unwrap()
                .content
                .starts_with("User: I moved to Lyon")
        );
        // The worked examples obey the schema's own rules.
        let example: Value = serde_json::from_str(&m[2].content).unwrap();
        assert_eq!(clamp_extracted(&example, now()).len(), 3);
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
