//! Building and running self-made tools: the stages a tool goes through, each one posted to
//! the owner and waiting for their reaction.
//!
//! 1. **Concept** ([`Assistant::propose_tool`]): the model writes name, description,
//!    parameters and an example (`json_schema`); posted; ✅ goes on, ❌ drops it, a text reply
//!    to the message revises it (a new version, the old message's ✅ no longer counts).
//! 2. **Code**: the model writes the module with examples and an explanation; the code is
//!    scanned and its examples run, both in the sandbox; posted with the findings; ✅ / ❌ / a
//!    reply.
//! 3. **Install**: scanned and run again; posted; ✅ installs it at once.
//!
//! Every approval is bound to the tool's version and code hash (its payload); a ✅ on a
//! message that a revision replaced, or for code that changed, does nothing but say so.
//! Each decision is kept in the tool's history ([`store::tools::record_approval`]); each run
//! in `tool_runs`. Nothing here runs tool code outside the sandbox, and nothing runs at all
//! while the start-up probe has not proven the sandbox ([`crate::tools::probe`]).

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Assistant;
use crate::chat::IncomingMessage;
use crate::store::{self, approvals::Approval, tools::Tool};
use crate::tools::concept::{self, Concept};
use crate::tools::draft::{self, Draft, Example};
use crate::tools::present;
use crate::tools::sandbox::{Outcome, Sandbox};
use crate::tools::scan;

/// Approval kinds, one per stage.
pub const CONCEPT: &str = "tool_concept";
pub const CODE: &str = "tool_code";
pub const INSTALL: &str = "tool_install";
pub const REMOVE: &str = "tool_remove";
pub const KINDS: [&str; 4] = [CONCEPT, CODE, INSTALL, REMOVE];

/// What an approval was asked for: this version of this tool, with this code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Bound {
    tool_id: i64,
    version: i32,
    code_hash: Option<String>,
}

impl Bound {
    fn of(t: &Tool) -> Self {
        Bound {
            tool_id: t.id,
            version: t.version,
            code_hash: t.code_hash.clone(),
        }
    }

    fn holds_for(&self, t: &Tool) -> bool {
        self.tool_id == t.id && self.version == t.version && self.code_hash == t.code_hash
    }
}

/// The stage name kept in a tool's history for an approval kind.
fn stage_of(kind: &str) -> &'static str {
    match kind {
        CONCEPT => "concept",
        CODE => "code",
        INSTALL => "install",
        _ => "remove",
    }
}

/// What a run gave, for the chat and `!tools run`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub outcome: Outcome,
    pub millis: u128,
}

impl ToolResult {
    /// The result in one line: the value as JSON, or what went wrong.
    pub fn text(&self) -> String {
        outcome_text(&self.outcome)
    }
}

/// A run's outcome in one line: the value as JSON, or what went wrong.
fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Returned(v) => v.to_string(),
        Outcome::Raised(e) => format!("error: {e}"),
        Outcome::Stopped(why) => format!("stopped by the sandbox: {why}"),
    }
}

/// An installed tool that ran for a chat message.
#[derive(Debug, Clone, PartialEq)]
pub struct UsedTool {
    /// What the user reads before the answer: which tool ran and what it gave.
    pub line: String,
    /// The note the answer is written from.
    pub note: String,
    /// The result as text, which the answer must carry.
    pub result: String,
}

impl UsedTool {
    /// The reply as it goes out: the model's words when they carry the tool's result, else
    /// the result plainly. The stack's 0.5B model, given the result, still wrote its own
    /// sum ("There are 9 days between …" under a tool that computed 286) in 2 of 2 tries.
    pub fn settled(&self, reply: &str) -> Option<String> {
        let words = reply.strip_prefix(&self.line).unwrap_or(reply);
        if self.result.is_empty() || words.contains(&self.result) {
            return None;
        }
        Some(format!(
            "{}\n\nThe tool's answer: **{}**",
            self.line,
            crate::text::clip(&self.result, 1500)
        ))
    }
}

impl Assistant {
    /// The installed tool this message needs, run in the sandbox, if one fits: the model
    /// picks it and its arguments (a `json_schema` action) among the tools that share words
    /// with the message. Anything that goes wrong leaves the turn as it would be without
    /// tools (logged).
    pub(crate) async fn tool_for_turn(&self, user_id: &str, message: &str) -> Option<UsedTool> {
        use crate::tools::call::{self, Action, Offer};
        let tools = store::tools::installed(&self.db, user_id).await.ok()?;
        let offers: Vec<Offer<'_>> = tools
            .iter()
            .map(|t| Offer {
                name: &t.name,
                description: &t.description,
                parameters: &t.parameters,
            })
            .filter(|o| call::relevant(message, o))
            .collect();
        if offers.is_empty() || self.sandbox().await.is_err() {
            return None;
        }
        let action: Action = match self
            .llm
            .chat_json(
                call::action_prompt(&offers, message),
                "tool_action",
                call::action_schema(&offers),
                300,
            )
            .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "could not choose a tool; answering without one");
                return None;
            }
        };
        let tool = tools.iter().find(|t| t.name == action.tool)?;
        if let Err(why) = call::check_input(&tool.parameters, &action.arguments) {
            tracing::info!(tool = %tool.name, %why, "the chosen tool's arguments did not fit; answering without it");
            return None;
        }
        let result = match self.run_tool(tool, &action.arguments, "chat").await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), tool = %tool.name, "a tool could not run");
                return None;
            }
        };
        if !matches!(result.outcome, Outcome::Returned(_)) {
            // Logged in tool_runs; the answer goes on without it.
            tracing::info!(tool = %tool.name, "a tool failed for a message; answering without it");
            return None;
        }
        tracing::info!(tool = %tool.name, ms = result.millis as u64, "a tool ran for a message");
        let text = result.text();
        let plain = match &result.outcome {
            Outcome::Returned(Value::String(s)) => s.clone(),
            Outcome::Returned(v) => v.to_string(),
            _ => String::new(),
        };
        Some(UsedTool {
            result: plain.trim().to_owned(),
            line: format!(
                "🔧 *Ran your tool `{}` in the sandbox: `{}`*",
                tool.name,
                crate::text::clip(&text, 200)
            ),
            note: call::result_note(&tool.name, &action.arguments, &text),
        })
    }

    /// The sandbox, once the start-up probe proved it holds; otherwise why tools are off.
    pub(crate) async fn sandbox(&self) -> Result<&Sandbox, String> {
        self.sandbox
            .get_or_init(|| async {
                let proven = crate::tools::probe::probe(Default::default()).await;
                match &proven {
                    Ok(p) => tracing::info!(
                        ms = p.millis as u64,
                        landlock = %p.landlock,
                        "the tool sandbox holds"
                    ),
                    Err(why) => tracing::error!(%why, "tools are disabled"),
                }
                proven.map(|p| p.sandbox)
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Stage 1 for `request` (what the user needs, in their words): the concept, posted in
    /// answer to `m` and waiting for ✅.
    pub(crate) async fn propose_tool(
        &self,
        m: &IncomingMessage,
        request: &str,
        lead: Option<&str>,
    ) -> anyhow::Result<()> {
        self.propose_tool_as(m, request, lead, false).await
    }

    /// [`Self::propose_tool`]; with `rename`, a name the user already has gets a number
    /// (`days_between_2`): a corrected tool proposed next to the one that failed.
    pub(crate) async fn propose_tool_as(
        &self,
        m: &IncomingMessage,
        request: &str,
        lead: Option<&str>,
        rename: bool,
    ) -> anyhow::Result<()> {
        if let Err(why) = self.sandbox().await {
            return self
                .reply(
                    m,
                    &format!(
                        "I can't build tools on this machine: {why}. Fix: {}.",
                        crate::tools::probe::FIX
                    ),
                )
                .await;
        }
        let c = match self.write_concept(request, None).await {
            Ok(c) => c,
            Err(e) => return self.reply(m, &e).await,
        };
        let new = store::tools::NewConcept {
            name: &c.name,
            description: &c.description,
            parameters: &c.parameters,
            example: &c.example,
            request,
        };
        let mut proposed = store::tools::propose(&self.db, &m.sender, &m.room_id, &new).await?;
        for n in 2..10 {
            if proposed.is_some() || !rename {
                break;
            }
            let name = format!("{}_{n}", c.name);
            let other = store::tools::NewConcept { name: &name, ..new };
            proposed = store::tools::propose(&self.db, &m.sender, &m.room_id, &other).await?;
        }
        let Some(tool) = proposed else {
            let have = store::tools::by_name(&self.db, &m.sender, &c.name).await?;
            let stage = have
                .map(|t| present::stage_words(&t.stage))
                .unwrap_or("in use");
            return self
                .reply(
                    m,
                    &format!(
                        "You already have a tool called `{}` ({stage}). `!tools show {}` shows it; \
                         `!tools remove {}` removes it.",
                        c.name, c.name, c.name
                    ),
                )
                .await;
        };
        let text = match lead {
            Some(lead) => format!("{lead}\n\n{}", present::concept_message(&tool)),
            None => present::concept_message(&tool),
        };
        let event_id = self.reply_returning_id(m, &text).await?;
        self.ask(&tool, CONCEPT, &event_id).await
    }

    /// After a reply to a message a tool would do better (see [`crate::tools::gaps`]): a
    /// proposal, once per need, and only when tools work here.
    pub(crate) async fn offer_tool(&self, m: &IncomingMessage, need: &str, why: &str) {
        let known = store::tools::exists_for_request(&self.db, &m.sender, need).await;
        if !matches!(known, Ok(false)) || self.sandbox().await.is_err() {
            return;
        }
        let lead = format!("{why} I can build a small tool for it, checked by you at each step:");
        if let Err(e) = self.propose_tool(m, need, Some(&lead)).await {
            tracing::warn!(error = format!("{e:#}"), "could not propose a tool");
        }
    }

    /// A text reply to a tool's stage message: a new version of that stage.
    pub(crate) async fn revise_tool(
        &self,
        approval: &Approval,
        m: &IncomingMessage,
    ) -> anyhow::Result<()> {
        let Some(tool) = self.bound_tool(approval).await? else {
            return self
                .reply(m, "That message is out of date: the tool changed since. Reply to its newest message.")
                .await;
        };
        let change = m.body.trim();
        match approval.kind.as_str() {
            CONCEPT => {
                let before = concept_of(&tool);
                let c = match self
                    .write_concept(&tool.request, Some((&before, change)))
                    .await
                {
                    Ok(c) => c,
                    Err(e) => return self.reply(m, &e).await,
                };
                let new = store::tools::NewConcept {
                    name: &tool.name,
                    description: &c.description,
                    parameters: &c.parameters,
                    example: &c.example,
                    request: &tool.request,
                };
                let Some(tool) =
                    store::tools::revise_concept(&self.db, tool.id, tool.version, &new).await?
                else {
                    return self
                        .reply(m, "The tool changed while I was revising it; try again.")
                        .await;
                };
                let event_id = self
                    .reply_returning_id(m, &present::concept_message(&tool))
                    .await?;
                self.ask(&tool, CONCEPT, &event_id).await
            }
            CODE => {
                let code = tool.code.clone().unwrap_or_default();
                self.show_code(
                    &tool,
                    Some((&code, change)),
                    m.thread_root.clone(),
                    &m.event_id,
                )
                .await
            }
            _ => {
                self.reply(
                    m,
                    "This step takes only a reaction: ✅ to go on, ❌ to drop it.",
                )
                .await
            }
        }
    }

    /// The owner reacted to a tool's stage message.
    pub(crate) async fn tool_decided(&self, approval: &Approval) -> anyhow::Result<()> {
        let answer = |text: String| async move {
            self.say(
                &approval.room_id,
                &approval.user_id,
                &text,
                None,
                Some(approval.event_id.clone()),
            )
            .await
        };
        let bound: Option<Bound> = serde_json::from_value(approval.payload.clone()).ok();
        let tool = match &bound {
            Some(b) => store::tools::get(&self.db, &approval.user_id, b.tool_id).await?,
            None => None,
        };
        let (Some(bound), Some(tool)) = (bound, tool) else {
            return answer("That tool is gone.".into()).await;
        };
        store::tools::record_approval(
            &self.db,
            tool.id,
            &approval.user_id,
            stage_of(&approval.kind),
            bound.version,
            bound.code_hash.as_deref(),
            approval.approved,
            &approval.event_id,
        )
        .await?;
        if !bound.holds_for(&tool) {
            return answer(format!(
                "That message is out of date: `{}` changed since (now version {}). React to its newest message.",
                tool.name, tool.version
            ))
            .await;
        }
        if !approval.approved {
            if approval.kind == REMOVE {
                return answer(format!("OK, `{}` stays installed.", tool.name)).await;
            }
            let from = tool.stage.as_str();
            store::tools::advance(
                &self.db,
                tool.id,
                from,
                "rejected",
                tool.version,
                tool.code_hash.as_deref(),
                None,
            )
            .await?;
            return answer(format!("OK, I dropped `{}`.", tool.name)).await;
        }
        match approval.kind.as_str() {
            CONCEPT => self.show_code(&tool, None, None, &approval.event_id).await,
            CODE => self.prepare_install(&tool, &approval.event_id).await,
            INSTALL => {
                let code = tool.code.as_deref().unwrap_or_default();
                // The hash is checked against the code itself, not only the stored hash.
                if tool.code_hash.as_deref() != Some(draft::code_hash(code).as_str()) {
                    return answer(format!(
                        "I did not install `{}`: its code does not match the approved hash.",
                        tool.name
                    ))
                    .await;
                }
                let installed = store::tools::advance(
                    &self.db,
                    tool.id,
                    "ready",
                    "installed",
                    tool.version,
                    tool.code_hash.as_deref(),
                    None,
                )
                .await?;
                answer(match installed {
                    Some(t) => format!(
                        "✅ Installed `{}`. I use it in our chat when it fits, or run it yourself: `!tools run {} {}`",
                        t.name,
                        t.name,
                        t.example.get("input").unwrap_or(&Value::Null)
                    ),
                    None => format!("`{}` is not waiting to be installed.", tool.name),
                })
                .await
            }
            _ => {
                store::tools::remove(&self.db, tool.id).await?;
                answer(format!(
                    "Removed `{}`. Its history stays in `!tools show {}`.",
                    tool.name, tool.name
                ))
                .await
            }
        }
    }

    /// Asks for `!tools remove`'s ✅.
    pub(crate) async fn ask_removal(&self, tool: &Tool, m: &IncomingMessage) -> anyhow::Result<()> {
        let event_id = self
            .reply_returning_id(
                m,
                &format!(
                    "Remove the tool `{}`? React ✅ to remove it, ❌ to keep it.",
                    tool.name
                ),
            )
            .await?;
        self.ask(tool, REMOVE, &event_id).await
    }

    /// Runs an installed tool in the sandbox with `input` and logs the run.
    pub(crate) async fn run_tool(
        &self,
        tool: &Tool,
        input: &Value,
        origin: &str,
    ) -> anyhow::Result<ToolResult> {
        let sandbox = self
            .sandbox()
            .await
            .map_err(|why| anyhow::anyhow!("tools are disabled: {why}"))?;
        let code = tool.code.as_deref().context("the tool has no code")?;
        let run = sandbox.run(code, input).await?;
        let result = ToolResult {
            outcome: run.outcome,
            millis: run.duration.as_millis(),
        };
        let status = match result.outcome {
            Outcome::Returned(_) => "returned",
            Outcome::Raised(_) => "raised",
            Outcome::Stopped(_) => "stopped",
        };
        crate::metrics::tool_run(status, run.duration.as_secs_f64());
        store::tools::record_run(
            &self.db,
            &tool.user_id,
            tool.id,
            input,
            &crate::text::clip(&result.text(), 4000),
            status,
            result.millis.min(i32::MAX as u128) as i32,
            origin,
        )
        .await?;
        Ok(result)
    }

    /// Stores the approval request for `tool`'s current version, and lets it supersede older
    /// requests about the same tool.
    async fn ask(&self, tool: &Tool, kind: &str, event_id: &str) -> anyhow::Result<()> {
        let payload = serde_json::to_value(Bound::of(tool))?;
        self.with_db_retry("store the approval", || {
            store::approvals::create(
                &self.db,
                &tool.user_id,
                &tool.room_id,
                event_id,
                kind,
                &payload,
            )
        })
        .await?;
        store::approvals::expire_about(
            &self.db,
            &tool.user_id,
            &KINDS,
            "tool_id",
            tool.id,
            event_id,
        )
        .await?;
        Ok(())
    }

    /// The tool an approval is about, if it still is at the version the approval was given for.
    async fn bound_tool(&self, approval: &Approval) -> anyhow::Result<Option<Tool>> {
        let Ok(bound) = serde_json::from_value::<Bound>(approval.payload.clone()) else {
            return Ok(None);
        };
        Ok(
            store::tools::get(&self.db, &approval.user_id, bound.tool_id)
                .await?
                .filter(|t| bound.holds_for(t)),
        )
    }

    /// The model's concept for `request`, checked; or what to tell the user.
    async fn write_concept(
        &self,
        request: &str,
        revise: Option<(&Concept, &str)>,
    ) -> Result<Concept, String> {
        let c: Concept = self
            .llm
            .chat_json(
                concept::prompt(request, revise),
                "tool_concept",
                concept::schema(),
                700,
            )
            .await
            .map_err(|e| {
                format!("I could not write a tool proposal just now ({e}). Try again in a moment.")
            })?;
        c.checked().map_err(|e| {
            format!("The model's proposal was not usable ({e}). Try again, perhaps in other words.")
        })
    }

    /// Stage 2: writes (or revises) the code, scans it and runs its examples in the sandbox,
    /// stores it as a new version and posts it for ✅, in answer to `reply_to`.
    async fn show_code(
        &self,
        tool: &Tool,
        revise: Option<(&str, &str)>,
        thread_root: Option<String>,
        reply_to: &str,
    ) -> anyhow::Result<()> {
        let say = |text: String| {
            let thread_root = thread_root.clone();
            async move {
                self.say_returning_id(
                    &tool.room_id,
                    &tool.user_id,
                    &text,
                    thread_root,
                    Some(reply_to.to_owned()),
                )
                .await
            }
        };
        let Ok(sandbox) = self.sandbox().await else {
            say("Tools are disabled on this machine (`!tools` says why).".into()).await?;
            return Ok(());
        };
        let c = concept_of(tool);
        // A ✅ after a failed attempt asks again: the same prompt at temperature 0 would
        // give the same failure, so later attempts sample.
        let tries = store::tools::approvals(&self.db, tool.id)
            .await?
            .iter()
            .filter(|a| a.stage == "concept" && a.approved && a.version == tool.version)
            .count();
        // A revision samples too: at temperature 0 the stack's model gave back the same code
        // for "It fails: … Return a list of dicts" (measured).
        let written = self
            .write_draft(&c, revise, &tool.name, tries > 1 || revise.is_some())
            .await;
        let d = match written {
            Ok(d) => d,
            Err(text) if revise.is_none() => {
                // The concept stays approved-for-code: this message takes the next ✅.
                let event_id = say(format!(
                    "{text} React ✅ to try again, ❌ to drop it, or reply to change the proposal."
                ))
                .await?;
                return self.ask(tool, CONCEPT, &event_id).await;
            }
            Err(text) => {
                say(format!("{text} The code before stays as it was.")).await?;
                return Ok(());
            }
        };
        let hash = draft::code_hash(&d.code);
        if revise.is_some() && tool.code_hash.as_deref() == Some(hash.as_str()) {
            say(format!(
                "The model wrote the same code for `{}` again, so nothing changed. Reply to the code with the change in other words, or react ✅ to go on with it.",
                tool.name
            ))
            .await?;
            return Ok(());
        }
        let (scan_report, example_report) = self.check_code(sandbox, &d.code, &d.examples).await;
        let examples = serde_json::to_value(&d.examples)?;
        let new = store::tools::NewCode {
            code: &d.code,
            code_hash: &hash,
            examples: &examples,
            explanation: &d.explanation,
            scan_report: &scan_report,
            example_report: &example_report,
        };
        let Some(tool) = store::tools::set_code(&self.db, tool.id, tool.version, &new).await?
        else {
            say(format!(
                "`{}` changed while I was writing its code.",
                tool.name
            ))
            .await?;
            return Ok(());
        };
        let event_id = say(present::code_message(&tool)).await?;
        self.ask(&tool, CODE, &event_id).await
    }

    /// The code for concept `c` (a plain answer in a fence), then its examples and
    /// explanation (`json_schema`); or what to tell the owner. Examples the model could not
    /// give leave the concept's own example, which the owner approved.
    async fn write_draft(
        &self,
        c: &Concept,
        revise: Option<(&str, &str)>,
        name: &str,
        sample: bool,
    ) -> Result<Draft, String> {
        let mut req = crate::llm::ChatRequest::new(draft::code_prompt(c, revise));
        req.max_tokens = Some(900);
        req.temperature = Some(if sample { 0.7 } else { 0.0 });
        let answer = self
            .llm
            .chat(&req)
            .await
            .map_err(|e| format!("I could not write the code for `{name}` just now ({e})."))?;
        let code = draft::extract_code(&answer.content);
        let notes = self
            .llm
            .chat_json::<draft::Notes>(
                draft::notes_prompt(c, &code),
                "tool_code_notes",
                draft::notes_schema(),
                600,
            )
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "no examples or explanation for the code");
                draft::Notes {
                    examples: Vec::new(),
                    explanation: String::new(),
                }
            });
        Draft {
            code,
            examples: notes.examples,
            explanation: notes.explanation,
        }
        .checked(c)
        .map_err(|e| format!("The model's code for `{name}` was not usable ({e})."))
    }

    /// Stage 3: scans and runs the examples again, then posts the install for ✅.
    async fn prepare_install(&self, tool: &Tool, reply_to: &str) -> anyhow::Result<()> {
        let Ok(sandbox) = self.sandbox().await else {
            self.say(
                &tool.room_id,
                &tool.user_id,
                "Tools are disabled on this machine (`!tools` says why).",
                None,
                Some(reply_to.to_owned()),
            )
            .await?;
            return Ok(());
        };
        let code = tool.code.clone().unwrap_or_default();
        let examples: Vec<Example> =
            serde_json::from_value(tool.examples.clone()).unwrap_or_default();
        let (scan_report, example_report) = self.check_code(sandbox, &code, &examples).await;
        let Some(tool) = store::tools::advance(
            &self.db,
            tool.id,
            "code_shown",
            "ready",
            tool.version,
            tool.code_hash.as_deref(),
            Some((&scan_report, &example_report)),
        )
        .await?
        else {
            return Ok(());
        };
        let event_id = self
            .say_returning_id(
                &tool.room_id,
                &tool.user_id,
                &present::install_message(&tool),
                None,
                Some(reply_to.to_owned()),
            )
            .await?;
        self.ask(&tool, INSTALL, &event_id).await
    }

    /// The scan's findings and the examples' results, both from the sandbox, in words.
    async fn check_code(
        &self,
        sandbox: &Sandbox,
        code: &str,
        examples: &[Example],
    ) -> (String, String) {
        let scan_report = match sandbox.run(scan::SCANNER, &scan::input(code)).await {
            Ok(run) => match run.outcome {
                Outcome::Returned(v) => match serde_json::from_value::<Vec<scan::Finding>>(v) {
                    Ok(f) => scan::report(&f),
                    Err(e) => format!("the scan gave no usable answer ({e})"),
                },
                other => format!("the scan could not finish ({})", outcome_text(&other)),
            },
            Err(e) => format!("the scan could not run ({e})"),
        };
        let mut lines = Vec::new();
        let mut passed = 0;
        for ex in examples {
            let got = match sandbox.run(code, &ex.input).await {
                Ok(run) => run.outcome,
                Err(e) => Outcome::Stopped(e.to_string()),
            };
            let ok =
                matches!(&got, Outcome::Returned(v) if draft::matches_expected(v, &ex.expected));
            passed += usize::from(ok);
            lines.push(format!(
                "- {} `run({})` → `{}`{}",
                if ok { "✓" } else { "✗" },
                ex.input,
                crate::text::clip(&outcome_text(&got), 200),
                if ok {
                    String::new()
                } else {
                    format!(" (the model expected `{}`)", ex.expected)
                }
            ));
        }
        let head = format!("{passed} of {} gave the expected result", examples.len());
        (scan_report, format!("{head}\n{}", lines.join("\n")))
    }
}

/// A stored tool's concept.
fn concept_of(t: &Tool) -> Concept {
    Concept {
        name: t.name.clone(),
        description: t.description.clone(),
        parameters: t.parameters.clone(),
        example: t.example.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_that_drops_the_tools_result_is_replaced_by_the_result() {
        let used = UsedTool {
            line: "🔧 *Ran your tool `days` in the sandbox: `286`*".into(),
            note: String::new(),
            result: "286".into(),
        };
        let ok = format!("{}\n\nThere are 286 days between them.", used.line);
        assert_eq!(used.settled(&ok), None);
        let wrong = format!("{}\n\nThere are 9 days between them.", used.line);
        assert_eq!(
            used.settled(&wrong).unwrap(),
            format!("{}\n\nThe tool's answer: **286**", used.line)
        );
    }
}
