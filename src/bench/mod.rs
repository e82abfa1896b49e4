//! Benchmarks run by `threeam bench …`. Each prints its numbers next to a baseline measured
//! in the same process, so a slower or faster machine does not change the ratio's meaning.

pub mod conversation;
pub mod gate;
pub mod load;
pub mod locomo;
pub mod map;
pub mod night;
pub mod recorder;
pub mod research;
pub mod retrieval;
pub mod stub_llm;
pub mod tools;
pub mod turn;

pub(crate) use crate::db::TempDatabase;

/// The `q`-quantile (0..=1) of unsorted samples, nearest-rank.
pub fn quantile(samples: &[f64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}

#[cfg(test)]
mod tests {
    #[test]
    fn nearest_rank_quantiles() {
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(super::quantile(&s, 0.5), 50.0);
        assert_eq!(super::quantile(&s, 0.95), 95.0);
        assert_eq!(super::quantile(&[3.0], 0.95), 3.0);
    }
}
