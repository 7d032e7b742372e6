//! Decodes QR codes in image files and prints each payload on its own line (the benchmark's
//! stand-in for `tessera scan --print` until the CLI exists). Files are decoded on as many
//! threads as there are cores; output keeps the order of the arguments.
//!
//! Usage: cargo run --release --example qr_decode -p tessera-core -- FILES...
//!
//! `QR_ENGINE=rqrr|rxing|rxing-alone` picks another detector for comparisons (see
//! `tessera_core::qr::Engine`); the default is what the app uses.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use tessera_core::qr::{DecodeOptions, Engine, LumaFrame, decode_with};

fn decode_file(path: &str) -> Result<Vec<String>, String> {
    let image = image::open(path).map_err(|e| format!("cannot read {path}: {e}"))?.to_luma8();
    let (w, h) = image.dimensions();
    let frame = LumaFrame::new(w, h, image.into_raw()).map_err(|e| format!("{path}: {e}"))?;
    let engine = match std::env::var("QR_ENGINE").as_deref() {
        Ok("rqrr") => Engine::Rqrr,
        Ok("rxing") => Engine::Rxing,
        Ok("rxing-alone") => Engine::RxingAlone,
        _ => Engine::Both,
    };
    // The CLI's budget (`tessera scan`): a still image with the user waiting.
    let options =
        DecodeOptions { budget: Some(std::time::Duration::from_secs(10)), exhaustive: false };
    let decoded = decode_with(&frame, &options, engine);
    for problem in &decoded.problems {
        eprintln!("{path}: {problem}");
    }
    if std::env::var_os("QR_DECODE_STATS").is_some() {
        eprintln!(
            "{path}: {} attempts, {} payloads{}",
            decoded.attempts,
            decoded.payloads.len(),
            if decoded.out_of_time { ", out of time" } else { "" }
        );
    }
    Ok(decoded.payloads)
}

fn main() -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(paths.len());
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, Result<Vec<String>, String>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(i) else { break done };
                        done.push((i, decode_file(path)));
                    }
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
    });
    results.sort_by_key(|(i, _)| *i);
    let mut status = ExitCode::SUCCESS;
    for (_, result) in results {
        match result {
            Ok(payloads) => payloads.iter().for_each(|p| println!("{p}")),
            Err(e) => {
                eprintln!("error: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
