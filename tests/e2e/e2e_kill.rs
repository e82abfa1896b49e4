//! The bot as its own process, killed with SIGKILL at the worst moments and started again:
//! mid-answer, mid-night, and between the owner's ✅ and its effect. Nothing the user said is
//! lost, nothing is answered or done twice, and what was cut off is finished.

use std::time::Duration;

use crate::common::bot::{BotRig, new_user};
use crate::common::stub_llm::Reply;

const T: Duration = Duration::from_secs(120);

/// Bot messages in the room (each event once, with its edits applied).
fn bot_messages(
    human: &threeam::client::human::Human,
    room: &matrix_sdk::ruma::RoomId,
    bot: &str,
) -> Vec<threeam::client::human::SeenMessage> {
    human
        .messages(room)
        .into_iter()
        .filter(|m| m.sender.as_str() == bot)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_mid_answer_the_bot_finishes_the_same_reply_after_a_restart() {
    let ada = new_user("ada").await;
    let rig = BotRig::new(vec![ada.clone()]).await;
    let bot = rig.spawn_process();
    let (human, room) = rig.dm(&ada).await;

    // A slow answer: the first words are on screen long before the last.
    rig.llm.set_token_delay(Duration::from_millis(150));
    let answer = "Paris is the capital of France, and it has been for a very long time indeed. \
        It sits on the Seine, in the north of the country, and it is home to the Louvre, the \
        Eiffel Tower, Notre-Dame and many other places people travel far to see. About two \
        million people live in the city itself and more than ten million in the wider region \
        around it, which makes it one of the largest cities in Europe.";
    rig.llm.set_default_chat(Reply::text(answer, -0.1));
    let q = human
        .send(&room, "What is the capital of France?")
        .await
        .unwrap();
    human
        .wait_for_message(&room, T, |m| {
            m.sender.as_str() == rig.bot_id && !m.is_final() && m.body.contains("Paris")
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", bot.log_text()));
    let log = bot.log_text();
    bot.kill9().await;
    let states: Vec<(String, String)> =
        sqlx::query_as("SELECT role, reply_state FROM messages ORDER BY id")
            .fetch_all(&rig.db.pool)
            .await
            .unwrap();
    assert_eq!(
        states,
        [("user".to_owned(), "answering".to_owned())],
        "the kill caught the answer in the middle\n{log}"
    );

    rig.llm.set_token_delay(Duration::ZERO);
    let bot = rig.spawn_process();
    let reply = human
        .wait_for_reply(&room, &q, T)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", bot.log_text()));
    assert_eq!(reply.body, answer);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let replies = bot_messages(&human, &room, &rig.bot_id);
    assert_eq!(
        replies.len(),
        1,
        "one reply, the interrupted one finished: {replies:#?}"
    );
    assert!(
        replies[0].edits > 0,
        "the retry edited the message it had begun"
    );
    bot.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_night_killed_mid_run_resumes_at_start_up_and_the_asker_gets_its_report() {
    let ada = new_user("ada").await;
    let rig = BotRig::new(vec![ada.clone()]).await;
    let bot = rig.spawn_process();
    let (human, room) = rig.dm(&ada).await;
    rig.llm.set_default_chat(Reply::text("Noted, Ada.", -0.1));
    let q = human
        .send(&room, "I keep bees on my roof in Lisbon.")
        .await
        .unwrap();
    human.wait_for_reply(&room, &q, T).await.unwrap();
    // Let realtime learning finish before the night's first model call is held.
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The night's first model call hangs; the bot is killed while it waits.
    let n = rig
        .night_held_on_the_model(&human, &room, Duration::from_secs(600))
        .await;
    bot.kill9().await;

    // Nothing to wait for now: the queue's next structured answers are the stub's defaults.
    let bot = rig.spawn_process();
    let replies = human
        .wait_for_replies(&room, &n, 2, Duration::from_secs(240))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", bot.log_text()));
    assert!(
        replies[0].body.starts_with("Starting my night cycle"),
        "{replies:#?}"
    );
    assert!(
        replies[1].body.to_lowercase().contains("night"),
        "the report: {replies:#?}"
    );
    let (status, attempts): (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM night_runs")
            .fetch_one(&rig.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), attempts),
        ("done", 2),
        "resumed, not started over"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let starting = bot_messages(&human, &room, &rig.bot_id)
        .into_iter()
        .filter(|m| m.body.starts_with("Starting my night cycle"))
        .count();
    assert_eq!(starting, 1, "the rerun's first words were said once");
    bot.kill9().await;
}

/// The window a kill can hit between the homeserver taking a reply and the bot noting it:
/// the retry sends under the same name (the reply's transaction id) and gets the first
/// message back instead of posting a second, even from a new process.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_sent_again_under_its_name_after_a_restart_appears_once() {
    use threeam::chat::{OutMessage, Outbox};
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;
    rig.stop().await;

    let msg = OutMessage {
        markdown: "Said once.".into(),
        complete: true,
        once: Some(format!("reply to $q:{} round 0 part 0", rig.bot_id)),
        ..Default::default()
    };
    let mut ids = Vec::new();
    // Two runs of the bot, as before and after a crash, each with the restored session.
    for _ in 0..2 {
        let (client, restored) = threeam::matrix::bot::connect(&rig.config().matrix)
            .await
            .unwrap();
        assert!(restored);
        client
            .sync_once(matrix_sdk::config::SyncSettings::default())
            .await
            .unwrap();
        let outbox = threeam::matrix::bot::MatrixOutbox::new(client);
        ids.push(outbox.send(room.as_str(), &msg).await.unwrap());
    }
    assert_eq!(ids[0], ids[1]);
    human
        .wait_for_message(&room, T, |m| m.event_id.as_str() == ids[0])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let said = bot_messages(&human, &room, &rig.bot_id)
        .into_iter()
        .filter(|m| m.body == "Said once.")
        .count();
    assert_eq!(said, 1);
}
