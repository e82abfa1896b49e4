//! Two users' memories never mix: not in merging, retrieval, search, the grouped list,
//! find/forget by id or by words, forget everything, or export. Both users say nearly the
//! same things, so any missing `user_id` filter would show.

use std::time::Duration;

use crate::common::db::TestDb;
use crate::common::stub_llm::StubLlm;
use chrono::Utc;
use threeam::memory::{
    Category, RetrieveOptions, export, find, forget, forget_everything, get_fact, list_grouped,
    live_count, record_facts_used, remember, retrieve, search,
};

const ADA: &str = "@ada:localhost";
const BOB: &str = "@bob:localhost";

fn opts() -> RetrieveOptions {
    RetrieveOptions {
        k: 10,
        token_budget: 2000,
        embed_timeout: Duration::from_secs(5),
        now: Utc::now(),
    }
}

#[tokio::test]
async fn two_users_memories_never_mix() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let p = &db.pool;

    // Nearly the same facts: Bob's must not merge into Ada's.
    let ada_home = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user lives in Lyon near the river.",
        Category::Identity,
        5,
        "$a1",
    )
    .await;
    let ada_pin = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user's bank PIN hint is the cat's birthday.",
        Category::Other,
        4,
        "$a2",
    )
    .await;
    let bob_home = crate::common::memory_fixtures::fact(
        p,
        &llm,
        BOB,
        "The user lives in Lyon near the river.",
        Category::Identity,
        5,
        "$b1",
    )
    .await;
    let bob_job = remember(p, &llm, BOB, "I work as a baker in Lyon", "$b2")
        .await
        .unwrap()
        .id;
    assert_ne!(ada_home, bob_home);
    sqlx::query("INSERT INTO user_profile (user_id, text) VALUES ($1, 'Ada, secret agent.'), ($2, 'Bob, baker.')")
        .bind(ADA)
        .bind(BOB)
        .execute(p)
        .await
        .unwrap();

    // Retrieval and search.
    let bob_sees = retrieve(
        p,
        &llm,
        BOB,
        "where do I live? what about the bank PIN and the cat?",
        &opts(),
    )
    .await
    .unwrap();
    assert!(bob_sees.facts.iter().all(|f| f.fact.user_id == BOB));
    assert!(bob_sees.fact_ids().contains(&bob_home));
    assert!(!bob_sees.context.contains("PIN") && !bob_sees.context.contains("secret agent"));
    assert!(bob_sees.context.contains("Bob, baker."));
    let found = search(p, &llm, BOB, "bank PIN cat birthday", 10)
        .await
        .unwrap();
    assert!(found.iter().all(|f| f.fact.user_id == BOB), "{found:?}");
    let ada_sees = retrieve(p, &llm, ADA, "Where do I work? baker", &opts())
        .await
        .unwrap();
    assert!(!ada_sees.fact_ids().contains(&bob_job));

    // The grouped list.
    let listed: Vec<i64> = list_grouped(p, BOB)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|(_, f)| f.into_iter().map(|f| f.id))
        .collect();
    let mut expected = vec![bob_home, bob_job];
    expected.sort();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(listed_sorted, expected);

    // Find and forget, by id and by words.
    assert!(find(p, BOB, &ada_pin.to_string()).await.unwrap().is_empty());
    assert!(find(p, BOB, "PIN").await.unwrap().is_empty());
    assert!(
        find(p, BOB, "river")
            .await
            .unwrap()
            .iter()
            .all(|f| f.user_id == BOB)
    );
    assert_eq!(forget(p, BOB, &[ada_pin, ada_home]).await.unwrap(), 0);
    assert!(get_fact(p, ADA, ada_pin).await.unwrap().is_some());
    assert!(get_fact(p, BOB, ada_pin).await.unwrap().is_none());

    // The experience row of one user cannot be written with the other's name.
    sqlx::query(
        "INSERT INTO experience (user_id, room_id, message_event_id) VALUES ($1, '!a', '$ask')",
    )
    .bind(ADA)
    .execute(p)
    .await
    .unwrap();
    assert_eq!(
        record_facts_used(p, BOB, "$ask", &[bob_home])
            .await
            .unwrap(),
        0
    );

    // Export.
    let exported = export(p, BOB).await.unwrap();
    let text = exported.to_string();
    assert!(
        !text.contains("PIN") && !text.contains("secret agent"),
        "{text}"
    );
    let ids: Vec<i64> = exported["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    assert!(!ids.contains(&ada_home) && !ids.contains(&ada_pin));

    // Forget everything: Bob's memory only.
    assert_eq!(forget_everything(p, BOB).await.unwrap(), 2);
    assert_eq!(live_count(p, BOB).await.unwrap(), 0);
    assert_eq!(live_count(p, ADA).await.unwrap(), 2);
    let profile: Option<String> =
        sqlx::query_scalar("SELECT text FROM user_profile WHERE user_id = $1")
            .bind(ADA)
            .fetch_optional(p)
            .await
            .unwrap();
    assert_eq!(profile.as_deref(), Some("Ada, secret agent."));
    let ada_sees = retrieve(p, &llm, ADA, "where do I live", &opts())
        .await
        .unwrap();
    assert!(ada_sees.fact_ids().contains(&ada_home));
}
