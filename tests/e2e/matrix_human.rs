//! The scripted Matrix user against the stack's real Synapse: two fresh users per run, an
//! encrypted DM between them, messages, streamed edits, threads, replies, reactions,
//! redactions and restoring a saved session.
//!
//! Needs the stack (`scripts/stack up`): the settings come from the environment or from
//! `.stack/env`. Without them these tests fail rather than skip, so a missing stack is never
//! mistaken for a pass.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use threeam::client::human::{Human, HumanError};
use threeam::matrix::register::register_user;

const T: Duration = Duration::from_secs(30);

struct Stack {
    homeserver: String,
    shared_secret: String,
}

fn stack() -> Stack {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(".stack/env");
    let from_file = std::fs::read_to_string(&file).unwrap_or_default();
    let get = |key: &str| -> Option<String> {
        if let Ok(v) = std::env::var(key)
            && !v.is_empty()
        {
            return Some(v);
        }
        from_file.lines().find_map(|line| {
            let line = line.trim().trim_start_matches("export ").trim();
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').trim_matches('\'').to_owned())
        })
    };
    let need = |key: &str| {
        get(key).unwrap_or_else(|| {
            panic!(
                "{key} is not set and not in {}: start the stack with `scripts/stack up` \
                 (these tests need a real Synapse)",
                file.display()
            )
        })
    };
    Stack {
        homeserver: need("THREEAM_MATRIX_HOMESERVER_URL"),
        shared_secret: need("THREEAM_SYNAPSE_SHARED_SECRET"),
    }
}

/// A fresh user for this run, so runs never see each other's rooms.
async fn fresh_user(stack: &Stack, name: &str) -> (String, String) {
    let localpart = format!(
        "{name}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let password = format!("pw-{localpart}");
    let id = register_user(
        &stack.homeserver,
        &stack.shared_secret,
        &localpart,
        &password,
        false,
    )
    .await
    .expect("registering a test user");
    (id, password)
}

#[tokio::test]
async fn register_is_idempotent_and_checks_the_password() {
    let stack = stack();
    let localpart = format!("reg-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let first = register_user(
        &stack.homeserver,
        &stack.shared_secret,
        &localpart,
        "pw1",
        false,
    )
    .await
    .unwrap();
    assert!(first.starts_with(&format!("@{localpart}:")), "{first}");
    let again = register_user(
        &stack.homeserver,
        &stack.shared_secret,
        &localpart,
        "pw1",
        false,
    )
    .await
    .unwrap();
    assert_eq!(first, again);
    let wrong = register_user(
        &stack.homeserver,
        &stack.shared_secret,
        &localpart,
        "other",
        false,
    )
    .await
    .unwrap_err();
    assert!(format!("{wrong:#}").contains("already exists"), "{wrong:#}");
    let bad_secret = register_user(&stack.homeserver, "not-the-secret", "nobody-x", "pw", false)
        .await
        .unwrap_err();
    assert!(
        format!("{bad_secret:#}").contains("refused"),
        "{bad_secret:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_dm_between_two_humans() {
    let started = Instant::now();
    let stack = stack();
    let hs = stack.homeserver.as_str();
    let ((alice_id, alice_pw), (bob_id, bob_pw)) =
        tokio::join!(fresh_user(&stack, "alice"), fresh_user(&stack, "bob"));
    let dirs = tempfile::tempdir().unwrap();
    let alice_store = dirs.path().join("alice");
    let bob_store = dirs.path().join("bob");

    let (alice, bob) = tokio::join!(
        Human::login(hs, &alice_id, &alice_pw, &alice_store),
        Human::login(hs, &bob_id, &bob_pw, &bob_store),
    );
    let (alice, bob) = (alice.unwrap(), bob.unwrap());
    assert_eq!(alice.user_id().as_str(), alice_id);

    // Alice opens an encrypted DM; Bob accepts the invite from her.
    let (room, joined) = tokio::join!(
        alice.ensure_dm(bob.user_id(), true, T),
        bob.accept_invite(Some(alice.user_id()), T),
    );
    let (room, joined) = (room.unwrap(), joined.unwrap());
    assert_eq!(room, joined);
    // Asking again finds the same room rather than making another.
    assert_eq!(alice.ensure_dm(bob.user_id(), true, T).await.unwrap(), room);

    // A message arrives decrypted, and flagged as having been encrypted.
    let hello = alice.send(&room, "hello **bob**").await.unwrap();
    let seen = bob
        .wait_for_message(&room, T, |m| m.event_id == hello)
        .await
        .unwrap();
    assert_eq!(seen.body, "hello **bob**");
    assert_eq!(
        seen.formatted_body.as_deref(),
        Some("hello <strong>bob</strong>")
    );
    assert!(seen.encrypted, "{seen:?}");
    assert_eq!(seen.sender.as_str(), alice_id);

    // Bob answers the way the bot does: a streaming message, edited, then final.
    let bob_room = bob.client().get_room(&room).unwrap();
    let first = bob_room
        .send_raw(
            "m.room.message",
            json!({"msgtype": "m.text", "body": "Hi", "io.threeam.status": "streaming"}),
        )
        .await
        .unwrap()
        .response
        .event_id;
    let waiter = alice.wait_for_reply(&room, &hello, T);
    let editor = async {
        for (text, status) in [("Hi the", "streaming"), ("Hi there, *alice*", "final")] {
            tokio::time::sleep(Duration::from_millis(150)).await;
            bob_room
                .send_raw(
                    "m.room.message",
                    json!({
                        "msgtype": "m.text", "body": format!("* {text}"), "io.threeam.status": status,
                        "m.new_content": {"msgtype": "m.text", "body": text,
                                          "format": "org.matrix.custom.html",
                                          "formatted_body": text.replace("*alice*", "<em>alice</em>"),
                                          "io.threeam.status": status},
                        "m.relates_to": {"rel_type": "m.replace", "event_id": first},
                    }),
                )
                .await
                .unwrap();
        }
    };
    let (reply, ()) = tokio::join!(waiter, editor);
    let reply = reply.unwrap();
    assert_eq!(reply.event_id, first);
    assert_eq!(reply.body, "Hi there, *alice*");
    assert_eq!(
        reply.formatted_body.as_deref(),
        Some("Hi there, <em>alice</em>")
    );
    assert_eq!(reply.edits, 2);
    assert_eq!(reply.status.as_deref(), Some("final"));
    assert!(reply.encrypted && reply.thread_root.is_none());
    // Edits are folded into their message, not listed.
    let listed = alice.messages(&room);
    assert_eq!(
        listed.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["hello **bob**", "Hi there, *alice*"]
    );

    // A long answer split in two: both parts, in order.
    let question = alice.send(&room, "tell me more").await.unwrap();
    bob.wait_for_message(&room, T, |m| m.event_id == question)
        .await
        .unwrap();
    for part in ["part one", "part two"] {
        bob.send(&room, part).await.unwrap();
    }
    let parts = alice
        .wait_for_replies(&room, &question, 2, T)
        .await
        .unwrap();
    assert_eq!(
        parts.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["part one", "part two"]
    );

    // Threads: Alice starts one on Bob's reply; Bob answers in it; the main timeline reply
    // Bob sends meanwhile is not taken for the thread's answer.
    let in_thread = alice
        .send_in_thread(&room, &reply.event_id, "about that")
        .await
        .unwrap();
    let seen = bob
        .wait_for_message(&room, T, |m| m.event_id == in_thread)
        .await
        .unwrap();
    assert_eq!(seen.thread_root.as_ref(), Some(&reply.event_id));
    bob.send(&room, "unrelated, main timeline").await.unwrap();
    let bob_threaded = bob
        .send_in_thread(&room, &in_thread, "thread answer")
        .await
        .unwrap();
    let answer = alice.wait_for_reply(&room, &in_thread, T).await.unwrap();
    assert_eq!(answer.event_id, bob_threaded);
    assert_eq!(answer.thread_root.as_ref(), Some(&reply.event_id));
    assert_eq!(answer.in_reply_to.as_ref(), Some(&in_thread));

    // A plain reply points at its target.
    let comment = alice
        .reply_to(&room, &parts[0].event_id, "nice")
        .await
        .unwrap();
    let seen = bob
        .wait_for_message(&room, T, |m| m.event_id == comment)
        .await
        .unwrap();
    assert_eq!(seen.in_reply_to.as_ref(), Some(&parts[0].event_id));
    assert!(seen.thread_root.is_none());

    // Reactions round-trip (unencrypted, as matrix-sdk sends them), and redacting removes.
    let thumbs = alice.react(&room, &reply.event_id, "👍").await.unwrap();
    let reaction = bob
        .wait_for_reaction(&room, T, |r| r.event_id == thumbs)
        .await
        .unwrap();
    assert_eq!(
        (
            reaction.key.as_str(),
            &reaction.target,
            reaction.sender.as_str()
        ),
        ("👍", &reply.event_id, alice_id.as_str())
    );
    assert!(!reaction.encrypted);
    alice.redact(&room, &thumbs).await.unwrap();
    let deadline = Instant::now() + T;
    while bob.reactions(&room).iter().any(|r| r.event_id == thumbs) {
        assert!(Instant::now() < deadline, "redacted reaction still listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A declined invite (here to an unencrypted DM, which the encrypted one does not
    // satisfy) is reported as such, not as a timeout.
    let decline = async {
        let mut changes = bob.subscribe();
        loop {
            let invites = bob.client().invited_rooms();
            if let Some(invite) = invites.first() {
                invite.leave().await.unwrap();
                return;
            }
            changes.changed().await.unwrap();
        }
    };
    let (refused, ()) = tokio::join!(alice.ensure_dm(bob.user_id(), false, T), decline);
    let refused = refused.unwrap_err();
    assert!(
        matches!(
            refused.downcast_ref::<HumanError>(),
            Some(HumanError::NotJoined { .. })
        ),
        "{refused:#}"
    );

    // A timeout says what it saw.
    let err = alice
        .wait_for_reply(&room, &comment, Duration::from_millis(300))
        .await
        .unwrap_err();
    match err.downcast_ref::<HumanError>() {
        Some(HumanError::Timeout { seen, .. }) => {
            assert!(seen.contains("Nothing arrived"), "{seen}")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }

    // Restoring: same store, same device, same room, and old keys still decrypt new
    // messages from Bob's existing session.
    let device = alice.device_id().unwrap().to_owned();
    let devices_before = alice.client().devices().await.unwrap().devices.len();
    alice.close().await;
    let alice = Human::login(hs, &alice_id, "password not needed", &alice_store)
        .await
        .unwrap();
    assert_eq!(alice.device_id().unwrap(), device);
    let devices = alice.client().devices().await.unwrap().devices;
    assert_eq!(devices_before, 1, "registering leaves no stray device");
    assert_eq!(
        devices.len(),
        devices_before,
        "restoring must not add devices: {devices:?}"
    );
    assert_eq!(alice.ensure_dm(bob.user_id(), true, T).await.unwrap(), room);
    let back = alice.send(&room, "back again").await.unwrap();
    let seen = bob
        .wait_for_message(&room, T, |m| m.event_id == back)
        .await
        .unwrap();
    assert!(seen.encrypted);
    bob.send(&room, "welcome back").await.unwrap();
    let welcome = alice.wait_for_reply(&room, &back, T).await.unwrap();
    assert_eq!(welcome.body, "welcome back");
    assert!(welcome.encrypted);
    assert!(alice.undecryptable(&room).is_empty());

    alice.logout().await.unwrap();
    bob.logout().await.unwrap();
    assert!(!alice_store.join("session.json").exists());
    eprintln!(
        "encrypted_dm_between_two_humans took {:?}",
        started.elapsed()
    );
}
