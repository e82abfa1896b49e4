//! The conversation store on a real database: idempotency by event id, exactly-once claims,
//! feedback from reactions, and user isolation.

use crate::common::db::TestDb;
use threeam::store::{feedback, messages, users};

fn msg<'a>(
    user: &'a str,
    room: &'a str,
    event: &'a str,
    body: &'a str,
) -> messages::NewMessage<'a> {
    messages::NewMessage {
        user_id: user,
        room_id: room,
        event_id: event,
        body,
        thread_root: None,
        in_reply_to: None,
        sent_at: chrono::Utc::now(),
        is_command: false,
    }
}

async fn setup(db: &TestDb, user: &str, room: &str) {
    users::upsert_user(&db.pool, user, "UTC").await.unwrap();
    assert_eq!(
        users::claim_room(&db.pool, room, user, true).await.unwrap(),
        user
    );
}

#[tokio::test]
async fn same_event_twice_is_stored_once_and_claimed_once() {
    let db = TestDb::migrated().await;
    setup(&db, "@a:x", "!r:x").await;
    let first = messages::store_user_message(&db.pool, &msg("@a:x", "!r:x", "$e1", "hello"))
        .await
        .unwrap();
    let messages::Stored::New(id) = first else {
        panic!("{first:?}")
    };
    let again = messages::store_user_message(&db.pool, &msg("@a:x", "!r:x", "$e1", "hello"))
        .await
        .unwrap();
    assert_eq!(
        again,
        messages::Stored::Duplicate {
            id,
            state: "received".into()
        }
    );

    let (a, b) = tokio::join!(messages::claim(&db.pool, id), messages::claim(&db.pool, id));
    assert!(a.unwrap() ^ b.unwrap(), "exactly one claim wins");
    assert!(!messages::claim(&db.pool, id).await.unwrap());

    messages::mark_failed(&db.pool, id).await.unwrap();
    assert_eq!(messages::pending(&db.pool, 10).await.unwrap().len(), 1);
    assert!(
        messages::claim(&db.pool, id).await.unwrap(),
        "a failed message can be retried"
    );
    messages::record_reply(
        &db.pool,
        &messages::ReplyRecord {
            message_id: id,
            user_id: "@a:x".into(),
            room_id: "!r:x".into(),
            message_event_id: "$e1".into(),
            part_event_ids: vec!["$r1".into(), "$r2".into()],
            parts: vec!["part one".into(), "part two".into()],
            confidence: Some(0.8),
            latency_ms: 5,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(messages::pending(&db.pool, 10).await.unwrap().is_empty());
    assert!(
        !messages::claim(&db.pool, id).await.unwrap(),
        "answered messages are never answered again"
    );
    let again = messages::store_user_message(&db.pool, &msg("@a:x", "!r:x", "$e1", "hello"))
        .await
        .unwrap();
    assert_eq!(
        again,
        messages::Stored::Duplicate {
            id,
            state: "answered".into()
        }
    );

    // Feedback on the second part lands on the reply's experience row; redaction withdraws it.
    let out = feedback::record_reaction(&db.pool, "$react1", "@a:x", "!r:x", "$r2", "👎")
        .await
        .unwrap();
    assert!(
        matches!(out, feedback::ReactionOutcome::Feedback { value: -1, .. }),
        "{out:?}"
    );
    assert_eq!(
        feedback::record_reaction(&db.pool, "$react1", "@a:x", "!r:x", "$r2", "👎")
            .await
            .unwrap(),
        feedback::ReactionOutcome::Duplicate
    );
    assert_eq!(
        feedback::feedback_for_message(&db.pool, "@a:x", "$e1")
            .await
            .unwrap(),
        Some(-1)
    );
    feedback::record_reaction(&db.pool, "$react2", "@a:x", "!r:x", "$r1", "👍️")
        .await
        .unwrap();
    assert_eq!(
        feedback::feedback_for_message(&db.pool, "@a:x", "$e1")
            .await
            .unwrap(),
        Some(1)
    );
    assert!(
        feedback::redact_reaction(&db.pool, "$react2", "@a:x")
            .await
            .unwrap()
    );
    assert_eq!(
        feedback::feedback_for_message(&db.pool, "@a:x", "$e1")
            .await
            .unwrap(),
        Some(-1),
        "the 👎 still stands"
    );
    assert!(
        feedback::redact_reaction(&db.pool, "$react1", "@a:x")
            .await
            .unwrap()
    );
    assert_eq!(
        feedback::feedback_for_message(&db.pool, "@a:x", "$e1")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn users_never_see_each_others_conversation() {
    let db = TestDb::migrated().await;
    setup(&db, "@a:x", "!ra:x").await;
    setup(&db, "@b:x", "!rb:x").await;
    // Someone else cannot take over a room, nor react for its owner.
    assert_eq!(
        users::claim_room(&db.pool, "!ra:x", "@b:x", true)
            .await
            .unwrap(),
        "@a:x"
    );
    for (u, r, e, b) in [
        ("@a:x", "!ra:x", "$a1", "a secret"),
        ("@b:x", "!rb:x", "$b1", "b secret"),
        ("@a:x", "!ra:x", "$a2", "a now"),
    ] {
        messages::store_user_message(&db.pool, &msg(u, r, e, b))
            .await
            .unwrap();
    }
    let last_a: i64 = sqlx::query_scalar("SELECT id FROM messages WHERE event_id = '$a2'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let hist = messages::history(&db.pool, "@a:x", "!ra:x", None, last_a, 50)
        .await
        .unwrap();
    assert_eq!(hist.len(), 1);
    assert_eq!(hist[0].text, "a secret");
    // B reacting on A's messages changes nothing of A's.
    let out = feedback::record_reaction(&db.pool, "$x", "@b:x", "!ra:x", "$a1", "👍")
        .await
        .unwrap();
    assert_eq!(out, feedback::ReactionOutcome::Recorded);
}

/// A command waits like a message until it ran; a crash's claim is handed back, and a stale
/// claim too without a restart, answers and commands each by their own age.
#[tokio::test]
async fn commands_wait_until_they_ran_and_stale_claims_come_back() {
    let db = TestDb::migrated().await;
    setup(&db, "@a:x", "!r:x").await;
    let mut command = msg("@a:x", "!r:x", "$c1", "!night");
    command.is_command = true;
    let messages::Stored::New(cid) = messages::store_user_message(&db.pool, &command)
        .await
        .unwrap()
    else {
        panic!("new")
    };
    let messages::Stored::New(mid) =
        messages::store_user_message(&db.pool, &msg("@a:x", "!r:x", "$m1", "hello"))
            .await
            .unwrap()
    else {
        panic!("new")
    };
    let pending = messages::pending(&db.pool, 10).await.unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|p| (p.id, p.is_command))
            .collect::<Vec<_>>(),
        [(cid, true), (mid, false)]
    );
    assert!(messages::claim(&db.pool, cid).await.unwrap());
    assert!(messages::claim(&db.pool, mid).await.unwrap());
    // Claimed by the process that is starting (a message of the first sync): kept. Measured
    // with the stack's bot: a command sent while it started ran twice before this.
    assert_eq!(
        messages::release_interrupted(&db.pool, std::time::Duration::from_secs(60))
            .await
            .unwrap(),
        0
    );
    // Claims an hour old are not stale for commands (a night runs long) but are for answers.
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(
        messages::release_claims_older_than(&db.pool, hour, true)
            .await
            .unwrap(),
        0
    );
    sqlx::query("UPDATE messages SET claimed_at = now() - interval '2 hours'")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        messages::release_claims_older_than(&db.pool, hour, false)
            .await
            .unwrap(),
        1
    );
    assert_eq!(messages::pending(&db.pool, 10).await.unwrap().len(), 1);
    // The crash's release at start-up hands back the command as well.
    assert_eq!(
        messages::release_interrupted(&db.pool, std::time::Duration::ZERO)
            .await
            .unwrap(),
        1
    );
    assert!(messages::claim(&db.pool, cid).await.unwrap());
    messages::mark_done(&db.pool, cid).await.unwrap();
    let left: Vec<i64> = messages::pending(&db.pool, 10)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(left, [mid], "the command ran; only the message waits");
}
