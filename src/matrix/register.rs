//! Creating Matrix accounts on a Synapse we control, through its shared-secret admin API.
//! Used by the stack, by tests (fresh users per run) and by anyone setting up a local demo;
//! a real homeserver's accounts are made by their owner instead.

use std::time::Duration;

use anyhow::{Context, bail};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;

#[derive(Deserialize)]
struct Nonce {
    nonce: String,
}

#[derive(Deserialize)]
struct Registered {
    user_id: String,
    #[serde(default)]
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct MatrixError {
    #[serde(default)]
    errcode: String,
    #[serde(default)]
    error: String,
}

#[derive(Deserialize)]
struct LoginResponse {
    user_id: String,
    access_token: String,
}

/// The MAC Synapse expects: HMAC-SHA1 keyed with the shared secret over
/// `nonce \0 user \0 password \0 admin|notadmin`, hex encoded.
fn registration_mac(
    shared_secret: &str,
    nonce: &str,
    localpart: &str,
    password: &str,
    admin: bool,
) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(shared_secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(nonce.as_bytes());
    mac.update(b"\0");
    mac.update(localpart.as_bytes());
    mac.update(b"\0");
    mac.update(password.as_bytes());
    mac.update(b"\0");
    mac.update(if admin { b"admin" } else { b"notadmin" });
    hex::encode(mac.finalize().into_bytes())
}

/// Registers `localpart` with `password` and returns the full user id
/// (`@localpart:server`). A user that already exists is fine as long as `password` logs
/// it in: its id is returned, so callers can run this on every start.
pub async fn register_user(
    homeserver: &str,
    shared_secret: &str,
    localpart: &str,
    password: &str,
    admin: bool,
) -> anyhow::Result<String> {
    let base = homeserver.trim_end_matches('/');
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = format!("{base}/_synapse/admin/v1/register");

    let nonce: Nonce = http
        .get(&url)
        .send()
        .await
        .with_context(|| format!("asking {url} for a registration nonce"))?
        .error_for_status()
        .with_context(|| {
            format!("{url} refused a nonce (is registration_shared_secret set on this Synapse?)")
        })?
        .json()
        .await
        .context("reading the registration nonce")?;

    let body = serde_json::json!({
        "nonce": nonce.nonce,
        "username": localpart,
        "password": password,
        "admin": admin,
        "mac": registration_mac(shared_secret, &nonce.nonce, localpart, password, admin),
    });
    let resp = http
        .post(&url)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("registering {localpart} at {url}"))?;
    let status = resp.status();
    if status.is_success() {
        let done: Registered = resp.json().await.context("reading the new user id")?;
        tracing::info!(user_id = %done.user_id, "registered Matrix user");
        // Registering also logs in a device that nobody will use; remove it so the account
        // starts with only the devices its real clients create.
        if let Some(token) = done.access_token {
            logout(&http, base, &token).await;
        }
        return Ok(done.user_id);
    }

    let text = resp.text().await.unwrap_or_default();
    let err: Option<MatrixError> = serde_json::from_str(&text).ok();
    match err {
        Some(e) if e.errcode == "M_USER_IN_USE" => {
            // The admin API does not tell us the server name, and we also want to know the
            // password still matches, so a throwaway login answers both.
            existing_user_id(&http, base, localpart, password).await
        }
        Some(e) => bail!(
            "Synapse refused to register {localpart}: HTTP {status} {}: {}",
            e.errcode,
            e.error
        ),
        None => bail!("Synapse refused to register {localpart}: HTTP {status}: {text}"),
    }
}

async fn existing_user_id(
    http: &reqwest::Client,
    base: &str,
    localpart: &str,
    password: &str,
) -> anyhow::Result<String> {
    let resp = http
        .post(format!("{base}/_matrix/client/v3/login"))
        .json(&serde_json::json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
            "initial_device_display_name": "3AM register check (temporary)",
        }))
        .send()
        .await
        .context("logging in to check an existing user")?;
    let status = resp.status();
    if !status.is_success() {
        let text = resp.text().await.unwrap_or_default();
        bail!(
            "user {localpart} already exists but the given password does not log it in: HTTP {status}: {text}"
        );
    }
    let login: LoginResponse = resp.json().await.context("reading the login answer")?;
    // Delete the device at once: a stray device would be sent room keys forever.
    logout(http, base, &login.access_token).await;
    Ok(login.user_id)
}

async fn logout(http: &reqwest::Client, base: &str, token: &str) {
    let result = http
        .post(format!("{base}/_matrix/client/v3/logout"))
        .bearer_auth(token)
        .send()
        .await
        .and_then(|r| r.error_for_status());
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not log out a temporary device");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_matches_synapse_reference() {
        // Computed with Python: hmac.new(b"secret", b"abc\0alice\0pw\0notadmin", sha1).hexdigest()
        let got = registration_mac("secret", "abc", "alice", "pw", false);
        assert_eq!(got, "42e32623fe124933c326f9d2d67ff7c617915a10");
        assert_ne!(got, registration_mac("secret", "abc", "alice", "pw", true));
    }
}
