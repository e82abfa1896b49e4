//! How well low confidence predicts 👎: the area under the ROC curve.
//!
//! AUROC is the probability that a random 👎 reply had a lower confidence than a random 👍
//! reply (ties count half). 0.5 means confidence says nothing about 👎; 1.0 means every 👎
//! was less confident than every 👍. It is computed from ranks (the Mann–Whitney U
//! statistic), in O(n log n), with tied confidences given their average rank.

use super::ExperienceSample;

/// Ratings (with a confidence) needed before an AUROC means anything.
pub const MIN_AUROC_RATINGS: usize = 20;
/// Each of 👍 and 👎 needs at least this many.
pub const MIN_AUROC_PER_CLASS: usize = 5;

/// The AUROC of "low confidence ⇒ 👎" over the rated samples with a confidence, or `None`
/// below [`MIN_AUROC_RATINGS`] ratings or [`MIN_AUROC_PER_CLASS`] of either kind.
pub fn auroc(samples: &[ExperienceSample]) -> Option<f64> {
    let mut scored: Vec<(f32, bool)> = samples
        .iter()
        .filter(|s| s.is_rated())
        .filter_map(|s| s.score().map(|c| (c, s.is_down())))
        .collect();
    let downs = scored.iter().filter(|(_, down)| *down).count();
    let ups = scored.len() - downs;
    if scored.len() < MIN_AUROC_RATINGS || downs < MIN_AUROC_PER_CLASS || ups < MIN_AUROC_PER_CLASS
    {
        return None;
    }
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of the (1-based, tie-averaged) ranks of the 👍 replies in ascending confidence.
    let mut up_rank_sum = 0.0f64;
    let mut i = 0;
    while i < scored.len() {
        let mut j = i;
        while j < scored.len() && scored[j].0 == scored[i].0 {
            j += 1;
        }
        let avg_rank = (i + 1 + j) as f64 / 2.0;
        let ups_here = scored[i..j].iter().filter(|(_, down)| !*down).count();
        up_rank_sum += avg_rank * ups_here as f64;
        i = j;
    }
    // U counts the (👍, 👎) pairs where the 👍 was more confident.
    let u = up_rank_sum - (ups * (ups + 1)) as f64 / 2.0;
    Some(u / (ups * downs) as f64)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::gate::GateAction;

    fn s(conf: f32, feedback: i16) -> ExperienceSample {
        ExperienceSample {
            feedback: Some(feedback),
            ..ExperienceSample::new(Utc::now(), GateAction::Answer, Some(conf))
        }
    }

    #[test]
    fn perfect_random_and_inverted_predictors() {
        let perfect: Vec<_> = (0..10)
            .map(|i| s(0.1 + i as f32 * 0.01, -1))
            .chain((0..10).map(|i| s(0.8 + i as f32 * 0.01, 1)))
            .collect();
        assert_eq!(auroc(&perfect), Some(1.0));
        let inverted: Vec<_> = perfect
            .iter()
            .map(|x| ExperienceSample {
                feedback: x.feedback.map(|f| -f),
                ..x.clone()
            })
            .collect();
        assert_eq!(auroc(&inverted), Some(0.0));
        let ties: Vec<_> = (0..10).flat_map(|_| [s(0.5, 1), s(0.5, -1)]).collect();
        assert_eq!(auroc(&ties), Some(0.5));
    }

    #[test]
    fn matches_the_pairwise_definition() {
        let xs: Vec<_> = (0..30)
            .map(|i| {
                s(
                    ((i * 7) % 11) as f32 / 10.0,
                    if (i * 5) % 3 == 0 { -1 } else { 1 },
                )
            })
            .collect();
        let (mut wins, mut pairs) = (0.0, 0.0);
        for d in xs.iter().filter(|x| x.is_down()) {
            for u in xs.iter().filter(|x| x.is_up()) {
                pairs += 1.0;
                let (cd, cu) = (d.confidence.unwrap(), u.confidence.unwrap());
                wins += if cu > cd {
                    1.0
                } else if cu == cd {
                    0.5
                } else {
                    0.0
                };
            }
        }
        let got = auroc(&xs).unwrap();
        assert!(
            (got - wins / pairs).abs() < 1e-12,
            "{got} vs {}",
            wins / pairs
        );
    }

    #[test]
    fn too_few_ratings_give_none() {
        let few: Vec<_> = (0..19)
            .map(|i| s(i as f32 / 20.0, if i % 2 == 0 { 1 } else { -1 }))
            .collect();
        assert_eq!(auroc(&few), None);
        let one_sided: Vec<_> = (0..30)
            .map(|i| s(i as f32 / 30.0, if i < 4 { -1 } else { 1 }))
            .collect();
        assert_eq!(auroc(&one_sided), None);
    }
}
