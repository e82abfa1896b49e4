//! Research on topics the owner approved: proposing a topic, researching one, and what a ✅
//! or ❌ on a research message does.
//!
//! A run ([`Assistant::research_topic`]) searches the topic's query, reads the result pages it
//! has not read before (the safe fetch path of [`crate::research`]), asks the model for
//! findings about each page (the page fenced as untrusted data; [`findings::clean`] keeps
//! only grounded statements about the topic, none about the user, none that read as orders)
//! and drops what is already known (the same words as an earlier finding, or an embedding
//! close to a fact the user has). Each page is recorded with its findings in one transaction,
//! so a stop or a crash resumes after the last page finished. Then the findings become
//! knowledge facts with their source named ([`Assistant::findings_to_facts`]; repeatable),
//! so recall can use them, and the morning digest lists them.
//!
//! A run that finds nothing new backs the topic off for [`BACKOFF_DAYS`]; a search that fails
//! does not count against the day's limit and leaves the topic as it was.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::Assistant;
use crate::memory::fact::{Category, Kind, NewFact};
use crate::research::findings::{self, RawFindings};
use crate::research::proposals::Proposal;
use crate::store::{self, approvals::Approval, research as rs};

/// Approval kinds: a proposed topic, a deletion of findings.
pub const TOPIC: &str = "research_topic";
pub const DELETE: &str = "research_delete";
pub const KINDS: [&str; 2] = [TOPIC, DELETE];

/// Days a topic rests after a run that found nothing new.
pub const BACKOFF_DAYS: i64 = 7;
/// A statement this close (cosine) to a fact the user has is already known.
const KNOWN_SIMILARITY: f64 = 0.9;
/// Tokens the model may write about one page.
const FINDINGS_TOKENS: u32 = 400;

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    pub topic: String,
    pub hits: usize,
    pub pages_read: usize,
    pub pages_failed: usize,
    pub model_calls: usize,
    /// The new findings: id, statement, URL.
    pub findings: Vec<(i64, String, String)>,
    /// Statements dropped (injected orders, ungrounded, known…), for the log and the bench.
    pub dropped: usize,
    /// Why the run could not search, if it could not.
    pub failed: Option<String>,
}

impl RunReport {
    /// The report in a few lines for the chat.
    pub fn markdown(&self) -> String {
        if let Some(why) = &self.failed {
            return format!(
                "I could not research **{}**: {why}. I will try again later.",
                self.topic
            );
        }
        let mut s = format!(
            "Researched **{}**: {} results, {} pages read",
            self.topic, self.hits, self.pages_read
        );
        if self.pages_failed > 0 {
            s.push_str(&format!(" ({} could not be read)", self.pages_failed));
        }
        if self.findings.is_empty() {
            s.push_str(&format!(
                ". Nothing new; I will look again in {BACKOFF_DAYS} days."
            ));
            return s;
        }
        s.push_str(&format!(". New ({}):", self.findings.len()));
        for (id, statement, url) in &self.findings {
            s.push_str(&format!(
                "\n- {statement} [{}]({url}) · #{id}",
                findings::site_of(url)
            ));
        }
        s
    }
}

/// Where a run shows its progress: a message it edits.
pub struct Progress<'a> {
    pub room_id: &'a str,
    pub event_id: &'a str,
}

impl Assistant {
    /// Researches `topic` once (resuming its unfinished run, if a stop cut one off).
    pub async fn research_topic(
        &self,
        topic: &rs::Topic,
        trigger: &str,
        now: DateTime<Utc>,
        progress: Option<Progress<'_>>,
    ) -> anyhow::Result<RunReport> {
        let mut report = RunReport {
            topic: topic.topic.clone(),
            hits: 0,
            pages_read: 0,
            pages_failed: 0,
            model_calls: 0,
            findings: Vec::new(),
            dropped: 0,
            failed: None,
        };
        let Some(web) = self.web.clone() else {
            report.failed = Some("web search is turned off in the configuration".into());
            return Ok(report);
        };
        let Some(_lock) = rs::try_lock_topic(&self.db, topic.id).await? else {
            report.failed = Some("it is being researched right now".into());
            return Ok(report);
        };
        let (run_id, earlier) = rs::open_run(&self.db, &topic.user_id, topic.id, trigger, now)
            .await
            .context("starting a research run")?;
        let show = |text: String| async {
            if let Some(p) = &progress {
                let msg = crate::chat::OutMessage {
                    markdown: text,
                    complete: false,
                    ..Default::default()
                };
                if let Err(e) = self.outbox.edit(p.room_id, p.event_id, &msg).await {
                    tracing::debug!(error = %e, "could not show research progress");
                }
            }
        };
        show(format!("🔎 Searching the web for “{}”…", topic.query)).await;
        let pages = self.cfg.research.pages_per_topic.max(1) as usize;
        let hits = match web.backend().search(&topic.query, pages + 2).await {
            Ok(h) => h,
            Err(e) => {
                let why = e.to_string();
                rs::finish_run(&self.db, run_id, rs::RunEnd::Failed, Some(&why), now).await?;
                report.failed = Some(why);
                return Ok(report);
            }
        };
        report.hits = hits.len();
        rs::count_run(&self.db, run_id, hits.len() as i32, 0).await?;
        let read = rs::pages_read(&self.db, topic.id).await?;
        let mut known: Vec<_> = rs::findings(&self.db, &topic.user_id, Some(topic.id), 200)
            .await?
            .iter()
            .map(|f| findings::known_words(&f.statement))
            .collect();
        let todo: Vec<_> = hits
            .iter()
            .filter(|h| !read.contains(&h.url))
            .take(pages)
            .collect();
        for (i, hit) in todo.iter().enumerate() {
            show(format!(
                "📄 Reading page {} of {} for **{}**: {}…",
                i + 1,
                todo.len(),
                topic.topic,
                crate::text::clip(&hit.title, 80)
            ))
            .await;
            let page =
                match crate::research::fetch_readable(web.http(), &hit.url, web.fetch_limits())
                    .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::info!(error = %e, "a research page could not be read");
                        report.pages_failed += 1;
                        // Recorded as read: a page that cannot be fetched is not tried every hour.
                        rs::save_page(
                            &self.db,
                            &topic.user_id,
                            topic.id,
                            run_id,
                            &hit.url,
                            &hit.title,
                            &[],
                            now,
                        )
                        .await?;
                        continue;
                    }
                };
            let raw: RawFindings = match self
                .llm
                .chat_json(
                    findings::messages(&topic.topic, &page.title, &page.text),
                    "research_findings",
                    findings::schema(),
                    FINDINGS_TOKENS,
                )
                .await
            {
                Ok(r) => r,
                Err(e) if e.is_transient() => {
                    // The model is away: stop here; the page is read again next time.
                    rs::count_run(&self.db, run_id, 0, 1).await?;
                    return Err(anyhow::Error::new(e).context("summarising a research page"));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the model's findings could not be read");
                    RawFindings::default()
                }
            };
            report.model_calls += 1;
            rs::count_run(&self.db, run_id, 0, 1).await?;
            let (kept, dropped) = findings::clean(&raw, &page.text, &page.title, &known);
            report.dropped += dropped.len();
            for (statement, why) in &dropped {
                tracing::debug!(?why, %statement, "a finding was dropped");
            }
            let kept = self.not_yet_known(&topic.user_id, kept).await?;
            let new: Vec<rs::NewFinding> = kept
                .iter()
                .map(|k| rs::NewFinding {
                    statement: k.statement.clone(),
                    page_date: k.page_date,
                    confidence: k.confidence,
                })
                .collect();
            let ids = rs::save_page(
                &self.db,
                &topic.user_id,
                topic.id,
                run_id,
                &hit.url,
                &page.title,
                &new,
                now,
            )
            .await?;
            for (id, k) in ids.into_iter().zip(&kept) {
                known.push(findings::known_words(&k.statement));
                report
                    .findings
                    .push((id, k.statement.clone(), hit.url.clone()));
            }
            report.pages_read += 1;
        }
        // Pages an earlier, cut-off pass of this run read count too.
        let end = if report.findings.is_empty() && earlier.findings == 0 {
            rs::RunEnd::Poor {
                until: now + chrono::Duration::days(BACKOFF_DAYS),
            }
        } else {
            rs::RunEnd::Done
        };
        rs::finish_run(&self.db, run_id, end, None, now).await?;
        if let Err(e) = self.findings_to_facts(&topic.user_id).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "findings not in memory yet; next pass"
            );
        }
        Ok(report)
    }

    /// Drops statements close to a fact the user already has.
    async fn not_yet_known(
        &self,
        user_id: &str,
        kept: Vec<findings::Kept>,
    ) -> anyhow::Result<Vec<findings::Kept>> {
        if kept.is_empty() {
            return Ok(kept);
        }
        let texts: Vec<String> = kept.iter().map(|k| k.statement.clone()).collect();
        let vectors = self.llm.embed(&texts).await.context("embedding findings")?;
        let mut out = Vec::new();
        for (k, v) in kept.into_iter().zip(vectors) {
            let near = crate::memory::store::nearest_similarity(&self.db, user_id, &v).await?;
            if near.is_some_and(|s| s >= KNOWN_SIMILARITY) {
                tracing::debug!(statement = %k.statement, "a finding is already known");
                continue;
            }
            out.push(k);
        }
        Ok(out)
    }

    /// Stores every finding of the user that has no fact yet as a knowledge fact naming its
    /// source. Idempotent (the finding's source id), so it can run again after a failure.
    pub(crate) async fn findings_to_facts(&self, user_id: &str) -> anyhow::Result<usize> {
        let waiting = rs::findings_without_fact(&self.db, user_id).await?;
        if waiting.is_empty() {
            return Ok(0);
        }
        let facts: Vec<NewFact> = waiting
            .iter()
            .map(|f| {
                let mut n = NewFact::new(
                    findings::fact_text(
                        &f.statement,
                        &f.title,
                        f.url.as_deref().unwrap_or(""),
                        f.page_date,
                    ),
                    Category::Knowledge,
                    2,
                )
                .with_sources([findings::source_id(f.id)])
                .observed_at(f.created_at);
                n.kind = Kind::Knowledge;
                n
            })
            .collect();
        let outcomes = crate::memory::store::store_facts(&self.db, &self.llm, user_id, facts)
            .await
            .context("storing findings as facts")?;
        let mut stored = 0;
        for (f, o) in waiting.iter().zip(outcomes) {
            if let Some(fact_id) = o.fact_id() {
                rs::set_fact(&self.db, f.id, fact_id).await?;
                stored += 1;
            }
        }
        Ok(stored)
    }

    /// Posts a proposal: "Shall I keep an eye on …?" with ✅/❌.
    pub(crate) async fn propose_topic(
        &self,
        user_id: &str,
        room_id: &str,
        p: &Proposal,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let (topic, new) = rs::add_topic(
            &self.db,
            rs::NewTopic {
                user_id,
                room_id,
                topic: &p.topic,
                query: &p.query,
                reason: &p.reason,
                origin: rs::Origin::Proposed,
            },
            now,
        )
        .await?;
        if !new {
            return Ok(false);
        }
        let text = format!(
            "🔭 Shall I keep an eye on **{}**? I'm asking because {}. In quiet hours I would \
             search the web for “{}”, read the top pages and tell you what is new in the \
             morning digest (web pages are only ever read as data). React ✅ to start or ❌ \
             and I won't ask about it again.",
            topic.topic, p.reason, topic.query
        );
        let event_id = self
            .say_returning_id(room_id, user_id, &text, None, None)
            .await?;
        store::approvals::create(
            &self.db,
            user_id,
            room_id,
            &event_id,
            TOPIC,
            &json!({"topic_id": topic.id}),
        )
        .await?;
        Ok(true)
    }

    /// What a ✅ or ❌ on a research message does; returns what to tell the owner.
    pub(crate) async fn research_decided(&self, approval: &Approval) -> anyhow::Result<String> {
        let now = Utc::now();
        match approval.kind.as_str() {
            TOPIC => {
                let id = approval.payload["topic_id"].as_i64().unwrap_or(-1);
                let Some(topic) = rs::topic(&self.db, &approval.user_id, id).await? else {
                    return Ok("That topic is gone.".into());
                };
                let to = if approval.approved {
                    "approved"
                } else {
                    "rejected"
                };
                rs::set_status(&self.db, &approval.user_id, id, &["proposed"], to, now).await?;
                Ok(if approval.approved {
                    format!(
                        "👍 I'll keep an eye on **{}** in quiet hours; findings come with the \
                         morning digest. `!research` shows what I found, `!research pause` stops me.",
                        topic.topic
                    )
                } else {
                    format!("OK, I won't research **{}**.", topic.topic)
                })
            }
            DELETE => {
                if !approval.approved {
                    return Ok("Kept: nothing was deleted.".into());
                }
                let mut ids: Vec<i64> =
                    serde_json::from_value(approval.payload["finding_ids"].clone())
                        .unwrap_or_default();
                // A topic goes whole: with the findings made since the question, and none after.
                if let Some(topic_id) = approval.payload["topic_id"].as_i64() {
                    for id in rs::delete_topic(&self.db, &approval.user_id, topic_id).await? {
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                }
                let facts = self.delete_findings(&approval.user_id, &ids).await?;
                Ok(format!(
                    "🗑️ Deleted {} finding{} and the {} memor{} made from them.",
                    ids.len(),
                    if ids.len() == 1 { "" } else { "s" },
                    facts,
                    if facts == 1 { "y" } else { "ies" }
                ))
            }
            other => anyhow::bail!("not a research approval: {other}"),
        }
    }

    /// Deletes findings and erases the facts made from nothing else. Returns how many facts
    /// were erased.
    async fn delete_findings(&self, user_id: &str, ids: &[i64]) -> anyhow::Result<usize> {
        let sources: Vec<String> = ids.iter().map(|&id| findings::source_id(id)).collect();
        // Facts first: a crash in between leaves findings to delete again, never a fact
        // without its finding.
        let erased = crate::memory::control::forget_sources(&self.db, user_id, &sources).await?;
        rs::delete_findings(&self.db, user_id, ids).await?;
        Ok(erased)
    }
}
