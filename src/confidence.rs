//! Answer confidence from token log-probabilities. Pure.
//!
//! Three per-answer statistics, each mapped to [0, 1] and averaged with weights:
//! the mean token log-probability (how likely the model found its own words), the lowest
//! token probability (one invented name is enough to make an answer wrong), and the mean
//! entropy of the top alternatives (how torn the model was between choices).

use crate::llm::TokenLogprob;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Confidence {
    pub mean_logprob: f32,
    pub min_token_prob: f32,
    pub mean_entropy: f32,
    pub score: f32,
}

/// `None` for an answer without logprobs (the server did not send them).
pub fn from_logprobs(tokens: &[TokenLogprob]) -> Option<Confidence> {
    // Whitespace-only tokens carry no content and are always near-certain.
    let content: Vec<&TokenLogprob> = tokens
        .iter()
        .filter(|t| !t.token.trim().is_empty())
        .collect();
    if content.is_empty() {
        return None;
    }
    let n = content.len() as f64;
    let mean_logprob = content.iter().map(|t| t.logprob.max(-30.0)).sum::<f64>() / n;
    let min_token_prob = content
        .iter()
        .map(|t| t.logprob.exp())
        .fold(1.0f64, f64::min);
    let mean_entropy = content.iter().map(|t| entropy(t)).sum::<f64>() / n;

    // exp(mean logprob) is the geometric-mean token probability.
    let s_mean = mean_logprob.exp();
    // A single token below ~1% is a strong warning; sqrt softens the tail.
    let s_min = min_token_prob.sqrt();
    // Entropy of k alternatives is at most ln k; normalise by ln 5 (top_logprobs = 5).
    let s_ent = 1.0 - (mean_entropy / 5f64.ln()).min(1.0);
    let score = (0.5 * s_mean + 0.2 * s_min + 0.3 * s_ent).clamp(0.0, 1.0);
    Some(Confidence {
        mean_logprob: mean_logprob as f32,
        min_token_prob: min_token_prob as f32,
        mean_entropy: mean_entropy as f32,
        score: score as f32,
    })
}

/// Entropy (nats) of the renormalised top alternatives of one token.
fn entropy(t: &TokenLogprob) -> f64 {
    if t.top_logprobs.is_empty() {
        return 0.0;
    }
    let ps: Vec<f64> = t
        .top_logprobs
        .iter()
        .map(|a| a.logprob.max(-30.0).exp())
        .collect();
    let total: f64 = ps.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    ps.iter()
        .map(|p| p / total)
        .filter(|p| *p > 0.0)
        .map(|p| -p * p.ln())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::TopLogprob;

    fn tok(lp: f64, alts: &[f64]) -> TokenLogprob {
        TokenLogprob {
            token: "w".into(),
            logprob: lp,
            bytes: None,
            top_logprobs: alts
                .iter()
                .map(|a| TopLogprob {
                    token: "a".into(),
                    logprob: *a,
                    bytes: None,
                })
                .collect(),
        }
    }

    #[test]
    fn certain_answers_score_high_and_unsure_low() {
        let sure =
            from_logprobs(&[tok(-0.01, &[-0.01, -6.0]), tok(-0.02, &[-0.02, -5.0])]).unwrap();
        let unsure = from_logprobs(&[
            tok(-1.6, &[-1.6, -1.6, -1.6, -1.6, -1.6]),
            tok(-2.0, &[-1.5, -1.6, -2.0]),
        ])
        .unwrap();
        assert!(sure.score > 0.9, "{sure:?}");
        assert!(unsure.score < 0.35, "{unsure:?}");
        assert!(sure.mean_entropy < unsure.mean_entropy);
    }

    #[test]
    fn one_improbable_token_lowers_confidence() {
        let mut tokens: Vec<_> = (0..20).map(|_| tok(-0.05, &[-0.05, -4.0])).collect();
        let before = from_logprobs(&tokens).unwrap().score;
        tokens.push(tok(-7.0, &[-1.0, -1.2, -7.0]));
        let after = from_logprobs(&tokens).unwrap();
        assert!(after.score < before - 0.1, "{before} -> {after:?}");
        assert!(after.min_token_prob < 0.001);
    }

    #[test]
    fn no_logprobs_no_confidence() {
        assert_eq!(from_logprobs(&[]), None);
        let ws = TokenLogprob {
            token: " ".into(),
            logprob: -0.1,
            bytes: None,
            top_logprobs: vec![],
        };
        assert_eq!(from_logprobs(&[ws]), None);
    }
}
