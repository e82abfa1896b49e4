//! Encryption that survives, on Synapse: at its first start the bot creates its
//! cross-signing identity (its device signed by it), a server-side key backup and secret
//! storage, and writes the recovery key to a file only its owner can read. Its store is
//! then lost: the bot logs in again as a new device, recovers the secrets with the key file
//! (the new device is signed too, the backup reconnected), and the person's encrypted chat
//! goes on.

use std::time::Duration;

use threeam::matrix::probe::{EncryptionState, encryption_state};

use crate::common::bot::{BotRig, eventually, new_user};
use crate::common::stub_llm::Reply;

const T: Duration = Duration::from_secs(90);

async fn state(rig: &BotRig) -> Option<EncryptionState> {
    encryption_state(&rig.config().matrix).await.ok().flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_store_is_recovered_with_the_key_file_and_the_chat_goes_on() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;
    rig.llm.push(Reply::text("Hello Ada!", -0.1));
    let q = human.send(&room, "hello").await.unwrap();
    human.wait_for_reply(&room, &q, T).await.unwrap();

    let key_file = rig.config().matrix.recovery_key_file();
    eventually("cross-signing, backup and recovery set up", T, || async {
        state(&rig).await.is_some_and(|s| s.all_good())
    })
    .await;
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert!(
        key.split_whitespace().count() >= 8,
        "a recovery key: {key:?}"
    );
    let first = state(&rig).await.unwrap();
    let first_device = rig.device_id();

    // The store is lost; the key file (beside it) is not.
    rig.stop().await;
    std::fs::remove_dir_all(rig.config().matrix.store_path).unwrap();
    rig.start().await;
    eventually("a new device, verified through recovery", T, || async {
        let store = rig.config().matrix.store_path.join("session.json");
        store.exists() && state(&rig).await.is_some_and(|s| s.all_good())
    })
    .await;
    assert_ne!(
        rig.device_id(),
        first_device,
        "the bot logged in as a new device"
    );
    let second = state(&rig).await.unwrap();
    assert_eq!(
        second.backup_version, first.backup_version,
        "the same key backup, reconnected, not a new one"
    );
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        key,
        "the key is kept"
    );

    rig.llm.push(Reply::text("Still here.", -0.1));
    let q = human.send(&room, "are you still there?").await.unwrap();
    let r = human.wait_for_reply(&room, &q, T).await.unwrap();
    assert!(r.encrypted && r.body.contains("Still here"), "{}", r.body);
    rig.stop().await;
}
