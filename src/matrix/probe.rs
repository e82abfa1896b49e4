//! A light homeserver check for `doctor`: reachable, and the bot's credentials work. It uses
//! the saved session when there is one, so checking never piles up new devices.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::config::MatrixConfig;

/// The file, inside the store path, where the bot keeps its session for restoring.
pub const SESSION_FILE: &str = "session.json";

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("homeserver at {url} is not reachable: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("homeserver at {url} rejected the bot's {how}: {detail}")]
    Rejected {
        url: String,
        how: &'static str,
        detail: String,
    },
}

#[derive(Deserialize)]
struct Whoami {
    user_id: String,
}

#[derive(Deserialize)]
struct LoginResponse {
    access_token: String,
}

/// Returns a description of how the bot authenticated (`saved session` or `password`).
pub async fn check(cfg: &MatrixConfig) -> Result<String, ProbeError> {
    let base = cfg.homeserver_url.trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ProbeError::Unreachable {
            url: base.clone(),
            detail: e.to_string(),
        })?;
    let unreachable = |e: reqwest::Error| ProbeError::Unreachable {
        url: base.clone(),
        detail: e.to_string(),
    };
    let versions = http
        .get(format!("{base}/_matrix/client/versions"))
        .send()
        .await
        .map_err(unreachable)?;
    if !versions.status().is_success() {
        return Err(ProbeError::Unreachable {
            url: base.clone(),
            detail: format!(
                "/_matrix/client/versions answered HTTP {}",
                versions.status()
            ),
        });
    }

    if let Some(token) = saved_token(&cfg.store_path) {
        let resp = http
            .get(format!("{base}/_matrix/client/v3/account/whoami"))
            .bearer_auth(&token)
            .send()
            .await
            .map_err(unreachable)?;
        if resp.status().is_success() {
            let who: Whoami = resp.json().await.map_err(unreachable)?;
            return Ok(format!("saved session for {} works", who.user_id));
        }
        return Err(ProbeError::Rejected {
            url: base.clone(),
            how: "saved session",
            detail: format!("whoami answered HTTP {}", resp.status()),
        });
    }
    if let Some(token) = cfg.access_token.as_deref().filter(|t| !t.is_empty()) {
        let resp = http
            .get(format!("{base}/_matrix/client/v3/account/whoami"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(unreachable)?;
        return if resp.status().is_success() {
            Ok("access token works".into())
        } else {
            Err(ProbeError::Rejected {
                url: base.clone(),
                how: "access token",
                detail: format!("HTTP {}", resp.status()),
            })
        };
    }
    let password = cfg.password.clone().unwrap_or_default();
    let resp = http
        .post(format!("{base}/_matrix/client/v3/login"))
        .json(&serde_json::json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": cfg.user_id},
            "password": password,
            "initial_device_display_name": "3AM doctor (temporary)",
        }))
        .send()
        .await
        .map_err(unreachable)?;
    if !resp.status().is_success() {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        return Err(ProbeError::Rejected {
            url: base.clone(),
            how: "password",
            detail: format!("HTTP {status}: {}", crate::llm::truncate(&body, 200)),
        });
    }
    let login: LoginResponse = resp.json().await.map_err(unreachable)?;
    // The probe's device is thrown away at once so it never collects encryption keys.
    let _ = http
        .post(format!("{base}/_matrix/client/v3/logout"))
        .bearer_auth(&login.access_token)
        .send()
        .await;
    Ok(format!("{} can log in with its password", cfg.user_id))
}

fn saved_token(store: &Path) -> Option<String> {
    saved_session_field(store, "access_token")
}

/// The device the bot's saved session belongs to (`None` before its first login).
pub fn saved_device_id(store: &Path) -> Option<String> {
    saved_session_field(store, "device_id")
}

/// A string field of the saved session. The session file nests its fields; they are
/// searched for rather than depend on the file's exact shape.
fn saved_session_field(store: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(store.join(SESSION_FILE)).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    find_string(&value, key)
}

/// What the homeserver holds of the bot's encryption set-up (see `matrix::recovery`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionState {
    /// The account has a cross-signing identity (master and self-signing keys).
    pub cross_signing: bool,
    /// The bot's current device is signed by the self-signing key.
    pub device_verified: bool,
    /// The server-side key backup's version, if there is one.
    pub backup_version: Option<String>,
    /// Secret storage (what the recovery key opens) is set up.
    pub secret_storage: bool,
    /// The recovery key file exists and only its owner can read it.
    pub key_file: Result<(), String>,
}

impl EncryptionState {
    pub fn all_good(&self) -> bool {
        self.cross_signing
            && self.device_verified
            && self.backup_version.is_some()
            && self.secret_storage
            && self.key_file.is_ok()
    }

    /// One line, for `doctor`.
    pub fn describe(&self) -> String {
        let yes = |b: bool| if b { "yes" } else { "no" };
        format!(
            "cross-signing {}, this device verified {}, key backup {}, recovery {}, key file {}",
            yes(self.cross_signing),
            yes(self.device_verified),
            self.backup_version
                .as_deref()
                .map_or("none".to_owned(), |v| format!("version {v}")),
            if self.secret_storage {
                "set up"
            } else {
                "not set up"
            },
            match &self.key_file {
                Ok(()) => "present (0600)".to_owned(),
                Err(why) => why.clone(),
            }
        )
    }
}

/// Reads the encryption state with the saved session (`None` before the bot's first login).
pub async fn encryption_state(cfg: &MatrixConfig) -> Result<Option<EncryptionState>, ProbeError> {
    let Some(token) = saved_token(&cfg.store_path) else {
        return Ok(None);
    };
    let device = saved_device_id(&cfg.store_path);
    let base = cfg.homeserver_url.trim_end_matches('/').to_owned();
    let unreachable = |e: reqwest::Error| ProbeError::Unreachable {
        url: base.clone(),
        detail: e.to_string(),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(unreachable)?;
    let user = &cfg.user_id;
    let keys: serde_json::Value = http
        .post(format!("{base}/_matrix/client/v3/keys/query"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"device_keys": {user: []}}))
        .send()
        .await
        .map_err(unreachable)?
        .json()
        .await
        .map_err(unreachable)?;
    let self_signing: Option<String> = keys["self_signing_keys"][user]["keys"]
        .as_object()
        .and_then(|k| k.keys().next().cloned());
    let cross_signing = keys["master_keys"][user].is_object() && self_signing.is_some();
    let device_verified = match (&device, &self_signing) {
        (Some(d), Some(ssk)) => keys["device_keys"][user][d]["signatures"][user][ssk].is_string(),
        _ => false,
    };
    let backup = http
        .get(format!("{base}/_matrix/client/v3/room_keys/version"))
        .bearer_auth(&token)
        .send()
        .await
        .map_err(unreachable)?;
    let backup_version = if backup.status().is_success() {
        let v: serde_json::Value = backup.json().await.map_err(unreachable)?;
        v["version"].as_str().map(str::to_owned)
    } else {
        None
    };
    let storage = http
        .get(format!(
            "{base}/_matrix/client/v3/user/{}/account_data/m.secret_storage.default_key",
            url::form_urlencoded::byte_serialize(user.as_bytes()).collect::<String>()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .map_err(unreachable)?;
    let secret_storage = storage.status().is_success()
        && storage
            .json::<serde_json::Value>()
            .await
            .is_ok_and(|v| v["key"].is_string());
    let path = cfg.recovery_key_file();
    let key_file = match std::fs::metadata(&path) {
        Ok(m) if std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o077 == 0 => Ok(()),
        Ok(_) => Err(format!(
            "{} is readable by others: chmod 600 it",
            path.display()
        )),
        Err(_) => Err(format!("{} missing", path.display())),
    };
    Ok(Some(EncryptionState {
        cross_signing,
        device_verified,
        backup_version,
        secret_storage,
        key_file,
    }))
}

fn find_string(v: &serde_json::Value, key: &str) -> Option<String> {
    match v {
        serde_json::Value::Object(map) => map
            .get(key)
            .and_then(|t| t.as_str().map(str::to_owned))
            .or_else(|| map.values().find_map(|v| find_string(v, key))),
        _ => None,
    }
}
