//! The homeserver restarts and the database goes away for a while (longer than the bot's
//! patience, too), with the bot in the middle of a conversation. These restart shared stack services, so they live in their own test
//! binary (cargo runs test binaries one after another) and run as one sequence.

mod common;

use std::process::Command;
use std::time::Duration;

use common::bot::{BotRig, eventually, new_user};
use common::stub_llm::Reply;

const T: Duration = Duration::from_secs(90);

/// The tests here stop and start shared services: one at a time.
static STACK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn stack(args: &[&str]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/stack");
    let status = Command::new(script)
        .args(args)
        .status()
        .expect("run scripts/stack");
    assert!(status.success(), "scripts/stack {args:?} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn homeserver_restart_and_database_outage_lose_nothing_and_repeat_nothing() {
    let _one_at_a_time = STACK.lock().await;
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;
    rig.llm.push(Reply::text("Before the restart.", -0.1));
    let q1 = human.send(&room, "one").await.unwrap();
    human.wait_for_reply(&room, &q1, T).await.unwrap();

    // Synapse restarts: the bot reconnects with backoff and answers the next message once.
    stack(&["restart", "synapse"]);
    rig.llm
        .push(Reply::text("After the homeserver came back.", -0.1));
    let q2 = send_retrying(&human, &room, "two").await;
    let r2 = human.wait_for_reply(&room, &q2, T).await.unwrap();
    assert_eq!(r2.body, "After the homeserver came back.");

    // PostgreSQL goes down; a message arrives; PostgreSQL comes back.
    stack(&["down", "postgres"]);
    rig.llm.push(Reply::text("Stored and answered once.", -0.1));
    let q3 = human.send(&room, "three").await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stack(&["up", "postgres"]);
    let r3 = human.wait_for_reply(&room, &q3, T).await.unwrap();
    assert_eq!(r3.body, "Stored and answered once.");

    tokio::time::sleep(Duration::from_secs(3)).await;
    let bodies: Vec<String> = human
        .messages(&room)
        .into_iter()
        .filter(|m| m.sender.as_str() == rig.bot_id)
        .map(|m| m.body)
        .collect();
    assert_eq!(
        bodies,
        [
            "Before the restart.",
            "After the homeserver came back.",
            "Stored and answered once."
        ]
    );
    assert_eq!(rig.llm.chat_requests().len(), 3);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE role = 'user'")
        .fetch_one(&rig.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 3, "no message lost");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_arriving_while_the_database_is_down_longer_than_the_patience_are_kept_on_disk() {
    let _one_at_a_time = STACK.lock().await;
    let ada = new_user("ada").await;
    let rig = BotRig::new(vec![ada.clone()]).await;
    let bot = rig.spawn_process();
    let (human, room) = rig.dm(&ada).await;
    rig.llm.set_default_chat(Reply::text("Got it.", -0.1));

    // PostgreSQL is down for longer than the bot's patience (20 s): the message goes to the
    // spool on disk, and the bot is killed before the database comes back. The restarted bot
    // replays the spool.
    stack(&["down", "postgres"]);
    let postgres_back = PostgresBack;
    let q = human
        .send(&room, "Remember that my locker code is 2231.")
        .await
        .unwrap();
    let spool = rig.config().matrix.store_path.join("spool");
    let spooled = || {
        std::fs::read_dir(&spool).is_ok_and(|d| {
            d.filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().ends_with(".json"))
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !spooled() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the message was not kept on disk:\n{}",
            bot.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bot.kill9().await;
    drop(postgres_back);

    let bot = rig.spawn_process();
    let reply = human
        .wait_for_reply(&room, &q, T)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", bot.log_text()));
    assert_eq!(reply.body, "Got it.");
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages WHERE role = 'user' AND body LIKE '%locker code%'",
    )
    .fetch_one(&rig.db.pool)
    .await
    .unwrap();
    assert_eq!(stored, 1);
    eventually(
        "the spool is empty again",
        Duration::from_secs(30),
        || async { !spooled() },
    )
    .await;
    bot.kill9().await;
}

/// PostgreSQL restarts while `!night` waits on the model: the stage that hit the dead
/// connection fails, the run resumes at that stage once the database is back, and the user
/// who asked gets the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_mid_night_resumes_the_night_and_reports() {
    let _one_at_a_time = STACK.lock().await;
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;
    rig.llm.set_default_chat(Reply::text("Noted.", -0.1));
    let q = human
        .send(&room, "I grow tomatoes on my balcony in Porto.")
        .await
        .unwrap();
    human.wait_for_reply(&room, &q, T).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let n = rig
        .night_held_on_the_model(&human, &room, Duration::from_secs(6))
        .await;
    stack(&["restart", "postgres"]);

    let replies = human
        .wait_for_replies(&room, &n, 2, Duration::from_secs(240))
        .await
        .unwrap();
    assert!(replies[0].body.starts_with("Starting my night cycle"));
    assert!(
        replies[1].body.starts_with("Night of"),
        "the report, not a failure: {}",
        replies[1].body
    );
    let status: String = sqlx::query_scalar("SELECT status FROM night_runs")
        .fetch_one(&rig.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "done");
    rig.stop().await;
}

/// PostgreSQL restarts while a reply streams: the reply finishes in the same message, is
/// recorded once, and the message is not answered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_mid_reply_leaves_one_whole_reply() {
    let _one_at_a_time = STACK.lock().await;
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;
    let answer = "Lisbon sits on seven hills by the Tagus river, and its old trams climb \
                  streets so steep that walking them is a workout of its own every day.";
    rig.llm.set_default_chat(Reply::text(answer, -0.1));
    rig.llm.set_token_delay(Duration::from_millis(250));
    let q = human.send(&room, "Tell me about Lisbon.").await.unwrap();
    human
        .wait_for_message(&room, T, |m| {
            m.sender.as_str() == rig.bot_id && !m.is_final() && m.body.contains("Lisbon")
        })
        .await
        .unwrap();
    stack(&["restart", "postgres"]);
    let reply = human.wait_for_reply(&room, &q, T).await.unwrap();
    assert_eq!(reply.body, answer);
    rig.llm.set_token_delay(Duration::ZERO);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let bot_messages = human
        .messages(&room)
        .into_iter()
        .filter(|m| m.sender.as_str() == rig.bot_id)
        .count();
    assert_eq!(bot_messages, 1, "one reply, not a second after the restart");
    let (state, replies): (String, i64) = sqlx::query_as(
        "SELECT m.reply_state, (SELECT count(*) FROM messages r WHERE r.role = 'assistant')
         FROM messages m WHERE m.role = 'user'",
    )
    .fetch_one(&rig.db.pool)
    .await
    .unwrap();
    assert_eq!((state.as_str(), replies), ("answered", 1));
    rig.stop().await;
}

/// Starts PostgreSQL again when dropped, a failed assertion included: the next test needs it.
struct PostgresBack;

impl Drop for PostgresBack {
    fn drop(&mut self) {
        stack(&["up", "postgres"]);
    }
}

/// Right after a restart the homeserver may refuse a request or two.
async fn send_retrying(
    human: &threeam::client::human::Human,
    room: &matrix_sdk::ruma::RoomId,
    body: &str,
) -> matrix_sdk::ruma::OwnedEventId {
    for _ in 0..30 {
        match human.send(room, body).await {
            Ok(id) => return id,
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    panic!("could not send after the homeserver restart");
}
