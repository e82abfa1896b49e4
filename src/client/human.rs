//! A scripted Matrix user: the "human" in end-to-end tests and the engine of the terminal
//! client. It logs in (or restores its saved device), keeps syncing in the background, and
//! keeps a per-room log of what it has seen (decrypted, edits applied), so tests can wait
//! for the bot's answer the way a person watching a chat would.
//!
//! The bot's messages follow a small protocol: their content carries `io.threeam.status`,
//! `"streaming"` while the bot is still editing the message and `"final"` once complete
//! (on an edit, inside `m.new_content` as well as at the top level). A message without the
//! key is taken as complete, since nothing will ever finish it.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::deserialized_responses::{TimelineEvent, TimelineEventKind};
use matrix_sdk::ruma::api::client::room::create_room;
use matrix_sdk::ruma::api::error::ErrorKind;
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::events::reaction::ReactionEventContent;
use matrix_sdk::ruma::events::relation::{Annotation, Reply, Thread};
use matrix_sdk::ruma::events::room::encrypted::OriginalSyncRoomEncryptedEvent;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::events::room::message::{Relation, RoomMessageEventContent};
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{DeviceId, EventId, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use matrix_sdk::sync::SyncResponse;
use matrix_sdk::{Client, Room};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The file, inside the store directory, that holds the session for restoring. Same name
/// as the bot's, so `doctor`-style tools can read either.
pub const SESSION_FILE: &str = "session.json";

/// The custom content key carrying the bot's streaming state.
pub const STATUS_KEY: &str = "io.threeam.status";

/// How long one background `/sync` long-polls. Stopping does not wait for it.
const SYNC_LONG_POLL: Duration = Duration::from_secs(30);

/// Retries of the first sync (0.5 s, 1 s, 1.5 s, … apart) before giving up.
const INITIAL_SYNC_RETRIES: u32 = 6;

/// Undecryptable events kept for another decryption attempt; older ones are given up.
const MAX_PENDING_UTDS: usize = 200;

/// A room message as this user sees it now: decrypted, with the latest edit applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenMessage {
    pub event_id: OwnedEventId,
    pub sender: OwnedUserId,
    /// `m.text`, `m.notice`, …
    pub msgtype: String,
    pub body: String,
    /// The HTML body, when the message has `format: org.matrix.custom.html`.
    pub formatted_body: Option<String>,
    /// The thread this message belongs to (`m.thread` relation), if any.
    pub thread_root: Option<OwnedEventId>,
    /// The event this message replies to (`m.in_reply_to`), if any. Thread messages point
    /// at the previous thread message here as a fallback for clients without threads.
    pub in_reply_to: Option<OwnedEventId>,
    /// True when the event arrived as `m.room.encrypted` and was decrypted.
    pub encrypted: bool,
    /// Number of `m.replace` edits applied.
    pub edits: usize,
    /// `io.threeam.status` of the latest version (`streaming` / `final`), if present.
    pub status: Option<String>,
    /// Redacted after (or before) it was seen.
    pub redacted: bool,
}

impl SeenMessage {
    /// Whether the sender is done with this message (see the module docs).
    pub fn is_final(&self) -> bool {
        self.status.as_deref() != Some("streaming")
    }
}

/// The bot's answer, as returned by [`Human::wait_for_reply`].
pub type BotReply = SeenMessage;

/// An `m.reaction` seen in a room (redacted reactions are dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenReaction {
    pub event_id: OwnedEventId,
    pub sender: OwnedUserId,
    /// The reacted-to event.
    pub target: OwnedEventId,
    pub key: String,
    /// matrix-sdk sends reactions unencrypted even in encrypted rooms, so this is usually
    /// false; it is here so a test can tell.
    pub encrypted: bool,
}

/// Failures a caller may want to tell apart (they come wrapped in `anyhow::Error`; use
/// `downcast_ref::<HumanError>()`).
#[derive(Debug, thiserror::Error)]
pub enum HumanError {
    #[error("timed out after {waited:?} waiting for {what}. {seen}")]
    Timeout {
        what: String,
        waited: Duration,
        seen: String,
    },
    #[error("{user} did not join {room}: their membership became {membership}")]
    NotJoined {
        user: OwnedUserId,
        room: OwnedRoomId,
        membership: String,
    },
    #[error("room {0} is not known to this client (not joined, or not synced yet)")]
    UnknownRoom(OwnedRoomId),
    #[error("the store at {dir} belongs to {stored}, not {wanted}")]
    StoreOfAnotherUser {
        dir: PathBuf,
        stored: OwnedUserId,
        wanted: String,
    },
}

#[derive(Serialize, Deserialize)]
struct SavedSession {
    homeserver: String,
    /// Flattened `MatrixSession`: user_id, device_id, access_token (what `probe` looks for).
    session: MatrixSession,
}

enum Entry {
    Message(SeenMessage),
    Reaction(SeenReaction),
    /// Kept in place so the order survives a late decryption, and so timeouts can say the
    /// answer arrived but could not be read.
    Undecryptable {
        event_id: OwnedEventId,
        sender: OwnedUserId,
    },
}

impl Entry {
    fn event_id(&self) -> &EventId {
        match self {
            Entry::Message(m) => &m.event_id,
            Entry::Reaction(r) => &r.event_id,
            Entry::Undecryptable { event_id, .. } => event_id,
        }
    }
}

#[derive(Default)]
struct RoomLog {
    entries: Vec<Entry>,
    ids: HashSet<OwnedEventId>,
    typing: Vec<OwnedUserId>,
}

impl RoomLog {
    fn position(&self, id: &EventId) -> Option<usize> {
        self.entries.iter().position(|e| e.event_id() == id)
    }

    fn message(&self, id: &EventId) -> Option<&SeenMessage> {
        self.entries.iter().find_map(|e| match e {
            Entry::Message(m) if m.event_id == id => Some(m),
            _ => None,
        })
    }

    fn message_mut(&mut self, id: &EventId) -> Option<&mut SeenMessage> {
        self.entries.iter_mut().find_map(|e| match e {
            Entry::Message(m) if m.event_id == id => Some(m),
            _ => None,
        })
    }
}

struct PendingUtd {
    room_id: OwnedRoomId,
    raw: Raw<OriginalSyncRoomEncryptedEvent>,
}

/// What the sync task shares with the `Human` handle.
struct Shared {
    log: Mutex<HashMap<OwnedRoomId, RoomLog>>,
    pending_utds: Mutex<Vec<PendingUtd>>,
    last_sync_error: Mutex<Option<String>>,
    /// Bumped after every processed sync; waiters re-check their condition on each bump.
    changed: watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep using it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What an event turned into once parsed.
enum Parsed {
    New(Entry),
    /// An edit, redaction or other event that changes existing entries (already applied)
    /// or that we do not track.
    Applied,
}

impl Shared {
    fn new() -> Self {
        Self {
            log: Mutex::new(HashMap::new()),
            pending_utds: Mutex::new(Vec::new()),
            last_sync_error: Mutex::new(None),
            changed: watch::channel(0).0,
        }
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    async fn ingest(&self, client: &Client, response: SyncResponse) {
        for (room_id, update) in response.rooms.joined {
            for event in update.timeline.events {
                self.record(&room_id, event);
            }
            for eph in update.ephemeral {
                if let Ok(v) = eph.deserialize_as_unchecked::<Value>()
                    && v["type"] == "m.typing"
                {
                    let users = v["content"]["user_ids"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|u| u.as_str())
                                .filter_map(|u| UserId::parse(u).ok())
                                .collect()
                        })
                        .unwrap_or_default();
                    lock(&self.log).entry(room_id.clone()).or_default().typing = users;
                }
            }
        }
        // The keys for earlier undecryptable events may have come in this sync's to-device
        // messages (or been forwarded), so try them again.
        self.retry_utds(client).await;
        self.bump();
    }

    fn record(&self, room_id: &RoomId, event: TimelineEvent) {
        let encrypted = event.encryption_info().is_some();
        let utd = matches!(event.kind, TimelineEventKind::UnableToDecrypt { .. });
        let raw = event.into_raw();
        let Ok(value) = raw.deserialize_as_unchecked::<Value>() else {
            tracing::debug!("skipping a timeline event that is not JSON");
            return;
        };
        let (Some(event_id), Some(sender)) = (event_id_of(&value), sender_of(&value)) else {
            return;
        };
        let mut log = lock(&self.log);
        let room = log.entry(room_id.to_owned()).or_default();
        if !room.ids.insert(event_id.clone()) {
            // Seen already (a restored session's first sync can repeat events).
            return;
        }
        if utd {
            tracing::debug!(%event_id, %sender, "event could not be decrypted yet");
            room.entries.push(Entry::Undecryptable {
                event_id: event_id.clone(),
                sender,
            });
            let mut pending = lock(&self.pending_utds);
            pending.push(PendingUtd {
                room_id: room_id.to_owned(),
                raw: raw.cast_unchecked(),
            });
            let excess = pending.len().saturating_sub(MAX_PENDING_UTDS);
            pending.drain(..excess);
            return;
        }
        if let Parsed::New(entry) = parse(room, &value, event_id, sender, encrypted) {
            room.entries.push(entry);
        }
    }

    async fn retry_utds(&self, client: &Client) {
        let pending = std::mem::take(&mut *lock(&self.pending_utds));
        let mut still = Vec::new();
        for p in pending {
            let Some(room) = client.get_room(&p.room_id) else {
                continue;
            };
            let decrypted = match room.decrypt_event(&p.raw, None).await {
                Ok(ev) if !matches!(ev.kind, TimelineEventKind::UnableToDecrypt { .. }) => ev,
                _ => {
                    still.push(p);
                    continue;
                }
            };
            let Ok(value) = decrypted.raw().deserialize_as_unchecked::<Value>() else {
                continue;
            };
            let (Some(event_id), Some(sender)) = (event_id_of(&value), sender_of(&value)) else {
                continue;
            };
            tracing::debug!(%event_id, "decrypted a late event");
            let mut log = lock(&self.log);
            let room_log = log.entry(p.room_id.clone()).or_default();
            let at = room_log.position(&event_id);
            let parsed = parse(room_log, &value, event_id, sender, true);
            match (at, parsed) {
                (Some(i), Parsed::New(entry)) => room_log.entries[i] = entry,
                (Some(i), Parsed::Applied) => {
                    room_log.entries.remove(i);
                }
                (None, Parsed::New(entry)) => room_log.entries.push(entry),
                (None, Parsed::Applied) => {}
            }
        }
        lock(&self.pending_utds).extend(still);
    }
}

fn event_id_of(v: &Value) -> Option<OwnedEventId> {
    v["event_id"].as_str().and_then(|s| EventId::parse(s).ok())
}

fn sender_of(v: &Value) -> Option<OwnedUserId> {
    v["sender"].as_str().and_then(|s| UserId::parse(s).ok())
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(|s| s.as_str()).map(str::to_owned)
}

fn formatted_of(content: &Value) -> Option<String> {
    (content["format"] == "org.matrix.custom.html")
        .then(|| str_field(content, "formatted_body"))
        .flatten()
}

/// Turns one decrypted event into a log entry, or applies it (edits, redactions) to the
/// entries already there.
fn parse(
    room: &mut RoomLog,
    value: &Value,
    event_id: OwnedEventId,
    sender: OwnedUserId,
    encrypted: bool,
) -> Parsed {
    let content = &value["content"];
    let rel = &content["m.relates_to"];
    let rel_target = || {
        rel["event_id"]
            .as_str()
            .and_then(|s| EventId::parse(s).ok())
    };
    match value["type"].as_str().unwrap_or_default() {
        "m.room.message" if rel["rel_type"] == "m.replace" => {
            let Some(target) = rel_target() else {
                return Parsed::Applied;
            };
            // Edits without m.new_content are malformed; fall back to the "* text" body.
            let new = content.get("m.new_content").unwrap_or(content);
            match room.message_mut(&target) {
                // Only the original sender may edit a message (spec rule, and it stops a
                // stray edit from making someone else's message look final).
                Some(m) if m.sender == sender => {
                    if let Some(body) = str_field(new, "body") {
                        m.body = body;
                    }
                    m.formatted_body = formatted_of(new);
                    m.status =
                        str_field(new, STATUS_KEY).or_else(|| str_field(content, STATUS_KEY));
                    m.edits += 1;
                }
                Some(_) => tracing::debug!(%event_id, "ignoring an edit by someone else"),
                None => tracing::debug!(%event_id, %target, "edit of a message not seen"),
            }
            Parsed::Applied
        }
        "m.room.message" => {
            let thread_root = (rel["rel_type"] == "m.thread").then(rel_target).flatten();
            let in_reply_to = rel["m.in_reply_to"]["event_id"]
                .as_str()
                .and_then(|s| EventId::parse(s).ok());
            let redacted = !value["unsigned"]["redacted_because"].is_null();
            Parsed::New(Entry::Message(SeenMessage {
                event_id,
                sender,
                msgtype: str_field(content, "msgtype").unwrap_or_default(),
                body: str_field(content, "body").unwrap_or_default(),
                formatted_body: formatted_of(content),
                thread_root,
                in_reply_to,
                encrypted,
                edits: 0,
                status: str_field(content, STATUS_KEY),
                redacted,
            }))
        }
        "m.reaction" => {
            let (Some(target), Some(key)) = (rel_target(), str_field(rel, "key")) else {
                return Parsed::Applied;
            };
            if !value["unsigned"]["redacted_because"].is_null() {
                return Parsed::Applied;
            }
            Parsed::New(Entry::Reaction(SeenReaction {
                event_id,
                sender,
                target,
                key,
                encrypted,
            }))
        }
        "m.room.redaction" => {
            // Room v11 moved `redacts` into the content; older versions have it on top.
            let redacts = str_field(content, "redacts")
                .or_else(|| str_field(value, "redacts"))
                .and_then(|s| EventId::parse(s).ok());
            if let Some(target) = redacts {
                if let Some(m) = room.message_mut(&target) {
                    m.redacted = true;
                }
                room.entries
                    .retain(|e| !matches!(e, Entry::Reaction(r) if r.event_id == target));
            }
            Parsed::Applied
        }
        _ => Parsed::Applied,
    }
}

/// A scripted Matrix user with its own device and store (see the module docs).
pub struct Human {
    client: Client,
    user_id: OwnedUserId,
    store_dir: PathBuf,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    sync_task: Option<JoinHandle<()>>,
}

impl Drop for Human {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.sync_task.take() {
            task.abort();
        }
    }
}

impl Human {
    /// Logs in the first time, or restores the device saved in `store_dir` (one store per
    /// device: logging in again over an existing store would clash with its crypto keys).
    /// Then does one initial sync and keeps syncing in the background.
    ///
    /// If the saved session's token is no longer valid (the homeserver was reset), the
    /// stale store is removed and a fresh login made.
    pub async fn login(
        homeserver: &str,
        user_id: &str,
        password: &str,
        store_dir: &Path,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(store_dir)
            .with_context(|| format!("creating the store directory {}", store_dir.display()))?;
        let session_path = store_dir.join(SESSION_FILE);

        if let Some(saved) = read_session(&session_path)? {
            let stored = saved.session.meta.user_id.clone();
            if !same_user(&stored, user_id) {
                return Err(HumanError::StoreOfAnotherUser {
                    dir: store_dir.to_owned(),
                    stored,
                    wanted: user_id.to_owned(),
                }
                .into());
            }
            let client = build_client(homeserver, store_dir).await?;
            client
                .restore_session(saved.session)
                .await
                .context("restoring the saved Matrix session")?;
            match client.whoami().await {
                Ok(_) => {
                    tracing::info!(user = %stored, device = ?client.device_id(), "restored Matrix session");
                    return Self::start(client, store_dir).await;
                }
                Err(e) if matches!(e.client_api_error_kind(), Some(ErrorKind::UnknownToken(_))) => {
                    tracing::warn!(
                        store = %store_dir.display(),
                        "saved session is no longer valid; starting over with a new device"
                    );
                    drop(client);
                    wipe_store(store_dir)?;
                }
                Err(e) => return Err(e).context("checking the restored session (whoami)"),
            }
        }

        let client = build_client(homeserver, store_dir).await?;
        let resp = client
            .matrix_auth()
            .login_username(user_id, password)
            .initial_device_display_name("3AM client")
            .send()
            .await
            .with_context(|| format!("logging in as {user_id} at {homeserver}"))?;
        tracing::info!(user = %resp.user_id, device = %resp.device_id, "logged in to Matrix");
        let session = client
            .matrix_auth()
            .session()
            .context("no session after logging in")?;
        write_session(
            &session_path,
            &SavedSession {
                homeserver: homeserver.to_owned(),
                session,
            },
        )?;
        Self::start(client, store_dir).await
    }

    async fn start(client: Client, store_dir: &Path) -> anyhow::Result<Self> {
        let user_id = client
            .user_id()
            .context("client has no user id after login")?
            .to_owned();
        let shared = Arc::new(Shared::new());
        // One sync before anything else: rooms, members and device keys are then known,
        // and everything already in the rooms counts as history.
        // Timeout zero: SyncSettings defaults to a 30 s long poll, which with a restored
        // sync token and nothing new would stall every start by 30 s.
        // A homeserver that is restarting answers again within seconds.
        let first = {
            use backon::Retryable;
            (|| client.sync_once(SyncSettings::default().timeout(Duration::ZERO)))
                .retry(
                    backon::ExponentialBuilder::default()
                        .with_min_delay(Duration::from_millis(500))
                        .with_max_times(INITIAL_SYNC_RETRIES as usize),
                )
                .notify(|e, wait| tracing::warn!(error = %e, retry_in = ?wait, "initial Matrix sync failed; retrying"))
                .await
                .context("initial Matrix sync")?
        };
        shared.ingest(&client, first).await;

        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(sync_loop(client.clone(), shared.clone(), stop_rx));
        Ok(Self {
            client,
            user_id,
            store_dir: store_dir.to_owned(),
            shared,
            stop,
            sync_task: Some(task),
        })
    }

    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    pub fn device_id(&self) -> Option<&DeviceId> {
        self.client.device_id()
    }

    /// The underlying SDK client, for anything this type does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn room(&self, room_id: &RoomId) -> anyhow::Result<Room> {
        self.client
            .get_room(room_id)
            .ok_or_else(|| HumanError::UnknownRoom(room_id.to_owned()).into())
    }

    /// Finds this user's DM with `other` (joined by both, or `other` still invited), with
    /// the wanted encryption, or creates one: `is_direct`, `other` invited, trusted private
    /// chat, `m.room.encryption` (megolm) when `encrypted`. Waits until `other` has joined.
    /// Fails with [`HumanError::NotJoined`] if they decline, [`HumanError::Timeout`] if
    /// they never answer.
    pub async fn ensure_dm(
        &self,
        other: &UserId,
        encrypted: bool,
        timeout: Duration,
    ) -> anyhow::Result<OwnedRoomId> {
        let mut invited = None;
        for room in self.client.get_dm_rooms(other) {
            let room_encrypted = room
                .latest_encryption_state()
                .await
                .map(|s| s.is_encrypted())
                .unwrap_or(false);
            if room_encrypted != encrypted {
                continue;
            }
            match membership(&room, other).await {
                Some(MembershipState::Join) => return Ok(room.room_id().to_owned()),
                Some(MembershipState::Invite) if invited.is_none() => invited = Some(room),
                // They left or declined this one; it is a dead room, look further.
                _ => {}
            }
        }
        let room = match invited {
            Some(room) => room,
            None => {
                self.create_room(&[other.to_owned()], true, encrypted)
                    .await?
            }
        };
        self.wait_joined(&room, other, timeout).await?;
        Ok(room.room_id().to_owned())
    }

    /// Creates a private room (trusted private chat) inviting `invite`, a DM when `direct`,
    /// with `m.room.encryption` (megolm) when `encrypted`. Does not wait for anyone to join.
    pub async fn create_room(
        &self,
        invite: &[OwnedUserId],
        direct: bool,
        encrypted: bool,
    ) -> anyhow::Result<Room> {
        let mut request = create_room::v3::Request::new();
        request.invite = invite.to_vec();
        request.is_direct = direct;
        request.preset = Some(create_room::v3::RoomPreset::TrustedPrivateChat);
        if encrypted {
            request.initial_state = vec![
                InitialStateEvent::with_empty_state_key(
                    RoomEncryptionEventContent::with_recommended_defaults(),
                )
                .to_raw_any(),
            ];
        }
        let room = self
            .client
            .create_room(request)
            .await
            .with_context(|| format!("creating a room with {invite:?}"))?;
        tracing::info!(room = %room.room_id(), ?invite, encrypted, "created a room");
        Ok(room)
    }

    /// Waits until `user` has joined `room` (see [`Self::ensure_dm`] for the failures).
    pub async fn wait_member(
        &self,
        room: &RoomId,
        user: &UserId,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let room = self
            .client
            .get_room(room)
            .with_context(|| format!("{room} is not known to {}", self.user_id))?;
        self.wait_joined(&room, user, timeout).await
    }

    async fn wait_joined(
        &self,
        room: &Room,
        other: &UserId,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let mut rx = self.shared.changed.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            match membership(room, other).await {
                Some(MembershipState::Join) => return Ok(()),
                // The room is new or we saw the invite, so leaving means they declined.
                Some(m @ (MembershipState::Leave | MembershipState::Ban)) => {
                    return Err(HumanError::NotJoined {
                        user: other.to_owned(),
                        room: room.room_id().to_owned(),
                        membership: m.to_string(),
                    }
                    .into());
                }
                _ => {}
            }
            if !wait_change(&mut rx, deadline).await {
                return Err(HumanError::Timeout {
                    what: format!("{other} to join {}", room.room_id()),
                    waited: timeout,
                    seen: format!(
                        "Their membership: {}.{}",
                        membership(room, other)
                            .await
                            .map_or("none seen".to_owned(), |m| m.to_string()),
                        self.sync_error_note()
                    ),
                }
                .into());
            }
        }
    }

    /// Waits for an invite (from `from`, when given), joins the room and returns its id.
    /// Invites already pending count.
    pub async fn accept_invite(
        &self,
        from: Option<&UserId>,
        timeout: Duration,
    ) -> anyhow::Result<OwnedRoomId> {
        let mut rx = self.shared.changed.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            for room in self.client.invited_rooms() {
                if let Some(from) = from {
                    let details = room.invite_details().await?;
                    if details.inviter_id != from {
                        continue;
                    }
                }
                room.join()
                    .await
                    .with_context(|| format!("joining {}", room.room_id()))?;
                tracing::info!(room = %room.room_id(), "accepted invite");
                return Ok(room.room_id().to_owned());
            }
            if !wait_change(&mut rx, deadline).await {
                return Err(HumanError::Timeout {
                    what: format!(
                        "an invite{}",
                        from.map(|f| format!(" from {f}")).unwrap_or_default()
                    ),
                    waited: timeout,
                    seen: format!(
                        "{} pending invite(s).{}",
                        self.client.invited_rooms().len(),
                        self.sync_error_note()
                    ),
                }
                .into());
            }
        }
    }

    /// Sends a text message (markdown is rendered to HTML, as Element does).
    pub async fn send(&self, room: &RoomId, body: &str) -> anyhow::Result<OwnedEventId> {
        self.send_content(room, RoomMessageEventContent::text_markdown(body))
            .await
    }

    /// Sends a message in the thread of `thread_root`. If that event is itself in a thread
    /// (threads do not nest), the message goes to that thread.
    pub async fn send_in_thread(
        &self,
        room: &RoomId,
        thread_root: &EventId,
        body: &str,
    ) -> anyhow::Result<OwnedEventId> {
        let (root, latest) = {
            let log = lock(&self.shared.log);
            let room_log = log.get(room);
            let root = room_log
                .and_then(|r| r.message(thread_root))
                .and_then(|m| m.thread_root.clone())
                .unwrap_or_else(|| thread_root.to_owned());
            // The reply fallback points at the newest message of the thread, as Element does.
            let latest = room_log
                .and_then(|r| {
                    r.entries.iter().rev().find_map(|e| match e {
                        Entry::Message(m) if m.thread_root.as_ref() == Some(&root) => {
                            Some(m.event_id.clone())
                        }
                        _ => None,
                    })
                })
                .unwrap_or_else(|| root.clone());
            (root, latest)
        };
        let mut content = RoomMessageEventContent::text_markdown(body);
        content.relates_to = Some(Relation::Thread(Thread::plain(root, latest)));
        self.send_content(room, content).await
    }

    /// Replies (`m.in_reply_to`) to `event`, e.g. to comment on a bot message. A reply to a
    /// thread message stays in that thread.
    pub async fn reply_to(
        &self,
        room: &RoomId,
        event: &EventId,
        body: &str,
    ) -> anyhow::Result<OwnedEventId> {
        let thread_root = lock(&self.shared.log)
            .get(room)
            .and_then(|r| r.message(event))
            .and_then(|m| m.thread_root.clone());
        let mut content = RoomMessageEventContent::text_markdown(body);
        content.relates_to = Some(match thread_root {
            Some(root) => Relation::Thread(Thread::reply(root, event.to_owned())),
            None => Relation::Reply(Reply::with_event_id(event.to_owned())),
        });
        self.send_content(room, content).await
    }

    async fn send_content(
        &self,
        room: &RoomId,
        content: RoomMessageEventContent,
    ) -> anyhow::Result<OwnedEventId> {
        let sent = self
            .room(room)?
            .send(content)
            .await
            .with_context(|| format!("sending a message to {room}"))?;
        Ok(sent.response.event_id)
    }

    /// Reacts to `event` with `key` (e.g. "👍"). Note: sent unencrypted, as matrix-sdk
    /// (like Element) does for reactions.
    pub async fn react(
        &self,
        room: &RoomId,
        event: &EventId,
        key: &str,
    ) -> anyhow::Result<OwnedEventId> {
        let content = ReactionEventContent::new(Annotation::new(event.to_owned(), key.to_owned()));
        let sent = self
            .room(room)?
            .send(content)
            .await
            .with_context(|| format!("reacting to {event}"))?;
        Ok(sent.response.event_id)
    }

    /// Redacts (deletes) an event, e.g. to take back a reaction.
    pub async fn redact(&self, room: &RoomId, event: &EventId) -> anyhow::Result<()> {
        self.room(room)?
            .redact(event, None, None)
            .await
            .with_context(|| format!("redacting {event}"))?;
        Ok(())
    }

    /// The first message from someone else after `after` (in `after`'s thread, or in the
    /// main timeline when `after` is not in a thread), once it is final. For a reply split
    /// over several messages this is the first part; see [`Self::wait_for_replies`].
    pub async fn wait_for_reply(
        &self,
        room: &RoomId,
        after: &EventId,
        timeout: Duration,
    ) -> anyhow::Result<BotReply> {
        let mut replies = self.wait_for_replies(room, after, 1, timeout).await?;
        Ok(replies.remove(0))
    }

    /// The first `n` messages from others after `after` (same thread rule as
    /// [`Self::wait_for_reply`]), once all of them are final.
    pub async fn wait_for_replies(
        &self,
        room: &RoomId,
        after: &EventId,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<BotReply>> {
        let me = self.user_id.clone();
        self.wait_log(
            room,
            timeout,
            || format!("{n} final repl(ies) to {after} in {room}"),
            |log| {
                let start = log.position(after)?;
                let thread = match &log.entries[start] {
                    Entry::Message(m) => m.thread_root.clone(),
                    _ => None,
                };
                let replies: Vec<&SeenMessage> = log.entries[start + 1..]
                    .iter()
                    .filter_map(|e| match e {
                        Entry::Message(m) if m.sender != me && m.thread_root == thread => Some(m),
                        _ => None,
                    })
                    .take(n)
                    .collect();
                (replies.len() == n && replies.iter().all(|m| m.is_final()))
                    .then(|| replies.into_iter().cloned().collect())
            },
            |log| describe_after(log, after),
        )
        .await
    }

    /// Waits until `check` finds something in `room`'s log.
    async fn wait_log<T>(
        &self,
        room: &RoomId,
        timeout: Duration,
        what: impl Fn() -> String,
        check: impl Fn(&RoomLog) -> Option<T>,
        describe: impl Fn(&RoomLog) -> String,
    ) -> anyhow::Result<T> {
        let mut rx = self.shared.changed.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = lock(&self.shared.log).get(room).and_then(&check) {
                return Ok(found);
            }
            if !wait_change(&mut rx, deadline).await {
                let seen = lock(&self.shared.log)
                    .get(room)
                    .map(&describe)
                    .unwrap_or_else(|| "Nothing seen in that room.".to_owned());
                return Err(HumanError::Timeout {
                    what: what(),
                    waited: timeout,
                    seen: format!("{seen}{}", self.sync_error_note()),
                }
                .into());
            }
        }
    }

    /// Waits until a message satisfying `pred` shows up in `room` (any sender, any time).
    pub async fn wait_for_message(
        &self,
        room: &RoomId,
        timeout: Duration,
        pred: impl Fn(&SeenMessage) -> bool,
    ) -> anyhow::Result<SeenMessage> {
        self.wait_log(
            room,
            timeout,
            || format!("a matching message in {room}"),
            |log| {
                log.entries.iter().find_map(|e| match e {
                    Entry::Message(m) if pred(m) => Some(m.clone()),
                    _ => None,
                })
            },
            |log| describe_tail(log, 10),
        )
        .await
    }

    /// Waits until a reaction satisfying `pred` shows up in `room`.
    pub async fn wait_for_reaction(
        &self,
        room: &RoomId,
        timeout: Duration,
        pred: impl Fn(&SeenReaction) -> bool,
    ) -> anyhow::Result<SeenReaction> {
        self.wait_log(
            room,
            timeout,
            || format!("a matching reaction in {room}"),
            |log| {
                log.entries.iter().find_map(|e| match e {
                    Entry::Reaction(r) if pred(r) => Some(r.clone()),
                    _ => None,
                })
            },
            |log| describe_tail(log, 10),
        )
        .await
    }

    /// Every message (decrypted, with edits applied) seen in the room so far, in order.
    pub fn messages(&self, room: &RoomId) -> Vec<SeenMessage> {
        self.entries(room, |e| match e {
            Entry::Message(m) => Some(m.clone()),
            _ => None,
        })
    }

    /// Every live (not redacted) reaction seen in the room so far, in order.
    pub fn reactions(&self, room: &RoomId) -> Vec<SeenReaction> {
        self.entries(room, |e| match e {
            Entry::Reaction(x) => Some(x.clone()),
            _ => None,
        })
    }

    /// Ids of events in the room that could not be decrypted (yet).
    pub fn undecryptable(&self, room: &RoomId) -> Vec<OwnedEventId> {
        self.entries(room, |e| match e {
            Entry::Undecryptable { event_id, .. } => Some(event_id.clone()),
            _ => None,
        })
    }

    /// What `pick` takes from the room's log, in order.
    fn entries<T>(&self, room: &RoomId, pick: impl Fn(&Entry) -> Option<T>) -> Vec<T> {
        lock(&self.shared.log)
            .get(room)
            .map(|r| r.entries.iter().filter_map(&pick).collect())
            .unwrap_or_default()
    }

    /// Who is typing in the room, as of the last sync.
    pub fn typing(&self, room: &RoomId) -> Vec<OwnedUserId> {
        lock(&self.shared.log)
            .get(room)
            .map(|r| r.typing.clone())
            .unwrap_or_default()
    }

    /// A receiver that changes after every processed sync, for callers that want to react
    /// to new events (the terminal client does).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.changed.subscribe()
    }

    fn sync_error_note(&self) -> String {
        lock(&self.shared.last_sync_error)
            .as_ref()
            .map(|e| format!(" Last sync error: {e}."))
            .unwrap_or_default()
    }

    async fn stop_sync(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.sync_task.take() {
            let _ = task.await;
        }
    }

    /// Stops syncing and keeps the device and store, so a later [`Self::login`] with the
    /// same store restores this session.
    pub async fn close(mut self) {
        self.stop_sync().await;
    }

    /// Stops syncing, logs this device out on the server and removes the local store (it
    /// belongs to a device that no longer exists).
    pub async fn logout(mut self) -> anyhow::Result<()> {
        self.stop_sync().await;
        self.client
            .logout()
            .await
            .context("logging out of Matrix")?;
        let dir = self.store_dir.clone();
        drop(self);
        wipe_store(&dir)
    }
}

async fn sync_loop(client: Client, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    // The homeserver may be restarting: keep trying, slower and slower, until it answers.
    let policy = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(15))
        .without_max_times();
    use backon::BackoffBuilder;
    let mut waits = policy.build();
    loop {
        let settings = SyncSettings::default().timeout(SYNC_LONG_POLL);
        tokio::select! {
            _ = stop.changed() => break,
            result = client.sync_once(settings) => match result {
                Ok(response) => {
                    waits = policy.build();
                    *lock(&shared.last_sync_error) = None;
                    shared.ingest(&client, response).await;
                }
                Err(e) => {
                    let backoff = waits.next().unwrap_or(Duration::from_secs(15));
                    tracing::warn!(error = %e, retry_in = ?backoff, "Matrix sync failed");
                    *lock(&shared.last_sync_error) = Some(e.to_string());
                    shared.bump();
                    tokio::select! {
                        _ = stop.changed() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                }
            }
        }
    }
    tracing::debug!("sync loop stopped");
}

/// Waits for the next change; false once `deadline` passed (or the sync task is gone).
async fn wait_change(rx: &mut watch::Receiver<u64>, deadline: Instant) -> bool {
    matches!(
        tokio::time::timeout_at(deadline, rx.changed()).await,
        Ok(Ok(()))
    )
}

async fn membership(room: &Room, user: &UserId) -> Option<MembershipState> {
    match room.get_member_no_sync(user).await {
        Ok(Some(member)) => Some(member.membership().clone()),
        _ => None,
    }
}

fn describe_message(m: &SeenMessage) -> String {
    let mut body: String = m.body.chars().take(80).collect();
    if body.len() < m.body.len() {
        body.push('…');
    }
    format!(
        "{} {}{} status={} edits={} encrypted={}{}: {:?}",
        m.event_id,
        m.sender,
        m.thread_root
            .as_ref()
            .map(|r| format!(" (thread {r})"))
            .unwrap_or_default(),
        m.status.as_deref().unwrap_or("-"),
        m.edits,
        m.encrypted,
        if m.redacted { " redacted" } else { "" },
        body
    )
}

fn describe_entry(e: &Entry) -> String {
    match e {
        Entry::Message(m) => describe_message(m),
        Entry::Reaction(r) => format!(
            "{} {} reacted {} to {}",
            r.event_id, r.sender, r.key, r.target
        ),
        Entry::Undecryptable { event_id, sender } => {
            format!("{event_id} {sender}: (could not be decrypted)")
        }
    }
}

fn describe_after(log: &RoomLog, after: &EventId) -> String {
    match log.position(after) {
        None => format!(
            "Never saw {after} in the room. Last events: {}",
            describe_tail(log, 5)
        ),
        Some(i) => {
            let rest: Vec<String> = log.entries[i + 1..].iter().map(describe_entry).collect();
            if rest.is_empty() {
                format!("Nothing arrived after {after}.")
            } else {
                format!("Seen after it: [{}]", rest.join("; "))
            }
        }
    }
}

fn describe_tail(log: &RoomLog, n: usize) -> String {
    let start = log.entries.len().saturating_sub(n);
    let tail: Vec<String> = log.entries[start..].iter().map(describe_entry).collect();
    format!("[{}]", tail.join("; "))
}

fn same_user(stored: &UserId, wanted: &str) -> bool {
    // `wanted` may be a bare localpart, as login accepts.
    stored.as_str() == wanted || stored.localpart() == wanted.trim_start_matches('@')
}

async fn build_client(homeserver: &str, store_dir: &Path) -> anyhow::Result<Client> {
    Client::builder()
        .homeserver_url(homeserver)
        .sqlite_store(store_dir, None)
        .build()
        .await
        .with_context(|| format!("setting up a Matrix client for {homeserver}"))
}

fn read_session(path: &Path) -> anyhow::Result<Option<SavedSession>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!("reading the saved session {}", path.display())
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_session(path: &Path, session: &SavedSession) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(session)?;
    // Write then rename, so a crash never leaves half a session (which would force a new
    // device and orphan the store's keys).
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The file holds an access token.
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Removes the session file and the SDK's sqlite files, and nothing else: the directory
/// may be one a user pointed us at.
fn wipe_store(dir: &Path) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == SESSION_FILE || (name.starts_with("matrix-sdk-") && name.contains(".sqlite3")) {
            match std::fs::remove_file(entry.path()) {
                // SQLite removes its -wal/-shm files itself as the last connection closes.
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", entry.path().display()));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn uid(s: &str) -> OwnedUserId {
        UserId::parse(s).unwrap()
    }
    fn eid(s: &str) -> OwnedEventId {
        EventId::parse(s).unwrap()
    }

    fn feed(log: &mut RoomLog, v: Value) {
        let id = event_id_of(&v).unwrap();
        let sender = sender_of(&v).unwrap();
        if let Parsed::New(e) = parse(log, &v, id, sender, true) {
            log.entries.push(e);
        }
    }

    #[test]
    fn edits_apply_status_and_only_from_the_sender() {
        let mut log = RoomLog::default();
        feed(
            &mut log,
            json!({"type": "m.room.message", "event_id": "$a", "sender": "@3am:x",
            "content": {"msgtype": "m.text", "body": "Hel", "io.threeam.status": "streaming",
                        "m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}}}),
        );
        let m = log.message(&eid("$a")).unwrap();
        assert!(!m.is_final());
        assert_eq!(m.thread_root, Some(eid("$root")));

        feed(
            &mut log,
            json!({"type": "m.room.message", "event_id": "$e0", "sender": "@mallory:x",
            "content": {"body": "* evil", "m.new_content": {"body": "evil", "io.threeam.status": "final"},
                        "m.relates_to": {"rel_type": "m.replace", "event_id": "$a"}}}),
        );
        feed(
            &mut log,
            json!({"type": "m.room.message", "event_id": "$e1", "sender": "@3am:x",
            "content": {"body": "* Hello", "io.threeam.status": "final",
                        "m.new_content": {"msgtype": "m.text", "body": "Hello", "format": "org.matrix.custom.html",
                                          "formatted_body": "<b>Hello</b>", "io.threeam.status": "final"},
                        "m.relates_to": {"rel_type": "m.replace", "event_id": "$a"}}}),
        );
        let m = log.message(&eid("$a")).unwrap();
        assert_eq!(m.body, "Hello");
        assert_eq!(m.formatted_body.as_deref(), Some("<b>Hello</b>"));
        assert_eq!(m.edits, 1);
        assert!(m.is_final());
        assert_eq!(m.sender, uid("@3am:x"));
        assert_eq!(log.entries.len(), 1, "edits are not messages of their own");
    }

    #[test]
    fn reactions_and_redactions() {
        let mut log = RoomLog::default();
        feed(
            &mut log,
            json!({"type": "m.room.message", "event_id": "$a", "sender": "@3am:x",
            "content": {"msgtype": "m.text", "body": "hi"}}),
        );
        feed(
            &mut log,
            json!({"type": "m.reaction", "event_id": "$r", "sender": "@u:x",
            "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$a", "key": "👍"}}}),
        );
        assert!(matches!(&log.entries[1], Entry::Reaction(r) if r.key == "👍"));
        feed(
            &mut log,
            json!({"type": "m.room.redaction", "event_id": "$x", "sender": "@u:x",
            "redacts": "$r", "content": {}}),
        );
        assert_eq!(log.entries.len(), 1);
        feed(
            &mut log,
            json!({"type": "m.room.redaction", "event_id": "$y", "sender": "@u:x",
            "content": {"redacts": "$a"}}),
        );
        assert!(log.message(&eid("$a")).unwrap().redacted);
        // No status key: complete by definition.
        assert!(log.message(&eid("$a")).unwrap().is_final());
    }
}
