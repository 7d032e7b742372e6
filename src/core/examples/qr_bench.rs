//! QR benchmark helper.
//!
//! `qr_bench gen DIR [PAYLOADS] [SEED]` writes PAYLOADS (default 10) seeded images per
//! condition to DIR as `<condition>__<n>.<png|jpg>`, plus `DIR/expected.tsv` with one
//! `file<TAB>payload` line per code.
//!
//! `qr_bench frames [COUNT] [SEED]` times the decoder on 1280x720 camera-like frames (half
//! holding a code seen in perspective with noise, half without) using the live-preview
//! budget, and prints the median and 95th-percentile time and the hit rate.
//!
//! `qr_bench engines DIR` decodes the photographs made by `scripts/qr-photos.py` in DIR with
//! each detector combination in-process (the CLI's options) and prints codes read and time
//! per condition: the evidence for the engine choice in the `qr` module docs.

#[path = "../tests/qr_support/mod.rs"]
mod qr_support;

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use image::{GrayImage, Luma, imageops};
use qr_support::{Condition, payloads, render, to_frame};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tessera_core::qr::{DecodeOptions, Engine, decode, decode_with};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("gen") => {
            let dir = PathBuf::from(args.get(1).ok_or("gen needs a directory")?);
            let count = args.get(2).map_or(Ok(10), |s| s.parse())?;
            let seed: u64 = args.get(3).map_or(Ok(42), |s| s.parse())?;
            generate(&dir, count, seed)
        }
        Some("frames") => {
            let count = args.get(1).map_or(Ok(40), |s| s.parse())?;
            let seed: u64 = args.get(2).map_or(Ok(7), |s| s.parse())?;
            frames(count, seed);
            Ok(())
        }
        Some("engines") => {
            engines(std::path::Path::new(args.get(1).ok_or("engines needs a directory")?))
        }
        Some("scaling") => {
            scaling();
            Ok(())
        }
        Some("profile") => {
            args[1..].iter().for_each(|p| profile(p));
            Ok(())
        }
        _ => Err("usage: qr_bench gen DIR [PAYLOADS] [SEED] | frames [COUNT] [SEED]".into()),
    }
}

fn generate(
    dir: &std::path::Path,
    count: usize,
    seed: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let mut expected = std::fs::File::create(dir.join("expected.tsv"))?;
    for (ci, condition) in Condition::ALL.into_iter().enumerate() {
        let n = condition.codes();
        // Distinct payloads within a condition, so a batch's output can be scored per file.
        let texts = payloads(count * n, seed.wrapping_add(ci as u64 * 1000));
        for (i, chunk) in texts.chunks(n).enumerate() {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let sample = render(condition, &refs, seed.wrapping_mul(31).wrapping_add(i as u64));
            let name = format!("{}__{i:02}.{}", condition.name(), sample.extension);
            std::fs::write(dir.join(&name), &sample.file)?;
            for text in chunk {
                writeln!(expected, "{name}\t{text}")?;
            }
        }
    }
    Ok(())
}

/// A 1280x720 camera frame: a grey, unevenly lit scene, optionally holding a code in
/// perspective, with sensor noise.
fn camera_frame(text: Option<&str>, rng: &mut StdRng) -> GrayImage {
    let mut frame = GrayImage::from_fn(1280, 720, |x, y| {
        Luma([(90.0 + 60.0 * (x as f32 / 1280.0) + 30.0 * (y as f32 / 720.0)) as u8])
    });
    if let Some(text) = text {
        let seed = rng.random::<u64>();
        let sample = render(Condition::Perspective, &[text], seed);
        let side = rng.random_range(260..420u32);
        let code = imageops::resize(&sample.image, side, side, imageops::FilterType::Triangle);
        let x = rng.random_range(0..1280 - side);
        let y = rng.random_range(0..720 - side);
        imageops::overlay(&mut frame, &code, i64::from(x), i64::from(y));
    }
    for p in frame.pixels_mut() {
        let n: f32 = rng.random_range(-12.0..12.0);
        p.0[0] = (f32::from(p.0[0]) + n).clamp(0.0, 255.0) as u8;
    }
    frame
}

fn frames(count: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let texts = payloads(count, seed);
    let mut with_code = Vec::new();
    let mut without = Vec::new();
    let mut hits = 0;
    let mut hits_unlimited = 0;
    for (i, text) in texts.iter().enumerate() {
        let has_code = i % 2 == 0;
        let frame = to_frame(&camera_frame(has_code.then_some(text.as_str()), &mut rng));
        let start = Instant::now();
        let got = decode_with(&frame, &DecodeOptions::LIVE, engine_from_env());
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        if has_code {
            hits += usize::from(got.payloads.first() == Some(text));
            let unlimited = decode(&frame, &DecodeOptions { budget: None, exhaustive: false });
            hits_unlimited += usize::from(unlimited.payloads.first() == Some(text));
            with_code.push(ms);
        } else {
            without.push(ms);
        }
    }
    let mut all: Vec<f64> = with_code.iter().chain(&without).copied().collect();
    println!(
        "1280x720 frames: {} with a code (decoded {hits} within the live budget, {hits_unlimited} \
         without a budget), {} without",
        with_code.len(),
        without.len()
    );
    println!(
        "median {:.1} ms (with code {:.1} ms, without {:.1} ms), p95 {:.1} ms",
        median(&mut all),
        median(&mut with_code),
        median(&mut without),
        percentile(&mut all, 0.95)
    );
}

/// `QR_ENGINE=rqrr|rxing|rxing-alone` compares the detectors on camera frames too.
fn engine_from_env() -> Engine {
    match std::env::var("QR_ENGINE").as_deref() {
        Ok("rqrr") => Engine::Rqrr,
        Ok("rxing") => Engine::Rxing,
        Ok("rxing-alone") => Engine::RxingAlone,
        _ => Engine::Both,
    }
}

fn engines(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    const ENGINES: [(Engine, &str); 4] = [
        (Engine::Both, "tessera"),
        (Engine::Rqrr, "ours+rqrr"),
        (Engine::Rxing, "ours+rxing"),
        (Engine::RxingAlone, "rxing-alone"),
    ];
    let truth = std::fs::read_to_string(dir.join("truth.tsv"))?;
    let mut files: Vec<(String, Vec<String>)> = Vec::new();
    for line in truth.lines() {
        let (name, payload) = line.split_once('\t').ok_or("bad truth line")?;
        match files.last_mut() {
            Some((n, p)) if n == name => p.push(payload.to_owned()),
            _ => files.push((name.to_owned(), vec![payload.to_owned()])),
        }
    }
    let options =
        DecodeOptions { budget: Some(std::time::Duration::from_secs(10)), exhaustive: false };
    print!("{:<14}", "condition");
    for (_, name) in ENGINES {
        print!("{name:>26}");
    }
    println!();
    // Per engine: codes read, codes, seconds, slowest image.
    let mut total = [(0, 0, 0.0, 0.0f64); 4];
    let mut i = 0;
    while i < files.len() {
        let cond = files[i].0.split("__").next().unwrap_or_default().to_owned();
        let mut row = [(0, 0, 0.0, 0.0f64); 4];
        while i < files.len() && files[i].0.starts_with(&format!("{cond}__")) {
            let (name, want) = &files[i];
            let frame = to_frame(&image::open(dir.join(name))?.to_luma8());
            for (e, (engine, name)) in ENGINES.iter().enumerate() {
                // QR_ENGINES=tessera,rxing... runs only those (ours+rqrr is slow on 12 MP).
                if std::env::var("QR_ENGINES")
                    .is_ok_and(|only| !only.split(',').any(|n| n == *name))
                {
                    continue;
                }
                let start = Instant::now();
                let got = decode_with(&frame, &options, *engine);
                let secs = start.elapsed().as_secs_f64();
                row[e].0 += want.iter().filter(|w| got.payloads.contains(w)).count();
                row[e].1 += want.len();
                row[e].2 += secs;
                row[e].3 = row[e].3.max(secs);
            }
            i += 1;
        }
        print!("{cond:<14}");
        for (e, (read, n, secs, max)) in row.into_iter().enumerate() {
            print!("{:>8} {secs:>7.2}s {max:>5.2}max", format!("{read}/{n}"));
            total[e] = (total[e].0 + read, total[e].1 + n, total[e].2 + secs, total[e].3.max(max));
        }
        println!();
    }
    print!("{:<14}", "total");
    for (read, n, secs, max) in total {
        print!("{:>8} {secs:>7.2}s {max:>5.2}max", format!("{read}/{n}"));
    }
    println!();
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    percentile(v, 0.5)
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Times rqrr's stages on one file (development aid).
pub fn profile(path: &str) {
    let t = Instant::now();
    let img = image::open(path).expect("readable").to_luma8();
    let load = t.elapsed();
    let (w, h) = img.dimensions();
    let t = Instant::now();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            img.get_pixel(x as u32, y as u32).0[0]
        });
    let prep = t.elapsed();
    let t = Instant::now();
    let grids = prepared.detect_grids();
    let det = t.elapsed();
    let t = Instant::now();
    let n = grids.iter().filter(|g| g.decode().is_ok()).count();
    let dec = t.elapsed();
    let frame = to_frame(&img);
    let t = Instant::now();
    let got = decode(&frame, &DecodeOptions::STILL);
    let full = t.elapsed();
    println!(
        "{path}: {w}x{h} load {load:?} prepare {prep:?} detect {det:?} ({} grids) decode {dec:?} ({n} ok); pipeline {full:?} attempts {} found {}",
        grids.len(),
        got.attempts,
        got.payloads.len()
    );
}

/// Times rqrr detection of one payload rendered at several module sizes (development aid).
pub fn scaling() {
    let text = &payloads(1, 1)[0];
    for module in [1u32, 2, 3, 4, 6, 8] {
        let img = qr_support::render_code(text, module, 4);
        let (w, h) = img.dimensions();
        let mut best = std::time::Duration::MAX;
        let mut found = 0;
        for _ in 0..15 {
            let t = Instant::now();
            let mut p = rqrr::PreparedImage::prepare_from_bitmap(w as usize, h as usize, |x, y| {
                img.get_pixel(x as u32, y as u32).0[0] < 128
            });
            let grids = p.detect_grids();
            found = grids.iter().filter(|g| g.decode().is_ok()).count();
            best = best.min(t.elapsed());
        }
        println!("module {module}: {w}x{h} best {best:?} found {found}");
    }
}
