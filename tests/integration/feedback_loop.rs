//! Feedback below Matrix, on the real database: 👍/👎 and the tag reactions offered after a
//! 👎, comments by reply, taking reactions back, `!stats`, and the night's behaviour update
//! on stored experience rows (bounded, versioned, and still once the evidence is absorbed).

use std::sync::Arc;

use crate::common::core_rig::{self, Core};
use crate::common::db::TestDb;
use crate::common::outbox::{RecordingOutbox, Shown};
use crate::common::stub_llm::{Reply, StubLlm};
use chrono::{DateTime, TimeZone, Utc};
use threeam::assistant::{Assistant, Incoming};
use threeam::behaviour::{self, SEARCH_THRESHOLD_BOUNDS, THRESHOLD_STEP};
use threeam::gate::UnsureAction;
use threeam::store;

const USER: &str = "@ada:localhost";
const ROOM: &str = "!room:localhost";

async fn rig(stub: &StubLlm) -> (TestDb, Arc<RecordingOutbox>, Assistant) {
    let Core { db, out, assistant } = Core::start(core_rig::config(&stub.url()), None).await;
    (db, out, assistant)
}

fn message(event: &str, body: &str, in_reply_to: Option<&str>) -> Incoming {
    crate::common::incoming::message(ROOM, USER, event, body, in_reply_to)
}

fn reaction(event: &str, target: &str, key: &str, sender: &str) -> Incoming {
    crate::common::incoming::reaction(ROOM, sender, event, target, key)
}

fn redaction(event: &str, redacts: &str) -> Incoming {
    Incoming::Redaction {
        event_id: event.into(),
        room_id: ROOM.into(),
        sender: USER.into(),
        redacts: redacts.into(),
    }
}

/// Sends a message and returns the event id of the bot's reply to it.
async fn ask(a: &Assistant, out: &RecordingOutbox, event: &str, body: &str) -> String {
    let before = out.messages().len();
    a.handle(message(event, body, None)).await.unwrap();
    out.messages()[before].0.clone()
}

fn reactions_on(out: &RecordingOutbox, target: &str) -> Vec<String> {
    out.all()
        .into_iter()
        .filter_map(|s| match s {
            Shown::React { target: t, key, .. } if t == target => Some(key),
            _ => None,
        })
        .collect()
}

async fn tags(db: &TestDb, event: &str) -> (Vec<String>, Option<String>) {
    store::feedback::tags_and_comment(&db.pool, USER, event)
        .await
        .unwrap()
        .expect("an experience row")
}

#[tokio::test]
async fn a_thumbs_down_offers_the_tags_once_and_tags_and_comments_are_kept() {
    let stub = StubLlm::start().await;
    let (db, out, a) = rig(&stub).await;
    let reply = ask(&a, &out, "$q1", "Which country is Lyon in?").await;

    a.handle(reaction("$r1", &reply, "👎", USER)).await.unwrap();
    assert_eq!(
        store::feedback::feedback_for_message(&db.pool, USER, "$q1")
            .await
            .unwrap(),
        Some(-1)
    );
    assert_eq!(reactions_on(&out, &reply), vec!["🤥", "📜", "🎯", "❌"]);
    let notice = out.messages().last().unwrap().1.clone();
    assert!(notice.markdown.contains("🤥 made things up"), "{notice:?}");
    assert_eq!(notice.reply_to.as_deref(), Some(reply.as_str()));

    // The user taps two tags; a redelivered event counts once.
    a.handle(reaction("$r2", &reply, "🤥", USER)).await.unwrap();
    a.handle(reaction("$r2", &reply, "🤥", USER)).await.unwrap();
    a.handle(reaction("$r3", &reply, "📜\u{FE0F}", USER))
        .await
        .unwrap();
    assert_eq!(
        tags(&db, "$q1").await.0,
        vec!["hallucinated", "too_verbose"]
    );

    // Someone else's reactions count for nothing.
    a.handle(reaction("$r4", &reply, "🎯", "@eve:localhost"))
        .await
        .unwrap();
    assert_eq!(tags(&db, "$q1").await.0.len(), 2);

    // Taking a tag back removes it; the 👎 stands.
    a.handle(redaction("$x1", "$r2")).await.unwrap();
    assert_eq!(tags(&db, "$q1").await.0, vec!["too_verbose"]);

    // 👎 taken back and given again: no second offer.
    a.handle(redaction("$x2", "$r1")).await.unwrap();
    assert_eq!(
        store::feedback::feedback_for_message(&db.pool, USER, "$q1")
            .await
            .unwrap(),
        None
    );
    a.handle(reaction("$r5", &reply, "👎", USER)).await.unwrap();
    assert_eq!(reactions_on(&out, &reply).len(), 4);

    // A reply to the bot's answer is a comment on it (and is answered like any message).
    a.handle(message(
        "$c1",
        "Lyon is in France, you said Italy.",
        Some(&reply),
    ))
    .await
    .unwrap();
    a.handle(message(
        "$c1",
        "Lyon is in France, you said Italy.",
        Some(&reply),
    ))
    .await
    .unwrap();
    a.handle(message("$c2", "And keep it short.", Some(&reply)))
        .await
        .unwrap();
    assert_eq!(
        tags(&db, "$q1").await.1.as_deref(),
        Some("Lyon is in France, you said Italy.\nAnd keep it short.")
    );
}

#[tokio::test]
async fn a_cross_on_a_pending_approval_rejects_it_and_is_not_a_tag() {
    let stub = StubLlm::start().await;
    let (db, out, a) = rig(&stub).await;
    let reply = ask(&a, &out, "$q1", "Which country is Lyon in?").await;
    a.handle(message("$rm", "!remember my cat is called Tom", None))
        .await
        .unwrap();
    a.handle(message("$f", "!forget everything", None))
        .await
        .unwrap();
    let approval = out.messages().last().unwrap().0.clone();
    a.handle(reaction("$r1", &approval, "❌", USER))
        .await
        .unwrap();
    let status: String = sqlx::query_scalar("SELECT status FROM approvals WHERE event_id = $1")
        .bind(&approval)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(status, "rejected");
    assert!(tags(&db, "$q1").await.0.is_empty());
    // On an answer, ❌ is the "wrong" tag.
    a.handle(reaction("$r2", &reply, "❌", USER)).await.unwrap();
    assert_eq!(tags(&db, "$q1").await.0, vec!["wrong"]);
}

fn day(d: i64, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap() + chrono::Duration::days(d)
}

/// One stored reply with its feedback, as the turn and the reactions would leave it.
async fn seed(
    db: &TestDb,
    n: usize,
    at: DateTime<Utc>,
    action: &str,
    confidence: f32,
    feedback: Option<i16>,
    tags: &[&str],
) {
    sqlx::query(
        "INSERT INTO experience (user_id, room_id, message_event_id, reply_event_id, gate_action,
                                 confidence, searched, feedback, feedback_at, tags, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $5 = 'search', $7, $8, $9, $8)",
    )
    .bind(USER)
    .bind(ROOM)
    .bind(format!("$m{n}"))
    .bind(format!("$b{n}"))
    .bind(action)
    .bind(confidence)
    .bind(feedback)
    .bind(at)
    .bind(tags.iter().map(|t| t.to_string()).collect::<Vec<_>>())
    .execute(&db.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_nightly_update_learns_from_stored_feedback_in_bounded_versioned_steps() {
    let stub = StubLlm::start().await;
    let (db, out, a) = rig(&stub).await;
    sqlx::query("INSERT INTO users (user_id) VALUES ($1)")
        .bind(USER)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO rooms (room_id, user_id) VALUES ($1, $2)")
        .bind(ROOM)
        .bind(USER)
        .execute(&db.pool)
        .await
        .unwrap();
    // A week: unsure answers (below the 0.45 threshold) are 👎'd as wrong or made up; sure
    // answers and searched ones are liked.
    let mut n = 0;
    for d in 0..7 {
        for (conf, action, fb, tag) in [
            (0.2, "answer", -1, Some("wrong")),
            (0.3, "answer", -1, Some("hallucinated")),
            (0.85, "answer", 1, None),
            (0.9, "answer", 1, None),
            (0.35, "search", 1, None),
        ] {
            n += 1;
            let tags: Vec<&str> = tag.into_iter().collect();
            seed(&db, n, day(d, 10), action, conf, Some(fb), &tags).await;
        }
    }
    let mut conn = db.pool.acquire().await.unwrap();
    let before = behaviour::store::current(&mut conn, USER).await.unwrap();
    assert_eq!(before.version, 0);
    let changes = behaviour::store::nightly_update(&mut conn, USER, day(7, 3))
        .await
        .unwrap();
    assert!(!changes.is_empty(), "the pattern asks for a change");
    let after = behaviour::store::current(&mut conn, USER).await.unwrap();
    assert_eq!(after.version, 1);
    assert_ne!(after.unsure_action, UnsureAction::Answer);
    assert_eq!(after.reason, changes.join(" "));
    let (lo, hi) = SEARCH_THRESHOLD_BOUNDS;
    assert!(after.search_threshold >= lo && after.search_threshold <= hi);
    assert!((after.search_threshold - before.search_threshold).abs() <= THRESHOLD_STEP + 1e-6);

    // The same night again, and the next night without new evidence: nothing moves.
    for at in [day(7, 3), day(8, 3)] {
        let again = behaviour::store::nightly_update(&mut conn, USER, at)
            .await
            .unwrap();
        assert!(again.is_empty(), "{again:?}");
    }
    assert_eq!(
        behaviour::store::current(&mut conn, USER)
            .await
            .unwrap()
            .version,
        1
    );
    // Old evidence falls out of the window: nothing moves either.
    assert!(
        behaviour::store::nightly_update(&mut conn, USER, day(40, 3))
            .await
            .unwrap()
            .is_empty()
    );

    // !stats shows it all, including the AUROC (35 ratings, both classes).
    stub.push(Reply::text("unused", -0.1));
    a.handle(message("$s", "!stats", None)).await.unwrap();
    let text = out.messages().last().unwrap().1.markdown.clone();
    assert!(text.contains("**Replies:** 35"), "{text}");
    assert!(text.contains("👍 21 · 👎 14"), "{text}");
    assert!(text.contains("AUROC 1.00"), "{text}");
    assert!(text.contains("❌ wrong 7"), "{text}");
    assert!(text.contains("(v1)"), "{text}");
}

#[tokio::test]
async fn stats_with_no_replies_say_so() {
    let stub = StubLlm::start().await;
    let (_db, out, a) = rig(&stub).await;
    a.handle(message("$s", "!stats", None)).await.unwrap();
    let text = out.messages().last().unwrap().1.markdown.clone();
    assert!(text.contains("No answers to count yet"), "{text}");
}
