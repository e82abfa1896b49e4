//! The hourly self-review: the day's answers that got 👎, or in which the bot said it could
//! not do something, are looked at once each.
//!
//! * When the request was work a small tool does reliably
//!   ([`crate::tools::gaps::review_need`]), stage 1 of the tools pipeline is proposed as a
//!   reply to that request (nothing is built without the owner's ✅), at most one an hour.
//! * When the other 👎 carry the same complaint more than once (too long, made up), a
//!   behaviour note is offered ([`crate::behaviour::note`]): on ✅ the profile takes one step
//!   at once instead of waiting for the night's learning rule; the complaints of the whole
//!   window count, whenever their tags came; at most one of a kind a week.
//! * A chat run of an installed tool that raised or was stopped gets a corrected tool
//!   proposed (stage 1, named apart from the one that failed), once per run.
//! * The rest is left to the night's behaviour update.
//!
//! Every review is recorded (`self_reviews`) before anything is posted, so nothing is
//! proposed twice, even across a crash, and the digest lists the tools proposed.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::Assistant;
use crate::behaviour::note::{self, Note};
use crate::chat::IncomingMessage;
use crate::store::{self, approvals::Approval};

/// The approval kind of a behaviour note.
pub const NOTE: &str = "behaviour_note";

/// How far back the review looks.
const LOOK_BACK_HOURS: i64 = 24;
/// A note of one kind is offered at most once in this many days.
const NOTE_REST_DAYS: i64 = 7;

/// What one review proposed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reviewed {
    pub tools: usize,
    pub notes: usize,
}

impl Assistant {
    /// Reviews the user's recent answers.
    pub(crate) async fn review_answers(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Reviewed> {
        let since = now - chrono::Duration::hours(LOOK_BACK_HOURS);
        let items = store::feedback::review_items(&self.db, user_id, since).await?;
        let can_build = self.sandbox().await.is_ok();
        let mut done = Reviewed::default();
        for item in items {
            let thumbs_down = item.feedback == Some(-1);
            let need = crate::tools::gaps::review_need(&item.request, thumbs_down, !thumbs_down);
            match need {
                Some(need) if can_build => {
                    if done.tools > 0 {
                        continue; // the next hour's
                    }
                    if store::tools::exists_for_request(&self.db, user_id, &need).await? {
                        store::feedback::mark_reviewed(&self.db, user_id, item.id, "nothing")
                            .await?;
                        continue;
                    }
                    if store::feedback::mark_reviewed(
                        &self.db,
                        user_id,
                        item.id,
                        &format!("tool: {need}"),
                    )
                    .await?
                    {
                        self.propose_review_tool(user_id, &item, &need, thumbs_down)
                            .await?;
                        done.tools += 1;
                    }
                }
                // A tool's job, on a machine that cannot build tools: it waits.
                Some(_) => {}
                None => {
                    store::feedback::mark_reviewed(&self.db, user_id, item.id, "nothing").await?;
                }
            }
        }
        if can_build && done.tools == 0 {
            done.tools += self.review_failed_runs(user_id, since).await?;
        }
        // Complaints count over the whole window, whenever their tags came.
        let tags = store::feedback::thumbs_down_tags(&self.db, user_id, since).await?;
        if let Some((n, count)) = note::pick(&tags) {
            let outcome = format!("note: {}", n.as_str());
            let offered_lately = store::feedback::reviews_since(
                &self.db,
                user_id,
                now - chrono::Duration::days(NOTE_REST_DAYS),
            )
            .await?
            .contains(&outcome);
            let room = store::users::current_room(&self.db, user_id).await?;
            // Recorded before it is posted (one note a day at most): never offered twice.
            let day = now.timestamp().div_euclid(86_400);
            if let Some(room) = room
                && !offered_lately
                && store::feedback::mark_source_reviewed(&self.db, user_id, "note", day, &outcome)
                    .await?
            {
                let event_id = self
                    .say_returning_id(&room, user_id, &n.question(count), None, None)
                    .await?;
                store::approvals::create(
                    &self.db,
                    user_id,
                    &room,
                    &event_id,
                    NOTE,
                    &json!({"note": n.as_str()}),
                )
                .await?;
                done.notes += 1;
            }
        }
        Ok(done)
    }

    /// A chat run of an installed tool that failed: a corrected tool is proposed (stage 1, as
    /// a reply to the tool's install message), once per run, at most one an hour. Returns
    /// how many were proposed.
    async fn review_failed_runs(
        &self,
        user_id: &str,
        since: DateTime<Utc>,
    ) -> anyhow::Result<usize> {
        let tools = store::tools::list(&self.db, user_id).await?;
        for run in store::tools::failed_runs(&self.db, user_id, since).await? {
            // One corrected tool at a time: not another while one is being built.
            let pending = tools.iter().any(|t| {
                t.name.starts_with(&format!("{}_", run.name))
                    && matches!(t.stage.as_str(), "proposed" | "code_shown" | "ready")
            });
            if pending {
                store::feedback::mark_source_reviewed(
                    &self.db,
                    user_id,
                    "tool_run",
                    run.run_id,
                    "nothing: a corrected tool is being built",
                )
                .await?;
                continue;
            }
            let input = crate::text::clip(&run.input.to_string(), 200);
            let why = crate::text::clip(run.output.trim(), 200);
            let outcome = format!("tool: fix {}", run.name);
            if !store::feedback::mark_source_reviewed(
                &self.db, user_id, "tool_run", run.run_id, &outcome,
            )
            .await?
            {
                continue;
            }
            // The message the proposal answers: the tool's install question, in its room.
            let Some(install) = store::tools::approvals(&self.db, run.tool_id)
                .await?
                .into_iter()
                .rev()
                .find(|a| a.stage == "install")
            else {
                continue;
            };
            let request = format!(
                "{} It must also work for input {input}, on which the tool `{}` failed: {why}",
                run.request.trim_end_matches('.'),
                run.name
            );
            let m = IncomingMessage {
                event_id: install.event_id.clone(),
                room_id: run.room_id.clone(),
                sender: user_id.to_owned(),
                body: request.clone(),
                thread_root: None,
                in_reply_to: None,
                sent_at: Utc::now(),
                encrypted: true,
            };
            let lead = format!(
                "Looking back over today: your tool `{}` failed on {input} ({why}). I can build \
                 a corrected one next to it, checked by you at each step:",
                run.name
            );
            self.propose_tool_as(&m, &request, Some(&lead), true)
                .await?;
            return Ok(1);
        }
        Ok(0)
    }

    async fn propose_review_tool(
        &self,
        user_id: &str,
        item: &store::feedback::ReviewItem,
        need: &str,
        thumbs_down: bool,
    ) -> anyhow::Result<()> {
        let m = IncomingMessage {
            event_id: item.message_event_id.clone(),
            room_id: item.room_id.clone(),
            sender: user_id.to_owned(),
            body: item.request.clone(),
            thread_root: None,
            in_reply_to: None,
            sent_at: item.created_at,
            encrypted: true,
        };
        let what = if thumbs_down {
            "you gave my answer 👎"
        } else {
            "I said I couldn't do it"
        };
        let lead = format!(
            "Looking back over today: you asked this and {what}. A small tool could do it \
             reliably, and I can build one, checked by you at each step:"
        );
        self.propose_tool(&m, need, Some(&lead)).await
    }

    /// What a ✅ or ❌ on a behaviour note does; returns what to tell the owner.
    pub(crate) async fn note_decided(&self, approval: &Approval) -> anyhow::Result<String> {
        let Some(n) = approval.payload["note"].as_str().and_then(Note::parse) else {
            anyhow::bail!(
                "a behaviour note without a known note: {}",
                approval.payload
            );
        };
        if !approval.approved {
            return Ok("OK, I'll leave it as it is.".into());
        }
        let mut conn = self.db.acquire().await?;
        let current = crate::behaviour::store::current(&mut conn, &approval.user_id).await?;
        let Some(next) = n.apply(&current, Utc::now()) else {
            return Ok(match n {
                Note::Shorter => "My answers are already as short as I make them.".into(),
                Note::SearchSooner => "I already search as soon as I go.".into(),
            });
        };
        crate::behaviour::store::save(&mut conn, &approval.user_id, &next, Utc::now())
            .await
            .context("saving the behaviour profile")?;
        Ok(match n {
            Note::Shorter => {
                "👍 From now on I'll keep my answers shorter. `!stats` shows how I behave."
            }
            Note::SearchSooner => {
                "👍 From now on I'll search the web first more often when I'm not sure."
            }
        }
        .into())
    }
}
