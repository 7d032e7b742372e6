//! Grayscale frames and the pixel operations the decoder's retry pipeline needs.
//!
//! These are written by hand rather than taken from `image`/`imageproc` because the core must
//! stay free of image codecs, and because each operation here is a few lines that run on every
//! camera frame: an integral image, a box blur, a 2x down/upscale, Otsu's threshold, an
//! adaptive mean threshold and padding. Keeping them allocation-light is what lets a 1280x720
//! frame go through several binarisations within a live-preview time budget.

use super::QrError;

/// Largest frame accepted, in pixels (a 16K screenshot). Larger input is refused rather than
/// allowed to exhaust memory.
pub const MAX_PIXELS: u64 = 15_360 * 8_640;

/// An 8-bit grayscale (luma) image: what cameras, screens and image files are turned into
/// before decoding. Row-major, one byte per pixel, 0 = black, 255 = white.
#[derive(Clone, PartialEq, Eq)]
pub struct LumaFrame {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl std::fmt::Debug for LumaFrame {
    // The pixels may show a QR code holding a secret: print only the dimensions.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LumaFrame")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl LumaFrame {
    /// Wraps row-major luma bytes; fails when the length does not match the dimensions or the
    /// frame is empty or larger than [`MAX_PIXELS`].
    pub fn new(width: u32, height: u32, pixels: Vec<u8>) -> Result<Self, QrError> {
        let (w, h) = check_dimensions(width, height)?;
        if pixels.len() != w * h {
            return Err(QrError::FrameSize { width, height, actual: pixels.len() });
        }
        Ok(Self { width: w, height: h, pixels })
    }

    /// Converts packed RGB (3 bytes per pixel) to luma with the ITU-R BT.601 weights.
    pub fn from_rgb8(width: u32, height: u32, rgb: &[u8]) -> Result<Self, QrError> {
        Self::from_packed(width, height, rgb, 3)
    }

    /// Converts packed RGBA (4 bytes per pixel) to luma; transparent pixels count as white,
    /// since a transparent screenshot background is shown light.
    pub fn from_rgba8(width: u32, height: u32, rgba: &[u8]) -> Result<Self, QrError> {
        Self::from_packed(width, height, rgba, 4)
    }

    fn from_packed(width: u32, height: u32, data: &[u8], channels: usize) -> Result<Self, QrError> {
        let (w, h) = check_dimensions(width, height)?;
        if data.len() != w * h * channels {
            return Err(QrError::FrameSize { width, height, actual: data.len() / channels });
        }
        let pixels = data
            .chunks_exact(channels)
            .map(|p| {
                let y =
                    (299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2])) / 1000;
                if channels == 4 {
                    // Composite over white: y * a + 255 * (1 - a).
                    let a = u32::from(p[3]);
                    ((y * a + 255 * (255 - a)) / 255) as u8
                } else {
                    y as u8
                }
            })
            .collect();
        Ok(Self { width: w, height: h, pixels })
    }

    /// Returns the width in pixels.
    pub fn width(&self) -> u32 {
        self.width as u32
    }

    /// Returns the height in pixels.
    pub fn height(&self) -> u32 {
        self.height as u32
    }

    /// Returns the row-major luma bytes.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Consumes the frame and returns its luma bytes.
    pub fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }

    pub(crate) fn plane(&self) -> Plane<'_> {
        Plane { w: self.width, h: self.height, px: &self.pixels }
    }
}

fn check_dimensions(width: u32, height: u32) -> Result<(usize, usize), QrError> {
    if width == 0 || height == 0 {
        return Err(QrError::FrameSize { width, height, actual: 0 });
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(QrError::FrameTooLarge { width, height });
    }
    Ok((width as usize, height as usize))
}

/// A borrowed grayscale plane.
#[derive(Clone, Copy)]
pub(crate) struct Plane<'a> {
    pub(crate) w: usize,
    pub(crate) h: usize,
    pub(crate) px: &'a [u8],
}

/// An owned grayscale plane produced by a preprocessing step.
pub(crate) struct OwnedPlane {
    pub(crate) w: usize,
    pub(crate) h: usize,
    pub(crate) px: Vec<u8>,
}

impl OwnedPlane {
    pub(crate) fn view(&self) -> Plane<'_> {
        Plane { w: self.w, h: self.h, px: &self.px }
    }
}

/// A binarised image: `true` is a dark module pixel.
pub(crate) struct Bitmap {
    pub(crate) w: usize,
    pub(crate) h: usize,
    pub(crate) bits: Vec<bool>,
}

/// Summed-area table with wrapping `u32` sums: a box sum is a difference of four entries,
/// and wrapping arithmetic keeps it exact as long as the box itself holds fewer than 2^32 / 255
/// (16.8 million) pixels, which every box we use does. Half the memory of `u64` sums.
struct Integral {
    stride: usize,
    sums: Vec<u32>,
}

impl Integral {
    fn new(p: Plane<'_>) -> Self {
        let stride = p.w + 1;
        let mut sums = vec![0u32; stride * (p.h + 1)];
        for y in 0..p.h {
            let mut row = 0u32;
            let src = &p.px[y * p.w..(y + 1) * p.w];
            let (above, here) = sums.split_at_mut((y + 1) * stride);
            let above = &above[y * stride..];
            for x in 0..p.w {
                row = row.wrapping_add(u32::from(src[x]));
                here[x + 1] = above[x + 1].wrapping_add(row);
            }
        }
        Self { stride, sums }
    }

    /// Sum over the half-open box [x0, x1) x [y0, y1).
    fn sum(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> u32 {
        let s = &self.sums;
        let st = self.stride;
        s[y1 * st + x1]
            .wrapping_sub(s[y0 * st + x1])
            .wrapping_sub(s[y1 * st + x0])
            .wrapping_add(s[y0 * st + x0])
    }
}

/// Mean filter over a (2r+1)^2 box, clipped at the borders: removes sensor noise and JPEG
/// ringing before thresholding.
pub(crate) fn box_blur(p: Plane<'_>, r: usize) -> OwnedPlane {
    let ii = Integral::new(p);
    let mut px = Vec::with_capacity(p.w * p.h);
    for y in 0..p.h {
        let y0 = y.saturating_sub(r);
        let y1 = (y + r + 1).min(p.h);
        for x in 0..p.w {
            let x0 = x.saturating_sub(r);
            let x1 = (x + r + 1).min(p.w);
            let n = ((x1 - x0) * (y1 - y0)) as u32;
            px.push((ii.sum(x0, y0, x1, y1) / n) as u8);
        }
    }
    OwnedPlane { w: p.w, h: p.h, px }
}

/// Halves both dimensions by averaging 2x2 blocks (a large, noisy or JPEG-damaged image gets
/// cleaner and four times cheaper to search).
pub(crate) fn downscale_half(p: Plane<'_>) -> OwnedPlane {
    let w = p.w / 2;
    let h = p.h / 2;
    let mut px = Vec::with_capacity(w * h);
    for y in 0..h {
        let r0 = &p.px[2 * y * p.w..];
        let r1 = &p.px[(2 * y + 1) * p.w..];
        for x in 0..w {
            let s = u16::from(r0[2 * x])
                + u16::from(r0[2 * x + 1])
                + u16::from(r1[2 * x])
                + u16::from(r1[2 * x + 1]);
            px.push(((s + 2) / 4) as u8);
        }
    }
    OwnedPlane { w, h, px }
}

/// Doubles both dimensions with bilinear interpolation, so codes whose modules are only one
/// or two pixels wide get enough pixels for finder-pattern detection.
pub(crate) fn upscale_double(p: Plane<'_>) -> OwnedPlane {
    let w = p.w * 2;
    let h = p.h * 2;
    let mut px = Vec::with_capacity(w * h);
    let at = |x: usize, y: usize| u32::from(p.px[y.min(p.h - 1) * p.w + x.min(p.w - 1)]);
    for y in 0..h {
        // Output pixel centre (y + 0.5) / 2 - 0.5 = (2y - 1) / 4 in source space.
        let sy4 = (2 * y + 1).saturating_sub(2); // 4 * source coordinate, clamped at 0
        let (y0, fy) = (sy4 / 4, (sy4 % 4) as u32);
        for x in 0..w {
            let sx4 = (2 * x + 1).saturating_sub(2);
            let (x0, fx) = (sx4 / 4, (sx4 % 4) as u32);
            let top = at(x0, y0) * (4 - fx) + at(x0 + 1, y0) * fx;
            let bottom = at(x0, y0 + 1) * (4 - fx) + at(x0 + 1, y0 + 1) * fx;
            px.push(((top * (4 - fy) + bottom * fy + 8) / 16) as u8);
        }
    }
    OwnedPlane { w, h, px }
}

/// Returns 255 - p for every pixel: turns a light-on-dark code into an ordinary one.
pub(crate) fn invert(p: Plane<'_>) -> OwnedPlane {
    OwnedPlane { w: p.w, h: p.h, px: p.px.iter().map(|v| 255 - v).collect() }
}

/// Surrounds the plane with `pad` pixels of white: restores the quiet zone a cropped code
/// lacks, which the finder-pattern scan needs to see the outer ring.
pub(crate) fn pad_white(p: Plane<'_>, pad: usize) -> OwnedPlane {
    let w = p.w + 2 * pad;
    let h = p.h + 2 * pad;
    let mut px = vec![255u8; w * h];
    for y in 0..p.h {
        let dst = (y + pad) * w + pad;
        px[dst..dst + p.w].copy_from_slice(&p.px[y * p.w..(y + 1) * p.w]);
    }
    OwnedPlane { w, h, px }
}

/// Otsu's global threshold: the level that maximises the between-class variance of the
/// histogram. Good for evenly lit, low-contrast images where a local mean wanders.
pub(crate) fn otsu_level(p: Plane<'_>) -> u8 {
    let mut hist = [0u64; 256];
    for &v in p.px {
        hist[usize::from(v)] += 1;
    }
    let total = p.px.len() as f64;
    let sum_all: f64 = hist.iter().enumerate().map(|(i, &c)| i as f64 * c as f64).sum();
    let (mut w_b, mut sum_b, mut best, mut level) = (0.0f64, 0.0f64, -1.0f64, 0u8);
    for (t, &c) in hist.iter().enumerate() {
        w_b += c as f64;
        if w_b == 0.0 {
            continue;
        }
        let w_f = total - w_b;
        if w_f == 0.0 {
            break;
        }
        sum_b += t as f64 * c as f64;
        let m_b = sum_b / w_b;
        let m_f = (sum_all - sum_b) / w_f;
        let between = w_b * w_f * (m_b - m_f) * (m_b - m_f);
        if between > best {
            best = between;
            level = t as u8;
        }
    }
    level
}

/// Binarises with a global level: pixels at or below it are dark (or above it, inverted).
pub(crate) fn threshold_global(p: Plane<'_>, level: u8, invert: bool) -> Bitmap {
    let bits = p.px.iter().map(|&v| (v <= level) != invert).collect();
    Bitmap { w: p.w, h: p.h, bits }
}

/// Adaptive mean threshold (Bradley-Roth style, via an integral image): a pixel is dark when it
/// is more than `offset` levels below the mean of its (2r+1)^2 neighbourhood (or above it,
/// inverted). Copes with uneven light and gradients that defeat any single global level.
pub(crate) fn threshold_adaptive(p: Plane<'_>, r: usize, offset: u8, invert: bool) -> Bitmap {
    let ii = Integral::new(p);
    let off = u32::from(offset);
    let st = ii.stride;
    let mut bits = vec![false; p.w * p.h];
    for y in 0..p.h {
        let y0 = y.saturating_sub(r);
        let y1 = (y + r + 1).min(p.h);
        let rows = (y1 - y0) as u32;
        let top = &ii.sums[y0 * st..(y0 + 1) * st];
        let bottom = &ii.sums[y1 * st..(y1 + 1) * st];
        let src = &p.px[y * p.w..(y + 1) * p.w];
        let out = &mut bits[y * p.w..(y + 1) * p.w];
        // Compare v against the mean without dividing: v -/+ offset against sum / n.
        let dark = |v: u8, n: u32, sum: u32| {
            let v = u32::from(v);
            if invert { v.saturating_sub(off) * n > sum } else { (v + off) * n < sum }
        };
        // Near the left and right edges the box is clipped; in between it has the full
        // width, so the interior loop needs no clipping (a third of the pipeline's
        // instructions on a photo went into this function before it was split this way).
        let lo = r.min(p.w);
        let hi = p.w.saturating_sub(r).max(lo);
        for x in (0..lo).chain(hi..p.w) {
            let x0 = x.saturating_sub(r);
            let x1 = (x + r + 1).min(p.w);
            let sum =
                bottom[x1].wrapping_sub(top[x1]).wrapping_sub(bottom[x0]).wrapping_add(top[x0]);
            out[x] = dark(src[x], (x1 - x0) as u32 * rows, sum);
        }
        if hi == lo {
            continue;
        }
        let n = (2 * r + 1) as u32 * rows;
        let (far_b, far_t) = (&bottom[lo + r + 1..hi + r + 1], &top[lo + r + 1..hi + r + 1]);
        let (near_b, near_t) = (&bottom[lo - r..hi - r], &top[lo - r..hi - r]);
        for (i, (v, d)) in src[lo..hi].iter().zip(&mut out[lo..hi]).enumerate() {
            let sum =
                far_b[i].wrapping_sub(far_t[i]).wrapping_sub(near_b[i]).wrapping_add(near_t[i]);
            *d = dark(*v, n, sum);
        }
    }
    Bitmap { w: p.w, h: p.h, bits }
}

/// Returns whether the outermost rows and columns are mostly dark (mean below 56): the sign
/// of a light-on-dark code on a dark page.
pub(crate) fn dark_border(p: Plane<'_>) -> bool {
    let (w, h) = (p.w, p.h);
    let band = (w.min(h) / 50).max(1);
    let mut sum = 0u64;
    let mut n = 0u64;
    for y in (0..band).chain(h.saturating_sub(band)..h) {
        sum += p.px[y * w..(y + 1) * w].iter().map(|&v| u64::from(v)).sum::<u64>();
        n += w as u64;
    }
    for y in 0..h {
        let row = &p.px[y * w..(y + 1) * w];
        sum += row[..band.min(w)]
            .iter()
            .chain(&row[w.saturating_sub(band)..])
            .map(|&v| u64::from(v))
            .sum::<u64>();
        n += 2 * band.min(w) as u64;
    }
    // Dark-mode pages sit at 15-40; a code cropped without quiet zone, whose border is its
    // own finder patterns and data, averages 60-90 and must not count.
    sum < 56 * n
}

/// Surrounds a bitmap with `pad` light pixels (see [`pad_white`]).
pub(crate) fn pad_bitmap(b: &Bitmap, pad: usize) -> Bitmap {
    let w = b.w + 2 * pad;
    let h = b.h + 2 * pad;
    let mut bits = vec![false; w * h];
    for y in 0..b.h {
        let dst = (y + pad) * w + pad;
        bits[dst..dst + b.w].copy_from_slice(&b.bits[y * b.w..(y + 1) * b.w]);
    }
    Bitmap { w, h, bits }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(w: usize, h: usize, px: &[u8]) -> Plane<'_> {
        Plane { w, h, px }
    }

    #[test]
    fn rejects_frame_whose_length_does_not_match() {
        assert!(matches!(LumaFrame::new(4, 4, vec![0; 15]), Err(QrError::FrameSize { .. })));
        assert!(matches!(LumaFrame::new(0, 4, vec![]), Err(QrError::FrameSize { .. })));
        assert!(LumaFrame::new(4, 4, vec![0; 16]).is_ok());
    }

    #[test]
    fn rejects_frame_larger_than_the_limit() {
        assert!(matches!(
            LumaFrame::new(100_000, 100_000, vec![]),
            Err(QrError::FrameTooLarge { .. })
        ));
    }

    #[test]
    fn converts_rgba_with_transparency_to_white() {
        let f = LumaFrame::from_rgba8(2, 1, &[0, 0, 0, 255, 0, 0, 0, 0]).unwrap();
        assert_eq!(f.pixels(), &[0, 255]);
        let f = LumaFrame::from_rgb8(1, 1, &[255, 255, 255]).unwrap();
        assert_eq!(f.pixels(), &[255]);
    }

    #[test]
    fn box_blur_averages_neighbourhood() {
        let px = [0, 0, 0, 0, 90, 0, 0, 0, 0];
        let out = box_blur(plane(3, 3, &px), 1);
        assert_eq!(out.px[4], 10);
        assert_eq!(out.px[0], 22); // corner box holds 4 pixels: 90 / 4
    }

    #[test]
    fn downscale_averages_blocks() {
        let px = [0, 100, 50, 50, 200, 100, 50, 50];
        let out = downscale_half(plane(4, 2, &px));
        assert_eq!((out.w, out.h), (2, 1));
        assert_eq!(out.px, vec![100, 50]);
    }

    #[test]
    fn upscale_keeps_flat_regions_flat() {
        let px = [10u8; 9];
        let out = upscale_double(plane(3, 3, &px));
        assert_eq!((out.w, out.h), (6, 6));
        assert!(out.px.iter().all(|&v| v == 10));
    }

    #[test]
    fn otsu_separates_two_levels() {
        let px = [20, 20, 20, 200, 200, 200];
        let level = otsu_level(plane(6, 1, &px));
        assert!((20..200).contains(&level), "{level}");
        let b = threshold_global(plane(6, 1, &px), level, false);
        assert_eq!(b.bits, vec![true, true, true, false, false, false]);
        let b = threshold_global(plane(6, 1, &px), level, true);
        assert_eq!(b.bits, vec![false, false, false, true, true, true]);
    }

    #[test]
    fn adaptive_threshold_follows_a_gradient() {
        // A dark dot on a bright left side and on a dim right side: one global level cannot
        // catch both, a local mean does.
        let w = 40;
        let mut px: Vec<u8> = (0..w).map(|x| 250 - (x * 5) as u8).collect();
        px[5] = 150; // background there is 225
        px[35] = 30; // background there is 75
        let b = threshold_adaptive(plane(w, 1, &px), 4, 10, false);
        let dark: Vec<usize> = (0..w).filter(|&x| b.bits[x]).collect();
        assert_eq!(dark, vec![5, 35]);
    }

    proptest::proptest! {
        /// The split into clipped edges and a full-width interior changes no pixel: checked
        /// against the plain definition (mean of the clipped box, compared with v -/+ offset).
        #[test]
        fn adaptive_threshold_matches_its_definition(
            w in 1usize..40,
            h in 1usize..12,
            r in 0usize..25,
            offset in 0u8..20,
            invert in proptest::prelude::any::<bool>(),
            seed in proptest::prelude::any::<u64>(),
        ) {
            let mut state = seed | 1;
            let px: Vec<u8> = (0..w * h)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let got = threshold_adaptive(plane(w, h, &px), r, offset, invert);
            for y in 0..h {
                for x in 0..w {
                    let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
                    let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
                    let mut sum = 0u32;
                    for yy in y0..y1 {
                        sum += px[yy * w + x0..yy * w + x1].iter().map(|&v| u32::from(v)).sum::<u32>();
                    }
                    let n = ((x1 - x0) * (y1 - y0)) as u32;
                    let v = u32::from(px[y * w + x]);
                    let want = if invert {
                        v.saturating_sub(u32::from(offset)) * n > sum
                    } else {
                        (v + u32::from(offset)) * n < sum
                    };
                    proptest::prop_assert_eq!(got.bits[y * w + x], want, "x {} y {}", x, y);
                }
            }
        }
    }

    #[test]
    fn notices_a_dark_border() {
        let mut px = vec![20u8; 100];
        assert!(dark_border(plane(10, 10, &px)));
        px.iter_mut().for_each(|v| *v = 230);
        assert!(!dark_border(plane(10, 10, &px)));
        assert!(!dark_border(plane(1, 1, &[200])));
    }

    #[test]
    fn pads_with_light_border() {
        let b = Bitmap { w: 1, h: 1, bits: vec![true] };
        let p = pad_bitmap(&b, 1);
        assert_eq!(p.bits, vec![false, false, false, false, true, false, false, false, false]);
        let g = pad_white(plane(1, 1, &[0]), 1);
        assert_eq!(g.px, vec![255, 255, 255, 255, 0, 255, 255, 255, 255]);
    }
}
