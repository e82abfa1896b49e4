//! Against the real llama-servers of the stack: a chat completion with token logprobs from
//! SmolLM2-135M, and MiniLM embeddings whose geometry makes sense.

mod common;

use common::stack_env;
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
