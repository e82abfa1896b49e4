//! The opt-in HTTP listener (`metrics.listen`): `/metrics` in Prometheus' text format (see
//! [`crate::metrics`]) and `/healthz`, which answers 200 when the database answers within
//! two seconds and 503 with the reason when it does not. Both are unauthenticated, so the
//! listener belongs on 127.0.0.1 (or a network only the scraper reaches); neither says
//! anything about any user beyond counts.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Binds `addr` and serves until `shutdown`; returns the serving task and the address bound
/// (port 0 picks a free one).
pub async fn serve(
    addr: SocketAddr,
    pool: PgPool,
    shutdown: CancellationToken,
) -> anyhow::Result<(tokio::task::JoinHandle<()>, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("metrics.listen: cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    tracing::info!(%bound, "metrics and health endpoint listening");
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(pool);
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the metrics endpoint stopped");
        }
    });
    Ok((task, bound))
}

async fn metrics(State(pool): State<PgPool>) -> impl IntoResponse {
    // A database that is away must not make the scrape fail: the gauges read -1 then.
    let counts = tokio::time::timeout(Duration::from_secs(2), async {
        let queue = crate::store::messages::queue_depth(&pool).await?;
        let users = crate::store::users::count(&pool).await?;
        Ok::<_, sqlx::Error>((queue, users))
    })
    .await;
    let (queue, users) = match counts {
        Ok(Ok(c)) => c,
        _ => (-1, -1),
    };
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        crate::metrics::render(queue, users),
    )
}

async fn healthz(State(pool): State<PgPool>) -> impl IntoResponse {
    let ping = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&pool),
    )
    .await;
    match ping {
        Ok(Ok(_)) => (StatusCode::OK, "ok: database answers\n".to_owned()),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: database error: {e}\n"),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unhealthy: database did not answer within 2 s\n".to_owned(),
        ),
    }
}
