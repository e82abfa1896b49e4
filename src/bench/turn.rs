//! `threeam bench turn`: the bot's own overhead per chat turn, from the moment an event
//! reaches the core to the first byte of the answer's request arriving at the model server (so
//! the model's own time is excluded). The turn runs the real pipeline on a real PostgreSQL:
//! store the message, claim it, read the conversation and the profile, the gate's draft round
//! trip (answered at once here), build the prompt, open the stream. The
//! baseline, measured in the same run, is a bare HTTP request of the same size to the same
//! endpoint: the part of the overhead no code of ours can remove.
//!
//! Matrix sync and decryption happen before the event reaches the core and are not included.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::assistant::{Assistant, Incoming, Timing};
use crate::chat::{IncomingMessage, OutMessage, Outbox, OutboxError};
use crate::config::Config;
use crate::llm::LlmClient;

/// A model endpoint that answers at once and notes when each request's first byte arrived.
struct Endpoint {
    arrivals: Arc<Mutex<Vec<Instant>>>,
    url: String,
}

async fn start_endpoint() -> anyhow::Result<Endpoint> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let log = arrivals.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(serve_connection(sock, log));
        }
    });
    Ok(Endpoint { arrivals, url })
}

const SSE: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":null,\"logprobs\":{\"content\":[{\"token\":\"ok\",\"logprob\":-0.1,\"top_logprobs\":[{\"token\":\"ok\",\"logprob\":-0.1}]}]}}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

/// The gate's draft (a whole, non-streamed completion), answered at once and confidently but
/// cut at its token limit, so the turn goes on to its streamed answer (the longest path).
const DRAFT: &str = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"ok\"},\"finish_reason\":\"length\",\"logprobs\":{\"content\":[{\"token\":\"ok\",\"logprob\":-0.01,\"top_logprobs\":[{\"token\":\"ok\",\"logprob\":-0.01}]}]}}]}";

/// Keep-alive HTTP/1.1, just enough for reqwest: read a request, answer with a fixed stream
/// (or, for a non-streamed chat request, the draft; for `/tokenize`, token ids as
/// llama-server does). Only streamed requests are logged.
async fn serve_connection(mut sock: tokio::net::TcpStream, log: Arc<Mutex<Vec<Instant>>>) {
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        let mut first: Option<Instant> = None;
        let body_start = loop {
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            let mut chunk = [0u8; 16384];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    first.get_or_insert_with(Instant::now);
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        };
        let head = String::from_utf8_lossy(&buf[..body_start]).to_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap_or(0))
            })
            .unwrap_or(0);
        while buf.len() < body_start + len {
            let mut chunk = [0u8; 16384];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[body_start..body_start + len]).into_owned();
        buf.drain(..body_start + len);
        let streamed = body.contains("\"stream\":true");
        let resp = if head.starts_with("post /tokenize") {
            // Like llama-server: one token id per piece of the text (about 4 bytes each).
            let n = body.len() / 4 + 1;
            let json = format!("{{\"tokens\":[{}]}}", vec!["1"; n].join(","));
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
                json.len()
            )
        } else if !streamed && head.starts_with("post /v1/chat/completions") {
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{DRAFT}",
                DRAFT.len()
            )
        } else {
            if streamed {
                log.lock().unwrap().push(first.unwrap_or_else(Instant::now));
            }
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{SSE}",
                SSE.len()
            )
        };
        if sock.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}

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
    let endpoint = start_endpoint().await?;
    let mut llm_cfg = cfg.llm.clone();
    llm_cfg.chat_url = endpoint.url.clone();
    llm_cfg.embedding_url = endpoint.url.clone();
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
        let before = endpoint.arrivals.lock().unwrap().len();
        let t0 = Instant::now();
        assistant.handle(msg).await?;
        let arrivals = endpoint.arrivals.lock().unwrap();
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
        let before = endpoint.arrivals.lock().unwrap().len();
        let t0 = Instant::now();
        let resp = http
            .post(format!("{}/v1/chat/completions", endpoint.url))
            .json(&body)
            .send()
            .await?;
        let _ = resp.bytes().await?;
        let arrivals = endpoint.arrivals.lock().unwrap();
        baseline.push(arrivals[before].duration_since(t0).as_secs_f64() * 1000.0);
    }
    db.remove().await;

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
