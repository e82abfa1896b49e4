//! One night at a time per user, across processes: a PostgreSQL session advisory lock held on
//! a connection of its own for the whole cycle. If the process dies, the connection closes
//! and the lock goes with it, so a crash never leaves a user locked out of their nights.

use sqlx::{Connection, PgConnection, PgPool};

/// First half of the advisory lock key (the second is a hash of the user id); distinct from
/// the memory store's per-transaction lock.
const LOCK_NAMESPACE: i32 = 0x3A3_0003;

/// The held lock and the connection the cycle works on.
pub struct NightLock {
    conn: PgConnection,
    user_id: String,
}

/// Takes the user's night lock, or `None` if another cycle holds it.
pub async fn try_lock(pool: &PgPool, user_id: &str) -> Result<Option<NightLock>, sqlx::Error> {
    let opts = pool.connect_options();
    let mut conn = PgConnection::connect_with(&opts).await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
        .bind(LOCK_NAMESPACE)
        .bind(user_id)
        .fetch_one(&mut conn)
        .await?;
    if got {
        Ok(Some(NightLock {
            conn,
            user_id: user_id.to_owned(),
        }))
    } else {
        conn.close().await.ok();
        Ok(None)
    }
}

impl NightLock {
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// Releases the lock and closes the connection (dropping the lock does the same, less
    /// politely).
    pub async fn release(mut self) {
        let _ = sqlx::query("SELECT pg_advisory_unlock($1, hashtext($2))")
            .bind(LOCK_NAMESPACE)
            .bind(&self.user_id)
            .execute(&mut self.conn)
            .await;
        self.conn.close().await.ok();
    }
}
