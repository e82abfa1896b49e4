//! Memory in the chat pipeline: facts learned after a turn, recalled in the next prompt,
//! and the user's commands over them, with ✅/❌ approvals (real PostgreSQL, llama-server stub).

use std::sync::Arc;
use std::time::Duration;

use crate::common::core_rig::{self, Core};
use crate::common::db::TestDb;
use crate::common::outbox::{RecordingOutbox, Shown};
use crate::common::stub_llm::{Reply, StubLlm};
use serde_json::json;
use threeam::assistant::{Assistant, Incoming};
use threeam::chat::IncomingMessage;

const ADA: &str = "@ada:localhost";
const ROOM: &str = "!ada:localhost";

struct Rig {
    db: TestDb,
    out: Arc<RecordingOutbox>,
    stub: StubLlm,
    assistant: Assistant,
}

async fn rig() -> Rig {
    let stub = StubLlm::start().await;
    let Core { db, out, assistant } = Core::start(core_rig::config(&stub.url()), None).await;
    Rig {
        db,
        out,
        stub,
        assistant,
    }
}

fn msg_from(sender: &str, room: &str, event: &str, body: &str) -> Incoming {
    Incoming::Message(IncomingMessage {
        event_id: event.into(),
        room_id: room.into(),
        sender: sender.into(),
        body: body.into(),
        thread_root: None,
        in_reply_to: None,
        sent_at: chrono::Utc::now(),
        encrypted: true,
    })
}

fn msg(event: &str, body: &str) -> Incoming {
    msg_from(ADA, ROOM, event, body)
}

fn react(event: &str, sender: &str, target: &str, key: &str) -> Incoming {
    Incoming::Reaction {
        event_id: event.into(),
        room_id: ROOM.into(),
        sender: sender.into(),
        target_event_id: target.into(),
        key: key.into(),
    }
}

fn last_text(out: &RecordingOutbox) -> (String, String) {
    let (id, m) = out.messages().last().cloned().expect("a message");
    (id, m.markdown)
}

async fn facts(db: &TestDb, user: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT text FROM facts WHERE user_id = $1 ORDER BY id")
        .bind(user)
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

async fn eventually_facts(db: &TestDb, user: &str, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let f = facts(db, user).await;
        if f.len() >= n {
            return f;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("expected {n} facts, have {:?}", facts(db, user).await);
}

/// Seen with a third-party client: after "we moved to Gothenburg" the 0.5B model kept
/// answering "Stockholm", copying the conversation from before the move. The note that
/// carries the new home now says what it replaced.
#[tokio::test]
async fn a_move_said_in_chat_is_noted_as_replacing_the_old_home() {
    let r = rig().await;
    r.stub.push(Reply::text("Stockholm is lovely.", -0.1));
    r.stub.push_structured(Reply::json(&json!({"facts": []})));
    r.assistant
        .handle(msg("$h1", "I live in Stockholm with my partner Jonas."))
        .await
        .unwrap();
    eventually_facts(&r.db, ADA, 1).await;
    r.stub
        .push(Reply::text("Congratulations on the move!", -0.1));
    r.stub.push_structured(Reply::json(&json!({"facts": []})));
    r.assistant
        .handle(msg(
            "$h2",
            "Big news: Jonas and I moved to Gothenburg last weekend!",
        ))
        .await
        .unwrap();
    let mut live = Vec::new();
    for _ in 0..100 {
        live = sqlx::query_scalar::<_, String>(
            "SELECT text FROM facts WHERE user_id = $1 AND superseded_by IS NULL AND text LIKE '%lives in%'",
        )
        .bind(ADA)
        .fetch_all(&r.db.pool)
        .await
        .unwrap();
        if live == ["The user lives in Gothenburg."] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        live,
        ["The user lives in Gothenburg."],
        "the move replaced the old home"
    );

    r.stub.push(Reply::text("You live in Gothenburg.", -0.1));
    r.assistant
        .handle(msg("$h3", "Where do I live now?"))
        .await
        .unwrap();
    let req = r.stub.chat_requests().last().cloned().unwrap();
    let messages = req["messages"].as_array().unwrap();
    let notes = messages[messages.len() - 2]["content"].as_str().unwrap();
    assert!(
        notes.contains(
            "You live in Gothenburg. (This replaces the out-of-date “You live in Stockholm”.)"
        ),
        "{notes}"
    );
}

#[tokio::test]
async fn facts_are_learned_after_a_turn_and_recalled_in_the_next() {
    let r = rig().await;
    r.stub.push(Reply::text("Nice to meet you!", -0.1));
    r.stub.push_structured(Reply::json(&json!({"facts": [
        {"text": "The user has a cat, Tom", "category": "relationship", "priority": 4, "kind": "personal"}
    ]})));
    r.assistant
        .handle(msg("$m1", "Hi, I'm Ada and my cat is called Tom."))
        .await
        .unwrap();
    // The model's fact, and what the introduction says (read without the model).
    let learned = eventually_facts(&r.db, ADA, 3).await;
    assert_eq!(
        learned,
        [
            "The user's name is Ada.",
            "The user's cat is called Tom.",
            "The user has a cat, Tom"
        ]
    );
    let sources: Vec<String> = sqlx::query_scalar("SELECT unnest(source_event_ids) FROM facts")
        .fetch_all(&r.db.pool)
        .await
        .unwrap();
    assert!(sources.contains(&"$m1".to_string()), "{sources:?}");

    r.stub.push(Reply::text("Your cat is Tom.", -0.1));
    r.assistant
        .handle(msg("$m2", "What is my cat called?"))
        .await
        .unwrap();
    let req = r.stub.chat_requests().last().cloned().unwrap();
    let messages = req["messages"].as_array().unwrap();
    let notes = messages[messages.len() - 2]["content"].as_str().unwrap();
    assert_eq!(messages[messages.len() - 2]["role"], "system");
    assert!(
        notes.contains("Your cat is called Tom."),
        "memory goes into the turn's notes, just before the message, said to the assistant about \"you\": {notes}"
    );
    let used: Vec<i64> =
        sqlx::query_scalar("SELECT facts_used FROM experience WHERE message_event_id = '$m2'")
            .fetch_one(&r.db.pool)
            .await
            .unwrap();
    assert!(!used.is_empty());
}

#[tokio::test]
async fn remember_list_search_forget_with_approval_and_export() {
    let r = rig().await;
    r.assistant
        .handle(msg("$c1", "!remember I am allergic to peanuts"))
        .await
        .unwrap();
    let (_, text) = last_text(&r.out);
    assert!(text.contains("I'll remember that"), "{text}");
    r.assistant
        .handle(msg("$c2", "!remember I work as a nurse in Lyon"))
        .await
        .unwrap();
    r.assistant.handle(msg("$c3", "!memory")).await.unwrap();
    let (_, list) = last_text(&r.out);
    assert!(
        list.contains("peanuts") && list.contains("nurse") && list.contains("I remember 2 things"),
        "{list}"
    );
    r.assistant
        .handle(msg("$c4", "!memory search peanuts"))
        .await
        .unwrap();
    let (_, found) = last_text(&r.out);
    assert!(found.contains("peanuts"), "{found}");

    // !forget asks first; ❌ keeps; a stranger's ✅ does nothing; the owner's ✅ erases.
    r.assistant
        .handle(msg("$c5", "!forget peanuts"))
        .await
        .unwrap();
    let (ask_id, ask) = last_text(&r.out);
    assert!(ask.contains("React ✅") && ask.contains("peanuts"), "{ask}");
    r.assistant
        .handle(react("$x1", "@eve:localhost", &ask_id, "✅"))
        .await
        .unwrap();
    assert_eq!(facts(&r.db, ADA).await.len(), 2);
    r.assistant
        .handle(react("$x2", ADA, &ask_id, "❌"))
        .await
        .unwrap();
    assert!(last_text(&r.out).1.contains("kept"));
    assert_eq!(facts(&r.db, ADA).await.len(), 2);
    // Decided once: a later ✅ on the same request changes nothing.
    r.assistant
        .handle(react("$x3", ADA, &ask_id, "✅"))
        .await
        .unwrap();
    assert_eq!(facts(&r.db, ADA).await.len(), 2);

    r.assistant
        .handle(msg("$c6", "!forget peanuts"))
        .await
        .unwrap();
    let (ask_id, _) = last_text(&r.out);
    r.assistant
        .handle(react("$x4", ADA, &ask_id, "✅"))
        .await
        .unwrap();
    assert!(
        last_text(&r.out).1.contains("erased 1 memory"),
        "{}",
        last_text(&r.out).1
    );
    assert_eq!(facts(&r.db, ADA).await, ["I work as a nurse in Lyon"]);

    // Export: a JSON file with the remaining fact.
    r.assistant.handle(msg("$c7", "!export")).await.unwrap();
    let upload = r.out.all().into_iter().find_map(|s| match s {
        Shown::Upload {
            filename,
            mime,
            data,
            ..
        } => Some((filename, mime, data)),
        _ => None,
    });
    let (filename, mime, data) = upload.expect("an uploaded file");
    assert!(filename.ends_with(".json") && mime == "application/json");
    let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
    assert!(v.to_string().contains("nurse in Lyon") && !v.to_string().contains("peanuts"));

    // Everything, confirmed.
    r.assistant
        .handle(msg("$c8", "!forget everything"))
        .await
        .unwrap();
    let (ask_id, ask) = last_text(&r.out);
    assert!(ask.contains("everything"), "{ask}");
    r.assistant
        .handle(react("$x5", ADA, &ask_id, "✅"))
        .await
        .unwrap();
    assert!(facts(&r.db, ADA).await.is_empty());
    // Commands never reached the model.
    assert!(r.stub.chat_requests().is_empty());
}

#[tokio::test]
async fn another_user_cannot_see_or_erase_memories() {
    let r = rig().await;
    r.assistant
        .handle(msg("$a1", "!remember my bank PIN hint is the old house"))
        .await
        .unwrap();
    let id: i64 = sqlx::query_scalar("SELECT id FROM facts")
        .fetch_one(&r.db.pool)
        .await
        .unwrap();
    let bob = "@bob:localhost";
    let bob_room = "!bob:localhost";
    r.assistant
        .handle(msg_from(bob, bob_room, "$b1", "!memory"))
        .await
        .unwrap();
    assert!(
        last_text(&r.out).1.contains("don't remember anything"),
        "{}",
        last_text(&r.out).1
    );
    r.assistant
        .handle(msg_from(bob, bob_room, "$b2", &format!("!forget {id}")))
        .await
        .unwrap();
    assert!(
        last_text(&r.out).1.contains("found no memory"),
        "{}",
        last_text(&r.out).1
    );
    r.assistant
        .handle(msg_from(bob, bob_room, "$b3", "!memory search PIN house"))
        .await
        .unwrap();
    assert!(
        last_text(&r.out).1.contains("Nothing"),
        "{}",
        last_text(&r.out).1
    );
    r.stub.push(Reply::text("I don't know.", -0.1));
    r.assistant
        .handle(msg_from(bob, bob_room, "$b4", "What is the bank PIN hint?"))
        .await
        .unwrap();
    let req = r.stub.chat_requests().last().cloned().unwrap();
    assert!(
        !req.to_string().contains("old house"),
        "Bob's prompt must not carry Ada's memory"
    );
    assert_eq!(facts(&r.db, ADA).await.len(), 1);
}

/// Tried as a user would: a forgotten PIN came back the next night, because the message it
/// was learned from was still waiting for the night, and it stayed in every prompt's
/// conversation. Forgetting now scrubs the sources.
#[tokio::test]
async fn a_forgotten_fact_stays_forgotten_in_prompts_and_after_a_night() {
    let r = rig().await;
    let pin_fact = json!({"facts": [
        {"text": "The user's bank PIN is 4711", "category": "other", "priority": 3, "kind": "personal"}
    ]});
    r.stub.push(Reply::text("Noted, your PIN is 4711.", -0.1));
    r.stub.push_structured(Reply::json(&pin_fact));
    r.assistant
        .handle(msg("$p1", "My bank PIN is 4711."))
        .await
        .unwrap();
    let learned = eventually_facts(&r.db, ADA, 1).await;
    assert!(learned.iter().any(|f| f.contains("4711")), "{learned:?}");

    r.assistant
        .handle(msg("$p2", "!forget bank PIN"))
        .await
        .unwrap();
    let (ask_id, ask) = last_text(&r.out);
    assert!(ask.contains("4711"), "{ask}");
    r.assistant
        .handle(react("$p3", ADA, &ask_id, "✅"))
        .await
        .unwrap();
    let left = facts(&r.db, ADA).await;
    assert!(
        left.iter().all(|f| !f.contains("4711")),
        "{ask}\n{left:?}\n{:?}",
        last_text(&r.out)
    );

    // Nothing stored quotes it any more, the approval request included.
    let quoting: Vec<String> =
        sqlx::query_scalar("SELECT body FROM messages WHERE body LIKE '%4711%'")
            .fetch_all(&r.db.pool)
            .await
            .unwrap();
    assert!(quoting.is_empty(), "{quoting:?}");

    // The next prompt carries nothing of it.
    r.stub.push(Reply::text("Sure.", -0.1));
    r.assistant
        .handle(msg("$p4", "Remind me what I told you today?"))
        .await
        .unwrap();
    let req = r.stub.chat_requests().last().cloned().unwrap();
    assert!(!req.to_string().contains("4711"), "{req}");

    // A night whose model would learn the PIN from any text that shows it learns nothing.
    r.stub
        .set_structured_responder(move |_: &str, body: &serde_json::Value| {
            body.to_string()
                .contains("4711")
                .then(|| Reply::json(&pin_fact))
        });
    let llm = threeam::llm::LlmClient::new(&core_rig::config(&r.stub.url()).llm).unwrap();
    let before = r.stub.structured_requests().len();
    let now = chrono::Utc::now();
    threeam::night::run_night(
        &r.db.pool,
        &llm,
        ADA,
        now.date_naive(),
        now,
        &threeam::night::RunOptions::default(),
    )
    .await
    .unwrap();
    assert!(
        r.stub.structured_requests().len() > before,
        "the night read the day"
    );
    assert!(
        r.stub.structured_requests()[before..]
            .iter()
            .all(|q| !q.to_string().contains("4711")),
        "the night read the forgotten message"
    );
    assert!(facts(&r.db, ADA).await.iter().all(|f| !f.contains("4711")));
}

/// A pasted secret taken back with a Matrix redaction: the message and the bot's reply to it
/// are scrubbed and the facts learned only from it are erased. An edit replaces the text the
/// next prompts and the night read.
#[tokio::test]
async fn a_redacted_message_takes_its_facts_along_and_an_edit_replaces_the_text() {
    let r = rig().await;
    r.stub.push(Reply::text("Noted.", -0.1));
    r.stub.push_structured(Reply::json(&json!({"facts": [
        {"text": "The user's bank PIN is 4711", "category": "other", "priority": 3, "kind": "personal"}
    ]})));
    r.assistant
        .handle(msg("$s1", "My bank PIN is 4711."))
        .await
        .unwrap();
    eventually_facts(&r.db, ADA, 1).await;
    r.stub.push(Reply::text("Lovely city.", -0.1));
    r.assistant
        .handle(msg("$s2", "I love walking in Paris."))
        .await
        .unwrap();

    r.assistant
        .handle(Incoming::Redaction {
            event_id: "$red".into(),
            room_id: ROOM.into(),
            sender: ADA.into(),
            redacts: "$s1".into(),
        })
        .await
        .unwrap();
    assert!(facts(&r.db, ADA).await.iter().all(|f| !f.contains("4711")));
    r.assistant
        .handle(Incoming::Edit {
            room_id: ROOM.into(),
            sender: ADA.into(),
            edits: "$s2".into(),
            body: "I love walking in Lyon.".into(),
        })
        .await
        .unwrap();
    // Another user cannot edit Ada's message.
    r.assistant
        .handle(Incoming::Edit {
            room_id: ROOM.into(),
            sender: "@eve:localhost".into(),
            edits: "$s2".into(),
            body: "I love walking in Rome.".into(),
        })
        .await
        .unwrap();

    r.stub.push(Reply::text("Sure.", -0.1));
    r.assistant
        .handle(msg("$s3", "What did I tell you?"))
        .await
        .unwrap();
    let req = r.stub.chat_requests().last().cloned().unwrap().to_string();
    assert!(!req.contains("4711"), "{req}");
    assert!(
        req.contains("walking in Lyon") && !req.contains("Paris") && !req.contains("Rome"),
        "{req}"
    );
}

/// Approvals wait a day at most: a ✅ on a request scrolled out of sight days later is a
/// slip, not a decision. And 👌 is no ✅.
#[tokio::test]
async fn an_old_request_cannot_be_approved_and_ok_hand_is_not_a_yes() {
    let r = rig().await;
    r.assistant
        .handle(msg("$o1", "!remember I am allergic to peanuts"))
        .await
        .unwrap();
    r.assistant
        .handle(msg("$o2", "!forget peanuts"))
        .await
        .unwrap();
    let (ask_id, _) = last_text(&r.out);
    r.assistant
        .handle(react("$o3", ADA, &ask_id, "👌"))
        .await
        .unwrap();
    assert_eq!(facts(&r.db, ADA).await.len(), 1, "👌 erased");
    sqlx::query("UPDATE approvals SET created_at = now() - interval '25 hours'")
        .execute(&r.db.pool)
        .await
        .unwrap();
    r.assistant
        .handle(react("$o4", ADA, &ask_id, "✅"))
        .await
        .unwrap();
    assert_eq!(
        facts(&r.db, ADA).await.len(),
        1,
        "an expired request erased"
    );
    let status: String = sqlx::query_scalar("SELECT status FROM approvals")
        .fetch_one(&r.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "expired");
}

/// The bot stopped between the owner's ✅ and the erasure it approved: at start-up the
/// decision is finished, once. (The state a stop leaves is made directly.)
#[tokio::test]
async fn an_approval_cut_off_by_a_stop_is_finished_at_start_up() {
    let r = rig().await;
    r.assistant
        .handle(msg("$a1", "!remember I am allergic to peanuts"))
        .await
        .unwrap();
    r.assistant
        .handle(msg("$a2", "!forget peanuts"))
        .await
        .unwrap();
    let (ask_id, _) = last_text(&r.out);
    // What a stop right after the decision was committed leaves behind.
    sqlx::query("UPDATE approvals SET status = 'approved', decided_at = now() WHERE event_id = $1")
        .bind(&ask_id)
        .execute(&r.db.pool)
        .await
        .unwrap();
    assert_eq!(facts(&r.db, ADA).await.len(), 1);

    r.assistant.recover().await.unwrap();
    assert!(
        facts(&r.db, ADA).await.is_empty(),
        "the approved erasure ran"
    );
    assert!(last_text(&r.out).1.contains("erased 1 memory"));
    let (status, applied): (String, bool) =
        sqlx::query_as("SELECT status, applied_at IS NOT NULL FROM approvals")
            .fetch_one(&r.db.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), applied), ("approved", true));
    // Once: a second start-up has nothing to finish.
    r.out.clear();
    r.assistant.recover().await.unwrap();
    assert!(r.out.messages().is_empty());
}
