//! The literal construction of the connection hierarchy, straight from the method's
//! statement: a full distance matrix, and in every layer a scan of every pair of points to
//! find each community's nearest community. O(n^2) memory and O(n^2) time per layer, and
//! no spanning tree, so it is an independent check of the fast path (tests and
//! `threeam bench cluster`).

use std::collections::HashSet;

use super::distance::Space;
use super::hierarchy::Link;
use super::mst::{Key, key};
use super::union_find::UnionFind;
use super::{ClusterError, Clustering, Coordinate, Options, Points, torque};

/// Clusters like [`super::cluster`], but builds the hierarchy literally.
pub fn cluster<T: Coordinate>(
    points: &Points<T>,
    options: &Options,
) -> Result<Clustering, ClusterError> {
    let space = Space::new(points, options.metric)?;
    let links = layers(&space);
    Ok(torque::finish(space.len(), &links, options))
}

/// Bytes of the distance matrix the oracle would allocate for `n` points.
pub fn matrix_bytes(n: usize) -> usize {
    n * n * std::mem::size_of::<f64>()
}

fn layers<T: Coordinate>(space: &Space<T>) -> Vec<Link> {
    let n = space.len();
    let mut gaps = vec![0.0f64; n * n];
    for a in 0..n {
        for b in a + 1..n {
            let g = space.gap(a, b);
            gaps[a * n + b] = g;
            gaps[b * n + a] = g;
        }
    }
    let mut links = first_layer(n, &gaps);
    let mut layer = 2;
    loop {
        let community = communities(n, &links);
        let mut ids: Vec<usize> = community.clone();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() <= 1 {
            break;
        }
        let mut slot_of_id = vec![usize::MAX; n];
        for (slot, &id) in ids.iter().enumerate() {
            slot_of_id[id] = slot;
        }
        let slot: Vec<usize> = community.iter().map(|&c| slot_of_id[c]).collect();
        let mut mass = vec![0usize; ids.len()];
        for &s in &slot {
            mass[s] += 1;
        }

        // Each community's nearest community under single linkage, with the closest
        // pair: the smallest key over every pair of points that straddles it.
        let mut nearest: Vec<Option<(Key, usize, usize)>> = vec![None; ids.len()];
        for a in 0..n {
            for b in a + 1..n {
                let (sa, sb) = (slot[a], slot[b]);
                if sa == sb {
                    continue;
                }
                let k = key(gaps[a * n + b], a as u32, b as u32);
                if nearest[sa].is_none_or(|(best, _, _)| k < best) {
                    nearest[sa] = Some((k, a, b));
                }
                if nearest[sb].is_none_or(|(best, _, _)| k < best) {
                    nearest[sb] = Some((k, b, a));
                }
            }
        }

        let mut seen = HashSet::new();
        for (s, entry) in nearest.iter().enumerate() {
            let (_, a, b) = entry.expect("another community exists");
            let t = slot[b];
            if mass[s] <= mass[t] && seen.insert((s.min(t), s.max(t))) {
                links.push(Link {
                    layer,
                    from: a as u32,
                    to: b as u32,
                    mass_from: mass[s],
                    mass_to: mass[t],
                    gap: gaps[a * n + b],
                });
            }
        }
        layer += 1;
    }
    links
}

/// Every point links to its nearest other point, the lowest index on ties.
fn first_layer(n: usize, gaps: &[f64]) -> Vec<Link> {
    let mut seen = HashSet::new();
    let mut links = Vec::new();
    for a in 0..n {
        let nearest = (0..n)
            .filter(|&b| b != a)
            .min_by(|&x, &y| gaps[a * n + x].total_cmp(&gaps[a * n + y]).then(x.cmp(&y)));
        let Some(b) = nearest else { continue };
        if seen.insert((a.min(b), a.max(b))) {
            links.push(Link {
                layer: 1,
                from: a as u32,
                to: b as u32,
                mass_from: 1,
                mass_to: 1,
                gap: gaps[a * n + b],
            });
        }
    }
    links
}

/// Community of every point (its smallest member) given all links so far.
fn communities(n: usize, links: &[Link]) -> Vec<usize> {
    let mut sets = UnionFind::new(n);
    for link in links {
        sets.union(link.from, link.to);
    }
    (0..n as u32)
        .map(|p| {
            let root = sets.find(p);
            sets.min_of_root(root) as usize
        })
        .collect()
}
