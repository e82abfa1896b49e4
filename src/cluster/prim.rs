//! Prim's algorithm on the complete graph: O(n^2) distance evaluations, O(n) memory.
//!
//! The points not yet in the tree are kept compacted at the front of a private copy of the
//! data, so every scan streams one contiguous block; each scan is split across the rayon
//! pool, which is the only parallelism Prim allows (its steps are inherently sequential).

use rayon::prelude::*;

use super::distance::{Space, gap_wide};
use super::mst::{Edge, Key, key};
use super::points::Coordinate;

/// Below this many scalar operations per scan the rayon hand-off costs more than it saves.
const PARALLEL_MIN_WORK: usize = 1 << 15;

pub(crate) fn prim<T: Coordinate>(space: Space<T>) -> Vec<Edge> {
    let n = space.len();
    if n < 2 {
        return Vec::new();
    }
    let dim = space.dim();
    let mut state = State {
        dim,
        rows: space.into_data(),
        ids: (0..n as u32).collect(),
        best_gap: vec![f64::INFINITY; n],
        best_from: vec![u32::MAX; n],
        current: vec![0.0; dim],
    };
    let mut edges = Vec::with_capacity(n - 1);
    let mut newest = state.take(0);
    while !state.ids.is_empty() {
        let next = state.scan(newest);
        edges.push(Edge::new(
            state.best_from[next],
            state.ids[next],
            state.best_gap[next],
        ));
        newest = state.take(next);
    }
    edges
}

struct State<T> {
    dim: usize,
    /// Rows of the points outside the tree, in the order of `ids`.
    rows: Vec<T>,
    ids: Vec<u32>,
    /// Gap of the lightest known edge from each outside point into the tree.
    best_gap: Vec<f64>,
    /// Tree end of that edge.
    best_from: Vec<u32>,
    /// Row of the point most recently added to the tree.
    current: Vec<f64>,
}

impl<T: Coordinate> State<T> {
    /// Moves the point at slot `slot` into the tree and returns its id.
    fn take(&mut self, slot: usize) -> u32 {
        let dim = self.dim;
        for (c, &x) in self
            .current
            .iter_mut()
            .zip(&self.rows[slot * dim..(slot + 1) * dim])
        {
            *c = x.into();
        }
        let last = self.ids.len() - 1;
        if slot != last {
            self.rows
                .copy_within(last * dim..(last + 1) * dim, slot * dim);
        }
        self.rows.truncate(last * dim);
        self.best_gap.swap_remove(slot);
        self.best_from.swap_remove(slot);
        self.ids.swap_remove(slot)
    }

    /// Relaxes every outside point against the newest tree point `u` and returns the slot
    /// of the outside point whose tree edge is now the lightest.
    fn scan(&mut self, u: u32) -> usize {
        let len = self.ids.len();
        let dim = self.dim;
        let current = &self.current;
        if len * dim < PARALLEL_MIN_WORK {
            return scan_dispatch(
                current,
                u,
                &self.rows,
                &self.ids,
                &mut self.best_gap,
                &mut self.best_from,
            )
            .map(|(_, slot)| slot)
            .expect("scan over a non-empty set");
        }
        let chunk = len.div_ceil(rayon::current_num_threads());
        self.rows
            .par_chunks(chunk * dim)
            .zip(self.ids.par_chunks(chunk))
            .zip(self.best_gap.par_chunks_mut(chunk))
            .zip(self.best_from.par_chunks_mut(chunk))
            .enumerate()
            .filter_map(|(c, (((rows, ids), best_gap), best_from))| {
                scan_dispatch(current, u, rows, ids, best_gap, best_from)
                    .map(|(k, slot)| (k, c * chunk + slot))
            })
            .min_by_key(|&(k, _)| k)
            .map(|(_, slot)| slot)
            .expect("scan over a non-empty set")
    }
}

fn scan_dispatch<T: Coordinate>(
    current: &[f64],
    u: u32,
    rows: &[T],
    ids: &[u32],
    best_gap: &mut [f64],
    best_from: &mut [u32],
) -> Option<(Key, usize)> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the running CPU supports AVX2, checked just above.
        return unsafe { scan_avx2(current, u, rows, ids, best_gap, best_from) };
    }
    scan(current, u, rows, ids, best_gap, best_from, gap_wide)
}

/// [`scan`] with the AVX kernel. Its lanes are the portable kernel's lanes, reduced in the
/// same order, without fused multiply-adds, so the gaps are bit-identical.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_avx2<T: Coordinate>(
    current: &[f64],
    u: u32,
    rows: &[T],
    ids: &[u32],
    best_gap: &mut [f64],
    best_from: &mut [u32],
) -> Option<(Key, usize)> {
    // SAFETY: this function only runs where AVX2 (and so AVX) is available.
    let kernel = |a: &[f64], b: &[T]| unsafe { super::distance::gap_wide_avx(a, b) };
    scan(current, u, rows, ids, best_gap, best_from, kernel)
}

#[inline(always)]
fn scan<T: Coordinate>(
    current: &[f64],
    u: u32,
    rows: &[T],
    ids: &[u32],
    best_gap: &mut [f64],
    best_from: &mut [u32],
    gap: impl Fn(&[f64], &[T]) -> f64,
) -> Option<(Key, usize)> {
    let mut lightest: Option<(Key, usize)> = None;
    let slots = rows
        .chunks_exact(current.len())
        .zip(ids)
        .zip(best_gap.iter_mut().zip(best_from.iter_mut()));
    for (slot, ((row, &v), (bg, bf))) in slots.enumerate() {
        let g = gap(current, row);
        // With the outside end v shared, (gap, lower, higher) order reduces to
        // (gap, tree end).
        if g < *bg || (g == *bg && u < *bf) {
            *bg = g;
            *bf = u;
        }
        let k = key(*bg, *bf, v);
        if lightest.is_none_or(|(best, _)| k < best) {
            lightest = Some((k, slot));
        }
    }
    lightest
}
