//! PostgreSQL access: the pool, the embedded migrations, the schema checks `doctor` runs,
//! the one test for a transient error, and throwaway databases ([`TempDatabase`]).

mod temp;

pub use temp::TempDatabase;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Row};

/// The width of every stored embedding (`vector(384)` in the schema).
pub const EMBEDDING_DIM: usize = 384;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL is not valid: {0}")]
    BadUrl(#[source] sqlx::Error),
    #[error("cannot reach PostgreSQL at {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("applying migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Query(#[from] sqlx::Error),
}

/// Host:port/db of a URL without its password, for error messages and logs.
pub fn describe_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}:{}{}",
            u.host_str().unwrap_or("?"),
            u.port().unwrap_or(5432),
            u.path()
        ),
        Err(_) => "<unparsable URL>".into(),
    }
}

pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let opts: PgConnectOptions = url.parse().map_err(DbError::BadUrl)?;
    let opts = opts.log_statements(tracing::log::LevelFilter::Trace);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(|source| DbError::Connect {
            target: describe_url(url),
            source,
        })
}

/// Exponential backoff from 0.2 s to 5 s between attempts, giving up once `patience` of
/// waiting is spent: how 3AM waits out a database that is restarting.
pub fn patient_backoff(patience: Duration) -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .without_max_times()
        .with_total_delay(Some(patience))
}

/// Connects, waiting out a database that is still starting (or restarting).
pub async fn connect_with_retry(
    url: &str,
    max_connections: u32,
    patience: Duration,
) -> Result<PgPool, DbError> {
    use backon::Retryable;
    (|| connect(url, max_connections))
        .retry(patient_backoff(patience))
        .when(|e| matches!(e, DbError::Connect { .. }))
        .notify(|e, _| tracing::warn!(error = %e, "database not reachable yet; retrying"))
        .await
}

/// Worth retrying: the database was unreachable, restarting or dropped the connection,
/// rather than refusing the query itself. The one check every caller uses.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up),
        // 08xxx connection errors.
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// True when the database answers a trivial query.
pub async fn ping(pool: &PgPool) -> bool {
    sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(pool)
        .await
        .is_ok()
}

pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// [`connect_with_retry`], then [`migrate`]: how every command that works on the database
/// starts.
pub async fn connect_migrated(
    url: &str,
    max_connections: u32,
    patience: Duration,
) -> Result<PgPool, DbError> {
    let pool = connect_with_retry(url, max_connections, patience).await?;
    migrate(&pool).await?;
    Ok(pool)
}

/// What `doctor` reports about the schema.
#[derive(Debug, PartialEq, Eq)]
pub struct SchemaState {
    pub vector_extension: Option<String>,
    pub applied: usize,
    pub known: usize,
    pub missing: Vec<i64>,
}

impl SchemaState {
    pub fn current(&self) -> bool {
        self.missing.is_empty() && self.vector_extension.is_some()
    }
}

pub async fn schema_state(pool: &PgPool) -> Result<SchemaState, DbError> {
    let vector_extension: Option<String> =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            .fetch_optional(pool)
            .await?;
    let table_exists: bool =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    let applied: Vec<i64> = if table_exists {
        sqlx::query("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| r.get::<i64, _>(0))
            .collect()
    } else {
        Vec::new()
    };
    let missing = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
        .map(|m| m.version)
        .collect();
    Ok(SchemaState {
        vector_extension,
        applied: applied.len(),
        known: MIGRATOR.iter().count(),
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::is_transient;

    #[test]
    fn outages_are_transient_and_refusals_are_not() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        ))));
        assert!(is_transient(&sqlx::Error::Protocol(
            "unexpected EOF".into()
        )));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::ColumnNotFound("x".into())));
    }
}
