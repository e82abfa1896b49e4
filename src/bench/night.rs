//! `threeam bench night`: one night over a synthetic but realistic day (by default 200
//! exchanges of one person: work, family, a move from Paris to Lyon, hobbies, health, plans,
//! and questions that carry no personal fact) against the configured chat and embedding
//! servers, in a throwaway database. Prints the model calls and wall time of each stage.

use std::time::Instant;

use chrono::{Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::TempDatabase;
use crate::llm::LlmClient;
use crate::memory::fact::{Category, NewFact};
use crate::night::{RunOptions, RunOutcome, Stage, Trigger, run_night};

const USER: &str = "@bench:localhost";
const ROOM: &str = "!bench:localhost";

/// Personal statements (with a canned reply); `{}` is filled from the list that follows.
const SAYINGS: &[(&str, &[&str], &str)] = &[
    (
        "I work as a {} at the city hospital.",
        &["nurse"],
        "That sounds demanding!",
    ),
    (
        "My shift tomorrow is {}.",
        &["early", "late", "a night shift", "a double"],
        "Good luck with it.",
    ),
    (
        "My manager {} asked me to train the new staff.",
        &["Karen"],
        "A sign of trust.",
    ),
    (
        "We finally moved from Paris to Lyon last month.",
        &[""],
        "Welcome to Lyon!",
    ),
    (
        "Our new flat in Lyon is near the {}.",
        &["old town", "river", "station"],
        "Nice spot.",
    ),
    ("My husband {} is a chef.", &["Marc"], "Lucky you!"),
    (
        "Marc is cooking {} tonight.",
        &["risotto", "a curry", "ratatouille", "fish"],
        "Enjoy!",
    ),
    (
        "Our daughter {} starts school in September.",
        &["Léa"],
        "A big step.",
    ),
    (
        "Léa loves {}.",
        &["drawing", "dinosaurs", "swimming", "the piano"],
        "How lovely.",
    ),
    (
        "I go {} every weekend.",
        &["climbing", "running", "cycling"],
        "Great for the body.",
    ),
    (
        "I'm training for the {} in October.",
        &["Lyon half marathon"],
        "You can do it!",
    ),
    (
        "I'm allergic to {}.",
        &["penicillin", "cats"],
        "Good to know.",
    ),
    (
        "My knee hurts after {}.",
        &["running", "long shifts"],
        "Take care of it.",
    ),
    ("I prefer {} to coffee.", &["tea", "green tea"], "Noted."),
    (
        "I'm reading {} at the moment.",
        &["Dune", "a book on Roman history", "The Plague"],
        "Good choice.",
    ),
    (
        "We're planning a trip to {} in the summer.",
        &["Portugal", "the Alps", "Sicily"],
        "Sounds wonderful.",
    ),
    (
        "My mother {} lives in Nantes.",
        &["Anne"],
        "Do you visit often?",
    ),
    (
        "I'm learning {} on an app.",
        &["Italian", "Spanish"],
        "Buona fortuna!",
    ),
    (
        "My best friend {} is getting married in June.",
        &["Sophie"],
        "Congratulations to her!",
    ),
    (
        "I want to buy {} this year.",
        &["an electric bike", "a new laptop"],
        "Good plan.",
    ),
];

/// Questions without a personal fact.
const QUESTIONS: &[(&str, &str)] = &[
    ("What's the capital of Australia?", "Canberra."),
    (
        "How many minutes should I boil an egg?",
        "About 7 minutes for a firm yolk.",
    ),
    (
        "Can you explain what a VPN does?",
        "It tunnels your traffic through another server.",
    ),
    ("What's 15% of 80?", "12."),
    ("Translate 'good morning' into Italian.", "Buongiorno."),
    ("Who wrote Les Misérables?", "Victor Hugo."),
    (
        "What's a good stretch for tight hamstrings?",
        "A seated forward fold, held 30 s.",
    ),
    ("How far is the Moon?", "About 384,400 km."),
];

/// The day: `n` exchanges, two thirds personal, in time order.
pub fn synthetic_day(n: usize, seed: u64) -> Vec<(String, String)> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            if i % 3 == 2 {
                let (q, a) = QUESTIONS[rng.random_range(0..QUESTIONS.len())];
                (q.to_owned(), a.to_owned())
            } else {
                let (t, fill, reply) = SAYINGS[rng.random_range(0..SAYINGS.len())];
                let f = fill[rng.random_range(0..fill.len())];
                (t.replace("{}", f), reply.to_owned())
            }
        })
        .collect()
}

/// Runs the benchmark and prints its table; returns the run's statistics.
pub async fn run(database_url: &str, llm: &LlmClient, exchanges: usize) -> anyhow::Result<Value> {
    let db = TempDatabase::create(database_url, "bench_night").await?;
    let result = async {
        let pool = &db.pool;
        crate::store::users::upsert_user(pool, USER, "UTC").await?;
        crate::store::users::claim_room(pool, ROOM, USER, true).await?;
        // What the user had told the bot before: a few older facts, one of them outdated.
        let older = vec![
            NewFact::new("The user lives in Paris.", Category::Identity, 5),
            NewFact::new("The user works as a nurse.", Category::Work, 5),
            NewFact::new(
                "The user likes coffee in the morning.",
                Category::Preference,
                3,
            ),
            NewFact::new(
                "The user's husband is called Marc.",
                Category::Relationship,
                5,
            ),
            NewFact::new(
                "The user has a dentist appointment in March.",
                Category::Plan,
                2,
            ),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            f.with_sources([format!("$old{i}")])
                .observed_at(Utc::now() - Duration::days(120))
        })
        .collect();
        crate::memory::store_facts(pool, llm, USER, older).await?;
        // Those were in an earlier digest.
        crate::night::deliver::mark_facts_told(pool, USER).await?;

        let start = Utc::now() - Duration::hours(16);
        for (i, (q, a)) in synthetic_day(exchanges, 3).iter().enumerate() {
            let at = start + Duration::minutes(4 * i as i64);
            let ev = format!("$bench{i}");
            let stored = crate::store::messages::store_user_message(
                pool,
                &crate::store::messages::NewMessage {
                    user_id: USER,
                    room_id: ROOM,
                    event_id: &ev,
                    body: q,
                    thread_root: None,
                    in_reply_to: None,
                    sent_at: at,
                    is_command: false,
                },
            )
            .await?;
            let crate::store::messages::Stored::New(message_id) = stored else {
                anyhow::bail!("the bench's database already held message {ev}");
            };
            crate::store::messages::record_reply(
                pool,
                &crate::store::messages::ReplyRecord {
                    message_id,
                    user_id: USER.into(),
                    room_id: ROOM.into(),
                    message_event_id: ev.clone(),
                    part_event_ids: vec![format!("$reply{i}")],
                    parts: vec![a.to_string()],
                    ..Default::default()
                },
            )
            .await?;
        }

        let t = Instant::now();
        let now = Utc::now();
        let outcome = run_night(
            pool,
            llm,
            USER,
            now.date_naive(),
            now,
            &RunOptions {
                trigger: Trigger::Manual,
                ..Default::default()
            },
        )
        .await?;
        let wall = t.elapsed();
        let RunOutcome::Done(report) = outcome else {
            anyhow::bail!("the night did not complete: {outcome:?}");
        };
        println!(
            "night over {exchanges} exchanges (chat {}, embeddings {})",
            llm.chat_url(),
            llm.embedding_url()
        );
        println!(
            "{:<10} {:>9} {:>12} {:>10}",
            "stage", "llm calls", "embed reqs", "seconds"
        );
        let (mut calls, mut embeds) = (0, 0);
        for st in Stage::ALL {
            let s = &report.stats[st.as_str()];
            let c = s["llm_calls"].as_u64().unwrap_or(0);
            let e = s["embed_calls"].as_u64().unwrap_or(0);
            calls += c;
            embeds += e;
            println!(
                "{:<10} {:>9} {:>12} {:>10.1}",
                st.as_str(),
                c,
                e,
                s["ms"].as_u64().unwrap_or(0) as f64 / 1000.0
            );
        }
        println!(
            "{:<10} {:>9} {:>12} {:>10.1}",
            "total",
            calls,
            embeds,
            wall.as_secs_f64()
        );
        println!("\n{}", crate::night::summary(&report));
        if let Some(d) = &report.digest {
            println!("\n--- digest ---\n{d}");
        }
        Ok(report.stats)
    }
    .await;
    db.remove().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_day_is_deterministic_and_mixed() {
        let a = synthetic_day(200, 3);
        assert_eq!(a, synthetic_day(200, 3));
        assert_eq!(a.len(), 200);
        assert!(a.iter().any(|(q, _)| q.contains("Lyon")));
        assert!(a.iter().any(|(q, _)| q.ends_with('?')));
        assert!(a.iter().all(|(q, _)| !q.contains("{}")));
    }
}
