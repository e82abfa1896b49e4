//! Generated point sets with known groups, shaped after the classic clustering benchmarks
//! (FCPS's Hepta, Tetra, Target and Atom; two moons, concentric rings, a double spiral,
//! unbalanced, overlapping and unevenly dense blobs). A seeded xorshift generator makes every run identical, so exact
//! cluster counts and NMI values can be asserted without shipping data files.

use std::f64::consts::TAU;

use threeam::cluster::Points;

/// A generated set and the group each point was drawn from.
pub struct Shape {
    pub name: &'static str,
    pub points: Points<f64>,
    pub truth: Vec<i64>,
}

/// xorshift64* with Box–Muller normals: tiny, seeded and the same on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let u = self.uniform().max(f64::MIN_POSITIVE);
        (-2.0 * u.ln()).sqrt() * (TAU * self.uniform()).cos()
    }
}

/// Collects rows and their groups.
struct Builder {
    rows: Vec<Vec<f64>>,
    truth: Vec<i64>,
    rng: Rng,
}

impl Builder {
    fn new(seed: u64) -> Self {
        Self {
            rows: Vec::new(),
            truth: Vec::new(),
            rng: Rng::new(seed),
        }
    }

    /// `n` points normally spread around `centre`.
    fn blob(&mut self, group: i64, centre: &[f64], sd: f64, n: usize) -> &mut Self {
        for _ in 0..n {
            let row = centre.iter().map(|c| c + sd * self.rng.normal()).collect();
            self.push(group, row);
        }
        self
    }

    /// `n` points on a circle of `radius` (2-D), blurred by `sd`, over the angles
    /// `from..to` (in turns).
    fn arc(
        &mut self,
        group: i64,
        centre: [f64; 2],
        radius: f64,
        turns: (f64, f64),
        sd: f64,
        n: usize,
    ) -> &mut Self {
        for _ in 0..n {
            let a = TAU * (turns.0 + (turns.1 - turns.0) * self.rng.uniform());
            let row = vec![
                centre[0] + radius * a.cos() + sd * self.rng.normal(),
                centre[1] + radius * a.sin() + sd * self.rng.normal(),
            ];
            self.push(group, row);
        }
        self
    }

    /// `n` points on a sphere of `radius` (3-D) blurred by `sd`; radius 0 with `sd` gives
    /// a ball-like core.
    fn shell(&mut self, group: i64, radius: f64, sd: f64, n: usize) -> &mut Self {
        for _ in 0..n {
            let v = [self.rng.normal(), self.rng.normal(), self.rng.normal()];
            let len = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
            let row = v
                .iter()
                .map(|x| radius * x / len + sd * self.rng.normal())
                .collect();
            self.push(group, row);
        }
        self
    }

    fn push(&mut self, group: i64, row: Vec<f64>) {
        self.rows.push(row);
        self.truth.push(group);
    }

    fn build(&self, name: &'static str) -> Shape {
        Shape {
            name,
            points: Points::from_rows(&self.rows).expect("generated rows are finite and equal"),
            truth: self.truth.clone(),
        }
    }
}

/// Seven well-separated blobs in 3-D: the centre and one on each half-axis.
pub fn hepta() -> Shape {
    let mut b = Builder::new(7);
    b.blob(1, &[0.0, 0.0, 0.0], 0.4, 32);
    for (i, axis) in (0..3).flat_map(|a| [(a, 3.0), (a, -3.0)]).enumerate() {
        let mut centre = [0.0; 3];
        centre[axis.0] = axis.1;
        b.blob(i as i64 + 2, &centre, 0.4, 30);
    }
    b.build("hepta")
}

/// Four blobs at the corners of a tetrahedron, close enough almost to touch.
pub fn tetra() -> Shape {
    let mut b = Builder::new(4);
    for (i, c) in [
        [1.0, 1.0, 1.0],
        [1.0, -1.0, -1.0],
        [-1.0, 1.0, -1.0],
        [-1.0, -1.0, 1.0],
    ]
    .iter()
    .enumerate()
    {
        let centre: Vec<f64> = c.iter().map(|x| 1.6 * x).collect();
        b.blob(i as i64 + 1, &centre, 0.45, 100);
    }
    b.build("tetra")
}

/// A dense core inside a ring, with four small groups of outliers in the corners.
pub fn target() -> Shape {
    let mut b = Builder::new(11);
    b.blob(1, &[0.0, 0.0], 0.35, 150);
    b.arc(2, [0.0, 0.0], 4.0, (0.0, 1.0), 0.15, 300);
    for (i, c) in [[7.0, 7.0], [-7.0, 7.0], [7.0, -7.0], [-7.0, -7.0]]
        .iter()
        .enumerate()
    {
        b.blob(i as i64 + 3, c, 0.2, 3);
    }
    b.build("target")
}

/// A dense ball inside a sparse spherical shell (3-D): not linearly separable.
pub fn atom() -> Shape {
    let mut b = Builder::new(13);
    b.shell(1, 0.0, 0.5, 300);
    b.shell(2, 6.0, 0.25, 400);
    b.build("atom")
}

/// Two interleaved half circles.
pub fn moons() -> Shape {
    let mut b = Builder::new(17);
    b.arc(1, [0.0, 0.0], 1.0, (0.0, 0.5), 0.06, 250);
    b.arc(2, [1.0, 0.4], 1.0, (0.5, 1.0), 0.06, 250);
    b.build("moons")
}

/// Two concentric rings.
pub fn rings() -> Shape {
    let mut b = Builder::new(19);
    b.arc(1, [0.0, 0.0], 2.0, (0.0, 1.0), 0.1, 200);
    b.arc(2, [0.0, 0.0], 6.0, (0.0, 1.0), 0.1, 400);
    b.build("rings")
}

/// Two arms of an Archimedean spiral, turning about each other.
pub fn spiral() -> Shape {
    let mut b = Builder::new(23);
    for arm in 0..2 {
        for _ in 0..300 {
            let t = 0.25 + 1.5 * b.rng.uniform();
            let a = TAU * t + std::f64::consts::PI * arm as f64;
            let r = 2.0 * t;
            let row = vec![
                r * a.cos() + 0.05 * b.rng.normal(),
                r * a.sin() + 0.05 * b.rng.normal(),
            ];
            b.push(arm + 1, row);
        }
    }
    b.build("spiral")
}

/// One big blob and two small ones far from it.
pub fn unbalanced() -> Shape {
    let mut b = Builder::new(29);
    b.blob(1, &[0.0, 0.0], 1.0, 600);
    b.blob(2, &[9.0, 0.0], 0.3, 25);
    b.blob(3, &[0.0, 9.0], 0.3, 25);
    b.build("unbalanced")
}

/// Fifteen blobs on a ring and in the middle, after SIPU's R15.
pub fn r15() -> Shape {
    let mut b = Builder::new(31);
    for i in 0..8 {
        let a = TAU * i as f64 / 8.0;
        b.blob(i + 1, &[8.0 * a.cos(), 8.0 * a.sin()], 0.45, 40);
    }
    for i in 0..7 {
        let a = TAU * i as f64 / 7.0;
        let r = if i == 0 { 0.0 } else { 2.5 };
        b.blob(i + 9, &[r * a.cos(), r * a.sin()], 0.3, 40);
    }
    b.build("r15")
}

/// Two blobs that overlap: no cut separates them cleanly (after FCPS's EngyTime).
pub fn overlap() -> Shape {
    let mut b = Builder::new(37);
    b.blob(1, &[0.0, 0.0], 1.0, 300);
    b.blob(2, &[3.0, 0.5], 1.0, 300);
    b.build("overlap")
}

/// A dense blob beside a sparse one (after SIPU's Compound): distances alone mislead.
pub fn density() -> Shape {
    let mut b = Builder::new(41);
    b.blob(1, &[0.0, 0.0], 0.2, 200);
    b.blob(2, &[4.0, 0.0], 1.3, 200);
    b.build("density")
}

/// Every generated set.
pub fn all() -> Vec<Shape> {
    vec![
        hepta(),
        tetra(),
        target(),
        atom(),
        moons(),
        rings(),
        spiral(),
        unbalanced(),
        r15(),
        overlap(),
        density(),
    ]
}
