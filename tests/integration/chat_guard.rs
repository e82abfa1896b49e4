//! The reply guard inside real chat turns (real PostgreSQL, the llama-server stub, a recording
//! outbox): a reply that echoes the user, repeats an earlier reply or speaks as the user is
//! never shown, even in part, nor kept in the conversation; it is generated again, without the
//! conversation and with a corrective note, and after [`REGENERATIONS`] failures the user gets
//! a short honest fallback. The experience row records what was caught.

use crate::common::core_rig::{self, Core};
use crate::common::outbox::Shown;
use crate::common::stub_llm::{Reply, StubLlm};
use serde_json::Value;
use threeam::assistant::Incoming;

const USER: &str = "@mara:localhost";
const ROOM: &str = "!room:localhost";

async fn rig(stub: &StubLlm) -> Core {
    let mut cfg = core_rig::config(&stub.url());
    cfg.llm.request_timeout_secs = 5;
    Core::start(cfg, Some(core_rig::QUICK_RETRY)).await
}

fn message(event: &str, body: &str) -> Incoming {
    crate::common::incoming::message(ROOM, USER, event, body, None)
}

/// Every text the user could have seen, in sends and edits alike.
fn everything_shown(r: &Core) -> Vec<String> {
    r.out
        .all()
        .into_iter()
        .filter_map(|s| match s {
            Shown::Send { msg, .. } | Shown::Edit { msg, .. } => Some(msg.markdown),
            _ => None,
        })
        .collect()
}

async fn guard_row(r: &Core, event: &str) -> (Option<String>, Option<String>) {
    sqlx::query_as("SELECT guard_flaw, guard_action FROM experience WHERE message_event_id = $1")
        .bind(event)
        .fetch_one(&r.db.pool)
        .await
        .unwrap()
}

fn conversation_turns(req: &Value) -> usize {
    req["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] != "system")
        .count()
}

#[tokio::test]
async fn an_impersonating_reply_is_never_shown_and_is_generated_again() {
    let stub = StubLlm::start().await;
    stub.push(Reply::text(
        "Hi Mara Lindqvist! I'm Mara Lindqvist, a marine biologist.",
        -0.05,
    ));
    stub.push(Reply::text(
        "Nice to meet you, Mara! What do you study in the sea?",
        -0.05,
    ));
    let r = rig(&stub).await;
    r.assistant
        .handle(message(
            "$m1",
            "Hi! I'm Mara Lindqvist, I work as a marine biologist.",
        ))
        .await
        .unwrap();
    for text in everything_shown(&r) {
        assert!(!text.contains("I'm Mara"), "shown: {text}");
    }
    let last = r.out.messages().last().unwrap().1.markdown.clone();
    assert_eq!(
        last,
        "Nice to meet you, Mara! What do you study in the sea?"
    );
    assert_eq!(
        guard_row(&r, "$m1").await,
        (Some("impersonation".into()), Some("regenerated".into()))
    );
    let reqs = stub.chat_requests();
    assert_eq!(reqs.len(), 2);
    let notes = reqs[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .nth(1)
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(notes.contains("was not used"), "a corrective note: {notes}");
    assert!(
        notes.contains("spoke as if you were the user") && notes.contains("\"you\" and \"your\""),
        "the note for speaking as the user says which words to use: {notes}"
    );
    assert!(reqs[1]["temperature"].as_f64().unwrap() > reqs[0]["temperature"].as_f64().unwrap());
}

#[tokio::test]
async fn the_same_reply_to_a_different_message_is_a_repetition() {
    let stub = StubLlm::start().await;
    let r = rig(&stub).await;
    stub.push(Reply::text(
        "I'm sorry, but I can't assist with that request.",
        -0.05,
    ));
    r.assistant
        .handle(message("$a", "got 2 kids, lina (7) and max (4)"))
        .await
        .unwrap();
    stub.push(Reply::text(
        "I'm sorry, but I can't assist with that.",
        -0.05,
    ));
    stub.push(Reply::text(
        "Ballet on Tuesdays sounds lovely! How long has Lina been dancing?",
        -0.05,
    ));
    r.assistant
        .handle(message("$b", "lina started ballet on tuesdays"))
        .await
        .unwrap();
    let last = r.out.messages().last().unwrap().1.markdown.clone();
    assert!(last.starts_with("Ballet on Tuesdays"), "{last}");
    assert_eq!(
        guard_row(&r, "$b").await,
        (Some("repetition".into()), Some("regenerated".into()))
    );
    // The regeneration goes without the conversation, where the copy came from.
    let reqs = stub.chat_requests();
    let (first, second) = (&reqs[reqs.len() - 2], &reqs[reqs.len() - 1]);
    assert!(conversation_turns(first) > 1, "{first}");
    assert_eq!(conversation_turns(second), 1, "{second}");
}

#[tokio::test]
async fn after_every_generation_echoes_the_user_gets_an_honest_fallback_and_the_echo_stays_out_of_the_history()
 {
    let stub = StubLlm::start().await;
    let said = "I live in Stockholm with my partner Jonas and our dog Biscuit.";
    let echo = "Hi! I live in Stockholm with my partner Jonas and our dog Biscuit.";
    for _ in 0..=threeam::assistant::turn::REGENERATIONS {
        stub.push(Reply::text(echo, -0.05));
    }
    let r = rig(&stub).await;
    r.assistant.handle(message("$e", said)).await.unwrap();
    for text in everything_shown(&r) {
        assert!(!text.contains("partner Jonas and our dog"), "shown: {text}");
    }
    let last = r.out.messages().last().unwrap().1.markdown.clone();
    assert!(last.starts_with("Thanks for telling me"), "{last}");
    let (flaw, action) = guard_row(&r, "$e").await;
    assert_eq!(action.as_deref(), Some("fallback"));
    assert!(
        matches!(flaw.as_deref(), Some("echo" | "impersonation")),
        "the user's own words, in the first person: {flaw:?}"
    );
    assert_eq!(
        stub.chat_requests().len() as u32,
        1 + threeam::assistant::turn::REGENERATIONS
    );

    // A question that keeps being echoed is asked again in other words.
    for _ in 0..=threeam::assistant::turn::REGENERATIONS {
        stub.push(Reply::text(
            "Which city do I live in? Which city do I live in now?",
            -0.05,
        ));
    }
    r.assistant
        .handle(message("$q", "Which city do I live in now?"))
        .await
        .unwrap();
    let last = r.out.messages().last().unwrap().1.markdown.clone();
    assert!(
        last.contains("rephrase") || last.contains("other words") || last.contains("differently"),
        "{last}"
    );
    let history = stub.chat_requests().last().cloned().unwrap();
    let all: String = history["messages"].to_string();
    assert!(
        !all.contains("Hi! I live in Stockholm"),
        "no echo in the history: {all}"
    );
}

/// A reply that goes round in a loop (the same paragraph again and again, as the 0.5B model
/// did with "how does bread rise") ends before its first repeat: the user reads the
/// paragraph once, and the conversation keeps it once.
#[tokio::test]
async fn a_reply_that_loops_ends_before_its_first_repeat() {
    let stub = StubLlm::start().await;
    let para = "Bread rises because yeast eats the sugar in the dough and breathes out gas. \
                The gluten holds the gas in small bubbles, so the dough grows.";
    stub.push(Reply::text(&[para; 6].join("\n\n"), -0.05));
    let r = rig(&stub).await;
    r.assistant
        .handle(message("$loop", "How does bread rise?"))
        .await
        .unwrap();
    let last = r.out.messages().last().unwrap().1.markdown.clone();
    assert_eq!(last, para);
    let stored: String = sqlx::query_scalar(
        "SELECT body FROM messages WHERE role = 'assistant' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&r.db.pool)
    .await
    .unwrap();
    assert_eq!(stored, para);
    assert_eq!(stub.chat_requests().len(), 1, "cut, not generated again");
}
