//! One chat turn: claim the message, build the prompt, stream the answer into a message that
//! is edited as it grows (split into several when long), then record the reply and its
//! confidence in one transaction. When the model server is away the user is told once, the
//! message stays queued, and it is answered when the server returns.

use std::time::Instant;

use futures::StreamExt;

use super::{Assistant, OutMessage, gate_step, prompt};
use crate::gate::GateAction;
use crate::llm::{ChatRequest, LlmError, StreamEvent, TokenLogprob};
use crate::matrix::format::{MAX_PART_CHARS, split_reply};
use crate::store;

/// Tokens kept free for the answer itself.
const REPLY_TOKENS: u32 = 1024;
/// A clarifying question is one short sentence.
const ASK_TOKENS: u32 = 160;
/// The first message is posted once this much text has streamed (or on the first edit tick).
const EARLY_POST_CHARS: usize = 24;

const DOWN_NOTICE: &str = "My model server isn't answering right now. I've kept your message and will answer it as soon as the server is back.";

/// The streamed reply's messages: all but the last are complete.
struct ReplyParts {
    done_ids: Vec<String>,
    done_texts: Vec<String>,
    current_id: Option<String>,
    current: String,
    last_edit: Option<Instant>,
    last_sent: String,
}

impl Assistant {
    /// Answers stored message `id` unless someone else already is (or did).
    pub(crate) async fn answer(&self, id: i64) -> anyhow::Result<()> {
        let Some(p) = self
            .with_db_retry("load the message", || {
                store::messages::get_pending(&self.db, id)
            })
            .await?
        else {
            return Ok(());
        };
        let lock = self.room_lock(&p.room_id);
        let _turn = lock.lock().await;
        if !self
            .with_db_retry("claim the message", || store::messages::claim(&self.db, id))
            .await?
        {
            return Ok(());
        }
        let started = Instant::now();
        self.outbox.typing(&p.room_id, true).await;
        let result = self.generate(&p, started).await;
        self.outbox.typing(&p.room_id, false).await;
        match result {
            Ok(()) => {
                self.outage_notified.lock().unwrap().remove(&p.room_id);
                Ok(())
            }
            Err(TurnError::Llm(e)) => {
                tracing::warn!(room_id = %p.room_id, event_id = %p.event_id, error = %e, "could not answer");
                self.with_db_retry("queue the message for retry", || {
                    store::messages::mark_failed(&self.db, id)
                })
                .await?;
                self.tell_about_failure(&p, &e).await;
                Ok(())
            }
            Err(TurnError::Other(e)) => {
                self.with_db_retry("queue the message for retry", || {
                    store::messages::mark_failed(&self.db, id)
                })
                .await?;
                Err(e)
            }
        }
    }

    async fn tell_about_failure(&self, p: &store::messages::Pending, e: &LlmError) {
        if e.is_transient() {
            let first = self
                .outage_notified
                .lock()
                .unwrap()
                .insert(p.room_id.clone());
            if first {
                let _ = self
                    .say(
                        &p.room_id,
                        &p.user_id,
                        DOWN_NOTICE,
                        p.thread_root.clone(),
                        Some(p.event_id.clone()),
                    )
                    .await;
            } else {
                // Already told; mark this message as queued without another notice.
                let _ = self.outbox.react(&p.room_id, &p.event_id, "⏳").await;
            }
        } else if p.attempts == 0 {
            let text = format!("I couldn't answer that: {e}. I'll try once more later.");
            let _ = self
                .say(
                    &p.room_id,
                    &p.user_id,
                    &text,
                    p.thread_root.clone(),
                    Some(p.event_id.clone()),
                )
                .await;
        }
    }

    async fn generate(
        &self,
        p: &store::messages::Pending,
        started: Instant,
    ) -> Result<(), TurnError> {
        let history = self
            .with_db_retry("read the conversation", || {
                store::messages::history(
                    &self.db,
                    &p.user_id,
                    &p.room_id,
                    p.thread_root.as_deref(),
                    p.id,
                    60,
                )
            })
            .await?;
        let tz = self
            .with_db_retry("read the user's time zone", || {
                store::users::timezone(&self.db, &p.user_id)
            })
            .await?
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| self.cfg.schedule.timezone());
        let now = chrono::Utc::now();
        // Memory makes answers better but is never worth failing a turn over.
        let retrieved = match crate::memory::retrieve(
            &self.db,
            &self.llm,
            &p.user_id,
            &p.body,
            &crate::memory::RetrieveOptions::new(now),
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "memory retrieval failed; answering without memories");
                crate::memory::Retrieved::default()
            }
        };
        let profile = self
            .with_db_retry("read the behaviour profile", || {
                store::behaviour::current_profile(&self.db, &p.user_id)
            })
            .await?;
        let last_reply = self
            .with_db_retry("read the last reply", || {
                store::messages::last_reply(&self.db, &p.user_id, &p.room_id)
            })
            .await?;
        let (follows_conversation, clarified) =
            gate_step::conversation_state(last_reply.as_ref(), now);
        let mut sections = vec![crate::behaviour::prompt_sentences(&profile)];
        if !retrieved.context.trim().is_empty() {
            sections.push(retrieved.context.clone());
        }
        let budget = self
            .cfg
            .llm
            .context_tokens
            .saturating_sub(REPLY_TOKENS as usize + 64);
        let build = |sections: &[String]| {
            prompt::build(&prompt::PromptInput {
                now,
                timezone: tz,
                user_name: None,
                context_sections: sections,
                history: &history,
                message: &p.body,
                budget,
            })
        };

        // A retried answer quotes the message it answers, since other messages came since.
        // (`attempts` was read before this attempt's claim.)
        let reply_to = (p.attempts > 0).then(|| p.event_id.clone());
        let mut parts = ReplyParts {
            done_ids: vec![],
            done_texts: vec![],
            current_id: None,
            current: String::new(),
            last_edit: None,
            last_sent: String::new(),
        };

        let gate_started = Instant::now();
        let base_prompt = build(&sections);
        let ctx = gate_step::GateContext {
            message: &p.body,
            memory: gate_step::coverage(&retrieved),
            profile: &profile,
            follows_conversation,
            clarified,
            prompt: &base_prompt,
        };
        let (decision, draft) = gate_step::decide(&self.llm, self.web.is_some(), &ctx)
            .await
            .map_err(TurnError::Llm)?;
        let drafted = draft.is_some();
        let reuse = gate_step::reusable_draft(&decision, draft);
        let plan = if decision.action == GateAction::Search {
            let query = crate::research::search_query(&p.body);
            self.show(
                p,
                &mut parts,
                &format!("🔎 Searching the web for “{query}” …"),
                false,
                reply_to.as_deref(),
            )
            .await?;
            gate_step::search(self.web.as_deref(), &p.body, decision).await
        } else {
            gate_step::without_search(&decision)
        };
        let gate_ms = gate_started.elapsed().as_millis().min(i32::MAX as u128) as i32;
        sections.extend(plan.sections.iter().cloned());

        let reused = reuse.is_some();
        if let Some(preface) = plan.preface {
            // Replaces the search notice, if any, at the first edit.
            parts.current = format!("{preface}\n\n");
        }
        let (logprobs, finish) = match reuse {
            // A short, complete draft the gate trusts is the answer: no second generation.
            Some(draft) => {
                parts.current.push_str(draft.content.trim());
                (draft.logprobs, draft.finish_reason)
            }
            None => {
                self.stream_answer(p, &mut parts, &plan, build(&sections), reply_to.as_deref())
                    .await?
            }
        };
        if parts.current.trim().is_empty() && parts.done_ids.is_empty() {
            parts.current = "(I had nothing to say to that. Could you rephrase?)".into();
        }
        if finish.as_deref() == Some("length") {
            parts.current.push_str(
                "\n\n*(cut short: the answer reached my length limit; ask me to continue)*",
            );
        }
        if let Some(sources) = &plan.sources_markdown {
            parts.current.push_str("\n\n");
            parts.current.push_str(sources);
        }
        self.flush(p, &mut parts, reply_to.as_deref(), true).await?;

        let conf = crate::confidence::from_logprobs(&logprobs);
        let mut ids = parts.done_ids;
        let mut texts = parts.done_texts;
        ids.extend(parts.current_id);
        texts.push(parts.current);
        let record = store::messages::ReplyRecord {
            message_id: p.id,
            user_id: p.user_id.clone(),
            room_id: p.room_id.clone(),
            message_event_id: p.event_id.clone(),
            thread_root: p.thread_root.clone(),
            part_event_ids: ids,
            parts: texts,
            confidence: conf.map(|c| c.score),
            mean_logprob: conf.map(|c| c.mean_logprob),
            min_token_prob: conf.map(|c| c.min_token_prob),
            mean_entropy: conf.map(|c| c.mean_entropy),
            latency_ms: started.elapsed().as_millis().min(i32::MAX as u128) as i32,
            facts_used: retrieved.fact_ids(),
            gate_action: plan.action.as_str().to_owned(),
            gate_reason: plan.reason.clone(),
            searched: plan.searched,
            gate_ms,
        };
        self.with_db_retry("record the reply", || {
            store::messages::record_reply(&self.db, &record)
        })
        .await?;
        tracing::info!(
            event_id = %p.event_id,
            gate = %plan.action,
            drafted,
            draft_reused = reused,
            searched = plan.searched,
            gate_ms,
            latency_ms = record.latency_ms,
            confidence = ?record.confidence,
            "replied"
        );
        self.learn_in_background(p, &record);
        Ok(())
    }

    /// Streams the answer into `parts`, showing it as it grows. Returns the tokens' logprobs
    /// and the finish reason.
    async fn stream_answer(
        &self,
        p: &store::messages::Pending,
        parts: &mut ReplyParts,
        plan: &gate_step::GatePlan,
        messages: Vec<crate::llm::ChatMessage>,
        reply_to: Option<&str>,
    ) -> Result<(Vec<TokenLogprob>, Option<String>), TurnError> {
        let mut req = ChatRequest::new(messages);
        req.max_tokens = Some(if plan.action == GateAction::Ask {
            ASK_TOKENS
        } else {
            REPLY_TOKENS
        });
        req.temperature = Some(0.7);
        req.top_logprobs = 5;

        let stream = match self.llm.chat_stream(&req).await {
            Ok(stream) => stream,
            Err(e) => {
                // The search notice may already be up: say what happened in it.
                self.abandon(p, parts, reply_to).await;
                return Err(TurnError::Llm(e));
            }
        };
        let mut stream = Box::pin(stream);
        let mut logprobs: Vec<TokenLogprob> = Vec::new();
        let mut finish = None;
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(StreamEvent::Delta { text, logprobs: lp }) => {
                    logprobs.extend(lp);
                    parts.current.push_str(&text);
                    self.flush(p, parts, reply_to, false).await?;
                }
                Ok(StreamEvent::Done { finish_reason, .. }) => {
                    finish = finish_reason;
                    break;
                }
                Err(e) => {
                    self.abandon(p, parts, reply_to).await;
                    return Err(TurnError::Llm(e));
                }
            }
        }
        Ok((logprobs, finish))
    }

    /// Realtime fact extraction after the reply is out, so it never delays the answer. Failures
    /// only cost this exchange's early learning: the night cycle reads every exchange again.
    fn learn_in_background(
        &self,
        p: &store::messages::Pending,
        record: &store::messages::ReplyRecord,
    ) {
        let (db, llm) = (self.db.clone(), self.llm.clone());
        let user_id = p.user_id.clone();
        let question = p.body.clone();
        let answer = record.parts.join("\n\n");
        let mut sources = vec![p.event_id.clone()];
        sources.extend(record.part_event_ids.iter().cloned());
        tokio::spawn(async move {
            match crate::memory::learn_from_exchange(
                &db,
                &llm,
                &user_id,
                &question,
                &answer,
                &sources,
                chrono::Utc::now(),
            )
            .await
            {
                Ok(outcomes) if !outcomes.is_empty() => {
                    tracing::info!(facts = outcomes.len(), "learned from the exchange")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "realtime fact extraction failed; the night cycle will retry")
                }
            }
        });
    }

    /// Shows the reply's progress: posts it early, edits it at most once per interval, moves to
    /// a new message when the current one is full, and writes the final text when `finished`.
    async fn flush(
        &self,
        p: &store::messages::Pending,
        parts: &mut ReplyParts,
        reply_to: Option<&str>,
        finished: bool,
    ) -> Result<(), TurnError> {
        while parts.current.chars().count() > MAX_PART_CHARS {
            let mut split = split_reply(&parts.current, MAX_PART_CHARS);
            let head = split.remove(0);
            let tail = split.join("\n\n");
            self.show(p, parts, &head, true, reply_to).await?;
            parts.done_ids.extend(parts.current_id.take());
            parts.done_texts.push(head);
            parts.current = tail;
            parts.last_sent.clear();
        }
        let due = match parts.last_edit {
            None => parts.current.chars().count() >= EARLY_POST_CHARS,
            Some(t) => t.elapsed() >= self.timing.edit_interval,
        };
        if finished || (due && parts.current != parts.last_sent && !parts.current.trim().is_empty())
        {
            let text = if finished {
                parts.current.clone()
            } else {
                format!("{} …", parts.current)
            };
            self.show(p, parts, &text, finished, reply_to).await?;
            parts.last_sent = parts.current.clone();
        }
        Ok(())
    }

    async fn show(
        &self,
        p: &store::messages::Pending,
        parts: &mut ReplyParts,
        text: &str,
        complete: bool,
        reply_to: Option<&str>,
    ) -> Result<(), TurnError> {
        let msg = OutMessage {
            markdown: text.to_owned(),
            complete,
            thread_root: p.thread_root.clone(),
            reply_to: if parts.done_ids.is_empty() {
                reply_to.map(str::to_owned)
            } else {
                None
            },
        };
        match &parts.current_id {
            None => {
                let id = self
                    .outbox
                    .send(&p.room_id, &msg)
                    .await
                    .map_err(|e| TurnError::Other(e.into()))?;
                parts.current_id = Some(id);
            }
            Some(id) => {
                if let Err(e) = self.outbox.edit(&p.room_id, id, &msg).await {
                    // A lost intermediate edit is harmless; the final one must land.
                    if complete {
                        return Err(TurnError::Other(e.into()));
                    }
                    tracing::warn!(error = %e, "could not edit a streaming reply");
                }
            }
        }
        parts.last_edit = Some(Instant::now());
        Ok(())
    }

    /// The stream broke: say so in the partial message, which then stays as it is.
    async fn abandon(
        &self,
        p: &store::messages::Pending,
        parts: &mut ReplyParts,
        reply_to: Option<&str>,
    ) {
        if parts.current_id.is_none() && parts.done_ids.is_empty() {
            return;
        }
        let text = format!(
            "{}\n\n*(interrupted: my model server stopped answering. I'll answer again when it's back.)*",
            parts.current.trim_end()
        );
        let _ = self.show(p, parts, &text, true, reply_to).await;
        let mut ids = std::mem::take(&mut parts.done_ids);
        ids.extend(parts.current_id.take());
        for id in ids {
            let _ = store::messages::record_bot_message(
                &self.db, &p.user_id, &p.room_id, &id, &text, None,
            )
            .await;
        }
    }
}

enum TurnError {
    Llm(LlmError),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for TurnError {
    fn from(e: anyhow::Error) -> Self {
        TurnError::Other(e)
    }
}
