//! Against the real llama-servers of the stack: a chat completion with token logprobs from
//! SmolLM2-135M, and MiniLM embeddings whose geometry makes sense.

use crate::common::stack_env;
use futures::StreamExt;
use threeam::config::LlmConfig;
use threeam::llm::{ChatMessage, ChatRequest, LlmClient, StreamEvent};

fn client() -> LlmClient {
    LlmClient::new(&LlmConfig {
        chat_url: stack_env("THREEAM_TEST_SMOL_URL"),
        embedding_url: stack_env("THREEAM_LLM_EMBEDDING_URL"),
        request_timeout_secs: 120,
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test]
async fn real_chat_completion_returns_logprobs_and_streams() {
    let c = client();
    let mut req = ChatRequest::new(vec![ChatMessage::user(
        "What is the capital of France? Answer in one word.",
    )]);
    req.max_tokens = Some(12);
    req.temperature = Some(0.0);
    req.top_logprobs = 5;
    let resp = c.chat(&req).await.unwrap();
    assert!(!resp.content.trim().is_empty());
    assert!(!resp.logprobs.is_empty());
    assert!(
        resp.logprobs
            .iter()
            .all(|t| t.logprob <= 0.0 && !t.top_logprobs.is_empty())
    );
    let conf = threeam::confidence::from_logprobs(&resp.logprobs).unwrap();
    assert!((0.0..=1.0).contains(&conf.score));

    let mut stream = Box::pin(c.chat_stream(&req).await.unwrap());
    let mut text = String::new();
    let mut done = false;
    while let Some(ev) = stream.next().await {
        match ev.unwrap() {
            StreamEvent::Delta { text: t, .. } => text.push_str(&t),
            StreamEvent::Done { .. } => done = true,
        }
    }
    assert!(done);
    assert_eq!(
        text, resp.content,
        "temperature 0: streamed and whole answers agree"
    );

    #[derive(serde::Deserialize)]
    struct City {
        city: String,
    }
    let schema = serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    let city: City = c
        .chat_json(
            vec![ChatMessage::user("Name a city in France as JSON.")],
            "city",
            schema,
            40,
        )
        .await
        .unwrap();
    assert!(!city.city.is_empty());
}

#[tokio::test]
async fn real_embeddings_are_384_d_normalised_and_meaningful() {
    let c = client();
    let texts: Vec<String> = [
        "I moved to Lyon last spring.",
        "My new home is in Lyon, France.",
        "The stock market fell sharply today.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let v = c.embed(&texts).await.unwrap();
    assert!(v.iter().all(|e| e.len() == 384));
    for e in &v {
        let norm: f32 = e.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "{norm}");
    }
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(
        cos(&v[0], &v[1]) > cos(&v[0], &v[2]) + 0.2,
        "related {} vs unrelated {}",
        cos(&v[0], &v[1]),
        cos(&v[0], &v[2])
    );
}

/// A whole chat turn on the real small model: the gate's draft goes over llama-server's real
/// wire format, its logprobs give a confidence, and the experience row tells what happened.
#[tokio::test]
async fn real_turn_with_the_gate_records_its_decision_and_confidence() {
    use std::sync::Arc;
    use threeam::assistant::{Assistant, Incoming, Timing};
    use threeam::chat::IncomingMessage;

    let db = crate::common::db::TestDb::migrated().await;
    let mut cfg = threeam::config::Config::default();
    cfg.database.url = db.url.clone();
    cfg.llm.chat_url = stack_env("THREEAM_TEST_SMOL_URL");
    cfg.llm.embedding_url = stack_env("THREEAM_LLM_EMBEDDING_URL");
    cfg.llm.context_tokens = 2048;
    let llm = LlmClient::new(&cfg.llm).unwrap();
    let out = Arc::new(crate::common::outbox::RecordingOutbox::default());
    let a = Assistant::new(
        db.pool.clone(),
        Arc::new(llm),
        Arc::new(cfg),
        out.clone(),
        Timing::default(),
    );
    for (event, body) in [
        ("$q", "What is the capital of France?"),
        ("$n", "What is the latest news about the Mars rover?"),
    ] {
        a.handle(Incoming::Message(IncomingMessage {
            event_id: event.into(),
            room_id: "!live:localhost".into(),
            sender: "@live:localhost".into(),
            body: body.into(),
            thread_root: None,
            in_reply_to: None,
            sent_at: chrono::Utc::now(),
            encrypted: true,
        }))
        .await
        .unwrap();
    }
    type Row = (String, String, String, Option<f32>, Option<i32>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT message_event_id, gate_action, gate_reason, confidence, gate_ms FROM experience
         ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (_, action, reason, conf, gate_ms) = &rows[0];
    assert!(reason.contains("confidence"), "the draft decided: {reason}");
    assert_ne!(action, "search", "the web is off");
    assert!(conf.is_some_and(|c| (0.0..=1.0).contains(&c)));
    assert!(gate_ms.is_some());
    let (_, action, reason, _, _) = &rows[1];
    assert_eq!(action, "answer");
    assert!(reason.contains("web access is disabled"), "{reason}");
    assert_eq!(out.messages().len(), 2);
}
