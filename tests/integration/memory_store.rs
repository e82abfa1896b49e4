//! Storing facts on real PostgreSQL with the stub's embeddings: insert, near-duplicate merge,
//! idempotency for redelivered exchanges, validation, and all-or-nothing writes.

use crate::common::db::TestDb;
use crate::common::stub_llm::{Reply, StubLlm};
use threeam::memory::{
    Category, Kind, MemoryError, NewFact, StoreOutcome, get_fact, live_count, store_facts,
};

const ADA: &str = "@ada:localhost";
const BOB: &str = "@bob:localhost";

fn embed_calls(stub: &StubLlm) -> usize {
    stub.requests()
        .iter()
        .filter(|(p, _)| p == "/v1/embeddings")
        .count()
}

#[tokio::test]
async fn new_facts_are_inserted_with_embedding_and_metadata() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let out = store_facts(
        &db.pool,
        &llm,
        ADA,
        vec![
            NewFact::new("The user is called Ada.", Category::Identity, 5)
                .with_sources(["$m1", "$r1"]),
            NewFact::new(
                "How to reset the router: hold the button 10 s.",
                Category::Procedure,
                3,
            )
            .with_sources(["$m1", "$r1"]),
        ],
    )
    .await
    .unwrap();
    assert!(matches!(
        out[..],
        [StoreOutcome::Inserted { .. }, StoreOutcome::Inserted { .. }]
    ));
    assert_eq!(embed_calls(&stub), 1, "one batched embedding call");

    let f = get_fact(&db.pool, ADA, out[0].fact_id().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.text, "The user is called Ada.");
    assert_eq!(
        (f.category, f.priority, f.kind),
        (Category::Identity, 5, Kind::Personal)
    );
    assert_eq!(f.source_event_ids, vec!["$m1", "$r1"]);
    assert!(f.is_live() && f.access_count == 0);
    let proc = get_fact(&db.pool, ADA, out[1].fact_id().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(proc.kind, Kind::Procedure);

    let (dims, has_tsv): (i32, bool) = sqlx::query_as(
        "SELECT vector_dims(embedding), tsv @@ plainto_tsquery('english', 'called') FROM facts WHERE id = $1",
    )
    .bind(f.id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((dims, has_tsv), (384, true));
    // The user row is created when memory is written first.
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE user_id = $1")
        .bind(ADA)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(users, 1);
}

#[tokio::test]
async fn a_near_duplicate_updates_the_existing_fact_instead_of_adding_one() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let old = "The user's daughter Emma goes to primary school in Lyon.";
    let id = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        old,
        Category::Relationship,
        4,
        "$a",
    )
    .await;
    let before = get_fact(&db.pool, ADA, id).await.unwrap().unwrap();

    // One more word: cosine ≈ 0.95 with the stub's bag-of-words embedding.
    let newer = "The user's daughter Emma goes to primary school in central Lyon.";
    let out = store_facts(
        &db.pool,
        &llm,
        ADA,
        vec![NewFact::new(newer, Category::Other, 3).with_sources(["$b", "$a"])],
    )
    .await
    .unwrap();
    assert_eq!(out, vec![StoreOutcome::Merged { id, reworded: true }]);
    let after = get_fact(&db.pool, ADA, id).await.unwrap().unwrap();
    assert_eq!(after.text, newer, "the more specific wording wins");
    assert_eq!(
        after.source_event_ids,
        vec!["$a", "$b"],
        "sources are united"
    );
    assert_eq!(after.priority, 4, "the higher priority stays");
    assert_eq!(
        after.category,
        Category::Relationship,
        "a real category beats 'other'"
    );
    assert!(after.updated_at > before.updated_at);
    assert_eq!(after.created_at, before.created_at);

    // The shorter wording again merges without replacing the text.
    let out = store_facts(
        &db.pool,
        &llm,
        ADA,
        vec![NewFact::new(old, Category::Relationship, 5).with_sources(["$c"])],
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        vec![StoreOutcome::Merged {
            id,
            reworded: false
        }]
    );
    let again = get_fact(&db.pool, ADA, id).await.unwrap().unwrap();
    assert_eq!((again.text.as_str(), again.priority), (newer, 5));
    assert_eq!(live_count(&db.pool, ADA).await.unwrap(), 1);

    // A different fact is its own row; and the same words for another user are theirs.
    crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        "The user is allergic to peanuts.",
        Category::Health,
        4,
        "$d",
    )
    .await;
    let bobs = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        BOB,
        newer,
        Category::Relationship,
        4,
        "$e",
    )
    .await;
    assert_ne!(bobs, id);
    assert_eq!(live_count(&db.pool, ADA).await.unwrap(), 2);
    assert_eq!(live_count(&db.pool, BOB).await.unwrap(), 1);
}

#[tokio::test]
async fn two_near_duplicates_in_one_call_become_one_fact() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let out = store_facts(
        &db.pool,
        &llm,
        ADA,
        vec![
            NewFact::new(
                "The user drinks green tea every morning.",
                Category::Preference,
                3,
            ),
            NewFact::new(
                "the user drinks green tea every morning",
                Category::Preference,
                4,
            ),
        ],
    )
    .await
    .unwrap();
    let id = out[0].fact_id().unwrap();
    assert_eq!(
        out[1],
        StoreOutcome::Merged {
            id,
            reworded: false
        }
    );
    assert_eq!(live_count(&db.pool, ADA).await.unwrap(), 1);
}

#[tokio::test]
async fn a_redelivered_exchange_adds_nothing_and_skips_the_embedding_call() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let facts = || {
        vec![
            NewFact::new("The user lives in Lyon.", Category::Identity, 5)
                .with_sources(["$u1", "$r1"]),
            NewFact::new("The user works as a nurse.", Category::Work, 5)
                .with_sources(["$u1", "$r1"]),
        ]
    };
    let first = store_facts(&db.pool, &llm, ADA, facts()).await.unwrap();
    assert!(
        first
            .iter()
            .all(|o| matches!(o, StoreOutcome::Inserted { .. }))
    );
    let calls = embed_calls(&stub);

    let again = store_facts(&db.pool, &llm, ADA, facts()).await.unwrap();
    assert_eq!(
        again,
        vec![StoreOutcome::AlreadyStored, StoreOutcome::AlreadyStored]
    );
    // Even with other wording (the model is not deterministic across deliveries).
    let reworded = store_facts(
        &db.pool,
        &llm,
        ADA,
        vec![
            NewFact::new("The user is a nurse in a hospital.", Category::Work, 4)
                .with_sources(["$r1", "$u1"]),
        ],
    )
    .await
    .unwrap();
    assert_eq!(reworded, vec![StoreOutcome::AlreadyStored]);
    assert_eq!(embed_calls(&stub), calls, "no embedding for a redelivery");
    assert_eq!(live_count(&db.pool, ADA).await.unwrap(), 2);

    // The same event ids under another user are not a redelivery for this one.
    let bob = store_facts(&db.pool, &llm, BOB, facts()).await.unwrap();
    assert!(
        bob.iter()
            .all(|o| matches!(o, StoreOutcome::Inserted { .. }))
    );
}

#[tokio::test]
async fn invalid_facts_are_rejected_and_the_rest_stored() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let out = store_facts(
        &db.pool,
        &llm,
        ADA,
        vec![
            NewFact::new("   ", Category::Other, 3),
            NewFact::new("x".repeat(700), Category::Other, 3),
            NewFact::new("The user has two cats.", Category::Other, 3),
        ],
    )
    .await
    .unwrap();
    assert!(matches!(&out[0], StoreOutcome::Rejected { reason } if reason.contains("short")));
    assert!(matches!(&out[1], StoreOutcome::Rejected { reason } if reason.contains("long")));
    assert!(matches!(out[2], StoreOutcome::Inserted { .. }));

    // The schema itself refuses categories outside the fixed set.
    let bad = sqlx::query(
        "INSERT INTO facts (user_id, text, category, priority) VALUES ($1, 'x', 'zodiac', 3)",
    )
    .bind(ADA)
    .execute(&db.pool)
    .await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn superseded_facts_are_not_merge_targets_but_archived_ones_come_back() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let text = "The user plays the violin in an amateur orchestra.";
    let old = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        text,
        Category::Preference,
        3,
        "$1",
    )
    .await;
    sqlx::query("UPDATE facts SET valid_to = now() WHERE id = $1")
        .bind(old)
        .execute(&db.pool)
        .await
        .unwrap();
    let new = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        text,
        Category::Preference,
        3,
        "$2",
    )
    .await;
    assert_ne!(new, old, "an ended fact is history, not a merge target");

    sqlx::query("UPDATE facts SET archived_at = now() WHERE id = $1")
        .bind(new)
        .execute(&db.pool)
        .await
        .unwrap();
    let again = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        text,
        Category::Preference,
        3,
        "$3",
    )
    .await;
    assert_eq!(again, new, "mentioned again: the archived fact is revived");
    let f = get_fact(&db.pool, ADA, new).await.unwrap().unwrap();
    assert!(f.is_live());
}

#[tokio::test]
async fn an_embedding_failure_stores_nothing() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    stub.push_embed_error(Reply::Error {
        status: 500,
        message: "model crashed".into(),
    });
    let err = store_facts(
        &db.pool,
        &llm,
        ADA,
        vec![NewFact::new("The user lives in Lyon.", Category::Identity, 5).with_sources(["$x"])],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, MemoryError::Llm(_)), "{err}");
    assert_eq!(live_count(&db.pool, ADA).await.unwrap(), 0);
    // Retrying later works, and is not mistaken for a redelivery.
    let out = store_facts(
        &db.pool,
        &llm,
        ADA,
        vec![NewFact::new("The user lives in Lyon.", Category::Identity, 5).with_sources(["$x"])],
    )
    .await
    .unwrap();
    assert!(matches!(out[..], [StoreOutcome::Inserted { .. }]));
}
