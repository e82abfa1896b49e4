//! Research end to end on the real Synapse, in an encrypted DM, against the SearxNG-shaped
//! fixture: the user asks the bot to look something up; in an idle hour (a moved clock) the
//! bot proposes to keep an eye on it; the owner's ✅ approves; the next idle hour researches
//! it; the findings are in `!research` and in the next morning's digest; `!research delete`
//! with ✅ removes them from memory, so recall no longer brings them up.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::common::bot::{BotRig, eventually, new_user};
use crate::common::fixtures_web::WebFixture;
use crate::common::night_fixtures::install_model;
use crate::common::research_fixtures::OWL_FINDINGS;
use threeam::night::{FakeClock, NightOptions};

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_from_the_chat_is_approved_researched_digested_and_deleted() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    install_model(&rig.llm);
    let web = WebFixture::start().await;
    rig.web = Some(web.base());
    let start = Utc::now();
    let clock = Arc::new(FakeClock::new(start));
    rig.start_with_night(NightOptions {
        clock: clock.clone(),
        tick: Duration::from_secs(1),
    })
    .await;
    let (human, room) = rig.dm(&ada).await;
    let bot = rig.bot_id.clone();
    let from_bot = |needle: &'static str| {
        let bot = bot.clone();
        move |m: &threeam::client::human::SeenMessage| {
            m.sender.as_str() == bot && m.body.contains(needle)
        }
    };

    let q = human
        .send(&room, "Please look up barn owls on the web")
        .await
        .unwrap();
    human.wait_for_reply(&room, &q, T).await.unwrap();

    // Two hours of quiet: an idle hour, and a proposal.
    clock.set(start + chrono::Duration::hours(2));
    let proposal = human
        .wait_for_message(&room, T, from_bot("Shall I keep an eye on **barn owls**?"))
        .await
        .unwrap();
    assert!(proposal.encrypted);
    human.react(&room, &proposal.event_id, "✅").await.unwrap();
    human
        .wait_for_message(&room, T, from_bot("I'll keep an eye on **barn owls**"))
        .await
        .unwrap();

    // The next idle hour researches it, quietly.
    clock.set(start + chrono::Duration::hours(3) + chrono::Duration::minutes(5));
    let pool = rig.db.pool.clone();
    eventually("the topic has been researched", T, || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM research_findings")
                .fetch_one(&pool)
                .await
                .unwrap()
                == 2
        }
    })
    .await;
    let facts_from_web: i64 =
        sqlx::query_scalar("SELECT count(*) FROM facts WHERE text LIKE '%(source:%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        facts_from_web, 2,
        "the findings are in memory before they are deleted"
    );
    let l = human.send(&room, "!research").await.unwrap();
    let list = human.wait_for_reply(&room, &l, T).await.unwrap();
    assert!(
        list.body.contains("barn owls") && list.body.contains(OWL_FINDINGS[1]),
        "{}",
        list.body
    );

    // The next night's digest tells the findings, with their source.
    // The first 03:00 (UTC, the default zone) after the research.
    let after = start + chrono::Duration::hours(4);
    let mut three = after.date_naive().and_hms_opt(3, 0, 0).unwrap().and_utc();
    if three < after {
        three += chrono::Duration::days(1);
    }
    clock.set(three);
    eventually("the night has run", T, || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM night_runs WHERE status = 'done'")
                .fetch_one(&pool)
                .await
                .unwrap()
                >= 1
        }
    })
    .await;
    clock.set(three + chrono::Duration::minutes(270));
    let digest = human
        .wait_for_message(&room, T, from_bot("Good morning"))
        .await
        .unwrap();
    assert!(
        digest.body.contains("**Research findings**"),
        "{}",
        digest.body
    );
    assert!(
        digest
            .body
            .contains(&format!("**barn owls**: {}", OWL_FINDINGS[0])),
        "{}",
        digest.body
    );

    // Deleted with ✅: gone from the findings, from memory and from recall.
    let d = human
        .send(&room, "!research delete barn owls")
        .await
        .unwrap();
    let ask = human.wait_for_reply(&room, &d, T).await.unwrap();
    assert!(ask.body.contains("and its 2 findings"), "{}", ask.body);
    human.react(&room, &ask.event_id, "✅").await.unwrap();
    human
        .wait_for_message(&room, T, from_bot("Deleted 2 findings"))
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM facts WHERE text LIKE '%(source:%'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let q = human
        .send(&room, "what do you know about how barn owls find prey?")
        .await
        .unwrap();
    human.wait_for_reply(&room, &q, T).await.unwrap();
    let prompts: Vec<String> = rig
        .llm
        .chat_requests()
        .iter()
        .map(|r| r["messages"].to_string())
        .collect();
    assert!(
        !prompts
            .last()
            .unwrap()
            .contains("What you read on the web earlier"),
        "{}",
        prompts.last().unwrap()
    );
    rig.stop().await;
}
