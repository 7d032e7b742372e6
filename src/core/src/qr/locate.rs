//! A fast path in front of rqrr's detector for flat, sharp codes (screenshots, exports, most
//! image files).
//!
//! rqrr fits each candidate grid by iteratively "jiggling" a perspective transform, which
//! costs a few milliseconds per code regardless of image size and dominates decoding time. A
//! code that is not seen in perspective does not need that: its three finder patterns fix an
//! affine grid. This module finds finder patterns by their 1:1:3:1:1 run-length signature
//! (along rows, confirmed along the column through the centre), groups them into triples that
//! form a right isosceles triangle, samples the module grid affinely and hands the bits to
//! rqrr's decoder (error correction included). Whatever this path cannot read (perspective,
//! damaged finders) falls through to rqrr's full detector, so it only ever saves time.
//!
//! Written here because no crate offers a standalone finder-pattern locator that feeds
//! rqrr's `BitGrid`; the technique is the textbook one from ISO/IEC 18004 annex on reference
//! decoding (scan lines for the 1:1:3:1:1 ratio).

use super::frame::Bitmap;
use super::grid::{self, Read};

/// A confirmed finder pattern: centre in pixels and module size.
#[derive(Debug, Clone, Copy)]
struct Finder {
    x: f32,
    y: f32,
    module: f32,
    hits: u32,
}

/// Payloads read by the fast path, and whether some finder triple looked like a code but did
/// not decode (then the caller should let rqrr try too).
pub(crate) struct Located {
    pub(crate) payloads: Vec<Read>,
    pub(crate) leftovers: bool,
}

/// At most this many finder candidates are grouped (triples grow cubically); more means a
/// cluttered image that rqrr handles better.
const MAX_FINDERS: usize = 24;

/// Reads every code whose finder patterns are visible and whose grid is affine.
pub(crate) fn read(b: &Bitmap) -> Located {
    let finders = find_finders(b);
    let mut out = Located { payloads: Vec::new(), leftovers: false };
    if finders.len() < 3 {
        out.leftovers = !finders.is_empty();
        return out;
    }
    if finders.len() > MAX_FINDERS {
        out.leftovers = true;
        return out;
    }
    let mut triples = Vec::new();
    for i in 0..finders.len() {
        for j in i + 1..finders.len() {
            for k in j + 1..finders.len() {
                if let Some((score, tl, tr, bl)) = triangle(&finders, i, j, k) {
                    triples.push((score, tl, tr, bl));
                }
            }
        }
    }
    triples.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut used = vec![false; finders.len()];
    for (_, tl, tr, bl) in triples {
        if used[tl] || used[tr] || used[bl] {
            continue;
        }
        match sample_and_decode(b, finders[tl], finders[tr], finders[bl]) {
            Some(text) => {
                used[tl] = true;
                used[tr] = true;
                used[bl] = true;
                if !out.payloads.contains(&text) {
                    out.payloads.push(text);
                }
            }
            None => out.leftovers = true,
        }
    }
    // A strongly confirmed finder outside every decoded code: another code may be there.
    // (Weakly confirmed ones are usually chance matches in a code's data area.)
    if used.iter().zip(&finders).any(|(&u, f)| !u && f.hits as f32 >= 2.0 * f.module) {
        out.leftovers = true;
    }
    out
}

/// Checks run lengths against 1:1:3:1:1 and returns the module size.
fn ratio(counts: &[u32; 5]) -> Option<f32> {
    let total: u32 = counts.iter().sum();
    if total < 7 {
        return None;
    }
    let m = total as f32 / 7.0;
    let tol = m * 0.7;
    let ok = (counts[0] as f32 - m).abs() < tol
        && (counts[1] as f32 - m).abs() < tol
        && (counts[2] as f32 - 3.0 * m).abs() < 3.0 * tol
        && (counts[3] as f32 - m).abs() < tol
        && (counts[4] as f32 - m).abs() < tol;
    ok.then_some(m)
}

fn dark(b: &Bitmap, x: usize, y: usize) -> bool {
    b.bits[y * b.w + x]
}

/// Measures the five runs (dark, light, dark centre, light, dark) through the dark pixel
/// (x, y) along direction (dx, dy) (a row, a column or a diagonal); returns their lengths and
/// how far along the line the centre run's middle lies from (x, y).
fn runs(
    b: &Bitmap,
    (x, y): (usize, usize),
    (dx, dy): (isize, isize),
    limit: u32,
) -> Option<([u32; 5], f32)> {
    let at = |t: isize| {
        let (px, py) = (x as isize + t * dx, y as isize + t * dy);
        px >= 0
            && py >= 0
            && (px as usize) < b.w
            && (py as usize) < b.h
            && dark(b, px as usize, py as usize)
    };
    let inside = |t: isize| {
        let (px, py) = (x as isize + t * dx, y as isize + t * dy);
        px >= 0 && py >= 0 && (px as usize) < b.w && (py as usize) < b.h
    };
    if !at(0) {
        return None;
    }
    let mut counts = [0u32; 5];
    // Backwards from the centre: centre run, light ring, outer dark ring.
    let mut t = 0isize;
    for (state, want_dark) in [(2usize, true), (1, false), (0, true)] {
        while inside(t) && at(t) == want_dark && counts[state] <= limit {
            counts[state] += 1;
            t -= 1;
        }
        // The outer run may go on into neighbouring dark modules: it is only capped.
        if counts[state] == 0 || (state != 0 && counts[state] > limit) {
            return None;
        }
    }
    let mut t = 1isize;
    for (state, want_dark) in [(2usize, true), (3, false), (4, true)] {
        while inside(t) && at(t) == want_dark && counts[state] <= 2 * limit {
            counts[state] += 1;
            t += 1;
        }
        if (state != 2 && counts[state] == 0) || (state != 4 && counts[state] > 2 * limit) {
            return None;
        }
    }
    // t is one step past the end of the last run.
    let centre = (t - counts[4] as isize - counts[3] as isize) as f32 - counts[2] as f32 / 2.0;
    Some((counts, centre))
}

/// Confirms a finder pattern along a line: 1:1:3:1:1 runs of about the expected total.
/// Returns the centre's offset along the line and the module size.
fn cross_check(
    b: &Bitmap,
    at: (usize, usize),
    dir: (isize, isize),
    expect_total: f32,
) -> Option<(f32, f32)> {
    let (counts, centre) = runs(b, at, dir, (expect_total * 1.5) as u32 + 2)?;
    let total: u32 = counts.iter().sum();
    if (total as f32 - expect_total).abs() > expect_total * 0.5 {
        return None;
    }
    Some((centre, ratio(&counts)?))
}

fn find_finders(b: &Bitmap) -> Vec<Finder> {
    let mut finders: Vec<Finder> = Vec::new();
    // Large frames are scanned on every other row (a finder's centre stone still spans
    // several scanned rows); each hit then stands for two rows.
    let step = if b.w * b.h > 600_000 { 2 } else { 1 };
    for y in (0..b.h).step_by(step) {
        let row = &b.bits[y * b.w..(y + 1) * b.w];
        let mut counts = [0u32; 5];
        let mut state = 0usize;
        // One light pixel past the end closes a pattern that touches the right edge.
        for (x, &is_dark) in row.iter().chain(std::iter::once(&false)).enumerate() {
            if is_dark {
                if state % 2 == 1 {
                    state += 1;
                }
                counts[state] += 1;
            } else if state.is_multiple_of(2) {
                if counts[state] == 0 {
                    continue; // light before the first dark run
                }
                if state == 4 {
                    if ratio(&counts).is_some() {
                        consider(b, &counts, x, y, step as u32, &mut finders);
                        if finders.len() > 4 * MAX_FINDERS {
                            return finders;
                        }
                    }
                    counts = [counts[2], counts[3], counts[4], 1, 0];
                    state = 3;
                } else {
                    state += 1;
                    counts[state] = 1;
                }
            } else {
                counts[state] += 1;
            }
        }
    }
    // A real finder matches on every row through its 3-module centre stone; chance matches
    // in the data area match on far fewer rows than their apparent module size implies.
    finders.retain(|f| f.hits >= 2 && f.hits as f32 >= 1.2 * f.module);
    finders
}

/// Confirms a row candidate ending at `end` vertically and horizontally and merges it into
/// the finder list.
fn consider(
    b: &Bitmap,
    counts: &[u32; 5],
    end: usize,
    y: usize,
    weight: u32,
    finders: &mut Vec<Finder>,
) {
    let total: u32 = counts.iter().sum();
    let cx = end as f32 - counts[4] as f32 - counts[3] as f32 - counts[2] as f32 / 2.0;
    let total = total as f32;
    let Some((ty, mv)) = cross_check(b, (cx as usize, y), (0, 1), total) else { return };
    let cy = y as f32 + ty;
    let Some((tx, mh)) = cross_check(b, (cx as usize, cy as usize), (1, 0), total) else {
        return;
    };
    let cx = (cx as usize) as f32 + tx;
    // The diagonal rules out chance 1:1:3:1:1 runs in the data area; it is up to sqrt(2)
    // longer than the row for an upright code.
    if cross_check(b, (cx as usize, cy as usize), (1, 1), total * 1.2).is_none() {
        return;
    }
    let module = (mv + mh) / 2.0;
    for f in finders.iter_mut() {
        if (f.x - cx).abs() <= f.module && (f.y - cy).abs() <= f.module {
            let (n, k) = (f.hits as f32, weight as f32);
            f.x = (f.x * n + cx * k) / (n + k);
            f.y = (f.y * n + cy * k) / (n + k);
            f.module = (f.module * n + module * k) / (n + k);
            f.hits += weight;
            return;
        }
    }
    finders.push(Finder { x: cx, y: cy, module, hits: weight });
}

fn dist(a: Finder, b: Finder) -> f32 {
    ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt()
}

/// Scores three finders as the corners of one code (lower is better) and orders them
/// top-left, top-right, bottom-left.
fn triangle(f: &[Finder], i: usize, j: usize, k: usize) -> Option<(f32, usize, usize, usize)> {
    let (a, b, c) = (f[i], f[j], f[k]);
    let (mmin, mmax) = (a.module.min(b.module).min(c.module), a.module.max(b.module).max(c.module));
    // Perspective makes the near finders look up to ~1.8x larger than the far one.
    if mmax > mmin * 1.8 {
        return None;
    }
    // The corner opposite the longest side is the top-left finder.
    let (ab, ac, bc) = (dist(a, b), dist(a, c), dist(b, c));
    let (tl, p, q, hyp) = if bc >= ab && bc >= ac {
        (i, j, k, bc)
    } else if ac >= ab {
        (j, i, k, ac)
    } else {
        (k, i, j, ab)
    };
    let (l1, l2) = (dist(f[tl], f[p]), dist(f[tl], f[q]));
    let module = (a.module + b.module + c.module) / 3.0;
    // Loose enough for a code seen at an angle (legs up to 1.4:1, corner far from 90
    // degrees); the score below prefers the squarest triples.
    if l1.min(l2) < 7.0 * module || l1.max(l2) > l1.min(l2) * 1.4 {
        return None;
    }
    let right_angle = (hyp / (l1 * l1 + l2 * l2).sqrt() - 1.0).abs();
    if right_angle > 0.2 {
        return None;
    }
    let cross = (f[p].x - f[tl].x) * (f[q].y - f[tl].y) - (f[p].y - f[tl].y) * (f[q].x - f[tl].x);
    let (tr, bl) = if cross > 0.0 { (p, q) } else { (q, p) };
    Some((right_angle + (l1 / l2 - 1.0).abs(), tl, tr, bl))
}

fn sample_and_decode(b: &Bitmap, tl: Finder, tr: Finder, bl: Finder) -> Option<Read> {
    let module = (tl.module + tr.module + bl.module) / 3.0;
    let span = (dist(tl, tr) + dist(tl, bl)) / 2.0 / module;
    let mut dim = span.round() as i32 + 7;
    match dim % 4 {
        0 => dim += 1,
        2 => dim -= 1,
        3 => dim += 2,
        _ => {}
    }
    for dim in [dim, dim - 4, dim + 4] {
        if !(21..=177).contains(&dim) {
            continue;
        }
        let dim = dim as usize;
        let affine = Mapping::affine(tl, tr, bl, dim);
        if let Some(text) = decode_grid(b, &affine, dim) {
            return Some(text);
        }
        // Seen at an angle the grid is not affine: the bottom-right alignment pattern (all
        // versions from 2 on) pins the fourth corner of a perspective mapping.
        if dim >= 25 {
            let guess = affine.map(dim as f32 - 6.5, dim as f32 - 6.5);
            // Near the bottom-right corner modules look about as large as at TR and BL.
            let near = (tr.module + bl.module) / 2.0;
            for ap in find_alignment(b, guess, near) {
                let corners = [
                    ((3.5, 3.5), (tl.x, tl.y)),
                    ((dim as f32 - 3.5, 3.5), (tr.x, tr.y)),
                    ((3.5, dim as f32 - 3.5), (bl.x, bl.y)),
                    ((dim as f32 - 6.5, dim as f32 - 6.5), ap),
                ];
                let decoded = Mapping::perspective(&corners).and_then(|m| decode_grid(b, &m, dim));
                if decoded.is_some() {
                    return decoded;
                }
            }
        }
    }
    None
}

/// A point in module coordinates and where it lies in the image.
type PointPair = ((f32, f32), (f32, f32));

/// Maps module coordinates (column, row; module centres at +0.5) to pixel coordinates:
/// x = (a u + b v + c) / (g u + h v + 1), y = (d u + e v + f) / (g u + h v + 1).
struct Mapping([f32; 8]);

impl Mapping {
    /// The affine grid through three finder centres (at module 3.5 from their corners).
    fn affine(tl: Finder, tr: Finder, bl: Finder, dim: usize) -> Self {
        let span = (dim - 7) as f32;
        let (ux, uy) = ((tr.x - tl.x) / span, (tr.y - tl.y) / span);
        let (vx, vy) = ((bl.x - tl.x) / span, (bl.y - tl.y) / span);
        let (cx, cy) = (tl.x - 3.5 * (ux + vx), tl.y - 3.5 * (uy + vy));
        Self([ux, vx, cx, uy, vy, cy, 0.0, 0.0])
    }

    /// The projective mapping through four (module, pixel) point pairs, solved as an 8x8
    /// linear system; `None` when the points are degenerate.
    fn perspective(pairs: &[PointPair; 4]) -> Option<Self> {
        let mut m = [[0f64; 9]; 8];
        for (i, &((u, v), (x, y))) in pairs.iter().enumerate() {
            let (u, v, x, y) = (f64::from(u), f64::from(v), f64::from(x), f64::from(y));
            m[2 * i] = [u, v, 1.0, 0.0, 0.0, 0.0, -u * x, -v * x, x];
            m[2 * i + 1] = [0.0, 0.0, 0.0, u, v, 1.0, -u * y, -v * y, y];
        }
        // Gaussian elimination with partial pivoting.
        for col in 0..8 {
            let pivot = (col..8).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
            if m[pivot][col].abs() < 1e-9 {
                return None;
            }
            m.swap(col, pivot);
            let pivot_row = m[col];
            for (r, row) in m.iter_mut().enumerate() {
                if r != col {
                    let f = row[col] / pivot_row[col];
                    for (v, p) in row.iter_mut().zip(pivot_row).skip(col) {
                        *v -= f * p;
                    }
                }
            }
        }
        let mut h = [0f32; 8];
        for (i, hv) in h.iter_mut().enumerate() {
            *hv = (m[i][8] / m[i][i]) as f32;
        }
        Some(Self(h))
    }

    fn map(&self, u: f32, v: f32) -> (f32, f32) {
        let [a, b, c, d, e, f, g, h] = self.0;
        let w = g * u + h * v + 1.0;
        ((a * u + b * v + c) / w, (d * u + e * v + f) / w)
    }
}

/// Looks for the 5x5 alignment pattern (dark ring, light ring, dark centre: 1:1:1:1:1 along
/// any line through its centre) near `guess`; returns up to six candidate centres, nearest
/// first (the caller keeps the one whose grid decodes).
fn find_alignment(b: &Bitmap, guess: (f32, f32), module: f32) -> Vec<(f32, f32)> {
    // Perspective moves the pattern far from the affine guess: search generously.
    let radius = (module * 10.0) as isize + 2;
    let (gx, gy) = (guess.0 as isize, guess.1 as isize);
    let limit = (module * 6.0) as u32 + 1;
    // The inner light-dark-light runs are one module each, similar to one another and to the
    // expected size (perspective may scale it either way); the outer ring's runs may merge
    // with neighbouring dark modules, so only their presence is checked.
    let fits = |c: &[u32; 5]| {
        let inner = (c[1] + c[2] + c[3]) as f32 / 3.0;
        inner >= module * 0.5
            && inner <= module * 2.0
            && c[1..4].iter().all(|&c| c as f32 >= inner * 0.5 && c as f32 <= inner * 1.6)
            && c[0] as f32 >= inner * 0.5
            && c[4] as f32 >= inner * 0.5
    };
    let mut found: Vec<((f32, f32), f32)> = Vec::new();
    for y in (gy - radius).max(0)..(gy + radius).min(b.h as isize) {
        for x in (gx - radius).max(1)..(gx + radius).min(b.w as isize) {
            let (xu, yu) = (x as usize, y as usize);
            // Only at the start of a dark run.
            if !dark(b, xu, yu) || dark(b, xu - 1, yu) {
                continue;
            }
            let Some((h, tx)) = runs(b, (xu, yu), (1, 0), limit) else { continue };
            if !fits(&h) {
                continue;
            }
            let cx = x as f32 + tx;
            let Some((v, ty)) = runs(b, (cx as usize, yu), (0, 1), limit) else { continue };
            if !fits(&v) {
                continue;
            }
            let cy = y as f32 + ty;
            // Both diagonals too: chance 1:1:1 runs in the data rarely pass all four lines.
            let diagonal = |d| {
                runs(b, (cx as usize, cy as usize), d, 2 * limit)
                    .is_some_and(|(c, _)| fits(&c.map(|v| (v as f32 / 1.2) as u32)))
            };
            if !diagonal((1, 1)) || !diagonal((1, -1)) {
                continue;
            }
            if found
                .iter()
                .any(|&((fx, fy), _)| (fx - cx).abs() < module && (fy - cy).abs() < module)
            {
                continue;
            }
            found.push(((cx, cy), (cx - guess.0).powi(2) + (cy - guess.1).powi(2)));
        }
    }
    found.sort_by(|a, b| a.1.total_cmp(&b.1));
    found.into_iter().take(6).map(|(p, _)| p).collect()
}

fn decode_grid(b: &Bitmap, mapping: &Mapping, dim: usize) -> Option<Read> {
    grid::read_fn(dim, |col, row| {
        let (x, y) = mapping.map(col as f32 + 0.5, row as f32 + 0.5);
        if !(x >= 0.0 && y >= 0.0) {
            return false;
        }
        let (x, y) = (x as usize, y as usize);
        x < b.w && y < b.h && dark(b, x, y)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qr::encode;

    fn texts(located: &Located) -> Vec<String> {
        located.payloads.iter().map(|r| r.as_ref().unwrap().text().unwrap()).collect()
    }

    fn bitmap(text: &str, module: u32, quiet: u32) -> Bitmap {
        let f = encode(text).unwrap().to_luma(module, quiet);
        Bitmap {
            w: f.width() as usize,
            h: f.height() as usize,
            bits: f.pixels().iter().map(|&v| v < 128).collect(),
        }
    }

    #[test]
    fn reads_a_sharp_code_at_several_module_sizes() {
        for module in [2, 3, 5, 8] {
            let got = read(&bitmap("otpauth://totp/A?secret=JBSWY3DPEHPK3PXP", module, 4));
            assert_eq!(texts(&got), ["otpauth://totp/A?secret=JBSWY3DPEHPK3PXP"], "{module}");
            assert!(!got.leftovers);
        }
    }

    #[test]
    fn finds_three_finders_in_a_code() {
        assert_eq!(find_finders(&bitmap("hello", 4, 4)).len(), 3);
    }

    #[test]
    fn reads_a_code_seen_at_an_angle_through_its_alignment_pattern() {
        // Version 4 (33 modules): has an alignment pattern.
        let text = "otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP";
        let src = bitmap(text, 6, 4);
        let s = src.w as f32;
        // Output pixels map back into the source square: the top edge is foreshortened and
        // the code leans, as when a phone is held at an angle.
        let out = [(60.0, 40.0), (s - 20.0, 70.0), (s + 30.0, s + 50.0), (20.0, s + 30.0)];
        let square = [(0.0, 0.0), (s, 0.0), (s, s), (0.0, s)];
        let pairs =
            [(out[0], square[0]), (out[1], square[1]), (out[2], square[2]), (out[3], square[3])];
        let back = Mapping::perspective(&pairs).unwrap();
        let (w, h) = (src.w + 80, src.h + 80);
        let mut bits = vec![false; w * h];
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = back.map(x as f32 + 0.5, y as f32 + 0.5);
                if sx >= 0.0 && sy >= 0.0 && (sx as usize) < src.w && (sy as usize) < src.h {
                    bits[y * w + x] = dark(&src, sx as usize, sy as usize);
                }
            }
        }
        let warped = Bitmap { w, h, bits };
        // Not affine: three finders alone do not read it...
        let f = find_finders(&warped);
        assert_eq!(f.len(), 3);
        let (_, tl, tr, bl) = triangle(&f, 0, 1, 2).unwrap();
        assert!(decode_grid(&warped, &Mapping::affine(f[tl], f[tr], f[bl], 33), 33).is_none());
        // ...but the alignment pattern fixes the fourth corner.
        assert_eq!(texts(&read(&warped)), [text]);
    }

    #[test]
    fn blank_bitmap_has_no_codes() {
        let b = Bitmap { w: 50, h: 50, bits: vec![false; 2500] };
        let got = read(&b);
        assert!(got.payloads.is_empty() && !got.leftovers);
    }
}
