//! Retrieval on real PostgreSQL with the stub's embeddings: hybrid candidates, what is
//! excluded, boosts, the profile and the token budget, access statistics, the experience
//! row, and the fall-back to full-text when the embedding server is slow or down.

use std::time::Duration;

use crate::common::db::TestDb;
use crate::common::stub_llm::{Reply, StubLlm};
use chrono::{TimeZone, Utc};
use threeam::memory::{
    Category, RetrieveOptions, get_fact, record_facts_used, retrieve, retrieve_with_vector,
};

const ADA: &str = "@ada:localhost";

fn opts() -> RetrieveOptions {
    RetrieveOptions {
        k: 5,
        token_budget: 600,
        embed_timeout: Duration::from_secs(5),
        now: Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
    }
}

#[tokio::test]
async fn a_natural_question_finds_the_fact_and_its_access_is_counted() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let lyon = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        "The user lives in Lyon.",
        Category::Identity,
        5,
        "$1",
    )
    .await;
    crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        "The user is allergic to peanuts.",
        Category::Health,
        4,
        "$2",
    )
    .await;
    crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        "The user's favourite band is Radiohead.",
        Category::Preference,
        3,
        "$3",
    )
    .await;

    // "where do I live?" shares no word with the fact ("live" ≠ "lives" for the stub's
    // embedding), and not every word is in it: the stemmed OR fallback finds it.
    let got = retrieve(&db.pool, &llm, ADA, "Where do I live these days?", &opts())
        .await
        .unwrap();
    assert!(got.used_vector);
    assert_eq!(
        got.facts.first().map(|f| f.fact.id),
        Some(lyon),
        "{:#?}",
        got.facts
    );
    assert!(got.facts[0].text_rank.is_some());
    assert!(
        got.context.contains("The user lives in Lyon."),
        "{}",
        got.context
    );
    assert!(got.profile.is_none());

    let f = get_fact(&db.pool, ADA, lyon).await.unwrap().unwrap();
    assert_eq!(f.access_count, 1);
    assert_eq!(f.last_accessed_at, Some(opts().now));

    // By meaning alone: the vector list finds what full-text cannot (same words, other order
    // and form).
    let got = retrieve(&db.pool, &llm, ADA, "peanuts allergic?", &opts())
        .await
        .unwrap();
    assert!(got.facts[0].fact.text.contains("peanuts"));
    assert!(got.facts[0].vector_rank == Some(1) && got.facts[0].similarity.unwrap() > 0.5);
}

#[tokio::test]
async fn superseded_ended_and_archived_facts_are_not_retrieved() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let old = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        "The user lives in Paris.",
        Category::Identity,
        5,
        "$1",
    )
    .await;
    let new = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        "The user lives in Lyon now.",
        Category::Identity,
        5,
        "$2",
    )
    .await;
    let ended = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        "The user lives in a student flat.",
        Category::Identity,
        3,
        "$3",
    )
    .await;
    let faded = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        "The user lives near a bakery.",
        Category::Other,
        3,
        "$4",
    )
    .await;
    sqlx::query("UPDATE facts SET superseded_by = $2, valid_to = now() WHERE id = $1")
        .bind(old)
        .bind(new)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE facts SET valid_to = now() WHERE id = $1")
        .bind(ended)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE facts SET archived_at = now() WHERE id = $1")
        .bind(faded)
        .execute(&db.pool)
        .await
        .unwrap();
    let got = retrieve(&db.pool, &llm, ADA, "where does the user live", &opts())
        .await
        .unwrap();
    assert_eq!(got.fact_ids(), vec![new]);
}

#[tokio::test]
async fn the_profile_comes_first_and_the_budget_and_k_hold() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let places = [
        "Alpine", "Coastal", "Forest", "Canyon", "Lakeside", "Ridge", "Valley", "Glacier",
    ];
    let company = [
        "Eve",
        "colleagues",
        "cousins",
        "the dog",
        "Marc",
        "a club",
        "Lena",
        "nobody",
    ];
    for i in 0..8 {
        let text = format!(
            "The user went hiking on the {} trail with {} in {}.",
            places[i],
            company[i],
            ["May", "June", "July", "August"][i % 4]
        );
        crate::common::memory_fixtures::fact(
            &db.pool,
            &llm,
            ADA,
            &text,
            Category::Other,
            3,
            &format!("$h{i}"),
        )
        .await;
    }
    sqlx::query("INSERT INTO user_profile (user_id, text) VALUES ($1, 'Ada, a nurse in Lyon who loves hiking.')")
        .bind(ADA)
        .execute(&db.pool)
        .await
        .unwrap();
    let got = retrieve(&db.pool, &llm, ADA, "hiking trail", &opts())
        .await
        .unwrap();
    assert_eq!(got.facts.len(), 5, "k");
    assert_eq!(
        got.profile.as_deref(),
        Some("Ada, a nurse in Lyon who loves hiking.")
    );
    assert!(
        got.context
            .starts_with("What you know about the user:\nAda, a nurse"),
        "{}",
        got.context
    );
    assert_eq!(got.context.matches("hiking on the").count(), 5);

    let small = RetrieveOptions {
        k: 10,
        token_budget: 90,
        ..opts()
    };
    let got = retrieve(&db.pool, &llm, ADA, "hiking trail", &small)
        .await
        .unwrap();
    assert!(
        got.facts.len() < 5 && !got.facts.is_empty(),
        "{}",
        got.context
    );
    assert!(threeam::memory::score::estimate_tokens(&got.context) <= 90 + 8);
    assert!(got.context.starts_with("What you know about the user:"));
}

#[tokio::test]
async fn priority_and_cluster_importance_lift_a_fact() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let kenya = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        "The user buys coffee beans from Kenya.",
        Category::Preference,
        1,
        "$1",
    )
    .await;
    let peru = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        "The user buys coffee beans from Peru.",
        Category::Preference,
        1,
        "$2",
    )
    .await;
    let order = |ids: Vec<i64>| {
        ids.into_iter()
            .filter(|i| *i == kenya || *i == peru)
            .collect::<Vec<_>>()
    };
    let before = retrieve(&db.pool, &llm, ADA, "coffee beans", &opts())
        .await
        .unwrap();
    let last = *order(before.fact_ids()).last().unwrap();

    // Lift the one that came second with priority and an important cluster.
    let cluster: i64 = sqlx::query_scalar(
        "INSERT INTO clusters (user_id, label, name, importance, size) VALUES ($1, 1, 'Coffee', 1.0, 1) RETURNING id",
    )
    .bind(ADA)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE facts SET priority = 5, cluster_id = $2 WHERE id = $1")
        .bind(last)
        .bind(cluster)
        .execute(&db.pool)
        .await
        .unwrap();
    let after = retrieve(&db.pool, &llm, ADA, "coffee beans", &opts())
        .await
        .unwrap();
    assert_eq!(order(after.fact_ids())[0], last, "{:#?}", after.facts);
}

#[tokio::test]
async fn a_slow_embedding_server_means_full_text_only_and_a_warning() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let lyon = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        "The user lives in Lyon.",
        Category::Identity,
        5,
        "$1",
    )
    .await;

    let logs = crate::common::memory_fixtures::Logs::capture();
    stub.push_embed_error(Reply::Delay(Duration::from_secs(3)));
    let quick = RetrieveOptions {
        embed_timeout: Duration::from_millis(200),
        ..opts()
    };
    let got = retrieve(&db.pool, &llm, ADA, "Where do I live?", &quick)
        .await
        .unwrap();
    assert!(!got.used_vector);
    assert_eq!(got.fact_ids(), vec![lyon]);
    assert!(got.facts[0].vector_rank.is_none());
    let text = logs.text();
    assert!(
        text.contains("WARN")
            && text.contains("timed out")
            && text.contains("full-text search only"),
        "{text}"
    );

    // A failing server: the same fall-back.
    stub.push_embed_error(Reply::Error {
        status: 400,
        message: "bad input".into(),
    });
    let got = retrieve(&db.pool, &llm, ADA, "Where do I live?", &opts())
        .await
        .unwrap();
    assert!(!got.used_vector && got.fact_ids() == vec![lyon]);
    assert!(logs.text().contains("embedding the query failed"));
}

#[tokio::test]
async fn an_empty_memory_gives_an_empty_context() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let got = retrieve(&db.pool, &llm, ADA, "anything?", &opts())
        .await
        .unwrap();
    assert!(got.facts.is_empty() && got.context.is_empty() && got.used_vector);
    let got = retrieve_with_vector(&db.pool, ADA, "", None, &opts())
        .await
        .unwrap();
    assert!(got.facts.is_empty());
}

#[tokio::test]
async fn the_facts_used_are_recorded_on_the_experience_row() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let id = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        "The user lives in Lyon.",
        Category::Identity,
        5,
        "$1",
    )
    .await;
    sqlx::query(
        "INSERT INTO experience (user_id, room_id, message_event_id) VALUES ($1, '!r', '$ask')",
    )
    .bind(ADA)
    .execute(&db.pool)
    .await
    .unwrap();
    let got = retrieve(&db.pool, &llm, ADA, "where do I live", &opts())
        .await
        .unwrap();
    assert_eq!(
        record_facts_used(&db.pool, ADA, "$ask", &got.fact_ids())
            .await
            .unwrap(),
        1
    );
    let used: Vec<i64> =
        sqlx::query_scalar("SELECT facts_used FROM experience WHERE message_event_id = '$ask'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(used, vec![id]);
    assert_eq!(
        record_facts_used(&db.pool, "@eve:localhost", "$ask", &[1])
            .await
            .unwrap(),
        0
    );
}
