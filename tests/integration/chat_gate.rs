//! The decision gate inside real chat turns: real PostgreSQL, the llama-server stub scripting
//! the answer's token logprobs (its first tokens are the gate's draft), a local SearxNG-shaped
//! fixture with fixture pages, and a recording outbox. Each test checks what the user sees,
//! what the model was asked, and the experience row.

use crate::common::core_rig::{self, Core};
use crate::common::db::TestDb;
use crate::common::fixtures_web::WebFixture;
use crate::common::outbox::{RecordingOutbox, Shown};
use crate::common::stub_llm::{Reply, StubLlm};
use serde_json::Value;
use threeam::assistant::Incoming;
use threeam::behaviour::BehaviourProfile;
use threeam::gate::UnsureAction;

const USER: &str = "@ada:localhost";
const ROOM: &str = "!room:localhost";

/// A draft the model is unsure of: every token at probability e^-2.5 ≈ 0.08.
const UNSURE: f64 = -2.5;

async fn rig(stub: &StubLlm, web: Option<String>) -> Core {
    let mut cfg = core_rig::config(&stub.url());
    cfg.llm.request_timeout_secs = 5;
    if let Some(url) = web {
        cfg.web.enabled = true;
        cfg.web.search_url = url;
        cfg.web.fetch_private = true;
    }
    Core::start(cfg, Some(core_rig::QUICK_RETRY)).await
}

fn message(event: &str, body: &str) -> Incoming {
    crate::common::incoming::message(ROOM, USER, event, body, None)
}

#[derive(Debug)]
struct Row {
    action: String,
    reason: String,
    searched: bool,
    gate_ms: Option<i32>,
    confidence: Option<f32>,
}

async fn experience(db: &TestDb, event: &str) -> Row {
    let r: (String, String, bool, Option<i32>, Option<f32>) = sqlx::query_as(
        "SELECT gate_action, gate_reason, searched, gate_ms, confidence FROM experience
         WHERE message_event_id = $1",
    )
    .bind(event)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    Row {
        action: r.0,
        reason: r.1,
        searched: r.2,
        gate_ms: r.3,
        confidence: r.4,
    }
}

/// The whole prompt of the last conversation request: the system prompt, then the turn's
/// notes (memories, the gate's instruction, web sources) and the message.
fn answer_prompt(stub: &StubLlm) -> String {
    let reqs = stub.chat_requests();
    let last: &Value = reqs.last().expect("an answer was requested");
    last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn final_text(out: &RecordingOutbox) -> String {
    out.messages()
        .iter()
        .map(|(_, m)| m.markdown.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn set_profile(db: &TestDb, p: &BehaviourProfile) {
    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::query("INSERT INTO users (user_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(USER)
        .execute(&mut *conn)
        .await
        .unwrap();
    threeam::behaviour::store::save(&mut conn, USER, p, chrono::Utc::now())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_greeting_is_answered_by_rule_without_a_draft() {
    let stub = StubLlm::start().await;
    let r = rig(&stub, None).await;
    r.assistant
        .handle(message("$hi", "Good morning!"))
        .await
        .unwrap();
    assert_eq!(stub.chat_requests().len(), 1, "one generation, no draft");
    let row = experience(&r.db, "$hi").await;
    assert_eq!(row.action, "answer");
    assert!(row.reason.contains("small talk"), "{row:?}");
    assert!(!row.searched);
}

#[tokio::test]
async fn a_confident_draft_means_a_plain_answer_with_the_profile_in_the_prompt() {
    let stub = StubLlm::start().await;
    stub.push(Reply::text("Lyon is in France, on the Rhône.", -0.05));
    let r = rig(&stub, None).await;
    set_profile(
        &r.db,
        &BehaviourProfile {
            verbosity: 0.1,
            ..BehaviourProfile::default()
        },
    )
    .await;
    r.assistant
        .handle(message("$q", "Which country is Lyon in?"))
        .await
        .unwrap();

    let reqs = stub.chat_requests();
    assert_eq!(reqs.len(), 1, "the draft is the answer's own beginning");
    assert_eq!(reqs[0]["stream"], true);
    assert_eq!(reqs[0]["top_logprobs"], 5);
    let system = reqs[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(system.contains("very short"), "profile sentence: {system}");
    let prompt = answer_prompt(&stub);
    assert!(
        !prompt.contains("not sure"),
        "no hedge instruction: {prompt}"
    );
    assert_eq!(final_text(&r.out), "Lyon is in France, on the Rhône.");
    let row = experience(&r.db, "$q").await;
    assert_eq!(row.action, "answer");
    assert!(row.reason.contains("≥ search threshold"), "{row:?}");
    assert!(row.gate_ms.is_some() && row.confidence.is_some());
}

#[tokio::test]
async fn a_trusted_answer_is_one_generation_and_an_unsure_one_says_so_first() {
    let stub = StubLlm::start().await;
    stub.push(Reply::text("Canberra.", -0.01));
    let r = rig(&stub, None).await;
    r.assistant
        .handle(message("$c", "What is the capital of Australia?"))
        .await
        .unwrap();
    assert_eq!(stub.chat_requests().len(), 1, "no second generation");
    assert_eq!(final_text(&r.out), "Canberra.");
    let row = experience(&r.db, "$c").await;
    assert_eq!(row.action, "answer");
    assert!(row.confidence.unwrap() > 0.9, "{row:?}");

    // An unsure answer goes on in the same generation, after the bot's own hedge.
    stub.push(Reply::text("Ottawa.", -3.0));
    r.assistant
        .handle(message("$c2", "What is the capital of Canada?"))
        .await
        .unwrap();
    assert_eq!(stub.chat_requests().len(), 2, "one generation per turn");
    let last = r.out.messages().last().unwrap().1.markdown.clone();
    assert!(
        last.starts_with("🤔 *I'm not sure about this one.*"),
        "{last}"
    );
}

#[tokio::test]
async fn an_unsure_draft_searches_the_web_and_the_answer_cites_its_sources() {
    let stub = StubLlm::start().await;
    let web = WebFixture::start().await;
    // The answer's first tokens are unsure: the gate drops them and searches.
    stub.push(Reply::text("Barn owls live in", UNSURE));
    stub.push(Reply::text(
        "Barn owls live on every continent except Antarctica [1].",
        -0.1,
    ));
    let r = rig(&stub, Some(web.base())).await;
    set_profile(
        &r.db,
        &BehaviourProfile {
            unsure_action: UnsureAction::Search,
            ..BehaviourProfile::default()
        },
    )
    .await;
    r.assistant
        .handle(message("$owl", "On which continents do barn owls live?"))
        .await
        .unwrap();

    // The user saw the search first, then the answer in the same message.
    let sends: Vec<String> = r
        .out
        .all()
        .iter()
        .filter_map(|s| match s {
            Shown::Send { msg, .. } => Some(msg.markdown.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert!(
        sends[0].starts_with("🔎 Searching the web for"),
        "{sends:?}"
    );
    let text = final_text(&r.out);
    assert!(
        text.starts_with("Barn owls live on every continent"),
        "{text}"
    );
    assert!(text.contains("From a web search"), "{text}");
    assert!(text.contains(&web.url("/pages/owls")), "{text}");

    assert_eq!(
        stub.chat_requests().len(),
        2,
        "the draft, then the answer with sources"
    );
    let prompt = answer_prompt(&stub);
    assert!(
        prompt.contains("silent flight"),
        "page text in the prompt: {prompt}"
    );
    assert!(prompt.contains("cite them"), "{prompt}");
    assert!(web.seen().iter().any(|s| s.path == "/search"));
    let row = experience(&r.db, "$owl").await;
    assert_eq!(row.action, "search");
    assert!(row.searched);
}

#[tokio::test]
async fn an_explicit_request_searches_without_a_draft() {
    let stub = StubLlm::start().await;
    let web = WebFixture::start().await;
    let r = rig(&stub, Some(web.base())).await;
    r.assistant
        .handle(message("$s", "Please look up barn owls on the web"))
        .await
        .unwrap();
    assert_eq!(stub.chat_requests().len(), 1, "no draft: the rule decided");
    let q = web
        .seen()
        .into_iter()
        .find(|s| s.path == "/search")
        .expect("searched");
    assert!(
        q.query.contains("barn+owls") || q.query.contains("barn%20owls"),
        "{q:?}"
    );
    assert!(
        !q.query.contains("look"),
        "the request around the subject is dropped: {q:?}"
    );
    let row = experience(&r.db, "$s").await;
    assert_eq!((row.action.as_str(), row.searched), ("search", true));
}

#[tokio::test]
async fn with_the_web_disabled_it_never_searches_and_says_it_cannot() {
    let stub = StubLlm::start().await;
    let r = rig(&stub, None).await;
    r.assistant
        .handle(message(
            "$n",
            "What is the latest news about the Mars rover?",
        ))
        .await
        .unwrap();
    let row = experience(&r.db, "$n").await;
    assert_eq!(row.action, "answer");
    assert!(!row.searched);
    let prompt = answer_prompt(&stub);
    assert!(
        prompt.contains("cannot search the web right now"),
        "{prompt}"
    );
    let text = final_text(&r.out);
    assert!(!text.contains("Searching the web"), "{text}");
    assert!(
        text.starts_with("🌐 *I can't search the web here"),
        "the bot says so itself, whatever the model writes: {text}"
    );
}

#[tokio::test]
async fn a_search_server_that_is_down_gives_an_answer_that_says_so() {
    let stub = StubLlm::start().await;
    // A port nothing listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let r = rig(&stub, Some(dead)).await;
    r.assistant
        .handle(message("$d", "Search the web for barn owl facts"))
        .await
        .unwrap();
    let row = experience(&r.db, "$d").await;
    assert_eq!(row.action, "search");
    assert!(!row.searched);
    assert!(row.reason.contains("search failed"), "{row:?}");
    let prompt = answer_prompt(&stub);
    assert!(prompt.contains("cannot search the web"), "{prompt}");
    // The search notice was replaced by the answer.
    let text = final_text(&r.out);
    assert!(!text.contains("Searching the web"), "{text}");
    assert!(
        text.starts_with("🌐 *I couldn't get anything from the web search"),
        "{text}"
    );
    assert!(text.contains("stub model"), "{text}");
}

#[tokio::test]
async fn a_vague_request_gets_one_question_back_and_the_answer_to_it_is_not_questioned_again() {
    let stub = StubLlm::start().await;
    stub.push(Reply::text("What would you like me to do?", -0.1));
    let r = rig(&stub, None).await;
    r.assistant.handle(message("$v", "do that")).await.unwrap();
    let row = experience(&r.db, "$v").await;
    assert_eq!(row.action, "ask", "{row:?}");
    let prompt = answer_prompt(&stub);
    assert!(
        prompt.contains("exactly one short clarifying question"),
        "{prompt}"
    );
    let ask_req = stub.chat_requests().last().unwrap().clone();
    assert!(ask_req["max_tokens"].as_u64().unwrap() <= 200);

    // The reply to the question is short and vague too, but it is an answer: no second ask.
    stub.push(Reply::text("I", -4.0));
    r.assistant.handle(message("$v2", "do it")).await.unwrap();
    let row = experience(&r.db, "$v2").await;
    assert_ne!(row.action, "ask", "{row:?}");
}

#[tokio::test]
async fn a_dead_model_server_at_the_start_keeps_the_message_queued() {
    let stub = StubLlm::start().await;
    stub.push(Reply::Error {
        status: 503,
        message: "Loading model".into(),
    });
    stub.push(Reply::Error {
        status: 503,
        message: "Loading model".into(),
    });
    let r = rig(&stub, None).await;
    r.assistant
        .handle(message("$x", "Which country is Lyon in?"))
        .await
        .unwrap();
    let state: String =
        sqlx::query_scalar("SELECT reply_state FROM messages WHERE event_id = '$x'")
            .fetch_one(&r.db.pool)
            .await
            .unwrap();
    assert_eq!(state, "failed");
    assert!(final_text(&r.out).contains("isn't answering"));
    // Back: the queued message is answered.
    assert_eq!(r.assistant.retry_pending().await.unwrap(), 1);
    assert_eq!(experience(&r.db, "$x").await.action, "answer");
}
