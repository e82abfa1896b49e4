//! The decision gate on scripted llama-server responses: the answer is streamed from the stub
//! with token logprobs, its first tokens (the draft) become a confidence, and the gate
//! decides. Also shows the gate's cost: cheap rules need no draft at all.

use std::time::Duration;

use crate::common::stub_llm::{Reply, StubLlm};
use futures::StreamExt;
use threeam::behaviour::BehaviourProfile;
use threeam::confidence::{self, Confidence};
use threeam::config::LlmConfig;
use threeam::gate::UnsureAction;
use threeam::gate::{self, GateAction, GateDecision, GateInput, Hedge, MemoryCoverage};
use threeam::llm::{Backoff, ChatMessage, ChatRequest, LlmClient, StreamEvent};

fn client(stub: &StubLlm) -> LlmClient {
    LlmClient::new(&LlmConfig {
        chat_url: stub.url(),
        embedding_url: stub.url(),
        request_timeout_secs: 5,
        ..Default::default()
    })
    .unwrap()
    .with_backoff(Backoff {
        max_retries: 1,
        first: Duration::from_millis(10),
        max: Duration::from_millis(20),
    })
}

/// What a turn does: cheap rules, else the answer's first tokens and the draft-based decision.
async fn gate_turn(
    llm: &LlmClient,
    message: &str,
    memory: MemoryCoverage,
    web_enabled: bool,
    profile: &BehaviourProfile,
) -> (GateDecision, Option<Confidence>) {
    let mut input = GateInput {
        message,
        memory,
        draft: None,
        web_enabled,
        clarified: false,
        follows_conversation: false,
    };
    if let Some(decision) = gate::precheck(&input) {
        return (decision, None);
    }
    let prompt = vec![
        ChatMessage::system("You are 3AM, a personal assistant."),
        ChatMessage::user(message),
    ];
    let mut req = ChatRequest::new(prompt);
    req.top_logprobs = gate::DRAFT_TOP_LOGPROBS;
    let mut stream = Box::pin(llm.chat_stream(&req).await.unwrap());
    let mut draft = Vec::new();
    while let Some(ev) = stream.next().await {
        match ev.unwrap() {
            StreamEvent::Delta { logprobs, .. } => draft.extend(logprobs),
            StreamEvent::Done { .. } => break,
        }
        if draft.len() >= gate::DRAFT_TOKENS {
            break;
        }
    }
    input.draft = confidence::from_logprobs(&draft[..draft.len().min(gate::DRAFT_TOKENS)]);
    (gate::decide(&input, &profile.gate_policy()), input.draft)
}

fn searching() -> BehaviourProfile {
    BehaviourProfile {
        unsure_action: UnsureAction::Search,
        ..BehaviourProfile::default()
    }
}

const QUESTION: &str = "Who wrote the novel Dune, and when was it first published?";

#[tokio::test]
async fn a_confident_draft_is_answered() {
    let stub = StubLlm::start().await;
    stub.push(Reply::text(
        "Frank Herbert wrote Dune; it was first published in 1965.",
        -0.02,
    ));
    let llm = client(&stub);
    let (d, conf) = gate_turn(&llm, QUESTION, MemoryCoverage::NONE, true, &searching()).await;
    let conf = conf.expect("the stub sends logprobs");
    assert!(conf.score > 0.9, "{conf:?}");
    assert_eq!(
        (d.action, d.hedge, d.rule),
        (GateAction::Answer, None, None)
    );
    assert!(d.reason.contains("draft confidence"), "{}", d.reason);

    // The answer on the wire: streamed, with 5 alternatives per token for the draft.
    let sent = stub.chat_requests();
    assert_eq!(sent.len(), 1, "one generation");
    let body = &sent[0];
    assert_eq!(body["stream"], true);
    assert_eq!(body["logprobs"], true);
    assert_eq!(body["top_logprobs"], 5);
    assert_eq!(body["messages"][1]["content"], QUESTION);
}

#[tokio::test]
async fn an_unsure_draft_searches_or_hedges() {
    let stub = StubLlm::start().await;
    let llm = client(&stub);
    // -1.0 per token with the stub's spread of alternatives: unsure, above the ask threshold.
    let unsure = "It was written by Brian Herbert in 1971.";

    stub.push(Reply::text(unsure, -1.0));
    let (d, conf) = gate_turn(&llm, QUESTION, MemoryCoverage::NONE, true, &searching()).await;
    let score = conf.unwrap().score;
    assert!((0.25..0.45).contains(&score), "{score}");
    assert_eq!(d.action, GateAction::Search, "{}", d.reason);
    assert_eq!(d.knowledge, Some(score));

    stub.push(Reply::text(unsure, -1.0));
    let (d, _) = gate_turn(&llm, QUESTION, MemoryCoverage::NONE, false, &searching()).await;
    assert_eq!(
        (d.action, d.hedge),
        (GateAction::Answer, Some(Hedge::WebUnavailable))
    );
    assert!(
        gate::instruction(&d)
            .unwrap()
            .contains("cannot search the web")
    );

    stub.push(Reply::text(unsure, -1.0));
    let (d, _) = gate_turn(
        &llm,
        QUESTION,
        MemoryCoverage::NONE,
        true,
        &BehaviourProfile::default(),
    )
    .await;
    assert_eq!(
        (d.action, d.hedge),
        (GateAction::Answer, Some(Hedge::Unsure))
    );
}

#[tokio::test]
async fn memory_support_turns_an_unsure_draft_into_an_answer() {
    let stub = StubLlm::start().await;
    let llm = client(&stub);
    stub.push(Reply::text(
        "Your sister Mia's birthday is on 12 May.",
        -1.0,
    ));
    let memory = MemoryCoverage::from_scores([0.92, 0.4]);
    let (d, conf) = gate_turn(
        &llm,
        "When is my sister's birthday again?",
        memory,
        true,
        &searching(),
    )
    .await;
    let score = conf.unwrap().score;
    assert!(score < 0.45, "the draft alone is unsure: {score}");
    assert_eq!(
        (d.action, d.hedge),
        (GateAction::Answer, None),
        "{}",
        d.reason
    );
}

#[tokio::test]
async fn a_lost_draft_on_an_unclear_request_asks() {
    let stub = StubLlm::start().await;
    let llm = client(&stub);
    stub.push(Reply::text("You could try restarting it or", -2.5));
    let (d, conf) = gate_turn(
        &llm,
        "how do I fix this",
        MemoryCoverage::NONE,
        true,
        &searching(),
    )
    .await;
    assert!(conf.unwrap().score < 0.25);
    assert_eq!(d.action, GateAction::Ask, "{}", d.reason);
    assert!(gate::instruction(&d).unwrap().contains("exactly one"));

    // The same lost draft for a specific question: search instead of asking it back.
    stub.push(Reply::text("You could try restarting it or", -2.5));
    let (d, _) = gate_turn(
        &llm,
        "how do I fix error E0502 in Rust",
        MemoryCoverage::NONE,
        true,
        &searching(),
    )
    .await;
    assert_eq!(d.action, GateAction::Search, "{}", d.reason);
}

#[tokio::test]
async fn cheap_rules_cost_no_model_call() {
    let stub = StubLlm::start().await;
    let llm = client(&stub);
    let p = searching();
    for (message, action, rule) in [
        ("thanks, that helped!", GateAction::Answer, "small_talk"),
        ("good morning", GateAction::Answer, "small_talk"),
        (
            "look up the opening hours of the Louvre",
            GateAction::Search,
            "explicit_search",
        ),
        (
            "what's the weather in Oslo tomorrow?",
            GateAction::Search,
            "explicit_search",
        ),
        ("what about it?", GateAction::Ask, "vague"),
    ] {
        let (d, conf) = gate_turn(&llm, message, MemoryCoverage::NONE, true, &p).await;
        assert_eq!((d.action, d.rule), (action, Some(rule)), "{message}");
        assert!(conf.is_none());
    }
    assert!(stub.chat_requests().is_empty(), "no draft was generated");
}
