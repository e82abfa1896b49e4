//! End to end on the real Synapse: a person talks to the bot during the day; the clock is
//! moved to 03:00, the night runs by itself, and at 07:30 the digest arrives in the
//! encrypted room, once. Then `!digest`, `!timezone` and `!night` in the chat.

use std::sync::Arc;
use std::time::Duration;

use crate::common::bot::{BotRig, eventually, new_user};
use crate::common::night_fixtures::install_model;
use chrono::{Datelike, TimeZone, Utc};
use threeam::night::{FakeClock, NightOptions};

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_arrives_in_the_encrypted_room_in_the_morning() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    install_model(&rig.llm);
    // The clock starts at the real time: the user is new, so nothing is due until their
    // first 03:00.
    let start = Utc::now();
    let today = start.with_timezone(&chrono_tz::Europe::Berlin).date_naive();
    let clock = Arc::new(FakeClock::new(start));
    rig.start_with_night(NightOptions {
        clock: clock.clone(),
        tick: Duration::from_secs(1),
    })
    .await;
    let (human, room) = rig.dm(&ada).await;

    let tz = human.send(&room, "!timezone Europe/Berlin").await.unwrap();
    let r = human.wait_for_reply(&room, &tz, T).await.unwrap();
    assert!(
        r.body.contains("Time zone set to **Europe/Berlin**"),
        "{}",
        r.body
    );
    let bad = human.send(&room, "!timezone Mars/Olympus").await.unwrap();
    let r = human.wait_for_reply(&room, &bad, T).await.unwrap();
    assert!(
        r.body.contains("I don't know the time zone `Mars/Olympus`")
            && r.body.contains("Europe/Berlin"),
        "{}",
        r.body
    );

    for text in [
        "We moved from Paris to Lyon last month.",
        "I've started playing chess on weekends.",
    ] {
        let q = human.send(&room, text).await.unwrap();
        human.wait_for_reply(&room, &q, T).await.unwrap();
    }
    let d = human.send(&room, "!digest").await.unwrap();
    let r = human.wait_for_reply(&room, &d, T).await.unwrap();
    assert!(r.body.starts_with("No digest yet"), "{}", r.body);

    // 03:00 in Berlin tomorrow.
    let tomorrow = today.succ_opt().unwrap();
    let three = chrono_tz::Europe::Berlin
        .with_ymd_and_hms(tomorrow.year(), tomorrow.month(), tomorrow.day(), 3, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    clock.set(three);
    let pool = rig.db.pool.clone();
    eventually("the night has run by itself", T, || {
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
    // Nothing is sent before 07:30.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !human
            .messages(&room)
            .iter()
            .any(|m| m.body.contains("Good morning"))
    );

    clock.set(three + chrono::Duration::minutes(270));
    let digest = human
        .wait_for_message(&room, T, |m| m.body.contains("Good morning"))
        .await
        .unwrap();
    assert!(digest.encrypted);
    assert_eq!(digest.sender.as_str(), rig.bot_id);
    assert!(digest.body.contains("You live in Lyon."), "{}", digest.body);
    assert!(
        digest.body.contains("You play chess on weekends."),
        "{}",
        digest.body
    );
    // Still once, however often the scheduler ticks.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let count = human
        .messages(&room)
        .iter()
        .filter(|m| m.body.contains("Good morning"))
        .count();
    assert_eq!(count, 1);

    let d = human.send(&room, "!digest").await.unwrap();
    let r = human.wait_for_reply(&room, &d, T).await.unwrap();
    assert!(r.body.contains("You live in Lyon."), "{}", r.body);

    // `!night` runs a second pass now and reports.
    let n = human.send(&room, "!night").await.unwrap();
    let replies = human.wait_for_replies(&room, &n, 2, T).await.unwrap();
    assert!(
        replies[0].body.starts_with("Starting my night cycle"),
        "{}",
        replies[0].body
    );
    assert!(replies[1].body.contains("done"), "{}", replies[1].body);
    rig.stop().await;
}
