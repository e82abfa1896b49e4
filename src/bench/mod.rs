//! Benchmarks run by `threeam bench …`. Each prints its numbers next to a baseline measured
//! in the same process, so a slower or faster machine does not change the ratio's meaning.

pub mod gate;
pub mod turn;

/// The `q`-quantile (0..=1) of unsorted samples, nearest-rank.
pub fn quantile(samples: &[f64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}

/// A throwaway database on the configured server, dropped afterwards.
pub struct ScratchDb {
    pub pool: sqlx::PgPool,
    admin_url: String,
    name: String,
}

impl ScratchDb {
    pub async fn create(admin_url: &str, prefix: &str) -> anyhow::Result<Self> {
        use sqlx::{Connection, Executor};
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(admin_url).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        let mut url = url::Url::parse(admin_url)?;
        url.set_path(&name);
        let pool = crate::db::connect(url.as_str(), 4).await?;
        crate::db::migrate(&pool).await?;
        Ok(Self {
            pool,
            admin_url: admin_url.to_owned(),
            name,
        })
    }

    pub async fn drop_db(self) -> anyhow::Result<()> {
        use sqlx::{Connection, Executor};
        self.pool.close().await;
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn nearest_rank_quantiles() {
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(super::quantile(&s, 0.5), 50.0);
        assert_eq!(super::quantile(&s, 0.95), 95.0);
        assert_eq!(super::quantile(&[3.0], 0.95), 3.0);
    }
}
