//! The bot's life in Matrix: log in once and restore the session afterwards, follow invites
//! from allow-listed users, turn timeline events into [`Incoming`] for the core, keep syncing
//! through homeserver restarts, and shut down without cutting a reply in half.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::deserialized_responses::EncryptionInfo;
use matrix_sdk::room::Room;
use matrix_sdk::ruma::api::client::membership::leave_room;
use matrix_sdk::ruma::events::reaction::{OriginalSyncReactionEvent, ReactionEventContent};
use matrix_sdk::ruma::events::relation::Annotation;
use matrix_sdk::ruma::events::room::encrypted::{
    EncryptedEventScheme, OriginalSyncRoomEncryptedEvent,
};
use matrix_sdk::ruma::events::room::member::{
    MembershipState, OriginalSyncRoomMemberEvent, StrippedRoomMemberEvent,
};
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, Relation, RoomMessageEventContent,
};
use matrix_sdk::ruma::events::room::redaction::OriginalSyncRoomRedactionEvent;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId};
use matrix_sdk::{Client, RoomState};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::format;
use super::privacy::{self, Privacy};
use super::probe::SESSION_FILE;
use crate::assistant::{Assistant, Incoming, Job};
use crate::chat::{AllowList, IncomingMessage, OutMessage, Outbox, OutboxError};
use crate::config::MatrixConfig;

/// Builds the client on the configured store and logs in, or restores the saved session.
/// Returns the client and whether the session was restored.
pub async fn connect(cfg: &MatrixConfig) -> anyhow::Result<(Client, bool)> {
    private_dir(&cfg.store_path).with_context(|| {
        format!(
            "cannot create matrix.store_path {}",
            cfg.store_path.display()
        )
    })?;
    let passphrase = cfg.store_passphrase.as_deref().filter(|p| !p.is_empty());
    store_encryption::check(&cfg.store_path, passphrase.is_some())?;
    if passphrase.is_none() {
        tracing::warn!(
            "matrix.store_passphrase is not set: the bot's encryption keys are stored unencrypted in {}",
            cfg.store_path.display()
        );
    }
    let session_path = cfg.store_path.join(SESSION_FILE);
    let client = Client::builder()
        .homeserver_url(&cfg.homeserver_url)
        .sqlite_store(cfg.store_path.join("sdk"), passphrase)
        .build()
        .await
        .with_context(|| {
            format!(
                "cannot set up a Matrix client for {} with the store at {}",
                cfg.homeserver_url,
                cfg.store_path.display()
            )
        })?;

    if session_path.exists() {
        let text = std::fs::read_to_string(&session_path)?;
        let session: MatrixSession = serde_json::from_str(&text).with_context(|| {
            format!(
                "saved session {} is damaged; delete the store to log in anew",
                session_path.display()
            )
        })?;
        if session.meta.user_id.as_str() != cfg.user_id {
            anyhow::bail!(
                "the store at {} belongs to {}, not {}; use another matrix.store_path",
                cfg.store_path.display(),
                session.meta.user_id,
                cfg.user_id
            );
        }
        client
            .restore_session(session)
            .await
            .context("restoring the saved Matrix session")?;
        tracing::info!(user = %cfg.user_id, "restored the saved Matrix session");
        return Ok((client, true));
    }

    let password = cfg.password.as_deref().filter(|p| !p.is_empty()).context(
        "matrix.password is needed for the first login (an access token alone cannot create this device's keys)",
    )?;
    let localpart = cfg
        .user_id
        .trim_start_matches('@')
        .split(':')
        .next()
        .unwrap_or_default();
    client
        .matrix_auth()
        .login_username(localpart, password)
        .initial_device_display_name(&cfg.device_name)
        .await
        .with_context(|| format!("logging in as {} at {}", cfg.user_id, cfg.homeserver_url))?;
    let session = client
        .matrix_auth()
        .session()
        .context("no session after login")?;
    write_private(&session_path, &serde_json::to_vec(&session)?)?;
    tracing::info!(user = %cfg.user_id, device = %session.meta.device_id, "logged in; session saved");
    Ok((client, false))
}

/// Creates `dir` if needed and makes it readable by this user only (0700).
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Whether the store on disk was made with a passphrase, recorded beside it: a store made
/// without one cannot be opened with one (or the other way round), and SQLite's error would
/// not say so.
mod store_encryption {
    use std::path::Path;

    const MARKER: &str = "store-encryption";

    /// Fails, saying what to do, when the configuration disagrees with the store; records
    /// the choice for a new store.
    pub fn check(store: &Path, with_passphrase: bool) -> anyhow::Result<()> {
        let want = if with_passphrase {
            "passphrase"
        } else {
            "none"
        };
        let marker = store.join(MARKER);
        let found = match std::fs::read_to_string(&marker) {
            Ok(s) => s.trim().to_owned(),
            // A store from before the marker had no passphrase.
            Err(_) if store.join("sdk").exists() => "none".to_owned(),
            Err(_) => {
                std::fs::write(&marker, want)?;
                return Ok(());
            }
        };
        if found != want {
            anyhow::bail!(
                "the Matrix store at {} was made {} a passphrase, and matrix.store_passphrase is {}; \
                 move the store away to start a new one (the bot logs in again as a new device), \
                 or set the passphrase it was made with",
                store.display(),
                if found == "passphrase" {
                    "with"
                } else {
                    "without"
                },
                if with_passphrase { "set" } else { "not set" },
            );
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn a_store_opens_only_as_it_was_made() {
            let dir = tempfile::tempdir().unwrap();
            super::check(dir.path(), true).unwrap();
            super::check(dir.path(), true).unwrap();
            let err = super::check(dir.path(), false).unwrap_err().to_string();
            assert!(err.contains("made with a passphrase"), "{err}");
            let old = tempfile::tempdir().unwrap();
            std::fs::create_dir(old.path().join("sdk")).unwrap();
            assert!(super::check(old.path(), true).is_err());
            super::check(old.path(), false).unwrap();
        }
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

/// Runs the bot until `shutdown` is cancelled.
pub async fn run(
    client: Client,
    restored: bool,
    cfg: MatrixConfig,
    assistant: Arc<Assistant>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let allow = Arc::new(AllowList::new(&cfg.allowed_users)?);
    let me: OwnedUserId = client
        .user_id()
        .context("client has no user id")?
        .to_owned();
    let tracker = TaskTracker::new();
    let workers = Arc::new(Workers {
        assistant: assistant.clone(),
        tracker: tracker.clone(),
        queues: Default::default(),
    });
    // After a fresh login the first sync holds history the bot was never asked about.
    let live = Arc::new(AtomicBool::new(restored));

    let spool_dir = cfg.store_path.join("spool");
    let spool = super::spool::Spool::open(&spool_dir)
        .with_context(|| format!("cannot open the event spool {}", spool_dir.display()))?;
    let handlers = Handlers {
        me: me.clone(),
        allow,
        workers: workers.clone(),
        live: live.clone(),
        refused: Arc::default(),
        spool: Arc::new(spool),
        spool_order: Arc::default(),
        undecrypted: Arc::default(),
    };
    register_handlers(&client, &handlers);

    if let Err(e) = client
        .account()
        .set_display_name(Some(&cfg.display_name))
        .await
    {
        tracing::warn!(error = %e, "could not set the display name");
    }
    sync_until_ok(&client, &shutdown).await;
    live.store(true, Ordering::SeqCst);
    tracing::info!(user = %me, "initial sync done; listening");
    // Late keys: a message noted as undecryptable is answered when its key arrives, or its
    // sender told when none comes.
    if let Some(mut keys) = client.encryption().room_keys_received_stream().await {
        let handlers = handlers.clone();
        let client = client.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            use futures::StreamExt;
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    got = keys.next() => match got {
                        Some(Ok(infos)) => {
                            let keys = infos.into_iter().map(|k| (k.room_id, k.session_id)).collect();
                            handlers.keys_arrived(&client, keys).await
                        }
                        Some(Err(e)) => tracing::debug!(error = %e, "room key updates lagged"),
                        None => break,
                    },
                    _ = tick.tick() => handlers.give_up_waiting().await,
                }
            }
        });
    }
    // In the background: it waits for key uploads, and answering must not wait for it.
    tracker.spawn({
        let client = client.clone();
        let cfg = cfg.clone();
        let shutdown = shutdown.clone();
        async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = super::recovery::ensure(&client, &cfg) => {}
            }
        }
    });

    // Messages stored but not answered (a crash, an outage) are answered now, then retried
    // periodically while the model server is away.
    let recovered = assistant.recover().await?;
    if recovered > 0 {
        tracing::info!(
            recovered,
            "turns interrupted by the last stop are queued again"
        );
    }
    let retry = {
        let assistant = assistant.clone();
        let shutdown = shutdown.clone();
        let interval = assistant.timing.retry_interval;
        let handlers = handlers.clone();
        tracker.spawn(async move {
            loop {
                handlers.replay_spool().await;
                match assistant.retry_pending().await {
                    Ok(n) if n > 0 => tracing::info!(answered = n, "answered queued messages"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "retrying queued messages failed"),
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(interval) => {}
                }
            }
        })
    };

    // The homeserver may be restarting: wait 1 s, doubling to 30 s, until a sync succeeds.
    let policy = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(30))
        .without_max_times();
    use backon::BackoffBuilder;
    let mut waits = policy.build();
    while !shutdown.is_cancelled() {
        let settings = SyncSettings::default().timeout(Duration::from_secs(30));
        tokio::select! {
            _ = shutdown.cancelled() => break,
            res = client.sync_once(settings) => match res {
                Ok(_) => waits = policy.build(),
                Err(e) => {
                    let delay = waits.next().unwrap_or(Duration::from_secs(30));
                    tracing::warn!(error = %e, retry_in = ?delay, "sync failed; the homeserver may be restarting");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
    tracing::info!("shutting down: finishing replies in progress");
    workers.close();
    tracker.close();
    drop(retry);
    if tokio::time::timeout(Duration::from_secs(90), tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("some replies did not finish within 90 s");
    }
    if tokio::time::timeout(Duration::from_secs(30), assistant.settle())
        .await
        .is_err()
    {
        tracing::warn!(
            "learning from the last exchanges did not finish within 30 s; the night will read them"
        );
    }
    Ok(())
}

async fn sync_until_ok(client: &Client, shutdown: &CancellationToken) {
    use backon::Retryable;
    // No long-poll: with a restored token and nothing new it would wait 30 s.
    let _ = (|| client.sync_once(SyncSettings::default().timeout(Duration::ZERO)))
        .retry(
            backon::ExponentialBuilder::default()
                .with_min_delay(Duration::from_secs(1))
                .with_max_delay(Duration::from_secs(30))
                .without_max_times(),
        )
        .when(|_| !shutdown.is_cancelled())
        .notify(|e, delay| tracing::warn!(error = %e, retry_in = ?delay, "initial sync failed"))
        .await;
}

/// One queue and worker per room: a room's jobs run in order, rooms run side by side.
struct Workers {
    assistant: Arc<Assistant>,
    tracker: TaskTracker,
    queues: std::sync::Mutex<HashMap<String, mpsc::UnboundedSender<Job>>>,
}

impl Workers {
    fn submit(&self, room_id: &str, job: Job) {
        let mut queues = self.queues.lock().unwrap();
        if let Some(tx) = queues.get(room_id) {
            if let Err(mpsc::error::SendError(job)) = tx.send(job) {
                queues.remove(room_id);
                drop(queues);
                return self.submit(room_id, job);
            }
            return;
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        tx.send(job).expect("receiver is alive");
        queues.insert(room_id.to_owned(), tx);
        let assistant = self.assistant.clone();
        let room = room_id.to_owned();
        self.tracker.spawn(async move {
            while let Some(job) = rx.recv().await {
                if let Err(e) = assistant.process(job).await {
                    tracing::error!(room_id = %room, error = format!("{e:#}"), "a job failed");
                }
            }
        });
    }

    /// No new jobs; workers finish what is queued and stop.
    fn close(&self) {
        self.queues.lock().unwrap().clear();
    }
}

/// What every event handler needs: who the bot is, who it serves, where work goes, and
/// whether the first sync is done (events before it are history, not new messages).
#[derive(Clone)]
struct Handlers {
    me: OwnedUserId,
    allow: Arc<AllowList>,
    workers: Arc<Workers>,
    live: Arc<AtomicBool>,
    /// Rooms told why the bot pauses there, and what they were told about: said once per
    /// change, not at every message.
    refused: Arc<std::sync::Mutex<HashMap<OwnedRoomId, Privacy>>>,
    /// Events the database could not take yet.
    spool: Arc<super::spool::Spool>,
    /// Held while an event goes to the core or the spool, and while the spool replays: an
    /// event never overtakes one spooled before it.
    spool_order: Arc<tokio::sync::Mutex<()>>,
    /// Messages that could not be decrypted yet, waiting for their keys.
    undecrypted: Arc<std::sync::Mutex<super::late_keys::Pending>>,
}

fn register_handlers(client: &Client, h: &Handlers) {
    let on = h.clone();
    client.add_event_handler(
        move |ev: StrippedRoomMemberEvent, room: Room, client: Client| {
            let on = on.clone();
            async move { on.invite(ev, room, client).await }
        },
    );
    let on = h.clone();
    client.add_event_handler(move |ev: OriginalSyncRoomMemberEvent, room: Room| {
        let on = on.clone();
        async move { on.member(ev, room).await }
    });
    let on = h.clone();
    client.add_event_handler(
        move |ev: OriginalSyncRoomMessageEvent, room: Room, enc: Option<EncryptionInfo>| {
            let on = on.clone();
            async move { on.message(ev, room, enc.is_some()).await }
        },
    );
    let on = h.clone();
    client.add_event_handler(move |ev: OriginalSyncRoomEncryptedEvent, room: Room| {
        let on = on.clone();
        async move { on.undecryptable(ev, room) }
    });
    let on = h.clone();
    client.add_event_handler(move |ev: OriginalSyncReactionEvent, room: Room| {
        let on = on.clone();
        async move { on.reaction(ev, room).await }
    });
    let on = h.clone();
    client.add_event_handler(move |ev: OriginalSyncRoomRedactionEvent, room: Room| {
        let on = on.clone();
        async move { on.redaction(ev, room).await }
    });
}

impl Handlers {
    /// Events from others, after the first sync.
    fn fresh(&self, sender: &OwnedUserId) -> bool {
        self.live.load(Ordering::SeqCst) && *sender != self.me
    }

    /// Invites: join for allow-listed inviters, decline everyone else.
    async fn invite(&self, ev: StrippedRoomMemberEvent, room: Room, client: Client) {
        if ev.state_key != self.me
            || ev.content.membership != MembershipState::Invite
            || room.state() != RoomState::Invited
        {
            return;
        }
        if self.allow.allows(ev.sender.as_str()) {
            tokio::spawn(join_with_retry(room, ev.sender.clone()));
            return;
        }
        tracing::info!(room_id = %room.room_id(), inviter = %ev.sender, "declining an invite from a user not on the allow-list");
        // Declining with a reason lets the inviter's client say why.
        let mut req = leave_room::v3::Request::new(room.room_id().to_owned());
        req.reason = Some(
            "Sorry, I'm a personal assistant and only talk to the people I was set up for.".into(),
        );
        if let Err(e) = client.send(req).await {
            tracing::warn!(error = %e, "could not decline the invite");
        }
    }

    /// Leaves rooms where nobody is left to talk to, and rooms their owner left (others may
    /// still be there, and nothing of the owner's may reach them).
    async fn member(&self, ev: OriginalSyncRoomMemberEvent, room: Room) {
        if ev.state_key == self.me
            || !matches!(
                ev.content.membership,
                MembershipState::Leave | MembershipState::Ban
            )
            || room.state() != RoomState::Joined
        {
            return;
        }
        let owner_left = match self
            .workers
            .assistant
            .member_left(room.room_id().as_str(), ev.state_key.as_str())
            .await
        {
            Ok(left) => left,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "could not look up the room's owner"
                );
                false
            }
        };
        // The member list, not the sync summary's count: Synapse leaves that out without lazy
        // loading, and a count of 0 would make the bot leave whenever anyone leaves.
        let alone = room
            .members(matrix_sdk::RoomMemberships::JOIN)
            .await
            .is_ok_and(|m| m.len() <= 1);
        if owner_left || alone {
            tracing::info!(room_id = %room.room_id(), owner_left, "nobody to talk to here any more; leaving");
            if let Err(e) = room.leave().await {
                tracing::warn!(error = %e, "could not leave the room");
            }
            // `member_left` has already marked the room left when its owner went.
            if !owner_left
                && let Err(e) = self
                    .workers
                    .assistant
                    .room_left(room.room_id().as_str())
                    .await
            {
                tracing::warn!(error = %e, "could not record leaving the room");
            }
        }
    }

    /// Says once per change why the bot pauses in a room that is not private.
    async fn refuse(&self, room: &Room, privacy: Privacy) {
        let told = self
            .refused
            .lock()
            .unwrap()
            .insert(room.room_id().to_owned(), privacy)
            == Some(privacy);
        tracing::info!(room_id = %room.room_id(), ?privacy, "not answering in a room that is not private");
        if told {
            return;
        }
        if let Some(text) = privacy::refusal(privacy) {
            let content = RoomMessageEventContent::notice_plain(text);
            if let Err(e) = room.send(content).await {
                tracing::warn!(error = %e, "could not say why the bot pauses here");
            }
        }
    }

    /// Messages of allow-listed users go to the assistant; a turn to answer goes to the
    /// room's worker.
    async fn message(&self, ev: OriginalSyncRoomMessageEvent, room: Room, encrypted: bool) {
        if !self.fresh(&ev.sender) || room.state() != RoomState::Joined {
            return;
        }
        if !self.allow.allows(ev.sender.as_str()) {
            tracing::info!(sender = %ev.sender, "ignoring a message from a user not on the allow-list");
            return;
        }
        match privacy::of(&room).await {
            Privacy::Private => {
                self.refused.lock().unwrap().remove(room.room_id());
            }
            other => return self.refuse(&room, other).await,
        }
        if let Some(edit) = to_edit(&ev, room.room_id().as_str()) {
            return self.deliver(edit).await;
        }
        if let Some(msg) = to_incoming_message(&ev, room.room_id().to_owned(), encrypted) {
            self.deliver(Incoming::Message(msg)).await;
        }
    }

    /// A message this device cannot decrypt (yet): wait for its key (see `late_keys`).
    fn undecryptable(&self, ev: OriginalSyncRoomEncryptedEvent, room: Room) {
        if !self.fresh(&ev.sender) || !self.allow.allows(ev.sender.as_str()) {
            return;
        }
        let EncryptedEventScheme::MegolmV1AesSha2(megolm) = &ev.content.scheme else {
            return;
        };
        let noted = self.undecrypted.lock().unwrap().note(
            room.room_id().as_str(),
            ev.event_id.as_str(),
            ev.sender.as_str(),
            &megolm.session_id,
            std::time::Instant::now(),
        );
        if noted {
            tracing::info!(room_id = %room.room_id(), event_id = %ev.event_id, "a message could not be decrypted yet; it is answered when its key arrives");
        }
    }

    /// Keys that arrived: the messages they open are fetched, decrypted and handled.
    /// `keys` are (room, megolm session id) pairs.
    async fn keys_arrived(&self, client: &Client, keys: Vec<(OwnedRoomId, String)>) {
        for (room_id, session_id) in keys {
            let opened = self
                .undecrypted
                .lock()
                .unwrap()
                .opened(room_id.as_str(), &session_id);
            for w in opened {
                let Some(room) = client.get_room(&room_id) else {
                    continue;
                };
                let Ok(event_id) = OwnedEventId::try_from(w.event_id.as_str()) else {
                    continue;
                };
                let fetched = room.event(&event_id, None).await;
                let decrypted = fetched
                    .as_ref()
                    .ok()
                    .filter(|e| e.encryption_info().is_some());
                match decrypted.map(|e| {
                    e.raw()
                        .deserialize_as_unchecked::<OriginalSyncRoomMessageEvent>()
                }) {
                    Some(Ok(ev)) => {
                        tracing::info!(room_id = %room.room_id(), %event_id, "its key arrived; answering the message");
                        self.message(ev, room, true).await;
                    }
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "a late-decrypted event is not a message");
                    }
                    None => {
                        self.undecrypted.lock().unwrap().put_back(w);
                    }
                }
            }
        }
    }

    /// Messages whose key never came: the person is told once, in a reply to each.
    async fn give_up_waiting(&self) {
        let gone = self.undecrypted.lock().unwrap().expired(
            std::time::Instant::now(),
            self.workers.assistant.timing.key_patience,
        );
        for w in gone {
            tracing::warn!(room_id = %w.room_id, event_id = %w.event_id, "no key arrived for a message; telling its sender");
            let text = "I couldn't read that message: it is encrypted and my device never received its key. Please send it again (if it keeps happening, check that your client shares keys with my device).";
            if let Err(e) = self
                .workers
                .assistant
                .say(&w.room_id, &w.sender, text, None, Some(w.event_id.clone()))
                .await
            {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "could not tell about an unreadable message"
                );
            }
        }
    }

    /// Reactions: feedback, tags, and approvals (which come back as work for the room).
    async fn reaction(&self, ev: OriginalSyncReactionEvent, room: Room) {
        if !self.fresh(&ev.sender) || !self.allow.allows(ev.sender.as_str()) {
            return;
        }
        let incoming = Incoming::Reaction {
            event_id: ev.event_id.to_string(),
            room_id: room.room_id().to_string(),
            sender: ev.sender.to_string(),
            target_event_id: ev.content.relates_to.event_id.to_string(),
            key: ev.content.relates_to.key.clone(),
        };
        self.deliver(incoming).await;
    }

    /// Redactions take back what a reaction gave.
    async fn redaction(&self, ev: OriginalSyncRoomRedactionEvent, room: Room) {
        if !self.fresh(&ev.sender) || !self.allow.allows(ev.sender.as_str()) {
            return;
        }
        let Some(redacts) = ev.content.redacts.clone().or(ev.redacts.clone()) else {
            return;
        };
        let incoming = Incoming::Redaction {
            event_id: ev.event_id.to_string(),
            room_id: room.room_id().to_string(),
            sender: ev.sender.to_string(),
            redacts: redacts.to_string(),
        };
        self.deliver(incoming).await;
    }

    /// Hands an event to the core and its work to the room's worker. The event is on disk
    /// first (a kill before the database took it loses nothing); while the database is away,
    /// or events wait in the spool before it, it stays there for the replay.
    async fn deliver(&self, incoming: Incoming) {
        let _order = self.spool_order.lock().await;
        let waiting = !self.spool.is_empty();
        let kept = match self.spool.push(&incoming) {
            Ok(path) => Some(path),
            Err(e) => {
                tracing::error!(error = %e, "could not keep an event on disk");
                None
            }
        };
        if waiting && kept.is_some() {
            return;
        }
        match self.workers.assistant.accept(incoming.clone()).await {
            Ok(job) => {
                if let Some(path) = kept
                    && let Err(e) = self.spool.remove(&path)
                {
                    tracing::error!(error = %e, "cannot remove a taken event from the spool");
                }
                self.submit(incoming.room_id(), job)
            }
            Err(e) if crate::assistant::is_unavailable(&e) && kept.is_some() => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "the database is away; the event waits on disk until it is back"
                );
            }
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "could not take an event");
                if let Some(path) = kept
                    && let Err(e) = self.spool.set_aside(&path)
                {
                    tracing::error!(error = %e, "cannot set a refused event aside");
                }
            }
        }
    }

    fn submit(&self, room_id: &str, job: Option<Job>) {
        if let Some(job) = job {
            self.workers.submit(room_id, job);
        }
    }

    /// Gives the core what the spool kept, oldest first, until the database is away again.
    async fn replay_spool(&self) {
        let _order = self.spool_order.lock().await;
        let entries = match self.spool.entries() {
            Ok(entries) => entries,
            Err(e) => return tracing::error!(error = %e, "cannot read the event spool"),
        };
        let mut replayed = 0;
        for spooled in entries {
            let room_id = spooled.incoming.room_id().to_owned();
            match self.workers.assistant.accept(spooled.incoming).await {
                Ok(job) => {
                    self.submit(&room_id, job);
                    replayed += 1;
                    if let Err(e) = self.spool.remove(&spooled.path) {
                        tracing::error!(error = %e, "cannot remove a replayed event from the spool");
                        break;
                    }
                }
                Err(e) if crate::assistant::is_unavailable(&e) => break,
                Err(e) => {
                    tracing::error!(
                        error = format!("{e:#}"),
                        "the core refused a spooled event; set aside"
                    );
                    if let Err(e) = self.spool.set_aside(&spooled.path) {
                        tracing::error!(error = %e, "cannot set a spooled event aside");
                        break;
                    }
                }
            }
        }
        if replayed > 0 {
            tracing::info!(
                replayed,
                "events kept on disk during a database outage are in"
            );
        }
    }
}

/// Synapse can refuse a join that races the invite; retry for a while, as a person would.
async fn join_with_retry(room: Room, inviter: OwnedUserId) {
    use backon::Retryable;
    let joined = (|| room.join())
        .retry(
            backon::ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(500))
                .with_max_delay(Duration::from_secs(30))
                .with_max_times(7),
        )
        .notify(
            |e, _| tracing::warn!(room_id = %room.room_id(), error = %e, "join failed; retrying"),
        )
        .await;
    match joined {
        Ok(()) => tracing::info!(room_id = %room.room_id(), %inviter, "joined on invite"),
        Err(_) => tracing::error!(room_id = %room.room_id(), "gave up joining"),
    }
}

/// An edit (`m.replace`) of an earlier text message, as the core takes it.
fn to_edit(ev: &OriginalSyncRoomMessageEvent, room_id: &str) -> Option<Incoming> {
    let Some(Relation::Replacement(r)) = &ev.content.relates_to else {
        return None;
    };
    let body = match &r.new_content.msgtype {
        MessageType::Text(t) => t.body.clone(),
        MessageType::Emote(e) => format!("*{}*", e.body),
        _ => return None,
    };
    Some(Incoming::Edit {
        room_id: room_id.to_owned(),
        sender: ev.sender.to_string(),
        edits: r.event_id.to_string(),
        body,
    })
}

fn to_incoming_message(
    ev: &OriginalSyncRoomMessageEvent,
    room_id: OwnedRoomId,
    encrypted: bool,
) -> Option<IncomingMessage> {
    let body = match &ev.content.msgtype {
        MessageType::Text(t) => t.body.clone(),
        MessageType::Notice(_) => return None,
        MessageType::Emote(e) => format!("*{}*", e.body),
        _ => {
            // Files, images and the like: answered as text about them so nothing goes unheard.
            format!(
                "[sent a {} attachment: {}]",
                ev.content.msgtype(),
                ev.content.body()
            )
        }
    };
    let (thread_root, in_reply_to) = match &ev.content.relates_to {
        // Edits of earlier messages are not new questions.
        Some(Relation::Replacement(_)) => return None,
        // In a thread, clients point `in_reply_to` at the thread's latest event as a fallback
        // for clients without threads; only a real reply (not falling back) is one.
        Some(Relation::Thread(t)) => (
            Some(t.event_id.to_string()),
            t.in_reply_to
                .as_ref()
                .filter(|_| !t.is_falling_back)
                .map(|r| r.event_id.to_string()),
        ),
        Some(Relation::Reply(r)) => (None, Some(r.in_reply_to.event_id.to_string())),
        _ => (None, None),
    };
    let millis: i64 = ev.origin_server_ts.get().into();
    Some(IncomingMessage {
        event_id: ev.event_id.to_string(),
        room_id: room_id.to_string(),
        sender: ev.sender.to_string(),
        body: strip_reply_fallback(&body),
        thread_root,
        in_reply_to,
        sent_at: chrono::DateTime::from_timestamp_millis(millis).unwrap_or_else(chrono::Utc::now),
        encrypted,
    })
}

/// Older clients quote the replied-to message as `> ` lines first; the model needs only the new text.
fn strip_reply_fallback(body: &str) -> String {
    if !body.starts_with("> <") {
        return body.to_owned();
    }
    body.lines()
        .skip_while(|l| l.starts_with('>'))
        .skip_while(|l| l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The core's [`Outbox`] on a Matrix client. Sends are retried briefly so a homeserver
/// restart delays a reply instead of dropping it.
pub struct MatrixOutbox {
    client: Client,
}

impl MatrixOutbox {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    fn room(&self, room_id: &str) -> Result<Room, OutboxError> {
        let id = OwnedRoomId::try_from(room_id)
            .map_err(|e| OutboxError(format!("bad room id {room_id}: {e}")))?;
        self.client
            .get_room(&id)
            .ok_or_else(|| OutboxError(format!("not in room {room_id}")))
    }

    /// The room, if it is private (see [`privacy`]): nothing of the user's goes anywhere
    /// else, whatever part of the core sends it (a reply, a command's answer, a digest).
    async fn private_room(&self, room_id: &str) -> Result<Room, OutboxError> {
        let room = self.room(room_id)?;
        match privacy::of(&room).await {
            Privacy::Private => Ok(room),
            other => Err(OutboxError(format!(
                "not sending to {room_id}: the room is not private ({other:?})"
            ))),
        }
    }

    async fn send_content(
        &self,
        room_id: &str,
        content: serde_json::Value,
        once: Option<&str>,
    ) -> Result<String, OutboxError> {
        let room = self.private_room(room_id).await?;
        use backon::Retryable;
        // One transaction id for every try: a try that reached the homeserver but lost its
        // answer is then recognised, not posted twice. A named message keeps its id across
        // restarts too (the homeserver remembers a device's transaction ids).
        let txn = match once {
            Some(name) => format::transaction_id(name),
            None => matrix_sdk::ruma::TransactionId::new(),
        };
        (|| async {
            room.send_raw("m.room.message", content.clone())
                .with_transaction_id(&txn)
                .await
        })
        .retry(
            backon::ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(500))
                .with_max_delay(Duration::from_secs(15))
                .with_max_times(7),
        )
        .notify(|e, _| tracing::warn!(error = %e, "sending failed; retrying"))
        .await
        .map(|resp| resp.response.event_id.to_string())
        .map_err(|e| OutboxError(format!("could not send to {room_id}: {e}")))
    }
}

#[async_trait]
impl Outbox for MatrixOutbox {
    async fn send(&self, room_id: &str, msg: &OutMessage) -> Result<String, OutboxError> {
        self.send_content(room_id, format::message_content(msg), msg.once.as_deref())
            .await
    }

    async fn edit(
        &self,
        room_id: &str,
        event_id: &str,
        msg: &OutMessage,
    ) -> Result<(), OutboxError> {
        self.send_content(room_id, format::edit_content(event_id, msg), None)
            .await
            .map(|_| ())
    }

    async fn react(&self, room_id: &str, event_id: &str, key: &str) -> Result<String, OutboxError> {
        let room = self.private_room(room_id).await?;
        let target = OwnedEventId::try_from(event_id).map_err(|e| OutboxError(e.to_string()))?;
        let content = ReactionEventContent::new(Annotation::new(target, key.to_owned()));
        room.send(content)
            .await
            .map(|r| r.response.event_id.to_string())
            .map_err(|e| OutboxError(e.to_string()))
    }

    async fn upload(
        &self,
        room_id: &str,
        filename: &str,
        mime: &str,
        data: Vec<u8>,
    ) -> Result<String, OutboxError> {
        let room = self.private_room(room_id).await?;
        let mime: mime::Mime = mime
            .parse()
            .map_err(|e| OutboxError(format!("bad MIME type {mime}: {e}")))?;
        let mut config = matrix_sdk::attachment::AttachmentConfig::new();
        if let Some((width, height)) = png_size(&data) {
            // With its size, clients show the picture inline at the right shape at once.
            config = config.info(matrix_sdk::attachment::AttachmentInfo::Image(
                matrix_sdk::attachment::BaseImageInfo {
                    width: Some(width.into()),
                    height: Some(height.into()),
                    size: u32::try_from(data.len()).ok().map(Into::into),
                    ..Default::default()
                },
            ));
        }
        room.send_attachment(filename, &mime, data, config)
            .await
            .map(|r| r.event_id.to_string())
            .map_err(|e| OutboxError(format!("could not upload {filename}: {e}")))
    }

    async fn typing(&self, room_id: &str, on: bool) {
        if let Ok(room) = self.room(room_id)
            && let Err(e) = room.typing_notice(on).await
        {
            tracing::debug!(error = %e, "typing notice failed");
        }
    }
}

/// Width and height of a PNG, from its header (`None` if `data` is not a PNG).
fn png_size(data: &[u8]) -> Option<(u32, u32)> {
    if data.len() < 24 || &data[..8] != b"\x89PNG\r\n\x1a\n" || &data[12..16] != b"IHDR" {
        return None;
    }
    let be = |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    Some((be(16), be(20)))
}
