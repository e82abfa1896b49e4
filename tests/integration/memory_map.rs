//! The memory map from the database: nothing to draw for a new user, a PNG of the promised
//! size with every current fact and topic, zooming by topic name, alignment with the last
//! map (a stored layout turned and mirrored is what the next map follows), forgetting a
//! fact forgets its place, and one user's map never shows another's facts.

use std::collections::HashMap;

use chrono::Utc;
use chrono_tz::Tz;
use sqlx::PgPool;
use threeam::map::{MapOutcome, draw_map, positions};
use threeam::memory::{Category, forget};

use crate::common::db::TestDb;
use crate::common::memory_fixtures::{client, fact, topic};
use crate::common::stub_llm::StubLlm;

const ADA: &str = "@ada:localhost";
const BOB: &str = "@bob:localhost";

const RUNNING: [&str; 6] = [
    "Ada runs every morning before work",
    "Ada is training for the Berlin marathon",
    "Ada's running shoes are worn out",
    "Ada ran a half marathon in 1 hour 52 minutes",
    "Ada prefers trail running to road running",
    "Ada's running club meets on Thursdays",
];
const COOKING: [&str; 5] = [
    "Ada bakes sourdough bread on Sundays",
    "Ada does not eat mushrooms",
    "Ada's favourite dish is ratatouille",
    "Ada cooks for her family every Friday",
    "Ada wants to learn to make fresh pasta",
];

async fn seed(pool: &PgPool, stub: &StubLlm) -> (Vec<i64>, Vec<i64>) {
    let llm = client(&stub.url());
    let mut runs = Vec::new();
    for (i, t) in RUNNING.iter().enumerate() {
        runs.push(
            fact(
                pool,
                &llm,
                ADA,
                t,
                Category::Preference,
                3,
                &format!("$run{i}"),
            )
            .await,
        );
    }
    let mut cooks = Vec::new();
    for (i, t) in COOKING.iter().enumerate() {
        cooks.push(
            fact(
                pool,
                &llm,
                ADA,
                t,
                Category::Preference,
                3,
                &format!("$cook{i}"),
            )
            .await,
        );
    }
    topic(pool, ADA, "Running", 1, 0.8, &runs).await;
    topic(pool, ADA, "Cooking", 2, 0.4, &cooks).await;
    (runs, cooks)
}

async fn draw(pool: &PgPool, user: &str, topic: Option<&str>) -> MapOutcome {
    draw_map(pool, user, topic, Utc::now(), Tz::Europe__Berlin)
        .await
        .expect("the map is drawn")
}

fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let be = |i: usize| u32::from_be_bytes(png[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

#[tokio::test]
async fn the_map_shows_every_topic_and_zooms_into_one() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    assert!(matches!(draw(&db.pool, ADA, None).await, MapOutcome::Empty));
    seed(&db.pool, &stub).await;

    let MapOutcome::Drawn(map) = draw(&db.pool, ADA, None).await else {
        panic!("a map");
    };
    assert_eq!(png_size(&map.png), (1080, 1350));
    assert_eq!((map.facts, map.topics, map.topic.as_deref()), (11, 2, None));
    assert_eq!(positions::load(&db.pool, ADA).await.unwrap().len(), 11);

    let MapOutcome::Drawn(zoom) = draw(&db.pool, ADA, Some("running")).await else {
        panic!("a zoomed map");
    };
    assert_eq!((zoom.facts, zoom.topic.as_deref()), (6, Some("Running")));
    assert_ne!(zoom.png, map.png);

    match draw(&db.pool, ADA, Some("knitting")).await {
        MapOutcome::NoSuchTopic { topics } => {
            assert_eq!(topics, vec!["Running".to_string(), "Cooking".to_string()])
        }
        other => panic!("{other:?}"),
    }
    // Bob has nothing, whatever Ada has.
    assert!(matches!(draw(&db.pool, BOB, None).await, MapOutcome::Empty));
}

#[tokio::test]
async fn a_new_map_follows_the_orientation_of_the_last_and_forgetting_removes_a_place() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let (runs, _) = seed(&db.pool, &stub).await;
    draw(&db.pool, ADA, None).await;
    let first = positions::load(&db.pool, ADA).await.unwrap();

    // Yesterday's map, as if it had come out turned a quarter and mirrored, and larger.
    let turned: Vec<(i64, [f64; 2])> = first
        .iter()
        .map(|(id, p)| (*id, [3.0 * p[1] + 10.0, 3.0 * p[0] - 4.0]))
        .collect();
    positions::save(&db.pool, ADA, &turned).await.unwrap();
    draw(&db.pool, ADA, None).await;
    let second = positions::load(&db.pool, ADA).await.unwrap();
    let want: HashMap<i64, [f64; 2]> = turned.into_iter().collect();
    for (id, p) in &second {
        let w = want[id];
        assert!(
            (p[0] - w[0]).abs() < 1e-3 && (p[1] - w[1]).abs() < 1e-3,
            "fact {id} at {p:?}, the last map had it at {w:?}"
        );
    }

    assert_eq!(forget(&db.pool, ADA, &runs[..1]).await.unwrap(), 1);
    let after = positions::load(&db.pool, ADA).await.unwrap();
    assert_eq!(after.len(), 10);
    assert!(!after.contains_key(&runs[0]));
}
