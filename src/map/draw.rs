//! Painting the memory map: a [`Picture`] (everything already placed by
//! [`super::layout`]) becomes a PNG, with `tiny-skia` for shapes and gradients and
//! `ab_glyph` for text in the bundled DejaVu Sans (no browser, no system fonts).
//!
//! The look is made for a phone held upright: 1080×1350 pixels (4:5, what chat clients show
//! without cropping), a night sky, text no smaller than 22 px with a dark halo so it reads
//! over any star, suns that glow in one colour per topic, planets bright when learnt this
//! week and fainter with age, replaced or archived facts as hollow rings, and a legend.

use std::sync::LazyLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use rand::{Rng, SeedableRng, rngs::StdRng};
use tiny_skia::{
    Color, FillRule, GradientStop, Paint, PathBuilder, Pixmap, Point as SkPoint, RadialGradient,
    Rect, Shader, SpreadMode, Stroke, Transform,
};

use super::layout::Xy;

/// Width and height of every picture.
pub const WIDTH: u32 = 1080;
pub const HEIGHT: u32 = 1350;

static REGULAR: LazyLock<FontRef<'static>> = LazyLock::new(|| {
    FontRef::try_from_slice(include_bytes!("../../assets/fonts/DejaVuSans.ttf"))
        .expect("the bundled DejaVuSans.ttf parses (checked by a test)")
});
static BOLD: LazyLock<FontRef<'static>> = LazyLock::new(|| {
    FontRef::try_from_slice(include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf"))
        .expect("the bundled DejaVuSans-Bold.ttf parses (checked by a test)")
});

/// Star colours, one per topic in turn: chosen to stay apart from each other on a dark sky.
const PALETTE: [[u8; 3]; 10] = [
    [255, 204, 92],
    [255, 128, 104],
    [112, 190, 255],
    [118, 226, 170],
    [190, 160, 255],
    [255, 142, 196],
    [255, 168, 64],
    [86, 214, 214],
    [255, 186, 146],
    [196, 232, 104],
];
const DUST: [u8; 3] = [150, 156, 178];
const TEXT: [u8; 3] = [242, 244, 250];
const MUTED: [u8; 3] = [166, 172, 196];

/// How bright a fact is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shade {
    /// Learnt in the last seven days.
    New,
    /// Learnt in the last thirty.
    Recent,
    Older,
    /// Replaced by a newer fact, or archived.
    Faded,
}

impl Shade {
    /// The shade of a fact `age_days` old, `faded` if replaced or archived.
    pub fn of(age_days: f64, faded: bool) -> Shade {
        match () {
            _ if faded => Shade::Faded,
            _ if age_days <= 7.0 => Shade::New,
            _ if age_days <= 30.0 => Shade::Recent,
            _ => Shade::Older,
        }
    }

    fn alpha(self) -> f32 {
        match self {
            Shade::New => 1.0,
            Shade::Recent => 0.78,
            Shade::Older => 0.5,
            Shade::Faded => 0.45,
        }
    }
}

/// A topic's sun.
#[derive(Debug, Clone, PartialEq)]
pub struct Sun {
    pub at: Xy,
    pub radius: f64,
    pub orbit: f64,
    pub name: String,
    pub facts: usize,
    /// Index into the palette (taken modulo its length).
    pub colour: usize,
}

/// A fact; `colour` is its sun's, `None` for dust (facts in no topic yet).
#[derive(Debug, Clone, PartialEq)]
pub struct Planet {
    pub at: Xy,
    pub shade: Shade,
    pub colour: Option<usize>,
    /// Its text, for the zoomed picture (labels are drawn most important first, as many as
    /// fit); `None` in the overview.
    pub label: Option<String>,
}

/// Everything on one picture, already placed.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    pub title: String,
    pub subtitle: String,
    pub suns: Vec<Sun>,
    pub planets: Vec<Planet>,
    /// One line at the bottom, above the legend.
    pub footnote: Option<String>,
    /// Seeds the background stars, so one user's sky stays the same.
    pub seed: u64,
    /// Planet radius in pixels (bigger when zoomed).
    pub planet_radius: f64,
}

/// Why a picture could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DrawError {
    #[error("could not encode the map as PNG: {0}")]
    Encode(String),
}

/// The picture as PNG bytes.
pub fn render(p: &Picture) -> Result<Vec<u8>, DrawError> {
    let mut pix = Pixmap::new(WIDTH, HEIGHT).expect("the picture size is not zero");
    sky(&mut pix, p.seed);
    for s in &p.suns {
        orbit_ring(&mut pix, s);
    }
    for planet in p.planets.iter().filter(|pl| pl.colour.is_none()) {
        star(&mut pix, planet, p.planet_radius * 0.7);
    }
    for s in &p.suns {
        sun(&mut pix, s);
    }
    let labelled = p.planets.iter().any(|pl| pl.label.is_some());
    if labelled {
        fact_labels(
            &mut pix,
            &p.planets,
            // Without a sun (facts not in topics yet) the picture's middle divides them.
            p.suns
                .first()
                .map_or([f64::from(WIDTH) / 2.0, f64::from(HEIGHT) / 2.0], |s| s.at),
        );
    }
    for planet in p.planets.iter().filter(|pl| pl.colour.is_some()) {
        star(&mut pix, planet, p.planet_radius);
    }
    if !labelled {
        sun_names(&mut pix, &p.suns);
    }
    header(&mut pix, &p.title, &p.subtitle);
    if let Some(note) = &p.footnote {
        let w = text_width(&REGULAR, 22.0, note);
        text(
            &mut pix,
            &REGULAR,
            22.0,
            (WIDTH as f32 - w) / 2.0,
            HEIGHT as f32 - 170.0,
            note,
            MUTED,
        );
    }
    // A zoomed topic has labels and its sun; the overview (sorted or not) has the full legend.
    legend(&mut pix, !labelled || p.suns.is_empty());
    pix.encode_png()
        .map_err(|e| DrawError::Encode(e.to_string()))
}

fn rgba(c: [u8; 3], alpha: f32) -> Color {
    Color::from_rgba8(
        c[0],
        c[1],
        c[2],
        (alpha.clamp(0.0, 1.0) * 255.0).round() as u8,
    )
}

fn solid(c: [u8; 3], alpha: f32) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(rgba(c, alpha));
    paint.anti_alias = true;
    paint
}

fn circle(pix: &mut Pixmap, at: Xy, r: f64, paint: &Paint) {
    if let Some(path) = PathBuilder::from_circle(at[0] as f32, at[1] as f32, r as f32) {
        pix.fill_path(&path, paint, FillRule::Winding, Transform::identity(), None);
    }
}

fn ring(pix: &mut Pixmap, at: Xy, r: f64, width: f32, paint: &Paint) {
    if let Some(path) = PathBuilder::from_circle(at[0] as f32, at[1] as f32, r as f32) {
        let stroke = Stroke {
            width,
            ..Stroke::default()
        };
        pix.stroke_path(&path, paint, &stroke, Transform::identity(), None);
    }
}

/// A circle filled with a radial gradient from `stops` (offset, colour, alpha).
fn glow(pix: &mut Pixmap, at: Xy, r: f64, stops: &[(f32, [u8; 3], f32)]) {
    let centre = SkPoint::from_xy(at[0] as f32, at[1] as f32);
    let stops = stops
        .iter()
        .map(|(o, c, a)| GradientStop::new(*o, rgba(*c, *a)))
        .collect();
    let shader = RadialGradient::new(
        centre,
        0.0,
        centre,
        r as f32,
        stops,
        SpreadMode::Pad,
        Transform::identity(),
    );
    if let Some(shader) = shader {
        let paint = Paint {
            shader,
            anti_alias: true,
            ..Paint::default()
        };
        circle(pix, at, r, &paint);
    }
}

fn sky(pix: &mut Pixmap, seed: u64) {
    let top = rgba([9, 11, 30], 1.0);
    let bottom = rgba([24, 16, 46], 1.0);
    let shader = tiny_skia::LinearGradient::new(
        SkPoint::from_xy(0.0, 0.0),
        SkPoint::from_xy(0.0, HEIGHT as f32),
        vec![GradientStop::new(0.0, top), GradientStop::new(1.0, bottom)],
        SpreadMode::Pad,
        Transform::identity(),
    )
    .unwrap_or(Shader::SolidColor(top));
    let paint = Paint {
        shader,
        ..Paint::default()
    };
    let rect = Rect::from_xywh(0.0, 0.0, WIDTH as f32, HEIGHT as f32).expect("positive size");
    pix.fill_rect(rect, &paint, Transform::identity(), None);
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..420 {
        let at = [
            rng.random_range(0.0..f64::from(WIDTH)),
            rng.random_range(0.0..f64::from(HEIGHT)),
        ];
        let alpha = rng.random_range(0.08..0.45);
        let r = rng.random_range(0.5..1.5);
        circle(pix, at, r, &solid([220, 226, 255], alpha));
    }
}

fn colour(i: usize) -> [u8; 3] {
    PALETTE[i % PALETTE.len()]
}

fn orbit_ring(pix: &mut Pixmap, s: &Sun) {
    let c = colour(s.colour);
    ring(pix, s.at, s.orbit, 1.2, &solid(c, 0.16));
    let mid = s.radius + 8.0 + (s.orbit - s.radius - 8.0) * 0.45;
    if mid > s.radius + 12.0 {
        ring(pix, s.at, mid, 1.0, &solid(c, 0.08));
    }
}

fn sun(pix: &mut Pixmap, s: &Sun) {
    let c = colour(s.colour);
    glow(
        pix,
        s.at,
        s.radius * 2.6,
        &[(0.0, c, 0.45), (0.4, c, 0.16), (1.0, c, 0.0)],
    );
    let hot = [
        ((u16::from(c[0]) + 255) / 2) as u8,
        ((u16::from(c[1]) + 255) / 2) as u8,
        ((u16::from(c[2]) + 255) / 2) as u8,
    ];
    glow(
        pix,
        s.at,
        s.radius,
        &[(0.0, [255, 252, 240], 1.0), (0.35, hot, 1.0), (1.0, c, 1.0)],
    );
}

fn star(pix: &mut Pixmap, p: &Planet, r: f64) {
    let c = p.colour.map_or(DUST, colour);
    let alpha = p.shade.alpha();
    match p.shade {
        Shade::Faded => ring(pix, p.at, r * 0.9, 1.6, &solid(c, alpha)),
        // Dust stays dust: grey, brighter when new, never a glowing planet.
        _ if p.colour.is_none() => circle(pix, p.at, r, &solid(c, alpha.max(0.55))),
        Shade::New => {
            glow(pix, p.at, r * 3.2, &[(0.0, c, 0.55), (1.0, c, 0.0)]);
            circle(pix, p.at, r, &solid([255, 255, 255], 0.95));
            ring(pix, p.at, r, 1.4, &solid(c, 1.0));
        }
        _ => circle(pix, p.at, r, &solid(c, alpha)),
    }
}

/// Sun names in the overview, biggest sun first; a name that would cover another (or fall
/// off the picture) is tried above its sun, then left out.
fn sun_names(pix: &mut Pixmap, suns: &[Sun]) {
    let mut order: Vec<&Sun> = suns.iter().collect();
    order.sort_by(|a, b| b.radius.total_cmp(&a.radius));
    // Names may not cover any sun.
    let mut taken: Vec<[f32; 4]> = suns
        .iter()
        .map(|s| {
            let r = (s.radius * 1.15) as f32;
            let (x, y) = (s.at[0] as f32, s.at[1] as f32);
            [x - r, y - r, x + r, y + r]
        })
        .collect();
    for s in order {
        let name = ellipsize(&BOLD, 25.0, &s.name, 360.0);
        let count = format!(" {}", s.facts);
        let w = text_width(&BOLD, 25.0, &name) + text_width(&REGULAR, 21.0, &count);
        let x = (s.at[0] as f32 - w / 2.0).clamp(12.0, WIDTH as f32 - 12.0 - w);
        let below = (s.at[1] + s.orbit) as f32 + 30.0;
        let above = (s.at[1] - s.orbit) as f32 - 12.0;
        for baseline in [below, above] {
            let bx = [x - 4.0, baseline - 25.0, x + w + 4.0, baseline + 8.0];
            let inside = bx[1] > 150.0 && bx[3] < HEIGHT as f32 - 200.0;
            if inside && !taken.iter().any(|t| overlaps(t, &bx)) {
                let after = text(pix, &BOLD, 25.0, x, baseline, &name, TEXT);
                text(
                    pix,
                    &REGULAR,
                    21.0,
                    after,
                    baseline,
                    &count,
                    colour(s.colour),
                );
                taken.push(bx);
                break;
            }
        }
    }
}

fn overlaps(a: &[f32; 4], b: &[f32; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// Labels of a zoomed topic: planets left of the sun are labelled in a column on the left,
/// the others on the right, each joined to its planet by a thin line. Labels come in the
/// planets' order (most important first) and stop when a column is full.
fn fact_labels(pix: &mut Pixmap, planets: &[Planet], centre: Xy) {
    const PX: f32 = 23.0;
    const LINE: f32 = 28.0;
    const GAP: f32 = 12.0;
    const COLUMN: f32 = 300.0;
    let (top, bottom) = (190.0f32, HEIGHT as f32 - 200.0);
    for left in [true, false] {
        let mut chosen: Vec<(f32, Vec<String>, &Planet)> = Vec::new();
        let mut used = 0.0;
        for p in planets {
            let Some(label) = &p.label else { continue };
            if (p.at[0] < centre[0]) != left {
                continue;
            }
            let lines = wrap(&REGULAR, PX, label, COLUMN, 3);
            let h = lines.len() as f32 * LINE + GAP;
            if used + h > bottom - top {
                continue;
            }
            used += h;
            chosen.push((h, lines, p));
        }
        chosen.sort_by(|a, b| a.2.at[1].total_cmp(&b.2.at[1]));
        // Top-down at the planets' heights, then pushed up from the bottom if they spill.
        let mut ys: Vec<f32> = Vec::with_capacity(chosen.len());
        let mut next = top;
        for (h, _, p) in &chosen {
            let y = (p.at[1] as f32 - h / 2.0).max(next);
            ys.push(y);
            next = y + h;
        }
        let mut limit = bottom;
        for (i, (h, _, _)) in chosen.iter().enumerate().rev() {
            ys[i] = ys[i].min(limit - h);
            limit = ys[i];
        }
        for ((h, lines, p), y) in chosen.iter().zip(ys) {
            let c = p.colour.map_or(DUST, colour);
            let edge = if left {
                40.0 + COLUMN + 6.0
            } else {
                WIDTH as f32 - 40.0 - COLUMN - 6.0
            };
            let mid = y + (h - GAP) / 2.0;
            let mut line = PathBuilder::new();
            line.move_to(p.at[0] as f32, p.at[1] as f32);
            line.line_to(edge, mid);
            if let Some(path) = line.finish() {
                let stroke = Stroke {
                    width: 1.2,
                    ..Stroke::default()
                };
                pix.stroke_path(&path, &solid(c, 0.4), &stroke, Transform::identity(), None);
            }
            for (k, l) in lines.iter().enumerate() {
                let w = text_width(&REGULAR, PX, l);
                let x = if left {
                    40.0 + COLUMN - w
                } else {
                    WIDTH as f32 - 40.0 - COLUMN
                };
                let alpha_text = if p.shade == Shade::Faded { MUTED } else { TEXT };
                text(
                    pix,
                    &REGULAR,
                    PX,
                    x,
                    y + LINE * (k as f32 + 1.0) - 6.0,
                    l,
                    alpha_text,
                );
            }
        }
    }
}

fn header(pix: &mut Pixmap, title: &str, subtitle: &str) {
    let title = ellipsize(&BOLD, 46.0, title, WIDTH as f32 - 96.0);
    text(pix, &BOLD, 46.0, 48.0, 86.0, &title, TEXT);
    let subtitle = ellipsize(&REGULAR, 26.0, subtitle, WIDTH as f32 - 96.0);
    text(pix, &REGULAR, 26.0, 48.0, 128.0, &subtitle, MUTED);
}

fn legend(pix: &mut Pixmap, overview: bool) {
    let (x0, y0, w, h) = (
        36.0f32,
        HEIGHT as f32 - 150.0,
        WIDTH as f32 - 72.0,
        120.0f32,
    );
    if let Some(rect) = Rect::from_xywh(x0, y0, w, h) {
        let mut pb = PathBuilder::new();
        pb.push_rect(rect);
        if let Some(path) = pb.finish() {
            pix.fill_path(
                &path,
                &solid([255, 255, 255], 0.06),
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    }
    let c = PALETTE[0];
    let item = |pix: &mut Pixmap, x: f32, y: f32, shade: Shade, what: &str| {
        let planet = Planet {
            at: [f64::from(x), f64::from(y) - 8.0],
            shade,
            colour: Some(0),
            label: None,
        };
        star(pix, &planet, 7.0);
        text(pix, &REGULAR, 22.0, x + 20.0, y, what, TEXT);
    };
    let (row1, row2) = (y0 + 48.0, y0 + 94.0);
    item(pix, x0 + 30.0, row1, Shade::New, "new this week");
    item(pix, x0 + 300.0, row1, Shade::Recent, "this month");
    item(pix, x0 + 540.0, row1, Shade::Older, "older");
    item(pix, x0 + 30.0, row2, Shade::Faded, "replaced or archived");
    let sun_x = x0 + 540.0;
    glow(
        pix,
        [f64::from(sun_x), f64::from(row2) - 8.0],
        14.0,
        &[(0.0, [255, 252, 240], 1.0), (1.0, c, 1.0)],
    );
    let what = if overview {
        "topic, sized by importance"
    } else {
        "the topic"
    };
    text(pix, &REGULAR, 22.0, sun_x + 24.0, row2, what, TEXT);
    if overview {
        let dust = Planet {
            at: [f64::from(x0 + 780.0), f64::from(row1) - 8.0],
            shade: Shade::Recent,
            colour: None,
            label: None,
        };
        star(pix, &dust, 5.0);
        text(pix, &REGULAR, 22.0, x0 + 798.0, row1, "no topic yet", TEXT);
    }
}

/// The width of `s` in pixels.
pub fn text_width(font: &FontRef<'static>, px: f32, s: &str) -> f32 {
    let f = font.as_scaled(PxScale::from(px));
    let mut w = 0.0;
    let mut prev = None;
    for ch in s.chars() {
        let id = f.glyph_id(ch);
        if let Some(p) = prev {
            w += f.kern(p, id);
        }
        w += f.h_advance(id);
        prev = Some(id);
    }
    w
}

/// `s` cut to `width` pixels with an ellipsis.
pub fn ellipsize(font: &FontRef<'static>, px: f32, s: &str, width: f32) -> String {
    if text_width(font, px, s) <= width {
        return s.to_owned();
    }
    let mut out: String = s.to_owned();
    while !out.is_empty() && text_width(font, px, &format!("{out}…")) > width {
        out.pop();
    }
    format!("{}…", out.trim_end())
}

/// `s` broken into at most `max_lines` lines of at most `width` pixels, at spaces (a word
/// longer than a line is cut); the last line ends in an ellipsis when text is left over.
pub fn wrap(
    font: &FontRef<'static>,
    px: f32,
    s: &str,
    width: f32,
    max_lines: usize,
) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut words = s.split_whitespace().peekable();
    while let Some(word) = words.next() {
        if lines.len() == max_lines {
            let last = lines.pop().unwrap_or_default();
            lines.push(ellipsize(font, px, &format!("{last} {word}…"), width));
            if !lines.last().is_some_and(|l| l.ends_with('…')) {
                let l = lines.pop().unwrap_or_default();
                lines.push(format!("{l}…"));
            }
            return lines;
        }
        let mut line = ellipsize(font, px, word, width);
        while let Some(next) = words.peek() {
            let candidate = format!("{line} {next}");
            if text_width(font, px, &candidate) > width {
                break;
            }
            line = candidate;
            words.next();
        }
        lines.push(line);
    }
    lines
}

/// Draws `s` with its baseline at `y` and a dark halo; returns the x after it.
fn text(
    pix: &mut Pixmap,
    font: &FontRef<'static>,
    px: f32,
    x: f32,
    y: f32,
    s: &str,
    c: [u8; 3],
) -> f32 {
    for (dx, dy) in [
        (-2.0, 0.0),
        (2.0, 0.0),
        (0.0, -2.0),
        (0.0, 2.0),
        (-1.5, -1.5),
        (1.5, 1.5),
        (-1.5, 1.5),
        (1.5, -1.5),
    ] {
        glyphs(pix, font, px, (x + dx, y + dy), s, ([6, 8, 22], 0.55));
    }
    glyphs(pix, font, px, (x, y), s, (c, 1.0))
}

/// Draws `s` at `(x, baseline)` in `(colour, opacity)`; returns the x after it.
fn glyphs(
    pix: &mut Pixmap,
    font: &FontRef<'static>,
    px: f32,
    (x, y): (f32, f32),
    s: &str,
    (c, alpha): ([u8; 3], f32),
) -> f32 {
    let scale = PxScale::from(px);
    let f = font.as_scaled(scale);
    let mut caret = x;
    let mut prev = None;
    let (w, h) = (pix.width() as i32, pix.height() as i32);
    for ch in s.chars() {
        let id = f.glyph_id(ch);
        if let Some(p) = prev {
            caret += f.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scale, point(caret, y));
        caret += f.h_advance(id);
        prev = Some(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let b = outline.px_bounds();
        let data = pix.data_mut();
        outline.draw(|gx, gy, cover| {
            let (px_x, px_y) = (b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32);
            if px_x < 0 || px_y < 0 || px_x >= w || px_y >= h {
                return;
            }
            let a = (cover * alpha).clamp(0.0, 1.0);
            let i = ((px_y * w + px_x) * 4) as usize;
            for k in 0..3 {
                let dst = f32::from(data[i + k]);
                data[i + k] = (f32::from(c[k]) * a + dst * (1.0 - a)).round() as u8;
            }
            let dst = f32::from(data[i + 3]);
            data[i + 3] = (255.0 * a + dst * (1.0 - a)).round() as u8;
        });
    }
    caret
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_fonts_parse_and_measure() {
        assert!(text_width(&REGULAR, 20.0, "memory") > 40.0);
        assert!(text_width(&BOLD, 20.0, "memory") > text_width(&REGULAR, 20.0, "memory") * 0.9);
    }

    #[test]
    fn wrapping_keeps_lines_inside_and_marks_cut_text() {
        let s = "Ada is training for the Berlin marathon in September and runs every morning before work";
        let lines = wrap(&REGULAR, 23.0, s, 300.0, 3);
        assert!(lines.len() == 3, "{lines:?}");
        for l in &lines {
            assert!(text_width(&REGULAR, 23.0, l) <= 300.0 + 0.5, "{l}");
        }
        assert!(lines[2].ends_with('…'), "{lines:?}");
        let short = wrap(&REGULAR, 23.0, "Likes tea", 300.0, 3);
        assert_eq!(short, vec!["Likes tea".to_string()]);
        let long_word = wrap(&REGULAR, 23.0, &"x".repeat(200), 300.0, 3);
        assert_eq!(long_word.len(), 1);
        assert!(text_width(&REGULAR, 23.0, &long_word[0]) <= 300.5);
    }

    #[test]
    fn shades_follow_age_and_state() {
        assert_eq!(Shade::of(1.0, false), Shade::New);
        assert_eq!(Shade::of(20.0, false), Shade::Recent);
        assert_eq!(Shade::of(200.0, false), Shade::Older);
        assert_eq!(Shade::of(1.0, true), Shade::Faded);
    }

    #[test]
    fn a_picture_is_a_png_of_the_promised_size_with_the_title_drawn() {
        let blank = Picture {
            title: String::new(),
            subtitle: String::new(),
            suns: vec![],
            planets: vec![],
            footnote: None,
            seed: 7,
            planet_radius: 5.0,
        };
        let with_title = Picture {
            title: "Your memory map".into(),
            ..blank.clone()
        };
        let a = render(&blank).unwrap();
        let b = render(&with_title).unwrap();
        assert_eq!(&a[..8], b"\x89PNG\r\n\x1a\n");
        let size = |png: &[u8]| {
            (
                u32::from_be_bytes(png[16..20].try_into().unwrap()),
                u32::from_be_bytes(png[20..24].try_into().unwrap()),
            )
        };
        assert_eq!(size(&a), (WIDTH, HEIGHT));
        let pa = Pixmap::decode_png(&a).unwrap();
        let pb = Pixmap::decode_png(&b).unwrap();
        // The title's area differs, and its pixels are bright.
        let bright = |p: &Pixmap| {
            (50..86)
                .flat_map(|y| (48..400).map(move |x| (x, y)))
                .filter(|&(x, y)| p.pixel(x, y).unwrap().red() > 200)
                .count()
        };
        assert!(
            bright(&pb) > 500 + bright(&pa),
            "{} vs {}",
            bright(&pb),
            bright(&pa)
        );
    }
}
