//! The layered connection hierarchy, computed from the minimum spanning tree.
//!
//! In every layer a community's nearest community under single linkage is reached by the
//! lightest edge leaving it, and that edge is a tree edge (cut property). So each layer is
//! one pass over the tree edges that still join different communities: near-linear work
//! instead of the all-pairs scan of the literal method.

use super::mst::Edge;
use super::union_find::UnionFind;

/// One link made while building the hierarchy, before torque is attached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Link {
    pub layer: usize,
    /// Closest point of the linking community.
    pub from: u32,
    /// Closest point of the nearest community.
    pub to: u32,
    pub mass_from: usize,
    pub mass_to: usize,
    pub gap: f64,
}

const NONE: u32 = u32::MAX;

/// Links in creation order: by layer, and within a layer by the linking community's
/// smallest member. That order decides which copy of a mutual pair is kept, and it is the
/// order the oracle produces too.
pub(crate) fn layers(n: usize, tree: &[Edge]) -> Vec<Link> {
    let mut communities = UnionFind::new(n);
    let mut remaining = tree.to_vec();
    // Per community root: slot in `remaining` of the lightest edge leaving it.
    let mut lightest = vec![NONE; n];
    let mut links = Vec::with_capacity(n.saturating_sub(1));
    let mut layer = 1;
    while !remaining.is_empty() {
        let mut roots = Vec::new();
        for (slot, edge) in remaining.iter().enumerate() {
            for end in [edge.a, edge.b] {
                let root = communities.find(end);
                let best = &mut lightest[root as usize];
                if *best == NONE {
                    roots.push(root);
                    *best = slot as u32;
                } else if edge.key() < remaining[*best as usize].key() {
                    *best = slot as u32;
                }
            }
        }
        roots.sort_unstable_by_key(|&root| communities.min_of_root(root));

        let first_new = links.len();
        let mut used = vec![false; remaining.len()];
        for &community in &roots {
            let slot = lightest[community as usize] as usize;
            let edge = remaining[slot];
            let (from, to) = if communities.find(edge.a) == community {
                (edge.a, edge.b)
            } else {
                (edge.b, edge.a)
            };
            let nearest = communities.find(to);
            let (mass_from, mass_to) = (
                communities.size_of_root(community),
                communities.size_of_root(nearest),
            );
            // A mutual pair shares its lightest edge, so the edge identifies the
            // duplicate; the copy from the community with the smaller index is kept.
            if mass_from <= mass_to && !used[slot] {
                used[slot] = true;
                links.push(Link {
                    layer,
                    from,
                    to,
                    mass_from,
                    mass_to,
                    gap: edge.gap,
                });
            }
        }
        for &root in &roots {
            lightest[root as usize] = NONE;
        }
        for link in &links[first_new..] {
            communities.union(link.from, link.to);
        }
        remaining.retain(|edge| communities.find(edge.a) != communities.find(edge.b));
        layer += 1;
    }
    links
}
