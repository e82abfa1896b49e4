//! The scheduler: a tokio-cron-scheduler job that ticks (every minute in production) and asks
//! the database and [`super::schedule`] what is due. Each tick
//!
//! 1. sends the digests that are due (from the digest time until the end of that local day),
//! 2. starts the nights that are due: the latest scheduled night of each user with a room, if
//!    it has not finished (a night missed while the bot was down is simply the latest one, so
//!    it runs at the first tick after start-up; a failed night is retried a few times).
//!
//! Nights run one at a time (one model server) in background tasks; the same user's night is
//! never started twice by this process, and the database lock keeps other processes out.
//! Because a tick only compares the clock with the database, a test can move a [`Clock`] and
//! tick by hand.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::{PgPool, Row};
use tokio::sync::Semaphore;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::clock::Clock;
use super::cycle::{RunOptions, RunOutcome, Trigger, run_night};
use super::deliver::{self, Delivery};
use super::schedule::{self, RunState};
use crate::chat::{AllowList, Outbox};
use crate::config::ScheduleConfig;
use crate::llm::LlmClient;
use crate::store::users::ScheduledUser;

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    /// Users whose night was started, with the night's date.
    pub nights_started: Vec<(String, NaiveDate)>,
    /// Users whose digest was sent.
    pub digests_sent: Vec<(String, NaiveDate)>,
}

pub struct Scheduler {
    db: PgPool,
    /// Only these users get nights and digests.
    serves: AllowList,
    llm: Arc<LlmClient>,
    schedule: ScheduleConfig,
    outbox: Option<Arc<dyn Outbox>>,
    clock: Arc<dyn Clock>,
    running: Mutex<HashSet<String>>,
    tracker: TaskTracker,
    one_at_a_time: Arc<Semaphore>,
    ticking: tokio::sync::Mutex<()>,
    cancel: CancellationToken,
}

impl Scheduler {
    /// `outbox`: where digests go (`None`: nights only, digests stay for `!digest`);
    /// `serves`: the allow-list (a user taken off it gets no more nights or digests).
    pub fn new(
        db: PgPool,
        llm: Arc<LlmClient>,
        schedule: ScheduleConfig,
        outbox: Option<Arc<dyn Outbox>>,
        clock: Arc<dyn Clock>,
        serves: AllowList,
    ) -> Arc<Self> {
        Arc::new(Self {
            db,
            serves,
            llm,
            schedule,
            outbox,
            clock,
            running: Mutex::new(HashSet::new()),
            tracker: TaskTracker::new(),
            one_at_a_time: Arc::new(Semaphore::new(1)),
            ticking: tokio::sync::Mutex::new(()),
            cancel: CancellationToken::new(),
        })
    }

    /// One look at the clock: sends due digests, starts due nights (in the background; see
    /// [`Scheduler::settle`]). A tick that finds another still running does nothing.
    pub async fn tick(self: &Arc<Self>) -> anyhow::Result<Tick> {
        let Ok(_guard) = self.ticking.try_lock() else {
            return Ok(Tick::default());
        };
        let now = self.clock.now();
        let default_tz = self.schedule.timezone();
        let mut tick = Tick::default();
        // The users served now (allow-listed, with a room), each in their time zone.
        let users: Vec<(ScheduledUser, Tz)> = crate::store::users::with_rooms(&self.db)
            .await?
            .into_iter()
            .filter(|u| self.serves.allows(&u.user_id))
            .map(|u| {
                let tz = schedule::parse_tz(&u.timezone, default_tz);
                (u, tz)
            })
            .collect();

        if let Some(outbox) = &self.outbox {
            let since = now.date_naive() - chrono::Duration::days(2);
            for d in deliver::unsent(&self.db, since).await? {
                // Digests of users no longer served (or without a room) wait.
                let Some(&(_, tz)) = users.iter().find(|(u, _)| u.user_id == d.user_id) else {
                    continue;
                };
                if !schedule::digest_due(d.for_date, now, self.schedule.digest(), tz) {
                    continue;
                }
                match deliver::deliver(&self.db, outbox.as_ref(), &d, now).await {
                    Ok(Delivery::Sent { .. }) => {
                        tick.digests_sent.push((d.user_id.clone(), d.for_date))
                    }
                    Ok(other) => tracing::debug!(user = %d.user_id, ?other, "digest not sent"),
                    Err(e) => {
                        tracing::warn!(user = %d.user_id, error = %format!("{e:#}"), "digest delivery failed; retrying next tick")
                    }
                }
            }
        }

        for (user_id, night_date) in self.due_nights(now, &users).await? {
            if !self.running.lock().unwrap().insert(user_id.clone()) {
                continue;
            }
            tick.nights_started.push((user_id.clone(), night_date));
            let this = self.clone();
            self.tracker.spawn(async move {
                let _permit = this.one_at_a_time.clone().acquire_owned().await;
                let opts = RunOptions {
                    trigger: Trigger::Schedule,
                    stop_after: None,
                    cancel: Some(this.cancel.clone()),
                };
                let started = this.clock.now();
                match run_night(&this.db, &this.llm, &user_id, night_date, started, &opts).await {
                    Ok(RunOutcome::Done(r)) => tracing::info!(user = %user_id, %night_date, stages = r.stages_run.len(), "night finished"),
                    Ok(other) => tracing::info!(user = %user_id, %night_date, ?other, "night not completed"),
                    Err(e) => tracing::error!(user = %user_id, %night_date, error = %format!("{e:#}"), "night failed; it will be retried"),
                }
                this.running.lock().unwrap().remove(&user_id);
            });
        }
        Ok(tick)
    }

    /// The users whose latest scheduled night should start now.
    async fn due_nights(
        &self,
        now: DateTime<Utc>,
        users: &[(ScheduledUser, Tz)],
    ) -> anyhow::Result<Vec<(String, NaiveDate)>> {
        let mut due = Vec::new();
        for (u, tz) in users {
            let (user_id, created_at, tz) = (u.user_id.clone(), u.created_at, *tz);
            let (date, at) = schedule::last_occurrence(now, self.schedule.night(), tz);
            if at < created_at {
                // That night came before we knew the user; theirs is the next one.
                continue;
            }
            let row = sqlx::query(
                "SELECT status, attempts, finished_at, trigger FROM night_runs WHERE user_id = $1 AND night_date = $2",
            )
            .bind(&user_id)
            .bind(date)
            .fetch_optional(&self.db)
            .await?;
            let state = match row {
                None => RunState::Missing,
                Some(r) => match r.get::<&str, _>("status") {
                    "done" => RunState::Done,
                    // A `!night` a stop cut off is resumed by the command's own rerun, which
                    // reports to the user who asked; resuming it here would race that rerun.
                    "running" if r.get::<&str, _>("trigger") == "manual" => continue,
                    "running" => RunState::Running,
                    _ => RunState::Failed {
                        attempts: r.get("attempts"),
                        finished_at: r.get("finished_at"),
                    },
                },
            };
            if schedule::night_due(state, now) {
                due.push((user_id, date));
            }
        }
        Ok(due)
    }

    /// Waits until the nights started so far have finished.
    pub async fn settle(&self) {
        self.tracker.close();
        self.tracker.wait().await;
        self.tracker.reopen();
    }

    /// Ticks every `every` (and once right away) until [`SchedulerHandle::stop`].
    pub async fn start(self: Arc<Self>, every: Duration) -> anyhow::Result<SchedulerHandle> {
        let jobs = JobScheduler::new().await?;
        let this = self.clone();
        jobs.add(Job::new_repeated_async(every, move |_id, _jobs| {
            let this = this.clone();
            Box::pin(async move {
                if let Err(e) = this.tick().await {
                    tracing::warn!(error = %format!("{e:#}"), "scheduler tick failed");
                }
            })
        })?)
        .await?;
        jobs.start().await?;
        let first = self.clone();
        self.tracker.spawn(async move {
            if let Err(e) = first.tick().await {
                tracing::warn!(error = %format!("{e:#}"), "first scheduler tick failed");
            }
        });
        tracing::info!(every = ?every, night = %self.schedule.night_time, digest = %self.schedule.digest_time, "night scheduler started");
        Ok(SchedulerHandle {
            jobs,
            scheduler: self,
        })
    }
}

/// A started scheduler.
pub struct SchedulerHandle {
    jobs: JobScheduler,
    scheduler: Arc<Scheduler>,
}

impl SchedulerHandle {
    pub fn scheduler(&self) -> &Arc<Scheduler> {
        &self.scheduler
    }

    /// Stops ticking; a night in progress stops after its current stage (it resumes at the
    /// next start), waiting at most `patience`.
    pub async fn stop(mut self, patience: Duration) {
        if let Err(e) = self.jobs.shutdown().await {
            tracing::warn!(error = %e, "stopping the job scheduler");
        }
        self.scheduler.cancel.cancel();
        self.scheduler.tracker.close();
        if tokio::time::timeout(patience, self.scheduler.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "a night cycle was still running at shutdown; it resumes at the next start"
            );
        }
    }
}
