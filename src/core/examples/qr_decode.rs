//! Decodes QR codes in image files and prints each payload on its own line (the benchmark's
//! stand-in for `tessera scan --print` until the CLI exists).
//!
//! Usage: cargo run --release --example qr_decode -p tessera-core -- FILES...

use std::process::ExitCode;

use tessera_core::qr::{DecodeOptions, LumaFrame, decode};

fn main() -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for path in std::env::args().skip(1) {
        let image = match image::open(&path) {
            Ok(image) => image.to_luma8(),
            Err(e) => {
                eprintln!("error: cannot read {path}: {e}");
                status = ExitCode::FAILURE;
                continue;
            }
        };
        let (w, h) = image.dimensions();
        match LumaFrame::new(w, h, image.into_raw()) {
            Ok(frame) => {
                for payload in decode(&frame, &DecodeOptions::STILL).payloads {
                    println!("{payload}");
                }
            }
            Err(e) => {
                eprintln!("error: {path}: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
