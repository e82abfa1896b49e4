//! Starting the whole bot: configuration checked, database migrated, model client ready,
//! Matrix session up, the night scheduler and the idle hours started; then it runs until the
//! token is cancelled (SIGINT/SIGTERM in `main`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::assistant::{Assistant, Timing};
use crate::chat::Outbox;
use crate::config::Config;
use crate::llm::LlmClient;
use crate::matrix::bot::{self, MatrixOutbox};
use crate::night::{NightOptions, Scheduler};

pub async fn run(cfg: Config, timing: Timing, shutdown: CancellationToken) -> anyhow::Result<()> {
    run_with_night(cfg, timing, NightOptions::default(), shutdown).await
}

/// [`run`] with the night scheduler's clock and tick interval chosen (tests move the clock).
pub async fn run_with_night(
    cfg: Config,
    timing: Timing,
    night: NightOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    cfg.validate_all()?;
    let pool = crate::db::connect_with_retry(
        &cfg.database.url,
        cfg.database.max_connections,
        Duration::from_secs(60),
    )
    .await?;
    crate::db::migrate(&pool)
        .await
        .context("applying database migrations")?;
    let llm = Arc::new(LlmClient::new(&cfg.llm).context("setting up the LLM client")?);
    match llm.model(crate::llm::ServerKind::Chat).await {
        Ok(model) => tracing::info!(%model, url = %cfg.llm.chat_url, "chat model"),
        // Not fatal: messages are queued and answered when the server comes up.
        Err(e) => tracing::warn!(error = %e, "chat model server not available yet"),
    }
    // Bound before Matrix, so a taken port stops the start with a clear error.
    let observer = match cfg.metrics.address() {
        Some(addr) => Some(
            crate::observe::serve(addr, pool.clone(), shutdown.clone())
                .await?
                .0,
        ),
        None => None,
    };
    let (client, restored) = bot::connect(&cfg.matrix).await?;
    let outbox = Arc::new(MatrixOutbox::new(client.clone()));
    let matrix_cfg = cfg.matrix.clone();
    let clock = night.clock.clone();
    // Nights and digests: the digest goes out through the same outbox as every answer.
    let scheduler = Scheduler::new(
        pool.clone(),
        llm.clone(),
        cfg.schedule.clone(),
        Some(outbox.clone() as Arc<dyn Outbox>),
        night.clock,
        crate::chat::AllowList::new(&cfg.matrix.allowed_users)?,
    )
    .start(night.tick)
    .await
    .context("starting the night scheduler")?;
    let assistant = Arc::new(Assistant::new(
        pool.clone(),
        llm,
        Arc::new(cfg),
        outbox,
        timing,
    ));
    // The idle hours (research, proposals, the self-review) look at the same clock as the
    // nights, as often; each user's hour comes at most once an hour.
    let idle = tokio::spawn({
        let assistant = assistant.clone();
        let stop = shutdown.clone();
        let every = night.tick;
        async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(every) => {}
                }
                if let Err(e) = assistant.idle_tick(clock.now()).await {
                    tracing::warn!(error = format!("{e:#}"), "idle hour check failed");
                }
            }
        }
    });
    let result = bot::run(client, restored, matrix_cfg, assistant, shutdown).await;
    idle.abort();
    if let Some(o) = observer {
        o.abort();
    }
    scheduler.stop(Duration::from_secs(10)).await;
    pool.close().await;
    result
}

/// Cancels the token on SIGINT or SIGTERM.
pub fn cancel_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stop requested");
        token.cancel();
    });
}
