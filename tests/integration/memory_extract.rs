//! Realtime extraction: the constrained request, clamping and grounding of what comes back,
//! the combined extract-and-store step with its redelivery short-cut, and one call to the real
//! model to prove llama-server accepts the schema.

use crate::common::db::TestDb;
use crate::common::stack_env;
use crate::common::stub_llm::{Reply, StubLlm};
use chrono::{TimeZone, Utc};
use serde_json::json;
use threeam::config::LlmConfig;
use threeam::llm::{LlmClient, LlmError};
use threeam::memory::{
    Category, MemoryError, StoreOutcome, extract_realtime, get_fact, learn_from_exchange,
    live_count,
};

const ADA: &str = "@ada:localhost";

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 9, 30, 0).unwrap()
}

#[tokio::test]
async fn extraction_sends_one_constrained_request_and_clamps_the_answer() {
    let stub = StubLlm::start().await;
    stub.push_structured(Reply::json(&json!({"facts": [
        {"text": "The user is called Ada.", "category": "identity", "priority": 5},
        {"text": "The user is called Ada.", "category": "identity", "priority": 5},
        {"text": "The user said good morning.", "category": "other", "priority": 1},
        {"text": "The user just moved to Lyon.", "category": "identity", "priority": 9},
        {"text": "The user moved to Lyon in March 2024.", "category": "identity", "priority": 5}
    ]})));
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let facts = extract_realtime(&llm, "Hi! I'm Ada, I just moved to Lyon.", now())
        .await
        .unwrap();
    let texts: Vec<&str> = facts.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(
        texts,
        vec!["The user is called Ada.", "The user just moved to Lyon."],
        "a repeat, a trifle and a date the user never wrote are dropped"
    );
    assert_eq!(facts[1].priority, 5);
    assert!(
        facts
            .iter()
            .all(|f| f.observed_at == Some(now()) && f.source_event_ids.is_empty())
    );

    let reqs = stub.structured_requests();
    assert_eq!(reqs.len(), 1);
    let body = &reqs[0];
    assert_eq!(body["response_format"]["type"], "json_schema");
    let schema = &body["response_format"]["json_schema"]["schema"];
    assert_eq!(
        schema["properties"]["facts"]["items"]["properties"]["category"]["enum"]
            .as_array()
            .unwrap()
            .len(),
        Category::ALL.len()
    );
    assert_eq!(body["temperature"], 0.0);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(
        messages.last().unwrap()["content"],
        "Message: Hi! I'm Ada, I just moved to Lyon.",
        "the model sees the user's message alone, not the assistant's reply"
    );
}

#[tokio::test]
async fn output_that_is_not_json_is_an_error_not_a_panic() {
    let stub = StubLlm::start().await;
    stub.push_structured(Reply::text("Sure! The user is Ada.", -0.1));
    stub.push_structured(Reply::json(&json!({"unexpected": true})));
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let err = extract_realtime(&llm, "I'm Ada", now()).await.unwrap_err();
    assert!(
        matches!(err, MemoryError::Llm(LlmError::MalformedOutput { .. })),
        "{err}"
    );
    assert!(
        extract_realtime(&llm, "I'm Ada", now())
            .await
            .unwrap()
            .is_empty()
    );
    // An empty message, or one that only asks or greets, is not worth a model call.
    for m in ["  ", "What is my dog called?", "good morning!"] {
        assert!(extract_realtime(&llm, m, now()).await.unwrap().is_empty());
    }
    assert_eq!(stub.structured_requests().len(), 2);
}

#[tokio::test]
async fn learning_from_an_exchange_stores_with_sources_once() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    stub.push_structured(Reply::json(&json!({"facts": [
        {"text": "The user lives in Lyon.", "category": "identity", "priority": 5},
        {"text": "The user has a dog named Rex.", "category": "relationship", "priority": 4}
    ]})));
    let sources = vec!["$msg1".to_owned(), "$reply1".to_owned()];
    let out = learn_from_exchange(
        &db.pool,
        &llm,
        ADA,
        "I live in Lyon with my dog Rex.",
        &sources,
        now(),
    )
    .await
    .unwrap();
    // The model's two facts, and the dog's name read from the introduction itself.
    assert_eq!(out.len(), 3, "{out:?}");
    let f = get_fact(&db.pool, ADA, out[0].fact_id().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.source_event_ids, sources);
    assert_eq!(f.created_at, now(), "stored at the time of the exchange");

    // Redelivered: no model call at all, nothing stored.
    let again = learn_from_exchange(
        &db.pool,
        &llm,
        ADA,
        "I live in Lyon with my dog Rex.",
        &sources,
        now(),
    )
    .await
    .unwrap();
    assert!(again.is_empty());
    assert_eq!(stub.structured_requests().len(), 1);
    assert_eq!(live_count(&db.pool, ADA).await.unwrap(), 3);

    // A new exchange saying the same thing again merges into the fact it repeats.
    stub.push_structured(Reply::json(&json!({"facts": [
        {"text": "The user has a dog named Rex.", "category": "relationship", "priority": 4}
    ]})));
    let out = learn_from_exchange(
        &db.pool,
        &llm,
        ADA,
        "Rex, my dog, says hi",
        &["$msg2".into()],
        now(),
    )
    .await
    .unwrap();
    let dog = get_fact(&db.pool, ADA, out[0].fact_id().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(out[..], [StoreOutcome::Merged { .. }]), "{out:?}");
    assert_eq!(dog.source_event_ids, vec!["$msg1", "$reply1", "$msg2"]);
}

/// A small model turns the assistant's answer or its own examples into "facts about the
/// user"; a question alone is not even asked about, and of a statement's facts only those the
/// user wrote are kept.
#[tokio::test]
async fn only_what_the_user_wrote_becomes_a_fact() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = crate::common::memory_fixtures::client(&stub.url());
    let out = learn_from_exchange(
        &db.pool,
        &llm,
        ADA,
        "Who was the 14th prime minister of New Zealand?",
        &["$q".to_owned(), "$a".to_owned()],
        now(),
    )
    .await
    .unwrap();
    assert!(out.is_empty());
    assert!(
        stub.structured_requests().is_empty(),
        "no model call for a question"
    );

    stub.push_structured(Reply::json(&json!({"facts": [
        {"text": "The user's name is John Smith.", "category": "identity", "priority": 5},
        {"text": "The user's name is Zoltan.", "category": "identity", "priority": 5},
        {"text": "The user is curious about New Zealand politics.", "category": "preference", "priority": 3}
    ]})));
    let out = learn_from_exchange(
        &db.pool,
        &llm,
        ADA,
        "I'm curious about New Zealand politics. Who was the 14th prime minister?",
        &["$q2".to_owned(), "$a2".to_owned()],
        now(),
    )
    .await
    .unwrap();
    assert_eq!(out.len(), 1, "{out:?}");
    let kept = get_fact(&db.pool, ADA, out[0].fact_id().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(kept.text.contains("New Zealand"), "{}", kept.text);
}

/// The real chat server (Qwen2.5-Coder-0.5B on the stack) must accept the schema's grammar
/// and answer with something the clamp turns into valid facts (possibly none: it is small).
#[tokio::test]
async fn the_real_model_accepts_the_schema() {
    let llm = LlmClient::new(&LlmConfig {
        chat_url: stack_env("THREEAM_LLM_CHAT_URL"),
        embedding_url: stack_env("THREEAM_LLM_EMBEDDING_URL"),
        request_timeout_secs: 120,
        ..Default::default()
    })
    .unwrap();
    let facts = extract_realtime(
        &llm,
        "Hi, I'm Ada. I work as a nurse in Lyon and I'm allergic to peanuts.",
        now(),
    )
    .await
    .expect("llama-server accepts the schema and answers valid JSON");
    assert!(facts.len() <= threeam::memory::extract::MAX_EXTRACTED);
    for f in &facts {
        assert!(f.normalized().is_ok() && f.priority >= 3, "{f:?}");
    }
    eprintln!("real model extracted: {facts:#?}");
}
