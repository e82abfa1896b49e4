//! `threeam bench load`: many people chatting with the bot at once, end to end. The bot runs
//! as its own process (`threeam run`, as a user would start it) on a throwaway database,
//! with the scripted llama-server of [`super::stub_llm`] for a model (it answers at once, so
//! what is measured is the bot and Matrix, not the model), and N fresh accounts on the
//! configured homeserver, each in its own encrypted DM with the bot, each sending a message,
//! waiting for the answer and sending the next, until the time is up.
//!
//! The baseline, measured in the same run on the same homeserver, is one encrypted message
//! from one person to another: send until the other side has it decrypted. A bot turn is two
//! such hops (the question in, the answer out) plus the bot's work, so its overhead is the
//! turn's time minus two baseline hops.
//!
//! It also checks what a load test must: every message answered exactly once (nothing lost,
//! nothing twice), each answer meant for its own sender, and no prompt the model saw holding
//! another user's words (no mixing). Each user's messages carry a tag (`[u07]`) the stub
//! answers with, so a crossed wire shows. The bot's resident memory is read from /proc.
//!
//! Needs the homeserver's registration shared secret (`THREEAM_SYNAPSE_SHARED_SECRET`, which
//! the local stack's `.stack/env` sets) to make the accounts.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use matrix_sdk::ruma::OwnedUserId;

use super::quantile;
use super::stub_llm::{Reply, StubLlm};
use crate::client::human::Human;
use crate::config::Config;

const PASSWORD_BYTES: usize = 18;
const TURN_TIMEOUT: Duration = Duration::from_secs(120);
const BASELINE_HOPS: usize = 30;

/// What one user's loop saw.
#[derive(Default)]
struct UserRun {
    latencies: Vec<f64>,
    sent: usize,
    answered: usize,
    /// Answers carrying another user's tag, or none.
    crossed: usize,
}

fn tag(i: usize) -> String {
    format!("[u{i:02}]")
}

/// The tag in a text, if any (`[u` two digits `]`).
fn find_tag(text: &str) -> Option<&str> {
    let start = text.find("[u")?;
    let t = text.get(start..start + 5)?;
    (t.ends_with(']') && t[2..4].chars().all(|c| c.is_ascii_digit())).then_some(t)
}

fn random_secret() -> String {
    use rand::Rng;
    let bytes: Vec<u8> = (0..PASSWORD_BYTES).map(|_| rand::rng().random()).collect();
    hex::encode(bytes)
}

/// Peak and current resident memory of process `pid`, in MiB.
fn memory_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<f64>()
            .ok()
            .map(|kb| kb / 1024.0)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

pub async fn run(cfg: &Config, users: usize, seconds: u64) -> anyhow::Result<bool> {
    cfg.validate_database()?;
    anyhow::ensure!(
        (1..=99).contains(&users),
        "--users must be between 1 and 99"
    );
    let secret = std::env::var("THREEAM_SYNAPSE_SHARED_SECRET").context(
        "THREEAM_SYNAPSE_SHARED_SECRET is not set: the bench makes its own accounts with the \
         homeserver's registration secret (`. .stack/env` on the local stack)",
    )?;
    let homeserver = cfg.matrix.homeserver_url.clone();
    let db = super::TempDatabase::create(&cfg.database.url, "bench_load").await?;
    let stub = StubLlm::start().await;
    stub.set_chat_responder(|req| {
        let last = req["messages"]
            .as_array()?
            .iter()
            .rev()
            .find(|m| m["role"] == "user")?["content"]
            .as_str()?
            .to_owned();
        let t = find_tag(&last).unwrap_or("[none]");
        Some(Reply::text(&format!("Noted for {t}."), -0.05))
    });
    let dir = tempfile::tempdir()?;
    let run_id = &uuid::Uuid::new_v4().simple().to_string()[..8];

    println!("registering the bot and {users} users on {homeserver}…");
    let password = random_secret();
    let register = |local: String| {
        let (homeserver, secret, password) = (homeserver.clone(), secret.clone(), password.clone());
        async move {
            crate::matrix::register::register_user(&homeserver, &secret, &local, &password, false)
                .await
        }
    };
    let bot_id = register(format!("loadbot{run_id}")).await?;
    let mut user_ids = Vec::new();
    for i in 0..users.max(2) {
        user_ids.push(register(format!("load{run_id}u{i:02}")).await?);
    }

    // The bot, as a user runs it.
    let store = dir.path().join("bot");
    let log_path = dir.path().join("bot.log");
    let log = std::fs::File::create(&log_path)?;
    // The bot's own settings, model timeouts at their defaults.
    let mut bot_cfg = Config::default();
    bot_cfg.matrix.homeserver_url = homeserver.clone();
    bot_cfg.matrix.user_id = bot_id.clone();
    bot_cfg.matrix.password = Some(password.clone());
    bot_cfg.matrix.store_path = store;
    bot_cfg.matrix.store_passphrase = Some(random_secret());
    bot_cfg.matrix.allowed_users = user_ids.clone();
    bot_cfg.database.url = db.url.clone();
    bot_cfg.llm.chat_url = stub.url();
    bot_cfg.llm.embedding_url = stub.url();
    let mut bot = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--config")
        .arg(dir.path().join("none.toml"))
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .envs(bot_cfg.bot_process_env())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting the bot process")?;
    let pid = bot.id().context("the bot process has no pid")?;

    println!("logging the users in…");
    let mut humans = Vec::new();
    for (i, id) in user_ids.iter().enumerate() {
        humans.push(Arc::new(
            Human::login(
                &homeserver,
                id,
                &password,
                &dir.path().join(format!("u{i}")),
            )
            .await?,
        ));
    }

    // Baseline: one encrypted hop between two people.
    println!("baseline: {BASELINE_HOPS} encrypted messages from one person to another…");
    let (a, b) = (&humans[0], &humans[1]);
    let b_id: OwnedUserId = user_ids[1].as_str().try_into()?;
    let accept = {
        let b = b.clone();
        let a_id: OwnedUserId = user_ids[0].as_str().try_into()?;
        tokio::spawn(async move { b.accept_invite(Some(&a_id), TURN_TIMEOUT).await })
    };
    let room = a.ensure_dm(&b_id, true, TURN_TIMEOUT).await?;
    accept.await??;
    let mut hops = Vec::new();
    for k in 0..BASELINE_HOPS {
        let t = Instant::now();
        let ev = a.send(&room, &format!("hop {k}")).await?;
        b.wait_for_message(&room, TURN_TIMEOUT, |m| m.event_id == ev)
            .await?;
        hops.push(t.elapsed().as_secs_f64() * 1000.0);
    }

    println!("opening {users} DMs with the bot…");
    let bot_user: OwnedUserId = bot_id.as_str().try_into()?;
    let mut rooms = Vec::new();
    for h in humans.iter().take(users) {
        rooms.push(
            h.ensure_dm(&bot_user, true, TURN_TIMEOUT)
                .await
                .with_context(|| {
                    format!("the bot did not join a DM; its log: {}", tail(&log_path))
                })?,
        );
    }

    println!("{users} users chatting for {seconds} s…");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut peak_rss = 0.0f64;
    let mut tasks = Vec::new();
    for (i, (h, room)) in humans.iter().zip(&rooms).enumerate().take(users) {
        let (h, room) = (h.clone(), room.clone());
        tasks.push(tokio::spawn(async move {
            let mut run = UserRun::default();
            let mut k = 0;
            while Instant::now() < deadline {
                k += 1;
                let t = Instant::now();
                let body = format!("{} note number {k} from user {i}", tag(i));
                let Ok(ev) = h.send(&room, &body).await else {
                    continue;
                };
                run.sent += 1;
                match h.wait_for_reply(&room, &ev, TURN_TIMEOUT).await {
                    Ok(reply) => {
                        run.answered += 1;
                        run.latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                        if reply.body != format!("Noted for {}.", tag(i)) {
                            run.crossed += 1;
                        }
                    }
                    Err(_) => break,
                }
            }
            run
        }));
    }
    // Sample the bot's memory while the users talk.
    while tasks.iter().any(|t| !t.is_finished()) {
        if let Some((peak, _)) = memory_mib(pid) {
            peak_rss = peak_rss.max(peak);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut runs = Vec::new();
    for t in tasks {
        runs.push(t.await?);
    }
    // Let the last replies be recorded before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    if let Some((peak, _)) = memory_mib(pid) {
        peak_rss = peak_rss.max(peak);
    }

    // Nothing lost, nothing twice, nothing mixed, by the database and the model's prompts.
    let stored: Vec<(String, String, String)> = crate::store::messages::all_user_messages(&db.pool)
        .await?
        .into_iter()
        .filter(|(_, body, _)| find_tag(body).is_some())
        .collect();
    let sent: usize = runs.iter().map(|r| r.sent).sum();
    let answered: usize = runs.iter().map(|r| r.answered).sum();
    let crossed: usize = runs.iter().map(|r| r.crossed).sum();
    let unanswered_in_db = stored.iter().filter(|(_, _, s)| s != "answered").count();
    let misfiled = stored
        .iter()
        .filter(|(user, body, _)| {
            let i = user_ids.iter().position(|u| u == user);
            find_tag(body) != i.map(tag).as_deref()
        })
        .count();
    let mut mixed_prompts = 0;
    for req in stub.chat_requests() {
        let Some(msgs) = req["messages"].as_array() else {
            continue;
        };
        let own = msgs
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .and_then(|m| m["content"].as_str())
            .and_then(find_tag)
            .map(str::to_owned);
        let whole = serde_json::to_string(msgs)?;
        let others = (0..users)
            .map(tag)
            .filter(|t| Some(t) != own.as_ref() && whole.contains(t.as_str()))
            .count();
        if others > 0 {
            mixed_prompts += 1;
        }
    }

    let lat: Vec<f64> = runs.iter().flat_map(|r| r.latencies.clone()).collect();
    let (hop50, hop95) = (quantile(&hops, 0.5), quantile(&hops, 0.95));
    let (t50, t95) = (quantile(&lat, 0.5), quantile(&lat, 0.95));
    println!();
    println!("| {users} users, {seconds} s, debug/release as built | p50 | p95 |");
    println!("|---|---|---|");
    println!("| baseline: one encrypted hop, person to person (ms) | {hop50:.0} | {hop95:.0} |");
    println!("| bot turn: message sent → final answer seen (ms) | {t50:.0} | {t95:.0} |");
    println!(
        "| bot overhead: turn − 2 hops (ms) | {:.0} | {:.0} |",
        t50 - 2.0 * hop50,
        t95 - 2.0 * hop95
    );
    println!(
        "| turn / 2 hops | {:.2} | {:.2} |",
        t50 / (2.0 * hop50),
        t95 / (2.0 * hop95)
    );
    println!();
    println!(
        "turns: {sent} sent, {answered} answered ({:.1} per second); bot peak resident memory {peak_rss:.0} MiB",
        answered as f64 / seconds as f64
    );
    println!(
        "lost: {} (unanswered in the chat) / {unanswered_in_db} (not answered in the database); stored {} of {sent}",
        sent - answered,
        stored.len()
    );
    println!(
        "mixed: {crossed} answers for someone else, {misfiled} messages filed under another user, {mixed_prompts} prompts holding another user's words"
    );

    // A graceful stop, as on SIGTERM.
    if let Some(pid) = bot.id() {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
    let _ = tokio::time::timeout(Duration::from_secs(60), bot.wait()).await;
    for h in humans {
        if let Ok(h) = Arc::try_unwrap(h) {
            h.close().await;
        }
    }
    let ok = sent > 0
        && sent == answered
        && unanswered_in_db == 0
        && stored.len() == sent
        && crossed + misfiled + mixed_prompts == 0;
    if !ok {
        println!("FAILED; the bot's log ends:\n{}", tail(&log_path));
    }
    Ok(ok)
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_found_and_only_well_formed_ones() {
        assert_eq!(find_tag("[u07] note number 3"), Some("[u07]"));
        assert_eq!(find_tag("Noted for [u12]."), Some("[u12]"));
        assert_eq!(find_tag("[ux1] no"), None);
        assert_eq!(find_tag("nothing"), None);
        assert_eq!(tag(3), "[u03]");
    }
}
