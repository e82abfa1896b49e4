//! The minimum spanning tree that answers every layer's nearest-community question.
//!
//! Edges are totally ordered by (gap, lower index, higher index). Under a strict total
//! order the tree is unique, so every method below returns the same edge set, and by the
//! cut property the lightest edge leaving any community is one of its edges.

use super::distance::Space;
use super::points::Coordinate;
use super::{kdtree, prim};

/// An edge between points `a < b` with squared gap `gap`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Edge {
    pub a: u32,
    pub b: u32,
    pub gap: f64,
}

/// Sort key of an edge. Gaps are finite and never `-0.0` (they are sums of squares), so
/// their bit patterns order exactly like their values.
pub(crate) type Key = (u64, u64);

pub(crate) fn key(gap: f64, a: u32, b: u32) -> Key {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    (gap.to_bits(), (u64::from(lo) << 32) | u64::from(hi))
}

impl Edge {
    pub(crate) fn new(a: u32, b: u32, gap: f64) -> Self {
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        Self { a, b, gap }
    }

    pub(crate) fn key(&self) -> Key {
        key(self.gap, self.a, self.b)
    }
}

/// Dimensions up to which a k-d tree prunes well enough to beat the dense scan.
const KD_TREE_MAX_DIM: usize = 8;
/// Below this many points the dense scan is already faster than building a tree.
const KD_TREE_MIN_POINTS: usize = 1024;

/// Which algorithm computes the spanning tree. All give the same tree; the choice exists
/// so that tests can hold each one against the others.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TreeMethod {
    /// A k-d tree for few dimensions and enough points, Prim otherwise.
    #[default]
    Auto,
    Prim,
    KdTree,
}

/// The exact minimum spanning tree of the complete graph over `space`.
pub(crate) fn minimum_spanning_tree<T: Coordinate>(
    space: Space<T>,
    method: TreeMethod,
) -> Vec<Edge> {
    let use_tree = match method {
        TreeMethod::Auto => space.dim() <= KD_TREE_MAX_DIM && space.len() >= KD_TREE_MIN_POINTS,
        TreeMethod::Prim => false,
        TreeMethod::KdTree => true,
    };
    if use_tree {
        kdtree::boruvka(space)
    } else {
        prim::prim(space)
    }
}
