//! Helpers for the memory tests: an LLM client pointed at the stub (or the real servers),
//! storing a fact in one line, and capturing log lines to assert on warnings.
//!
//! Test files include it with `#[path = "common/memory_fixtures.rs"] mod fixtures;`.
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use threeam::config::LlmConfig;
use threeam::llm::{Backoff, LlmClient};
use threeam::memory::{Category, NewFact, StoreOutcome, store_facts};

/// A client for the stub at `url` (chat and embeddings), quick to give up.
pub fn client(url: &str) -> LlmClient {
    LlmClient::new(&LlmConfig {
        chat_url: url.into(),
        embedding_url: url.into(),
        request_timeout_secs: 10,
        embedding_timeout_secs: 10,
        max_retries: 1,
        embedding_batch: 64,
        ..Default::default()
    })
    .unwrap()
    .with_backoff(Backoff {
        max_retries: 1,
        first: Duration::from_millis(10),
        max: Duration::from_millis(10),
    })
}

/// Stores one fact for `user` and returns its id (inserted or merged).
pub async fn fact(
    pool: &PgPool,
    llm: &LlmClient,
    user: &str,
    text: &str,
    category: Category,
    priority: u8,
    source: &str,
) -> i64 {
    let out = store_facts(
        pool,
        llm,
        user,
        vec![NewFact::new(text, category, priority).with_sources([source])],
    )
    .await
    .expect("store a fact");
    match &out[..] {
        [StoreOutcome::Inserted { id }] | [StoreOutcome::Merged { id, .. }] => *id,
        other => panic!("expected the fact stored, got {other:?}"),
    }
}

/// Log output captured while the guard lives (the test's thread only).
pub struct Logs {
    buf: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Logs {
    pub fn capture() -> Self {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || SharedWriter(writer.clone()))
            .finish();
        Logs {
            buf,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Makes `facts` of `user` a current topic called `name` (as a night's clustering would);
/// returns its id.
pub async fn topic(
    pool: &PgPool,
    user: &str,
    name: &str,
    label: i32,
    importance: f32,
    facts: &[i64],
) -> i64 {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO clusters (user_id, label, name, importance, size) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user)
    .bind(label)
    .bind(name)
    .bind(importance)
    .bind(facts.len() as i32)
    .fetch_one(pool)
    .await
    .unwrap();
    for f in facts {
        sqlx::query("UPDATE facts SET cluster_id = $2 WHERE id = $1")
            .bind(f)
            .bind(id)
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO cluster_members (cluster_id, fact_id, user_id) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(f)
        .bind(user)
        .execute(pool)
        .await
        .unwrap();
    }
    id
}
