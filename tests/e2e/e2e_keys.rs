//! A message the bot cannot decrypt, on Synapse. The person's client withholds the room key
//! from the bot's device (blacklisted there) and sends a message: the bot does not answer
//! what it cannot read, waits for the key (`Timing::key_patience`), then says once, in reply
//! to it, that it could not read it and asks to send it again (before, it stayed silent
//! for good). Trusted again, the next message is answered as usual. (A key that arrives
//! late and opens the message gets it answered; matrix-sdk's sending side offers no way to
//! hold a key back and send it later, so that path is covered by `matrix::late_keys`'
//! tests and the code that re-fetches the event.)

use std::time::Duration;

use matrix_sdk::encryption::LocalTrust;

use crate::common::bot::{BotRig, new_user};
use crate::common::stub_llm::Reply;

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_bot_cannot_read_gets_one_plain_notice_and_the_chat_goes_on() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;
    rig.llm.push(Reply::text("Hello!", -0.1));
    let q = human.send(&room, "hello").await.unwrap();
    human.wait_for_reply(&room, &q, T).await.unwrap();

    let device = human
        .client()
        .encryption()
        .get_device(&rig.bot_user(), &rig.device_id())
        .await
        .unwrap()
        .expect("the bot's device is known");
    device
        .set_local_trust(LocalTrust::BlackListed)
        .await
        .unwrap();
    let unread = human
        .send(&room, "my door code is 1234, remember it")
        .await
        .unwrap();
    let told = human.wait_for_reply(&room, &unread, T).await.unwrap();
    assert!(
        told.body.contains("couldn't read that message") && told.body.contains("send it again"),
        "{}",
        told.body
    );
    assert_eq!(told.in_reply_to.as_ref(), Some(&unread), "a reply to it");
    assert!(
        !format!("{:?}", rig.llm.requests()).contains("1234"),
        "nothing of the unread message reached the model"
    );

    device.set_local_trust(LocalTrust::Unset).await.unwrap();
    rig.llm.push(Reply::text("Pack an umbrella.", -0.1));
    let next = human.send(&room, "what should I pack?").await.unwrap();
    let r = human.wait_for_reply(&room, &next, T).await.unwrap();
    assert!(r.body.contains("umbrella"), "{}", r.body);
    rig.stop().await;
}
