//! Our own QR test images: renders codes with `tessera_core::qr::encode` and degrades them
//! under the conditions users meet (dark mode, cropping, camera noise and blur, bad light,
//! perspective, rotation, JPEG, tiny codes in screenshots, several codes at once).
//!
//! Shared by the decode tests (`tests/qr_conditions.rs`) and the benchmark generator
//! (`examples/qr_bench_gen.rs`). Everything is seeded: the same seed gives the same pixels.
#![allow(dead_code, unreachable_pub)]

use image::{GrayImage, Luma, imageops};
use imageproc::geometric_transformations::{
    Border, Interpolation, Projection, rotate_about_center, warp,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A degradation applied to rendered codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Plain,
    Inverted,
    NoQuietZone,
    Noise,
    Blur,
    LowContrast,
    Gradient,
    Perspective,
    Rotate30,
    Rotate90,
    Jpeg,
    SmallInScreenshot,
    Multi,
    /// Everything a phone camera does at once: perspective, blur, uneven light, sensor noise
    /// and JPEG compression.
    Camera,
}

impl Condition {
    pub const ALL: [Self; 14] = [
        Self::Plain,
        Self::Inverted,
        Self::NoQuietZone,
        Self::Noise,
        Self::Blur,
        Self::LowContrast,
        Self::Gradient,
        Self::Perspective,
        Self::Rotate30,
        Self::Rotate90,
        Self::Jpeg,
        Self::SmallInScreenshot,
        Self::Multi,
        Self::Camera,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Inverted => "inverted",
            Self::NoQuietZone => "no-quiet-zone",
            Self::Noise => "noise",
            Self::Blur => "blur",
            Self::LowContrast => "low-contrast",
            Self::Gradient => "uneven-light",
            Self::Perspective => "perspective",
            Self::Rotate30 => "rotate-30",
            Self::Rotate90 => "rotate-90",
            Self::Jpeg => "jpeg",
            Self::SmallInScreenshot => "small-in-screenshot",
            Self::Multi => "multi",
            Self::Camera => "camera",
        }
    }

    /// How many payloads one image of this condition holds.
    pub fn codes(self) -> usize {
        if self == Self::Multi { 3 } else { 1 }
    }
}

/// A rendered test image: the pixels the decoder sees and the file bytes a benchmark writes.
pub struct Sample {
    pub image: GrayImage,
    /// Encoded file contents (PNG, or the JPEG itself for [`Condition::Jpeg`]).
    pub file: Vec<u8>,
    pub extension: &'static str,
}

/// Realistic payloads: otpauth URIs of varied length with random secrets.
pub fn payloads(count: usize, seed: u64) -> Vec<String> {
    const ISSUERS: [&str; 6] = ["GitHub", "Example Corp", "Bank", "Mail", "VPN", "Cloud"];
    const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let issuer = ISSUERS[i % ISSUERS.len()];
            let secret_len = [16, 26, 32, 52][i % 4];
            let secret: String =
                (0..secret_len).map(|_| B32[rng.random_range(0..32)] as char).collect();
            let user = format!("user{}@example.com", rng.random_range(0..10_000));
            let issuer_q = issuer.replace(' ', "%20");
            match i % 3 {
                0 => format!("otpauth://totp/{issuer_q}:{user}?secret={secret}&issuer={issuer_q}"),
                1 => format!(
                    "otpauth://totp/{issuer_q}:{user}?secret={secret}&issuer={issuer_q}&algorithm=SHA256&digits=8&period=30"
                ),
                _ => format!("otpauth://hotp/{user}?secret={secret}&counter={}", rng.random_range(0..1000)),
            }
        })
        .collect()
}

/// Renders one code black on white with `module` pixels per module and `quiet` quiet modules.
pub fn render_code(text: &str, module: u32, quiet: u32) -> GrayImage {
    let frame = tessera_core::qr::encode(text).expect("test payload fits").to_luma(module, quiet);
    GrayImage::from_raw(frame.width(), frame.height(), frame.into_pixels()).expect("sized")
}

/// Converts an image for the decoder.
pub fn to_frame(image: &GrayImage) -> tessera_core::qr::LumaFrame {
    tessera_core::qr::LumaFrame::new(image.width(), image.height(), image.as_raw().clone())
        .expect("valid image")
}

fn png(image: &GrayImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).expect("png encodes");
    out.into_inner()
}

fn gauss(rng: &mut StdRng) -> f32 {
    // Box-Muller; u1 is kept away from 0 so ln stays finite.
    let u1: f32 = rng.random_range(1e-6..1.0);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

fn add_noise(image: &mut GrayImage, sigma: f32, rng: &mut StdRng) {
    for p in image.pixels_mut() {
        p.0[0] = (f32::from(p.0[0]) + sigma * gauss(rng)).clamp(0.0, 255.0) as u8;
    }
}

fn map_levels(image: &mut GrayImage, dark: u8, light: u8) {
    for p in image.pixels_mut() {
        let t = f32::from(p.0[0]) / 255.0;
        p.0[0] = (f32::from(dark) + t * f32::from(light - dark)).round() as u8;
    }
}

fn canvas(w: u32, h: u32, code: &GrayImage, x: u32, y: u32) -> GrayImage {
    let mut c = GrayImage::from_pixel(w, h, Luma([255]));
    imageops::overlay(&mut c, code, i64::from(x), i64::from(y));
    c
}

/// Renders `texts` (one, or three for [`Condition::Multi`]) under `condition`.
pub fn render(condition: Condition, texts: &[&str], seed: u64) -> Sample {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15);
    let text = texts[0];
    let mut extension = "png";
    let mut file = None;
    let image = match condition {
        Condition::Plain => render_code(text, rng.random_range(3..7), 4),
        Condition::Inverted => {
            let mut img = render_code(text, rng.random_range(3..7), 4);
            imageops::invert(&mut img);
            // Dark-mode page: the code sits on a dark background, not on a white frame.
            let (w, h) = img.dimensions();
            let mut page = GrayImage::from_pixel(w + 80, h + 80, Luma([24]));
            imageops::overlay(&mut page, &img, 40, 40);
            page
        }
        Condition::NoQuietZone => render_code(text, rng.random_range(3..7), 0),
        Condition::Noise => {
            let mut img = render_code(text, 5, 4);
            add_noise(&mut img, 40.0, &mut rng);
            img
        }
        Condition::Blur => {
            let module = 6;
            let img = render_code(text, module, 4);
            imageproc::filter::gaussian_blur_f32(&img, module as f32 * rng.random_range(0.35..0.45))
        }
        Condition::LowContrast => {
            let mut img = render_code(text, 5, 4);
            let dark = rng.random_range(105..120);
            map_levels(&mut img, dark, dark + 35);
            add_noise(&mut img, 3.0, &mut rng);
            img
        }
        Condition::Gradient => {
            let mut img = render_code(text, 5, 4);
            map_levels(&mut img, 40, 235);
            let (w, h) = img.dimensions();
            let (cx, cy) = (rng.random_range(0.0..1.0f32), rng.random_range(0.0..1.0f32));
            // Light falls off from a bright spot: 100 % there, down to 15 % in the far corner.
            for (x, y, p) in img.enumerate_pixels_mut() {
                let dx = x as f32 / w as f32 - cx;
                let dy = y as f32 / h as f32 - cy;
                let light = (1.0 - 0.85 * ((dx * dx + dy * dy).sqrt() / 1.2)).clamp(0.15, 1.0);
                p.0[0] = (f32::from(p.0[0]) * light) as u8;
            }
            img
        }
        Condition::Perspective => {
            let code = render_code(text, 6, 4);
            let s = code.width() as f32;
            let m = s * 0.3;
            let big = canvas((s + 2.0 * m) as u32, (s + 2.0 * m) as u32, &code, m as u32, m as u32);
            let k = rng.random_range(0.18..0.25) * s;
            let from = [(m, m), (m + s, m), (m + s, m + s), (m, m + s)];
            // The far edge (top) shrinks and the code leans: a phone held at an angle.
            let to =
                [(m + k, m + k * 0.5), (m + s - k * 0.6, m), (m + s, m + s), (m, m + s - k * 0.3)];
            let projection = Projection::from_control_points(from, to).expect("non-degenerate");
            warp(&big, projection, Interpolation::Bilinear, Border::Constant(Luma([255])))
        }
        Condition::Rotate30 => {
            let code = render_code(text, 5, 4);
            let s = code.width();
            let big = canvas(s * 3 / 2, s * 3 / 2, &code, s / 4, s / 4);
            let angle = (30.0f32 + rng.random_range(-3.0..3.0)).to_radians();
            rotate_about_center(&big, angle, Interpolation::Bilinear, Border::Constant(Luma([255])))
        }
        Condition::Rotate90 => imageops::rotate90(&render_code(text, rng.random_range(3..6), 4)),
        Condition::Jpeg => {
            let code = render_code(text, 4, 4);
            // A non-integer resize first, as a screenshot or photo gives: soft module edges.
            let w = (code.width() as f32 * rng.random_range(1.15..1.4)) as u32;
            let img = imageops::resize(&code, w, w, imageops::FilterType::Triangle);
            let mut bytes = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 12)
                .encode_image(&img)
                .expect("jpeg encodes");
            let decoded = image::load_from_memory(&bytes).expect("jpeg decodes").to_luma8();
            extension = "jpg";
            file = Some(bytes);
            decoded
        }
        Condition::SmallInScreenshot => {
            let code = render_code(text, 3, 4);
            let small = imageops::resize(&code, 120, 120, imageops::FilterType::Triangle);
            let mut page = GrayImage::from_pixel(2560, 1440, Luma([245]));
            // Page clutter: text-like bars and boxes of various greys.
            for _ in 0..400 {
                let (x, y) = (rng.random_range(0..2500u32), rng.random_range(0..1420u32));
                let (w, h) = (rng.random_range(10..300u32), rng.random_range(4..14u32));
                let grey = rng.random_range(0..200u8);
                imageproc::drawing::draw_filled_rect_mut(
                    &mut page,
                    imageproc::rect::Rect::at(x as i32, y as i32).of_size(w, h),
                    Luma([grey]),
                );
            }
            let (x, y) = (rng.random_range(0..2400u32), rng.random_range(0..1280u32));
            imageproc::drawing::draw_filled_rect_mut(
                &mut page,
                imageproc::rect::Rect::at(x as i32 - 20, y as i32 - 20).of_size(160, 160),
                Luma([255]),
            );
            imageops::overlay(&mut page, &small, i64::from(x), i64::from(y));
            page
        }
        Condition::Multi => {
            let codes: Vec<GrayImage> = texts.iter().map(|t| render_code(t, 4, 4)).collect();
            let w: u32 =
                codes.iter().map(GrayImage::width).sum::<u32>() + 40 * (codes.len() as u32 + 1);
            let h = codes.iter().map(GrayImage::height).max().unwrap_or(0) + 80;
            let mut page = GrayImage::from_pixel(w, h, Luma([255]));
            let mut x = 40;
            for code in &codes {
                let y = rng.random_range(10..=(h - code.height() - 10));
                imageops::overlay(&mut page, code, i64::from(x), i64::from(y));
                x += code.width() + 40;
            }
            page
        }
        Condition::Camera => {
            let warped = render(Condition::Perspective, texts, seed).image;
            let mut img = imageproc::filter::gaussian_blur_f32(&warped, rng.random_range(0.8..1.4));
            let (w, h) = img.dimensions();
            for (x, y, p) in img.enumerate_pixels_mut() {
                let light = 0.55 + 0.45 * (x as f32 / w as f32 * 0.7 + y as f32 / h as f32 * 0.3);
                p.0[0] = (f32::from(p.0[0]) * light) as u8;
            }
            add_noise(&mut img, 10.0, &mut rng);
            let mut bytes = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 60)
                .encode_image(&img)
                .expect("jpeg encodes");
            let decoded = image::load_from_memory(&bytes).expect("jpeg decodes").to_luma8();
            extension = "jpg";
            file = Some(bytes);
            decoded
        }
    };
    let file = file.unwrap_or_else(|| png(&image));
    Sample { image, file, extension }
}
