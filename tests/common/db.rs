//! A fresh, migrated database for each test, dropped afterwards.

use sqlx::postgres::PgPool;
use sqlx::{Connection, Executor, PgConnection};

pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
    name: String,
    admin_url: String,
}

impl TestDb {
    /// A new empty database (no migrations applied).
    pub async fn empty() -> Self {
        let admin_url = super::stack_env("THREEAM_DATABASE_URL");
        let name = format!("threeam_t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to the stack's PostgreSQL");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        let url = url.to_string();
        let pool = threeam::db::connect(&url, 4)
            .await
            .expect("connect to the test database");
        Self {
            pool,
            url,
            name,
            admin_url,
        }
    }

    /// A new database with the full schema.
    pub async fn migrated() -> Self {
        let db = Self::empty().await;
        threeam::db::migrate(&db.pool)
            .await
            .expect("migrations apply");
        db
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime; do the async cleanup on a thread of its own.
        // FORCE ends the pool's connections, which belong to the test's runtime.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                }
            });
        })
        .join()
        .ok();
    }
}
