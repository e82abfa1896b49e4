//! `threeam bench turn`: the bot's own overhead per chat turn, from the moment an event
//! reaches the core to the answer's request arriving at the model server (the scripted
//! llama-server of [`super::stub_llm`], which answers at once, so the model's own time is
//! excluded). The turn runs the real pipeline on a real PostgreSQL:
//! store the message, claim it, read the conversation and the profile, the gate's draft round
//! trip (answered at once here), build the prompt, open the stream. The
//! baseline, measured in the same run, is a bare HTTP request of the same size to the same
//! endpoint: the part of the overhead no code of ours can remove.
//!
//! Matrix sync and decryption happen before the event reaches the core and are not included.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;

use super::stub_llm::{Reply, StubLlm};
use crate::assistant::{Assistant, Incoming, Timing};
use crate::chat::{IncomingMessage, OutMessage, Outbox, OutboxError};
use crate::config::Config;
use crate::llm::LlmClient;

/// Sends nowhere, at once: the chat layer's cost is not what is measured here.
struct NullOutbox(Mutex<u64>);

#[async_trait]
impl Outbox for NullOutbox {
    async fn send(&self, _: &str, _: &OutMessage) -> Result<String, OutboxError> {
        let mut n = self.0.lock().unwrap();
        *n += 1;
        Ok(format!("$bench{n}"))
    }
    async fn edit(&self, _: &str, _: &str, _: &OutMessage) -> Result<(), OutboxError> {
        Ok(())
    }
    async fn react(&self, _: &str, _: &str, _: &str) -> Result<String, OutboxError> {
        Ok("$r".into())
    }
    async fn upload(&self, _: &str, _: &str, _: &str, _: Vec<u8>) -> Result<String, OutboxError> {
        Ok("$u".into())
    }
    async fn typing(&self, _: &str, _: bool) {}
}

pub async fn run(cfg: &Config, turns: usize) -> anyhow::Result<()> {
    cfg.validate_database()?;
    let db = super::TempDatabase::create(&cfg.database.url, "bench_turn").await?;
    let endpoint = StubLlm::start().await;
    // Every answer (the gate's draft too) is confident but cut at its token limit, so each
    // turn goes on to its streamed answer: the longest path.
    endpoint.set_default_chat(Reply::truncated("ok", -0.01));
    let mut llm_cfg = cfg.llm.clone();
    llm_cfg.chat_url = endpoint.url();
    llm_cfg.embedding_url = endpoint.url();
    llm_cfg.chat_model = "bench".into();
    let llm = Arc::new(LlmClient::new(&llm_cfg)?);
    let mut core_cfg = cfg.clone();
    core_cfg.llm = llm_cfg;
    let assistant = Assistant::new(
        db.pool.clone(),
        llm,
        Arc::new(core_cfg),
        Arc::new(NullOutbox(Mutex::new(0))),
        Timing::default(),
    );

    let text = "Could you remind me what we said about the trip to Lyon next month, and whether the train is booked?";
    let mut overhead = Vec::with_capacity(turns);
    for i in 0..turns {
        let msg = Incoming::Message(IncomingMessage {
            event_id: format!("$bench-event-{i}"),
            room_id: "!bench:localhost".into(),
            sender: "@bench:localhost".into(),
            body: format!("{text} ({i})"),
            thread_root: None,
            in_reply_to: None,
            sent_at: chrono::Utc::now(),
            encrypted: true,
        });
        let before = endpoint.stream_arrivals().len();
        let t0 = Instant::now();
        assistant.handle(msg).await?;
        let arrivals = endpoint.stream_arrivals();
        anyhow::ensure!(
            arrivals.len() == before + 1,
            "turn {i} did not reach the model"
        );
        overhead.push(arrivals[before].duration_since(t0).as_secs_f64() * 1000.0);
    }

    // Baseline: the same endpoint, a request of the size the last turn sent, nothing else.
    let http = reqwest::Client::new();
    let body = serde_json::json!({"model": "bench", "stream": true, "messages": [{"role": "user", "content": text.repeat(40)}]});
    let mut baseline = Vec::with_capacity(turns);
    for _ in 0..turns {
        let before = endpoint.stream_arrivals().len();
        let t0 = Instant::now();
        let resp = http
            .post(format!("{}/v1/chat/completions", endpoint.url()))
            .json(&body)
            .send()
            .await?;
        let _ = resp.bytes().await?;
        let arrivals = endpoint.stream_arrivals();
        baseline.push(arrivals[before].duration_since(t0).as_secs_f64() * 1000.0);
    }
    db.remove().await;
    endpoint.stop();

    let (p50, p95) = (
        super::quantile(&overhead, 0.5),
        super::quantile(&overhead, 0.95),
    );
    let (b50, b95) = (
        super::quantile(&baseline, 0.5),
        super::quantile(&baseline, 0.95),
    );
    println!(
        "bot overhead per turn, event -> first byte at the model server ({turns} turns, history growing to {turns} exchanges)"
    );
    println!("{:<28} {:>9} {:>9}", "", "p50 ms", "p95 ms");
    println!(
        "{:<28} {:>9.2} {:>9.2}",
        "3AM turn (store+gate+send)", p50, p95
    );
    println!(
        "{:<28} {:>9.2} {:>9.2}",
        "baseline: bare HTTP request", b50, b95
    );
    println!("{:<28} {:>9.1}x {:>8.1}x", "ratio", p50 / b50, p95 / b95);
    Ok(())
}
