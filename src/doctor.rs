//! `threeam doctor`: one line per check, each failure with the fix.

use std::fmt;
use std::time::Duration;

use crate::config::Config;
use crate::llm::{ChatMessage, ChatRequest, LlmClient, ServerKind};

#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
    pub fix: Option<String>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn all_ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    fn pass(&mut self, name: &'static str, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            ok: true,
            detail: detail.into(),
            fix: None,
        });
    }

    fn fail(&mut self, name: &'static str, detail: impl Into<String>, fix: impl Into<String>) {
        self.checks.push(Check {
            name,
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            if c.ok {
                writeln!(f, "ok    {:<10} {}", c.name, c.detail)?;
            } else {
                writeln!(
                    f,
                    "FAIL  {:<10} {} -- fix: {}",
                    c.name,
                    c.detail,
                    c.fix.as_deref().unwrap_or("")
                )?;
            }
        }
        let failed = self.checks.iter().filter(|c| !c.ok).count();
        if failed == 0 {
            writeln!(f, "all {} checks passed", self.checks.len())
        } else {
            writeln!(f, "{failed} of {} checks failed", self.checks.len())
        }
    }
}

pub async fn run(cfg: &Config) -> Report {
    let mut report = Report::default();
    if let Err(e) = cfg.validate_all() {
        report.fail(
            "config",
            e.to_string(),
            "edit config.toml (see config.toml.example)",
        );
    } else {
        report.pass("config", "all keys valid");
    }
    check_database(cfg, &mut report).await;
    check_homeserver(cfg, &mut report).await;
    check_encryption(cfg, &mut report).await;
    check_models(cfg, &mut report).await;
    check_sandbox(&mut report).await;
    report
}

/// The tool sandbox holds (see [`crate::tools::probe`]): tools stay disabled (fail closed)
/// otherwise.
async fn check_sandbox(report: &mut Report) {
    use crate::tools::{probe, sandbox::Limits};
    match probe::probe(Limits::default()).await {
        Ok(p) => report.pass(
            "sandbox",
            format!(
                "a tool runs in bubblewrap with seccomp without network or host files, and a fork bomb is cut; Landlock {} ({} ms)",
                match p.landlock.as_str() {
                    "full" => "enforced",
                    "partial" => "partly enforced (an older kernel)",
                    "none" => "not available in this kernel",
                    _ => "off (no threeam binary found to apply it)",
                },
                p.millis
            ),
        ),
        Err(why) => report.fail("sandbox", format!("tools are disabled: {why}"), probe::FIX),
    }
}

async fn check_database(cfg: &Config, report: &mut Report) {
    const FIX_DOWN: &str = "start PostgreSQL (scripts/stack up postgres) or correct database.url";
    if let Err(e) = cfg.validate_database() {
        report.fail("database", e.to_string(), "set database.url");
        return;
    }
    let target = crate::db::describe_url(&cfg.database.url);
    let pool = match tokio::time::timeout(
        Duration::from_secs(15),
        crate::db::connect(&cfg.database.url, 1),
    )
    .await
    {
        Ok(Ok(pool)) => pool,
        Ok(Err(e)) => return report.fail("database", e.to_string(), FIX_DOWN),
        Err(_) => {
            return report.fail(
                "database",
                format!("no answer from {target} in 15 s"),
                FIX_DOWN,
            );
        }
    };
    let version: Result<String, _> = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await;
    match version {
        Ok(v) => report.pass(
            "database",
            format!("reachable at {target} (PostgreSQL {v})"),
        ),
        Err(e) => return report.fail("database", format!("{target}: {e}"), FIX_DOWN),
    }
    match crate::db::schema_state(&pool).await {
        Ok(state) => {
            match &state.vector_extension {
                Some(v) => report.pass("pgvector", format!("extension `vector` {v} installed")),
                None => {
                    let available: Option<String> = sqlx::query_scalar(
                        "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'",
                    )
                    .fetch_optional(&pool)
                    .await
                    .ok()
                    .flatten();
                    match available {
                        Some(_) => report.fail(
                            "pgvector",
                            "extension `vector` is available but not installed",
                            "run `threeam migrate` (it creates the extension)",
                        ),
                        None => report.fail(
                            "pgvector",
                            "this PostgreSQL has no pgvector extension",
                            "install pgvector for your PostgreSQL (or use scripts/stack, whose PostgreSQL includes it)",
                        ),
                    }
                }
            }
            if state.missing.is_empty() {
                report.pass(
                    "schema",
                    format!("migrations current ({}/{})", state.applied, state.known),
                );
            } else {
                report.fail(
                    "schema",
                    format!(
                        "{} of {} migrations not applied (versions {:?})",
                        state.missing.len(),
                        state.known,
                        state.missing
                    ),
                    "run `threeam migrate` (`threeam run` also applies them)",
                );
            }
        }
        Err(e) => report.fail(
            "schema",
            e.to_string(),
            "check the database user's permissions",
        ),
    }
}

async fn check_homeserver(cfg: &Config, report: &mut Report) {
    if let Err(e) = cfg.validate_matrix() {
        report.fail("homeserver", e.to_string(), "fill in the [matrix] section");
        return;
    }
    match crate::matrix::probe::check(&cfg.matrix).await {
        Ok(how) => report.pass("homeserver", format!("{} reachable; {how}", cfg.matrix.homeserver_url)),
        Err(e @ crate::matrix::probe::ProbeError::Unreachable { .. }) => report.fail(
            "homeserver",
            e.to_string(),
            "start the homeserver (scripts/stack up synapse) or correct matrix.homeserver_url",
        ),
        Err(e) => report.fail(
            "homeserver",
            e.to_string(),
            "check matrix.user_id and matrix.password (or delete a stale session in matrix.store_path)",
        ),
    }
}

async fn check_encryption(cfg: &Config, report: &mut Report) {
    if cfg.validate_matrix().is_err() {
        return;
    }
    match crate::matrix::probe::encryption_state(&cfg.matrix).await {
        Ok(None) => report.pass(
            "encryption",
            "the bot has not logged in yet; it sets up cross-signing and recovery at its first start",
        ),
        Ok(Some(state)) if state.all_good() => report.pass("encryption", state.describe()),
        Ok(Some(state)) => report.fail(
            "encryption",
            state.describe(),
            "start the bot (it sets up cross-signing and recovery, and restores them with the key file after a lost store); its log says what failed",
        ),
        Err(e) => report.fail("encryption", e.to_string(), "check the homeserver"),
    }
}

async fn check_models(cfg: &Config, report: &mut Report) {
    if let Err(e) = cfg.validate_llm() {
        report.fail("chat", e.to_string(), "fill in the [llm] section");
        return;
    }
    let mut llm_cfg = cfg.llm.clone();
    llm_cfg.max_retries = 0;
    llm_cfg.request_timeout_secs = llm_cfg.request_timeout_secs.min(60);
    let client = match LlmClient::new(&llm_cfg) {
        Ok(c) => c,
        Err(e) => return report.fail("chat", e.to_string(), "check the TLS setup of this machine"),
    };
    check_chat(&client, report).await;
    check_embedding(&client, report).await;
}

async fn check_chat(client: &LlmClient, report: &mut Report) {
    const FIX: &str = "start llama-server for chat (scripts/stack up chat) or correct llm.chat_url";
    let models = match client.list_models(ServerKind::Chat).await {
        Ok(m) if !m.is_empty() => m,
        Ok(_) => {
            return report.fail(
                "chat",
                format!("{} lists no model", client.chat_url()),
                "start llama-server with -m MODEL",
            );
        }
        Err(e) => return report.fail("chat", e.to_string(), FIX),
    };
    let model = match client.model(ServerKind::Chat).await {
        Ok(m) => m,
        Err(e) => return report.fail("chat", e.to_string(), FIX),
    };
    if !models.contains(&model) {
        return report.fail(
            "chat",
            format!("model `{model}` is not served; the server lists {models:?}"),
            "set llm.chat_model to one of the listed ids, or to \"auto\"",
        );
    }
    let mut req = ChatRequest::new(vec![ChatMessage::user("Say OK.")]);
    req.max_tokens = Some(3);
    req.temperature = Some(0.0);
    req.top_logprobs = 3;
    match client.chat(&req).await {
        Ok(resp) if !resp.logprobs.is_empty() => report.pass(
            "chat",
            format!("{} serves `{model}`; logprobs returned ({} tokens)", client.chat_url(), resp.logprobs.len()),
        ),
        Ok(_) => report.fail(
            "chat",
            format!("{} answered without token logprobs", client.chat_url()),
            "use a llama-server recent enough to support \"logprobs\": true on /v1/chat/completions",
        ),
        Err(e) => report.fail("chat", e.to_string(), FIX),
    }
}

async fn check_embedding(client: &LlmClient, report: &mut Report) {
    const FIX: &str = "start llama-server with --embeddings (scripts/stack up embed) or correct llm.embedding_url";
    match client.embed_one("doctor check").await {
        Ok(v) => report.pass(
            "embedding",
            format!(
                "{} returns {}-d vectors (schema: {})",
                client.embedding_url(),
                v.len(),
                crate::db::EMBEDDING_DIM
            ),
        ),
        Err(e @ crate::llm::LlmError::EmbeddingDim { .. }) => report.fail(
            "embedding",
            e.to_string(),
            "serve a 384-d embedding model such as all-MiniLM-L6-v2",
        ),
        Err(e) => report.fail("embedding", e.to_string(), FIX),
    }
}
