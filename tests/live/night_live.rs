//! A short night with the stack's real chat model (Qwen2.5-Coder-0.5B) and MiniLM
//! embeddings: the cycle completes, and whatever the model extracted is stored with sources
//! from the day, clustered, and told in a digest.

use crate::common::db::TestDb;
use crate::common::night_fixtures::{DAY, add_day, add_user};
use crate::common::stack_env;
use chrono::{TimeZone, Utc};
use threeam::config::LlmConfig;
use threeam::llm::LlmClient;
use threeam::night::{RunOptions, RunOutcome, Stage, run_night};

const ADA: &str = "@ada:localhost";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_night_with_the_real_model() {
    let llm = LlmClient::new(&LlmConfig {
        chat_url: stack_env("THREEAM_LLM_CHAT_URL"),
        embedding_url: stack_env("THREEAM_LLM_EMBEDDING_URL"),
        request_timeout_secs: 300,
        ..Default::default()
    })
    .unwrap();
    let db = TestDb::migrated().await;
    let start = Utc.with_ymd_and_hms(2025, 3, 14, 9, 0, 0).unwrap();
    add_user(&db.pool, ADA, "!ada:localhost", "UTC", start).await;
    add_day(&db.pool, ADA, "!ada:localhost", "$", start).await;
    let now = Utc.with_ymd_and_hms(2025, 3, 15, 3, 0, 0).unwrap();
    let outcome = run_night(
        &db.pool,
        &llm,
        ADA,
        now.date_naive(),
        now,
        &RunOptions::default(),
    )
    .await
    .expect("the night completes with the real model");
    let RunOutcome::Done(report) = outcome else {
        panic!("{outcome:?}");
    };
    println!("{}", threeam::night::summary(&report));
    println!("{}", report.digest.clone().unwrap_or_default());
    assert_eq!(report.stages_run, Stage::ALL.to_vec());
    assert_eq!(report.stats["extract"]["llm_calls"], 1);

    let facts: Vec<(String, Vec<String>, i16)> =
        sqlx::query_as("SELECT text, source_event_ids, priority FROM facts WHERE user_id = $1")
            .bind(ADA)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let day_events: Vec<String> = (1..=DAY.len())
        .flat_map(|i| [format!("$e{i}"), format!("$r{i}")])
        .collect();
    for (text, sources, priority) in &facts {
        assert!(
            !sources.is_empty() && sources.iter().all(|s| day_events.contains(s)),
            "{text}: {sources:?}"
        );
        assert!(*priority >= 2, "{text}");
    }
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages WHERE user_id = $1 AND night_processed_at IS NULL",
    )
    .bind(ADA)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    if report.stats["extract"]["groups_failed"] == 0 {
        assert_eq!(pending, 0);
    } else {
        assert_eq!(
            pending,
            2 * DAY.len() as i64,
            "a failed group keeps its exchanges"
        );
    }
    if !facts.is_empty() {
        let members: i64 =
            sqlx::query_scalar("SELECT count(*) FROM cluster_members WHERE user_id = $1")
                .bind(ADA)
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(members, facts.len() as i64);
        assert!(
            report
                .digest
                .as_deref()
                .is_some_and(|d| d.contains("New things I know about you"))
        );
    }
}
