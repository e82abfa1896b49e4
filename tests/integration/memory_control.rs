//! The data layer of the memory commands: `!memory` (grouped list), `!memory search`,
//! `!remember`, `!forget` (find, then a real delete of the fact, its history and its links),
//! `!forget everything` and `!export`.

use crate::common::db::TestDb;
use crate::common::memory_fixtures::topic;
use crate::common::stub_llm::StubLlm;
use sqlx::PgPool;
use threeam::memory::{
    ARCHIVED, Category, MemoryError, UNCLUSTERED, export, find, forget, forget_everything,
    get_fact, list_grouped, live_count, remember, search,
};

const ADA: &str = "@ada:localhost";

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn remember_stores_a_priority_five_fact_once() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let f = remember(
        &db.pool,
        &llm,
        ADA,
        "  My sister Eve lives in Porto ",
        "$cmd1",
    )
    .await
    .unwrap();
    assert_eq!(f.text, "My sister Eve lives in Porto");
    assert_eq!((f.priority, f.category), (5, Category::Relationship));
    assert_eq!(f.source_event_ids, vec!["$cmd1"]);
    assert_eq!(
        stub.chat_requests().len(),
        0,
        "no model call for a category"
    );

    let again = remember(&db.pool, &llm, ADA, "My sister Eve lives in Porto", "$cmd1")
        .await
        .unwrap();
    assert_eq!(
        again.id, f.id,
        "a redelivered command returns the same fact"
    );
    let odd = remember(&db.pool, &llm, ADA, "Something random", "$cmd2")
        .await
        .unwrap();
    assert_eq!(odd.category, Category::Other);
    assert_eq!(live_count(&db.pool, ADA).await.unwrap(), 2);

    // A known fact said again via !remember is raised to priority 5.
    let low = crate::common::memory_fixtures::fact(
        &db.pool,
        &llm,
        ADA,
        "The user likes long walks by the river at night.",
        Category::Preference,
        3,
        "$x",
    )
    .await;
    let raised = remember(
        &db.pool,
        &llm,
        ADA,
        "The user likes long walks by the river at night",
        "$cmd3",
    )
    .await
    .unwrap();
    assert_eq!((raised.id, raised.priority), (low, 5));

    let err = remember(&db.pool, &llm, ADA, "  ", "$cmd4")
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::InvalidFact(_)), "{err}");
}

#[tokio::test]
async fn the_list_is_grouped_by_cluster_then_unclustered_then_archived() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let p = &db.pool;
    let name = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user is called Ada.",
        Category::Identity,
        5,
        "$1",
    )
    .await;
    let city = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user lives in Lyon.",
        Category::Identity,
        4,
        "$2",
    )
    .await;
    let tea = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user drinks green tea.",
        Category::Preference,
        3,
        "$3",
    )
    .await;
    let loose = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user owns a red bicycle.",
        Category::Other,
        3,
        "$4",
    )
    .await;
    let faded = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user once visited Oslo.",
        Category::Other,
        3,
        "$5",
    )
    .await;
    let gone = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user lives in Paris.",
        Category::Identity,
        4,
        "$6",
    )
    .await;
    topic(p, ADA, "About Ada", 1, 0.9, &[name, city, gone]).await;
    topic(p, ADA, "", 7, 0.2, &[tea]).await;
    sqlx::query("UPDATE facts SET archived_at = now() WHERE id = $1")
        .bind(faded)
        .execute(p)
        .await
        .unwrap();
    sqlx::query("UPDATE facts SET superseded_by = $2, valid_to = now() WHERE id = $1")
        .bind(gone)
        .bind(city)
        .execute(p)
        .await
        .unwrap();

    let groups = list_grouped(p, ADA).await.unwrap();
    let shape: Vec<(&str, Vec<i64>)> = groups
        .iter()
        .map(|(n, f)| (n.as_str(), f.iter().map(|f| f.id).collect()))
        .collect();
    assert_eq!(
        shape,
        vec![
            ("About Ada", vec![name, city]),
            ("Cluster 7", vec![tea]),
            (UNCLUSTERED, vec![loose]),
            (ARCHIVED, vec![faded]),
        ]
    );
}

#[tokio::test]
async fn search_ranks_matches_and_does_not_count_as_use() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let p = &db.pool;
    let bike = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user owns a red bicycle.",
        Category::Other,
        3,
        "$1",
    )
    .await;
    crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user is allergic to cats.",
        Category::Health,
        4,
        "$2",
    )
    .await;
    let found = search(p, &llm, ADA, "bicycle", 5).await.unwrap();
    assert_eq!(found[0].fact.id, bike);
    assert_eq!(
        get_fact(p, ADA, bike).await.unwrap().unwrap().access_count,
        0
    );
    assert!(search(p, &llm, ADA, "  ", 5).await.unwrap().is_empty());
}

#[tokio::test]
async fn find_matches_ids_and_words_including_old_versions() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let p = &db.pool;
    let a = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user's address is 12 Rue Mercière.",
        Category::Identity,
        5,
        "$1",
    )
    .await;
    let b = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user's old address was 3 Baker Street.",
        Category::Identity,
        4,
        "$2",
    )
    .await;
    crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user likes 100% dark chocolate.",
        Category::Preference,
        3,
        "$3",
    )
    .await;
    sqlx::query("UPDATE facts SET superseded_by = $2, valid_to = now() WHERE id = $1")
        .bind(b)
        .bind(a)
        .execute(p)
        .await
        .unwrap();

    let ids = |v: Vec<threeam::memory::Fact>| v.into_iter().map(|f| f.id).collect::<Vec<_>>();
    assert_eq!(
        ids(find(p, ADA, &format!("#{b}, {a}")).await.unwrap()),
        vec![a, b]
    );
    assert_eq!(
        ids(find(p, ADA, "address").await.unwrap()),
        vec![a, b],
        "live first"
    );
    assert_eq!(ids(find(p, ADA, "Rue Mercière").await.unwrap()), vec![a]);
    assert_eq!(
        find(p, ADA, "100%").await.unwrap().len(),
        1,
        "LIKE wildcards are escaped"
    );
    assert_eq!(find(p, ADA, "10_%").await.unwrap().len(), 0);
    // No fact has every word: any word will do.
    assert_eq!(
        ids(find(p, ADA, "my address please").await.unwrap()),
        vec![a, b]
    );
    assert!(find(p, ADA, "zebra").await.unwrap().is_empty());
    assert!(find(p, ADA, "99999").await.unwrap().is_empty());
}

#[tokio::test]
async fn forget_deletes_the_fact_its_history_and_everything_that_links_it() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let p = &db.pool;
    let now = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user's address is 12 Rue Mercière.",
        Category::Identity,
        5,
        "$1",
    )
    .await;
    let old = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user's old address was 3 Baker Street.",
        Category::Identity,
        4,
        "$2",
    )
    .await;
    let keep = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user plays the cello.",
        Category::Preference,
        3,
        "$3",
    )
    .await;
    let other = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user has a cat.",
        Category::Relationship,
        4,
        "$4",
    )
    .await;
    sqlx::query("UPDATE facts SET superseded_by = $2, valid_to = now() WHERE id = $1")
        .bind(old)
        .bind(now)
        .execute(p)
        .await
        .unwrap();
    let home = topic(p, ADA, "Home", 1, 0.5, &[now, old]).await;
    let mixed = topic(p, ADA, "Hobbies", 2, 0.5, &[keep, other]).await;
    sqlx::query("INSERT INTO cluster_members (cluster_id, fact_id, user_id) VALUES ($1, $2, $3)")
        .bind(mixed)
        .bind(now)
        .bind(ADA)
        .execute(p)
        .await
        .unwrap();
    sqlx::query("INSERT INTO experience (user_id, room_id, message_event_id, facts_used) VALUES ($1, '!r', '$q', $2)")
        .bind(ADA)
        .bind(vec![now, keep])
        .execute(p)
        .await
        .unwrap();
    sqlx::query("INSERT INTO user_profile (user_id, text, source_fact_ids) VALUES ($1, 'Ada lives at 12 Rue Mercière.', $2)")
        .bind(ADA)
        .bind(vec![now])
        .execute(p)
        .await
        .unwrap();

    assert_eq!(
        forget(p, ADA, &[now]).await.unwrap(),
        2,
        "the fact and the version it replaced"
    );
    assert!(get_fact(p, ADA, now).await.unwrap().is_none());
    assert!(get_fact(p, ADA, old).await.unwrap().is_none());
    assert_eq!(
        count(
            p,
            &format!("SELECT count(*) FROM facts WHERE id IN ({now}, {old})")
        )
        .await,
        0
    );
    assert_eq!(
        count(
            p,
            &format!("SELECT count(*) FROM cluster_members WHERE fact_id IN ({now}, {old})")
        )
        .await,
        0
    );
    assert_eq!(
        count(
            p,
            &format!("SELECT count(*) FROM clusters WHERE id = {home}")
        )
        .await,
        0,
        "emptied cluster deleted"
    );
    assert_eq!(
        count(
            p,
            &format!("SELECT size::bigint FROM clusters WHERE id = {mixed}")
        )
        .await,
        2
    );
    let used: Vec<i64> =
        sqlx::query_scalar("SELECT facts_used FROM experience WHERE message_event_id = '$q'")
            .fetch_one(p)
            .await
            .unwrap();
    assert_eq!(used, vec![keep]);
    assert_eq!(
        count(p, "SELECT count(*) FROM user_profile").await,
        0,
        "a profile written from it goes too"
    );
    assert_eq!(live_count(p, ADA).await.unwrap(), 2);

    // Forgetting again, or an unknown id, erases nothing.
    assert_eq!(forget(p, ADA, &[now, 424242]).await.unwrap(), 0);
    assert_eq!(forget(p, ADA, &[]).await.unwrap(), 0);
}

#[tokio::test]
async fn forget_everything_leaves_nothing_of_the_memory() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let p = &db.pool;
    let a = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user is called Ada.",
        Category::Identity,
        5,
        "$1",
    )
    .await;
    let b = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user drinks green tea.",
        Category::Preference,
        3,
        "$2",
    )
    .await;
    topic(p, ADA, "About Ada", 1, 0.9, &[a, b]).await;
    sqlx::query("INSERT INTO user_profile (user_id, text) VALUES ($1, 'Ada.')")
        .bind(ADA)
        .execute(p)
        .await
        .unwrap();
    sqlx::query("INSERT INTO experience (user_id, room_id, message_event_id, facts_used) VALUES ($1, '!r', '$q', $2)")
        .bind(ADA)
        .bind(vec![a])
        .execute(p)
        .await
        .unwrap();

    assert_eq!(forget_everything(p, ADA).await.unwrap(), 2);
    for table in ["facts", "clusters", "cluster_members", "user_profile"] {
        assert_eq!(
            count(p, &format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
    assert_eq!(
        count(p, "SELECT cardinality(facts_used)::bigint FROM experience").await,
        0
    );
    assert_eq!(forget_everything(p, ADA).await.unwrap(), 0);
}

#[tokio::test]
async fn export_is_the_whole_memory_in_readable_json() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let p = &db.pool;
    let a = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user is called Ada.",
        Category::Identity,
        5,
        "$1",
    )
    .await;
    let b = crate::common::memory_fixtures::fact(
        p,
        &llm,
        ADA,
        "The user lived in Paris.",
        Category::Identity,
        4,
        "$2",
    )
    .await;
    sqlx::query("UPDATE facts SET superseded_by = $2, valid_to = now() WHERE id = $1")
        .bind(b)
        .bind(a)
        .execute(p)
        .await
        .unwrap();
    topic(p, ADA, "About Ada", 1, 0.9, &[a]).await;
    sqlx::query(
        "INSERT INTO user_profile (user_id, text, source_fact_ids) VALUES ($1, 'Ada.', $2)",
    )
    .bind(ADA)
    .bind(vec![a])
    .execute(p)
    .await
    .unwrap();

    let v = export(p, ADA).await.unwrap();
    assert_eq!(v["user_id"], ADA);
    assert_eq!(v["profile"]["text"], "Ada.");
    assert_eq!(v["clusters"][0]["name"], "About Ada");
    let facts = v["facts"].as_array().unwrap();
    assert_eq!(facts.len(), 2);
    assert_eq!(facts[0]["text"], "The user is called Ada.");
    assert_eq!(facts[0]["status"], "live");
    assert_eq!(facts[0]["category"], "identity");
    assert_eq!(facts[0]["cluster"], "About Ada");
    assert_eq!(facts[0]["source_event_ids"][0], "$1");
    assert_eq!(facts[1]["status"], "superseded");
    assert_eq!(facts[1]["superseded_by"], a);
    assert_eq!(v["counts"]["live"], 1);
    assert!(facts[0].get("embedding").is_none());
    assert!(v["note"].as_str().unwrap().contains("Embeddings"));
    // It round-trips through text, as the uploaded file will.
    let text = serde_json::to_string_pretty(&v).unwrap();
    assert!(text.contains("\"priority\": 5"));
}
