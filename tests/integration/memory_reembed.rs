//! `threeam reembed`: after the embedding model changes, every fact gets the new model's
//! vector; until all have one, recall keeps the old vectors (an interrupted run changes
//! nothing recall sees, and the next run finishes only what is left); topic centroids
//! follow their members.

use pgvector::Vector;
use sqlx::PgPool;
use threeam::memory::Category;
use threeam::memory::reembed::{reembed, remaining};

use crate::common::db::TestDb;
use crate::common::memory_fixtures::{client, fact, topic};
use crate::common::stub_llm::StubLlm;

const ADA: &str = "@ada:localhost";

async fn vector(pool: &PgPool, sql: &str) -> Vec<f32> {
    sqlx::query_scalar::<_, Vector>(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn every_fact_gets_the_new_models_vector_and_an_interrupted_run_resumes() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = client(&stub.url());
    let p = &db.pool;
    let texts = [
        "Ada lives in Lyon",
        "Ada drinks green tea",
        "Ada runs on Sundays",
        "Ada's sister is called Mia",
        "Ada works as a nurse",
    ];
    let mut ids = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        ids.push(fact(p, &llm, ADA, t, Category::Other, 3, &format!("$e{i}")).await);
    }
    let home = topic(p, ADA, "Home", 1, 0.5, &ids[..2]).await;
    // What "the old model" made: the same vector for every fact.
    let mut old = vec![0.0f32; 384];
    old[0] = 1.0;
    sqlx::query("UPDATE facts SET embedding = $1")
        .bind(Vector::from(old.clone()))
        .execute(p)
        .await
        .unwrap();

    let mut seen = Vec::new();
    let first = reembed(p, &llm, 2, Some(1), |n, total| seen.push((n, total)))
        .await
        .unwrap();
    assert_eq!((first.embedded, first.finished), (2, false));
    assert_eq!(seen, vec![(0, 5), (2, 5)]);
    assert_eq!(remaining(p).await.unwrap(), (3, 5));
    let unchanged: i64 = sqlx::query_scalar("SELECT count(*) FROM facts WHERE embedding = $1")
        .bind(Vector::from(old.clone()))
        .fetch_one(p)
        .await
        .unwrap();
    assert_eq!(
        unchanged, 5,
        "recall keeps the old vectors until the run is done"
    );

    let rest = reembed(p, &llm, 2, None, |_, _| {}).await.unwrap();
    assert_eq!((rest.embedded, rest.swapped, rest.finished), (3, 5, true));
    for (id, text) in ids.iter().zip(texts) {
        let stored = vector(p, &format!("SELECT embedding FROM facts WHERE id = {id}")).await;
        let want = llm.embed_one(text).await.unwrap();
        let diff: f32 = stored.iter().zip(&want).map(|(a, b)| (a - b).abs()).sum();
        assert!(diff < 1e-3, "fact {id} has the new model's vector");
    }
    let centroid = vector(
        p,
        &format!("SELECT centroid FROM clusters WHERE id = {home}"),
    )
    .await;
    let a = llm.embed_one(texts[0]).await.unwrap();
    let b = llm.embed_one(texts[1]).await.unwrap();
    for k in 0..384 {
        assert!((centroid[k] - (a[k] + b[k]) / 2.0).abs() < 1e-4);
    }
    assert_eq!(
        remaining(p).await.unwrap(),
        (5, 5),
        "nothing half-done is left"
    );
}
