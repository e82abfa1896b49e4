//! The thinking core. It receives [`Incoming`] events, keeps the conversation in the store,
//! answers through the LLM, and speaks through an [`Outbox`]; it knows nothing about Matrix.

pub mod commands;
pub(crate) mod gate_step;
pub mod guard;
pub mod idle;
pub mod looping;
pub mod prompt;
pub mod researcher;
mod self_review;
pub(crate) mod toolsmith;
pub mod turn;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;

use crate::chat::{IncomingMessage, OutMessage, Outbox};
use crate::config::Config;
use crate::llm::LlmClient;
use crate::store;

/// An event from the chat layer. Serializable, so the chat layer can keep it on disk while
/// the database is away.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Incoming {
    Message(IncomingMessage),
    Reaction {
        event_id: String,
        room_id: String,
        sender: String,
        target_event_id: String,
        key: String,
    },
    /// A redaction by `sender` of event `redacts`: taking a reaction back, or a message
    /// (then it is scrubbed, and what was learned only from it forgotten).
    Redaction {
        event_id: String,
        room_id: String,
        sender: String,
        redacts: String,
    },
    /// `sender` edited their message `edits`; `body` is its new text.
    Edit {
        room_id: String,
        sender: String,
        edits: String,
        body: String,
    },
}

impl Incoming {
    pub fn room_id(&self) -> &str {
        match self {
            Incoming::Message(m) => &m.room_id,
            Incoming::Reaction { room_id, .. }
            | Incoming::Redaction { room_id, .. }
            | Incoming::Edit { room_id, .. } => room_id,
        }
    }
}

/// Whether `e` means the database is unreachable (an outage outlasted the patience), as
/// opposed to a refusal that retrying cannot fix.
pub fn is_unavailable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<sqlx::Error>()
            .is_some_and(crate::db::is_transient)
    })
}

/// Work that takes a while, done in order per room.
#[derive(Debug, Clone)]
pub enum Job {
    Answer(i64),
    /// Command `id` (its stored message), run once to its end even across a crash.
    Command {
        id: i64,
        command: commands::Command,
        message: IncomingMessage,
    },
    /// The owner reacted ✅ or ❌ to a request for approval.
    Decided(store::approvals::Approval),
    /// The owner gave a reply 👎: offer the tag reactions under it (once per reply).
    OfferTags {
        room_id: String,
        user_id: String,
        target_event_id: String,
        experience_id: i64,
    },
}

/// Tuning that tests shorten.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Minimum time between two edits of a streaming reply.
    pub edit_interval: Duration,
    /// How long to wait for the database before giving up on a step (an incoming event then
    /// goes to the chat layer's spool; an answer waits in the retry queue).
    pub db_patience: Duration,
    /// How often queued messages are retried while the model server is away.
    pub retry_interval: Duration,
    /// How long a message that cannot be decrypted waits for its key before its sender is
    /// told (see `matrix::late_keys`).
    pub key_patience: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            edit_interval: Duration::from_millis(800),
            db_patience: Duration::from_secs(20),
            retry_interval: Duration::from_secs(10),
            key_patience: Duration::from_secs(60),
        }
    }
}

/// A claim older than this is stale (its task died, or could not note how it ended while the
/// database was away): no answer takes so long, and no command (a night included).
const STALE_ANSWER: Duration = Duration::from_secs(15 * 60);
const STALE_COMMAND: Duration = Duration::from_secs(3 * 3600);

/// Runs of a command before it is given up (a crash during each).
const MAX_COMMAND_ATTEMPTS: i32 = 3;

const TAGS_OFFER: &str = "Sorry that missed. If you like, tell me what was wrong by tapping a \
     reaction under my answer: 🤥 made things up · 📜 too long · 🎯 off-topic · ❌ wrong. Or \
     reply to my answer with a comment. I go through this feedback every night.";

pub struct Assistant {
    pub(crate) db: PgPool,
    pub(crate) llm: Arc<LlmClient>,
    pub(crate) cfg: Arc<Config>,
    pub(crate) outbox: Arc<dyn Outbox>,
    pub(crate) timing: Timing,
    /// Web search for the gate's search path; `None` when the web is disabled.
    pub(crate) web: Option<Arc<gate_step::WebAccess>>,
    /// Rooms told that the model server is down, so they are told once per outage.
    outage_notified: Mutex<HashSet<String>>,
    /// One turn at a time per room keeps answers in order.
    room_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Work left running after a reply (realtime learning), awaited by [`Assistant::settle`].
    background: tokio_util::task::TaskTracker,
    /// The turn's notes go in a system message of their own, until the chat template refuses
    /// a second system message (then they go inside the user's message).
    notes_as_system: std::sync::atomic::AtomicBool,
    /// The tool sandbox once the start-up probe proved it, or why tools are disabled.
    sandbox: tokio::sync::OnceCell<Result<crate::tools::sandbox::Sandbox, String>>,
    /// When this core started: claims older than that belong to a process that is gone.
    started: std::time::Instant,
    /// Each user's last idle hour (see [`idle`]).
    idle_hours: Mutex<HashMap<String, chrono::DateTime<chrono::Utc>>>,
}

impl Assistant {
    pub fn new(
        db: PgPool,
        llm: Arc<LlmClient>,
        cfg: Arc<Config>,
        outbox: Arc<dyn Outbox>,
        timing: Timing,
    ) -> Self {
        let web = match gate_step::WebAccess::from_config(&cfg.web) {
            Ok(web) => web.map(Arc::new),
            Err(e) => {
                tracing::error!(error = %e, "web search is misconfigured; answering without the web");
                None
            }
        };
        Self {
            db,
            llm,
            cfg,
            outbox,
            timing,
            web,
            outage_notified: Mutex::new(HashSet::new()),
            room_locks: Mutex::new(HashMap::new()),
            background: tokio_util::task::TaskTracker::new(),
            notes_as_system: std::sync::atomic::AtomicBool::new(true),
            sandbox: tokio::sync::OnceCell::new(),
            started: std::time::Instant::now(),
            idle_hours: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until the work started after replies (realtime learning) is done: before a
    /// shutdown, so nothing learned is lost, and in benchmarks that check memory after a turn.
    pub async fn settle(&self) {
        self.background.close();
        self.background.wait().await;
        self.background.reopen();
    }

    pub fn db(&self) -> &PgPool {
        &self.db
    }

    /// The owner left the room and the chat layer left it too: nothing more is sent there
    /// (digests look for another room).
    pub async fn room_left(&self, room_id: &str) -> anyhow::Result<()> {
        store::users::mark_room_left(&self.db, room_id)
            .await
            .context("marking the room left")?;
        Ok(())
    }

    /// `user_id` left room `room_id`. When they own it, the room is over for the bot: it is
    /// marked left (no answers, no digests go there) and the caller should leave it too.
    /// Returns whether they owned it.
    pub async fn member_left(&self, room_id: &str, user_id: &str) -> anyhow::Result<bool> {
        if !self.is_owner(room_id, user_id).await? {
            return Ok(false);
        }
        self.room_left(room_id).await?;
        Ok(true)
    }

    fn room_lock(&self, room_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.room_locks
            .lock()
            .unwrap()
            .entry(room_id.to_owned())
            .or_default()
            .clone()
    }

    /// Stores what must not be lost (waiting out a database outage) and does the quick work
    /// (reactions). Returns the slow work left for the room's worker, if any.
    pub async fn accept(&self, incoming: Incoming) -> anyhow::Result<Option<Job>> {
        match incoming {
            Incoming::Message(m) => self.accept_message(m).await,
            Incoming::Reaction {
                event_id,
                room_id,
                sender,
                target_event_id,
                key,
            } => {
                if !self.is_owner(&room_id, &sender).await? {
                    tracing::info!(%room_id, %sender, "ignoring a reaction from someone who does not own the room");
                    return Ok(None);
                }
                if let Some(approve) = store::approvals::decision(&key) {
                    let decided = self
                        .with_db_retry("decide an approval", || {
                            store::approvals::decide(&self.db, &target_event_id, &sender, approve)
                        })
                        .await?;
                    if let Some(approval) = decided {
                        return Ok(Some(Job::Decided(approval)));
                    }
                }
                let outcome = self
                    .with_db_retry("record a reaction", || {
                        store::feedback::record_reaction(
                            &self.db,
                            &event_id,
                            &sender,
                            &room_id,
                            &target_event_id,
                            &key,
                        )
                    })
                    .await?;
                tracing::info!(%event_id, %key, ?outcome, "reaction");
                Ok(match outcome {
                    store::feedback::ReactionOutcome::Feedback {
                        experience_id,
                        value: -1,
                    } => Some(Job::OfferTags {
                        room_id,
                        user_id: sender,
                        target_event_id,
                        experience_id,
                    }),
                    _ => None,
                })
            }
            Incoming::Redaction {
                room_id,
                sender,
                redacts,
                ..
            } => {
                if self.is_owner(&room_id, &sender).await? {
                    self.with_db_retry("withdraw a reaction", || {
                        store::feedback::redact_reaction(&self.db, &redacts, &sender)
                    })
                    .await?;
                    let erased =
                        crate::memory::control::forget_message(&self.db, &sender, &redacts)
                            .await
                            .context("forgetting a redacted message")?;
                    if erased > 0 {
                        tracing::info!(erased, "a redacted message took its facts with it");
                    }
                }
                Ok(None)
            }
            Incoming::Edit {
                room_id,
                sender,
                edits,
                body,
            } => {
                if self.is_owner(&room_id, &sender).await? {
                    self.with_db_retry("store an edit", || {
                        store::messages::replace_body(&self.db, &sender, &edits, &body)
                    })
                    .await?;
                }
                Ok(None)
            }
        }
    }

    /// The slow part: answering a message or running a command.
    pub async fn process(&self, job: Job) -> anyhow::Result<()> {
        match job {
            Job::Answer(id) => self.answer(id).await.map(|_| ()),
            Job::Command {
                id,
                command,
                message,
            } => self.run_command(id, command, &message).await,
            Job::Decided(approval) => self.decide(approval).await,
            Job::OfferTags {
                room_id,
                user_id,
                target_event_id,
                experience_id,
            } => {
                self.offer_tags(&room_id, &user_id, &target_event_id, experience_id)
                    .await
            }
        }
    }

    /// `accept` then `process`, for callers without a worker of their own.
    pub async fn handle(&self, incoming: Incoming) -> anyhow::Result<()> {
        match self.accept(incoming).await? {
            Some(job) => self.process(job).await,
            None => Ok(()),
        }
    }

    /// Start-up recovery: decisions whose effect a stop cut off are finished, and turns
    /// interrupted by a crash go back in the queue (returns how many).
    pub async fn recover(&self) -> anyhow::Result<u64> {
        let unapplied = self
            .with_db_retry("find unfinished decisions", || {
                store::approvals::unapplied(&self.db)
            })
            .await?;
        for approval in unapplied {
            tracing::info!(id = approval.id, kind = %approval.kind, "finishing a decision the last stop cut off");
            if let Err(e) = self.decide(approval).await {
                tracing::warn!(error = format!("{e:#}"), "could not finish a decision");
            }
        }
        let running_for = self.started.elapsed();
        self.with_db_retry("release interrupted turns", || {
            store::messages::release_interrupted(&self.db, running_for)
        })
        .await
    }

    async fn is_owner(&self, room_id: &str, sender: &str) -> anyhow::Result<bool> {
        let owner = self
            .with_db_retry("look up the room", || {
                store::users::room_owner(&self.db, room_id)
            })
            .await?;
        Ok(owner.as_deref() == Some(sender))
    }

    async fn accept_message(&self, m: IncomingMessage) -> anyhow::Result<Option<Job>> {
        let tz = self.cfg.schedule.default_timezone.clone();
        self.with_db_retry("register the user", || {
            store::users::upsert_user(&self.db, &m.sender, &tz)
        })
        .await?;
        let owner = self
            .with_db_retry("register the room", || {
                store::users::claim_room(&self.db, &m.room_id, &m.sender, m.encrypted)
            })
            .await?;
        if owner != m.sender {
            tracing::info!(room_id = %m.room_id, sender = %m.sender, %owner, "ignoring a message from someone who does not own the room");
            return Ok(None);
        }
        let command = self
            .with_db_retry("read the message's command", || {
                commands::for_message(&self.db, &m.body, m.in_reply_to.as_deref(), &m.sender)
            })
            .await?;
        let new = store::messages::NewMessage {
            user_id: &m.sender,
            room_id: &m.room_id,
            event_id: &m.event_id,
            body: &m.body,
            thread_root: m.thread_root.as_deref(),
            in_reply_to: m.in_reply_to.as_deref(),
            sent_at: m.sent_at,
            is_command: command.is_some(),
        };
        let stored = self
            .with_db_retry("store the message", || {
                store::messages::store_user_message(&self.db, &new)
            })
            .await?;
        let id = match stored {
            store::messages::Stored::New(id) => {
                crate::metrics::message_received();
                id
            }
            store::messages::Stored::Duplicate { id, state } => {
                tracing::debug!(event_id = %m.event_id, %state, "event delivered again");
                if state == "received" || state == "failed" {
                    id
                } else {
                    return Ok(None);
                }
            }
        };
        Ok(Some(match command {
            Some(command) => Job::Command {
                id,
                command,
                message: m,
            },
            None => Job::Answer(id),
        }))
    }

    /// After a 👎: the tag reactions under the reply, ready to tap, and one line saying what
    /// they mean. Once per reply, however often the 👎 is taken back and given again.
    async fn offer_tags(
        &self,
        room_id: &str,
        user_id: &str,
        target_event_id: &str,
        experience_id: i64,
    ) -> anyhow::Result<()> {
        let first = self
            .with_db_retry("mark the tags offered", || {
                store::feedback::offer_tags_once(&self.db, experience_id)
            })
            .await?;
        if !first {
            return Ok(());
        }
        for (key, _) in crate::behaviour::TAG_REACTIONS {
            if let Err(e) = self.outbox.react(room_id, target_event_id, key).await {
                tracing::warn!(error = %e, %key, "could not offer a tag reaction");
            }
        }
        let thread = self
            .with_db_retry("look up the reply's thread", || {
                store::messages::thread_of(&self.db, target_event_id)
            })
            .await?;
        self.say(
            room_id,
            user_id,
            TAGS_OFFER,
            thread,
            Some(target_event_id.to_owned()),
        )
        .await
    }

    /// Carries out (or drops) an approval the owner just decided, through the command that
    /// asked for it, and says what happened.
    async fn decide(&self, approval: store::approvals::Approval) -> anyhow::Result<()> {
        let text = if commands::forget::KINDS.contains(&approval.kind.as_str()) {
            commands::forget::decided(self, &approval).await?
        } else if researcher::KINDS.contains(&approval.kind.as_str()) {
            self.research_decided(&approval).await?
        } else if approval.kind == self_review::NOTE {
            self.note_decided(&approval).await?
        } else if toolsmith::KINDS.contains(&approval.kind.as_str()) {
            // The tool's stages post their own messages (the next stage, or what happened).
            self.tool_decided(&approval).await?;
            return self
                .with_db_retry("mark the decision applied", || {
                    store::approvals::mark_applied(&self.db, approval.id)
                })
                .await;
        } else {
            tracing::warn!(kind = %approval.kind, "approval of an unknown kind");
            return Ok(());
        };
        self.say(
            &approval.room_id,
            &approval.user_id,
            &text,
            None,
            Some(approval.event_id.clone()),
        )
        .await?;
        self.with_db_retry("mark the decision applied", || {
            store::approvals::mark_applied(&self.db, approval.id)
        })
        .await
    }

    /// Answers a command in its thread, as a reply to it.
    pub(crate) async fn reply(&self, m: &IncomingMessage, text: &str) -> anyhow::Result<()> {
        self.say(
            &m.room_id,
            &m.sender,
            text,
            m.thread_root.clone(),
            Some(m.event_id.clone()),
        )
        .await
    }

    /// [`Self::reply`], returning the answer's event id (to wait for reactions to it).
    pub(crate) async fn reply_returning_id(
        &self,
        m: &IncomingMessage,
        text: &str,
    ) -> anyhow::Result<String> {
        self.say_returning_id(
            &m.room_id,
            &m.sender,
            text,
            m.thread_root.clone(),
            Some(m.event_id.clone()),
        )
        .await
    }

    /// Sends a complete message and logs it.
    pub(crate) async fn say(
        &self,
        room_id: &str,
        user_id: &str,
        text: &str,
        thread_root: Option<String>,
        reply_to: Option<String>,
    ) -> anyhow::Result<()> {
        self.say_returning_id(room_id, user_id, text, thread_root, reply_to)
            .await
            .map(|_| ())
    }

    /// Sends a complete message (split if long) and logs it; returns the first part's id.
    pub(crate) async fn say_returning_id(
        &self,
        room_id: &str,
        user_id: &str,
        text: &str,
        thread_root: Option<String>,
        reply_to: Option<String>,
    ) -> anyhow::Result<String> {
        let mut first = None;
        for (i, part) in crate::chat::split_reply(text, crate::chat::MAX_PART_BYTES)
            .into_iter()
            .enumerate()
        {
            let msg = OutMessage {
                markdown: part.clone(),
                complete: true,
                thread_root: thread_root.clone(),
                reply_to: if i == 0 { reply_to.clone() } else { None },
                // What the bot says in answer to an event is said once, even when a crash
                // makes it run the same step again.
                once: reply_to
                    .as_ref()
                    .map(|to| format!("say to {to} part {i}: {part}")),
            };
            let event_id = self.outbox.send(room_id, &msg).await?;
            self.with_db_retry("log the bot's message", || {
                store::messages::record_bot_message(
                    &self.db,
                    user_id,
                    room_id,
                    &event_id,
                    &part,
                    reply_to.as_deref(),
                )
            })
            .await?;
            first.get_or_insert(event_id);
        }
        first.ok_or_else(|| anyhow::anyhow!("nothing to say"))
    }

    /// Answers every message still waiting (after an outage or a restart) and runs every
    /// command a crash caught. Returns how many were answered or run.
    pub async fn retry_pending(&self) -> anyhow::Result<usize> {
        // A claim this old belongs to a task that died without a restart.
        store::messages::release_claims_older_than(&self.db, STALE_ANSWER, false).await?;
        store::messages::release_claims_older_than(&self.db, STALE_COMMAND, true).await?;
        let pending = store::messages::pending(&self.db, 50).await?;
        let mut answered = 0;
        for p in pending {
            if p.is_command {
                if self.rerun_command(p).await? {
                    answered += 1;
                }
                continue;
            }
            match self.answer(p.id).await? {
                turn::Answered::Yes => answered += 1,
                // The rest would fail the same way.
                turn::Answered::ModelAway => break,
                // One message the model refuses never holds up the others.
                turn::Answered::NotMine | turn::Answered::Later | turn::Answered::GaveUp => {}
            }
        }
        Ok(answered)
    }

    /// Runs command `id` once to its end: claimed first (so a crash leaves it to
    /// [`Self::retry_pending`], and two workers never both run it), marked done after.
    async fn run_command(
        &self,
        id: i64,
        command: commands::Command,
        m: &IncomingMessage,
    ) -> anyhow::Result<()> {
        let claimed = self
            .with_db_retry("claim the command", || store::messages::claim(&self.db, id))
            .await?;
        if !claimed {
            return Ok(());
        }
        match command.run(self, m).await {
            Ok(()) => {
                self.with_db_retry("mark the command done", || {
                    store::messages::mark_done(&self.db, id)
                })
                .await
            }
            Err(e) => {
                let _ = store::messages::mark_failed(&self.db, id).await;
                Err(e)
            }
        }
    }

    /// A command a crash (or a failed answer) left unfinished: run again, or given up after
    /// [`MAX_COMMAND_ATTEMPTS`] tries. Returns whether it ran.
    async fn rerun_command(&self, p: store::messages::Pending) -> anyhow::Result<bool> {
        let command =
            commands::for_message(&self.db, &p.body, p.in_reply_to.as_deref(), &p.user_id).await?;
        let claimed_to_drop = p.attempts >= MAX_COMMAND_ATTEMPTS || command.is_none();
        if claimed_to_drop {
            if store::messages::claim(&self.db, p.id).await? {
                store::messages::abandon(&self.db, p.id).await?;
                tracing::warn!(
                    id = p.id,
                    attempts = p.attempts,
                    "gave up on a command that keeps failing"
                );
            }
            return Ok(false);
        }
        let m = incoming_of(&p);
        tracing::info!(id = p.id, "running a command the last stop cut off");
        self.run_command(p.id, command.expect("checked above"), &m)
            .await?;
        Ok(true)
    }

    /// Runs a database operation, retrying while the database is unreachable, so a brief
    /// outage delays an event instead of losing it.
    pub(crate) async fn with_db_retry<T, F, Fut>(&self, what: &str, op: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = sqlx::Result<T>>,
    {
        use backon::Retryable;
        // The backoff counts only its own waits; a try against an unreachable database can
        // itself last the pool's acquire timeout, so the patience is also a deadline.
        let deadline = std::time::Instant::now() + self.timing.db_patience;
        op.retry(crate::db::patient_backoff(self.timing.db_patience))
            .when(|e| crate::db::is_transient(e) && std::time::Instant::now() < deadline)
            .notify(|e, _| {
                tracing::warn!(error = %e, "database unavailable while trying to {what}; retrying")
            })
            .await
            .map_err(|e| anyhow::Error::new(e).context(format!("could not {what}")))
    }
}

/// A stored message as the chat layer delivered it (to answer or rerun it).
pub(crate) fn incoming_of(p: &store::messages::Pending) -> IncomingMessage {
    IncomingMessage {
        event_id: p.event_id.clone(),
        room_id: p.room_id.clone(),
        sender: p.user_id.clone(),
        body: p.body.clone(),
        thread_root: p.thread_root.clone(),
        in_reply_to: p.in_reply_to.clone(),
        sent_at: p.sent_at,
        // Only a room's first message reads this, and this one is stored already.
        encrypted: true,
    }
}
