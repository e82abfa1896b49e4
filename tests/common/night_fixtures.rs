//! A scripted day for night-cycle tests: exchanges with the bot, older facts, and a stub
//! "model" that answers the night's structured calls the way a good small model would.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::common::stub_llm::{Reply, StubLlm};

/// (user message, bot reply). Exchange `i` (1-based) has events `$e{i}` and `$r{i}`.
pub const DAY: &[(&str, &str)] = &[
    (
        "Hi! I'm Ada, I work as a nurse at St Mary's hospital.",
        "Nice to meet you, Ada!",
    ),
    (
        "We moved from Paris to Lyon last month.",
        "Welcome to Lyon!",
    ),
    ("I've started playing chess on weekends.", "A great game."),
    ("What's the capital of Peru?", "Lima."),
    (
        "My sister Eve is visiting next week.",
        "Have a lovely time.",
    ),
    (
        "By the way, I'm allergic to penicillin.",
        "Good to know, I'll remember.",
    ),
];

/// The facts a careful model reads in one user message.
pub fn facts_in(message: &str) -> Vec<(&'static str, &'static str, u8)> {
    let mut out = Vec::new();
    if message.contains("I'm Ada") {
        out.push(("The user's name is Ada.", "identity", 5));
        out.push((
            "The user works as a nurse at St Mary's hospital.",
            "work",
            5,
        ));
    }
    if message.contains("Lyon") {
        out.push(("The user lives in Lyon.", "identity", 5));
    }
    if message.contains("chess") {
        out.push(("The user plays chess on weekends.", "preference", 3));
    }
    if message.contains("Eve") {
        out.push((
            "The user's sister Eve is visiting next week.",
            "relationship",
            3,
        ));
    }
    if message.contains("penicillin") {
        out.push(("The user is allergic to penicillin.", "health", 4));
    }
    out
}

/// Answers `night_facts` from the transcript (`[k] User: …` lines), `night_conflict` (a move
/// from Paris to Lyon replaces; anything else is compatible), `night_cluster_name` and
/// `night_profile`. Other schemas (realtime extraction) fall through to the queue.
pub fn install_model(stub: &StubLlm) {
    stub.set_structured_responder(|name, body| {
        let last = body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_str())
            .unwrap_or("")
            .to_owned();
        Some(Reply::json(&match name {
            "night_facts" => {
                let mut facts = Vec::new();
                for line in last.lines() {
                    let Some(rest) = line.strip_prefix('[') else {
                        continue;
                    };
                    let Some((k, text)) = rest.split_once("] User: ") else {
                        continue;
                    };
                    let k: u64 = k.parse().unwrap();
                    for (t, c, p) in facts_in(text) {
                        facts
                            .push(json!({"text": t, "category": c, "priority": p, "sources": [k]}));
                    }
                }
                json!({ "facts": facts })
            }
            "night_conflict" => {
                let old = last
                    .lines()
                    .find_map(|l| l.strip_prefix("Old: "))
                    .unwrap_or("");
                let new = last
                    .lines()
                    .find_map(|l| l.strip_prefix("New: "))
                    .unwrap_or("");
                json!({"replaces": old.contains("Paris") && new.contains("Lyon")})
            }
            "night_cluster_name" => json!({"name": topic_name(&last)}),
            "night_profile" => json!({"profile": "The user is Ada, a nurse who lives in Lyon."}),
            "research_findings" => super::research_fixtures::findings(&last),
            _ => return None,
        }))
    });
}

/// The name the stub gives a topic, from what its members talk about.
pub fn topic_name(members: &str) -> &'static str {
    let has = |w: &str| members.contains(w);
    if has("chess") || has("tennis") {
        "Weekend games"
    } else if has("nurse") {
        "Work"
    } else if has("Eve") {
        "Family"
    } else if has("penicillin") {
        "Health"
    } else if has("Lyon") || has("name") || has("Paris") {
        "Home and identity"
    } else {
        "Everyday life"
    }
}

pub async fn add_user(pool: &PgPool, user: &str, room: &str, tz: &str, created_at: DateTime<Utc>) {
    sqlx::query("INSERT INTO users (user_id, timezone, created_at) VALUES ($1, $2, $3)")
        .bind(user)
        .bind(tz)
        .bind(created_at)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO rooms (room_id, user_id, encrypted) VALUES ($1, $2, true)")
        .bind(room)
        .bind(user)
        .execute(pool)
        .await
        .unwrap();
}

#[allow(clippy::too_many_arguments)]
/// Stores exchange `i` (1-based, events `{prefix}e{i}` / `{prefix}r{i}`) at `at`.
pub async fn add_exchange(
    pool: &PgPool,
    user: &str,
    room: &str,
    prefix: &str,
    i: usize,
    text: &str,
    reply: &str,
    at: DateTime<Utc>,
) {
    let ev = format!("{prefix}e{i}");
    for (event, role, body, reply_to, state) in [
        (ev.clone(), "user", text, None, "answered"),
        (
            format!("{prefix}r{i}"),
            "assistant",
            reply,
            Some(ev.clone()),
            "none",
        ),
    ] {
        sqlx::query(
            "INSERT INTO messages (user_id, room_id, event_id, role, body, in_reply_to, sent_at, reply_state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(user)
        .bind(room)
        .bind(event)
        .bind(role)
        .bind(body)
        .bind(reply_to)
        .bind(at)
        .bind(state)
        .execute(pool)
        .await
        .unwrap();
    }
}

/// The whole scripted day, one exchange every 10 minutes from `start`.
pub async fn add_day(pool: &PgPool, user: &str, room: &str, prefix: &str, start: DateTime<Utc>) {
    for (i, (q, a)) in DAY.iter().enumerate() {
        let at = start + chrono::Duration::minutes(10 * i as i64);
        add_exchange(pool, user, room, prefix, i + 1, q, a, at).await;
    }
}

/// Everything the night leaves behind that a user could notice, without ids or timestamps
/// that differ between two databases: facts (text, category, priority, sources, status,
/// replacement), topics (name, members) and the digest.
pub async fn snapshot(pool: &PgPool, user: &str) -> Value {
    let facts: Vec<Value> = sqlx::query_scalar(
        "SELECT jsonb_build_object('text', f.text, 'category', f.category, 'priority', f.priority,
                'sources', (SELECT COALESCE(jsonb_agg(s ORDER BY s), '[]') FROM unnest(f.source_event_ids) s),
                'valid_to', f.valid_to IS NOT NULL, 'archived', f.archived_at IS NOT NULL,
                'superseded_by', (SELECT n.text FROM facts n WHERE n.id = f.superseded_by),
                'cluster', (SELECT c.name FROM clusters c WHERE c.id = f.cluster_id))
         FROM facts f WHERE f.user_id = $1 ORDER BY f.text",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .unwrap();
    let clusters: Vec<Value> = sqlx::query_scalar(
        "SELECT jsonb_build_object('name', c.name, 'size', c.size,
                'members', (SELECT jsonb_agg(f.text ORDER BY f.text) FROM cluster_members m JOIN facts f ON f.id = m.fact_id WHERE m.cluster_id = c.id))
         FROM clusters c WHERE c.user_id = $1 AND c.retired_at IS NULL ORDER BY c.name, c.size",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .unwrap();
    let digests: Vec<String> =
        sqlx::query_scalar("SELECT body FROM digests WHERE user_id = $1 ORDER BY for_date")
            .bind(user)
            .fetch_all(pool)
            .await
            .unwrap();
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages WHERE user_id = $1 AND night_processed_at IS NULL",
    )
    .bind(user)
    .fetch_one(pool)
    .await
    .unwrap();
    let profile: Option<String> =
        sqlx::query_scalar("SELECT text FROM user_profile WHERE user_id = $1")
            .bind(user)
            .fetch_optional(pool)
            .await
            .unwrap();
    json!({"facts": facts, "clusters": clusters, "digests": digests, "pending": pending, "profile": profile})
}
