//! The chat pipeline end to end below Matrix: real PostgreSQL, the llama-server stub, and a
//! recording outbox in place of the homeserver.

use std::time::Duration;

use crate::common::core_rig::{self, Core};
use crate::common::db::TestDb;
use crate::common::outbox::Shown;
use crate::common::stub_llm::{Reply, StubLlm};
use threeam::assistant::Incoming;

const USER: &str = "@ada:localhost";
const ROOM: &str = "!room:localhost";

async fn rig(llm_url: &str) -> Core {
    let mut cfg = core_rig::config(llm_url);
    cfg.llm.request_timeout_secs = 5;
    Core::start(cfg, Some(core_rig::QUICK_RETRY)).await
}

fn message(event: &str, body: &str) -> Incoming {
    crate::common::incoming::message(ROOM, USER, event, body, None)
}

async fn reply_state(db: &TestDb, event: &str) -> String {
    sqlx::query_scalar("SELECT reply_state FROM messages WHERE event_id = $1")
        .bind(event)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_turn_streams_into_one_edited_message_and_records_confidence() {
    let stub = StubLlm::start().await;
    stub.set_token_delay(Duration::from_millis(15));
    stub.push(Reply::text(
        "Lyon is in France, on the Rhône and the Saône rivers, and it is known for its food.",
        -0.05,
    ));
    let r = rig(&stub.url()).await;
    r.assistant
        .handle(message("$m1", "Where is Lyon?"))
        .await
        .unwrap();

    let msgs = r.out.messages();
    assert_eq!(msgs.len(), 1, "{:?}", r.out.all());
    let (_, final_msg) = &msgs[0];
    assert!(final_msg.complete);
    assert!(
        final_msg.markdown.starts_with("Lyon is in France")
            && final_msg.markdown.ends_with("food.")
    );
    assert!(
        r.out.edits() >= 2,
        "streamed with several edits, got {}",
        r.out.edits()
    );
    let all = r.out.all();
    assert!(matches!(all.first(), Some(Shown::Typing { on: true, .. })));
    assert!(matches!(all.last(), Some(Shown::Typing { on: false, .. })));
    // Only the last edit is complete.
    let completes = all
        .iter()
        .filter(|s| matches!(s, Shown::Send { msg, .. } | Shown::Edit { msg, .. } if msg.complete))
        .count();
    assert_eq!(completes, 1);

    assert_eq!(reply_state(&r.db, "$m1").await, "answered");
    let conf: Option<f32> =
        sqlx::query_scalar("SELECT confidence FROM experience WHERE message_event_id = '$m1'")
            .fetch_one(&r.db.pool)
            .await
            .unwrap();
    assert!(conf.unwrap() > 0.8, "{conf:?}");
    // The request carried the system prompt with the date, and asked for logprobs.
    let req = &stub.chat_requests()[0];
    assert_eq!(req["top_logprobs"], 5);
    assert!(
        req["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains(&chrono::Utc::now().format("%Y").to_string())
    );

    // The same event again (a redelivery) is not answered twice.
    r.assistant
        .handle(message("$m1", "Where is Lyon?"))
        .await
        .unwrap();
    assert_eq!(stub.chat_requests().len(), 1);
}

#[tokio::test]
async fn conversation_history_is_sent_with_alternating_roles() {
    let stub = StubLlm::start().await;
    let r = rig(&stub.url()).await;
    stub.push(Reply::text("Nice to meet you, Ada.", -0.1));
    r.assistant.handle(message("$a", "I'm Ada.")).await.unwrap();
    stub.push(Reply::text("You are Ada.", -0.1));
    r.assistant
        .handle(message("$b", "What's my name?"))
        .await
        .unwrap();
    let req = &stub.chat_requests()[1];
    let roles: Vec<&str> = req["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "system", "user"]);
    assert_eq!(req["messages"][1]["content"], "I'm Ada.");
    assert_eq!(req["messages"][2]["content"], "Nice to meet you, Ada.");
    assert!(
        req["messages"][3]["content"]
            .as_str()
            .unwrap()
            .starts_with("Notes for your reply"),
        "the turn's notes come last, so the conversation before them stays cached"
    );
    assert_eq!(req["messages"][4]["content"], "What's my name?");
}

#[tokio::test]
async fn model_down_tells_once_queues_and_answers_each_message_once_when_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let r = rig(&format!("http://{port}")).await;
    r.assistant
        .handle(message("$q1", "first question"))
        .await
        .unwrap();
    r.assistant
        .handle(message("$q2", "second question"))
        .await
        .unwrap();
    let msgs = r.out.messages();
    assert_eq!(
        msgs.len(),
        1,
        "one notice for the outage: {:?}",
        r.out.all()
    );
    assert!(msgs[0].1.markdown.contains("isn't answering"));
    assert!(
        r.out.all().iter().any(
            |s| matches!(s, Shown::React { target, key, .. } if target == "$q2" && key == "⏳")
        )
    );
    assert_eq!(reply_state(&r.db, "$q1").await, "failed");
    assert_eq!(reply_state(&r.db, "$q2").await, "failed");

    // Still down: retrying does not spam.
    r.out.clear();
    assert_eq!(r.assistant.retry_pending().await.unwrap(), 0);
    assert!(r.out.messages().is_empty());

    let stub = StubLlm::start_on(port).await;
    stub.push(Reply::text("Answer one.", -0.1));
    stub.push(Reply::text("Answer two.", -0.1));
    assert_eq!(r.assistant.retry_pending().await.unwrap(), 2);
    let msgs = r.out.messages();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].1.markdown, "Answer one.");
    assert_eq!(
        msgs[0].1.reply_to.as_deref(),
        Some("$q1"),
        "a late answer quotes its question"
    );
    assert_eq!(msgs[1].1.reply_to.as_deref(), Some("$q2"));
    assert_eq!(r.assistant.retry_pending().await.unwrap(), 0);
    assert_eq!(stub.chat_requests().len(), 2);
    // The user's history now alternates question/answer in order.
    let next = stub.chat_requests();
    assert!(next[1]["messages"].to_string().contains("first question"));
}

#[tokio::test]
async fn a_broken_stream_is_marked_interrupted_and_answered_later() {
    let stub = StubLlm::start().await;
    stub.set_token_delay(Duration::from_millis(30));
    let tokens: Vec<(String, f64)> = "This answer will be cut off right in the middle of it"
        .split(' ')
        .map(|w| (format!("{w} "), -0.1))
        .collect();
    stub.push(Reply::CutAfter { tokens, after: 8 });
    let r = rig(&stub.url()).await;
    r.assistant.handle(message("$c1", "tell me")).await.unwrap();
    let msgs = r.out.messages();
    assert!(msgs[0].1.markdown.contains("interrupted"), "{msgs:?}");
    assert!(msgs[0].1.complete);
    assert_eq!(reply_state(&r.db, "$c1").await, "failed");
    stub.push(Reply::text("Here is the whole answer.", -0.1));
    assert_eq!(r.assistant.retry_pending().await.unwrap(), 1);
    assert_eq!(
        r.out.messages().last().unwrap().1.markdown,
        "Here is the whole answer."
    );
}

#[tokio::test]
async fn a_very_long_reply_is_split_into_complete_parts() {
    let stub = StubLlm::start().await;
    // Every sentence different: a reply that repeats itself is cut at its first repeat.
    let para = |p: usize| {
        (0..40)
            .map(|i| {
                format!("This sentence {p}-{i} is part of a very long answer that keeps going. ")
            })
            .collect::<String>()
    };
    let long = (0..6).map(para).collect::<Vec<_>>().join("\n\n");
    stub.push(Reply::text(&long, -0.1));
    let r = rig(&stub.url()).await;
    r.assistant
        .handle(message("$l1", "write a lot"))
        .await
        .unwrap();
    let msgs = r.out.messages();
    assert!(msgs.len() >= 2, "{} parts", msgs.len());
    for (_, m) in &msgs {
        assert!(m.complete);
        assert!(m.markdown.len() <= threeam::chat::MAX_PART_BYTES);
    }
    let words: usize = msgs
        .iter()
        .map(|(_, m)| m.markdown.matches("sentence").count())
        .sum();
    assert_eq!(words, 240);
    let parts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages WHERE role = 'assistant' AND in_reply_to = '$l1'",
    )
    .fetch_one(&r.db.pool)
    .await
    .unwrap();
    assert_eq!(parts as usize, msgs.len());
}

#[tokio::test]
async fn commands_are_answered_without_the_model() {
    let stub = StubLlm::start().await;
    let r = rig(&stub.url()).await;
    r.assistant.handle(message("$h", "!help")).await.unwrap();
    r.assistant.handle(message("$u", "!hlep")).await.unwrap();
    let msgs = r.out.messages();
    assert!(msgs[0].1.markdown.contains("!help") && msgs[0].1.markdown.contains("👍"));
    assert!(msgs[1].1.markdown.contains("Did you mean `!help`"));
    assert!(stub.chat_requests().is_empty());
    // Commands stay out of the conversation the model sees.
    stub.push(Reply::text("ok", -0.1));
    r.assistant.handle(message("$n", "normal")).await.unwrap();
    let req = &stub.chat_requests()[0];
    assert!(!req["messages"].to_string().contains("!help"));
}

#[tokio::test]
async fn reactions_count_only_from_the_room_owner() {
    let stub = StubLlm::start().await;
    let r = rig(&stub.url()).await;
    r.assistant.handle(message("$x", "hello")).await.unwrap();
    let reply_id = r.out.messages()[0].0.clone();
    let react = |ev: &str, sender: &str, key: &str| Incoming::Reaction {
        event_id: ev.into(),
        room_id: ROOM.into(),
        sender: sender.into(),
        target_event_id: reply_id.clone(),
        key: key.into(),
    };
    r.assistant
        .handle(react("$r1", "@mallory:localhost", "👎"))
        .await
        .unwrap();
    let fb = threeam::store::feedback::feedback_for_message(&r.db.pool, USER, "$x")
        .await
        .unwrap();
    assert_eq!(fb, None);
    r.assistant.handle(react("$r2", USER, "👍")).await.unwrap();
    assert_eq!(
        threeam::store::feedback::feedback_for_message(&r.db.pool, USER, "$x")
            .await
            .unwrap(),
        Some(1)
    );
}

/// One message the model always refuses (here: too long for its context) used to block
/// every queued message behind it, and was retried for ever.
#[tokio::test]
async fn a_message_the_model_refuses_is_given_up_once_and_blocks_no_one() {
    let stub = StubLlm::start().await;
    let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let is_down = down.clone();
    stub.set_chat_responder(move |body: &serde_json::Value| {
        if is_down.load(std::sync::atomic::Ordering::SeqCst) {
            return Some(Reply::Error {
                status: 500,
                message: "loading model".into(),
            });
        }
        body.to_string().contains("浮").then(|| Reply::Error {
            status: 400,
            message: "the request exceeds the available context size".into(),
        })
    });
    let r = rig(&stub.url()).await;
    // Both arrive while the model server is away: both wait.
    r.assistant
        .handle(message("$poison", &"浮".repeat(50)))
        .await
        .unwrap();
    r.assistant
        .handle(message("$fine", "What is the capital of France?"))
        .await
        .unwrap();
    assert_eq!(reply_state(&r.db, "$poison").await, "failed");
    assert_eq!(reply_state(&r.db, "$fine").await, "failed");

    down.store(false, std::sync::atomic::Ordering::SeqCst);
    r.out.clear();
    let n = r.assistant.retry_pending().await.unwrap();
    assert_eq!(
        n,
        1,
        "the one behind it is answered: {} {} {:?}",
        reply_state(&r.db, "$poison").await,
        reply_state(&r.db, "$fine").await,
        r.out.all()
    );
    assert_eq!(reply_state(&r.db, "$fine").await, "answered");
    assert_eq!(reply_state(&r.db, "$poison").await, "abandoned");
    let told: Vec<String> = r
        .out
        .messages()
        .iter()
        .map(|(_, m)| m.markdown.clone())
        .collect();
    assert_eq!(
        told.iter().filter(|t| t.contains("stopped trying")).count(),
        1,
        "{told:?}"
    );

    // Given up for good: no more attempts, no more notices.
    let asked = stub.chat_requests().len();
    r.out.clear();
    assert_eq!(r.assistant.retry_pending().await.unwrap(), 0);
    assert_eq!(stub.chat_requests().len(), asked);
    assert!(r.out.messages().is_empty());
}

/// A NUL character failed the insert, and the message vanished unanswered.
#[tokio::test]
async fn a_message_with_a_nul_character_is_stored_and_answered() {
    let stub = StubLlm::start().await;
    stub.push(Reply::text("Got it.", -0.1));
    let r = rig(&stub.url()).await;
    r.assistant
        .handle(message("$nul", "before\0after"))
        .await
        .unwrap();
    assert_eq!(reply_state(&r.db, "$nul").await, "answered");
    let body: String = sqlx::query_scalar("SELECT body FROM messages WHERE event_id = '$nul'")
        .fetch_one(&r.db.pool)
        .await
        .unwrap();
    assert_eq!(body, "before\u{FFFD}after");
}

/// The bot stopped (killed) after the reply's first message was on screen and before the
/// reply was recorded: after the restart the retry carries on in that message instead of
/// posting a second reply. (The state a kill leaves is made directly: a turn cannot be
/// stopped at an exact point from outside.)
#[tokio::test]
async fn a_reply_cut_by_a_stop_is_finished_in_the_same_message() {
    let stub = StubLlm::start().await;
    stub.push(Reply::text(
        "Lyon sits where the Rhône meets the Saône.",
        -0.05,
    ));
    let r = rig(&stub.url()).await;
    r.assistant
        .handle(message("$k1", "Tell me about Lyon"))
        .await
        .unwrap();
    let first = r.out.messages();
    assert_eq!(first.len(), 1);
    // What a kill between the first send and the record leaves behind.
    for q in [
        "UPDATE messages SET reply_state = 'answering', claimed_at = now() - interval '1 hour' WHERE event_id = '$k1'",
        "DELETE FROM experience",
        "DELETE FROM messages WHERE role = 'assistant'",
    ] {
        sqlx::query(q).execute(&r.db.pool).await.unwrap();
    }
    r.out.clear();

    assert_eq!(r.assistant.recover().await.unwrap(), 1);
    stub.push(Reply::text("Lyon is a city in France.", -0.05));
    assert_eq!(r.assistant.retry_pending().await.unwrap(), 1);
    assert!(
        r.out.messages().is_empty(),
        "a second reply was posted: {:?}",
        r.out.all()
    );
    let edits: Vec<(String, String)> = r
        .out
        .all()
        .into_iter()
        .filter_map(|s| match s {
            Shown::Edit { id, msg, .. } => Some((id, msg.markdown)),
            _ => None,
        })
        .collect();
    assert_eq!(
        edits.last().cloned(),
        Some((first[0].0.clone(), "Lyon is a city in France.".to_owned())),
        "the retry finishes the first message"
    );
    assert_eq!(reply_state(&r.db, "$k1").await, "answered");
}
