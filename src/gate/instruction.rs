//! What the gate's decision means for the prompt: the instruction sentence for each outcome,
//! and the short draft request whose confidence feeds [`super::decide`]. Pure.

use super::{GateAction, GateDecision, Hedge};
use crate::llm::{ChatMessage, ChatRequest, Role};

/// Tokens in the draft: enough for the answer's first sentence, where an invented name or
/// number shows up as an improbable token; more would only add cost.
pub const DRAFT_MAX_TOKENS: u32 = 48;

/// Alternatives per token in the draft: the entropy term of the confidence needs them, and
/// [`crate::confidence`] normalises by ln 5.
pub const DRAFT_TOP_LOGPROBS: u8 = 5;

/// Appended to the draft's system prompt. Preambles ("Sure! Here's what I know…") are
/// near-certain tokens that would dilute the confidence of the content that follows.
pub const DRAFT_NOTE: &str = "Begin directly with the answer itself, with no preamble.";

/// The system-prompt instruction for a decision, or `None` when the answer needs none.
pub fn instruction(decision: &GateDecision) -> Option<&'static str> {
    match (decision.action, decision.hedge) {
        (GateAction::Answer, None) => None,
        (GateAction::Answer, Some(Hedge::Unsure)) => Some(
            "You are not sure about this one: say so in a few words, give what you do know, \
             and do not invent names, numbers or dates.",
        ),
        (GateAction::Answer, Some(Hedge::WebUnavailable)) => Some(
            "This needs current information from the web, but you cannot search the web right \
             now: say so in one short sentence, then answer from what you know and note that \
             it may be out of date.",
        ),
        (GateAction::Answer, Some(Hedge::NotInMemory)) => Some(
            "You don't have this about the user in your memory: say so plainly and ask them to \
             tell you, instead of guessing.",
        ),
        (GateAction::Search, _) => Some(
            "Answer from the web sources below and cite them inline as [1], [2]… Say briefly \
             that you searched the web. If the sources don't answer the question, say so \
             instead of guessing.",
        ),
        (GateAction::Ask, _) => Some(
            "The request is unclear. Ask exactly one short clarifying question about what the \
             user means, and nothing else.",
        ),
    }
}

/// The draft request for a prompt (the messages the real answer would be generated from):
/// the same conversation, with a no-preamble note on the system prompt, at most
/// [`DRAFT_MAX_TOKENS`] tokens, greedy decoding (temperature 0, so the confidence measures
/// the model, not the sampler) and [`DRAFT_TOP_LOGPROBS`] alternatives per token.
pub fn draft_request(prompt: &[ChatMessage]) -> ChatRequest {
    let mut messages = prompt.to_vec();
    // One system message only: several llama.cpp chat templates reject a second one.
    match messages.first_mut() {
        Some(first) if first.role == Role::System => {
            first.content.push_str("\n\n");
            first.content.push_str(DRAFT_NOTE);
        }
        _ => messages.insert(0, ChatMessage::system(DRAFT_NOTE)),
    }
    ChatRequest {
        messages,
        max_tokens: Some(DRAFT_MAX_TOKENS),
        temperature: Some(0.0),
        top_logprobs: DRAFT_TOP_LOGPROBS,
        seed: Some(0),
        ..ChatRequest::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(action: GateAction, hedge: Option<Hedge>) -> GateDecision {
        GateDecision {
            action,
            hedge,
            reason: String::new(),
            rule: None,
            knowledge: None,
        }
    }

    #[test]
    fn each_cautious_outcome_has_an_instruction() {
        assert_eq!(instruction(&decision(GateAction::Answer, None)), None);
        for d in [
            decision(GateAction::Answer, Some(Hedge::Unsure)),
            decision(GateAction::Answer, Some(Hedge::WebUnavailable)),
            decision(GateAction::Answer, Some(Hedge::NotInMemory)),
            decision(GateAction::Search, None),
            decision(GateAction::Ask, None),
        ] {
            assert!(instruction(&d).is_some_and(|s| s.len() > 20), "{d:?}");
        }
        let ask = instruction(&decision(GateAction::Ask, None)).unwrap();
        assert!(ask.contains("exactly one"));
    }

    #[test]
    fn draft_is_short_greedy_and_with_logprobs() {
        let prompt = vec![
            ChatMessage::system("You are 3AM."),
            ChatMessage::user("Who wrote Dune?"),
        ];
        let r = draft_request(&prompt);
        assert_eq!(r.max_tokens, Some(DRAFT_MAX_TOKENS));
        assert_eq!(r.temperature, Some(0.0));
        assert_eq!(r.top_logprobs, 5);
        assert_eq!(r.messages.len(), 2);
        assert!(r.messages[0].content.starts_with("You are 3AM."));
        assert!(r.messages[0].content.ends_with(DRAFT_NOTE));
        assert_eq!(r.messages[1], prompt[1]);

        let bare = draft_request(&[ChatMessage::user("hi")]);
        assert_eq!(bare.messages[0], ChatMessage::system(DRAFT_NOTE));
        assert_eq!(bare.messages.len(), 2);
    }
}
