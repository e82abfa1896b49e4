//! The hourly self-review: the day's answers that got 👎, or in which the bot said it could
//! not do something, are looked at once each. When the request was work a small tool does
//! reliably ([`crate::tools::gaps::review_need`]), stage 1 of the tools pipeline is proposed
//! (nothing is built without the owner's ✅); the rest is left to the night, whose behaviour
//! update learns from the tags. At most one proposal an hour; every review is recorded
//! (`self_reviews`), so nothing is proposed twice and the digest can list the proposals.

use chrono::{DateTime, Utc};

use super::Assistant;
use crate::chat::IncomingMessage;
use crate::store;

/// How far back the review looks.
const LOOK_BACK_HOURS: i64 = 24;

impl Assistant {
    /// Reviews the user's recent answers; returns how many tools it proposed (0 or 1).
    pub(crate) async fn review_answers(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<usize> {
        if self.sandbox().await.is_err() {
            // No tools can be built here; the answers wait for a machine that can.
            return Ok(0);
        }
        let since = now - chrono::Duration::hours(LOOK_BACK_HOURS);
        let items = store::feedback::review_items(&self.db, user_id, since).await?;
        let mut proposed = 0;
        for item in items {
            let thumbs_down = item.feedback == Some(-1);
            let refused = !thumbs_down;
            let need = crate::tools::gaps::review_need(&item.request, thumbs_down, refused);
            let Some(need) = need.filter(|_| proposed == 0) else {
                if proposed == 0 {
                    store::feedback::mark_reviewed(&self.db, user_id, item.id, "nothing").await?;
                }
                continue;
            };
            if store::tools::exists_for_request(&self.db, user_id, &need).await? {
                store::feedback::mark_reviewed(&self.db, user_id, item.id, "nothing").await?;
                continue;
            }
            // Recorded first: a crash during the proposal does not propose it again.
            if !store::feedback::mark_reviewed(&self.db, user_id, item.id, &format!("tool: {need}"))
                .await?
            {
                continue;
            }
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
            self.propose_tool(&m, &need, Some(&lead)).await?;
            proposed += 1;
        }
        Ok(proposed)
    }
}
