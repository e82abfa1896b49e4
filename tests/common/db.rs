//! A fresh database on the stack's PostgreSQL for each test, dropped afterwards: the crate's
//! one throwaway-database helper ([`threeam::db::TempDatabase`]), named for tests.

use std::ops::Deref;

use threeam::db::TempDatabase;

pub struct TestDb(TempDatabase);

impl TestDb {
    /// A new empty database (no migrations applied).
    pub async fn empty() -> Self {
        let url = super::stack_env("THREEAM_DATABASE_URL");
        Self(
            TempDatabase::create_empty(&url, "t")
                .await
                .expect("create a test database on the stack's PostgreSQL"),
        )
    }

    /// A new database with the full schema.
    pub async fn migrated() -> Self {
        let url = super::stack_env("THREEAM_DATABASE_URL");
        Self(
            TempDatabase::create(&url, "t")
                .await
                .expect("create and migrate a test database on the stack's PostgreSQL"),
        )
    }
}

impl Deref for TestDb {
    type Target = TempDatabase;

    fn deref(&self) -> &TempDatabase {
        &self.0
    }
}

/// The verbosity of the user's current behaviour profile (the default when none is stored).
pub async fn profile_verbosity(pool: &sqlx::PgPool, user: &str) -> f32 {
    threeam::behaviour::store::current_profile(pool, user)
        .await
        .unwrap()
        .verbosity
}
