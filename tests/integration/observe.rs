//! The metrics and health listener against the real database: `/healthz` says ok while the
//! database answers and 503 once it does not; `/metrics` is Prometheus text with the queue
//! depth read from the messages table, and no user id or message text in it.

use threeam::store::messages::{NewMessage, store_user_message};
use tokio_util::sync::CancellationToken;

use crate::common::db::TestDb;

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("the listener answers");
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn health_and_metrics_are_served_and_say_no_personal_data() {
    let db = TestDb::migrated().await;
    let stop = CancellationToken::new();
    let (task, addr) = threeam::observe::serve(
        "127.0.0.1:0".parse().unwrap(),
        db.pool.clone(),
        stop.clone(),
    )
    .await
    .unwrap();
    let base = format!("http://{addr}");

    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!((status, body.as_str()), (200, "ok: database answers\n"));

    threeam::store::users::upsert_user(&db.pool, "@ada:localhost", "UTC")
        .await
        .unwrap();
    let secret = "my bank PIN is 4711";
    store_user_message(
        &db.pool,
        &NewMessage {
            user_id: "@ada:localhost",
            room_id: "!r:localhost",
            event_id: "$m1",
            body: secret,
            thread_root: None,
            in_reply_to: None,
            sent_at: chrono::Utc::now(),
            is_command: false,
        },
    )
    .await
    .unwrap();
    let (status, body) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert!(body.contains("threeam_queue_depth 1\n"), "{body}");
    assert!(body.contains("threeam_users 1\n"), "{body}");
    assert!(
        body.contains("# TYPE threeam_messages_received counter"),
        "{body}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(!body.contains("ada") && !body.contains("4711"), "{body}");

    db.pool.close().await;
    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("unhealthy: database"), "{body}");
    let (status, body) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert!(body.contains("threeam_queue_depth -1\n"), "{body}");

    stop.cancel();
    task.await.unwrap();
}
