/// Disjoint sets over `0..n` that also track each set's size and smallest member, the two
/// facts the hierarchy needs about a community (its mass and its index).
#[derive(Debug, Clone)]
pub(crate) struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
    min: Vec<u32>,
}

impl UnionFind {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
            min: (0..n as u32).collect(),
        }
    }

    pub(crate) fn find(&mut self, x: u32) -> u32 {
        let mut root = x;
        while self.parent[root as usize] != root {
            root = self.parent[root as usize];
        }
        let mut x = x;
        while self.parent[x as usize] != root {
            let next = self.parent[x as usize];
            self.parent[x as usize] = root;
            x = next;
        }
        root
    }

    /// Joins the sets of `a` and `b`; returns false when they were already one set.
    pub(crate) fn union(&mut self, a: u32, b: u32) -> bool {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        if self.size[ra as usize] < self.size[rb as usize] {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent[rb as usize] = ra;
        self.size[ra as usize] += self.size[rb as usize];
        self.min[ra as usize] = self.min[ra as usize].min(self.min[rb as usize]);
        true
    }

    /// Size of the set whose root is `root`.
    pub(crate) fn size_of_root(&self, root: u32) -> usize {
        self.size[root as usize] as usize
    }

    /// Smallest member of the set whose root is `root`.
    pub(crate) fn min_of_root(&self, root: u32) -> u32 {
        self.min[root as usize]
    }

    /// Numbers the sets 1, 2, ... in order of their smallest member and returns each
    /// element's number.
    pub(crate) fn labels(&mut self) -> Vec<usize> {
        let n = self.parent.len();
        let mut number = vec![0usize; n];
        let mut labels = Vec::with_capacity(n);
        let mut next = 0;
        for x in 0..n as u32 {
            let root = self.find(x) as usize;
            if number[root] == 0 {
                next += 1;
                number[root] = next;
            }
            labels.push(number[root]);
        }
        labels
    }
}
