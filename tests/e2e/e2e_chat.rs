//! End to end on the stack's real Synapse: a scripted person and the bot in an encrypted DM.

use std::time::Duration;

use crate::common::bot::{BotRig, eventually, new_user};
use crate::common::stub_llm::Reply;

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_dm_streamed_reply_thread_and_feedback() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;

    rig.llm.set_token_delay(Duration::from_millis(40));
    rig.llm.push(Reply::text(
        "**Lyon** is a city in France, known for its food, its silk history and its two rivers.",
        -0.05,
    ));
    let q = human.send(&room, "Tell me about Lyon").await.unwrap();
    let reply = human.wait_for_reply(&room, &q, T).await.unwrap();
    assert!(reply.encrypted, "the bot must reply encrypted");
    assert!(
        reply.body.starts_with("**Lyon** is a city") && reply.body.ends_with("rivers."),
        "{}",
        reply.body
    );
    assert!(reply.edits >= 1, "the reply was edited while streaming");
    assert!(
        reply
            .formatted_body
            .as_deref()
            .unwrap_or("")
            .contains("<strong>Lyon</strong>")
    );
    assert_eq!(reply.sender.as_str(), rig.bot_id);

    // 👍 lands on the experience row of that reply.
    human.react(&room, &reply.event_id, "👍").await.unwrap();
    let pool = rig.db.pool.clone();
    let qid = q.to_string();
    let ada2 = ada.clone();
    eventually("👍 recorded", T, || {
        let (pool, qid, ada2) = (pool.clone(), qid.clone(), ada2.clone());
        async move {
            threeam::store::feedback::feedback_for_message(&pool, &ada2, &qid)
                .await
                .unwrap()
                == Some(1)
        }
    })
    .await;

    // A message in a thread is answered in that thread.
    rig.llm.set_token_delay(Duration::ZERO);
    rig.llm.push(Reply::text("Yes, in the thread.", -0.1));
    let tq = human
        .send_in_thread(&room, &reply.event_id, "Can you answer here?")
        .await
        .unwrap();
    let treply = human.wait_for_reply(&room, &tq, T).await.unwrap();
    assert_eq!(treply.thread_root.as_deref(), Some(reply.event_id.as_ref()));
    assert_eq!(treply.body, "Yes, in the thread.");

    // Commands.
    let h = human.send(&room, "!help").await.unwrap();
    let help = human.wait_for_reply(&room, &h, T).await.unwrap();
    assert!(help.body.contains("!status"), "{}", help.body);

    // The model saw the thread's history, not the command.
    let reqs = rig.llm.chat_requests();
    assert_eq!(reqs.len(), 2);
    assert!(!reqs[1]["messages"].to_string().contains("!help"));
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_ignored() {
    let ada = new_user("ada").await;
    let eve = new_user("eve").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let bot = rig.bot_user();
    let eve_h = rig.human(&eve).await;
    let res = eve_h.ensure_dm(&bot, true, Duration::from_secs(8)).await;
    assert!(res.is_err(), "the bot must not join a stranger's room");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&rig.db.pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
    assert!(rig.llm.chat_requests().is_empty());

    // Ada still gets served.
    let human = rig.human(&ada).await;
    let room = human.ensure_dm(&bot, true, T).await.unwrap();
    let q = human.send(&room, "hello").await.unwrap();
    human.wait_for_reply(&room, &q, T).await.unwrap();
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_answers_missed_messages_once_and_never_twice() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;
    rig.llm.push(Reply::text("First answer.", -0.1));
    let q1 = human.send(&room, "first").await.unwrap();
    human.wait_for_reply(&room, &q1, T).await.unwrap();

    rig.stop().await;
    rig.llm.push(Reply::text(
        "Answer to what you said while I was away.",
        -0.1,
    ));
    let q2 = human
        .send(&room, "sent while the bot was down")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    rig.start().await;
    let r2 = human.wait_for_reply(&room, &q2, T).await.unwrap();
    assert_eq!(r2.body, "Answer to what you said while I was away.");
    assert!(r2.encrypted, "keys survive the restart");

    // Give a double answer time to show up, then count.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let bot_msgs = human
        .messages(&room)
        .into_iter()
        .filter(|m| m.sender.as_str() == rig.bot_id)
        .count();
    assert_eq!(bot_msgs, 2, "{:#?}", human.messages(&room));
    assert_eq!(rig.llm.chat_requests().len(), 2);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_server_dies_mid_conversation_then_answers_when_back() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;
    rig.llm.push(Reply::text("I'm here.", -0.1));
    let q1 = human.send(&room, "are you there?").await.unwrap();
    human.wait_for_reply(&room, &q1, T).await.unwrap();

    // The model server goes away.
    let addr = rig.llm.addr;
    rig.llm.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let q2 = human.send(&room, "what is 2 + 2?").await.unwrap();
    let notice = human.wait_for_reply(&room, &q2, T).await.unwrap();
    assert!(notice.body.contains("isn't answering"), "{}", notice.body);

    // It comes back on the same address: the queued message is answered, once.
    let stub = crate::common::stub_llm::StubLlm::start_on(addr).await;
    stub.push(Reply::text("2 + 2 = 4.", -0.1));
    let answer = {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            let found = human
                .messages(&room)
                .into_iter()
                .find(|m| m.body == "2 + 2 = 4.");
            if let Some(m) = found {
                break m;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no answer after the model came back: {:#?}",
                human.messages(&room)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    assert!(answer.encrypted);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stub.chat_requests().len(), 1);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_reply_in_progress_and_leaves_empty_rooms() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;

    let long: String = (1..=30).map(|i| format!("word{i} ")).collect();
    rig.llm.set_token_delay(Duration::from_millis(80));
    rig.llm.push(Reply::text(long.trim_end(), -0.1));
    let q = human.send(&room, "say thirty words slowly").await.unwrap();
    human
        .wait_for_message(&room, T, |m| {
            m.sender.as_str() == rig.bot_id && m.status.as_deref() == Some("streaming")
        })
        .await
        .expect("the reply starts streaming");
    // SIGTERM arrives mid-answer: the bot finishes before it exits.
    rig.stop().await;
    let reply = human.wait_for_reply(&room, &q, T).await.unwrap();
    assert!(reply.body.ends_with("word30"), "{}", reply.body);
    let state: String = sqlx::query_scalar("SELECT reply_state FROM messages WHERE event_id = $1")
        .bind(q.as_str())
        .fetch_one(&rig.db.pool)
        .await
        .unwrap();
    assert_eq!(state, "answered");

    // When the user leaves, the bot leaves too.
    rig.start().await;
    human
        .client()
        .get_room(&room)
        .unwrap()
        .leave()
        .await
        .unwrap();
    rig.wait_room_left(&room, "the bot leaves the empty room")
        .await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_client_chats_and_reacts() {
    use tokio::io::AsyncWriteExt;
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    rig.llm
        .push(Reply::text("Hello from the bot, in *markdown*.", -0.1));
    let store = rig.store.path().join("cli");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_threeam"))
        .args([
            "client",
            "--homeserver",
            &crate::common::bot::homeserver(),
            "--user",
            &ada,
            "--password",
            crate::common::bot::PASSWORD,
        ])
        .args(["--bot", &rig.bot_id, "--store"])
        .arg(&store)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hi there\n/up\n").await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("client exits after EOF")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Hello from the bot, in *markdown*."),
        "{stdout}"
    );
    let q: String = sqlx::query_scalar(
        "SELECT event_id FROM messages WHERE role = 'user' AND body = 'hi there'",
    )
    .fetch_one(&rig.db.pool)
    .await
    .unwrap();
    let pool = rig.db.pool.clone();
    eventually("/up recorded as 👍", T, || {
        let (pool, q, ada) = (pool.clone(), q.clone(), ada.clone());
        async move {
            threeam::store::feedback::feedback_for_message(&pool, &ada, &q)
                .await
                .unwrap()
                == Some(1)
        }
    })
    .await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_commands_with_approval_encrypted_export_and_map() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;

    let q = human
        .send(&room, "!remember my sister lives in Porto")
        .await
        .unwrap();
    let ok = human.wait_for_reply(&room, &q, T).await.unwrap();
    assert!(ok.body.contains("I'll remember that"), "{}", ok.body);

    let q = human.send(&room, "!forget sister").await.unwrap();
    let ask = human.wait_for_reply(&room, &q, T).await.unwrap();
    assert!(
        ask.body.contains("React ✅") && ask.body.contains("Porto"),
        "{}",
        ask.body
    );
    human.react(&room, &ask.event_id, "✅").await.unwrap();
    let done = human
        .wait_for_message(&room, T, |m| {
            m.sender.as_str() == rig.bot_id && m.body.contains("erased 1 memory")
        })
        .await
        .unwrap();
    assert!(done.encrypted);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM facts")
        .fetch_one(&rig.db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);

    let q = human.send(&room, "!export").await.unwrap();
    let file = human
        .wait_for_message(&room, T, |m| {
            m.sender.as_str() == rig.bot_id && m.msgtype == "m.file"
        })
        .await
        .unwrap();
    assert!(file.encrypted, "the export is an encrypted attachment");
    assert!(file.body.ends_with(".json"), "{}", file.body);
    let _ = q;

    // The memory map: a picture (m.image, encrypted) once there is something to draw.
    let q = human.send(&room, "!map").await.unwrap();
    let nothing = human.wait_for_reply(&room, &q, T).await.unwrap();
    assert!(nothing.body.contains("no map to draw"), "{}", nothing.body);
    let q = human
        .send(&room, "!remember I grow tomatoes on my balcony")
        .await
        .unwrap();
    human.wait_for_reply(&room, &q, T).await.unwrap();
    human.send(&room, "!map").await.unwrap();
    let picture = human
        .wait_for_message(&room, T, |m| {
            m.sender.as_str() == rig.bot_id && m.msgtype == "m.image"
        })
        .await
        .unwrap();
    assert!(picture.encrypted, "the map is an encrypted attachment");
    assert!(picture.body.ends_with(".png"), "{}", picture.body);
    let said = human
        .wait_for_message(&room, T, |m| {
            m.sender.as_str() == rig.bot_id && m.body.starts_with("Your memory map: 1 memory")
        })
        .await
        .unwrap();
    assert!(said.encrypted);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_learned_in_chat_survive_a_restart_and_are_recalled() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;

    rig.llm.push(Reply::text("Nice to meet you, Ada!", -0.1));
    rig.llm.push_structured(Reply::json(&serde_json::json!({"facts": [
        {"text": "The user's name is Ada", "category": "identity", "priority": 5, "kind": "personal"},
        {"text": "Ada lives in Lyon", "category": "identity", "priority": 5, "kind": "personal"}
    ]})));
    let q = human
        .send(&room, "Hi! I'm Ada and I live in Lyon.")
        .await
        .unwrap();
    human.wait_for_reply(&room, &q, T).await.unwrap();
    let pool = rig.db.pool.clone();
    eventually("the facts learned", T, || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM facts")
                .fetch_one(&pool)
                .await
                .unwrap()
                >= 2
        }
    })
    .await;

    rig.stop().await;
    rig.start().await;
    rig.llm.push(Reply::text("You live in Lyon.", -0.1));
    let q = human.send(&room, "where do I live?").await.unwrap();
    let r = human.wait_for_reply(&room, &q, T).await.unwrap();
    assert_eq!(r.body, "You live in Lyon.");
    let req = rig.llm.chat_requests().last().cloned().unwrap();
    let prompt: String = req["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        prompt.contains("live in Lyon") || prompt.contains("lives in Lyon"),
        "the remembered home is in the prompt: {prompt}"
    );
    rig.stop().await;
}

/// The feedback loop as a person uses it in Element: 👎 on an answer, the bot puts the tag
/// reactions under it and says what they mean, the person taps 🤥, replies to the answer with a
/// comment, and `!stats` counts it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbs_down_tags_and_a_comment_in_the_encrypted_room() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;

    rig.llm
        .push(Reply::text("Lyon is the capital of Italy.", -0.1));
    let q = human
        .send(&room, "Which country is Lyon in?")
        .await
        .unwrap();
    let reply = human.wait_for_reply(&room, &q, T).await.unwrap();

    human.react(&room, &reply.event_id, "👎").await.unwrap();
    for key in ["🤥", "📜", "🎯", "❌"] {
        human
            .wait_for_reaction(&room, T, |r| {
                r.key == key && r.target == reply.event_id && r.sender.as_str() == rig.bot_id
            })
            .await
            .unwrap_or_else(|e| panic!("the bot offers {key}: {e}"));
    }
    let offer = human
        .wait_for_message(&room, T, |m| {
            m.sender.as_str() == rig.bot_id && m.body.contains("🤥 made things up")
        })
        .await
        .unwrap();
    assert!(offer.encrypted);

    human.react(&room, &reply.event_id, "🤥").await.unwrap();
    rig.llm
        .push(Reply::text("You're right, Lyon is in France.", -0.1));
    let c = human
        .reply_to(&room, &reply.event_id, "Lyon is in France!")
        .await
        .unwrap();
    human.wait_for_reply(&room, &c, T).await.unwrap();

    let pool = rig.db.pool.clone();
    let (qid, user) = (q.to_string(), ada.clone());
    eventually("tag and comment recorded", T, || {
        let (pool, qid, user) = (pool.clone(), qid.clone(), user.clone());
        async move {
            threeam::store::feedback::tags_and_comment(&pool, &user, &qid)
                .await
                .unwrap()
                == Some((
                    vec!["hallucinated".to_owned()],
                    Some("Lyon is in France!".to_owned()),
                ))
        }
    })
    .await;
    assert_eq!(
        threeam::store::feedback::feedback_for_message(&rig.db.pool, &ada, q.as_str())
            .await
            .unwrap(),
        Some(-1)
    );

    let s = human.send(&room, "!stats").await.unwrap();
    let stats = human.wait_for_reply(&room, &s, T).await.unwrap();
    assert!(stats.body.contains("👎 1"), "{}", stats.body);
    assert!(stats.body.contains("🤥 hallucinated 1"), "{}", stats.body);
    rig.stop().await;
}

/// Matrix caps an event at 64 KiB of bytes and an edit carries the text twice: a long reply
/// in CJK (3 bytes a character) was sized in characters and refused by the homeserver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_cjk_reply_arrives_in_parts_the_homeserver_accepts() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;
    // 4,000 different four-character words: about 48 KB of text, nothing repeated.
    let words: Vec<String> = (0..4000u32)
        .map(|i| {
            (0..4)
                .map(|j| char::from_u32(0x4E00 + (i * 4 + j) % 20_000).unwrap())
                .collect()
        })
        .collect();
    let long = words.join(" ");
    rig.llm.push(Reply::text(&long, -0.05));
    let q = human.send(&room, "请写一篇很长的文章").await.unwrap();
    let parts = human.wait_for_replies(&room, &q, 4, T).await.unwrap();
    let last = words[3999].clone();
    human
        .wait_for_message(&room, T, |m| m.body.contains(&last) && m.is_final())
        .await
        .expect("the reply's last part arrives");
    let bot = rig.bot_user();
    let all: Vec<_> = human
        .messages(&room)
        .into_iter()
        .filter(|m| m.sender == bot)
        .collect();
    let text: String = all
        .iter()
        .map(|m| m.body.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(parts.len() >= 4, "{} parts", parts.len());
    for m in &all {
        assert!(
            m.body.len() <= threeam::chat::MAX_PART_BYTES,
            "{} bytes",
            m.body.len()
        );
    }
    assert!(
        text.contains(&words[0]) && text.contains(&words[3999]),
        "the whole reply arrived"
    );
}
