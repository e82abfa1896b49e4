//! Distances between points, reduced to one kernel: the squared Euclidean "gap" between
//! prepared rows. Cosine rows are normalised once, after which `1 - cos = gap / 2`; that
//! form keeps full precision for near-duplicates, where `1 - dot` would cancel.
//!
//! Every comparison in the algorithm is made on gaps, so the fast path and the oracle
//! order edges identically as long as they call the same kernel. The kernel therefore has
//! one fixed summation order (eight independent lanes, then a fixed reduction tree), and
//! the SIMD builds of it only change how many lanes run per instruction, never the result.

use super::error::ClusterError;
use super::points::{Coordinate, Points};

/// How the distance between two points is measured.
///
/// Implements [`clap::ValueEnum`] so that `--metric euclidean|cosine` parses directly, and
/// [`std::str::FromStr`] (case-insensitive) for other callers.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Straight-line distance.
    #[default]
    Euclidean,
    /// `1 - cos(a, b)`, for embeddings where only the direction carries meaning.
    Cosine,
}

impl std::str::FromStr for Metric {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "euclidean" => Ok(Self::Euclidean),
            "cosine" => Ok(Self::Cosine),
            other => Err(format!(
                "unknown metric {other:?} (expected euclidean or cosine)"
            )),
        }
    }
}

impl Metric {
    /// The metric distance for a gap.
    pub(crate) fn distance(self, gap: f64) -> f64 {
        match self {
            Self::Euclidean => gap.sqrt(),
            Self::Cosine => gap / 2.0,
        }
    }

    /// The squared distance for a gap, computed from the gap itself so that Euclidean R is
    /// exactly the kernel value rather than a rounded `sqrt(gap)^2`.
    pub(crate) fn distance_squared(self, gap: f64) -> f64 {
        match self {
            Self::Euclidean => gap,
            Self::Cosine => (gap / 2.0) * (gap / 2.0),
        }
    }
}

/// Points prepared for a metric: cosine rows normalised to unit length.
#[derive(Debug, Clone)]
pub(crate) struct Space<T: Coordinate> {
    data: Vec<T>,
    dim: usize,
    len: usize,
}

impl<T: Coordinate> Space<T> {
    pub(crate) fn new(points: &Points<T>, metric: Metric) -> Result<Self, ClusterError> {
        let mut data = points.as_slice().to_vec();
        let dim = points.dim();
        if metric == Metric::Cosine && dim > 0 {
            for (row, values) in data.chunks_exact_mut(dim).enumerate() {
                let norm = values
                    .iter()
                    .map(|&x| x.into() * x.into())
                    .sum::<f64>()
                    .sqrt();
                if norm == 0.0 {
                    return Err(ClusterError::ZeroVector { row });
                }
                for x in values {
                    *x = T::from_f64((*x).into() / norm);
                }
            }
        }
        Ok(Self {
            data,
            dim,
            len: points.len(),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// The prepared rows, handed over to a consumer that needs its own copy anyway.
    pub(crate) fn into_data(self) -> Vec<T> {
        self.data
    }

    pub(crate) fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    pub(crate) fn gap(&self, i: usize, j: usize) -> f64 {
        gap(self.row(i), self.row(j))
    }
}

pub(crate) const LANES: usize = 8;

/// Squared Euclidean distance, accumulated in `f64` (for `f32` data the differences and
/// their squares are then exact, so exact ties in the data stay ties).
pub(crate) fn gap<T: Coordinate>(a: &[T], b: &[T]) -> f64 {
    let mut acc = [0.0f64; LANES];
    for (lane, (x, y)) in a.iter().zip(b).enumerate() {
        let d = (*x).into() - (*y).into();
        acc[lane % LANES] += d * d;
    }
    reduce(&acc)
}

/// [`gap`] with the first row already widened to `f64` (widening is exact, so the result
/// is the same), for loops that compare one row against many.
#[inline(always)]
pub(crate) fn gap_wide<T: Coordinate>(a: &[f64], b: &[T]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f64; LANES];
    for (lane, (x, y)) in a.iter().zip(b).enumerate() {
        let d = *x - (*y).into();
        acc[lane % LANES] += d * d;
    }
    reduce(&acc)
}

/// [`gap_wide`] with the lanes held in two AVX registers.
///
/// # Safety
/// The CPU must support AVX.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn gap_wide_avx<T: Coordinate>(a: &[f64], b: &[T]) -> f64 {
    use std::arch::x86_64::*;
    assert_eq!(a.len(), b.len());
    let body = a.len() - a.len() % LANES;
    let mut acc = [0.0f64; LANES];
    // SAFETY: AVX is available (caller), and every load reads lanes below `body`, which
    // is within both slices.
    unsafe {
        let (mut lo, mut hi) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        for start in (0..body).step_by(LANES) {
            let (y_lo, y_hi) = T::load8_avx(b.as_ptr().add(start));
            let d_lo = _mm256_sub_pd(_mm256_loadu_pd(a.as_ptr().add(start)), y_lo);
            let d_hi = _mm256_sub_pd(_mm256_loadu_pd(a.as_ptr().add(start + 4)), y_hi);
            lo = _mm256_add_pd(lo, _mm256_mul_pd(d_lo, d_lo));
            hi = _mm256_add_pd(hi, _mm256_mul_pd(d_hi, d_hi));
        }
        _mm256_storeu_pd(acc.as_mut_ptr(), lo);
        _mm256_storeu_pd(acc.as_mut_ptr().add(4), hi);
    }
    for (lane, (x, y)) in a[body..].iter().zip(&b[body..]).enumerate() {
        let d = *x - (*y).into();
        acc[lane] += d * d;
    }
    reduce(&acc)
}

#[inline(always)]
pub(crate) fn reduce(acc: &[f64; LANES]) -> f64 {
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel must return the same bits, or the fast path and the oracle could order
    /// edges differently.
    #[test]
    fn kernels_agree_bit_for_bit() {
        let mut state = 0x1234_5678_9abc_def0_u64;
        let mut value = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 200.0
        };
        for dim in (1..=40).chain([383, 384, 385]) {
            let a: Vec<f32> = (0..dim).map(|_| value() as f32).collect();
            let b: Vec<f32> = (0..dim).map(|_| value() as f32).collect();
            let wide: Vec<f64> = a.iter().map(|&x| f64::from(x)).collect();
            let expected = gap(&a, &b);
            assert_eq!(
                gap_wide(&wide, &b).to_bits(),
                expected.to_bits(),
                "dim {dim}"
            );
            assert_eq!(
                gap(&b, &a).to_bits(),
                expected.to_bits(),
                "symmetric, dim {dim}"
            );
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 (and so AVX) was detected just above.
                let fast = unsafe { gap_wide_avx(&wide, &b) };
                assert_eq!(fast.to_bits(), expected.to_bits(), "avx, dim {dim}");
                let a64: Vec<f64> = (0..dim).map(|_| value()).collect();
                let b64: Vec<f64> = (0..dim).map(|_| value()).collect();
                // SAFETY: as above.
                let fast = unsafe { gap_wide_avx(&a64, &b64) };
                assert_eq!(
                    fast.to_bits(),
                    gap(&a64, &b64).to_bits(),
                    "avx f64, dim {dim}"
                );
            }
        }
    }
}
