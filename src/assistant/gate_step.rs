//! The decision gate inside a chat turn: cheap rules, else the answer's first tokens (the
//! draft), whose confidence and the memory coverage decide between answering, searching the
//! web first and asking back (the maths is pure, in [`crate::gate`]); then, for a search, the
//! search itself.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::WebConfig;
use crate::gate::{self, GateAction, GateDecision, Hedge, MemoryCoverage};
use crate::memory::Retrieved;
use crate::research::{self, ResearchOptions, SearchBackend, SearxNg, Sources};

/// A conversation is in progress when the bot replied this recently: short follow-ups such
/// as "and then?" refer to it.
const CONVERSATION_GAP: chrono::Duration = chrono::Duration::minutes(15);

/// The user's next message answers a clarifying question asked this recently.
const CLARIFY_GAP: chrono::Duration = chrono::Duration::hours(2);

/// Longest a search (results and pages together) may hold up an answer.
const SEARCH_DEADLINE: Duration = Duration::from_secs(25);

/// Strength of a memory found by full-text search alone when vector search worked: related
/// words, but not close in meaning (with vector search down, full-text is all there is and
/// counts as a fair match).
const TEXT_ONLY_STRENGTH: f32 = 0.3;
const TEXT_ONLY_STRENGTH_WITHOUT_VECTORS: f32 = 0.6;

const NO_WEB: &str = "🌐 *I can't search the web here, so this comes from what I already know and may be out of date.*";
const SEARCH_FAILED: &str = "🌐 *I couldn't get anything from the web search just now, so this comes from what I already know and may be out of date.*";
const UNSURE: &str = "🤔 *I'm not sure about this one.*";

/// The lines 3AM itself puts before a hedged answer (not the model's words: a benchmark
/// judging the model's reply leaves them out).
pub const PREFACES: [&str; 3] = [NO_WEB, SEARCH_FAILED, UNSURE];

/// The bot's own line before a hedged answer.
fn preface(decision: &GateDecision) -> Option<&'static str> {
    match (decision.action, decision.hedge) {
        (GateAction::Answer, Some(Hedge::WebUnavailable)) => Some(NO_WEB),
        (GateAction::Answer, Some(Hedge::Unsure)) => Some(UNSURE),
        _ => None,
    }
}

/// Web search as configured: a SearxNG instance and the limits for fetching result pages.
pub(crate) struct WebAccess {
    backend: Arc<dyn SearchBackend>,
    http: reqwest::Client,
    opts: ResearchOptions,
}

impl WebAccess {
    /// `None` when the web is disabled in the configuration.
    pub(crate) fn from_config(cfg: &WebConfig) -> anyhow::Result<Option<Self>> {
        if !cfg.enabled {
            return Ok(None);
        }
        // The search backend is usually on this machine; pages are fetched with the client
        // that refuses names resolving to private addresses (unless allowed).
        let backend = SearxNg::new(research::web_client()?, &cfg.search_url)?;
        let (http, fetch) = research::page_fetcher(cfg.fetch_private)?;
        Ok(Some(WebAccess {
            backend: Arc::new(backend),
            http,
            opts: ResearchOptions {
                fetch,
                ..ResearchOptions::default()
            },
        }))
    }

    /// Web search itself, for research on topics.
    pub(crate) fn backend(&self) -> &dyn SearchBackend {
        self.backend.as_ref()
    }

    /// The client that fetches pages (private addresses refused unless configured).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn fetch_limits(&self) -> &research::FetchLimits {
        &self.opts.fetch
    }
}

/// What the bot's previous reply in the room tells the gate.
pub(crate) fn conversation_state(
    last_reply: Option<&(String, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> (bool, bool) {
    match last_reply {
        None => (false, false),
        Some((action, at)) => {
            let age = now - *at;
            let follows = age <= CONVERSATION_GAP;
            let clarified = action == GateAction::Ask.as_str() && age <= CLARIFY_GAP;
            (follows, clarified)
        }
    }
}

/// How well the retrieved memories cover the message, as the gate reads it.
pub(crate) fn coverage(retrieved: &Retrieved) -> MemoryCoverage {
    let text_only = if retrieved.used_vector {
        TEXT_ONLY_STRENGTH
    } else {
        TEXT_ONLY_STRENGTH_WITHOUT_VECTORS
    };
    MemoryCoverage::from_scores(retrieved.facts.iter().map(|f| match f.similarity {
        Some(s) => s as f32,
        None if f.text_rank.is_some() => text_only,
        None => 0.0,
    }))
}

/// What the gate's decision adds to the answer.
#[derive(Debug)]
pub(crate) struct GatePlan {
    /// What the gate decided (recorded as the experience's action even when a search failed
    /// and the answer had to do without it: `searched` tells the two apart).
    pub action: GateAction,
    /// System-prompt sections: the web sources, then the instruction for the decision.
    pub sections: Vec<String>,
    /// The sources list appended to the answer.
    pub sources_markdown: Option<String>,
    /// A line the bot itself puts before the answer, so a hedge does not depend on a small
    /// model following its instruction.
    pub preface: Option<&'static str>,
    pub searched: bool,
    /// The decision's reason, plus what happened to the search.
    pub reason: String,
}

impl GatePlan {
    /// The plan for what the answer does (`answering`: the decision, or the fallback when a
    /// search failed), recorded as the gate's `decided` action.
    fn new(decided: GateAction, answering: &GateDecision, reason: String) -> Self {
        GatePlan {
            action: decided,
            sections: gate::instruction(answering)
                .map(str::to_owned)
                .into_iter()
                .collect(),
            sources_markdown: None,
            preface: preface(answering),
            searched: false,
            reason,
        }
    }
}

/// Every instruction and line the gate may put into a turn, for the guard: a reply must
/// not copy them.
pub(crate) fn instructions() -> Vec<&'static str> {
    use crate::gate::{GateAction as A, Hedge as H};
    let mut out = vec![NO_WEB, SEARCH_FAILED, UNSURE];
    for (action, hedge) in [
        (A::Answer, Some(H::Unsure)),
        (A::Answer, Some(H::WebUnavailable)),
        (A::Answer, Some(H::NotInMemory)),
        (A::Search, None),
        (A::Ask, None),
    ] {
        out.extend(gate::instruction(&GateDecision {
            action,
            hedge,
            reason: String::new(),
            rule: None,
            knowledge: None,
        }));
    }
    out
}

/// Whether the answer must start again with the decision's instruction, rather than go on
/// from its draft: a search, a question back, or telling the user that memory has nothing
/// on it. Hedges that the bot states itself (unsure, no web) go on, with the preface first.
pub(crate) fn needs_new_prompt(decision: &GateDecision) -> bool {
    match decision.action {
        GateAction::Search | GateAction::Ask => true,
        GateAction::Answer => decision.hedge == Some(Hedge::NotInMemory),
    }
}

/// Runs the search for a decision to search; on failure the answer says it could not search.
pub(crate) async fn search(
    web: Option<&WebAccess>,
    message: &str,
    decision: GateDecision,
) -> GatePlan {
    let query = research::search_query(message);
    let outcome = match web {
        None => Err("web access is disabled".to_owned()),
        Some(w) => match tokio::time::timeout(
            SEARCH_DEADLINE,
            research::research(w.backend.as_ref(), &w.http, &query, &w.opts),
        )
        .await
        {
            Err(_) => Err(format!(
                "the search took longer than {} s",
                SEARCH_DEADLINE.as_secs()
            )),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(found)) => {
                let sources: Sources = found.sources(research::DEFAULT_CONTEXT_CHARS);
                if sources.is_empty() {
                    Err(format!("the search for {query:?} found nothing"))
                } else {
                    Ok(sources)
                }
            }
        },
    };
    match outcome {
        Ok(sources) => {
            let mut plan = GatePlan::new(decision.action, &decision, decision.reason.clone());
            plan.sections.insert(0, sources.context());
            plan.sources_markdown = Some(sources.markdown());
            plan.searched = true;
            plan
        }
        Err(why) => {
            // The query is the user's words: not at the levels a service logs by default.
            tracing::warn!(%why, "web search failed; answering without it");
            tracing::debug!(%query, "the failed search");
            let reason = format!("{}; search failed: {why}", decision.reason);
            let fallback = GateDecision {
                action: GateAction::Answer,
                hedge: Some(Hedge::WebUnavailable),
                ..decision
            };
            let mut plan = GatePlan::new(GateAction::Search, &fallback, reason);
            plan.preface = Some(SEARCH_FAILED);
            plan
        }
    }
}

/// The plan for a decision that needs no search.
pub(crate) fn without_search(decision: &GateDecision) -> GatePlan {
    GatePlan::new(decision.action, decision, decision.reason.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_recent_question_back_means_the_next_message_clarifies() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let ask = ("ask".to_owned(), now - chrono::Duration::minutes(3));
        assert_eq!(conversation_state(Some(&ask), now), (true, true));
        let old_ask = ("ask".to_owned(), now - chrono::Duration::hours(3));
        assert_eq!(conversation_state(Some(&old_ask), now), (false, false));
        let answer = ("answer".to_owned(), now - chrono::Duration::minutes(30));
        assert_eq!(conversation_state(Some(&answer), now), (false, false));
        assert_eq!(conversation_state(None, now), (false, false));
    }
}
