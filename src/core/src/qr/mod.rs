//! QR decoding from images and camera frames; QR encoding for export.
//!
//! Decoding is a retry pipeline of our own pre-processing in front of three detectors.
//! Detectors alone miss what users actually point them at (dark-mode pages, cropped codes
//! without a quiet zone, noisy, blurred or JPEG-damaged frames, uneven light, glare), so
//! [`decode`] tries a sequence of cheap preprocessing variants (adaptive mean and Otsu
//! binarisations, inversion, a white border, blur, 2x down- and upscaling) until one yields
//! codes or the per-frame time budget runs out. On each binarised variant:
//!
//! 1. `locate`: our affine fast path (three finder patterns, the bottom-right alignment
//!    pattern for perspective), which reads flat, sharp codes in well under a millisecond;
//! 2. rxing's port of zxing-cpp's detector (finder-pattern sets, sampling through every
//!    alignment pattern, so dense, curved and strongly tilted codes read);
//! 3. rqrr's detector, for what is still left (it fits a perspective grid by iteration).
//!
//! Every grid, whichever detector sampled it, is read by `grid` (rxing's format/version
//! reading, unmasking, mirrored codes and Reed-Solomon correction) and its data turned into
//! text by `text`, which follows ISO/IEC 18004 for ECI designators, ISO-8859-1 as the byte
//! mode default, Shift_JIS/Kanji, and structured append. A code that reads but whose data is
//! not text is reported in [`Decoded::problems`], never as "nothing found". What a payload
//! means is decided by [`crate::uri`].
//!
//! Frames come from a [`FrameSource`] (camera, screen, file, or a test's replay) and a
//! [`ScanSession`] pulls them until something decodes. Encoding ([`encode`]) uses the `qrcode`
//! crate and renders to a [`LumaFrame`] for display.
//!
//! # Choice of engine
//!
//! Measured in-process with `qr_bench engines` on the 212 photographs (380 codes) of
//! `scripts/qr-photos.py` (seed 42), CLI options (10 s budget), at commit 681e377, i.e.
//! before the pass order was tuned, on a 2-core machine at load 12 (times are inflated
//! about 3-4x; compare them with each other only). Codes read / seconds for all / slowest:
//!
//! | condition    | ours + rxing + rqrr | ours + rqrr (before) | ours + rxing      | rxing alone      |
//! |--------------|---------------------|----------------------|-------------------|------------------|
//! | paper-blur   | 20/20  1.4 s  0.5   | 20/20   1.8 s  0.4   | 20/20  1.2 s  0.3 | 18/20 0.9 s 0.1  |
//! | glare        | 20/20  1.6 s  0.9   | 20/20   2.0 s  0.7   | 20/20  1.5 s  0.8 | 19/20 0.8 s 0.1  |
//! | curved       | 20/20  2.8 s  1.0   | 20/20   3.3 s  1.0   | 20/20  2.6 s  1.0 | 15/20 1.5 s 0.2  |
//! | perspective  | 20/20 10.4 s  2.4   | 20/20   8.8 s  1.9   | 20/20 10.7 s  1.5 | 10/20 2.3 s 0.3  |
//! | screen-moire | 20/20 46.5 s  3.8   | 20/20  39.7 s  3.5   | 20/20 25.7 s  2.0 | 15/20 3.9 s 0.4  |
//! | dark-page    | 20/20  1.3 s  0.1   | 20/20   1.9 s  0.3   | 20/20  1.5 s  0.1 | 17/20 1.8 s 0.2  |
//! | dense (v20-40) | 20/20 6.2 s 1.5   | 20/20  10.8 s  1.1   | 20/20  4.5 s  0.5 | 15/20 4.8 s 0.4  |
//! | sheet (12 MP) | 60/60 5.2 s  2.1   | 42/60  19.1 s  4.5   | 60/60  3.9 s  1.5 | 60/60 2.2 s 0.8  |
//! | mirrored     | 20/20  1.1 s  0.1   | 20/20   1.8 s  0.2   | 20/20  1.0 s  0.1 | 17/20 1.4 s 0.1  |
//! | non-utf8     | 20/20  2.2 s  0.7   | 20/20   2.6 s  0.6   | 20/20  1.7 s  0.5 | 19/20 1.0 s 0.1  |
//! | low-light    | 20/20 34.6 s  3.6   | 20/20  28.4 s  2.9   | 20/20 19.6 s  2.0 | 12/20 3.6 s 0.4  |
//! | many-small (12 MP) | 120/120 30.6 s 20.2 | 57/120 264 s 203 | 119/120 6.6 s 1.5 | 118/120 5.3 s 1.5 |
//! | total        | 380/380 144 s 20.2  | 299/380 384 s 203    | 379/380 80 s 2.0  | 335/380 30 s 1.5 |
//!
//! "rxing alone" is rxing's hybrid binariser and detector on the frame and its inverse (with
//! our text decoding): fast, but it misses a quarter of the perspective, curved, moiré and
//! dark photos that our pre-processing rescues. rqrr reads large photos with many codes badly
//! and slowly (a single pass took 203 s), and adds one code of 380 over rxing's detector. So
//! [`decode`] keeps our pre-processing and fast path, uses rxing's detector behind it, and
//! keeps rqrr only for still frames up to 2 MP (where it is cheap and a last resort). The
//! timing columns above also showed the remaining cost: passes spent on the wrong polarity
//! (a dark desk looks like a dark-mode page) and on chance triples, fixed since; the
//! end-to-end figures after that are in the README (`scripts/qr-bench`). zxing-cpp itself is
//! compared there through its Python binding. Its Rust binding (crate `zxing-cpp`) compiles
//! the C++ library with CMake at build time; it was not tried as an engine, since the
//! combination above already reads at least as much on this tier without a C++ build.

mod encode;
mod frame;
mod grid;
mod locate;
mod scan;
mod text;

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

pub use encode::{QrMatrix, encode};
pub use frame::{LumaFrame, MAX_PIXELS};
pub use scan::{FrameSource, ScanOutcome, ScanSession, ScanStep};
pub use text::TextError;

use frame::{Bitmap, OwnedPlane, Plane};
use grid::Read;
use text::Symbol;

/// Errors from QR decoding, encoding and frame sources.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// The pixel buffer does not match the stated dimensions (or they are zero).
    #[error("frame of {width}x{height} pixels does not match its {actual} pixels of data")]
    FrameSize {
        /// Stated width.
        width: u32,
        /// Stated height.
        height: u32,
        /// Number of pixels actually supplied.
        actual: usize,
    },
    /// The frame is larger than [`MAX_PIXELS`].
    #[error("frame of {width}x{height} pixels is too large to scan")]
    FrameTooLarge {
        /// Width of the refused frame.
        width: u32,
        /// Height of the refused frame.
        height: u32,
    },
    /// The text does not fit in the largest QR code.
    #[error("text is too long for a qr code")]
    TooLong,
    /// The QR encoder refused the text for another reason.
    #[error("qr encoding failed")]
    Encode(#[source] qrcode::types::QrError),
    /// The frame source (camera, screen, file) failed.
    #[error("frame source failed")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// How hard [`decode`] tries on one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Time within which decoding should finish: a further preprocessing variant is started
    /// only if, judged by the slowest variant so far, it will end within the budget. `None`
    /// tries them all. The first variant always runs, so a budget of zero still makes one
    /// attempt.
    pub budget: Option<Duration>,
    /// Keep trying variants after codes were found, to collect every code in an image that
    /// holds several (slower; a still image can afford it, a live preview cannot).
    pub exhaustive: bool,
}

impl DecodeOptions {
    /// Settings for live camera preview: about 25 ms per frame so the preview keeps up.
    pub const LIVE: Self = Self { budget: Some(Duration::from_millis(25)), exhaustive: false };
    /// Settings for a still image (file, screenshot, clipboard): up to two seconds.
    pub const STILL: Self = Self { budget: Some(Duration::from_secs(2)), exhaustive: false };
    /// No time limit, every variant: for tests and benchmarks that must be deterministic.
    pub const THOROUGH: Self = Self { budget: None, exhaustive: true };
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self::STILL
    }
}

/// What [`decode`] found in one frame.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Every distinct payload, in the order found, exactly as the codes hold it (the parts
    /// of a structured-append sequence joined into one).
    pub payloads: Vec<String>,
    /// Codes that were found and read (error correction included) but whose data is not
    /// text: bytes invalid in the character set the code names, an unknown character set,
    /// a malformed data stream, or a sequence of which only some parts were seen.
    pub problems: Vec<TextError>,
    /// Number of preprocessing variants that were run.
    pub attempts: usize,
    /// Whether the time budget stopped the search before every variant was tried.
    pub out_of_time: bool,
}

impl std::fmt::Debug for Decoded {
    // Payloads are usually otpauth URIs carrying secrets: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoded")
            .field("payloads", &self.payloads.len())
            .field("problems", &self.problems)
            .field("attempts", &self.attempts)
            .field("out_of_time", &self.out_of_time)
            .finish()
    }
}

/// One preprocessing variant of the retry pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    /// The frame as given.
    Original,
    /// Averaged down by 2 (large, noisy or JPEG-damaged input).
    Half,
    /// 3x3 mean filter (sensor noise).
    Blurred,
    /// Bilinearly doubled (tiny modules).
    Double,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binarise {
    /// rqrr's own row-wise moving-average threshold.
    Rqrr,
    /// Adaptive mean threshold over a neighbourhood of radius min(w, h) / `div` (a scale
    /// relative to the frame, for codes that fill much of it) ...
    Adaptive { div: usize },
    /// ... or of a fixed radius in pixels: about one module, which sharpens blurred codes.
    AdaptivePx { r: usize, offset: u8 },
    /// Otsu's global threshold.
    Otsu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Variant {
    base: Base,
    binarise: Binarise,
    invert: bool,
    pad: bool,
}

const fn v(base: Base, binarise: Binarise, invert: bool, pad: bool) -> Variant {
    Variant { base, binarise, invert, pad }
}

/// The order in which variants are tried, for frames up to [`LARGE_FRAME`] pixels (camera
/// frames, cropped images): cheapest and most often successful first, so a typical frame
/// costs one detection pass. The order follows measurements on the benchmark set
/// (`scripts/qr-bench`): the adaptive mean rescues uneven light, low contrast, noise and JPEG;
/// windows about one module wide rescue blur; Otsu rescues strong noise; the rest are rarer.
const PIPELINE: &[Variant] = {
    use Base::{Blurred, Double, Half, Original};
    use Binarise::{Adaptive, AdaptivePx, Otsu, Rqrr};
    &[
        v(Original, Adaptive { div: 12 }, false, true),
        v(Original, AdaptivePx { r: 6, offset: 3 }, false, true),
        v(Original, Otsu, false, true),
        v(Original, AdaptivePx { r: 4, offset: 3 }, false, true),
        v(Original, Rqrr, false, false),
        v(Original, AdaptivePx { r: 10, offset: 3 }, false, true),
        v(Blurred, Adaptive { div: 12 }, false, true),
        v(Double, Adaptive { div: 12 }, false, true),
        v(Original, Adaptive { div: 12 }, true, true),
        v(Original, Otsu, true, true),
        v(Original, AdaptivePx { r: 6, offset: 3 }, true, true),
        v(Half, Adaptive { div: 6 }, false, true),
        v(Half, AdaptivePx { r: 4, offset: 3 }, false, true),
        v(Half, AdaptivePx { r: 8, offset: 3 }, false, true),
        v(Half, Otsu, false, true),
        v(Half, Rqrr, false, true),
        v(Half, Adaptive { div: 12 }, true, true),
        v(Double, Adaptive { div: 12 }, true, true),
        v(Blurred, Adaptive { div: 12 }, true, true),
        v(Original, Rqrr, true, true),
    ]
};

/// Frames above this many pixels (screenshots) use [`PIPELINE_LARGE`].
const LARGE_FRAME: usize = 2_000_000;

/// The order for screenshots and large photos, where each pass is costly: the halved frame
/// right after the first pass (it reads the photos' blurred or noisy codes at a quarter of
/// the cost), global Otsu next (page backgrounds are flat), and the one-module windows,
/// which mostly serve blurred camera frames, last.
const PIPELINE_LARGE: &[Variant] = {
    use Base::{Half, Original};
    use Binarise::{Adaptive, AdaptivePx, Otsu, Rqrr};
    &[
        v(Original, Adaptive { div: 12 }, false, true),
        v(Half, Adaptive { div: 12 }, false, true),
        v(Original, Otsu, false, true),
        v(Original, Rqrr, false, false),
        v(Original, Adaptive { div: 12 }, true, true),
        v(Original, Otsu, true, true),
        v(Original, AdaptivePx { r: 4, offset: 3 }, false, true),
        v(Half, Rqrr, false, true),
    ]
};

/// Offset below the local mean for a pixel to count as dark: enough to keep flat paper
/// white under sensor noise, small enough for low-contrast prints.
const ADAPTIVE_OFFSET: u8 = 6;

/// Returns whether a variant makes sense for a frame of this size.
fn applies(variant: Variant, w: usize, h: usize) -> bool {
    match variant.base {
        Base::Original | Base::Blurred => true,
        // Halving a small frame destroys modules; doubling a large one costs too much.
        Base::Half => w.min(h) >= 240,
        Base::Double => w.max(h) <= 1200,
    }
}

/// Decodes every QR code in a grayscale frame, trying preprocessing variants until one finds
/// codes (or all of them, with [`DecodeOptions::exhaustive`]) within the time budget.
/// Returns an empty list when nothing decodes; never panics on any input.
pub fn decode(frame: &LumaFrame, options: &DecodeOptions) -> Decoded {
    decode_with(frame, options, Engine::Both)
}

/// The detectors behind the fast path, for comparing them in `examples/qr_bench.rs`.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Our pre-processing with rxing's detector, then rqrr's for what is left (what
    /// [`decode`] does).
    Both,
    /// Our pre-processing with rqrr's detector only (the pipeline before rxing).
    Rqrr,
    /// Our pre-processing with rxing's detector only.
    Rxing,
    /// rxing's own binariser and detector, nothing of ours but the text decoding.
    RxingAlone,
}

/// [`decode`] with a chosen detector, for benchmarks.
#[doc(hidden)]
pub fn decode_with(frame: &LumaFrame, options: &DecodeOptions, engine: Engine) -> Decoded {
    let detectors = match engine {
        Engine::RxingAlone => return rxing_alone(frame),
        // rqrr rarely reads what rxing's detector did not (see the module docs) and costs as
        // much again per variant: a live preview, which gets the next frame in a moment,
        // spends its budget on more variants instead.
        // On a large photo one rqrr pass can take longer than the CLI's 10 s limit (its
        // region grouping grows with the number of finder-like blobs): rqrr only runs on
        // frames up to camera and screenshot size.
        Engine::Both => Detectors {
            rxing: true,
            rqrr: options.budget.is_none_or(|b| b > LIVE_MAX)
                && frame.plane().w * frame.plane().h <= LARGE_FRAME,
        },
        Engine::Rqrr => Detectors { rxing: false, rqrr: true },
        Engine::Rxing => Detectors { rxing: true, rqrr: false },
    };
    let start = Instant::now();
    let original = frame.plane();
    let mut cache = Bases::default();
    let mut out = Decoded::default();
    let mut found: Vec<Read> = Vec::new();
    let mut since_found = 0;
    let mut slowest = Duration::ZERO;
    let pipeline = if original.w * original.h > LARGE_FRAME { PIPELINE_LARGE } else { PIPELINE };
    let mut schedule = Schedule::new(pipeline, frame::dark_border(original));
    while let Some(variant) = schedule.next(|v| {
        applies(v, original.w, original.h) && (v.binarise != Binarise::Rqrr || detectors.rqrr)
    }) {
        // Start another variant only if it is likely to finish within the budget, judging
        // by the slowest one so far: a live preview must not overrun its frame time.
        let elapsed = start.elapsed();
        if out.attempts > 0 && options.budget.is_some_and(|b| elapsed + slowest > b) {
            out.out_of_time = true;
            break;
        }
        out.attempts += 1;
        let base = cache.base(variant.base, original);
        let result = run_variant(variant, base, detectors);
        slowest = slowest.max(start.elapsed() - elapsed);
        schedule.report(variant, !result.payloads.is_empty(), result.undecoded);
        for read in result.payloads {
            if !found.contains(&read) {
                found.push(read);
            }
        }
        // Stop once something decoded and nothing that looked like a code was left
        // undecoded; otherwise a later variant may read the rest, but only a few more are
        // tried: what still looks like a code then is most often a chance pattern.
        if !options.exhaustive && !found.is_empty() {
            since_found += 1;
            if result.undecoded == 0 || since_found > MORE_AFTER_FOUND {
                break;
            }
        }
    }
    texts(found, &mut out);
    out
}

/// The order of the variants tried on one frame: the pipeline's, adjusted by what the
/// variants tried so far saw.
struct Schedule {
    pipeline: &'static [Variant],
    /// Index of the next pipeline variant.
    next: usize,
    /// Whether pipeline variants are tried with the opposite polarity.
    flip: bool,
    /// Variants to try before the pipeline's next one.
    urgent: VecDeque<Variant>,
    tried: Vec<Variant>,
    /// Whether the first (flipped) variant located a code, once it ran.
    flipped_located: Option<bool>,
}

impl Schedule {
    /// A dark frame border means a light-on-dark code (dark-mode page or app): with `flip`,
    /// every variant is tried with the opposite polarity first. But a photo of a light page
    /// on a dark desk, or any photo in low light, has a dark border too: right after the
    /// first flipped variant comes the same one unflipped, and if only the unflipped one
    /// located a code, the polarity is not flipped after all (see [`Self::report`]).
    fn new(pipeline: &'static [Variant], flip: bool) -> Self {
        let mut urgent = VecDeque::new();
        let mut next = 0;
        if flip && let Some(&first) = pipeline.first() {
            urgent.extend([Variant { invert: !first.invert, ..first }, first]);
            next = 1;
        }
        Self { pipeline, next, flip, urgent, tried: Vec::new(), flipped_located: None }
    }

    /// The next variant not tried yet for which `applies` holds.
    fn next(&mut self, applies: impl Fn(Variant) -> bool) -> Option<Variant> {
        loop {
            let variant = match self.urgent.pop_front() {
                Some(v) => v,
                None => {
                    let v = *self.pipeline.get(self.next)?;
                    self.next += 1;
                    Variant { invert: v.invert != self.flip, ..v }
                }
            };
            if applies(variant) && !self.tried.contains(&variant) {
                self.tried.push(variant);
                return Some(variant);
            }
        }
    }

    /// Takes note of what a variant found: whether it read codes, and how many it located
    /// that did not read.
    fn report(&mut self, variant: Variant, read: bool, undecoded: usize) {
        let located = read || undecoded > 0;
        // The first two variants of a flipped frame are the first pipeline variant flipped
        // and unflipped: when only the unflipped one located a code, the frame is a dark
        // photo of an ordinary code. Measured: in 2 of the 20 low-light photos of
        // `scripts/qr-photos.py` every inverted variant ran before the one that read (16
        // attempts, 1.2 s on a quiet machine, 2.9 and 3.3 s under load).
        if self.flip && self.tried.len() <= 2 {
            match self.flipped_located {
                None => self.flipped_located = Some(located),
                Some(false) if located => self.flip = false,
                Some(_) => {}
            }
        }
        // A code was located but did not read: its modules are there but too noisy (low
        // light, sensor noise, JPEG). The same binarisation of the denoised frame is the
        // likeliest to read it, so it comes next: the halved frame (2x2 means, a quarter of
        // the cost), then the blurred one (for modules too small to halve). Measured on the
        // photographs: the low-light photos that needed 3 to 16 attempts (with the polarity
        // rule above) now need at most 3, the third being the halved frame.
        if undecoded > 0 && variant.base == Base::Original {
            self.urgent.push_front(Variant { base: Base::Blurred, ..variant });
            self.urgent.push_front(Variant { base: Base::Half, ..variant });
        }
    }
}

/// Turns the codes read in a frame into payloads and problems: lone codes one by one, the
/// parts of a structured-append sequence (same part count and parity) joined in order.
fn texts(found: Vec<Read>, out: &mut Decoded) {
    let mut sequences: Vec<Vec<Symbol>> = Vec::new();
    let push = |text: Result<String, TextError>, out: &mut Decoded| match text {
        Ok(text) if !out.payloads.contains(&text) => out.payloads.push(text),
        Ok(_) => {}
        Err(err) if !out.problems.contains(&err) => out.problems.push(err),
        Err(_) => {}
    };
    for read in found {
        match read {
            Ok(symbol) => match symbol.append {
                Some(a) if a.total > 1 => {
                    let key = |s: &Symbol| s.append.map(|b| (b.total, b.parity));
                    match sequences.iter_mut().find(|q| key(&q[0]) == Some((a.total, a.parity))) {
                        Some(seq) if !seq.iter().any(|s| s.append == symbol.append) => {
                            seq.push(symbol);
                        }
                        Some(_) => {}
                        None => sequences.push(vec![symbol]),
                    }
                }
                _ => push(symbol.text(), out),
            },
            Err(err) => push(Err(err), out),
        }
    }
    for seq in sequences {
        let parts: Vec<&Symbol> = seq.iter().collect();
        push(Symbol::join(&parts).and_then(|s| s.text()), out);
    }
}

/// One decoded code and what it means to an authenticator.
pub struct Classified {
    /// The payload exactly as the code holds it.
    pub text: String,
    /// Its meaning according to [`crate::uri::classify`]: an account, a migration batch, a
    /// push enrolment, or why it is none of these (a web link, Wi-Fi, plain text, ...).
    pub payload: Result<crate::uri::Payload, crate::uri::UriError>,
}

impl std::fmt::Debug for Classified {
    // The text is usually an otpauth URI with its secret: show only what kind it is.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.payload {
            Ok(crate::uri::Payload::Account(_)) => "account",
            Ok(crate::uri::Payload::Migration(_)) => "migration batch",
            Ok(crate::uri::Payload::PushEnrolment(_)) => "push enrolment",
            Err(_) => "not an authenticator code",
        };
        f.debug_struct("Classified").field("kind", &kind).finish_non_exhaustive()
    }
}

/// Decodes every code in a frame (see [`decode`]) and classifies each payload with
/// [`crate::uri::classify`].
pub fn decode_and_classify(frame: &LumaFrame, options: &DecodeOptions) -> Vec<Classified> {
    decode(frame, options)
        .payloads
        .into_iter()
        .map(|text| {
            let payload = crate::uri::classify(&text);
            Classified { text, payload }
        })
        .collect()
}

/// Lazily computed preprocessing bases shared by the variants of one frame.
#[derive(Default)]
struct Bases {
    half: Option<OwnedPlane>,
    blurred: Option<OwnedPlane>,
    double: Option<OwnedPlane>,
}

impl Bases {
    fn base<'a>(&'a mut self, base: Base, original: Plane<'a>) -> Plane<'a> {
        match base {
            Base::Original => original,
            Base::Half => self.half.get_or_insert_with(|| frame::downscale_half(original)).view(),
            Base::Blurred => {
                self.blurred.get_or_insert_with(|| frame::box_blur(original, 1)).view()
            }
            Base::Double => {
                self.double.get_or_insert_with(|| frame::upscale_double(original)).view()
            }
        }
    }
}

#[derive(Default)]
struct AttemptResult {
    /// Codes read (their data, or why it is not text).
    payloads: Vec<Read>,
    /// Grids that were located but failed to decode.
    undecoded: usize,
}

/// Width of the white border added around padded variants: a full quiet zone for codes up to
/// the frame's size, and at least 8 pixels.
fn pad_width(p: Plane<'_>) -> usize {
    (p.w.min(p.h) / 8).max(8)
}

fn run_variant(variant: Variant, p: Plane<'_>, detectors: Detectors) -> AttemptResult {
    match variant.binarise {
        Binarise::Rqrr => {
            let inverted;
            let p = if variant.invert {
                inverted = frame::invert(p);
                inverted.view()
            } else {
                p
            };
            let padded;
            let p = if variant.pad {
                padded = frame::pad_white(p, pad_width(p));
                padded.view()
            } else {
                p
            };
            detect(|| {
                let mut img =
                    rqrr::PreparedImage::prepare_from_greyscale(p.w, p.h, |x, y| p.px[y * p.w + x]);
                collect(img.detect_grids())
            })
        }
        Binarise::Adaptive { div } => {
            let r = (p.w.min(p.h) / div).clamp(4, 200);
            let bits = frame::threshold_adaptive(p, r, ADAPTIVE_OFFSET, variant.invert);
            detect_bitmap(&bits, variant.pad.then(|| pad_width(p)), detectors)
        }
        Binarise::AdaptivePx { r, offset } => {
            let bits = frame::threshold_adaptive(p, r, offset, variant.invert);
            detect_bitmap(&bits, variant.pad.then(|| pad_width(p)), detectors)
        }
        Binarise::Otsu => {
            let level = frame::otsu_level(p);
            let bits = frame::threshold_global(p, level, variant.invert);
            detect_bitmap(&bits, variant.pad.then(|| pad_width(p)), detectors)
        }
    }
}

/// Which detectors run behind the fast path.
#[derive(Debug, Clone, Copy)]
struct Detectors {
    rxing: bool,
    rqrr: bool,
}

/// At most this many rounds of grouping finder patterns into triples in one detection pass
/// (see [`detect_rxing`]).
const MAX_GROUPING_ROUNDS: usize = 4;

/// Variants tried after the first that read something, when some candidate was left unread.
const MORE_AFTER_FOUND: usize = 3;

/// Budgets up to this are a live preview's.
const LIVE_MAX: Duration = Duration::from_millis(100);

fn detect_bitmap(bits: &Bitmap, pad: Option<usize>, detectors: Detectors) -> AttemptResult {
    // The fast affine path first (it needs no quiet-zone padding: it treats the outside of
    // the image as light); the full detectors only if it left something unread.
    let mut result = detect(|| {
        let located = locate::read(bits);
        AttemptResult { payloads: located.payloads, undecoded: usize::from(located.leftovers) }
    });
    if !result.payloads.is_empty() && result.undecoded == 0 {
        return result;
    }
    if detectors.rxing {
        let found = detect_rxing(&matrix_of(bits));
        let done = found.undecoded == 0 && !found.payloads.is_empty();
        result.merge(found);
        if done || !detectors.rqrr {
            return result;
        }
    }
    let padded;
    let bits = match pad {
        Some(pad) => {
            padded = frame::pad_bitmap(bits, pad);
            &padded
        }
        None => bits,
    };
    let found = detect(|| {
        let w = bits.w;
        let mut img =
            rqrr::PreparedImage::prepare_from_bitmap(w, bits.h, |x, y| bits.bits[y * w + x]);
        collect(img.detect_grids())
    });
    result.merge(found);
    result
}

impl AttemptResult {
    /// Adds another detector's reads; what it left unread replaces ours (it looked at the
    /// same pixels last).
    fn merge(&mut self, other: Self) {
        for read in other.payloads {
            if !self.payloads.contains(&read) {
                self.payloads.push(read);
            }
        }
        self.undecoded = other.undecoded;
    }
}

/// rxing's bit matrix of a bitmap.
fn matrix_of(bits: &Bitmap) -> rxing::common::BitMatrix {
    let mut matrix = rxing::common::BitMatrix::new(bits.w.max(1) as u32, bits.h.max(1) as u32)
        .expect("invariant: dimensions are non-zero and within MAX_PIXELS");
    for (i, _) in bits.bits.iter().enumerate().filter(|(_, dark)| **dark) {
        matrix.set((i % bits.w) as u32, (i / bits.w) as u32);
    }
    matrix
}

/// Runs rxing's port of zxing-cpp's QR detector on a binarised image: finder patterns found
/// along every third row, grouped into plausible triples, each sampled through its alignment
/// patterns (all of them for dense codes, which tolerates curvature) and read by
/// [`grid::read`].
fn detect_rxing(matrix: &rxing::common::BitMatrix) -> AttemptResult {
    detect_rxing_rounds(matrix, MAX_GROUPING_ROUNDS)
}

/// [`detect_rxing`] with at most `rounds` rounds of grouping finder patterns.
fn detect_rxing_rounds(matrix: &rxing::common::BitMatrix, rounds: usize) -> AttemptResult {
    use rxing::common::DetectorRXingResult;
    use rxing::qrcode::cpp_port::detector::{
        FindFinderPatterns, GenerateFinderPatternSets, SampleQR,
    };
    detect(|| {
        let mut result = AttemptResult::default();
        let mut patterns = FindFinderPatterns(matrix, true, 0);
        let mut used = Vec::new();
        let mut failed = Vec::new();
        // rxing pairs each finder pattern only with its 15 nearest plausible partners. On a
        // photo crowded with codes (a wall of labels), the chance patterns in neighbouring
        // codes' data can crowd out a code's own finders, and that code is never even tried
        // (one of 120 codes in the many-small photos, in every binarisation). So the
        // patterns no read code claimed are grouped again, as long as a round reads more.
        for round in 0..rounds {
            let read_before = used.len();
            if round > 0 {
                patterns.retain(|p| !used.contains(p));
            }
            for set in GenerateFinderPatternSets(&mut patterns) {
                if [set.bl, set.tl, set.tr].iter().any(|p| used.contains(p)) {
                    continue;
                }
                if round > 0 && failed.contains(&set) {
                    continue;
                }
                // Triples that cannot even be sampled are chance patterns (moiré, text, data
                // modules of other codes), not codes left unread.
                let Ok(sampled) = SampleQR(matrix, &set) else { continue };
                match grid::read(sampled.getBits()) {
                    Some(read) => {
                        used.extend([set.bl, set.tl, set.tr]);
                        if !result.payloads.contains(&read) {
                            result.payloads.push(read);
                        }
                    }
                    None => failed.push(set),
                }
            }
            // Nothing was read (a single code needs no second look), or this round added
            // nothing: regrouping the same patterns again cannot find more.
            if used.len() == read_before
                || patterns.iter().filter(|p| !used.contains(p)).count() < 3
            {
                break;
            }
        }
        // A triple none of whose finders belongs to a code that was read may be a code
        // this binarisation could not read.
        result.undecoded =
            failed.iter().filter(|s| [s.bl, s.tl, s.tr].iter().all(|p| !used.contains(p))).count();
        result
    })
}

/// rxing alone, as a reference for the benchmark: its hybrid binariser (ZXing's local block
/// threshold) and its detector, on the frame and on its inverse.
fn rxing_alone(frame: &LumaFrame) -> Decoded {
    use rxing::common::HybridBinarizer;
    use rxing::{Binarizer, Luma8Source};
    let mut found: Vec<Read> = Vec::new();
    let p = frame.plane();
    for invert in [false, true] {
        let px = if invert { frame::invert(p).px } else { p.px.to_vec() };
        let result = detect(|| {
            let Ok(source) = Luma8Source::new(px, p.w as u32, p.h as u32) else {
                return AttemptResult::default();
            };
            let binarizer = HybridBinarizer::new(source);
            match binarizer.get_black_matrix() {
                Ok(matrix) => detect_rxing(matrix),
                Err(_) => AttemptResult::default(),
            }
        });
        for read in result.payloads {
            if !found.contains(&read) {
                found.push(read);
            }
        }
    }
    let mut out = Decoded { attempts: 2, ..Decoded::default() };
    texts(found, &mut out);
    out
}

/// Runs rqrr's grid detection and decoding on a prepared image.
///
/// rqrr has had panics on adversarial input (index and arithmetic overflow in its geometry
/// code); a scanner points at arbitrary pixels, so a panic inside one attempt is contained and
/// counted as "nothing found" instead of taking the app down.
fn detect<F>(attempt: F) -> AttemptResult
where
    F: FnOnce() -> AttemptResult,
{
    catch_unwind(AssertUnwindSafe(attempt)).unwrap_or_default()
}

/// Reads the grids rqrr located, counting those that fail.
fn collect<G: rqrr::BitGrid>(grids: Vec<rqrr::Grid<G>>) -> AttemptResult {
    let mut result = AttemptResult::default();
    for found in grids {
        let g = &found.grid;
        match grid::read_fn(g.size(), |x, y| g.bit(y, x)) {
            Some(read) => {
                if !result.payloads.contains(&read) {
                    result.payloads.push(read);
                }
            }
            None => result.undecoded += 1,
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_frame(text: &str, module: u32, quiet: u32) -> LumaFrame {
        encode(text).unwrap().to_luma(module, quiet)
    }

    #[test]
    fn decodes_a_clean_code_in_one_attempt() {
        let frame = code_frame("otpauth://totp/A?secret=JBSWY3DPEHPK3PXP", 4, 4);
        let got = decode(&frame, &DecodeOptions::STILL);
        assert_eq!(got.payloads, vec!["otpauth://totp/A?secret=JBSWY3DPEHPK3PXP"]);
        assert_eq!(got.attempts, 1);
    }

    #[test]
    fn blank_frame_decodes_to_nothing() {
        let frame = LumaFrame::new(64, 48, vec![200; 64 * 48]).unwrap();
        let got = decode(&frame, &DecodeOptions::THOROUGH);
        assert!(got.payloads.is_empty());
        assert!(got.attempts > 1);
        assert!(!got.out_of_time);
    }

    #[test]
    fn zero_budget_still_makes_one_attempt() {
        let frame = LumaFrame::new(300, 300, vec![0; 300 * 300]).unwrap();
        let got = decode(&frame, &DecodeOptions { budget: Some(Duration::ZERO), exhaustive: true });
        assert_eq!(got.attempts, 1);
        assert!(got.out_of_time);
    }

    #[test]
    fn inverted_code_without_quiet_zone_decodes() {
        let frame = code_frame("hello", 5, 0);
        let inverted: Vec<u8> = frame.pixels().iter().map(|v| 255 - v).collect();
        let frame = LumaFrame::new(frame.width(), frame.height(), inverted).unwrap();
        assert_eq!(decode(&frame, &DecodeOptions::THOROUGH).payloads, vec!["hello"]);
    }

    #[test]
    fn tiny_frames_do_not_panic() {
        for (w, h) in [(1, 1), (1, 50), (50, 1), (2, 2), (3, 7)] {
            let frame = LumaFrame::new(w, h, vec![0; (w * h) as usize]).unwrap();
            assert!(decode(&frame, &DecodeOptions::THOROUGH).payloads.is_empty());
        }
    }

    #[test]
    fn classifies_every_code_in_a_frame() {
        use crate::uri::{Payload, QrKind, UriError};
        let account = "otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example";
        let a = code_frame(account, 3, 4);
        let b = code_frame("https://example.com/welcome", 3, 4);
        // Two codes side by side in one frame.
        let (w, h) = (a.width() as usize + b.width() as usize, a.height().max(b.height()) as usize);
        let mut px = vec![255u8; w * h];
        for (img, x0) in [(&a, 0), (&b, a.width() as usize)] {
            let iw = img.width() as usize;
            for (y, row) in img.pixels().chunks(iw).enumerate() {
                px[y * w + x0..y * w + x0 + iw].copy_from_slice(row);
            }
        }
        let frame = LumaFrame::new(w as u32, h as u32, px).unwrap();
        let mut got = decode_and_classify(&frame, &DecodeOptions::THOROUGH);
        got.sort_by(|x, y| x.text.cmp(&y.text));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].text, "https://example.com/welcome");
        assert!(matches!(got[0].payload, Err(UriError::NotAnAccount { kind: QrKind::WebLink })));
        assert_eq!(got[1].text, account);
        assert!(matches!(got[1].payload, Ok(Payload::Account(_))));
        assert!(!format!("{got:?}").contains("JBSWY3DP"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Arbitrary pixels (noise, stripes, partial codes) never panic and never decode to
        /// anything but what a code holds.
        #[test]
        fn arbitrary_frames_do_not_panic(
            w in 1u32..160,
            h in 1u32..160,
            seed in proptest::prelude::any::<u64>(),
            stripes in proptest::prelude::any::<bool>(),
        ) {
            let mut state = seed | 1;
            let px = (0..w * h)
                .map(|i| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    if stripes { if (i % w) / 3 % 2 == 0 { 0 } else { 255 } } else { state as u8 }
                })
                .collect();
            let frame = LumaFrame::new(w, h, px).unwrap();
            let got = decode(&frame, &DecodeOptions::THOROUGH);
            proptest::prop_assert!(got.payloads.is_empty());
        }
    }

    #[test]
    fn damaged_code_is_read_or_rejected_without_panic() {
        let frame = code_frame("otpauth://totp/A?secret=JBSWY3DPEHPK3PXP", 4, 4);
        let (w, h) = (frame.width(), frame.height());
        let mut px = frame.into_pixels();
        // Wipe a band through the middle of the code.
        let row = w as usize;
        for y in h as usize / 2 - 6..h as usize / 2 + 6 {
            px[y * row..(y + 1) * row].fill(255);
        }
        let got = decode(&LumaFrame::new(w, h, px).unwrap(), &DecodeOptions::THOROUGH);
        assert!(got.payloads.len() <= 1);
        if let Some(p) = got.payloads.first() {
            assert_eq!(p, "otpauth://totp/A?secret=JBSWY3DPEHPK3PXP");
        }
    }

    /// Pastes `frame` into `px` (row length `w`) with its top-left corner at (x0, y0).
    fn paste(px: &mut [u8], w: usize, frame: &LumaFrame, x0: usize, y0: usize) {
        let fw = frame.width() as usize;
        for (y, row) in frame.pixels().chunks(fw).enumerate() {
            px[(y0 + y) * w + x0..(y0 + y) * w + x0 + fw].copy_from_slice(row);
        }
    }

    /// A label sheet: a 7 x 7 grid of small codes (3-pixel modules, 2-module quiet zones)
    /// with one large code (6-pixel modules) in place of the middle 3 x 3 labels, so the large
    /// code's finder patterns are surrounded by dozens of the small codes' finders, all
    /// nearer than its own.
    fn crowded_sheet() -> (LumaFrame, Vec<String>) {
        let small = |i: usize| code_frame(&format!("otpauth://totp/L{i}?secret=JBSWY3DP"), 3, 2);
        let pitch = (0..49).map(|i| small(i).width() as usize).max().unwrap();
        let w = 7 * pitch;
        let mut px = vec![255u8; w * w];
        let mut texts = Vec::new();
        for i in 0..49 {
            let (col, row) = (i % 7, i / 7);
            if (2..5).contains(&col) && (2..5).contains(&row) {
                continue;
            }
            paste(&mut px, w, &small(i), col * pitch, row * pitch);
            texts.push(format!("otpauth://totp/L{i}?secret=JBSWY3DP"));
        }
        let text = "otpauth://totp/Big:alice?secret=JBSWY3DPEHPK3PXP";
        let big = code_frame(text, 6, 2);
        let at = (w - big.width() as usize) / 2;
        paste(&mut px, w, &big, at, at);
        texts.push(text.to_owned());
        (LumaFrame::new(w as u32, w as u32, px).unwrap(), texts)
    }

    #[test]
    fn reads_every_code_on_a_crowded_sheet() {
        let (frame, mut want) = crowded_sheet();
        let mut got = decode(&frame, &DecodeOptions::STILL).payloads;
        got.sort();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn finder_patterns_left_over_are_grouped_again() {
        // rxing pairs each finder with its 15 nearest candidates only: a single grouping
        // round leaves the large code untried; the second round, without the small codes'
        // finders, reads it.
        let (frame, want) = crowded_sheet();
        let bits = frame::threshold_adaptive(frame.plane(), 40, ADAPTIVE_OFFSET, false);
        let matrix = matrix_of(&bits);
        let one = detect_rxing_rounds(&matrix, 1).payloads.len();
        assert!(one < want.len(), "one round read {one} of {}", want.len());
        assert_eq!(detect_rxing(&matrix).payloads.len(), want.len());
    }

    /// A code photographed in low light: paper at 75, ink at 8, on a desk at about 25, with
    /// sensor noise of standard deviation `sigma`: the border is dark, but the code is not
    /// inverted.
    fn low_light_frame(text: &str, seed: u64, sigma: f32) -> LumaFrame {
        let code = code_frame(text, 6, 4);
        let (w, h) = (480usize, 400usize);
        let mut px = vec![0u8; w * h];
        let (cw, x0, y0) = (code.width() as usize, 60usize, 40usize);
        let mut state = seed | 1;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        for y in 0..h {
            for x in 0..w {
                let inside = (x0..x0 + cw).contains(&x) && (y0..y0 + cw).contains(&y);
                let base = if inside {
                    if code.pixels()[(y - y0) * cw + x - x0] == 0 { 8.0 } else { 75.0 }
                } else {
                    20.0 + 10.0 * x as f32 / w as f32
                };
                // Sum of four uniforms: roughly Gaussian with the given σ.
                let noise = (uniform() + uniform() + uniform() + uniform() - 2.0) * 1.73 * sigma;
                px[y * w + x] = (base + noise).clamp(0.0, 255.0) as u8;
            }
        }
        LumaFrame::new(w as u32, h as u32, px).unwrap()
    }

    #[test]
    fn noisy_low_light_code_reads_within_a_few_attempts() {
        let text = "otpauth://totp/Dark:alice?secret=JBSWY3DPEHPK3PXP&issuer=Dark";
        for seed in 1..=3 {
            let frame = low_light_frame(text, seed, 20.0);
            assert!(frame::dark_border(frame.plane()));
            let got = decode(&frame, &DecodeOptions { budget: None, exhaustive: false });
            assert_eq!(got.payloads, vec![text], "seed {seed}");
            // Flipped first variant, the unflipped one (locates the code, too noisy to
            // read), then the same on the halved frame, which reads it.
            assert!(got.attempts <= 3, "seed {seed}: {} attempts", got.attempts);
        }
    }

    #[test]
    fn dark_photo_of_an_ordinary_code_drops_the_flip() {
        let first = PIPELINE[0];
        let mut s = Schedule::new(PIPELINE, true);
        let all = |_| true;
        assert_eq!(s.next(all), Some(Variant { invert: true, ..first }));
        s.report(Variant { invert: true, ..first }, false, 0);
        assert_eq!(s.next(all), Some(first));
        s.report(first, false, 1);
        // Located but unread: the denoised frames come next, then the pipeline unflipped.
        assert_eq!(s.next(all), Some(Variant { base: Base::Half, ..first }));
        assert_eq!(s.next(all), Some(Variant { base: Base::Blurred, ..first }));
        assert_eq!(s.next(all), Some(PIPELINE[1]));
    }

    #[test]
    fn dark_mode_page_keeps_the_flip() {
        let first = PIPELINE[0];
        let mut s = Schedule::new(PIPELINE, true);
        let all = |_| true;
        assert_eq!(s.next(all), Some(Variant { invert: true, ..first }));
        s.report(Variant { invert: true, ..first }, false, 0);
        assert_eq!(s.next(all), Some(first));
        // Neither located anything: a light-on-dark code stays the likelier reading.
        s.report(first, false, 0);
        assert_eq!(s.next(all), Some(Variant { invert: !PIPELINE[1].invert, ..PIPELINE[1] }));
    }

    #[test]
    fn schedule_tries_each_variant_once() {
        let mut s = Schedule::new(PIPELINE, false);
        let mut seen = Vec::new();
        while let Some(v) = s.next(|_| true) {
            assert!(!seen.contains(&v));
            seen.push(v);
            s.report(v, false, 1);
        }
        assert!(seen.len() >= PIPELINE.len());
    }

    #[test]
    fn debug_output_hides_payloads() {
        let got = Decoded { payloads: vec!["otpauth://secret".into()], ..Decoded::default() };
        assert!(!format!("{got:?}").contains("secret"));
    }
}
