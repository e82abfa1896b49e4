//! Torque Clustering: autonomous clustering by fast find of mass and distance peaks.
//!
//! Method by Jie Yang and Chin-Teng Lin, "Autonomous clustering by fast find of mass and
//! distance peaks", IEEE Transactions on Pattern Analysis and Machine Intelligence 47(7),
//! 2025, DOI 10.1109/TPAMI.2025.3535743. This is an independent implementation written
//! from the plain-words statement in `shared/docs/torque-clustering.md`.
//!
//! Points are merged layer by layer (each community links to its nearest community when it
//! is not heavier), every link gets a torque `mass_a * mass_b * distance^2`, and the links
//! with the most outstanding torque are cut. The layers are read off one exact minimum
//! spanning tree (Prim's algorithm over all pairs, split across the rayon pool, or
//! Borůvka over a k-d tree for few dimensions), so memory stays O(n); the hidden `oracle`
//! module keeps the literal all-pairs construction for tests and the benchmark.
//!
//! Ties are broken the same way everywhere: edges are ordered by (distance, lower point
//! index, higher point index). For a single point this is "nearest neighbour, lowest index
//! on ties"; for a community it picks the closest pair that comes first in that order.
//! Duplicate points are at distance zero from each other, always join in the first layer,
//! and their zero-torque connections never serve as the denominator of a gap ratio.
//!
//! Points may be `f32` (embeddings) or `f64` (text data: rounding decimals to `f32` moves
//! near-ties, and several benchmark sets are sensitive to them). Distances are accumulated
//! in `f64` either way.

mod bench;
pub mod cli;
mod distance;
mod error;
mod hierarchy;
pub mod io;
mod kdtree;
pub mod metrics;
mod mst;
#[doc(hidden)]
pub mod oracle;
mod points;
mod prim;
mod torque;
mod union_find;

pub use distance::Metric;
pub use error::ClusterError;
#[doc(hidden)]
pub use mst::TreeMethod;
pub use points::{Coordinate, Points};
pub use torque::{Clustering, Connection};

/// What to compute besides the points themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    pub metric: Metric,
    /// Force this many clusters; `None` or `Some(0)` chooses the count automatically.
    /// Counts above the number of points give one cluster per point.
    pub k: Option<usize>,
    /// Detect noise: points outside the core of their cluster get label 0.
    pub noise: bool,
}

/// Clusters `points`. Deterministic: the same input always gives the same output.
pub fn cluster<T: Coordinate>(
    points: &Points<T>,
    options: &Options,
) -> Result<Clustering, ClusterError> {
    cluster_with(points, options, TreeMethod::Auto)
}

/// [`cluster`] with a chosen spanning-tree algorithm, for checking them against each other.
#[doc(hidden)]
pub fn cluster_with<T: Coordinate>(
    points: &Points<T>,
    options: &Options,
    method: TreeMethod,
) -> Result<Clustering, ClusterError> {
    let space = distance::Space::new(points, options.metric)?;
    let tree = mst::minimum_spanning_tree(space, method);
    let links = hierarchy::layers(points.len(), &tree);
    Ok(torque::finish(points.len(), &links, options))
}
