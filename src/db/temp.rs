//! A throwaway database on the server of a given URL, for benchmarks and tests: created
//! (migrated or empty), and dropped with its connections afterwards, so neither ever
//! touches real data. [`TempDatabase::remove`] drops it at once; if the value is simply
//! dropped, a helper thread removes it (tests end that way, inside their runtime).

use sqlx::{Connection, Executor, PgConnection, PgPool};

use super::{DbError, connect, describe_url, migrate};

pub struct TempDatabase {
    pub pool: PgPool,
    /// The database's own URL.
    pub url: String,
    name: String,
    admin_url: String,
    removed: bool,
}

impl TempDatabase {
    /// A new database with the full schema. `purpose` goes into its name (`threeam_<purpose>_…`).
    pub async fn create(url: &str, purpose: &str) -> Result<Self, DbError> {
        let db = Self::create_empty(url, purpose).await?;
        if let Err(e) = migrate(&db.pool).await {
            db.remove().await;
            return Err(e);
        }
        Ok(db)
    }

    /// A new database with no schema (for testing the migrations themselves).
    pub async fn create_empty(url: &str, purpose: &str) -> Result<Self, DbError> {
        let name = format!(
            "threeam_{purpose}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let mut admin = PgConnection::connect(url)
            .await
            .map_err(|source| DbError::Connect {
                target: describe_url(url),
                source,
            })?;
        // The role needs CREATEDB.
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        admin.close().await.ok();
        let mut db_url = url::Url::parse(url)
            .map_err(|e| DbError::BadUrl(sqlx::Error::Configuration(e.into())))?;
        db_url.set_path(&name);
        let db_url = db_url.to_string();
        match connect(&db_url, 4).await {
            Ok(pool) => Ok(TempDatabase {
                pool,
                url: db_url,
                name,
                admin_url: url.to_owned(),
                removed: false,
            }),
            Err(e) => {
                drop_database(url, &name).await;
                Err(e)
            }
        }
    }

    /// Closes the pool and drops the database.
    pub async fn remove(mut self) {
        self.removed = true;
        self.pool.close().await;
        drop_database(&self.admin_url, &self.name).await;
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime, where blocking on another is not allowed; FORCE ends
        // the pool's connections, which belong to the caller's runtime.
        std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(drop_database(&admin_url, &name));
            }
        })
        .join()
        .ok();
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
