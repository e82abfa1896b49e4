//! `threeam backup` / `threeam restore` on the real database: one user's everything (facts
//! with embeddings and a superseded history, topics, map positions, messages, a tool, a
//! research topic) survives a round trip through a gzip file into a fresh database row for
//! row; restoring over a user who is there is refused unless replacing; ids that another
//! user's rows hold are refused; new rows after a restore get fresh ids.

use threeam::backup::{self, BackupError};
use threeam::memory::Category;

use crate::common::db::TestDb;
use crate::common::memory_fixtures::{client, fact, topic};
use crate::common::stub_llm::StubLlm;

const ADA: &str = "@ada:localhost";
const BOB: &str = "@bob:localhost";

async fn exec(pool: &sqlx::PgPool, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test]
async fn a_user_survives_a_round_trip_into_a_fresh_database() {
    let stub = StubLlm::start().await;
    let llm = client(&stub.url());
    let a = TestDb::migrated().await;
    let p = &a.pool;
    let old = fact(
        p,
        &llm,
        ADA,
        "Ada lives in Lyon",
        Category::Identity,
        4,
        "$e1",
    )
    .await;
    let new = fact(
        p,
        &llm,
        ADA,
        "Ada moved to Porto in May",
        Category::Identity,
        4,
        "$e2",
    )
    .await;
    let tea = fact(
        p,
        &llm,
        ADA,
        "Ada drinks green tea",
        Category::Preference,
        2,
        "$e3",
    )
    .await;
    // The older fact points at the newer one: restored, the pointer must hold.
    exec(
        p,
        &format!("UPDATE facts SET superseded_by = {new}, valid_to = now() WHERE id = {old}"),
    )
    .await;
    topic(p, ADA, "Home", 1, 0.7, &[new, tea]).await;
    threeam::map::draw_map(p, ADA, None, chrono::Utc::now(), chrono_tz::UTC)
        .await
        .unwrap();
    exec(p, "INSERT INTO rooms (room_id, user_id, encrypted) VALUES ('!dm:localhost', '@ada:localhost', true)").await;
    exec(p, "INSERT INTO messages (user_id, room_id, event_id, role, body, sent_at) VALUES ('@ada:localhost', '!dm:localhost', '$e1', 'user', 'I live in Lyon', now())").await;
    exec(p, "INSERT INTO tools (user_id, name, description, stage, code) VALUES ('@ada:localhost', 'days_between', 'days between two dates', 'installed', 'def run(args): return 1')").await;
    exec(p, "INSERT INTO research_topics (user_id, topic, status) VALUES ('@ada:localhost', 'barn owls', 'approved')").await;
    // Bob is in the same database and must not come along.
    fact(
        p,
        &llm,
        BOB,
        "Bob plays the cello",
        Category::Preference,
        3,
        "$b1",
    )
    .await;

    let taken = backup::take(p, Some(ADA)).await.unwrap();
    assert_eq!(taken.users, vec![ADA.to_string()]);
    assert_eq!(taken.tables["facts"].len(), 3);
    assert!(!serde_json::to_string(&taken).unwrap().contains("cello"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ada.json.gz");
    backup::write(&taken, &file).unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let read = backup::read(&file).unwrap();

    let b = TestDb::migrated().await;
    let done = backup::restore(&b.pool, &read, false).await.unwrap();
    assert_eq!((done.rows, done.replaced.len()), (taken.rows(), 0));
    let again = backup::take(&b.pool, Some(ADA)).await.unwrap();
    assert_eq!(
        again.tables, taken.tables,
        "the restored rows are the saved rows"
    );

    match backup::restore(&b.pool, &read, false).await {
        Err(BackupError::UserExists(u)) => assert_eq!(u, ADA),
        other => panic!("{other:?}"),
    }
    let replaced = backup::restore(&b.pool, &read, true).await.unwrap();
    assert_eq!(replaced.replaced, vec![ADA.to_string()]);
    assert_eq!(
        backup::take(&b.pool, Some(ADA)).await.unwrap().tables,
        taken.tables
    );

    // New rows take ids after the restored ones.
    let next = fact(
        &b.pool,
        &llm,
        ADA,
        "Ada adopted a cat",
        Category::Relationship,
        3,
        "$e9",
    )
    .await;
    assert!(next > new.max(tea).max(old), "{next}");

    // The restored memory is the memory: recall finds the fact by its stored embedding.
    let hits = threeam::memory::search(&b.pool, &llm, ADA, "Porto", 5)
        .await
        .unwrap();
    assert!(
        hits.iter().any(|h| h.fact.text.contains("Porto")),
        "{hits:?}"
    );
}

#[tokio::test]
async fn ids_other_users_hold_are_refused_and_nothing_is_half_restored() {
    let stub = StubLlm::start().await;
    let llm = client(&stub.url());
    let a = TestDb::migrated().await;
    fact(
        &a.pool,
        &llm,
        ADA,
        "Ada lives in Lyon",
        Category::Identity,
        4,
        "$e1",
    )
    .await;
    let taken = backup::take(&a.pool, None).await.unwrap();

    let c = TestDb::migrated().await;
    // Bob's fact takes id 1 here, the id Ada's fact has in the backup.
    fact(
        &c.pool,
        &llm,
        BOB,
        "Bob plays the cello",
        Category::Preference,
        3,
        "$b1",
    )
    .await;
    match backup::restore(&c.pool, &taken, false).await {
        Err(BackupError::IdsTaken { table, count }) => {
            assert_eq!((table.as_str(), count), ("facts", 1))
        }
        other => panic!("{other:?}"),
    }
    let ada_here: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE user_id = $1")
        .bind(ADA)
        .fetch_one(&c.pool)
        .await
        .unwrap();
    assert_eq!(ada_here, 0, "the failed restore left nothing behind");

    assert!(matches!(
        backup::take(&c.pool, Some("@nobody:localhost")).await,
        Err(BackupError::NoSuchUser(_))
    ));
    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), b"{\"hello\": 1}").unwrap();
    assert!(matches!(
        backup::read(junk.path()),
        Err(BackupError::NotABackup(..))
    ));
}
