//! The assistant core below Matrix: a fresh database, model servers at a given URL (usually
//! the llama-server stub), and a recording outbox in place of the homeserver.

use std::sync::Arc;
use std::time::Duration;

use threeam::assistant::{Assistant, Timing};
use threeam::config::Config;
use threeam::llm::{Backoff, LlmClient};

use super::db::TestDb;
use super::outbox::RecordingOutbox;

pub struct Core {
    pub db: TestDb,
    pub out: Arc<RecordingOutbox>,
    pub assistant: Assistant,
}

/// Both model servers at `llm_url`; everything else as configured by default.
pub fn config(llm_url: &str) -> Config {
    let mut cfg = Config::default();
    cfg.llm.chat_url = llm_url.into();
    cfg.llm.embedding_url = llm_url.into();
    cfg
}

/// Retries that give up fast, for tests of a model server that is down.
pub const QUICK_RETRY: Backoff = Backoff {
    max_retries: 1,
    first: Duration::from_millis(10),
    max: Duration::from_millis(10),
};

impl Core {
    /// The core on a fresh migrated database (its URL goes into `cfg`), with the client's
    /// retry delays replaced by `backoff` if given, and quick edits and retries.
    pub async fn start(mut cfg: Config, backoff: Option<Backoff>) -> Core {
        let db = TestDb::migrated().await;
        cfg.database.url = db.url.clone();
        let mut llm = LlmClient::new(&cfg.llm).unwrap();
        if let Some(b) = backoff {
            llm = llm.with_backoff(b);
        }
        let out = Arc::new(RecordingOutbox::default());
        let assistant = Assistant::new(
            db.pool.clone(),
            Arc::new(llm),
            Arc::new(cfg),
            out.clone(),
            Timing {
                edit_interval: Duration::from_millis(20),
                db_patience: Duration::from_secs(5),
                retry_interval: Duration::from_millis(100),
                key_patience: Duration::from_secs(60),
            },
        );
        Core { db, out, assistant }
    }
}
