//! Realtime extraction: the constrained request, clamping of what comes back, the combined
//! extract-and-store step with its redelivery short-cut, and one call to the real model to
//! prove llama-server accepts the schema.

mod common;
#[path = "common/memory_fixtures.rs"]
mod fixtures;

use chrono::{TimeZone, Utc};
use common::db::TestDb;
use common::stack_env;
use common::stub_llm::{Reply, StubLlm};
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
        {"text": "The user moved to Lyon in March 2025.", "category": "identity", "priority": 9}
    ]})));
    let llm = fixtures::client(&stub.url());
    let facts = extract_realtime(
        &llm,
        "Hi! I'm Ada, I just moved to Lyon.",
        "Welcome, Ada!",
        now(),
    )
    .await
    .unwrap();
    let texts: Vec<&str> = facts.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "The user is called Ada.",
            "The user moved to Lyon in March 2025."
        ]
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
    assert!(
        body["messages"][5]["content"]
            .as_str()
            .unwrap()
            .contains("I'm Ada")
    );
}

#[tokio::test]
async fn output_that_is_not_json_is_an_error_not_a_panic() {
    let stub = StubLlm::start().await;
    stub.push_structured(Reply::text("Sure! The user is Ada.", -0.1));
    stub.push_structured(Reply::json(&json!({"unexpected": true})));
    let llm = fixtures::client(&stub.url());
    let err = extract_realtime(&llm, "I'm Ada", "Hi", now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, MemoryError::Llm(LlmError::MalformedOutput { .. })),
        "{err}"
    );
    assert!(
        extract_realtime(&llm, "I'm Ada", "Hi", now())
            .await
            .unwrap()
            .is_empty()
    );
    // An empty message is not worth a model call.
    assert!(
        extract_realtime(&llm, "  ", "Hi", now())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(stub.structured_requests().len(), 2);
}

#[tokio::test]
async fn learning_from_an_exchange_stores_with_sources_once() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = fixtures::client(&stub.url());
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
        "Lyon is lovely!",
        &sources,
        now(),
    )
    .await
    .unwrap();
    assert_eq!(out.len(), 2);
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
        "Lyon is lovely!",
        &sources,
        now(),
    )
    .await
    .unwrap();
    assert!(again.is_empty());
    assert_eq!(stub.structured_requests().len(), 1);
    assert_eq!(live_count(&db.pool, ADA).await.unwrap(), 2);

    // A new exchange saying the same thing again merges into the fact it repeats.
    stub.push_structured(Reply::json(&json!({"facts": [
        {"text": "The user has a dog named Rex.", "category": "relationship", "priority": 4}
    ]})));
    let out = learn_from_exchange(
        &db.pool,
        &llm,
        ADA,
        "Rex says hi",
        "Hi Rex",
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

/// A small model turns the assistant's answer into "facts about the user"; a name the user
/// never wrote is not kept, while the rest of the exchange's facts are.
#[tokio::test]
async fn a_name_only_the_assistant_said_is_not_a_fact_about_the_user() {
    let (db, stub) = (TestDb::migrated().await, StubLlm::start().await);
    let llm = fixtures::client(&stub.url());
    stub.push_structured(Reply::json(&json!({"facts": [
        {"text": "The user's name is John Smith.", "category": "identity", "priority": 5},
        {"text": "The user is curious about New Zealand politics.", "category": "preference", "priority": 3}
    ]})));
    let out = learn_from_exchange(
        &db.pool,
        &llm,
        ADA,
        "Who was the 14th prime minister of New Zealand?",
        "It was John Smith.",
        &["$q".to_owned(), "$a".to_owned()],
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
        "Nice to meet you, Ada! I'll keep your peanut allergy in mind.",
        now(),
    )
    .await
    .expect("llama-server accepts the schema and answers valid JSON");
    assert!(facts.len() <= 5);
    for f in &facts {
        assert!(f.normalized().is_ok() && f.priority >= 3, "{f:?}");
    }
    eprintln!("real model extracted: {facts:#?}");
}
