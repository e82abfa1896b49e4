//! Where everything sits on the memory map: pure geometry, no drawing and no database.
//!
//! 1. **Projection.** Every fact's embedding (384-d) is reduced to two dimensions by PCA
//!    (`linfa-reduction`): the plane that keeps most of the spread between memories, so
//!    facts about similar things land near each other.
//! 2. **Alignment.** PCA's axes are only defined up to rotation and sign, and a few new facts
//!    tilt them, so a map drawn tonight could come out mirrored against yesterday's. The new
//!    projection is therefore fitted onto the last one by an orthogonal Procrustes
//!    similarity (rotation or reflection, uniform scale, shift) over the facts both share;
//!    the result is what is stored for the next map. Old facts keep their places, new ones
//!    appear among their neighbours.
//! 3. **Placement.** A topic's sun sits at the mean of its facts, scaled into the picture;
//!    its planets keep their direction from the sun and orbit at a radius by rank (nearest
//!    first), so a topic reads as a tidy solar system. Systems that overlap are pushed apart
//!    (a few hundred rounds of pairwise separation with a weak pull home), so the map keeps
//!    its shape but every name stays readable. Facts in no topic yet are left where the
//!    projection puts them, as dust.

use std::collections::HashMap;
use std::f64::consts::TAU;

use linfa::DatasetBase;
use linfa::traits::{Fit, Predict};
use linfa_reduction::Pca;
use ndarray::Array2;

/// A point of the plane.
pub type Xy = [f64; 2];

/// PCA is fitted on at most this many facts (evenly spread); all are projected.
const FIT_SAMPLE: usize = 2_000;

/// The two-dimensional projection of `embeddings` (all of one length), one point per row.
/// Fewer than three facts, or facts that do not vary, sit on a small circle instead.
pub fn project(embeddings: &[Vec<f32>]) -> Vec<Xy> {
    let n = embeddings.len();
    let dim = embeddings.first().map_or(0, Vec::len);
    let fallback = || circle(n);
    if n < 3 || dim < 2 || embeddings.iter().any(|e| e.len() != dim) {
        return fallback();
    }
    let all = Array2::from_shape_fn((n, dim), |(i, j)| f64::from(embeddings[i][j]));
    let step = n.div_ceil(FIT_SAMPLE).max(1);
    let rows: Vec<usize> = (0..n).step_by(step).collect();
    let sample = all.select(ndarray::Axis(0), &rows);
    let Ok(pca) = Pca::params(2).fit(&DatasetBase::from(sample)) else {
        return fallback();
    };
    let out: Array2<f64> = pca.predict(&all);
    if out.ncols() == 0 {
        return fallback();
    }
    // A rank-one set of facts gives one component: a line.
    let points: Vec<Xy> = out
        .outer_iter()
        .map(|r| [r[0], if r.len() > 1 { r[1] } else { 0.0 }])
        .collect();
    let spread = points.iter().map(|p| p[0].abs() + p[1].abs()).sum::<f64>();
    if !spread.is_finite() || spread < 1e-9 {
        return fallback();
    }
    points
}

/// `n` points evenly on a unit circle: the layout when there is nothing to project.
fn circle(n: usize) -> Vec<Xy> {
    (0..n)
        .map(|i| {
            let a = TAU * i as f64 / n.max(1) as f64;
            [a.cos(), a.sin()]
        })
        .collect()
}

/// A similarity transform of the plane: `scale · R · (flip(p) − from) + to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alignment {
    flip: bool,
    cos: f64,
    sin: f64,
    scale: f64,
    from: Xy,
    to: Xy,
}

impl Alignment {
    pub fn apply(&self, p: Xy) -> Xy {
        let y = if self.flip { -p[1] } else { p[1] };
        let (x, y) = (p[0] - self.from[0], y - self.from[1]);
        [
            self.scale * (self.cos * x - self.sin * y) + self.to[0],
            self.scale * (self.sin * x + self.cos * y) + self.to[1],
        ]
    }
}

/// The similarity that best carries `pairs[i].0` onto `pairs[i].1` (least squares), or
/// `None` with fewer than three pairs or no spread to fit.
pub fn fit_alignment(pairs: &[(Xy, Xy)]) -> Option<Alignment> {
    if pairs.len() < 3 {
        return None;
    }
    let mean = |f: &dyn Fn(&(Xy, Xy)) -> Xy| {
        let s = pairs
            .iter()
            .map(f)
            .fold([0.0, 0.0], |a, p| [a[0] + p[0], a[1] + p[1]]);
        [s[0] / pairs.len() as f64, s[1] / pairs.len() as f64]
    };
    let to = mean(&|p| p.1);
    let best = [false, true]
        .into_iter()
        .filter_map(|flip| {
            let flipped = |p: Xy| if flip { [p[0], -p[1]] } else { p };
            let from = mean(&|p| flipped(p.0));
            let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
            for (a, b) in pairs {
                let a = flipped(*a);
                let (ax, ay) = (a[0] - from[0], a[1] - from[1]);
                let (bx, by) = (b[0] - to[0], b[1] - to[1]);
                dot += ax * bx + ay * by;
                cross += ax * by - ay * bx;
                norm += ax * ax + ay * ay;
            }
            let fit = dot.hypot(cross);
            (norm > 1e-12 && fit > 1e-12).then(|| {
                let alignment = Alignment {
                    flip,
                    cos: dot / fit,
                    sin: cross / fit,
                    scale: fit / norm,
                    from,
                    to,
                };
                (fit, alignment)
            })
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    Some(best.1)
}

/// Aligns `new` (fact id → point) with `old` over their shared ids; unchanged when they
/// share fewer than three.
pub fn align(new: &[(i64, Xy)], old: &HashMap<i64, Xy>) -> Vec<(i64, Xy)> {
    let pairs: Vec<(Xy, Xy)> = new
        .iter()
        .filter_map(|(id, p)| old.get(id).map(|o| (*p, *o)))
        .collect();
    match fit_alignment(&pairs) {
        Some(t) => new.iter().map(|(id, p)| (*id, t.apply(*p))).collect(),
        None => new.to_vec(),
    }
}

/// The rectangle of the picture the map may use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub left: f64,
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
}

impl Frame {
    fn width(&self) -> f64 {
        self.right - self.left
    }
    fn height(&self) -> f64 {
        self.bottom - self.top
    }
}

/// A fact to place: its id, its topic (if any) and its aligned projection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub id: i64,
    pub topic: Option<i64>,
    pub xy: Xy,
}

/// A topic to place: how important it is (any non-negative scale).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopicWeight {
    pub id: i64,
    pub importance: f64,
}

/// A sun on the canvas: its centre, its radius and the radius of its outermost orbit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SunSpot {
    pub topic: i64,
    pub at: Xy,
    pub radius: f64,
    pub orbit: f64,
}

/// A fact on the canvas; `topic` is `None` for dust.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanetSpot {
    pub fact: i64,
    pub topic: Option<i64>,
    pub at: Xy,
}

/// Sizes of the overview, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizes {
    pub sun_min: f64,
    pub sun_max: f64,
    /// Room kept below a sun for its name.
    pub label_room: f64,
}

/// Places suns and planets of the overview inside `frame` (see the module doc).
pub fn place_overview(
    points: &[Point],
    topics: &[TopicWeight],
    frame: Frame,
    sizes: Sizes,
) -> (Vec<SunSpot>, Vec<PlanetSpot>) {
    if points.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let members = members_of(points);
    let topics: Vec<&TopicWeight> = topics
        .iter()
        .filter(|t| members.contains_key(&t.id))
        .collect();
    // The raw plane fitted into the frame (aspect kept).
    let centres: HashMap<i64, Xy> = members
        .iter()
        .map(|(id, m)| (*id, mean(m.iter().map(|p| p.xy))))
        .collect();
    let to_canvas = fit_into(
        centres
            .values()
            .copied()
            .chain(points.iter().filter(|p| p.topic.is_none()).map(|p| p.xy)),
        frame,
        sizes.sun_max * 2.0,
    );
    let max_importance = topics.iter().map(|t| t.importance).fold(0.0_f64, f64::max);
    let mut suns: Vec<SunSpot> = topics
        .iter()
        .map(|t| {
            let share = if max_importance > 0.0 {
                (t.importance / max_importance).clamp(0.0, 1.0)
            } else {
                1.0
            };
            let radius = sizes.sun_min + (sizes.sun_max - sizes.sun_min) * share.sqrt();
            let n = members[&t.id].len() as f64;
            SunSpot {
                topic: t.id,
                at: to_canvas(centres[&t.id]),
                radius,
                orbit: radius + 10.0 + (5.0 * n.sqrt()).min(70.0),
            }
        })
        .collect();
    // Scale every system alike so that together they cover about a third of the frame:
    // many topics shrink until they fit without overlapping, a few grow to be seen.
    let area: f64 = suns
        .iter()
        .map(|s| std::f64::consts::PI * (s.orbit + sizes.label_room * 0.5).powi(2))
        .sum();
    let budget = frame.width() * frame.height() / 3.0;
    if area > 0.0 {
        let k = (budget / area).sqrt().clamp(0.3, 1.8);
        for s in &mut suns {
            s.radius *= k;
            s.orbit *= k;
        }
    }
    separate(&mut suns, frame, sizes.label_room);
    let mut planets = Vec::with_capacity(points.len());
    for sun in &suns {
        let ring = &members[&sun.topic];
        let centre = centres[&sun.topic];
        for (spot, p) in orbit_spots(ring, centre, sun, false) {
            planets.push(PlanetSpot {
                fact: p.id,
                topic: p.topic,
                at: spot,
            });
        }
    }
    for p in points.iter().filter(|p| p.topic.is_none()) {
        planets.push(PlanetSpot {
            fact: p.id,
            topic: None,
            at: to_canvas(p.xy),
        });
    }
    (suns, planets)
}

/// The planets of one topic around a sun at the centre of a zoomed picture, one per point
/// and in the points' order. Directions are kept in order but spread evenly, so no two
/// planets (nor their labels) sit on each other; the nearer half of the facts orbit
/// inside, the rest outside.
pub fn place_zoom(points: &[Point], sun: SunSpot) -> Vec<PlanetSpot> {
    let centre = mean(points.iter().map(|p| p.xy));
    orbit_spots(&points.iter().collect::<Vec<_>>(), centre, &sun, true)
        .into_iter()
        .map(|(at, p)| PlanetSpot {
            fact: p.id,
            topic: p.topic,
            at,
        })
        .collect()
}

fn members_of(points: &[Point]) -> HashMap<i64, Vec<&Point>> {
    let mut members: HashMap<i64, Vec<&Point>> = HashMap::new();
    for p in points {
        if let Some(t) = p.topic {
            members.entry(t).or_default().push(p);
        }
    }
    members
}

fn mean(points: impl Iterator<Item = Xy>) -> Xy {
    let (mut s, mut n) = ([0.0, 0.0], 0.0);
    for p in points {
        s[0] += p[0];
        s[1] += p[1];
        n += 1.0;
    }
    if n == 0.0 { s } else { [s[0] / n, s[1] / n] }
}

/// A map from the raw plane into `frame`, keeping the aspect ratio, `margin` inside.
fn fit_into(points: impl Iterator<Item = Xy>, frame: Frame, margin: f64) -> impl Fn(Xy) -> Xy {
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    for p in points {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    if lo[0] > hi[0] {
        lo = [0.0; 2];
        hi = [0.0; 2];
    }
    let span = [(hi[0] - lo[0]).max(1e-9), (hi[1] - lo[1]).max(1e-9)];
    let room = [
        (frame.width() - 2.0 * margin).max(1.0),
        (frame.height() - 2.0 * margin).max(1.0),
    ];
    let scale = (room[0] / span[0]).min(room[1] / span[1]);
    let mid_raw = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let mid = [
        (frame.left + frame.right) / 2.0,
        (frame.top + frame.bottom) / 2.0,
    ];
    move |p: Xy| {
        [
            mid[0] + (p[0] - mid_raw[0]) * scale,
            // Screen y grows downwards; flip so the picture reads like a plot.
            mid[1] - (p[1] - mid_raw[1]) * scale,
        ]
    }
}

/// Pushes overlapping systems apart, with a weak pull back to where the projection put
/// them, and keeps each inside the frame (with room for its name below).
fn separate(suns: &mut [SunSpot], frame: Frame, label_room: f64) {
    let home: Vec<Xy> = suns.iter().map(|s| s.at).collect();
    for round in 0..400 {
        let mut moved = false;
        for i in 0..suns.len() {
            for j in i + 1..suns.len() {
                let (a, b) = (suns[i], suns[j]);
                let (dx, dy) = (b.at[0] - a.at[0], b.at[1] - a.at[1]);
                let d = dx.hypot(dy);
                let need = a.orbit + b.orbit + label_room;
                if d >= need {
                    continue;
                }
                moved = true;
                let (ux, uy) = if d > 1e-6 {
                    (dx / d, dy / d)
                } else {
                    // Same spot: part them in a direction fixed by their order.
                    let angle = (i * 7 + j * 13) as f64;
                    (angle.cos(), angle.sin())
                };
                let push = (need - d) / 2.0 + 0.5;
                suns[i].at = [a.at[0] - ux * push, a.at[1] - uy * push];
                suns[j].at = [b.at[0] + ux * push, b.at[1] + uy * push];
            }
        }
        for (s, h) in suns.iter_mut().zip(&home) {
            s.at[0] += (h[0] - s.at[0]) * 0.01;
            s.at[1] += (h[1] - s.at[1]) * 0.01;
            s.at[0] = clamp_inside(s.at[0], frame.left + s.orbit, frame.right - s.orbit);
            s.at[1] = clamp_inside(
                s.at[1],
                frame.top + s.orbit,
                frame.bottom - s.orbit - label_room,
            );
        }
        if !moved && round > 0 {
            break;
        }
    }
}

fn clamp_inside(v: f64, lo: f64, hi: f64) -> f64 {
    if lo > hi {
        (lo + hi) / 2.0
    } else {
        v.clamp(lo, hi)
    }
}

/// Planet spots of one system: each fact keeps its direction from the topic's centre;
/// radius by rank of distance, nearest innermost. `even` spreads the directions evenly in
/// their order (the zoomed picture, where labels need room).
fn orbit_spots<'p>(
    ring: &[&'p Point],
    centre: Xy,
    sun: &SunSpot,
    even: bool,
) -> Vec<(Xy, &'p Point)> {
    let n = ring.len();
    let mut polar: Vec<(f64, f64, &Point)> = ring
        .iter()
        .map(|p| {
            let (dx, dy) = (p.xy[0] - centre[0], p.xy[1] - centre[1]);
            // Screen y is flipped (see `fit_into`).
            let angle = if dx == 0.0 && dy == 0.0 {
                // A fact exactly at the centre gets a direction from its id.
                (p.id as f64 * 2.399_963).rem_euclid(TAU)
            } else {
                (-dy).atan2(dx)
            };
            (angle, dx.hypot(dy), *p)
        })
        .collect();
    let mut by_distance: Vec<usize> = (0..n).collect();
    by_distance.sort_by(|&a, &b| {
        polar[a]
            .1
            .total_cmp(&polar[b].1)
            .then(polar[a].2.id.cmp(&polar[b].2.id))
    });
    let mut rank = vec![0usize; n];
    for (r, &i) in by_distance.iter().enumerate() {
        rank[i] = r;
    }
    if even && n > 0 {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| {
            polar[a]
                .0
                .total_cmp(&polar[b].0)
                .then(polar[a].2.id.cmp(&polar[b].2.id))
        });
        let start = polar[order[0]].0;
        for (k, &i) in order.iter().enumerate() {
            polar[i].0 = start + TAU * k as f64 / n as f64;
        }
    }
    let inner = sun.radius + 8.0;
    let band = (sun.orbit - inner).max(0.0);
    polar
        .iter()
        .enumerate()
        .map(|(i, (angle, _, p))| {
            let depth = if even {
                // Two rings, alternating by rank, so neighbours never touch.
                if rank[i] * 2 < n { 0.45 } else { 1.0 }
            } else {
                ((rank[i] + 1) as f64 / n as f64).sqrt()
            };
            let r = inner + band * depth;
            (
                [sun.at[0] + r * angle.cos(), sun.at[1] + r * angle.sin()],
                *p,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Xy, b: Xy) -> bool {
        (a[0] - b[0]).abs() < 1e-6 && (a[1] - b[1]).abs() < 1e-6
    }

    #[test]
    fn a_rotated_mirrored_scaled_copy_is_carried_back_exactly() {
        let old = [[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [0.0, 3.0], [-1.0, 1.0]];
        // New = old mirrored in x, rotated 40°, scaled 0.3, shifted.
        let (c, s) = (40f64.to_radians().cos(), 40f64.to_radians().sin());
        let new: Vec<Xy> = old
            .iter()
            .map(|p| {
                let (x, y) = (-p[0], p[1]);
                [0.3 * (c * x - s * y) + 5.0, 0.3 * (s * x + c * y) - 2.0]
            })
            .collect();
        let pairs: Vec<(Xy, Xy)> = new.iter().copied().zip(old.iter().copied()).collect();
        let t = fit_alignment(&pairs).expect("fits");
        for (n, o) in &pairs {
            assert!(
                close(t.apply(*n), *o),
                "{:?} -> {:?}, want {:?}",
                n,
                t.apply(*n),
                o
            );
        }
    }

    #[test]
    fn alignment_needs_three_shared_facts() {
        let new = vec![(1, [1.0, 0.0]), (2, [0.0, 1.0])];
        let old: HashMap<i64, Xy> = [(1, [5.0, 5.0]), (2, [6.0, 6.0])].into();
        assert_eq!(align(&new, &old), new);
        assert!(fit_alignment(&[([0.0, 0.0], [1.0, 1.0]); 3]).is_none());
    }

    #[test]
    fn projection_separates_two_groups_and_handles_tiny_input() {
        let mut e = Vec::new();
        for i in 0..10 {
            let mut v = vec![0.0f32; 8];
            v[0] = 1.0 + i as f32 * 0.01;
            e.push(v);
        }
        for i in 0..10 {
            let mut v = vec![0.0f32; 8];
            v[5] = 1.0 + i as f32 * 0.01;
            e.push(v);
        }
        let p = project(&e);
        let d = |a: Xy, b: Xy| (a[0] - b[0]).hypot(a[1] - b[1]);
        assert!(d(p[0], p[1]) * 10.0 < d(p[0], p[15]), "{p:?}");
        assert_eq!(project(&[vec![1.0, 2.0]]).len(), 1);
        assert_eq!(project(&[]).len(), 0);
        // All the same: no spread, still one point each.
        assert_eq!(project(&vec![vec![0.5f32; 4]; 5]).len(), 5);
    }

    fn frame() -> Frame {
        Frame {
            left: 0.0,
            top: 0.0,
            right: 1000.0,
            bottom: 1000.0,
        }
    }

    const SIZES: Sizes = Sizes {
        sun_min: 10.0,
        sun_max: 30.0,
        label_room: 30.0,
    };

    #[test]
    fn systems_do_not_overlap_and_stay_inside() {
        // Five topics projected onto almost the same spot.
        let mut points = Vec::new();
        for t in 0..5i64 {
            for k in 0..8i64 {
                points.push(Point {
                    id: t * 100 + k,
                    topic: Some(t),
                    xy: [t as f64 * 0.001 + k as f64 * 0.0001, 0.0],
                });
            }
        }
        points.push(Point {
            id: 999,
            topic: None,
            xy: [5.0, 5.0],
        });
        let topics: Vec<TopicWeight> = (0..5)
            .map(|t| TopicWeight {
                id: t,
                importance: t as f64,
            })
            .collect();
        let (suns, planets) = place_overview(&points, &topics, frame(), SIZES);
        assert_eq!(suns.len(), 5);
        assert_eq!(planets.len(), points.len());
        for (i, a) in suns.iter().enumerate() {
            assert!(a.at[0] - a.orbit >= -1e-6 && a.at[0] + a.orbit <= 1000.0 + 1e-6);
            for b in &suns[i + 1..] {
                let d = (a.at[0] - b.at[0]).hypot(a.at[1] - b.at[1]);
                assert!(d >= a.orbit + b.orbit, "{a:?} {b:?}");
            }
        }
        // The most important topic has the biggest sun; the least the smallest.
        assert!(suns[4].radius > suns[1].radius && suns[1].radius > suns[0].radius);
        // Each planet lies within its sun's orbit.
        for p in planets.iter().filter(|p| p.topic.is_some()) {
            let s = suns.iter().find(|s| Some(s.topic) == p.topic).unwrap();
            let d = (p.at[0] - s.at[0]).hypot(p.at[1] - s.at[1]);
            assert!(d > s.radius && d <= s.orbit + 1e-6);
        }
    }

    #[test]
    fn the_same_input_gives_the_same_map() {
        let points: Vec<Point> = (0..30)
            .map(|i| Point {
                id: i,
                topic: Some(i % 3),
                xy: [(i as f64).sin(), (i as f64 * 0.7).cos()],
            })
            .collect();
        let topics: Vec<TopicWeight> = (0..3)
            .map(|id| TopicWeight {
                id,
                importance: 1.0,
            })
            .collect();
        assert_eq!(
            place_overview(&points, &topics, frame(), SIZES),
            place_overview(&points, &topics, frame(), SIZES)
        );
    }

    #[test]
    fn zoomed_planets_are_spread_evenly_in_their_order() {
        let points: Vec<Point> = (0..6)
            .map(|i| Point {
                id: i,
                topic: Some(1),
                // All to the right of the centre, close together.
                xy: [1.0, i as f64 * 0.01],
            })
            .chain(std::iter::once(Point {
                id: 9,
                topic: Some(1),
                xy: [-5.0, 0.0],
            }))
            .collect();
        let sun = SunSpot {
            topic: 1,
            at: [500.0, 500.0],
            radius: 40.0,
            orbit: 240.0,
        };
        let spots = place_zoom(&points, sun);
        let order: Vec<i64> = spots.iter().map(|s| s.fact).collect();
        let given: Vec<i64> = points.iter().map(|p| p.id).collect();
        assert_eq!(order, given, "one spot per point, in their order");
        for (i, a) in spots.iter().enumerate() {
            for b in &spots[i + 1..] {
                let d = (a.at[0] - b.at[0]).hypot(a.at[1] - b.at[1]);
                assert!(d > 40.0, "{a:?} {b:?}");
            }
        }
    }
}
