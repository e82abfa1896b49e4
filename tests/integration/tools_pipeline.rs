//! Self-made tools below Matrix, on the real database and the real sandbox, with the scripted
//! model: `!tools propose` → concept ✅ → code ✅ (scanned, examples run in the sandbox) →
//! install ✅; revisions by reply; approvals bound to version and code hash; only the owner's
//! reactions count; use in chat through the `json_schema` action; `!tools`, `show`, `run`,
//! `remove`. Needs `bwrap` like the sandbox tests.

use std::sync::Arc;

use serde_json::json;

use crate::common::core_rig::{self, Core};
use crate::common::incoming;
use crate::common::outbox::RecordingOutbox;
use crate::common::stub_llm::{Reply, StubLlm};
use crate::common::tools_fixtures::{DAYS, DAYS_ABS, concept, notes, script, writes_code};
use threeam::assistant::{Assistant, Incoming};

const USER: &str = "@ada:localhost";
const ROOM: &str = "!tools:localhost";

async fn rig(stub: &StubLlm) -> (Core, Arc<RecordingOutbox>) {
    let core = Core::start(core_rig::config(&stub.url()), None).await;
    let out = core.out.clone();
    (core, out)
}

fn message(event: &str, body: &str, in_reply_to: Option<&str>) -> Incoming {
    incoming::message(ROOM, USER, event, body, in_reply_to)
}

fn react(event: &str, target: &str, key: &str, sender: &str) -> Incoming {
    incoming::reaction(ROOM, sender, event, target, key)
}

/// Whether the model was asked for code.
fn code_asked(stub: &StubLlm) -> bool {
    stub.chat_requests().iter().any(|b| {
        b["messages"]
            .to_string()
            .contains("You write small Python 3 tools")
    })
}

/// Handles `incoming`; returns what the bot sent in answer (event id and text).
async fn step(a: &Assistant, out: &RecordingOutbox, incoming: Incoming) -> Vec<(String, String)> {
    let before = out.messages().len();
    a.handle(incoming).await.unwrap();
    out.messages()[before..]
        .iter()
        .map(|(id, m)| (id.clone(), m.markdown.clone()))
        .collect()
}

/// The one message a step sent.
fn one(sent: Vec<(String, String)>) -> (String, String) {
    assert_eq!(sent.len(), 1, "{sent:#?}");
    sent.into_iter().next().unwrap()
}

async fn stage(a: &Assistant, name: &str) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT stage, version, code_hash FROM tools WHERE user_id = $1 AND name = $2")
        .bind(USER)
        .bind(name)
        .fetch_one(a.db())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_tool_is_proposed_written_installed_used_and_removed_each_step_approved() {
    let stub = StubLlm::start().await;
    script(&stub);
    let (core, out) = rig(&stub).await;
    let a = &core.assistant;

    let (concept_msg, text) = one(step(
        a,
        &out,
        message(
            "$p",
            "!tools propose count the days between two dates",
            None,
        ),
    )
    .await);
    assert!(text.contains("Tool proposal: `days_between`"), "{text}");
    assert!(
        text.contains("`run({\"end\":\"2026-03-01\",\"start\":\"2026-01-01\"})` → `59`"),
        "{text}"
    );
    assert_eq!(stage(a, "days_between").await.0, "proposed");

    // Someone else's ✅ decides nothing.
    assert!(
        step(a, &out, react("$x", &concept_msg, "✅", "@eve:localhost"))
            .await
            .is_empty()
    );
    assert!(!code_asked(&stub));

    let (code_msg, text) = one(step(a, &out, react("$c1", &concept_msg, "✅", USER)).await);
    assert!(text.contains("Code for `days_between`"), "{text}");
    assert!(text.contains(DAYS), "{text}");
    assert!(text.contains("no findings"), "{text}");
    assert!(text.contains("2 of 2 gave the expected result"), "{text}");
    assert!(
        text.contains("✓ `run({\"end\":\"2026-01-31\",\"start\":\"2026-01-01\"})` → `30`"),
        "{text}"
    );
    // A second ✅ on the same message changes nothing.
    assert!(
        step(a, &out, react("$c1b", &concept_msg, "✅", USER))
            .await
            .is_empty()
    );

    let (install_msg, text) = one(step(a, &out, react("$c2", &code_msg, "✅", USER)).await);
    assert!(text.contains("Install `days_between`?"), "{text}");
    assert!(text.contains("Scanned again: no findings"), "{text}");
    let (_, text) = one(step(a, &out, react("$c3", &install_msg, "✅", USER)).await);
    assert!(text.contains("Installed `days_between`"), "{text}");
    let (st, _, hash) = stage(a, "days_between").await;
    assert_eq!(st, "installed");
    assert_eq!(
        hash.as_deref(),
        Some(threeam::tools::draft::code_hash(DAYS).as_str())
    );
    let history: Vec<(String, bool, String)> = sqlx::query_as(
        "SELECT stage, approved, event_id FROM tool_approvals ORDER BY decided_at, id",
    )
    .fetch_all(a.db())
    .await
    .unwrap();
    assert_eq!(
        history,
        vec![
            ("concept".into(), true, concept_msg.clone()),
            ("code".into(), true, code_msg.clone()),
            ("install".into(), true, install_msg.clone()),
        ]
    );

    // In chat: the model picks the tool, the sandbox runs it, the answer says so.
    let sent = step(
        a,
        &out,
        message(
            "$q",
            "How many days are between 2026-01-01 and 2026-03-01?",
            None,
        ),
    )
    .await;
    let reply = &sent.last().unwrap().1;
    assert!(
        reply.starts_with("🔧 *Ran your tool `days_between` in the sandbox: `59`*"),
        "{reply}"
    );
    assert!(reply.contains("That is 59 days."), "{reply}");
    let asked = stub.chat_requests().last().unwrap()["messages"].to_string();
    assert!(asked.contains("<<<tool result\\n59\\n>>>"), "{asked}");
    // A message that shares no words with the tool costs no tool choice.
    let choices = stub.structured_requests_named("tool_action").len();
    step(
        a,
        &out,
        message("$q2", "Good morning! Any plans for the weekend?", None),
    )
    .await;
    assert_eq!(stub.structured_requests_named("tool_action").len(), choices);

    let (_, text) = one(step(
        a,
        &out,
        message(
            "$r",
            "!tools run days_between {\"start\": \"2026-01-01\", \"end\": \"2026-01-02\"}",
            None,
        ),
    )
    .await);
    assert!(text.contains("→ `1`"), "{text}");
    let (_, text) = one(step(
        a,
        &out,
        message(
            "$r2",
            "!tools run days_between {\"start\": \"2026-01-01\"}",
            None,
        ),
    )
    .await);
    assert!(text.contains("`end` is missing"), "{text}");
    let runs: Vec<(String, String)> = sqlx::query_as(
        "SELECT origin, status FROM tool_runs WHERE origin <> 'example' ORDER BY id",
    )
    .fetch_all(a.db())
    .await
    .unwrap();
    assert_eq!(
        runs,
        vec![
            ("chat".into(), "returned".into()),
            ("command".into(), "returned".into())
        ]
    );

    let (_, text) = one(step(a, &out, message("$l", "!tools", None)).await);
    assert!(
        text.contains("**Installed tools:**\n- `days_between`"),
        "{text}"
    );
    let (_, text) = one(step(a, &out, message("$s", "!tools show days_between", None)).await);
    assert!(
        text.contains(DAYS) && text.contains("**History:**") && text.contains("**Latest runs:**"),
        "{text}"
    );
    assert_eq!(text.matches("✅").count(), 3, "{text}");

    let (remove_msg, text) =
        one(step(a, &out, message("$rm", "!tools remove days_between", None)).await);
    assert!(text.contains("React ✅ to remove it"), "{text}");
    let (_, text) = one(step(a, &out, react("$rm1", &remove_msg, "✅", USER)).await);
    assert!(text.starts_with("Removed `days_between`"), "{text}");
    let (_, text) = one(step(a, &out, message("$l2", "!tools", None)).await);
    assert!(text.contains("You have no tools yet"), "{text}");
    let before = stub.structured_requests_named("tool_action").len();
    step(
        a,
        &out,
        message(
            "$q3",
            "How many days are between 2026-01-01 and 2026-03-01?",
            None,
        ),
    )
    .await;
    assert_eq!(
        stub.structured_requests_named("tool_action").len(),
        before,
        "a removed tool is not offered"
    );
}

#[tokio::test]
async fn a_reply_revises_a_stage_and_approvals_are_bound_to_the_version_they_were_given_for() {
    let stub = StubLlm::start().await;
    script(&stub);
    let (core, out) = rig(&stub).await;
    let a = &core.assistant;

    let (v1, _) = one(step(a, &out, message("$p", "!tools propose count days", None)).await);
    let (v2, text) = one(step(
        a,
        &out,
        message("$rev", "please call it day_count", Some(&v1)),
    )
    .await);
    assert!(
        text.contains("Tool proposal: `days_between`") && text.contains("(version 2)"),
        "{text}"
    );
    // The old message's ✅ no longer counts.
    assert!(
        step(a, &out, react("$old", &v1, "✅", USER))
            .await
            .is_empty()
    );
    assert!(!code_asked(&stub));
    assert_eq!(stage(a, "days_between").await.1, 2);

    let (code1, _) = one(step(a, &out, react("$ok", &v2, "✅", USER)).await);
    let (code2, text) = one(step(
        a,
        &out,
        message("$fix", "handle reversed dates too", Some(&code1)),
    )
    .await);
    assert!(text.contains(DAYS_ABS), "{text}");
    assert!(
        step(a, &out, react("$old2", &code1, "✅", USER))
            .await
            .is_empty()
    );
    let (install, _) = one(step(a, &out, react("$ok2", &code2, "✅", USER)).await);

    // The code changes under the install message (as if edited in the database): no install.
    sqlx::query("UPDATE tools SET code = code || '# changed\n'")
        .execute(a.db())
        .await
        .unwrap();
    let (_, text) = one(step(a, &out, react("$ok3", &install, "✅", USER)).await);
    assert!(text.contains("does not match the approved hash"), "{text}");
    assert_eq!(stage(a, "days_between").await.0, "ready");

    // A reply to a step that is decided already is chat, not a revision.
    let concepts = stub.structured_requests_named("tool_concept").len();
    let version = stage(a, "days_between").await.1;
    step(a, &out, message("$late", "change it again", Some(&v2))).await;
    assert_eq!(
        stub.structured_requests_named("tool_concept").len(),
        concepts
    );
    assert_eq!(
        stage(a, "days_between").await,
        ("ready".into(), version, stage(a, "days_between").await.2)
    );
}

#[tokio::test]
async fn the_scan_and_the_examples_tell_the_reviewer_what_is_wrong_and_bad_model_output_is_explained()
 {
    let stub = StubLlm::start().await;
    stub.set_structured_responder(|name, _| {
        Some(Reply::json(&match name {
            "tool_concept" => concept("adder"),
            "tool_code_notes" => notes(),
            _ => return None,
        }))
    });
    writes_code(
        &stub,
        |_| "import os\nimport subprocess\n\ndef run(args):\n    f = open('/etc/hostname')\n    return eval('1+1') + ().__class__.__name__.__len__()\n",
    );
    let (core, out) = rig(&stub).await;
    let a = &core.assistant;
    let (p, _) = one(step(a, &out, message("$p", "!tools propose add numbers", None)).await);
    let (_, text) = one(step(a, &out, react("$ok", &p, "✅", USER)).await);
    for finding in [
        "line 1: imports os",
        "line 2: imports subprocess",
        "line 5: calls open()",
        "calls eval()",
        "reaches the attribute __class__",
    ] {
        assert!(text.contains(finding), "{finding}:\n{text}");
    }
    assert!(text.contains("0 of 2 gave the expected result"), "{text}");
    assert!(text.contains("✗"), "{text}");

    // Output that is not a usable concept: said plainly, nothing stored.
    stub.set_structured_responder(|name, _| {
        (name == "tool_concept").then(|| Reply::json(&json!({"name": "!!", "description": "x", "parameters": {"type": "object", "properties": {}, "required": []}, "example": {"input": {}, "expected": 1}})))
    });
    let (_, text) = one(step(a, &out, message("$p2", "!tools propose something", None)).await);
    assert!(
        text.contains("was not usable (the proposal has no usable name)"),
        "{text}"
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tools")
        .fetch_one(a.db())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn code_without_run_is_explained_and_the_next_check_mark_tries_again() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let stub = StubLlm::start().await;
    script(&stub);
    static TRIES: AtomicUsize = AtomicUsize::new(0);
    // What the stack's model wrote when asked for code inside JSON: a signature and no run.
    writes_code(&stub, |_| {
        if TRIES.fetch_add(1, Ordering::SeqCst) == 0 {
            "def date_difference(args):\n    pass\n\ndef helper(x):\n    pass\n"
        } else {
            DAYS
        }
    });
    let (core, out) = rig(&stub).await;
    let a = &core.assistant;
    let (p, _) = one(step(a, &out, message("$p", "!tools propose count days", None)).await);
    let (failed, text) = one(step(a, &out, react("$ok", &p, "✅", USER)).await);
    assert!(
        text.contains("was not usable (the code defines no function `run(args)`)")
            && text.contains("React ✅ to try again"),
        "{text}"
    );
    assert_eq!(stage(a, "days_between").await.0, "proposed");
    let (_, text) = one(step(a, &out, react("$again", &failed, "✅", USER)).await);
    assert!(
        text.contains("Code for `days_between`") && text.contains(DAYS),
        "{text}"
    );
}

#[tokio::test]
async fn asking_for_a_tool_in_words_proposes_one_and_a_date_question_offers_one_once() {
    let stub = StubLlm::start().await;
    script(&stub);
    let (core, out) = rig(&stub).await;
    let a = &core.assistant;
    let (_, text) = one(step(
        a,
        &out,
        message(
            "$ask",
            "Can you make a tool that counts the days between two dates?",
            None,
        ),
    )
    .await);
    assert!(
        text.starts_with("🔧 **Tool proposal: `days_between`**"),
        "{text}"
    );
    let asked = stub.structured_requests_named("tool_concept");
    assert!(
        asked[0]["messages"]
            .to_string()
            .contains("counts the days between two dates")
    );
    sqlx::query("DELETE FROM tools")
        .execute(a.db())
        .await
        .unwrap();

    // Implicit: answered as usual, then a proposal, once.
    let sent = step(
        a,
        &out,
        message(
            "$q",
            "How many days are between 2026-01-01 and 2026-03-01?",
            None,
        ),
    )
    .await;
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!(sent[0].1, "That is 59 days.");
    assert!(
        sent[1].1.starts_with("Counting days between dates is easy for me to get wrong. I can build a small tool for it")
            && sent[1].1.contains("Tool proposal: `days_between`"),
        "{}",
        sent[1].1
    );
    let sent = step(
        a,
        &out,
        message(
            "$q2",
            "And how many days between 2026-03-01 and 2026-04-01?",
            None,
        ),
    )
    .await;
    assert_eq!(sent.len(), 1, "one proposal per need: {sent:#?}");
}
