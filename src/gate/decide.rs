//! The gate's decision: cheap rules first, then the draft's knowledge score against the
//! behaviour profile's thresholds ([`GatePolicy`]). The maths is in the [module docs](super).

use super::rules::{self, TextRule};
use super::{GateAction, GateDecision, GateInput, Hedge, knowledge};
use super::{GatePolicy, UnsureAction};

/// The cheap rules alone: `Some` when the text decides without a draft (saving a model call),
/// `None` when the caller should generate a draft and call [`decide`].
pub fn precheck(input: &GateInput<'_>) -> Option<GateDecision> {
    let rule = rules::classify(input.message)?;
    let decision = |action, hedge, reason: String| GateDecision {
        action,
        hedge,
        reason,
        rule: Some(rule.name()),
        knowledge: None,
    };
    match rule {
        TextRule::NoSearchRequested => Some(decision(
            GateAction::Answer,
            None,
            "the user asked not to search".into(),
        )),
        TextRule::SmallTalk => Some(decision(GateAction::Answer, None, "small talk".into())),
        TextRule::ExplicitSearch if input.web_enabled => Some(decision(
            GateAction::Search,
            None,
            "asks for the web or for something that changes".into(),
        )),
        TextRule::ExplicitSearch => Some(decision(
            GateAction::Answer,
            Some(Hedge::WebUnavailable),
            "asks for the web, but web access is disabled".into(),
        )),
        // A short pointer with nothing to point at: the conversation would resolve it, and so
        // would a memory; without either, any answer would be a guess.
        TextRule::Vague
            if !input.clarified && !input.follows_conversation && !input.memory.supports() =>
        {
            Some(decision(
                GateAction::Ask,
                None,
                "vague, with no conversation or memory to resolve it".into(),
            ))
        }
        TextRule::Vague => None,
        TextRule::Telling => Some(decision(
            GateAction::Answer,
            None,
            "the user tells something about themselves".into(),
        )),
    }
}

/// The gate's decision for a message: [`precheck`]'s rules, then the draft-based decision
/// described in the [module docs](super).
pub fn decide(input: &GateInput<'_>, policy: &GatePolicy) -> GateDecision {
    if let Some(decision) = precheck(input) {
        return decision;
    }
    let Some(draft) = input.draft else {
        return GateDecision {
            action: GateAction::Answer,
            hedge: None,
            reason: "no draft confidence (no logprobs); answering directly".into(),
            rule: None,
            knowledge: None,
        };
    };
    let (t_search, t_ask) = policy.thresholds();
    let k = knowledge(draft.score, &input.memory);
    let measured = format!(
        "draft confidence {:.2}, memory {:.2} → knowledge {k:.2}",
        draft.score, input.memory.top_score
    );
    let decision = |action, hedge, why: String| GateDecision {
        action,
        hedge,
        reason: format!("{measured}; {why}"),
        rule: None,
        knowledge: Some(k),
    };

    if k >= t_search {
        return decision(
            GateAction::Answer,
            None,
            format!("≥ search threshold {t_search:.2}"),
        );
    }
    if k < t_ask && !input.clarified && !rules::is_specific(input.message) {
        return decision(
            GateAction::Ask,
            None,
            format!("< ask threshold {t_ask:.2} and the request is not specific"),
        );
    }
    let below = format!("< search threshold {t_search:.2}");
    match policy.unsure_action {
        UnsureAction::Answer => decision(
            GateAction::Answer,
            None,
            format!("{below}; profile says answer anyway"),
        ),
        UnsureAction::Hedge => decision(
            GateAction::Answer,
            Some(Hedge::Unsure),
            format!("{below}; answering with stated uncertainty"),
        ),
        // The web knows nothing about the user's sister; say what is missing instead.
        UnsureAction::Search if rules::is_personal(input.message) => {
            let hedge = if input.memory.supports() {
                Hedge::Unsure
            } else {
                Hedge::NotInMemory
            };
            decision(
                GateAction::Answer,
                Some(hedge),
                format!("{below}; about the user, so not a web question"),
            )
        }
        UnsureAction::Search if input.web_enabled => decision(
            GateAction::Search,
            None,
            format!("{below}; searching first"),
        ),
        UnsureAction::Search => decision(
            GateAction::Answer,
            Some(Hedge::WebUnavailable),
            format!("{below}; would search, but web access is disabled"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::confidence::Confidence;
    use crate::gate::MemoryCoverage;

    fn conf(score: f32) -> Confidence {
        Confidence {
            mean_logprob: score.ln(),
            min_token_prob: score,
            mean_entropy: 1.0 - score,
            score,
        }
    }

    fn input(message: &str, score: Option<f32>) -> GateInput<'_> {
        GateInput {
            message,
            memory: MemoryCoverage::NONE,
            draft: score.map(conf),
            web_enabled: true,
            clarified: false,
            follows_conversation: false,
        }
    }

    fn profile(unsure: UnsureAction) -> GatePolicy {
        GatePolicy {
            unsure_action: unsure,
            ..GatePolicy::default()
        }
    }

    const QUESTION: &str = "what is the boiling point of ethanol at sea level";

    #[test]
    fn cheap_rules_decide_without_a_draft() {
        let d = precheck(&input("thanks!", None)).unwrap();
        assert_eq!((d.action, d.rule), (GateAction::Answer, Some("small_talk")));
        let d = precheck(&input("look up the Louvre's opening hours", None)).unwrap();
        assert_eq!(d.action, GateAction::Search);
        let d = precheck(&input("what about it?", None)).unwrap();
        assert_eq!((d.action, d.rule), (GateAction::Ask, Some("vague")));
        assert_eq!(precheck(&input(QUESTION, None)), None);
    }

    #[test]
    fn vague_is_fine_in_a_conversation_or_with_memory_or_after_clarifying() {
        let mut i = input("and then?", None);
        i.follows_conversation = true;
        assert_eq!(precheck(&i), None);
        let mut i = input("what about it?", None);
        i.memory = MemoryCoverage::from_scores([0.8]);
        assert_eq!(precheck(&i), None);
        let mut i = input("do that", None);
        i.clarified = true;
        assert_eq!(precheck(&i), None);
    }

    #[test]
    fn explicit_search_without_web_hedges() {
        let mut i = input("what's the weather in Oslo?", Some(0.9));
        i.web_enabled = false;
        let d = decide(&i, &GatePolicy::default());
        assert_eq!(d.action, GateAction::Answer);
        assert_eq!(d.hedge, Some(Hedge::WebUnavailable));
    }

    #[test]
    fn draft_confidence_against_the_thresholds() {
        let p = profile(UnsureAction::Search);
        let (t_search, t_ask) = p.thresholds();
        let d = decide(&input(QUESTION, Some(t_search + 0.05)), &p);
        assert_eq!((d.action, d.hedge), (GateAction::Answer, None));
        assert!(d.reason.contains("search threshold"), "{}", d.reason);
        let d = decide(&input(QUESTION, Some(t_search - 0.05)), &p);
        assert_eq!(d.action, GateAction::Search);
        // Very unsure about a specific question: searching beats asking it back.
        let d = decide(&input(QUESTION, Some(t_ask - 0.1)), &p);
        assert_eq!(d.action, GateAction::Search);
        // Very unsure about an unspecific one: ask.
        let d = decide(&input("how do I fix this", Some(t_ask - 0.1)), &p);
        assert_eq!(d.action, GateAction::Ask);
        assert_eq!(d.knowledge, Some(t_ask - 0.1));
    }

    #[test]
    fn memory_lifts_the_knowledge_score() {
        let p = profile(UnsureAction::Search);
        let mut i = input(QUESTION, Some(0.3));
        assert_eq!(decide(&i, &p).action, GateAction::Search);
        i.memory = MemoryCoverage::from_scores([0.9]);
        // 0.3 + 0.7 · 0.5 · 0.9 = 0.615 ≥ 0.45
        assert_eq!(decide(&i, &p).action, GateAction::Answer);
    }

    #[test]
    fn unsure_action_shapes_the_unsure_zone() {
        let score = Some(0.35);
        let d = decide(&input(QUESTION, score), &profile(UnsureAction::Hedge));
        assert_eq!(
            (d.action, d.hedge),
            (GateAction::Answer, Some(Hedge::Unsure))
        );
        let d = decide(&input(QUESTION, score), &profile(UnsureAction::Answer));
        assert_eq!((d.action, d.hedge), (GateAction::Answer, None));
        let d = decide(
            &input("when is my sister's birthday?", score),
            &profile(UnsureAction::Search),
        );
        assert_eq!(
            (d.action, d.hedge),
            (GateAction::Answer, Some(Hedge::NotInMemory))
        );
        let mut i = input(QUESTION, score);
        i.web_enabled = false;
        let d = decide(&i, &profile(UnsureAction::Search));
        assert_eq!(
            (d.action, d.hedge),
            (GateAction::Answer, Some(Hedge::WebUnavailable))
        );
    }

    #[test]
    fn no_draft_confidence_answers() {
        let d = decide(&input(QUESTION, None), &profile(UnsureAction::Search));
        assert_eq!((d.action, d.hedge), (GateAction::Answer, None));
    }

    fn any_unsure() -> impl Strategy<Value = UnsureAction> {
        prop_oneof![
            Just(UnsureAction::Answer),
            Just(UnsureAction::Hedge),
            Just(UnsureAction::Search)
        ]
    }

    fn any_message() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(QUESTION.to_owned()),
            Just("how do I fix this".to_owned()),
            Just("what about it?".to_owned()),
            Just("when is my sister's birthday?".to_owned()),
            Just("hi".to_owned()),
            Just("search for rust news".to_owned()),
            Just("who is Ada Lovelace".to_owned()),
            "\\PC{0,40}",
        ]
    }

    fn any_profile() -> impl Strategy<Value = GatePolicy> {
        (0.0f32..1.0, 0.0f32..1.0, any_unsure()).prop_map(|(a, b, unsure)| GatePolicy {
            search_threshold: a.max(b),
            ask_threshold: a.min(b),
            unsure_action: unsure,
        })
    }

    proptest! {
        #[test]
        fn web_disabled_never_searches(
            msg in any_message(),
            score in proptest::option::of(0.0f32..=1.0),
            mem in 0.0f32..=1.0,
            clarified: bool,
            follows: bool,
            p in any_profile(),
        ) {
            let i = GateInput {
                message: &msg,
                memory: MemoryCoverage::from_scores([mem]),
                draft: score.map(conf),
                web_enabled: false,
                clarified,
                follows_conversation: follows,
            };
            prop_assert_ne!(decide(&i, &p).action, GateAction::Search);
        }

        #[test]
        fn more_confidence_or_memory_is_never_more_cautious(
            msg in any_message(),
            c1 in 0.0f32..=1.0, c2 in 0.0f32..=1.0,
            m1 in 0.0f32..=1.0, m2 in 0.0f32..=1.0,
            web: bool, clarified: bool, follows: bool,
            p in any_profile(),
        ) {
            let (lo_c, hi_c) = (c1.min(c2), c1.max(c2));
            let (lo_m, hi_m) = (m1.min(m2), m1.max(m2));
            let at = |c: f32, m: f32| decide(&GateInput {
                message: &msg,
                memory: MemoryCoverage::from_scores([m]),
                draft: Some(conf(c)),
                web_enabled: web,
                clarified,
                follows_conversation: follows,
            }, &p);
            let low = at(lo_c, lo_m);
            // Raising either signal alone, or both, never lowers the rank.
            for high in [at(hi_c, lo_m), at(lo_c, hi_m), at(hi_c, hi_m)] {
                prop_assert!(low.caution_rank() <= high.caution_rank(),
                    "{low:?} then {high:?}");
                prop_assert!(!(low.action == GateAction::Answer && high.action == GateAction::Search));
            }
        }

        #[test]
        fn a_clarified_message_is_never_asked_about(
            msg in any_message(),
            score in proptest::option::of(0.0f32..=1.0),
            web: bool, follows: bool,
            p in any_profile(),
        ) {
            let i = GateInput {
                message: &msg,
                memory: MemoryCoverage::NONE,
                draft: score.map(conf),
                web_enabled: web,
                clarified: true,
                follows_conversation: follows,
            };
            prop_assert_ne!(decide(&i, &p).action, GateAction::Ask);
        }

        #[test]
        fn a_higher_search_threshold_is_never_less_cautious(
            msg in any_message(),
            c in 0.0f32..=1.0,
            t1 in 0.0f32..1.0, t2 in 0.0f32..1.0,
            unsure in any_unsure(),
        ) {
            let mk = |t: f32| GatePolicy {
                search_threshold: t,
                ask_threshold: 0.0,
                unsure_action: unsure,
            };
            let i = input(&msg, Some(c));
            let lo = decide(&i, &mk(t1.min(t2)));
            let hi = decide(&i, &mk(t1.max(t2)));
            prop_assert!(hi.caution_rank() <= lo.caution_rank(), "{lo:?} vs {hi:?}");
        }
    }
}
