//! Borůvka's algorithm over a k-d tree, for low-dimensional points.
//!
//! Every round, each point looks up its nearest point outside its own component; each
//! component keeps the lightest of its points' answers, and those edges are added. With
//! edges strictly ordered, all of them belong to the unique minimum spanning tree. A query
//! skips subtrees that lie wholly inside its component or whose lower-bound key (box
//! distance, then smallest index inside) cannot beat the best found so far, so the search
//! is exact, ties included.

use rayon::prelude::*;

use super::distance::{LANES, Space, gap, reduce};
use super::mst::{Edge, Key, key};
use super::points::Coordinate;
use super::union_find::UnionFind;

/// Points per leaf: small enough to prune well, large enough to amortise the node visit.
const LEAF_SIZE: usize = 16;
const MIXED: u32 = u32::MAX;

pub(crate) fn boruvka<T: Coordinate>(space: Space<T>) -> Vec<Edge> {
    let n = space.len();
    if n < 2 {
        return Vec::new();
    }
    let tree = Tree::build(space);
    let mut sets = UnionFind::new(n);
    // Per tree slot: the nearest point outside its component, as (key, slot).
    let mut nearest: Vec<Option<(Key, u32)>> = vec![None; n];
    let mut edges = Vec::with_capacity(n - 1);
    while edges.len() < n - 1 {
        let component: Vec<u32> = tree.id.iter().map(|&id| sets.find(id)).collect();
        let node_component = tree.node_components(&component);
        nearest
            .par_iter_mut()
            .enumerate()
            .for_each_init(Vec::new, |stack, (slot, answer)| {
                // Components only grow, so an answer still outside stays the nearest.
                if let Some((_, other)) = *answer
                    && component[other as usize] != component[slot]
                {
                    return;
                }
                *answer = tree.nearest_outside(slot, &component, &node_component, stack);
            });

        let mut lightest: Vec<Option<(Key, u32, u32)>> = vec![None; n];
        for (slot, answer) in nearest.iter().enumerate() {
            let (k, other) = answer.expect("more than one component remains");
            let best = &mut lightest[component[slot] as usize];
            if best.is_none_or(|(b, _, _)| k < b) {
                *best = Some((k, slot as u32, other));
            }
        }
        let mut chosen: Vec<(Key, u32, u32)> = lightest.into_iter().flatten().collect();
        chosen.sort_unstable_by_key(|&(k, _, _)| k);
        for (k, a, b) in chosen {
            let (a, b) = (tree.id[a as usize], tree.id[b as usize]);
            // Two components that chose each other picked the same edge; add it once.
            if sets.union(a, b) {
                edges.push(Edge::new(a, b, f64::from_bits(k.0)));
            }
        }
    }
    edges
}

struct Node {
    start: u32,
    end: u32,
    /// Children, or `None` for a leaf.
    children: Option<(u32, u32)>,
    /// Smallest original index in the node, for the tie part of the lower bound.
    min_id: u32,
}

struct Tree<T> {
    dim: usize,
    /// Rows in tree order.
    rows: Vec<T>,
    /// Original index of each tree slot.
    id: Vec<u32>,
    nodes: Vec<Node>,
    /// Bounding boxes, `dim` values per node.
    low: Vec<T>,
    high: Vec<T>,
}

impl<T: Coordinate> Tree<T> {
    fn build(space: Space<T>) -> Self {
        let (n, dim) = (space.len(), space.dim());
        let data = space.into_data();
        let mut order: Vec<u32> = (0..n as u32).collect();
        let mut nodes = Vec::with_capacity(2 * n / LEAF_SIZE + 1);
        let (mut low, mut high) = (Vec::new(), Vec::new());
        // Preorder construction: a node's children always come after it.
        let mut pending = vec![(0usize, n, usize::MAX, false)];
        while let Some((start, end, parent, is_right)) = pending.pop() {
            let index = nodes.len();
            let members = &mut order[start..end];
            let (lo, hi) = bounds(&data, dim, members);
            nodes.push(Node {
                start: start as u32,
                end: end as u32,
                children: None,
                min_id: members.iter().copied().min().expect("nodes are non-empty"),
            });
            if parent != usize::MAX {
                let (left, right) = nodes[parent].children.get_or_insert((0, 0));
                if is_right {
                    *right = index as u32;
                } else {
                    *left = index as u32;
                }
            }
            if end - start > LEAF_SIZE {
                let axis = (0..dim)
                    .max_by(|&a, &b| {
                        (hi[a].into() - lo[a].into()).total_cmp(&(hi[b].into() - lo[b].into()))
                    })
                    .expect("dim > 0");
                let mid = (end - start) / 2;
                members.select_nth_unstable_by(mid, |&a, &b| {
                    let (x, y) = (data[a as usize * dim + axis], data[b as usize * dim + axis]);
                    x.into().total_cmp(&y.into()).then(a.cmp(&b))
                });
                pending.push((start + mid, end, index, true));
                pending.push((start, start + mid, index, false));
            }
            low.extend(lo);
            high.extend(hi);
        }
        let mut rows = Vec::with_capacity(n * dim);
        for &id in &order {
            rows.extend_from_slice(&data[id as usize * dim..(id as usize + 1) * dim]);
        }
        Self {
            dim,
            rows,
            id: order,
            nodes,
            low,
            high,
        }
    }

    fn row(&self, slot: usize) -> &[T] {
        &self.rows[slot * self.dim..(slot + 1) * self.dim]
    }

    /// The component shared by all points of each node, or `MIXED`.
    fn node_components(&self, component: &[u32]) -> Vec<u32> {
        let mut uniform = vec![MIXED; self.nodes.len()];
        for (index, node) in self.nodes.iter().enumerate().rev() {
            uniform[index] = match node.children {
                Some((left, right)) if uniform[left as usize] == uniform[right as usize] => {
                    uniform[left as usize]
                }
                Some(_) => MIXED,
                None => {
                    let slots = &component[node.start as usize..node.end as usize];
                    if slots.iter().all(|&c| c == slots[0]) {
                        slots[0]
                    } else {
                        MIXED
                    }
                }
            };
        }
        uniform
    }

    /// Lower bound of the key of any edge from `slot` into `node`. The box gap uses the
    /// kernel's lanes and reduction, and rounding is monotone, so it never exceeds the
    /// kernel's gap to a point inside the box.
    fn lower_bound(&self, slot: usize, node: usize) -> Key {
        let q = self.row(slot);
        let lo = &self.low[node * self.dim..(node + 1) * self.dim];
        let hi = &self.high[node * self.dim..(node + 1) * self.dim];
        let mut acc = [0.0f64; LANES];
        for (i, ((&x, &l), &h)) in q.iter().zip(lo).zip(hi).enumerate() {
            let (x, l, h) = (x.into(), l.into(), h.into());
            let d = if x < l {
                x - l
            } else if x > h {
                x - h
            } else {
                0.0
            };
            acc[i % LANES] += d * d;
        }
        key(reduce(&acc), self.id[slot], self.nodes[node].min_id)
    }

    fn nearest_outside(
        &self,
        slot: usize,
        component: &[u32],
        node_component: &[u32],
        stack: &mut Vec<(Key, u32)>,
    ) -> Option<(Key, u32)> {
        let own = component[slot];
        let me = self.id[slot];
        let mut best: Option<(Key, u32)> = None;
        stack.clear();
        stack.push((self.lower_bound(slot, 0), 0));
        while let Some((bound, node)) = stack.pop() {
            if best.is_some_and(|(b, _)| bound > b) {
                continue;
            }
            let info = &self.nodes[node as usize];
            match info.children {
                None => {
                    let range = info.start as usize..info.end as usize;
                    let members = component[range.clone()].iter().zip(&self.id[range.clone()]);
                    for (other, (&their, &id)) in range.zip(members) {
                        if their == own {
                            continue;
                        }
                        let k = key(gap(self.row(slot), self.row(other)), me, id);
                        if best.is_none_or(|(b, _)| k < b) {
                            best = Some((k, other as u32));
                        }
                    }
                }
                Some((left, right)) => {
                    let mut children =
                        [left, right].map(|c| (self.lower_bound(slot, c as usize), c));
                    // Push the farther child first so that the closer one is searched first.
                    if children[1].0 > children[0].0 {
                        children.swap(0, 1);
                    }
                    for (bound, child) in children {
                        let outside = node_component[child as usize] != own;
                        if outside && best.is_none_or(|(b, _)| bound <= b) {
                            stack.push((bound, child));
                        }
                    }
                }
            }
        }
        best
    }
}

/// Bounding box of the given rows.
fn bounds<T: Coordinate>(data: &[T], dim: usize, members: &[u32]) -> (Vec<T>, Vec<T>) {
    let first = &data[members[0] as usize * dim..][..dim];
    let (mut lo, mut hi) = (first.to_vec(), first.to_vec());
    for &m in &members[1..] {
        for (i, &x) in data[m as usize * dim..][..dim].iter().enumerate() {
            if x.into() < lo[i].into() {
                lo[i] = x;
            }
            if x.into() > hi[i].into() {
                hi[i] = x;
            }
        }
    }
    (lo, hi)
}
