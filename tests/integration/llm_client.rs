//! The LLM client against the scripted llama-server stub: wire format, streaming, logprobs,
//! structured output, embeddings, discovery, and every failure mode a real server shows.

use std::time::{Duration, Instant};

use crate::common::stub_llm::{EMBED_DIM, Reply, STUB_MODEL, StubLlm};
use futures::StreamExt;
use threeam::config::LlmConfig;
use threeam::llm::{
    Backoff, ChatMessage, ChatRequest, LlmClient, LlmError, ServerKind, StreamEvent,
};

fn config(chat: &str, embed: &str) -> LlmConfig {
    LlmConfig {
        chat_url: chat.into(),
        embedding_url: embed.into(),
        request_timeout_secs: 5,
        embedding_batch: 2,
        ..Default::default()
    }
}

fn client(stub: &StubLlm) -> LlmClient {
    LlmClient::new(&config(&stub.url(), &stub.url()))
        .unwrap()
        .with_backoff(Backoff {
            max_retries: 2,
            first: Duration::from_millis(20),
            max: Duration::from_millis(50),
        })
}

fn ask(text: &str) -> ChatRequest {
    let mut req = ChatRequest::new(vec![
        ChatMessage::system("You are terse."),
        ChatMessage::user(text),
    ]);
    req.top_logprobs = 3;
    req
}

#[tokio::test]
async fn whole_completion_with_logprobs() {
    let stub = StubLlm::start().await;
    stub.push(Reply::Tokens {
        tokens: vec![("Hello".into(), -0.1), (" there".into(), -1.5)],
        finish: "stop",
    });
    let c = client(&stub);
    let resp = c.chat(&ask("hi")).await.unwrap();
    assert_eq!(resp.content, "Hello there");
    assert_eq!(resp.finish_reason.as_deref(), Some("stop"));
    assert_eq!(resp.logprobs.len(), 2);
    assert!((resp.logprobs[1].logprob + 1.5).abs() < 1e-9);
    assert_eq!(resp.logprobs[0].top_logprobs.len(), 3);
    let sent = &stub.chat_requests()[0];
    assert_eq!(
        sent["model"], STUB_MODEL,
        "auto model resolved from /v1/models"
    );
    assert_eq!(sent["logprobs"], true);
    assert_eq!(sent["top_logprobs"], 3);
    assert_eq!(sent["stream"], false);
    assert_eq!(sent["messages"][0]["role"], "system");
}

#[tokio::test]
async fn streamed_completion_arrives_in_pieces_with_logprobs() {
    let stub = StubLlm::start().await;
    stub.push(Reply::text("One two three four", -0.2));
    let c = client(&stub);
    let mut stream = Box::pin(c.chat_stream(&ask("count")).await.unwrap());
    let mut text = String::new();
    let mut deltas = 0;
    let mut logprobs = 0;
    let mut done = None;
    while let Some(ev) = stream.next().await {
        match ev.unwrap() {
            StreamEvent::Delta {
                text: t,
                logprobs: l,
            } => {
                deltas += 1;
                logprobs += l.len();
                text.push_str(&t);
            }
            StreamEvent::Done {
                finish_reason,
                usage,
            } => done = Some((finish_reason, usage)),
        }
    }
    assert_eq!(text, "One two three four");
    assert_eq!(deltas, 4);
    assert_eq!(logprobs, 4);
    let (finish, usage) = done.expect("a Done event");
    assert_eq!(finish.as_deref(), Some("stop"));
    assert_eq!(usage.unwrap().completion_tokens, 4);
    assert_eq!(stub.chat_requests()[0]["stream"], true);
}

#[tokio::test]
async fn stream_cut_midway_is_an_error_not_a_short_answer() {
    let stub = StubLlm::start().await;
    stub.push(Reply::CutAfter {
        tokens: vec![("a".into(), -0.1), (" b".into(), -0.1), (" c".into(), -0.1)],
        after: 2,
    });
    let c = client(&stub);
    let events: Vec<_> = c.chat_stream(&ask("x")).await.unwrap().collect().await;
    assert!(events.iter().any(|e| e.is_err()), "{events:?}");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Ok(StreamEvent::Done { .. })))
    );
}

#[tokio::test]
async fn json_schema_is_sent_and_output_decoded() {
    #[derive(serde::Deserialize, Debug)]
    struct Facts {
        facts: Vec<String>,
    }
    let stub = StubLlm::start().await;
    stub.push_structured(Reply::json(
        &serde_json::json!({"facts": ["lives in Lyon"]}),
    ));
    let c = client(&stub);
    let schema = serde_json::json!({"type": "object", "properties": {"facts": {"type": "array", "items": {"type": "string"}}}, "required": ["facts"]});
    let out: Facts = c
        .chat_json(
            vec![ChatMessage::user("extract")],
            "facts",
            schema.clone(),
            200,
        )
        .await
        .unwrap();
    assert_eq!(out.facts, vec!["lives in Lyon"]);
    let sent = &stub.structured_requests()[0];
    assert_eq!(sent["response_format"]["type"], "json_schema");
    assert_eq!(sent["response_format"]["json_schema"]["schema"], schema);

    stub.push_structured(Reply::text("Sure! The facts are: Lyon.", -0.3));
    let err = c
        .chat_json::<Facts>(vec![ChatMessage::user("extract")], "facts", schema, 200)
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::MalformedOutput { .. }), "{err}");
}

#[tokio::test]
async fn embeddings_are_batched_ordered_and_checked() {
    let stub = StubLlm::start().await;
    let c = client(&stub);
    let texts: Vec<String> = [
        "cats purr",
        "dogs bark",
        "cats sleep",
        "stocks fell",
        "cats purr",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let v = c.embed(&texts).await.unwrap();
    assert_eq!(v.len(), 5);
    assert!(v.iter().all(|e| e.len() == EMBED_DIM));
    assert_eq!(v[0], v[4], "same text, same vector, same position");
    let embed_calls = stub
        .requests()
        .iter()
        .filter(|(p, _)| p == "/v1/embeddings")
        .count();
    assert_eq!(embed_calls, 3, "5 texts in batches of 2");

    stub.set_embed_dim(768);
    let err = c.embed_one("x").await.unwrap_err();
    assert!(
        matches!(
            err,
            LlmError::EmbeddingDim {
                got: 768,
                want: 384,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn loading_server_is_retried_until_ready() {
    let stub = StubLlm::start().await;
    stub.push(Reply::Error {
        status: 503,
        message: "Loading model".into(),
    });
    stub.push(Reply::Error {
        status: 503,
        message: "Loading model".into(),
    });
    stub.push(Reply::text("ready", -0.1));
    let c = client(&stub);
    let resp = c.chat(&ask("hi")).await.unwrap();
    assert_eq!(resp.content, "ready");
    assert_eq!(stub.chat_requests().len(), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_quote_the_server() {
    let stub = StubLlm::start().await;
    stub.push(Reply::Error {
        status: 400,
        message: "the request exceeds the available context size".into(),
    });
    let c = client(&stub);
    let err = c.chat(&ask("hi")).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("chat model server")
            && text.contains("HTTP 400")
            && text.contains("context size"),
        "{text}"
    );
    assert!(!err.is_transient());
    assert_eq!(stub.chat_requests().len(), 1);
}

#[tokio::test]
async fn dead_server_error_names_it_after_retrying() {
    // A port nobody listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut cfg = config(&url, &url);
    cfg.chat_model = "qwen".into();
    let c = LlmClient::new(&cfg).unwrap().with_backoff(Backoff {
        max_retries: 2,
        first: Duration::from_millis(10),
        max: Duration::from_millis(10),
    });
    let err = c.chat(&ask("hi")).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, LlmError::Unreachable { attempts: 3, .. }),
        "{text}"
    );
    assert!(
        text.contains("chat model server") && text.contains(&url),
        "{text}"
    );
    assert!(err.is_transient());
    let err = c.embed_one("x").await.unwrap_err().to_string();
    assert!(err.contains("embedding server"), "{err}");
}

#[tokio::test]
async fn slow_server_times_out_with_a_clear_error() {
    let stub = StubLlm::start().await;
    stub.push(Reply::Delay(Duration::from_secs(3)));
    let mut cfg = config(&stub.url(), &stub.url());
    cfg.request_timeout_secs = 1;
    let c = LlmClient::new(&cfg).unwrap();
    let started = Instant::now();
    let err = c.chat(&ask("hi")).await.unwrap_err();
    assert!(matches!(err, LlmError::Timeout { seconds: 1, .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn slow_stream_still_delivers_every_token() {
    let stub = StubLlm::start().await;
    stub.set_token_delay(Duration::from_millis(30));
    stub.push(Reply::text("slow but sure", -0.1));
    let c = client(&stub);
    let events: Vec<_> = c.chat_stream(&ask("x")).await.unwrap().collect().await;
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            Ok(StreamEvent::Delta { text, .. }) => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "slow but sure");
}

#[tokio::test]
async fn model_discovery_and_explicit_model() {
    let stub = StubLlm::start().await;
    let c = client(&stub);
    assert_eq!(
        c.list_models(ServerKind::Chat).await.unwrap(),
        vec![STUB_MODEL.to_string()]
    );
    assert_eq!(c.model(ServerKind::Embedding).await.unwrap(), STUB_MODEL);
    let mut cfg = config(&stub.url(), &stub.url());
    cfg.chat_model = "my-model".into();
    let c = LlmClient::new(&cfg).unwrap();
    c.chat(&ask("hi")).await.unwrap();
    assert_eq!(stub.chat_requests()[0]["model"], "my-model");
}
