//! Real conversations with the stack's own chat model (Qwen2.5-Coder-0.5B on llama-server,
//! MiniLM embeddings, the stack's PostgreSQL): the conversation benchmark's live subset of
//! personas talks to the real turn pipeline over three days with real nights in between, and
//! what they read must meet the floors below. The full set is `threeam bench conversation`.
//!
//! The floors are on quality only, never on time. They sit under the measured numbers (see
//! the README) by a margin for the model's nondeterminism on a busy machine, not by the size
//! of a regression: an echo sent, or realtime memory that stores nothing, fails.

use crate::common::stack_env;
use threeam::bench::conversation::{Options, run};
use threeam::config::Config;

/// Replies that echo the user, repeat themselves, speak as the user or leak 3AM's own
/// instructions, as sent: none.
const MAX_FLAWED_SENT: usize = 0;
/// Recall questions answered with the remembered fact. Thirteen questions; the same code
/// measured 69%, 77%, 85% and 94% in four runs (the model samples, and a reply that speaks
/// as the user is ruled out even when it holds the answer), so the floor sits at five misses:
/// the code before the realtime memory work measured 48%.
const MIN_RECALL: f64 = 0.60;
/// Identity, home, work, family and health statements stored within their turn.
const MIN_EXTRACTION_RECALL: f64 = 0.75;
/// Facts stored within a turn that the user said.
const MIN_PRECISION: f64 = 0.90;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_conversations_meet_the_floors() {
    let mut cfg = Config::default();
    cfg.database.url = stack_env("THREEAM_DATABASE_URL");
    cfg.llm.chat_url = stack_env("THREEAM_LLM_CHAT_URL");
    cfg.llm.embedding_url = stack_env("THREEAM_LLM_EMBEDDING_URL");
    cfg.llm.request_timeout_secs = 300;
    let report = run(
        &cfg,
        &Options {
            live_subset: true,
            ..Options::default()
        },
    )
    .await
    .expect("the conversations run against the stack");
    println!("{}", report.table());
    println!("{}", report.failures());
    println!("{}", report.summary());

    let t = report.totals();
    assert!(t.replies >= 30, "{} replies", t.replies);
    assert_eq!(
        t.flaws_sent(),
        MAX_FLAWED_SENT,
        "flawed replies reached the user:\n{}",
        report.failures()
    );
    let floor = |name: &str, rate: Option<f64>, min: f64| {
        let rate = rate.unwrap_or_else(|| panic!("no {name} checks ran"));
        assert!(
            rate >= min,
            "{name} {rate:.2} < {min}\n{}",
            report.failures()
        );
    };
    floor("recall", t.recall().rate(), MIN_RECALL);
    floor(
        "realtime extraction recall",
        t.extraction.rate(),
        MIN_EXTRACTION_RECALL,
    );
    floor("realtime precision", t.precision.rate(), MIN_PRECISION);
}
