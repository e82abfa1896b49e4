//! The night scheduler with a fake clock: nights at 03:00 in each user's zone, exactly once;
//! digests at 07:30 into the user's room, once; a missed night runs at start-up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::common::bot::eventually;
use crate::common::db::TestDb;
use crate::common::night_fixtures::*;
use crate::common::outbox::{RecordingOutbox, Shown};
use crate::common::stub_llm::StubLlm;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use threeam::config::Config;
use threeam::llm::LlmClient;
use threeam::night::{FakeClock, Scheduler};

const BERLIN: (&str, &str, &str) = ("@berlin:localhost", "!berlin:localhost", "Europe/Berlin");
const NEW_YORK: (&str, &str, &str) = ("@ny:localhost", "!ny:localhost", "America/New_York");
/// Taken off the allow-list: no more nights or digests.
const REMOVED: (&str, &str, &str) = ("@gone:localhost", "!gone:localhost", "Europe/Berlin");

fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, d, h, m, 0).unwrap()
}

struct Rig {
    db: TestDb,
    out: Arc<RecordingOutbox>,
    clock: Arc<FakeClock>,
    scheduler: Arc<Scheduler>,
    _stub: StubLlm,
}

async fn rig(start: DateTime<Utc>) -> Rig {
    let stub = StubLlm::start().await;
    install_model(&stub);
    let db = TestDb::migrated().await;
    let mut cfg = Config::default();
    cfg.llm.chat_url = stub.url();
    cfg.llm.embedding_url = stub.url();
    let llm = Arc::new(LlmClient::new(&cfg.llm).unwrap());
    let out = Arc::new(RecordingOutbox::default());
    let clock = Arc::new(FakeClock::new(start));
    let scheduler = Scheduler::new(
        db.pool.clone(),
        llm,
        cfg.schedule.clone(),
        Some(out.clone() as Arc<dyn threeam::chat::Outbox>),
        clock.clone(),
        threeam::chat::AllowList::new(&[BERLIN.0.to_owned(), NEW_YORK.0.to_owned()]).unwrap(),
    );
    Rig {
        db,
        out,
        clock,
        scheduler,
        _stub: stub,
    }
}

#[tokio::test]
async fn nights_run_at_three_in_each_zone_once_and_digests_arrive_at_half_past_seven() {
    let r = rig(utc(10, 0, 0)).await;
    for (i, (user, room, tz)) in [BERLIN, NEW_YORK, REMOVED].into_iter().enumerate() {
        add_user(&r.db.pool, user, room, tz, utc(9, 12, 0)).await;
        let (q, a) = DAY[1];
        add_exchange(
            &r.db.pool,
            user,
            room,
            &format!("${i}"),
            1,
            q,
            a,
            utc(9, 18, 0),
        )
        .await;
    }
    let mut nights: BTreeMap<(String, NaiveDate), Vec<DateTime<Utc>>> = BTreeMap::new();
    let mut digests: Vec<(String, DateTime<Utc>)> = Vec::new();
    // Tick every 15 minutes for a day and a half.
    let mut t = utc(10, 0, 0);
    while t <= utc(11, 14, 0) {
        r.clock.set(t);
        let tick = r.scheduler.tick().await.unwrap();
        r.scheduler.settle().await;
        for (u, d) in tick.nights_started {
            nights.entry((u, d)).or_default().push(t);
        }
        for (u, _) in tick.digests_sent {
            digests.push((u, t));
        }
        t += chrono::Duration::minutes(15);
    }
    let d10 = NaiveDate::from_ymd_opt(2025, 1, 10).unwrap();
    let d11 = NaiveDate::from_ymd_opt(2025, 1, 11).unwrap();
    let expected: BTreeMap<(String, NaiveDate), Vec<DateTime<Utc>>> = [
        ((BERLIN.0.to_string(), d10), vec![utc(10, 2, 0)]), // 03:00 CET
        ((BERLIN.0.to_string(), d11), vec![utc(11, 2, 0)]),
        ((NEW_YORK.0.to_string(), d10), vec![utc(10, 8, 0)]), // 03:00 EST
        ((NEW_YORK.0.to_string(), d11), vec![utc(11, 8, 0)]),
    ]
    .into_iter()
    .collect();
    assert_eq!(nights, expected);
    let done: i64 = sqlx::query_scalar("SELECT count(*) FROM night_runs WHERE status = 'done'")
        .fetch_one(&r.db.pool)
        .await
        .unwrap();
    assert_eq!(done, 4);

    // One digest each, at 07:30 local, in the user's own room; the second night had nothing
    // new to tell, so no second digest.
    assert_eq!(
        digests,
        vec![
            (BERLIN.0.to_string(), utc(10, 6, 30)),
            (NEW_YORK.0.to_string(), utc(10, 12, 30)),
        ]
    );
    let sent: Vec<(String, String)> = r
        .out
        .all()
        .into_iter()
        .filter_map(|s| match s {
            Shown::Send { room, msg, .. } => Some((room, msg.markdown)),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].0, BERLIN.1);
    assert_eq!(sent[1].0, NEW_YORK.1);
    assert!(sent[0].1.contains("You live in Lyon."), "{}", sent[0].1);
    let recorded: Vec<Option<String>> =
        sqlx::query_scalar("SELECT event_id FROM digests ORDER BY user_id")
            .fetch_all(&r.db.pool)
            .await
            .unwrap();
    assert!(
        recorded
            .iter()
            .all(|e| e.as_deref().is_some_and(|e| e.starts_with("$out")))
    );
}

/// The status and attempts of the only night run.
async fn only_run(r: &Rig) -> (String, i32) {
    sqlx::query_as("SELECT status, attempts FROM night_runs")
        .fetch_one(&r.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_missed_night_runs_at_start_up_once() {
    // The bot was down for three nights; it starts at 10:00 Berlin time.
    let r = rig(utc(12, 9, 0)).await;
    let (user, room, tz) = BERLIN;
    add_user(&r.db.pool, user, room, tz, utc(8, 12, 0)).await;
    add_day(&r.db.pool, user, room, "$", utc(9, 9, 0)).await;
    let handle = r
        .scheduler
        .clone()
        .start(Duration::from_secs(1))
        .await
        .unwrap();
    let pool = r.db.pool.clone();
    eventually("the missed night has run", Duration::from_secs(60), || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM night_runs WHERE status = 'done'")
                .fetch_one(&pool)
                .await
                .unwrap()
                == 1
        }
    })
    .await;
    // Some more ticks change nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    handle.stop(Duration::from_secs(10)).await;
    let runs: Vec<(NaiveDate, String)> =
        sqlx::query_as("SELECT night_date, status FROM night_runs")
            .fetch_all(&r.db.pool)
            .await
            .unwrap();
    assert_eq!(
        runs,
        vec![(
            NaiveDate::from_ymd_opt(2025, 1, 12).unwrap(),
            "done".to_string()
        )]
    );
    // Its digest went out (it is after 07:30 on the night's day).
    assert_eq!(r.out.messages().len(), 1);
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages WHERE night_processed_at IS NULL AND in_conversation",
    )
    .fetch_one(&r.db.pool)
    .await
    .unwrap();
    assert_eq!(pending, 0);
}

#[tokio::test]
async fn a_failed_night_is_retried_later_not_every_tick() {
    let r = rig(utc(10, 2, 0)).await;
    let (user, room, tz) = BERLIN;
    add_user(&r.db.pool, user, room, tz, utc(8, 12, 0)).await;
    add_day(&r.db.pool, user, room, "$", utc(9, 9, 0)).await;
    r._stub.set_structured_responder(|name, _| {
        (name == "night_facts").then(|| crate::common::stub_llm::Reply::Error {
            status: 500,
            message: "down".into(),
        })
    });
    let first = r.scheduler.tick().await.unwrap();
    r.scheduler.settle().await;
    assert_eq!(first.nights_started.len(), 1);
    r.clock.advance(chrono::Duration::minutes(5));
    assert!(r.scheduler.tick().await.unwrap().nights_started.is_empty());
    install_model(&r._stub);
    r.clock.advance(chrono::Duration::minutes(15));
    assert_eq!(r.scheduler.tick().await.unwrap().nights_started.len(), 1);
    r.scheduler.settle().await;
    assert_eq!(only_run(&r).await, ("done".to_owned(), 2));
}

/// A `!night` cut off by a stop is left to the command's rerun (which reports to the user who
/// asked); a scheduled night cut off the same way is resumed by the scheduler.
#[tokio::test]
async fn a_cut_off_manual_night_is_left_to_its_command_and_a_scheduled_one_resumed() {
    let r = rig(utc(10, 9, 0)).await;
    let (user, room, tz) = BERLIN;
    add_user(&r.db.pool, user, room, tz, utc(8, 12, 0)).await;
    add_day(&r.db.pool, user, room, "$", utc(9, 9, 0)).await;
    sqlx::query(
        "INSERT INTO night_runs (user_id, night_date, stage, status, trigger, attempts, started_at, stats)
         VALUES ($1, '2025-01-10', 'start', 'running', 'manual', 1, $2, '{\"passes\": 1}')",
    )
    .bind(user)
    .bind(utc(10, 8, 0))
    .execute(&r.db.pool)
    .await
    .unwrap();
    assert!(r.scheduler.tick().await.unwrap().nights_started.is_empty());
    sqlx::query("UPDATE night_runs SET trigger = 'schedule'")
        .execute(&r.db.pool)
        .await
        .unwrap();
    assert_eq!(r.scheduler.tick().await.unwrap().nights_started.len(), 1);
    r.scheduler.settle().await;
    assert_eq!(only_run(&r).await, ("done".to_owned(), 2));
}
