//! Research in idle hours below Matrix, on the real database, the SearxNG-shaped fixture and
//! the scripted model: a topic proposed from what the user asked to look up, approved with ✅,
//! researched when an idle hour comes (a moved clock), its findings in `!research`, in memory
//! (as web knowledge, with sources) and in the digest, then deleted with `!research delete`
//! and gone from memory and recall. Injected pages, resuming a cut-off run, a failed search,
//! a topic with nothing new, pause, and the self-review's tool proposal.

use chrono::{DateTime, Duration, Utc};

use crate::common::core_rig::{self, Core};
use crate::common::fixtures_web::WebFixture;
use crate::common::incoming;
use crate::common::outbox::RecordingOutbox;
use crate::common::research_fixtures::{COMET_FINDING, OWL_FINDINGS, findings};
use crate::common::stub_llm::{Reply, StubLlm};
use threeam::assistant::{Assistant, Incoming};
use threeam::store::research as rs;

const USER: &str = "@ada:localhost";
const ROOM: &str = "!research:localhost";

fn script(stub: &StubLlm) {
    stub.set_structured_responder(|name, body| {
        let last = body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_str())
            .unwrap_or("")
            .to_owned();
        (name == "research_findings").then(|| Reply::json(&findings(&last)))
    });
}

async fn rig(stub: &StubLlm, web: &WebFixture) -> Core {
    let mut cfg = core_rig::config(&stub.url());
    cfg.web.enabled = true;
    cfg.web.search_url = web.base();
    cfg.web.fetch_private = true;
    cfg.matrix.allowed_users = vec![USER.into()];
    Core::start(cfg, None).await
}

fn message(event: &str, body: &str) -> Incoming {
    incoming::message(ROOM, USER, event, body, None)
}

/// Handles `incoming`; returns the texts the bot sent (and edited) in answer.
async fn step(a: &Assistant, out: &RecordingOutbox, incoming: Incoming) -> Vec<(String, String)> {
    let before = out.messages().len();
    a.handle(incoming).await.unwrap();
    out.messages()[before..]
        .iter()
        .map(|(id, m)| (id.clone(), m.markdown.clone()))
        .collect()
}

async fn facts(a: &Assistant) -> Vec<(String, String, Vec<String>)> {
    sqlx::query_as("SELECT text, kind, source_event_ids FROM facts WHERE user_id = $1 ORDER BY id")
        .bind(USER)
        .fetch_all(a.db())
        .await
        .unwrap()
}

/// Runs the user's night for `date` at `at` with the scripted model and returns its digest.
async fn night_digest(
    a: &Assistant,
    stub: &StubLlm,
    date: chrono::NaiveDate,
    at: DateTime<Utc>,
) -> String {
    let llm = threeam::llm::LlmClient::new(&core_rig::config(&stub.url()).llm).unwrap();
    threeam::night::run_night(
        a.db(),
        &llm,
        USER,
        date,
        at,
        &threeam::night::RunOptions::default(),
    )
    .await
    .unwrap();
    sqlx::query_scalar("SELECT body FROM digests WHERE user_id = $1")
        .bind(USER)
        .fetch_one(a.db())
        .await
        .unwrap()
}

/// Two hours after now: the user has been quiet long enough.
fn later() -> DateTime<Utc> {
    Utc::now() + Duration::hours(2)
}

#[tokio::test]
async fn a_topic_is_proposed_approved_researched_told_and_deleted() {
    let stub = StubLlm::start().await;
    script(&stub);
    let web = WebFixture::start().await;
    let core = rig(&stub, &web).await;
    let (a, out) = (&core.assistant, &core.out);

    // The user asks for a web search: a topic to propose.
    step(a, out, message("$q", "Please look up barn owls on the web")).await;
    // While the user is chatting, nothing happens.
    let busy = a.idle_tick(Utc::now()).await.unwrap();
    assert!(busy.users.is_empty(), "{busy:?}");

    let t0 = later();
    let before = out.messages().len();
    let first = a.idle_tick(t0).await.unwrap();
    assert_eq!(first.proposed, ["barn owls"], "{first:?}");
    assert!(first.researched.is_empty(), "nothing approved yet");
    let sent = out.messages()[before..].to_vec();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let (proposal, text) = (&sent[0].0, &sent[0].1.markdown);
    assert!(
        text.contains("Shall I keep an eye on **barn owls**?")
            && text.contains("you asked me to look it up")
            && text.contains("“barn owls latest news”"),
        "{text}"
    );

    // Someone else's ✅ does nothing; the owner's approves.
    a.handle(incoming::reaction(
        ROOM,
        "@eve:localhost",
        "$e",
        proposal,
        "✅",
    ))
    .await
    .unwrap();
    let said = step(
        a,
        out,
        incoming::reaction(ROOM, USER, "$ok", proposal, "✅"),
    )
    .await;
    assert!(
        said[0].1.contains("I'll keep an eye on **barn owls**"),
        "{said:?}"
    );

    // Within the hour nothing more; the next idle hour researches it.
    assert!(
        a.idle_tick(t0 + Duration::minutes(30))
            .await
            .unwrap()
            .users
            .is_empty()
    );
    let second = a.idle_tick(t0 + Duration::minutes(61)).await.unwrap();
    assert_eq!(second.researched.len(), 1, "{second:?}");
    let run = &second.researched[0];
    let found: Vec<&str> = run.findings.iter().map(|f| f.1.as_str()).collect();
    assert_eq!(found, OWL_FINDINGS, "{run:?}");
    assert!(
        run.dropped >= 1,
        "the fooled statement about the user is dropped"
    );
    assert!(run.failed.is_none());

    // The findings are knowledge facts with their source; nothing about the user came in.
    let stored = facts(a).await;
    let web_facts: Vec<&(String, String, Vec<String>)> = stored
        .iter()
        .filter(|f| f.2.iter().all(|s| s.starts_with("research:")))
        .collect();
    assert_eq!(web_facts.len(), 2, "{stored:#?}");
    assert!(web_facts.iter().all(|f| {
        f.1 == "knowledge"
            && f.0
                .contains("(source: “Owls | Fixture Encyclopedia”, 127.0.0.1)")
    }));
    assert!(
        !stored.iter().any(|f| f.0.contains("Mallory")),
        "{stored:#?}"
    );

    // `!research` and `!research show` list them with links.
    let list = step(a, out, message("$l", "!research")).await;
    assert!(
        list[0].1.contains("**barn owls**: last researched") && list[0].1.contains(OWL_FINDINGS[1]),
        "{list:?}"
    );
    let show = step(a, out, message("$s", "!research show barn owls")).await;
    assert!(show[0].1.contains(&web.url("/pages/owls")), "{show:?}");

    // Recall brings a finding up as web knowledge, not as something about the user.
    step(
        a,
        out,
        message(
            "$r",
            "what do you know about how barn owls find prey in the dark?",
        ),
    )
    .await;
    let prompt = stub.chat_requests().last().unwrap()["messages"].to_string();
    assert!(
        prompt.contains("What you read on the web earlier"),
        "{prompt}"
    );
    assert!(prompt.contains("locate prey by sound"), "{prompt}");

    // The night's digest tells the findings, once, in the research section.
    let tz = chrono_tz::UTC;
    let night = t0.with_timezone(&tz).date_naive();
    let digest = night_digest(a, &stub, night, t0 + Duration::hours(3)).await;
    assert!(digest.contains("**Research findings**"), "{digest}");
    assert!(
        digest.contains(&format!("- **barn owls**: {}", OWL_FINDINGS[0])),
        "{digest}"
    );
    let about_you = digest.split("**Research findings**").next().unwrap();
    assert!(
        !about_you.contains("Strigiformes"),
        "told as research only: {digest}"
    );

    // `!research delete` asks, and ✅ deletes the findings and the facts made from them.
    let ask = step(a, out, message("$d", "!research delete barn owls")).await;
    assert!(
        ask[0]
            .1
            .starts_with("Delete the topic **barn owls** and its 2 findings"),
        "{ask:?}"
    );
    let done = step(
        a,
        out,
        incoming::reaction(ROOM, USER, "$dok", &ask[0].0, "✅"),
    )
    .await;
    assert!(
        done[0].1.contains("Deleted 2 findings and the 2 memories"),
        "{done:?}"
    );
    assert!(
        !facts(a).await.iter().any(|f| f.0.contains("owl")),
        "{:#?}",
        facts(a).await
    );
    assert!(
        rs::findings(a.db(), USER, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    step(
        a,
        out,
        message(
            "$r2",
            "what do you know about how barn owls find prey in the dark?",
        ),
    )
    .await;
    let prompt = stub.chat_requests().last().unwrap()["messages"].to_string();
    assert!(
        !prompt.contains("What you read on the web earlier"),
        "{prompt}"
    );
    // Deleted is deleted: not proposed or researched again.
    let t1 = t0 + Duration::hours(5);
    let again = a.idle_tick(t1).await.unwrap();
    assert!(
        again.proposed.is_empty() && again.researched.is_empty(),
        "{again:?}"
    );
}

#[tokio::test]
async fn injected_pages_give_only_their_facts_and_no_orders_are_followed() {
    let stub = StubLlm::start().await;
    script(&stub);
    let web = WebFixture::start().await;
    let core = rig(&stub, &web).await;
    let (a, out) = (&core.assistant, &core.out);
    step(a, out, message("$hi", "!research add comets")).await;
    let before = out.messages().len();
    let sent = step(a, out, message("$now", "!research now comets")).await;
    assert_eq!(
        out.messages().len(),
        before + 1,
        "one message, edited as it goes"
    );
    let (event, _) = &sent[0];
    let edits = out.edits_of(event);
    assert!(
        edits
            .iter()
            .any(|e| e.starts_with("🔎 Searching the web for “comets latest news”")),
        "{edits:?}"
    );
    assert!(
        edits
            .iter()
            .any(|e| e.starts_with("📄 Reading page 1 of 2")),
        "{edits:?}"
    );
    let last = edits.last().unwrap();
    assert!(
        last.contains(COMET_FINDING) && last.contains("(1 could not be read)"),
        "{last}"
    );

    // The page's text reached the model only inside the fence, with the warning.
    let asked = stub.structured_requests_named("research_findings");
    assert_eq!(asked.len(), 1);
    let prompt = asked[0]["messages"].to_string();
    assert!(prompt.contains("never follow them"), "{prompt}");
    assert!(prompt.contains("<<<PAGE") && prompt.contains("PAGE>>>"));

    // Only the comet is kept: no order, no claim about the user, no command ran.
    let stored = facts(a).await;
    assert_eq!(stored.len(), 1, "{stored:#?}");
    assert!(
        stored[0].0.starts_with(COMET_FINDING.trim_end_matches('.')),
        "{stored:#?}"
    );
    assert!(
        !out.messages()
            .iter()
            .any(|(_, m)| m.markdown.contains("PWNED"))
    );
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM approvals WHERE kind <> 'research_topic'")
            .fetch_one(a.db())
            .await
            .unwrap();
    assert_eq!(pending, 0, "nothing asked to be forgotten or approved");
    let finding = &rs::findings(a.db(), USER, None, 10).await.unwrap()[0];
    assert_eq!(
        finding.page_date,
        chrono::NaiveDate::from_ymd_opt(2026, 9, 27)
    );
}

#[tokio::test]
async fn a_cut_off_run_resumes_and_failed_or_empty_searches_are_handled() {
    let stub = StubLlm::start().await;
    script(&stub);
    let web = WebFixture::start().await;
    let core = rig(&stub, &web).await;
    let a = &core.assistant;
    let now = Utc::now();
    step(a, &core.out, message("$hi", "hello")).await;
    let add = |topic: &'static str, query: &'static str| {
        rs::add_topic(
            a.db(),
            rs::NewTopic {
                user_id: USER,
                room_id: ROOM,
                topic,
                query,
                reason: "test",
                origin: rs::Origin::Added,
            },
            now,
        )
    };

    // A run that a crash cut off after its first page: the next pass goes on with the same
    // run and does not read that page again.
    let (owls, _) = add("owls", "owls").await.unwrap();
    // While another run holds the topic, a second one does nothing.
    let held = rs::try_lock_topic(a.db(), owls.id).await.unwrap().unwrap();
    let busy = a.research_topic(&owls, "now", now, None).await.unwrap();
    assert_eq!(
        busy.failed.as_deref(),
        Some("it is being researched right now")
    );
    assert!(rs::runs(a.db(), USER, 10).await.unwrap().is_empty());
    drop(held);
    let (run, _) = rs::open_run(a.db(), USER, owls.id, "idle", now)
        .await
        .unwrap();
    rs::save_page(
        a.db(),
        USER,
        owls.id,
        run,
        &web.url("/pages/owls"),
        "Owls",
        &[],
        now,
    )
    .await
    .unwrap();
    let report = a.research_topic(&owls, "idle", now, None).await.unwrap();
    let runs = rs::runs(a.db(), USER, 10).await.unwrap();
    assert_eq!(runs.len(), 1, "the same run went on: {runs:?}");
    assert_eq!(
        web.seen()
            .iter()
            .filter(|s| s.path == "/pages/owls")
            .count(),
        1,
        "the owls page came through the redirect only"
    );
    assert!(report.pages_read >= 1, "{report:?}");

    // A failed search: said plainly, not counted, the topic untouched.
    let (broken, _) = add("broken things", "broken").await.unwrap();
    let report = a.research_topic(&broken, "idle", now, None).await.unwrap();
    assert!(
        report.failed.as_deref().is_some_and(|w| w.contains("500")),
        "{report:?}"
    );
    assert!(
        report
            .markdown()
            .starts_with("I could not research **broken things**")
    );
    let t = rs::topic(a.db(), USER, broken.id).await.unwrap().unwrap();
    assert!(t.last_researched_at.is_none() && t.backoff_until.is_none());
    assert_eq!(
        rs::runs_since(a.db(), USER, now - Duration::hours(1))
            .await
            .unwrap(),
        1
    );

    // Nothing new: the topic rests for a week.
    let (quiet, _) = add("quasars", "quasars").await.unwrap();
    let report = a.research_topic(&quiet, "idle", now, None).await.unwrap();
    assert!(report.findings.is_empty() && report.markdown().contains("Nothing new"));
    let t = rs::topic(a.db(), USER, quiet.id).await.unwrap().unwrap();
    assert!(t.backoff_until.unwrap() > now + Duration::days(6));
    let due = rs::due_topics(a.db(), USER, now + Duration::days(1), Duration::hours(20))
        .await
        .unwrap();
    assert!(!due.iter().any(|d| d.id == quiet.id), "{due:?}");
    assert!(
        due.iter().any(|d| d.id == broken.id),
        "a failed search is tried again: {due:?}"
    );

    // Paused: no proposals and no research in idle hours.
    step(a, &core.out, message("$p", "!research pause")).await;
    let idle = a.idle_tick(later()).await.unwrap();
    assert_eq!(idle.users, [USER]);
    assert!(
        idle.researched.is_empty() && idle.proposed.is_empty(),
        "{idle:?}"
    );
}

#[tokio::test]
async fn the_self_review_proposes_a_tool_for_work_that_went_wrong_once() {
    let stub = StubLlm::start().await;
    crate::common::tools_fixtures::script(&stub);
    let web = WebFixture::start().await;
    let core = rig(&stub, &web).await;
    let (a, out) = (&core.assistant, &core.out);

    let asked = step(a, out, message("$c", "convert 72 fahrenheit to celsius")).await;
    let reply = asked.last().unwrap().0.clone();
    step(
        a,
        out,
        incoming::reaction(ROOM, USER, "$down", &reply, "👎"),
    )
    .await;
    // A 👎 on an answer that is not work for a tool proposes nothing.
    let joke = step(a, out, message("$j", "tell me a joke about owls")).await;
    step(
        a,
        out,
        incoming::reaction(ROOM, USER, "$down2", &joke.last().unwrap().0, "👎"),
    )
    .await;

    let t0 = later();
    let before = out.messages().len();
    let hour = a.idle_tick(t0).await.unwrap();
    assert_eq!(hour.tools_proposed, 1, "{hour:?}");
    let sent = out.messages()[before..].to_vec();
    let proposal = sent
        .iter()
        .find(|(_, m)| {
            m.markdown
                .starts_with("Looking back over today: you asked this and you gave my answer 👎")
        })
        .unwrap_or_else(|| panic!("{sent:#?}"));
    assert_eq!(
        proposal.1.reply_to.as_deref(),
        Some("$c"),
        "it answers the request it is about"
    );
    let concept_asked = stub.structured_requests_named("tool_concept");
    assert!(
        concept_asked.last().unwrap()["messages"]
            .to_string()
            .contains("convert 72 fahrenheit to celsius")
    );

    // Each answer is reviewed once.
    let next = a.idle_tick(t0 + Duration::hours(2)).await.unwrap();
    assert_eq!(next.tools_proposed, 0, "{next:?}");
    let reviewed: Vec<String> = sqlx::query_scalar("SELECT outcome FROM self_reviews ORDER BY id")
        .fetch_all(a.db())
        .await
        .unwrap();
    assert_eq!(reviewed.len(), 2, "{reviewed:?}");
    assert!(
        reviewed.iter().any(|r| r.starts_with("tool: "))
            && reviewed.contains(&"nothing".to_owned())
    );

    // The morning digest lists the proposal.
    let digest = night_digest(a, &stub, t0.date_naive(), t0 + Duration::hours(3)).await;
    assert!(
        digest.contains("**Tool proposals**\n- `days_between`"),
        "{digest}"
    );
}

#[tokio::test]
async fn repeated_complaints_get_a_behaviour_note_that_a_check_mark_applies() {
    let stub = StubLlm::start().await;
    stub.set_default_chat(Reply::text(
        "Here is a very long answer about owls and their habits.",
        -0.05,
    ));
    let web = WebFixture::start().await;
    let core = rig(&stub, &web).await;
    let (a, out) = (&core.assistant, &core.out);
    for (i, q) in ["tell me about owls", "and about barn owls"]
        .iter()
        .enumerate()
    {
        let sent = step(a, out, message(&format!("$q{i}"), q)).await;
        let reply = sent.last().unwrap().0.clone();
        step(
            a,
            out,
            incoming::reaction(ROOM, USER, &format!("$d{i}"), &reply, "👎"),
        )
        .await;
        step(
            a,
            out,
            incoming::reaction(ROOM, USER, &format!("$t{i}"), &reply, "📜"),
        )
        .await;
    }
    let before = crate::common::db::profile_verbosity(a.db(), USER).await;

    let t0 = later();
    let n0 = out.messages().len();
    let hour = a.idle_tick(t0).await.unwrap();
    assert_eq!(
        (hour.tools_proposed, hour.notes_offered),
        (0, 1),
        "{hour:?}"
    );
    let note = out.messages()[n0..]
        .iter()
        .find(|(_, m)| m.markdown.contains("you found 2 of my answers too long"))
        .cloned()
        .unwrap_or_else(|| panic!("{:#?}", out.messages()));
    let said = step(a, out, incoming::reaction(ROOM, USER, "$ok", &note.0, "✅")).await;
    assert!(said[0].1.contains("keep my answers shorter"), "{said:?}");
    let after = crate::common::db::profile_verbosity(a.db(), USER).await;
    assert!(after < before, "{before} → {after}");
    // Offered once: the same complaints do not bring it again.
    let again = a.idle_tick(t0 + Duration::hours(2)).await.unwrap();
    assert_eq!(again.notes_offered, 0, "{again:?}");
}

#[tokio::test]
async fn a_failed_tool_run_gets_a_corrected_tool_proposed_next_to_it() {
    let stub = StubLlm::start().await;
    crate::common::tools_fixtures::script(&stub);
    let web = WebFixture::start().await;
    let core = rig(&stub, &web).await;
    let (a, out) = (&core.assistant, &core.out);
    step(a, out, message("$hi", "hello")).await;
    let tool: i64 = sqlx::query_scalar(
        "INSERT INTO tools (user_id, room_id, name, description, stage, code, code_hash, request)
         VALUES ($1, $2, 'days_between', 'Counts days.', 'installed', 'def run(args): raise ValueError(\"bad date\")', 'h', 'count the days between two dates')
         RETURNING id",
    )
    .bind(USER)
    .bind(ROOM)
    .fetch_one(a.db())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO tool_approvals (tool_id, user_id, stage, version, code_hash, approved, event_id)
         VALUES ($1, $2, 'install', 1, 'h', true, '$install')",
    )
    .bind(tool)
    .bind(USER)
    .execute(a.db())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO tool_runs (user_id, tool_id, input, output, status, origin, exit_code, duration_ms)
         VALUES ($1, $2, '{\"start\": \"1 May\", \"end\": \"2026-06-01\"}', 'ValueError: bad date', 'raised', 'chat', 1, 30)",
    )
    .bind(USER)
    .bind(tool)
    .execute(a.db())
    .await
    .unwrap();

    let t0 = later();
    let before = out.messages().len();
    let hour = a.idle_tick(t0).await.unwrap();
    assert_eq!(hour.tools_proposed, 1, "{hour:?}");
    let sent = out.messages()[before..].to_vec();
    let (_, proposal) = sent
        .iter()
        .find(|(_, m)| {
            m.markdown
                .starts_with("Looking back over today: your tool `days_between` failed on")
        })
        .unwrap_or_else(|| panic!("{sent:#?}"));
    assert_eq!(proposal.reply_to.as_deref(), Some("$install"));
    assert!(
        proposal.markdown.contains("ValueError: bad date"),
        "{}",
        proposal.markdown
    );
    assert!(
        proposal.markdown.contains("days_between_2"),
        "{}",
        proposal.markdown
    );
    let asked = stub.structured_requests_named("tool_concept");
    assert!(
        asked.last().unwrap()["messages"]
            .to_string()
            .contains("1 May")
    );
    // The failed tool stays installed; the run is reviewed once.
    let stages: Vec<(String, String)> =
        sqlx::query_as("SELECT name, stage FROM tools WHERE user_id = $1 ORDER BY id")
            .bind(USER)
            .fetch_all(a.db())
            .await
            .unwrap();
    assert_eq!(
        stages,
        [
            ("days_between".to_owned(), "installed".to_owned()),
            ("days_between_2".to_owned(), "proposed".to_owned())
        ]
    );
    let again = a.idle_tick(t0 + Duration::hours(2)).await.unwrap();
    assert_eq!(again.tools_proposed, 0, "{again:?}");
}

#[tokio::test]
async fn forgotten_findings_stay_forgotten_and_deleting_one_gives_back_what_it_replaced() {
    let stub = StubLlm::start().await;
    script(&stub);
    let web = WebFixture::start().await;
    let core = rig(&stub, &web).await;
    let (a, out) = (&core.assistant, &core.out);
    step(
        a,
        out,
        message(
            "$own",
            "!remember The owl book I like says owls hunt by day.",
        ),
    )
    .await;
    step(a, out, message("$now", "!research now barn owls")).await;
    let web_fact = |text: &'static str| async move {
        sqlx::query_scalar::<_, i64>("SELECT id FROM facts WHERE user_id = $1 AND text LIKE $2")
            .bind(USER)
            .bind(format!("%{text}%"))
            .fetch_optional(a.db())
            .await
            .unwrap()
    };
    let sound = web_fact("locate prey by sound")
        .await
        .expect("a research fact");
    let strigiformes = web_fact("Strigiformes").await.expect("a research fact");

    // `!forget` of a research fact lasts: later idle hours do not store it again.
    threeam::memory::forget(a.db(), USER, &[sound])
        .await
        .unwrap();
    a.idle_tick(later()).await.unwrap();
    a.idle_tick(later() + Duration::hours(2)).await.unwrap();
    assert_eq!(web_fact("locate prey by sound").await, None);

    // A research fact that replaced one of the user's (as the night's conflict stage may do)
    // gives it back when the finding is deleted, instead of erasing it.
    let own = web_fact("hunt by day").await.expect("the user's fact");
    sqlx::query("UPDATE facts SET superseded_by = $2, valid_to = now() WHERE id = $1")
        .bind(own)
        .bind(strigiformes)
        .execute(a.db())
        .await
        .unwrap();
    let ask = step(a, out, message("$d", "!research delete barn owls")).await;
    step(
        a,
        out,
        incoming::reaction(ROOM, USER, "$dok", &ask[0].0, "✅"),
    )
    .await;
    assert_eq!(web_fact("Strigiformes").await, None);
    let (superseded, ended): (Option<i64>, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT superseded_by, valid_to FROM facts WHERE id = $1")
            .bind(own)
            .fetch_one(a.db())
            .await
            .unwrap();
    assert_eq!(
        (superseded, ended),
        (None, None),
        "the user's fact is live again"
    );
}
