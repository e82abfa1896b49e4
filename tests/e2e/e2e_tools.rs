//! A self-made tool on the real homeserver, in an encrypted DM: proposed, its code shown,
//! installed, each step approved by the owner's ✅ reaction from a Matrix client; then used
//! by a chat message after a restart. The model is the scripted stub (the same steps with the stack's model
//! are in the README's trial).

use std::time::Duration;

use crate::common::bot::{BotRig, new_user};
use crate::common::tools_fixtures::{DAYS, script};

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_check_marks_install_a_tool_that_a_message_after_a_restart_uses() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    script(&rig.llm);
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;
    let bot = rig.bot_id.clone();
    let from_bot = |needle: &'static str| {
        let bot = bot.clone();
        move |m: &threeam::client::human::SeenMessage| {
            m.sender.as_str() == bot && m.body.contains(needle)
        }
    };

    let q = human
        .send(&room, "!tools propose count the days between two dates")
        .await
        .unwrap();
    let concept = human.wait_for_reply(&room, &q, T).await.unwrap();
    assert!(
        concept.body.contains("Tool proposal: `days_between`"),
        "{}",
        concept.body
    );
    human.react(&room, &concept.event_id, "✅").await.unwrap();
    let code = human
        .wait_for_message(&room, T, from_bot("Code for `days_between`"))
        .await
        .unwrap();
    assert!(code.encrypted);
    assert!(
        code.body.contains("2 of 2 gave the expected result"),
        "{}",
        code.body
    );
    human.react(&room, &code.event_id, "✅").await.unwrap();
    let install = human
        .wait_for_message(&room, T, from_bot("Install `days_between`?"))
        .await
        .unwrap();
    human.react(&room, &install.event_id, "✅").await.unwrap();
    human
        .wait_for_message(&room, T, from_bot("Installed `days_between`"))
        .await
        .unwrap();

    // A restart keeps the tool: it lives in the database, not in the process.
    rig.stop().await;
    rig.start().await;
    let q = human
        .send(
            &room,
            "How many days are between 2026-01-01 and 2026-03-01?",
        )
        .await
        .unwrap();
    let answer = human.wait_for_reply(&room, &q, T).await.unwrap();
    assert!(
        answer
            .body
            .contains("Ran your tool `days_between` in the sandbox: `59`"),
        "{}",
        answer.body
    );

    let approvals: Vec<(String, String)> =
        sqlx::query_as("SELECT stage, event_id FROM tool_approvals ORDER BY decided_at, id")
            .fetch_all(&rig.db.pool)
            .await
            .unwrap();
    assert_eq!(
        approvals,
        vec![
            ("concept".into(), concept.event_id.to_string()),
            ("code".into(), code.event_id.to_string()),
            ("install".into(), install.event_id.to_string()),
        ]
    );
    let (stage, hash): (String, String) =
        sqlx::query_as("SELECT stage, code_hash FROM tools WHERE name = 'days_between'")
            .fetch_one(&rig.db.pool)
            .await
            .unwrap();
    assert_eq!(stage, "installed");
    assert_eq!(hash, threeam::tools::draft::code_hash(DAYS));
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_and_unit_tools_are_installed_with_three_check_marks_and_run() {
    let ada = new_user("ada").await;
    let mut rig = BotRig::new(vec![ada.clone()]).await;
    crate::common::tools_fixtures::script_csv_and_units(&rig.llm);
    rig.start().await;
    let (human, room) = rig.dm(&ada).await;
    let bot = rig.bot_id.clone();
    let from_bot = |needle: String| {
        let bot = bot.clone();
        move |m: &threeam::client::human::SeenMessage| {
            m.sender.as_str() == bot && m.body.contains(&needle)
        }
    };

    for (request, name) in [
        ("convert CSV text with a header row to JSON", "csv_to_json"),
        ("convert celsius to fahrenheit", "celsius_to_fahrenheit"),
    ] {
        let q = human
            .send(&room, &format!("!tools propose {request}"))
            .await
            .unwrap();
        let concept = human.wait_for_reply(&room, &q, T).await.unwrap();
        assert!(
            concept.body.contains(&format!("Tool proposal: `{name}`")),
            "{}",
            concept.body
        );
        human.react(&room, &concept.event_id, "✅").await.unwrap();
        let code = human
            .wait_for_message(&room, T, from_bot(format!("Code for `{name}`")))
            .await
            .unwrap();
        assert!(
            code.body.contains("2 of 2 gave the expected result"),
            "{}",
            code.body
        );
        human.react(&room, &code.event_id, "✅").await.unwrap();
        let install = human
            .wait_for_message(&room, T, from_bot(format!("Install `{name}`?")))
            .await
            .unwrap();
        human.react(&room, &install.event_id, "✅").await.unwrap();
        human
            .wait_for_message(&room, T, from_bot(format!("Installed `{name}`")))
            .await
            .unwrap();
    }

    let r = human
        .send(
            &room,
            r#"!tools run csv_to_json {"csv": "city,people\nLyon,522000\nNantes,320000"}"#,
        )
        .await
        .unwrap();
    let ran = human.wait_for_reply(&room, &r, T).await.unwrap();
    assert!(
        ran.body.contains(r#""city":"Lyon""#) || ran.body.contains(r#""city": "Lyon""#),
        "{}",
        ran.body
    );
    assert!(ran.body.contains("Nantes"), "{}", ran.body);

    let q = human
        .send(&room, "What is 37 celsius in fahrenheit?")
        .await
        .unwrap();
    let answer = human.wait_for_reply(&room, &q, T).await.unwrap();
    assert!(
        answer
            .body
            .contains("Ran your tool `celsius_to_fahrenheit` in the sandbox: `98.6`"),
        "{}",
        answer.body
    );
    let installed: i64 = sqlx::query_scalar("SELECT count(*) FROM tools WHERE stage = 'installed'")
        .fetch_one(&rig.db.pool)
        .await
        .unwrap();
    assert_eq!(installed, 2);
    rig.stop().await;
}
