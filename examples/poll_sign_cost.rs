//! The CPU cost of one privacyIDEA poll's signature: privacyIDEA's push protocol has the
//! device sign every poll (`serial|timestamp`) with its RSA-4096 key (PKCS#1 v1.5, SHA-256),
//! which is most of what polling every 3 s costs. `scripts/measure-tray.py` multiplies this
//! by the polls it counts in privacyIDEA's log.
//!
//! `cargo run --release --example poll_sign_cost [-- SIGNATURES]` prints the median.

use std::time::Instant;

use tessera_core::push::DeviceKey;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let key = DeviceKey::generate().expect("an RSA-4096 key");
    let message = "PIPU0001A2B3|2026-12-06T18:00:00.000000+00:00";
    let mut times: Vec<f64> = (0..n.max(1))
        .map(|_| {
            let start = Instant::now();
            let signature = key.sign(message).expect("a signature");
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            assert!(!signature.is_empty());
            ms
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "RSA-4096 poll signature over {} runs: median {:.3} ms",
        times.len(),
        times[times.len() / 2]
    );
}
