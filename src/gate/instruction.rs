//! What the gate's decision means for the prompt: the instruction sentence for each outcome,
//! and how much of the answer the gate reads before deciding. Pure.

use super::{GateAction, GateDecision, Hedge};

/// Tokens of the answer the gate reads before it decides: the draft is the answer's own
/// beginning, streamed with token logprobs and held back until the gate has decided. An
/// invented name or number in the first sentence shows up as an improbable token; reading
/// more would only delay the first words the user sees.
pub const DRAFT_TOKENS: usize = 16;

/// Alternatives per token the answer is streamed with: the entropy term of the confidence
/// needs them, and [`crate::confidence`] normalises by ln 5.
pub const DRAFT_TOP_LOGPROBS: u8 = 5;

/// The instruction for a decision (it goes into the turn's notes), or `None` when the answer
/// needs none.
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
}
