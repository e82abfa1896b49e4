//! The idle hours: once an hour for each user who is not chatting (no message for
//! `research.idle_minutes`), the bot does its own work:
//!
//! 1. stores findings that have no fact yet (a pass a failure cut short);
//! 2. unless research is paused: proposes a topic to keep an eye on (at most
//!    `research.proposals_per_day`, one an hour, see [`crate::research::proposals`]) and
//!    researches the approved topic that waited longest (at most `research.topics_per_day`
//!    a local day; see [`super::researcher`]);
//! 3. the self-review of the day's 👎 and "I can't" answers ([`super::self_review`]): tool
//!    proposals and behaviour notes.
//!
//! [`Assistant::idle_tick`] only compares the clock with the database and the last pass, so
//! the app calls it every scheduler tick and a test moves a fake clock and calls it by hand.

use chrono::{DateTime, Utc};

use super::Assistant;
use super::researcher::RunReport;
use crate::research::proposals::{self, ClusterCandidate, Searched};
use crate::store::{self, research as rs};

/// How far back proposals look for what the user talked about.
const PROPOSAL_DAYS: i64 = 14;
/// A topic is researched again after this rest.
const REST_HOURS: i64 = 20;

/// What one idle pass did, for every user it served.
#[derive(Debug, Default)]
pub struct IdleReport {
    /// Users whose hour it was.
    pub users: Vec<String>,
    /// Topics proposed.
    pub proposed: Vec<String>,
    /// Research runs.
    pub researched: Vec<RunReport>,
    /// Tools proposed by the self-review.
    pub tools_proposed: usize,
    /// Behaviour notes offered by the self-review.
    pub notes_offered: usize,
}

impl Assistant {
    /// One look at the clock: the idle hour of every user whose hour has come.
    pub async fn idle_tick(&self, now: DateTime<Utc>) -> anyhow::Result<IdleReport> {
        let mut report = IdleReport::default();
        if !self.cfg.research.enabled {
            return Ok(report);
        }
        let serves = crate::chat::AllowList::new(&self.cfg.matrix.allowed_users)?;
        let default_tz = self.cfg.schedule.timezone();
        for u in store::users::with_rooms(&self.db).await? {
            if !serves.allows(&u.user_id) || !self.hour_has_come(&u.user_id, now) {
                continue;
            }
            let Some(room) = store::users::current_room(&self.db, &u.user_id).await? else {
                continue;
            };
            let last = store::messages::last_user_message_at(&self.db, &u.user_id).await?;
            let idle = chrono::Duration::minutes(i64::from(self.cfg.research.idle_minutes));
            if last.is_some_and(|at| now - at < idle) {
                continue;
            }
            self.idle_hours
                .lock()
                .unwrap()
                .insert(u.user_id.clone(), now);
            report.users.push(u.user_id.clone());
            let tz = crate::night::schedule::parse_tz(&u.timezone, default_tz);
            if let Err(e) = self
                .idle_hour(&u.user_id, &room, tz, now, &mut report)
                .await
            {
                tracing::warn!(error = format!("{e:#}"), "an idle hour failed; next hour");
            }
        }
        Ok(report)
    }

    /// Whether an hour has passed since the user's last idle pass (in this process).
    fn hour_has_come(&self, user_id: &str, now: DateTime<Utc>) -> bool {
        self.idle_hours
            .lock()
            .unwrap()
            .get(user_id)
            .is_none_or(|last| now - *last >= chrono::Duration::minutes(55))
    }

    async fn idle_hour(
        &self,
        user_id: &str,
        room_id: &str,
        tz: chrono_tz::Tz,
        now: DateTime<Utc>,
        report: &mut IdleReport,
    ) -> anyhow::Result<()> {
        // Each part fails alone: an embedding outage or a dead model holds up nothing else.
        if let Err(e) = self.findings_to_facts(user_id).await {
            tracing::warn!(error = format!("{e:#}"), "findings not stored as facts yet");
        }
        if self.web.is_some() && !rs::paused(&self.db, user_id).await? {
            let made =
                rs::proposed_since(&self.db, user_id, now - chrono::Duration::days(1)).await?;
            if made < i64::from(self.cfg.research.proposals_per_day) {
                for p in self.topic_candidates(user_id, now).await? {
                    if self.propose_topic(user_id, room_id, &p, now).await? {
                        report.proposed.push(p.topic);
                        break;
                    }
                }
            }
            let local = now.with_timezone(&tz);
            let day_start = local
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .and_then(|d| d.and_local_timezone(tz).earliest())
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or(now - chrono::Duration::days(1));
            let done = rs::runs_since(&self.db, user_id, day_start).await?;
            if done < i64::from(self.cfg.research.topics_per_day)
                && let Some(topic) =
                    rs::due_topics(&self.db, user_id, now, chrono::Duration::hours(REST_HOURS))
                        .await?
                        .into_iter()
                        .next()
            {
                match self.research_topic(&topic, "idle", now, None).await {
                    Ok(run) => {
                        tracing::info!(
                            findings = run.findings.len(),
                            pages = run.pages_read,
                            failed = run.failed.is_some(),
                            "researched a topic in an idle hour"
                        );
                        report.researched.push(run);
                    }
                    Err(e) => tracing::warn!(
                        error = format!("{e:#}"),
                        "a research run stopped; it resumes in a later idle hour"
                    ),
                }
            }
        }
        let reviewed = self.review_answers(user_id, now).await?;
        report.tools_proposed += reviewed.tools;
        report.notes_offered += reviewed.notes;
        Ok(())
    }

    /// Topics worth proposing now, best first (see [`proposals::pick`]).
    async fn topic_candidates(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<proposals::Proposal>> {
        let since = now - chrono::Duration::days(PROPOSAL_DAYS);
        let searched: Vec<Searched> = store::feedback::searched_requests(&self.db, user_id, since)
            .await?
            .into_iter()
            .map(|(body, at)| Searched {
                subject: crate::research::search_query(&body),
                at,
            })
            .collect();
        let clusters: Vec<ClusterCandidate> =
            crate::memory::clusters::activity(&self.db, user_id, since)
                .await?
                .into_iter()
                .map(|t| ClusterCandidate {
                    interest_share: t.interests as f64 / t.size.max(1) as f64,
                    active: t.recent > 0,
                    name: t.name,
                    size: t.size,
                })
                .collect();
        let known = rs::all_topic_names(&self.db, user_id).await?;
        Ok(proposals::pick(&searched, &clusters, &known, 3))
    }
}
