//! A throwaway database for the benchmarks (`threeam bench …`): created on the server of a given URL, migrated,
//! and dropped (with its connections) afterwards, so a benchmark never touches real data.

use anyhow::Context;
use sqlx::{Connection, Executor, PgConnection, PgPool};

/// A throwaway database on the same server as `url`: created and migrated on `create`,
/// dropped (with its connections) on [`TempDatabase::drop`].
pub(crate) struct TempDatabase {
    pub pool: PgPool,
    name: String,
    admin_url: String,
}

impl TempDatabase {
    pub async fn create(url: &str, purpose: &str) -> anyhow::Result<Self> {
        let name = format!(
            "threeam_{purpose}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let mut admin = PgConnection::connect(url)
            .await
            .with_context(|| format!("connecting to {}", crate::db::describe_url(url)))?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .context("creating a temporary database (the role needs CREATEDB)")?;
        admin.close().await.ok();
        let mut db_url = url::Url::parse(url).context("database URL")?;
        db_url.set_path(&name);
        let made = async {
            let pool = crate::db::connect(db_url.as_str(), 4).await?;
            crate::db::migrate(&pool).await?;
            Ok::<_, crate::db::DbError>(pool)
        }
        .await;
        let db = |pool| TempDatabase {
            pool,
            name: name.clone(),
            admin_url: url.to_owned(),
        };
        match made {
            Ok(pool) => Ok(db(pool)),
            Err(e) => {
                drop_database(url, &name).await;
                Err(e.into())
            }
        }
    }

    pub async fn drop(self) {
        self.pool.close().await;
        drop_database(&self.admin_url, &self.name).await;
    }
}

async fn drop_database(admin_url: &str, name: &str) {
    if let Ok(mut admin) = PgConnection::connect(admin_url).await
        && let Err(e) = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await
    {
        tracing::warn!(database = name, error = %e, "could not drop the temporary database");
    }
}
