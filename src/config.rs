//! Typed configuration: a TOML file, then `THREEAM_<SECTION>_<KEY>` environment overrides,
//! then validation. Every problem is reported as one line naming the key and the fix, because
//! the person reading it is usually setting the bot up for the first time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::Deserialize;

/// A configuration problem, phrased for the person editing `config.toml`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot read config file {path}: {source} (copy config.toml.example to config.toml, or pass --config)"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config key `{key}` {problem}; fix: {fix}")]
    Invalid {
        key: &'static str,
        problem: String,
        fix: String,
    },
}

fn invalid(key: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        problem: problem.into(),
        fix: fix.into(),
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub matrix: MatrixConfig,
    pub database: DatabaseConfig,
    pub llm: LlmConfig,
    pub schedule: ScheduleConfig,
    pub web: WebConfig,
    pub research: ResearchConfig,
    pub metrics: MetricsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatrixConfig {
    pub homeserver_url: String,
    pub user_id: String,
    pub password: Option<String>,
    pub access_token: Option<String>,
    pub device_name: String,
    pub display_name: String,
    pub store_path: PathBuf,
    /// Encrypts the Matrix store (the bot's encryption keys and room state) on disk. Unset,
    /// the store is plain SQLite and the bot warns at start-up.
    pub store_passphrase: Option<String>,
    /// Where the recovery key is written when the bot sets up recovery (cross-signing
    /// secrets and the server-side key backup), and read from when a new store must
    /// recover them. Keep a copy off the machine. Unset: beside the store,
    /// `<store_path>.recovery-key`.
    pub recovery_key_path: Option<PathBuf>,
    /// Matrix ids or glob patterns such as `@*:example.org`.
    pub allowed_users: Vec<String>,
}

impl MatrixConfig {
    /// The recovery key's file (see [`MatrixConfig::recovery_key_path`]).
    pub fn recovery_key_file(&self) -> PathBuf {
        match &self.recovery_key_path {
            Some(p) => p.clone(),
            None => {
                let mut name = self.store_path.as_os_str().to_owned();
                name.push(".recovery-key");
                PathBuf::from(name)
            }
        }
    }
}

impl Default for MatrixConfig {
    fn default() -> Self {
        Self {
            homeserver_url: String::new(),
            user_id: String::new(),
            password: None,
            access_token: None,
            device_name: "3AM".into(),
            display_name: "3AM".into(),
            store_path: PathBuf::from("data/matrix-store"),
            recovery_key_path: None,
            store_passphrase: None,
            allowed_users: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            max_connections: 8,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    pub chat_url: String,
    pub embedding_url: String,
    /// Model id to request, or `auto` to take the first one `/v1/models` lists.
    pub chat_model: String,
    pub embedding_model: String,
    pub connect_timeout_secs: u64,
    pub request_timeout_secs: u64,
    pub embedding_timeout_secs: u64,
    pub max_retries: u32,
    /// Must match the `vector(N)` column of the schema.
    pub embedding_dim: usize,
    pub embedding_batch: usize,
    pub context_tokens: usize,
    /// Tokens of the conversation the chat model sees (the current session, newest last).
    /// Small models copy from a long history and every uncached token costs time on a CPU;
    /// memory carries what falls out of it.
    pub history_tokens: usize,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            chat_url: String::new(),
            embedding_url: String::new(),
            chat_model: "auto".into(),
            embedding_model: "auto".into(),
            connect_timeout_secs: 5,
            request_timeout_secs: 120,
            embedding_timeout_secs: 10,
            max_retries: 3,
            embedding_dim: crate::db::EMBEDDING_DIM,
            embedding_batch: 32,
            context_tokens: 8192,
            history_tokens: 800,
        }
    }
}

impl LlmConfig {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
    pub fn embedding_timeout(&self) -> Duration {
        Duration::from_secs(self.embedding_timeout_secs)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Local time of the nightly cycle, `HH:MM`, in each user's time zone.
    pub night_time: String,
    pub digest_time: String,
    pub default_timezone: String,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            night_time: "03:00".into(),
            digest_time: "07:30".into(),
            default_timezone: "UTC".into(),
        }
    }
}

impl ScheduleConfig {
    pub fn night(&self) -> NaiveTime {
        parse_hhmm(&self.night_time).expect("validated at load")
    }
    pub fn digest(&self) -> NaiveTime {
        parse_hhmm(&self.digest_time).expect("validated at load")
    }
    pub fn timezone(&self) -> Tz {
        self.default_timezone.parse().expect("validated at load")
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    pub enabled: bool,
    /// SearxNG base URL; its `/search?format=json` endpoint is used.
    pub search_url: String,
    /// Also fetch result pages on loopback and private addresses (an intranet, or tests).
    /// Off by default so a search result cannot make the bot probe the local network.
    pub fetch_private: bool,
}

/// Research on approved topics and the hourly self-review, in idle hours (needs `web`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResearchConfig {
    /// Idle-hours research, topic proposals and the self-review at all.
    pub enabled: bool,
    /// The user counts as idle this many minutes after their last message.
    pub idle_minutes: u32,
    /// Topics researched per user per day (in idle hours; `!research now` is extra).
    pub topics_per_day: u32,
    /// Topics proposed per user per day.
    pub proposals_per_day: u32,
    /// Result pages read per topic and run.
    pub pages_per_topic: u32,
}

impl Default for ResearchConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            idle_minutes: 30,
            topics_per_day: 3,
            proposals_per_day: 2,
            pages_per_topic: 3,
        }
    }
}

/// The opt-in HTTP listener for `/metrics` (Prometheus text) and `/healthz`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// `host:port` to listen on, e.g. `127.0.0.1:9464`; empty (the default) for no listener.
    pub listen: String,
}

impl MetricsConfig {
    /// The address to listen on, if any (checked by [`Config::validate_metrics`]).
    pub fn address(&self) -> Option<std::net::SocketAddr> {
        self.listen.trim().parse().ok()
    }
}

fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// Where an override comes from; a closure so tests need not touch the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Config {
    /// Load `path` (a missing file is fine when every required key comes from the environment),
    /// apply environment overrides and validate.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut cfg = match &text {
            Some(t) => Self::parse(t, path)?,
            None => Self::default(),
        };
        cfg.apply_env(&env)?;
        if text.is_none() && cfg.database.url.is_empty() {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        Ok(cfg)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().replace('\n', " "),
        })
    }

    /// The `THREEAM_*` variables that start `threeam run` with this configuration's
    /// homeserver, account, store, allow-list, database, model servers and model timeouts:
    /// how benchmarks and tests start the bot as a process of its own, with no config file.
    pub fn bot_process_env(&self) -> Vec<(&'static str, String)> {
        let m = &self.matrix;
        let mut env = vec![
            ("THREEAM_MATRIX_HOMESERVER_URL", m.homeserver_url.clone()),
            ("THREEAM_MATRIX_USER_ID", m.user_id.clone()),
            (
                "THREEAM_MATRIX_STORE_PATH",
                m.store_path.display().to_string(),
            ),
            ("THREEAM_MATRIX_ALLOWED_USERS", m.allowed_users.join(",")),
            ("THREEAM_DATABASE_URL", self.database.url.clone()),
            ("THREEAM_LLM_CHAT_URL", self.llm.chat_url.clone()),
            ("THREEAM_LLM_EMBEDDING_URL", self.llm.embedding_url.clone()),
            (
                "THREEAM_LLM_REQUEST_TIMEOUT_SECS",
                self.llm.request_timeout_secs.to_string(),
            ),
            ("THREEAM_LLM_MAX_RETRIES", self.llm.max_retries.to_string()),
        ];
        if let Some(p) = &m.password {
            env.push(("THREEAM_MATRIX_PASSWORD", p.clone()));
        }
        if let Some(p) = &m.store_passphrase {
            env.push(("THREEAM_MATRIX_STORE_PASSPHRASE", p.clone()));
        }
        env
    }

    /// Environment variables win over the file: `THREEAM_DATABASE_URL`, `THREEAM_LLM_CHAT_URL`,
    /// `THREEAM_MATRIX_ALLOWED_USERS` (comma separated)…
    pub fn apply_env(&mut self, env: EnvLookup<'_>) -> Result<(), ConfigError> {
        macro_rules! string {
            ($key:literal, $field:expr) => {
                if let Some(v) = env($key) {
                    $field = v;
                }
            };
        }
        macro_rules! parsed {
            ($key:literal, $field:expr, $what:literal) => {
                if let Some(v) = env($key) {
                    $field = v.trim().parse().map_err(|_| {
                        invalid(
                            $key,
                            format!("is `{v}`, not {}", $what),
                            format!("set {} to {}", $key, $what),
                        )
                    })?;
                }
            };
        }
        string!("THREEAM_MATRIX_HOMESERVER_URL", self.matrix.homeserver_url);
        string!("THREEAM_MATRIX_USER_ID", self.matrix.user_id);
        if let Some(v) = env("THREEAM_MATRIX_PASSWORD") {
            self.matrix.password = Some(v);
        }
        if let Some(v) = env("THREEAM_MATRIX_ACCESS_TOKEN") {
            self.matrix.access_token = Some(v);
        }
        string!("THREEAM_MATRIX_DEVICE_NAME", self.matrix.device_name);
        string!("THREEAM_MATRIX_DISPLAY_NAME", self.matrix.display_name);
        if let Some(v) = env("THREEAM_MATRIX_STORE_PATH") {
            self.matrix.store_path = v.into();
        }
        if let Some(v) = env("THREEAM_MATRIX_RECOVERY_KEY_PATH") {
            self.matrix.recovery_key_path = Some(PathBuf::from(v));
        }
        if let Some(v) = env("THREEAM_MATRIX_STORE_PASSPHRASE") {
            self.matrix.store_passphrase = Some(v);
        }
        if let Some(v) = env("THREEAM_MATRIX_ALLOWED_USERS") {
            self.matrix.allowed_users = v
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
        }
        string!("THREEAM_DATABASE_URL", self.database.url);
        parsed!(
            "THREEAM_DATABASE_MAX_CONNECTIONS",
            self.database.max_connections,
            "a positive integer"
        );
        string!("THREEAM_LLM_CHAT_URL", self.llm.chat_url);
        string!("THREEAM_LLM_EMBEDDING_URL", self.llm.embedding_url);
        string!("THREEAM_LLM_CHAT_MODEL", self.llm.chat_model);
        string!("THREEAM_LLM_EMBEDDING_MODEL", self.llm.embedding_model);
        parsed!(
            "THREEAM_LLM_CONNECT_TIMEOUT_SECS",
            self.llm.connect_timeout_secs,
            "a whole number of seconds"
        );
        parsed!(
            "THREEAM_LLM_REQUEST_TIMEOUT_SECS",
            self.llm.request_timeout_secs,
            "a whole number of seconds"
        );
        parsed!(
            "THREEAM_LLM_EMBEDDING_TIMEOUT_SECS",
            self.llm.embedding_timeout_secs,
            "a whole number of seconds"
        );
        parsed!(
            "THREEAM_LLM_MAX_RETRIES",
            self.llm.max_retries,
            "a whole number"
        );
        parsed!(
            "THREEAM_LLM_CONTEXT_TOKENS",
            self.llm.context_tokens,
            "a whole number of tokens"
        );
        parsed!(
            "THREEAM_LLM_HISTORY_TOKENS",
            self.llm.history_tokens,
            "a whole number of tokens"
        );
        string!("THREEAM_SCHEDULE_NIGHT_TIME", self.schedule.night_time);
        string!("THREEAM_SCHEDULE_DIGEST_TIME", self.schedule.digest_time);
        string!(
            "THREEAM_SCHEDULE_DEFAULT_TIMEZONE",
            self.schedule.default_timezone
        );
        parsed!("THREEAM_WEB_ENABLED", self.web.enabled, "true or false");
        string!("THREEAM_WEB_SEARCH_URL", self.web.search_url);
        parsed!(
            "THREEAM_WEB_FETCH_PRIVATE",
            self.web.fetch_private,
            "true or false"
        );
        parsed!(
            "THREEAM_RESEARCH_ENABLED",
            self.research.enabled,
            "true or false"
        );
        parsed!(
            "THREEAM_RESEARCH_IDLE_MINUTES",
            self.research.idle_minutes,
            "a number of minutes"
        );
        parsed!(
            "THREEAM_RESEARCH_TOPICS_PER_DAY",
            self.research.topics_per_day,
            "a number"
        );
        parsed!(
            "THREEAM_RESEARCH_PROPOSALS_PER_DAY",
            self.research.proposals_per_day,
            "a number"
        );
        parsed!(
            "THREEAM_RESEARCH_PAGES_PER_TOPIC",
            self.research.pages_per_topic,
            "a number"
        );
        string!("THREEAM_METRICS_LISTEN", self.metrics.listen);
        Ok(())
    }

    /// `metrics.listen` is empty or an address with a port.
    pub fn validate_metrics(&self) -> Result<(), ConfigError> {
        let listen = self.metrics.listen.trim();
        if !listen.is_empty() && self.metrics.address().is_none() {
            return Err(invalid(
                "metrics.listen",
                format!("is `{listen}`, not an address with a port"),
                "set it to e.g. 127.0.0.1:9464, or leave it empty for no metrics listener",
            ));
        }
        Ok(())
    }

    /// Checks needed by every command that touches the database.
    pub fn validate_database(&self) -> Result<(), ConfigError> {
        let url = self.database.url.trim();
        if url.is_empty() {
            return Err(invalid(
                "database.url",
                "is missing",
                "set it to postgres://USER:PASSWORD@HOST:PORT/DB (or THREEAM_DATABASE_URL)",
            ));
        }
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid(
                "database.url",
                // The URL may hold a password: show its scheme only.
                format!(
                    "starts with `{}`, not postgres://",
                    url.split("://")
                        .next()
                        .unwrap_or_default()
                        .chars()
                        .take(20)
                        .collect::<String>()
                ),
                "use postgres://USER:PASSWORD@HOST:PORT/DB",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(invalid(
                "database.max_connections",
                "is 0",
                "use a value such as 8",
            ));
        }
        Ok(())
    }

    /// Checks for the LLM section.
    pub fn validate_llm(&self) -> Result<(), ConfigError> {
        check_http_url(
            "llm.chat_url",
            &self.llm.chat_url,
            "the llama-server base URL, e.g. http://127.0.0.1:8080",
        )?;
        check_http_url(
            "llm.embedding_url",
            &self.llm.embedding_url,
            "the embedding llama-server base URL, e.g. http://127.0.0.1:8081",
        )?;
        if self.llm.chat_model.trim().is_empty() {
            return Err(invalid(
                "llm.chat_model",
                "is empty",
                "name a model or write \"auto\"",
            ));
        }
        if self.llm.embedding_model.trim().is_empty() {
            return Err(invalid(
                "llm.embedding_model",
                "is empty",
                "name a model or write \"auto\"",
            ));
        }
        if self.llm.request_timeout_secs == 0
            || self.llm.connect_timeout_secs == 0
            || self.llm.embedding_timeout_secs == 0
        {
            return Err(invalid(
                "llm.request_timeout_secs",
                "or another llm timeout is 0",
                "use a positive number of seconds",
            ));
        }
        if self.llm.embedding_dim != crate::db::EMBEDDING_DIM {
            return Err(invalid(
                "llm.embedding_dim",
                format!(
                    "is {}, but the schema stores {}-d vectors",
                    self.llm.embedding_dim,
                    crate::db::EMBEDDING_DIM
                ),
                format!(
                    "use a {}-d embedding model such as all-MiniLM-L6-v2",
                    crate::db::EMBEDDING_DIM
                ),
            ));
        }
        if self.llm.embedding_batch == 0 {
            return Err(invalid(
                "llm.embedding_batch",
                "is 0",
                "use a value such as 32",
            ));
        }
        if self.llm.context_tokens < 512 {
            return Err(invalid(
                "llm.context_tokens",
                format!(
                    "is {}, too small for a conversation",
                    self.llm.context_tokens
                ),
                "set it to the server's context size (-c), e.g. 8192",
            ));
        }
        if self.llm.history_tokens * 2 > self.llm.context_tokens {
            return Err(invalid(
                "llm.history_tokens",
                format!(
                    "is {}, more than half of llm.context_tokens ({})",
                    self.llm.history_tokens, self.llm.context_tokens
                ),
                "leave room for the memories, the message and the reply, e.g. 800",
            ));
        }
        Ok(())
    }

    pub fn validate_matrix(&self) -> Result<(), ConfigError> {
        check_http_url(
            "matrix.homeserver_url",
            &self.matrix.homeserver_url,
            "the homeserver's client URL, e.g. https://matrix.example.org",
        )?;
        if !is_matrix_user_id(&self.matrix.user_id) {
            return Err(invalid(
                "matrix.user_id",
                format!("is `{}`, not a Matrix user id", self.matrix.user_id),
                "write the bot's full id, e.g. @3am:example.org",
            ));
        }
        let has_password = self
            .matrix
            .password
            .as_deref()
            .is_some_and(|p| !p.is_empty());
        let has_token = self
            .matrix
            .access_token
            .as_deref()
            .is_some_and(|p| !p.is_empty());
        if !has_password && !has_token {
            return Err(invalid(
                "matrix.password",
                "is missing (and so is matrix.access_token)",
                "set the bot account's password (or THREEAM_MATRIX_PASSWORD)",
            ));
        }
        if self.matrix.device_name.trim().is_empty() {
            return Err(invalid(
                "matrix.device_name",
                "is empty",
                "use a name such as \"3AM\"",
            ));
        }
        if self.matrix.allowed_users.is_empty() {
            return Err(invalid(
                "matrix.allowed_users",
                "is empty, so nobody could talk to the bot",
                "list your Matrix id, e.g. allowed_users = [\"@you:example.org\"]",
            ));
        }
        for pattern in &self.matrix.allowed_users {
            if !pattern.starts_with('@') || !pattern.contains(':') {
                return Err(invalid(
                    "matrix.allowed_users",
                    format!("has `{pattern}`, which is not a user id or pattern"),
                    "use ids like @you:example.org or patterns like @*:example.org",
                ));
            }
        }
        Ok(())
    }

    pub fn validate_schedule(&self) -> Result<(), ConfigError> {
        if parse_hhmm(&self.schedule.night_time).is_none() {
            return Err(invalid(
                "schedule.night_time",
                format!("is `{}`", self.schedule.night_time),
                "use 24-hour HH:MM, e.g. \"03:00\"",
            ));
        }
        if parse_hhmm(&self.schedule.digest_time).is_none() {
            return Err(invalid(
                "schedule.digest_time",
                format!("is `{}`", self.schedule.digest_time),
                "use 24-hour HH:MM, e.g. \"07:30\"",
            ));
        }
        if self.schedule.default_timezone.parse::<Tz>().is_err() {
            return Err(invalid(
                "schedule.default_timezone",
                format!(
                    "is `{}`, not an IANA time zone",
                    self.schedule.default_timezone
                ),
                "use a name such as \"Europe/Berlin\" or \"UTC\"",
            ));
        }
        Ok(())
    }

    pub fn validate_web(&self) -> Result<(), ConfigError> {
        if self.web.enabled {
            check_http_url(
                "web.search_url",
                &self.web.search_url,
                "your SearxNG URL, or set web.enabled = false",
            )?;
        }
        Ok(())
    }

    /// Everything the running bot needs.
    pub fn validate_all(&self) -> Result<(), ConfigError> {
        self.validate_database()?;
        self.validate_llm()?;
        self.validate_matrix()?;
        self.validate_schedule()?;
        self.validate_web()?;
        self.validate_metrics()
    }
}

fn check_http_url(key: &'static str, value: &str, fix: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(invalid(key, "is missing", format!("set it to {fix}")));
    }
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(invalid(
            key,
            format!("is `{value}`, not an http(s) URL"),
            format!("set it to {fix}"),
        )),
    }
}

pub fn is_matrix_user_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('@') else {
        return false;
    };
    match rest.split_once(':') {
        Some((local, server)) => !local.is_empty() && !server.is_empty(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const FULL: &str = r#"
[matrix]
homeserver_url = "http://127.0.0.1:18008"
user_id = "@3am:localhost"
password = "pw"
allowed_users = ["@demo:localhost", "@*:example.org"]
[database]
url = "postgres://u:p@127.0.0.1:5432/db"
[llm]
chat_url = "http://127.0.0.1:8080"
embedding_url = "http://127.0.0.1:8081"
"#;

    fn parse(text: &str) -> Config {
        Config::parse(text, Path::new("config.toml")).unwrap()
    }

    #[test]
    fn full_example_validates() {
        parse(FULL).validate_all().unwrap();
    }

    #[test]
    fn shipped_example_parses_and_validates() {
        let text = include_str!("../config.toml.example");
        parse(text).validate_all().unwrap();
    }

    #[test]
    fn env_overrides_win() {
        let mut cfg = parse(FULL);
        let vars: HashMap<&str, &str> = [
            ("THREEAM_DATABASE_URL", "postgres://x:y@h:1/z"),
            ("THREEAM_MATRIX_ALLOWED_USERS", "@a:b, @c:d"),
            ("THREEAM_WEB_ENABLED", "true"),
            ("THREEAM_WEB_SEARCH_URL", "http://127.0.0.1:8888"),
        ]
        .into();
        cfg.apply_env(&|k| vars.get(k).map(|v| v.to_string()))
            .unwrap();
        assert_eq!(cfg.database.url, "postgres://x:y@h:1/z");
        assert_eq!(cfg.matrix.allowed_users, vec!["@a:b", "@c:d"]);
        assert!(cfg.web.enabled);
        cfg.validate_all().unwrap();
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let mut cfg = parse(FULL);
        let err = cfg
            .apply_env(&|k| (k == "THREEAM_LLM_MAX_RETRIES").then(|| "many".to_string()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("THREEAM_LLM_MAX_RETRIES"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn a_mistyped_database_url_is_not_echoed_with_its_password() {
        let mut cfg = Config::default();
        cfg.database.url = "postgress://bot:s3cret-pw@db:5432/threeam".into();
        let err = cfg.validate_database().unwrap_err().to_string();
        assert!(
            err.contains("database.url") && err.contains("postgress"),
            "{err}"
        );
        assert!(!err.contains("s3cret-pw"), "{err}");
    }

    #[test]
    fn each_problem_is_one_line_naming_the_key() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "url = \"postgres://u:p@127.0.0.1:5432/db\"",
                "url = \"\"",
                "database.url",
            ),
            (
                "url = \"postgres://u:p@127.0.0.1:5432/db\"",
                "url = \"mysql://x\"",
                "database.url",
            ),
            (
                "user_id = \"@3am:localhost\"",
                "user_id = \"3am\"",
                "matrix.user_id",
            ),
            ("password = \"pw\"", "", "matrix.password"),
            (
                "allowed_users = [\"@demo:localhost\", \"@*:example.org\"]",
                "allowed_users = []",
                "matrix.allowed_users",
            ),
            (
                "allowed_users = [\"@demo:localhost\", \"@*:example.org\"]",
                "allowed_users = [\"demo\"]",
                "matrix.allowed_users",
            ),
            (
                "chat_url = \"http://127.0.0.1:8080\"",
                "chat_url = \"localhost:8080\"",
                "llm.chat_url",
            ),
            (
                "[llm]",
                "[schedule]\nnight_time = \"25:00\"\n[llm]",
                "schedule.night_time",
            ),
            (
                "[llm]",
                "[schedule]\ndefault_timezone = \"Mars/Olympus\"\n[llm]",
                "schedule.default_timezone",
            ),
            ("[llm]", "[web]\nenabled = true\n[llm]", "web.search_url"),
        ];
        for (from, to, key) in cases {
            let text = FULL.replace(from, to);
            assert_ne!(text, FULL, "case for {key} did not change the text");
            let err = parse(&text).validate_all().unwrap_err().to_string();
            assert!(err.contains(key), "expected {key} in: {err}");
            assert!(err.contains("fix:"), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = Config::parse("[llm]\nchat_ulr = \"x\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("chat_ulr"), "{err}");
    }

    proptest::proptest! {
        /// Any text as a configuration file gives a config or a one-line error, never a panic.
        #[test]
        fn any_config_text_parses_or_fails_cleanly(
            text in "(\\[(database|llm|matrix|schedule|web)\\]\n|[a-z_]{1,12} = (\"[^\"\n]{0,10}\"|[0-9]{1,4}|true)\n|[^\n]{0,20}\n){0,12}",
        ) {
            if let Err(e) = Config::parse(&text, std::path::Path::new("fuzz.toml")) {
                proptest::prop_assert!(!e.to_string().is_empty());
            }
        }
    }
    #[test]
    fn the_bot_process_env_reads_back_as_the_same_configuration() {
        let mut cfg = Config::default();
        cfg.matrix.homeserver_url = "http://127.0.0.1:18008".into();
        cfg.matrix.user_id = "@bot:localhost".into();
        cfg.matrix.password = Some("pw".into());
        cfg.matrix.store_path = "/tmp/store".into();
        cfg.matrix.store_passphrase = Some("phrase".into());
        cfg.matrix.allowed_users = vec!["@a:x".into(), "@b:x".into()];
        cfg.database.url = "postgres://u:p@127.0.0.1:5432/db".into();
        cfg.llm.chat_url = "http://127.0.0.1:1".into();
        cfg.llm.embedding_url = "http://127.0.0.1:2".into();
        cfg.llm.request_timeout_secs = 10;
        cfg.llm.max_retries = 1;
        let env: std::collections::HashMap<_, _> = cfg.bot_process_env().into_iter().collect();
        let mut read = Config::default();
        read.apply_env(&|k| env.get(k).cloned()).unwrap();
        assert_eq!(format!("{:?}", read.matrix), format!("{:?}", cfg.matrix));
        assert_eq!(read.database.url, cfg.database.url);
        assert_eq!(format!("{:?}", read.llm), format!("{:?}", cfg.llm));
    }
}
