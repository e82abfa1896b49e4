use super::error::ClusterError;

/// A coordinate type: `f32` (embeddings, half the memory) or `f64` (text data, whose
/// decimals would otherwise be rounded twice). Distances are always accumulated in `f64`.
pub trait Coordinate:
    Copy + Send + Sync + PartialEq + Default + std::fmt::Debug + Into<f64> + sealed::Sealed + 'static
{
    fn from_f64(x: f64) -> Self;

    /// Loads eight values at `ptr`, widened to `f64`, as lanes 0-3 and 4-7.
    ///
    /// # Safety
    /// The CPU must support AVX, and `ptr` must point to eight readable values.
    #[doc(hidden)]
    #[cfg(target_arch = "x86_64")]
    unsafe fn load8_avx(
        ptr: *const Self,
    ) -> (std::arch::x86_64::__m256d, std::arch::x86_64::__m256d);
}

impl Coordinate for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load8_avx(
        ptr: *const Self,
    ) -> (std::arch::x86_64::__m256d, std::arch::x86_64::__m256d) {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees AVX and eight readable values.
        unsafe {
            let v = _mm256_loadu_ps(ptr);
            (
                _mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)),
            )
        }
    }
}

impl Coordinate for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load8_avx(
        ptr: *const Self,
    ) -> (std::arch::x86_64::__m256d, std::arch::x86_64::__m256d) {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees AVX and eight readable values.
        unsafe { (_mm256_loadu_pd(ptr), _mm256_loadu_pd(ptr.add(4))) }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A dense row-major matrix of points: one row per point.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Points<T: Coordinate = f32> {
    data: Vec<T>,
    dim: usize,
    len: usize,
}

/// Point indices are stored as `u32` inside the algorithm to halve the size of the
/// per-point bookkeeping, which matters for the O(n) memory promise at large n.
pub(crate) const MAX_POINTS: usize = u32::MAX as usize;

impl<T: Coordinate> Points<T> {
    /// Wraps `data` (row-major, `dim` values per row). Rejects non-finite values so that
    /// every distance is a real number and the total order on edges is well defined.
    pub fn new(data: Vec<T>, dim: usize) -> Result<Self, ClusterError> {
        if dim == 0 {
            return if data.is_empty() {
                Ok(Self::default())
            } else {
                Err(ClusterError::ZeroDimension)
            };
        }
        if !data.len().is_multiple_of(dim) {
            return Err(ClusterError::Ragged {
                len: data.len(),
                dim,
            });
        }
        let len = data.len() / dim;
        if len > MAX_POINTS {
            return Err(ClusterError::TooMany { max: MAX_POINTS });
        }
        if let Some(pos) = data.iter().position(|&x| !x.into().is_finite()) {
            return Err(ClusterError::NotFinite { row: pos / dim });
        }
        Ok(Self { data, dim, len })
    }

    /// Builds the matrix from rows, which must all have the same length.
    pub fn from_rows<R: AsRef<[T]>>(rows: &[R]) -> Result<Self, ClusterError> {
        let Some(first) = rows.first() else {
            return Ok(Self::default());
        };
        let dim = first.as_ref().len();
        let mut data = Vec::with_capacity(dim * rows.len());
        for (row, values) in rows.iter().enumerate() {
            let values = values.as_ref();
            if values.len() != dim {
                return Err(ClusterError::RowLength {
                    row,
                    got: values.len(),
                    expected: dim,
                });
            }
            data.extend_from_slice(values);
        }
        Self::new(data, dim)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// A copy with every coordinate multiplied by `factor` (rounded to `T`).
    pub fn scaled(&self, factor: f64) -> Result<Self, ClusterError> {
        let data = self
            .data
            .iter()
            .map(|&x| T::from_f64(x.into() * factor))
            .collect();
        Self::new(data, self.dim)
    }

    /// A copy whose row `i` is row `order[i]` of `self`.
    pub fn permuted(&self, order: &[usize]) -> Self {
        let mut data = Vec::with_capacity(order.len() * self.dim);
        for &i in order {
            data.extend_from_slice(self.row(i));
        }
        Self {
            data,
            dim: self.dim,
            len: order.len(),
        }
    }
}
