//! Migrations against the stack's real PostgreSQL + pgvector.

use crate::common::db::TestDb;

#[tokio::test]
async fn migrations_build_the_whole_schema_and_are_idempotent() {
    let db = TestDb::empty().await;
    let before = threeam::db::schema_state(&db.pool).await.unwrap();
    assert!(!before.current());
    assert_eq!(before.missing.len(), before.known);

    threeam::db::migrate(&db.pool).await.unwrap();
    threeam::db::migrate(&db.pool).await.unwrap();
    let after = threeam::db::schema_state(&db.pool).await.unwrap();
    assert!(after.current(), "{after:?}");
    assert!(after.vector_extension.is_some());

    let tables: Vec<String> = sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' ORDER BY 1")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    for t in [
        "approvals",
        "behaviour_profile",
        "cluster_members",
        "clusters",
        "digests",
        "experience",
        "facts",
        "messages",
        "night_runs",
        "reactions",
        "research_findings",
        "research_topics",
        "rooms",
        "tool_runs",
        "tools",
        "user_profile",
        "users",
    ] {
        assert!(tables.contains(&t.to_string()), "missing table {t}");
    }
    // Every user-owned table carries user_id.
    for t in tables.iter().filter(|t| *t != "users") {
        let has: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = $1 AND column_name = 'user_id')")
            .bind(t)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert!(has, "table {t} has no user_id");
    }
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE tablename = 'facts'")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert!(
        indexes
            .iter()
            .any(|i| i.contains("USING hnsw") && i.contains("vector_cosine_ops")),
        "{indexes:?}"
    );
    assert!(
        indexes
            .iter()
            .any(|i| i.contains("USING gin") && i.contains("tsv")),
        "{indexes:?}"
    );
    let dim: String = sqlx::query_scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'facts'::regclass AND attname = 'embedding'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(dim, "vector(384)");
}

#[tokio::test]
async fn facts_accept_vectors_and_full_text_queries() {
    let db = TestDb::migrated().await;
    sqlx::query("INSERT INTO users (user_id) VALUES ('@a:x')")
        .execute(&db.pool)
        .await
        .unwrap();
    let mut v = vec![0f32; 384];
    v[3] = 1.0;
    sqlx::query("INSERT INTO facts (user_id, text, category, priority, embedding) VALUES ('@a:x', 'Ada moved to Lyon in May', 'identity', 5, $1)")
        .bind(pgvector::Vector::from(v.clone()))
        .execute(&db.pool)
        .await
        .unwrap();
    let hit: String = sqlx::query_scalar(
        "SELECT text FROM facts WHERE tsv @@ plainto_tsquery('english', 'moving lyon')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(hit.contains("Lyon"));
    let dist: f64 = sqlx::query_scalar("SELECT embedding <=> $1 FROM facts")
        .bind(pgvector::Vector::from(v))
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(dist.abs() < 1e-6);
    let wrong = sqlx::query("INSERT INTO facts (user_id, text, category, priority, embedding) VALUES ('@a:x', 't', 'c', 3, $1)")
        .bind(pgvector::Vector::from(vec![0.5f32; 10]))
        .execute(&db.pool)
        .await;
    assert!(wrong.is_err(), "a 10-d vector must be rejected");
    let bad_priority = sqlx::query(
        "INSERT INTO facts (user_id, text, category, priority) VALUES ('@a:x', 't', 'c', 9)",
    )
    .execute(&db.pool)
    .await;
    assert!(bad_priority.is_err());
}
