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
struct SavedToken {
    access_token: String,
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
    let text = std::fs::read_to_string(store.join(SESSION_FILE)).ok()?;
    // The session file nests the token; search for it rather than depend on its exact shape.
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    find_token(&value)
}

fn find_token(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(tok) = map.get("access_token").and_then(|t| t.as_str()) {
                return serde_json::from_value::<SavedToken>(
                    serde_json::json!({"access_token": tok}),
                )
                .ok()
                .map(|s| s.access_token);
            }
            map.values().find_map(find_token)
        }
        _ => None,
    }
}
