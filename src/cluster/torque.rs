//! Torque of every connection, the automatic cut count, labels and noise (steps 2 to 5).

use super::Options;
use super::distance::Metric;
use super::hierarchy::Link;
use super::union_find::UnionFind;

/// A connection of the hierarchy: community `from` (mass `mass_from`) linked to its nearest
/// community (mass `mass_to`) through the closest pair of points `from`, `to`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Connection {
    /// 1 for the nearest-neighbour layer, then 2, 3, ...
    pub layer: usize,
    /// Closest point of the linking community.
    pub from: usize,
    /// Closest point of the nearest community.
    pub to: usize,
    pub mass_from: usize,
    pub mass_to: usize,
    /// Single-linkage distance between the two communities, in the chosen metric.
    pub distance: f64,
    /// `distance^2`.
    pub r: f64,
    /// `mass_from * mass_to * r`.
    pub torque: f64,
}

impl Connection {
    /// `M = mass_from * mass_to`.
    pub fn mass(&self) -> f64 {
        self.mass_from as f64 * self.mass_to as f64
    }

    pub fn is_first_layer(&self) -> bool {
        self.layer == 1
    }

    fn from_link(link: &Link, metric: Metric) -> Self {
        let r = metric.distance_squared(link.gap);
        let mass = link.mass_from as f64 * link.mass_to as f64;
        Self {
            layer: link.layer,
            from: link.from as usize,
            to: link.to as usize,
            mass_from: link.mass_from,
            mass_to: link.mass_to,
            distance: metric.distance(link.gap),
            r,
            torque: mass * r,
        }
    }
}

/// The result of Torque Clustering.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Clustering {
    /// Per input point: its cluster, numbered 1..=k in order of each cluster's smallest
    /// member; 0 marks noise (only with noise detection on). Noise only replaces a number
    /// by 0, so a cluster has the same number with and without noise detection.
    pub labels: Vec<usize>,
    /// Number of clusters.
    pub k: usize,
    /// Number of connections cut: the first `cut` entries of `connections`.
    pub cut: usize,
    /// All n - 1 connections, by torque descending (ties: creation order, i.e. by layer and
    /// then by the linking community's smallest member).
    pub connections: Vec<Connection>,
}

/// Steps 2 to 5 for the links of a hierarchy over `n` points.
pub(crate) fn finish(n: usize, links: &[Link], options: &Options) -> Clustering {
    let mut connections: Vec<Connection> = links
        .iter()
        .map(|link| Connection::from_link(link, options.metric))
        .collect();
    // A stable sort keeps creation order among equal torques.
    connections.sort_by(|x, y| y.torque.total_cmp(&x.torque));
    let cut = match options.k {
        Some(k) if k > 0 => (k - 1).min(connections.len()),
        _ => automatic_cut(&connections),
    };
    let kept = |skip: &dyn Fn(usize, &Connection) -> bool| {
        let mut sets = UnionFind::new(n);
        for (pos, c) in connections.iter().enumerate() {
            if !skip(pos, c) {
                sets.union(c.from as u32, c.to as u32);
            }
        }
        sets
    };
    let mut labels = kept(&|pos, _| pos < cut).labels();
    let k = labels.iter().copied().max().unwrap_or(0);
    if options.noise {
        let halo = HaloTest::new(&connections);
        let cores = kept(&|pos, c| pos < cut || halo.is_halo(c)).labels();
        mark_noise(&mut labels, &cores, k);
    }
    Clustering {
        labels,
        k,
        cut,
        connections,
    }
}

/// Step 3: the position (1-based count) whose gap ratio, weighted by how many large
/// connections it would cut, is highest. `sorted` is by torque descending.
fn automatic_cut(sorted: &[Connection]) -> usize {
    let later: Vec<&Connection> = sorted.iter().filter(|c| !c.is_first_layer()).collect();
    if later.is_empty() {
        return 0;
    }
    let count = later.len() as f64;
    let mean_r = later.iter().map(|c| c.r).sum::<f64>() / count;
    let mean_m = later.iter().map(|c| c.mass()).sum::<f64>() / count;
    let mean_t = later.iter().map(|c| c.torque).sum::<f64>() / count;
    let large: Vec<bool> = sorted
        .iter()
        .map(|c| !c.is_first_layer() && c.r >= mean_r && c.mass() >= mean_m && c.torque >= mean_t)
        .collect();
    let large_total = large.iter().filter(|&&l| l).count();

    let mut best: Option<(f64, usize)> = None;
    let mut large_so_far = 0;
    for (pos, pair) in sorted.windows(2).enumerate() {
        let (here, next) = (&pair[0], &pair[1]);
        large_so_far += usize::from(large[pos]);
        // Only duplicate points give zero torque, and duplicates always join in the first
        // layer; a ratio against zero would measure no gap, so that position has none.
        if here.is_first_layer() || next.torque <= 0.0 {
            continue;
        }
        let ratio = here.torque / next.torque;
        let score = if large_total == 0 {
            ratio
        } else {
            ratio * (large_so_far as f64 / large_total as f64)
        };
        if best.is_none_or(|(top, _)| score > top) {
            best = Some((score, pos + 1));
        }
    }
    best.map_or(0, |(_, cut)| cut)
}

/// Step 5's halo rule; the means are over all connections.
struct HaloTest {
    mean_r: f64,
    mean_m: f64,
    mean_ratio: f64,
}

impl HaloTest {
    fn new(connections: &[Connection]) -> Self {
        let count = connections.len().max(1) as f64;
        Self {
            mean_r: connections.iter().map(|c| c.r).sum::<f64>() / count,
            mean_m: connections.iter().map(|c| c.mass()).sum::<f64>() / count,
            mean_ratio: connections.iter().map(|c| c.r / c.mass()).sum::<f64>() / count,
        }
    }

    fn is_halo(&self, c: &Connection) -> bool {
        c.r >= self.mean_r && c.mass() <= self.mean_m && c.r / c.mass() >= self.mean_ratio
    }
}

/// Keeps, inside each cluster, its largest core component (ties: the one with the smallest
/// member) and labels everything else in the cluster 0. Cores refine clusters because they
/// come from cutting a superset of the cluster cuts.
fn mark_noise(labels: &mut [usize], cores: &[usize], k: usize) {
    let core_count = cores.iter().copied().max().unwrap_or(0);
    let mut core_size = vec![0usize; core_count + 1];
    for &core in cores {
        core_size[core] += 1;
    }
    // Cores are numbered by smallest member, so the first core seen with a given size
    // is the tie winner; only a strictly larger core replaces it.
    let mut keep = vec![0usize; k + 1];
    for (&cluster, &core) in labels.iter().zip(cores) {
        let current = keep[cluster];
        if current == 0 || core_size[core] > core_size[current] {
            keep[cluster] = core;
        }
    }
    for (label, &core) in labels.iter_mut().zip(cores) {
        if keep[*label] != core {
            *label = 0;
        }
    }
}
