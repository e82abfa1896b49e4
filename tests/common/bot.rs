//! The bot running in-process against the stack's Synapse, with its own fresh account, store
//! and database, the llama-server stub for a model, and a scripted human to talk to it.

use std::path::PathBuf;
use std::time::Duration;

use threeam::assistant::Timing;
use threeam::client::human::Human;
use threeam::config::Config;
use threeam::matrix::register::register_user;
use tokio_util::sync::CancellationToken;

use super::db::TestDb;
use super::stack_env;
use super::stub_llm::StubLlm;

pub const PASSWORD: &str = "test-password-123";

pub fn homeserver() -> String {
    stack_env("THREEAM_MATRIX_HOMESERVER_URL")
}

/// A fresh account on the stack's Synapse.
pub async fn new_user(prefix: &str) -> String {
    let local = format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    register_user(
        &homeserver(),
        &stack_env("THREEAM_SYNAPSE_SHARED_SECRET"),
        &local,
        PASSWORD,
        false,
    )
    .await
    .expect("register a test user")
}

pub struct BotRig {
    pub bot_id: String,
    pub db: TestDb,
    pub llm: StubLlm,
    pub store: tempfile::TempDir,
    pub allowed: Vec<String>,
    /// A SearxNG-shaped search endpoint: web search (and private page addresses) on.
    pub web: Option<String>,
    handle: Option<(
        CancellationToken,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    )>,
}

impl BotRig {
    pub async fn new(allowed: Vec<String>) -> Self {
        let bot_id = new_user("bot").await;
        Self {
            bot_id,
            db: TestDb::migrated().await,
            llm: StubLlm::start().await,
            store: tempfile::tempdir().unwrap(),
            allowed,
            web: None,
            handle: None,
        }
    }

    pub fn config(&self) -> Config {
        let mut cfg = Config::default();
        cfg.matrix.homeserver_url = homeserver();
        cfg.matrix.user_id = self.bot_id.clone();
        cfg.matrix.password = Some(PASSWORD.into());
        cfg.matrix.store_path = self.store.path().join("bot");
        cfg.matrix.store_passphrase = Some("test-store-passphrase".into());
        cfg.matrix.allowed_users = self.allowed.clone();
        cfg.database.url = self.db.url.clone();
        cfg.llm.chat_url = self.llm.url();
        cfg.llm.embedding_url = self.llm.url();
        cfg.llm.request_timeout_secs = 10;
        cfg.llm.max_retries = 1;
        if let Some(url) = &self.web {
            cfg.web.enabled = true;
            cfg.web.search_url = url.clone();
            cfg.web.fetch_private = true;
        }
        cfg
    }

    pub fn timing() -> Timing {
        Timing {
            edit_interval: Duration::from_millis(150),
            db_patience: Duration::from_secs(60),
            retry_interval: Duration::from_millis(500),
            key_patience: Duration::from_secs(4),
        }
    }

    pub async fn start(&mut self) {
        assert!(self.handle.is_none());
        let token = CancellationToken::new();
        let cfg = self.config();
        let t = token.clone();
        let join = tokio::spawn(async move { threeam::app::run(cfg, Self::timing(), t).await });
        self.handle = Some((token, join));
    }

    /// Starts the bot with the night scheduler on a chosen clock and tick interval.
    pub async fn start_with_night(&mut self, night: threeam::night::NightOptions) {
        assert!(self.handle.is_none());
        let token = CancellationToken::new();
        let cfg = self.config();
        let t = token.clone();
        let join = tokio::spawn(async move {
            threeam::app::run_with_night(cfg, Self::timing(), night, t).await
        });
        self.handle = Some((token, join));
    }

    /// The bot as a process of its own (`threeam run`, default timings), so a test can kill it
    /// with SIGKILL as a crash or the OOM killer would. Its log goes to `bot-N.log` in the
    /// rig's store directory.
    pub fn spawn_process(&self) -> BotProcess {
        let cfg = self.config();
        let n = std::fs::read_dir(self.store.path()).map_or(0, |d| d.count());
        let log = self.store.path().join(format!("bot-{n}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_threeam"))
            .arg("--config")
            .arg(self.store.path().join("no-config-file.toml"))
            .arg("run")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info,threeam=debug")
            .envs(cfg.bot_process_env())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .expect("start threeam run");
        BotProcess { child, log }
    }

    /// Graceful stop, as on SIGTERM.
    pub async fn stop(&mut self) {
        let (token, join) = self.handle.take().expect("bot running");
        token.cancel();
        tokio::time::timeout(Duration::from_secs(60), join)
            .await
            .expect("bot stops within 60 s")
            .unwrap()
            .unwrap();
    }

    pub async fn human(&self, user_id: &str) -> Human {
        let dir: PathBuf = self
            .store
            .path()
            .join(user_id.trim_start_matches('@').replace(':', "_"));
        Human::login(&homeserver(), user_id, PASSWORD, &dir)
            .await
            .expect("human logs in")
    }
}

impl BotRig {
    /// The bot's current device, from its saved session.
    pub fn device_id(&self) -> matrix_sdk::ruma::OwnedDeviceId {
        threeam::matrix::probe::saved_device_id(&self.config().matrix.store_path)
            .expect("the bot has logged in")
            .into()
    }

    /// The bot's Matrix id.
    pub fn bot_user(&self) -> matrix_sdk::ruma::OwnedUserId {
        self.bot_id.as_str().try_into().unwrap()
    }

    /// `user_id` logged in, in an encrypted DM the bot has joined.
    pub async fn dm(&self, user_id: &str) -> (Human, matrix_sdk::ruma::OwnedRoomId) {
        let human = self.human(user_id).await;
        let room = human
            .ensure_dm(&self.bot_user(), true, Duration::from_secs(60))
            .await
            .expect("bot joins the encrypted DM");
        (human, room)
    }

    /// Sends `!night` with the night's first model call held for `hold`, and waits until the
    /// night is running and waiting on that call: the moment to kill or restart something.
    /// Returns the `!night` message's id.
    pub async fn night_held_on_the_model(
        &self,
        human: &Human,
        room: &matrix_sdk::ruma::RoomId,
        hold: Duration,
    ) -> matrix_sdk::ruma::OwnedEventId {
        let before = self.llm.structured_requests().len();
        self.llm
            .push_structured(super::stub_llm::Reply::Delay(hold));
        let n = human.send(room, "!night").await.unwrap();
        let pool = self.db.pool.clone();
        eventually(
            "the night is running and waiting on the model",
            Duration::from_secs(120),
            || {
                let pool = pool.clone();
                let llm = &self.llm;
                async move {
                    let running: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM night_runs WHERE status = 'running'",
                    )
                    .fetch_one(&pool)
                    .await
                    .unwrap_or(0);
                    running == 1 && llm.structured_requests().len() > before
                }
            },
        )
        .await;
        n
    }

    /// Waits until the bot has marked `room` left (no answers, no digests go there).
    pub async fn wait_room_left(&self, room: &matrix_sdk::ruma::RoomId, what: &str) {
        let pool = self.db.pool.clone();
        let room_id = room.to_string();
        eventually(what, Duration::from_secs(60), || {
            let (pool, room_id) = (pool.clone(), room_id.clone());
            async move {
                sqlx::query_scalar::<_, bool>(
                    "SELECT left_at IS NOT NULL FROM rooms WHERE room_id = $1",
                )
                .bind(room_id)
                .fetch_optional(&pool)
                .await
                .unwrap()
                .unwrap_or(false)
            }
        })
        .await;
    }
}

/// A bot process started by [`BotRig::spawn_process`]; dropping it kills it.
pub struct BotProcess {
    child: tokio::process::Child,
    pub log: PathBuf,
}

impl BotProcess {
    /// SIGKILL: no shutdown code runs, as in a crash.
    pub async fn kill9(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// The process's log so far (for assertion messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for BotRig {
    fn drop(&mut self) {
        if let Some((token, _)) = &self.handle {
            token.cancel();
        }
    }
}

/// Waits until `check` holds (polling), or fails with `what`.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for: {what}");
}
