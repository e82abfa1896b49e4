//! Encryption that survives a lost store: cross-signing and server-side key backup, opened
//! by one recovery key.
//!
//! At each start, after the first sync:
//! * **Cross-signing.** If the bot's account has no cross-signing identity yet, one is
//!   created and uploaded (the homeserver may ask for the password: user-interactive auth),
//!   and this device is signed by it, so people's clients show the bot as verified once they
//!   verify the bot's account.
//! * **Recovery** (matrix-sdk's secret storage plus key backup). Not set up on the server:
//!   it is enabled, room keys are uploaded to the backup, and the new recovery key is
//!   written to `matrix.recovery_key_path` (mode 0600, never to the log; printed once when
//!   the bot runs in a terminal). Set up but this store lacks the secrets (the store was
//!   lost and the bot logged in as a new device): the key file is read and the secrets
//!   recovered, which also signs the new device with the account's identity and
//!   reconnects the key backup.
//!
//! Nothing here stops the bot: a failure is logged with what to do, and chat goes on.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context;
use matrix_sdk::Client;
use matrix_sdk::encryption::recovery::RecoveryState;
use matrix_sdk::ruma::api::client::uiaa;

use crate::config::MatrixConfig;

/// Sets up or restores cross-signing and recovery (see the module doc).
pub async fn ensure(client: &Client, cfg: &MatrixConfig) {
    client
        .encryption()
        .wait_for_e2ee_initialization_tasks()
        .await;
    if let Err(e) = cross_signing(client, cfg).await {
        tracing::warn!(
            error = format!("{e:#}"),
            "could not set up cross-signing; the bot's device stays unverified"
        );
    }
    if let Err(e) = recovery(client, cfg).await {
        tracing::warn!(
            error = format!("{e:#}"),
            "could not set up or restore recovery (key backup)"
        );
    }
}

async fn cross_signing(client: &Client, cfg: &MatrixConfig) -> anyhow::Result<()> {
    let encryption = client.encryption();
    let Err(e) = encryption.bootstrap_cross_signing_if_needed(None).await else {
        return Ok(());
    };
    let Some(uiaa_info) = e.as_uiaa_response() else {
        return Err(e).context("creating the cross-signing identity");
    };
    let password = cfg.password.as_deref().filter(|p| !p.is_empty()).context(
        "the homeserver wants the password to upload cross-signing keys; set matrix.password",
    )?;
    let mut auth = uiaa::Password::new(
        uiaa::UserIdentifier::Matrix(uiaa::MatrixUserIdentifier::new(cfg.user_id.clone())),
        password.to_owned(),
    );
    auth.session = uiaa_info.session.clone();
    encryption
        .bootstrap_cross_signing(Some(uiaa::AuthData::Password(auth)))
        .await
        .context("uploading the cross-signing keys")?;
    tracing::info!("cross-signing identity created; this device is signed by it");
    Ok(())
}

async fn recovery(client: &Client, cfg: &MatrixConfig) -> anyhow::Result<()> {
    let recovery = client.encryption().recovery();
    let path = cfg.recovery_key_file();
    match recovery.state() {
        RecoveryState::Enabled => {
            if !path.exists() {
                tracing::warn!(path = %path.display(), "recovery is on but its key file is missing; if you have no copy, a lost store cannot recover the bot's keys");
            }
            Ok(())
        }
        RecoveryState::Disabled => {
            let key = recovery
                .enable()
                .wait_for_backups_to_upload()
                .await
                .context("enabling recovery and the key backup")?;
            save_key(&path, &key)?;
            tracing::warn!(path = %path.display(), "recovery and key backup set up; the recovery key was written to this file: keep a copy somewhere safe, off this machine");
            if std::io::stderr().is_terminal() {
                eprintln!(
                    "\n3AM's recovery key (shown once; also in {}):\n\n    {key}\n",
                    path.display()
                );
            }
            Ok(())
        }
        RecoveryState::Incomplete => {
            let key = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "this device lacks the account's secrets and the recovery key file {} cannot be read; put the recovery key there and restart",
                    path.display()
                )
            })?;
            recovery
                .recover_and_fix_backup(key.trim())
                .await
                .with_context(|| {
                    format!(
                        "the recovery key in {} did not open the secret storage",
                        path.display()
                    )
                })?;
            tracing::info!(
                "recovered the cross-signing keys and the key backup with the recovery key; this device is verified"
            );
            Ok(())
        }
        RecoveryState::Unknown => {
            tracing::debug!("recovery state not known yet");
            Ok(())
        }
    }
}

/// Writes the key readable by this user only, keeping an older key file aside.
fn save_key(path: &Path, key: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if path.exists() {
        let old = path.with_extension("old");
        std::fs::rename(path, &old)
            .with_context(|| format!("moving the old key to {}", old.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing the recovery key to {}", path.display()))?;
    writeln!(f, "{key}")?;
    f.sync_all()?;
    Ok(())
}
