//! The nine stages, one file each (a few share one). Every stage gets the run's connection
//! (which holds the night lock) and the run context, does its reads and model calls, then
//! applies its effects and its checkpoint in one transaction.

mod cluster;
mod conflicts;
mod decay;
mod digest;
mod extract;
mod group;
mod profile;
mod store;

use sqlx::{Connection, PgConnection};

use super::cycle::{Ctx, Stage};

pub(crate) async fn run_stage(
    stage: Stage,
    conn: &mut PgConnection,
    cx: &Ctx<'_>,
) -> anyhow::Result<()> {
    match stage {
        Stage::Group => group::run(conn, cx).await,
        Stage::Extract => extract::run(conn, cx).await,
        Stage::Store => store::run(conn, cx).await,
        Stage::Conflicts => conflicts::run(conn, cx).await,
        Stage::Decay => decay::run(conn, cx).await,
        Stage::Cluster => cluster::run(conn, cx).await,
        Stage::Behaviour => {
            let mut tx = conn.begin().await?;
            let changes = super::behaviour_stage::run(&mut tx, cx.user_id, cx.now).await?;
            cx.checkpoint(
                &mut tx,
                Stage::Behaviour,
                serde_json::json!({ "changes": changes }),
            )
            .await?;
            tx.commit().await?;
            Ok(())
        }
        Stage::Profile => profile::run(conn, cx).await,
        Stage::Digest => digest::run(conn, cx).await,
    }
}
