//! The night cycle on the real PostgreSQL + pgvector, with the llama-server stub playing a
//! model that reads the scripted day well (tests/common/night_fixtures.rs).

use crate::common::db::TestDb;
use crate::common::night_fixtures::*;
use crate::common::stub_llm::{Reply, StubLlm};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::Value;
use sqlx::PgPool;
use threeam::config::Config;
use threeam::llm::LlmClient;
use threeam::memory::{Category, NewFact, store_facts};
use threeam::night::{RunOptions, RunOutcome, Stage, Trigger, run_night};

const ADA: &str = "@ada:localhost";
const ROOM: &str = "!ada:localhost";

struct Rig {
    db: TestDb,
    stub: StubLlm,
    llm: LlmClient,
}

fn night() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 15).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 15, 3, 0, 0).unwrap()
}

/// A user with older facts (one outdated, one compatible with the day's news), one fact that
/// realtime extraction already stored from today's exchange 6, and the scripted day.
async fn rig() -> Rig {
    let stub = StubLlm::start().await;
    install_model(&stub);
    let db = TestDb::migrated().await;
    let mut cfg = Config::default();
    cfg.llm.chat_url = stub.url();
    cfg.llm.embedding_url = stub.url();
    cfg.llm.max_retries = 0;
    let llm = LlmClient::new(&cfg.llm).unwrap();
    let created = Utc.with_ymd_and_hms(2024, 10, 1, 12, 0, 0).unwrap();
    add_user(&db.pool, ADA, ROOM, "UTC", created).await;
    let older = Utc.with_ymd_and_hms(2025, 1, 10, 12, 0, 0).unwrap();
    store_facts(
        &db.pool,
        &llm,
        ADA,
        vec![
            NewFact::new("The user lives in Paris.", Category::Identity, 5)
                .with_sources(["$old1"])
                .observed_at(older),
            NewFact::new(
                "The user plays tennis on weekends.",
                Category::Preference,
                3,
            )
            .with_sources(["$old2"])
            .observed_at(older),
        ],
    )
    .await
    .unwrap();
    add_day(
        &db.pool,
        ADA,
        ROOM,
        "$",
        Utc.with_ymd_and_hms(2025, 3, 14, 9, 0, 0).unwrap(),
    )
    .await;
    // Realtime extraction already learned exchange 6 during the day.
    store_facts(
        &db.pool,
        &llm,
        ADA,
        vec![
            NewFact::new("The user is allergic to penicillin.", Category::Health, 4)
                .with_sources(["$e6", "$r6"]),
        ],
    )
    .await
    .unwrap();
    // Mark where the previous digest left off: the two older facts were reported then.
    sqlx::query("INSERT INTO night_marks (user_id, fact_id) VALUES ($1, 2)")
        .bind(ADA)
        .execute(&db.pool)
        .await
        .unwrap();
    Rig { db, stub, llm }
}

async fn run(r: &Rig, opts: RunOptions) -> anyhow::Result<RunOutcome> {
    run_night(&r.db.pool, &r.llm, ADA, night(), now(), &opts).await
}

fn done(o: RunOutcome) -> threeam::night::RunReport {
    match o {
        RunOutcome::Done(r) => r,
        other => panic!("the night did not complete: {other:?}"),
    }
}

async fn fact_row(pool: &PgPool, text: &str) -> (i64, Vec<String>, bool, Option<i64>) {
    let r: (i64, Vec<String>, Option<DateTime<Utc>>, Option<i64>) = sqlx::query_as(
        "SELECT id, source_event_ids, valid_to, superseded_by FROM facts WHERE user_id = $1 AND text = $2",
    )
    .bind(ADA)
    .bind(text)
    .fetch_one(pool)
    .await
    .unwrap_or_else(|e| panic!("no fact {text:?}: {e}"));
    (r.0, r.1, r.2.is_some(), r.3)
}

#[tokio::test]
async fn a_simulated_day_becomes_memory_topics_and_a_digest() {
    let r = rig().await;
    let report = done(run(&r, RunOptions::default()).await.unwrap());
    let pool = &r.db.pool;
    assert_eq!(report.stages_run, Stage::ALL.to_vec());
    assert_eq!(
        report.stats["group"]["groups"], 1,
        "a small day is one group"
    );
    assert_eq!(report.stats["extract"]["llm_calls"], 1);

    // The expected facts, with their sources.
    for (text, sources) in [
        ("The user's name is Ada.", vec!["$e1", "$r1"]),
        (
            "The user works as a nurse at St Mary's hospital.",
            vec!["$e1", "$r1"],
        ),
        ("The user lives in Lyon.", vec!["$e2", "$r2"]),
        ("The user plays chess on weekends.", vec!["$e3", "$r3"]),
        (
            "The user's sister Eve is visiting next week.",
            vec!["$e5", "$r5"],
        ),
    ] {
        let (_, got, outdated, _) = fact_row(pool, text).await;
        assert_eq!(got, sources, "{text}");
        assert!(!outdated, "{text}");
    }
    // The fact realtime extraction stored is not duplicated.
    let allergy: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM facts WHERE user_id = $1 AND text ILIKE '%penicillin%'",
    )
    .bind(ADA)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(allergy, 1);
    assert_eq!(report.stats["store"]["merged"], 1);

    // The move supersedes Paris, which is kept as history; tennis and chess both stay.
    let (lyon, ..) = fact_row(pool, "The user lives in Lyon.").await;
    let (_, _, paris_outdated, paris_by) = fact_row(pool, "The user lives in Paris.").await;
    assert!(paris_outdated);
    assert_eq!(paris_by, Some(lyon));
    let (_, _, tennis_outdated, _) = fact_row(pool, "The user plays tennis on weekends.").await;
    assert!(!tennis_outdated);
    let asked = r.stub.structured_requests_named("night_conflict");
    assert!(
        asked.iter().any(|b| {
            let s = b.to_string();
            s.contains("tennis") && s.contains("chess")
        }),
        "the model was asked about tennis vs chess"
    );
    assert_eq!(report.stats["conflicts"]["kept_both"].as_u64().unwrap(), 1);

    // Every exchange is processed.
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages WHERE user_id = $1 AND night_processed_at IS NULL",
    )
    .bind(ADA)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(pending, 0);

    // Topics: every live fact in exactly one named cluster.
    let unclustered: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM facts f WHERE f.user_id = $1 AND f.valid_to IS NULL AND f.archived_at IS NULL
           AND (SELECT count(*) FROM cluster_members m WHERE m.fact_id = f.id) <> 1",
    )
    .bind(ADA)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(unclustered, 0);
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM clusters WHERE user_id = $1 AND retired_at IS NULL ORDER BY id",
    )
    .bind(ADA)
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(!names.is_empty());
    assert!(
        report.stats["cluster"]["health"]
            .as_str()
            .unwrap()
            .starts_with("[clustering] 7 facts → ")
    );

    // The digest names the news, the update and the topics.
    let body: String =
        sqlx::query_scalar("SELECT body FROM digests WHERE user_id = $1 AND for_date = $2")
            .bind(ADA)
            .bind(night())
            .fetch_one(pool)
            .await
            .unwrap();
    println!("{body}");
    assert_eq!(Some(&body), report.digest.as_ref());
    assert!(body.contains("You live in Lyon."), "{body}");
    assert!(
        body.contains("(was: “You live in Paris”): updated"),
        "{body}"
    );
    assert!(body.contains("You play chess on weekends."), "{body}");
    assert!(body.contains("You are allergic to penicillin."), "{body}");
    assert!(!body.contains("tennis"), "reported before: {body}");
    for n in &names {
        assert!(
            body.contains(&format!("**{n}**")),
            "topic {n} missing: {body}"
        );
    }
    let profile: String = sqlx::query_scalar("SELECT text FROM user_profile WHERE user_id = $1")
        .bind(ADA)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(profile.contains("Lyon"));

    // Run state and a scheduled rerun that does nothing.
    let status: String = sqlx::query_scalar("SELECT status FROM night_runs WHERE user_id = $1")
        .bind(ADA)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(status, "done");
    assert!(matches!(
        run(&r, RunOptions::default()).await.unwrap(),
        RunOutcome::AlreadyDone
    ));
}

#[tokio::test]
async fn a_crash_after_stage_four_resumes_and_equals_an_uninterrupted_run() {
    let crashed = rig().await;
    let stopped = run(
        &crashed,
        RunOptions {
            stop_after: Some(Stage::Conflicts),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        stopped,
        RunOutcome::Stopped {
            after: Some(Stage::Conflicts),
            ..
        }
    ));
    let (stage, status): (String, String) =
        sqlx::query_as("SELECT stage, status FROM night_runs WHERE user_id = $1")
            .bind(ADA)
            .fetch_one(&crashed.db.pool)
            .await
            .unwrap();
    assert_eq!((stage.as_str(), status.as_str()), ("conflicts", "running"));
    let resumed = done(run(&crashed, RunOptions::default()).await.unwrap());
    assert_eq!(resumed.resumed_after, Some(Stage::Conflicts));
    assert_eq!(resumed.stages_run.first(), Some(&Stage::Decay));
    // Nothing before the checkpoint was asked again.
    assert_eq!(
        crashed.stub.structured_requests_named("night_facts").len(),
        1
    );

    let whole = rig().await;
    done(run(&whole, RunOptions::default()).await.unwrap());
    let a = snapshot(&crashed.db.pool, ADA).await;
    let b = snapshot(&whole.db.pool, ADA).await;
    assert_eq!(a, b);
    assert!(!a["clusters"].as_array().unwrap().is_empty());
    assert_eq!(a["digests"].as_array().unwrap().len(), 1);
    assert_eq!(a["pending"], 0);
    // No duplicate facts.
    let texts: Vec<&str> = a["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    let mut unique = texts.clone();
    unique.dedup();
    assert_eq!(texts, unique);
    assert_eq!(texts.len(), 8, "{texts:?}");
}

#[tokio::test]
async fn malformed_model_output_keeps_the_exchanges_pending() {
    let r = rig().await;
    r.stub.set_structured_responder(|name, _| {
        (name == "night_facts").then(|| Reply::text("{\"facts\": [{\"text\": \"The user", -0.1))
    });
    let report = done(run(&r, RunOptions::default()).await.unwrap());
    assert_eq!(report.stats["extract"]["groups_failed"], 1);
    let errors = report.stats["extract"]["errors"].to_string();
    assert!(errors.contains("did not match what was asked"), "{errors}");
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages WHERE user_id = $1 AND role = 'user' AND night_processed_at IS NULL",
    )
    .bind(ADA)
    .fetch_one(&r.db.pool)
    .await
    .unwrap();
    assert_eq!(pending, DAY.len() as i64, "nothing lost");

    // The next night reads them.
    install_model(&r.stub);
    let next = NaiveDate::from_ymd_opt(2025, 3, 16).unwrap();
    let later = now() + chrono::Duration::days(1);
    done(
        run_night(&r.db.pool, &r.llm, ADA, next, later, &RunOptions::default())
            .await
            .unwrap(),
    );
    fact_row(&r.db.pool, "The user lives in Lyon.").await;
}

#[tokio::test]
async fn a_dead_model_server_fails_the_stage_and_the_run_resumes_there() {
    let r = rig().await;
    r.stub.set_structured_responder(|name, _| {
        (name == "night_facts").then(|| Reply::Error {
            status: 500,
            message: "model crashed".into(),
        })
    });
    let err = run(&r, RunOptions::default()).await.unwrap_err();
    assert!(format!("{err:#}").contains("stage extract"), "{err:#}");
    let (stage, status, error): (String, String, Option<String>) =
        sqlx::query_as("SELECT stage, status, error FROM night_runs WHERE user_id = $1")
            .bind(ADA)
            .fetch_one(&r.db.pool)
            .await
            .unwrap();
    assert_eq!((stage.as_str(), status.as_str()), ("group", "failed"));
    let error = error.unwrap();
    assert!(
        error.contains("stage extract failed") && error.contains("model crashed"),
        "{error}"
    );

    install_model(&r.stub);
    let report = done(run(&r, RunOptions::default()).await.unwrap());
    assert_eq!(report.resumed_after, Some(Stage::Group));
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM night_runs WHERE user_id = $1")
        .bind(ADA)
        .fetch_one(&r.db.pool)
        .await
        .unwrap();
    assert_eq!(attempts, 2);
    fact_row(&r.db.pool, "The user lives in Lyon.").await;
}

#[tokio::test]
async fn two_cycles_of_one_user_never_overlap() {
    let r = rig().await;
    let held = threeam::night::lock::try_lock(&r.db.pool, ADA)
        .await
        .unwrap()
        .expect("free");
    assert!(
        threeam::night::lock::try_lock(&r.db.pool, ADA)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        run(&r, RunOptions::default()).await.unwrap(),
        RunOutcome::Busy
    ));
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM night_runs")
        .fetch_one(&r.db.pool)
        .await
        .unwrap();
    assert_eq!(runs, 0, "a busy night touches nothing");
    // Another user is not blocked.
    assert!(
        threeam::night::lock::try_lock(&r.db.pool, "@bob:localhost")
            .await
            .unwrap()
            .is_some()
    );
    held.release().await;
    done(run(&r, RunOptions::default()).await.unwrap());
}

#[tokio::test]
async fn a_manual_second_pass_joins_the_unsent_digest() {
    let r = rig().await;
    done(run(&r, RunOptions::default()).await.unwrap());
    add_exchange(
        &r.db.pool,
        ADA,
        ROOM,
        "$",
        7,
        "I'm allergic to cats too.",
        "Noted.",
        now(),
    )
    .await;
    r.stub.set_structured_responder(|name, body| {
        let s = body.to_string();
        match name {
            "night_facts" if s.contains("cats") => Some(Reply::json(&serde_json::json!({"facts": [
                {"text": "The user is allergic to cats.", "category": "health", "priority": 4, "sources": [1]}]}))),
            "night_facts" => Some(Reply::json(&serde_json::json!({"facts": []}))),
            "night_conflict" => Some(Reply::json(&serde_json::json!({"replaces": false}))),
            "night_cluster_name" => Some(Reply::json(&serde_json::json!({"name": "Health"}))),
            "night_profile" => Some(Reply::json(&serde_json::json!({"profile": "The user is Ada."}))),
            _ => None,
        }
    });
    let second = done(
        run(
            &r,
            RunOptions {
                trigger: Trigger::Manual,
                ..Default::default()
            },
        )
        .await
        .unwrap(),
    );
    assert_eq!(second.stats["passes"], 2);
    let digests: Vec<String> = sqlx::query_scalar("SELECT body FROM digests WHERE user_id = $1")
        .bind(ADA)
        .fetch_all(&r.db.pool)
        .await
        .unwrap();
    assert_eq!(digests.len(), 1, "one digest per morning");
    assert!(
        digests[0].contains("You are allergic to cats."),
        "{}",
        digests[0]
    );
    assert!(
        digests[0].contains("You live in Lyon."),
        "the first pass's news stays: {}",
        digests[0]
    );
    let v: Value = second.stats.clone();
    assert_eq!(v["group"]["exchanges"], 1);
}

/// Stage 7 on stored feedback: a week in which answers the model was unsure of were 👎'd as
/// wrong or made up, while sure and searched ones were 👍'd. The night moves the profile one
/// bounded step, keeps the reason, and the digest says it in words; a second pass over the
/// same evidence changes nothing.
#[tokio::test]
async fn the_behaviour_stage_learns_from_the_weeks_feedback_and_the_digest_says_so() {
    let r = rig().await;
    let mut n = 0;
    for day in 0..7i64 {
        let at = Utc.with_ymd_and_hms(2025, 3, 8, 10, 0, 0).unwrap() + chrono::Duration::days(day);
        for (conf, action, fb, tag) in [
            (0.2f32, "answer", -1i16, Some("wrong")),
            (0.3, "answer", -1, Some("hallucinated")),
            (0.85, "answer", 1, None),
            (0.9, "answer", 1, None),
            (0.35, "search", 1, None),
        ] {
            n += 1;
            sqlx::query(
                "INSERT INTO experience (user_id, room_id, message_event_id, reply_event_id,
                     gate_action, confidence, searched, feedback, feedback_at, tags, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $5 = 'search', $7, $8, $9, $8)",
            )
            .bind(ADA)
            .bind(ROOM)
            .bind(format!("$fbq{n}"))
            .bind(format!("$fbr{n}"))
            .bind(action)
            .bind(conf)
            .bind(fb)
            .bind(at)
            .bind(tag.map(|t| vec![t.to_owned()]).unwrap_or_default())
            .execute(&r.db.pool)
            .await
            .unwrap();
        }
    }
    done(run(&r, RunOptions::default()).await.unwrap());
    let profile = threeam::behaviour::store::current_profile(&r.db.pool, ADA)
        .await
        .unwrap();
    assert_eq!(profile.version, 1);
    assert_ne!(
        profile.unsure_action,
        threeam::gate::UnsureAction::Hedge,
        "{profile:?}"
    );
    assert!(profile.reason.contains("unsure"), "{}", profile.reason);
    let body: String = sqlx::query_scalar("SELECT body FROM digests WHERE user_id = $1")
        .bind(ADA)
        .fetch_one(&r.db.pool)
        .await
        .unwrap();
    assert!(body.contains("How I'll behave"), "{body}");
    assert!(body.contains("When I'm unsure"), "{body}");

    // A second pass the same night: the evidence was acted on, nothing moves.
    done(
        run(
            &r,
            RunOptions {
                trigger: Trigger::Manual,
                ..RunOptions::default()
            },
        )
        .await
        .unwrap(),
    );
    let again = threeam::behaviour::store::current_profile(&r.db.pool, ADA)
        .await
        .unwrap();
    assert_eq!(again.version, 1);
}
