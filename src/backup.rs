//! Backups of what 3AM knows: every row of every table, of every user or of one, in one
//! versioned JSON document (gzip when the file name ends in `.gz`), and restoring it.
//!
//! The schema itself says what to save: every table of the `public` schema has a `user_id`
//! column, so a backup is `to_jsonb(row)` of each table's rows for the chosen users, and a
//! table added by a later migration is included without touching this file. Rows keep
//! their ids, so facts keep their history (`superseded_by`), topics their members, tools
//! their runs and approvals, research its pages and findings, and embeddings are saved as
//! they are (no re-embedding on restore).
//!
//! Restoring runs in one transaction, parents before children (the order comes from the
//! foreign keys in `pg_constraint`); a column that points into its own table (a fact's
//! successor) is filled in after all rows are in. Only the columns the backup has are
//! written, so a backup from an older schema restores into a newer one (new columns take
//! their defaults); a backup from a newer schema than the database is refused. A user who
//! is already in the database is refused unless `replace` is given, which erases that
//! user's data first; rows whose ids other users' rows already hold are refused (restore
//! into a fresh database then). Sequences are moved past the restored ids.
//!
//! Not in the database, so not in a backup: the Matrix store (the bot's device keys, at
//! `matrix.store_path`) and installed tools' files are rebuilt from the rows.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Row};

use crate::store::users;

/// What the file says it is.
pub const FORMAT: &str = "threeam-backup";
/// The document's layout version (not the schema's).
pub const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a 3AM backup: {1}")]
    NotABackup(String, String),
    #[error(
        "the backup is of layout version {0}, newer than this 3AM reads ({VERSION}); restore it with a newer 3AM"
    )]
    NewerLayout(u32),
    #[error(
        "the backup was made with schema migration {backup}, but this database is at {database}: run `threeam migrate` with a 3AM at least as new as the one that made it"
    )]
    NewerSchema { backup: i64, database: i64 },
    #[error("the backup has a table this database does not know: {0}")]
    UnknownTable(String),
    #[error(
        "this database already holds {0}; restoring would mix two copies. Use --replace to erase their data here and restore the backup's"
    )]
    UserExists(String),
    #[error(
        "{count} row(s) of `{table}` in the backup have ids that other users' rows hold in this database; restore into a fresh database (create it, `threeam migrate`, then restore)"
    )]
    IdsTaken { table: String, count: i64 },
    #[error("no user {0} in this database")]
    NoSuchUser(String),
}

/// The backup document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Backup {
    pub format: String,
    pub version: u32,
    /// The newest migration applied where it was made.
    pub schema: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub users: Vec<String>,
    /// Rows by table, each row as `to_jsonb` made it.
    pub tables: BTreeMap<String, Vec<Value>>,
}

impl Backup {
    /// Rows in all tables.
    pub fn rows(&self) -> usize {
        self.tables.values().map(Vec::len).sum()
    }
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub users: Vec<String>,
    pub rows: usize,
    /// Users whose data was erased first (`replace`).
    pub replaced: Vec<String>,
}

/// The tables to save, parents before children, and each table's columns pointing into
/// itself.
struct Tables {
    order: Vec<String>,
    self_refs: BTreeMap<String, Vec<String>>,
}

async fn tables(conn: &mut PgConnection) -> sqlx::Result<Tables> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT t.table_name::text FROM information_schema.tables t
         JOIN information_schema.columns c USING (table_schema, table_name)
         WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.column_name = 'user_id'
         ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await?;
    let edges = sqlx::query(
        "SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent,
                a.attname::text AS column
         FROM pg_constraint c
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
         WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut self_refs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &edges {
        let (child, parent, column): (String, String, String) =
            (e.get("child"), e.get("parent"), e.get("column"));
        if child == parent {
            self_refs.entry(child).or_default().push(column);
        } else {
            parents.entry(child).or_default().insert(parent);
        }
    }
    Ok(Tables {
        order: parents_first(&names, &parents),
        self_refs,
    })
}

/// `names` ordered so every table comes after the tables it references (ties by name).
/// A cycle between different tables (none in the schema) keeps the rest in name order.
pub fn parents_first(
    names: &[String],
    parents: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut done: Vec<String> = Vec::new();
    let mut left: Vec<String> = names.to_vec();
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|t| {
                parents
                    .get(*t)
                    .is_none_or(|ps| ps.iter().all(|p| done.contains(p) || !names.contains(p)))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            done.append(&mut left);
            break;
        }
        left.retain(|t| !ready.contains(t));
        done.extend(ready);
    }
    done
}

async fn schema_version(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(max(version), 0) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *conn)
        .await
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Everything of `user` (or of every user), in one consistent snapshot.
pub async fn take(pool: &PgPool, user: Option<&str>) -> Result<Backup, BackupError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let users: Vec<String> = match user {
        Some(u) => {
            let found = users::existing(&mut *tx, &[u.to_owned()]).await?;
            if found.is_empty() {
                return Err(BackupError::NoSuchUser(u.to_owned()));
            }
            found
        }
        None => users::all_in(&mut *tx).await?,
    };
    let schema = schema_version(&mut tx).await?;
    let t = tables(&mut tx).await?;
    let mut out = BTreeMap::new();
    for table in &t.order {
        let sql = format!(
            "SELECT to_jsonb(t) FROM {} t WHERE t.user_id = ANY($1) ORDER BY (to_jsonb(t)->>'id')::numeric NULLS LAST",
            quote(table)
        );
        let rows: Vec<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(&users)
            .fetch_all(&mut *tx)
            .await?;
        out.insert(table.clone(), rows);
    }
    tx.commit().await?;
    Ok(Backup {
        format: FORMAT.into(),
        version: VERSION,
        schema,
        created_at: chrono::Utc::now(),
        users,
        tables: out,
    })
}

/// Writes `backup` to `path` (gzip if it ends in `.gz`), readable by its owner only.
pub fn write(backup: &Backup, path: &Path) -> Result<(), BackupError> {
    let file_err = |source| BackupError::File {
        path: path.display().to_string(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts.open(path).map_err(file_err)?;
    let json = serde_json::to_vec(backup).map_err(|e| file_err(e.into()))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        gz.write_all(&json).map_err(file_err)?;
        gz.finish()
            .map_err(file_err)?
            .sync_all()
            .map_err(file_err)?;
    } else {
        let mut file = file;
        file.write_all(&json).map_err(file_err)?;
        file.sync_all().map_err(file_err)?;
    }
    Ok(())
}

/// Reads a backup file (gzip or not, whatever its name).
pub fn read(path: &Path) -> Result<Backup, BackupError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| BackupError::File {
        path: shown.clone(),
        source,
    })?;
    let json = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| BackupError::NotABackup(shown.clone(), format!("bad gzip: {e}")))?;
        out
    } else {
        bytes
    };
    let backup: Backup = serde_json::from_slice(&json)
        .map_err(|e| BackupError::NotABackup(shown.clone(), e.to_string()))?;
    if backup.format != FORMAT {
        return Err(BackupError::NotABackup(
            shown,
            format!("its format is {:?}", backup.format),
        ));
    }
    if backup.version > VERSION {
        return Err(BackupError::NewerLayout(backup.version));
    }
    Ok(backup)
}

/// Restores `backup` (see the module doc); `replace` erases users who are already here first.
pub async fn restore(
    pool: &PgPool,
    backup: &Backup,
    replace: bool,
) -> Result<Restored, BackupError> {
    let mut tx = pool.begin().await?;
    let schema = schema_version(&mut tx).await?;
    if backup.schema > schema {
        return Err(BackupError::NewerSchema {
            backup: backup.schema,
            database: schema,
        });
    }
    let t = tables(&mut tx).await?;
    if let Some(unknown) = backup.tables.keys().find(|k| !t.order.contains(k)) {
        return Err(BackupError::UnknownTable(unknown.clone()));
    }
    let present = users::existing(&mut *tx, &backup.users).await?;
    if let Some(u) = present.first()
        && !replace
    {
        return Err(BackupError::UserExists(u.clone()));
    }
    // Erasing the user erases all their rows (every table cascades from `users`).
    users::erase(&mut *tx, &present).await?;
    let mut restored = 0;
    for table in &t.order {
        let Some(data) = backup.tables.get(table).filter(|d| !d.is_empty()) else {
            continue;
        };
        restored += data.len();
        // Bound by every statement below, so made once.
        let rows = Value::Array(data.clone());
        let columns = writable_columns(&mut tx, table, data).await?;
        if columns.iter().any(|c| c == "id") {
            let sql = format!(
                "SELECT count(*) FROM {} WHERE id IN (SELECT (r->>'id')::bigint FROM jsonb_array_elements($1) r)",
                quote(table)
            );
            let taken: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(&rows)
                .fetch_one(&mut *tx)
                .await?;
            if taken > 0 {
                return Err(BackupError::IdsTaken {
                    table: table.clone(),
                    count: taken,
                });
            }
        }
        let later: &[String] = t.self_refs.get(table).map_or(&[], Vec::as_slice);
        let now: Vec<String> = columns
            .iter()
            .filter(|c| !later.contains(c))
            .map(|c| quote(c))
            .collect();
        let list = now.join(", ");
        let sql = format!(
            "INSERT INTO {t} ({list}) SELECT {list} FROM jsonb_populate_recordset(NULL::{t}, $1)",
            t = quote(table)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&rows)
            .execute(&mut *tx)
            .await?;
        for column in later.iter().filter(|c| columns.contains(c)) {
            let sql = format!(
                "UPDATE {t} x SET {c} = r.{c} FROM jsonb_populate_recordset(NULL::{t}, $1) r
                 WHERE x.id = r.id AND r.{c} IS NOT NULL",
                t = quote(table),
                c = quote(column)
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&rows)
                .execute(&mut *tx)
                .await?;
        }
        if columns.iter().any(|c| c == "id") {
            let sql = format!(
                "SELECT setval(s, GREATEST((SELECT max(id) FROM {t}), nextval(s) - 1, 1))
                 FROM pg_get_serial_sequence($1, 'id') s WHERE s IS NOT NULL",
                t = quote(table)
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(table)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(Restored {
        users: backup.users.clone(),
        rows: restored,
        replaced: present,
    })
}

/// The columns of `table` that the backup's rows have and that can be written (not
/// generated).
async fn writable_columns(
    conn: &mut PgConnection,
    table: &str,
    rows: &[Value],
) -> sqlx::Result<Vec<String>> {
    let have: BTreeSet<&str> = rows
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|o| o.keys().map(String::as_str))
        .collect();
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name = $1 AND is_generated = 'NEVER'
         ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    Ok(columns
        .into_iter()
        .filter(|c| have.contains(c.as_str()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_come_before_children() {
        let names: Vec<String> = ["cluster_members", "clusters", "facts", "users"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        parents.insert(
            "cluster_members".into(),
            ["facts".into(), "clusters".into(), "users".into()].into(),
        );
        parents.insert("facts".into(), ["clusters".into(), "users".into()].into());
        parents.insert("clusters".into(), ["users".into()].into());
        assert_eq!(
            parents_first(&names, &parents),
            vec!["users", "clusters", "facts", "cluster_members"]
        );
    }

    #[test]
    fn a_cycle_does_not_lose_tables() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        parents.insert("a".into(), ["b".into()].into());
        parents.insert("b".into(), ["a".into()].into());
        assert_eq!(parents_first(&names, &parents), vec!["c", "a", "b"]);
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("facts"), "\"facts\"");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }
}
