//! Rooms that are not one-to-one, on the real Synapse. Tried as a new user would: an
//! allow-listed owner made an encrypted room with the bot and a guest who is not on the
//! allow-list, and the guest read every reply, "My bank PIN is 4711." included. The bot now
//! talks only in an encrypted room with exactly its owner and itself.

use std::time::Duration;

use matrix_sdk::ruma::OwnedUserId;

use crate::common::bot::{BotRig, eventually, new_user};
use crate::common::stub_llm::Reply;

const T: Duration = Duration::from_secs(60);

async fn joined(room: &matrix_sdk::Room) -> usize {
    room.members(matrix_sdk::RoomMemberships::JOIN)
        .await
        .map_or(0, |m| m.len())
}

fn uid(s: &str) -> OwnedUserId {
    s.try_into().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_with_a_guest_gets_a_refusal_and_nothing_personal() {
    let (ada, gus) = (new_user("ada").await, new_user("gus").await);
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let owner = rig.human(&ada).await;
    let guest = rig.human(&gus).await;
    let bot = rig.bot_user();

    let room = owner
        .create_room(&[bot.clone(), uid(&gus)], false, true)
        .await
        .unwrap()
        .room_id()
        .to_owned();
    guest.accept_invite(Some(&uid(&ada)), T).await.unwrap();
    owner.wait_member(&room, &bot, T).await.unwrap();
    owner.wait_member(&room, &uid(&gus), T).await.unwrap();

    // What the model would say, if it were asked.
    rig.llm
        .set_default_chat(Reply::text("Noted: your bank PIN is 4711.", -0.1));
    let q = owner.send(&room, "My bank PIN is 4711.").await.unwrap();
    let said = guest.wait_for_reply(&room, &q, T).await.unwrap();
    assert_eq!(said.sender, bot);
    assert!(said.body.contains("3 people"), "{}", said.body);
    assert!(!said.body.contains("4711"));
    let m = owner.send(&room, "!memory").await.unwrap();
    // Told once: the second message gets no second notice, and no answer.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        guest
            .messages(&room)
            .iter()
            .all(|x| x.sender != bot || !x.body.contains("4711")),
        "{:?}",
        guest.messages(&room)
    );
    let after_memory: Vec<_> = guest
        .messages(&room)
        .into_iter()
        .skip_while(|x| x.event_id != m)
        .skip(1)
        .filter(|x| x.sender == bot)
        .collect();
    assert!(after_memory.is_empty(), "{after_memory:?}");
    assert!(rig.llm.chat_requests().is_empty(), "the model was asked");

    // The guest leaves: the room is private again, and the bot answers.
    guest
        .client()
        .get_room(&room)
        .unwrap()
        .leave()
        .await
        .unwrap();
    eventually("the guest is gone", T, || {
        let r = owner.client().get_room(&room).unwrap();
        async move { joined(&r).await == 2 }
    })
    .await;
    let members = owner
        .client()
        .get_room(&room)
        .unwrap()
        .members(matrix_sdk::RoomMemberships::JOIN)
        .await
        .unwrap();
    assert!(
        members.iter().any(|m| m.user_id() == bot),
        "the bot stays when a guest leaves"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    rig.llm
        .push(Reply::text("Hello again, just the two of us.", -0.1));
    let q = owner.send(&room, "Are you there?").await.unwrap();
    let reply = owner.wait_for_reply(&room, &q, T).await.unwrap();
    assert_eq!(reply.body, "Hello again, just the two of us.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unencrypted_room_gets_a_refusal_and_the_owner_leaving_ends_a_room() {
    let (ada, gus) = (new_user("ada").await, new_user("gus").await);
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let owner = rig.human(&ada).await;
    let guest = rig.human(&gus).await;
    let bot = rig.bot_user();

    // Unencrypted: a refusal that says why.
    let plain = owner.ensure_dm(&bot, false, T).await.unwrap();
    rig.llm
        .set_default_chat(Reply::text("Noted: your bank PIN is 4711.", -0.1));
    let q = owner.send(&plain, "My bank PIN is 4711.").await.unwrap();
    let said = owner.wait_for_reply(&plain, &q, T).await.unwrap();
    assert!(
        said.body.contains("isn't end-to-end encrypted"),
        "{}",
        said.body
    );
    assert!(rig.llm.chat_requests().is_empty());

    // A private room claimed by the owner, then a guest joins and the owner leaves: the
    // bot leaves too and the room is marked left, so no digest goes there.
    let room = owner.ensure_dm(&bot, true, T).await.unwrap();
    rig.llm.push(Reply::text("Hi Ada.", -0.1));
    let q = owner.send(&room, "Hi").await.unwrap();
    owner.wait_for_reply(&room, &q, T).await.unwrap();
    owner
        .client()
        .get_room(&room)
        .unwrap()
        .invite_user_by_id(&uid(&gus))
        .await
        .unwrap();
    guest.accept_invite(Some(&uid(&ada)), T).await.unwrap();
    owner
        .client()
        .get_room(&room)
        .unwrap()
        .leave()
        .await
        .unwrap();
    rig.wait_room_left(&room, "the room is marked left").await;
    eventually("the bot leaves the room", T, || {
        let r = guest.client().get_room(&room).unwrap();
        async move { joined(&r).await == 1 }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_redacted_in_the_client_is_scrubbed() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (owner, room) = rig.dm(&ada).await;
    rig.llm.push(Reply::text("Noted.", -0.1));
    let q = owner.send(&room, "My bank PIN is 4711.").await.unwrap();
    owner.wait_for_reply(&room, &q, T).await.unwrap();
    owner.redact(&room, &q).await.unwrap();
    let pool = rig.db.pool.clone();
    let event = q.to_string();
    eventually("the redacted message is scrubbed", T, || {
        let (pool, event) = (pool.clone(), event.clone());
        async move {
            sqlx::query_scalar::<_, String>("SELECT body FROM messages WHERE event_id = $1")
                .bind(&event)
                .fetch_one(&pool)
                .await
                .unwrap()
                .is_empty()
        }
    })
    .await;
    let left: Vec<String> =
        sqlx::query_scalar("SELECT body FROM messages WHERE body LIKE '%4711%'")
            .fetch_all(&rig.db.pool)
            .await
            .unwrap();
    assert!(left.is_empty(), "{left:?}");

    // The bot's Matrix store: its directory is the bot's alone, and it was made encrypted.
    use std::os::unix::fs::PermissionsExt;
    let store = rig.config().matrix.store_path;
    let mode = std::fs::metadata(&store).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", store.display());
    assert_eq!(
        std::fs::read_to_string(store.join("store-encryption")).unwrap(),
        "passphrase"
    );
}
