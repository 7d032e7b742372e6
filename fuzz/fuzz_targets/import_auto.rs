//! Fuzzes format detection plus whichever importer it picks: any bytes give an error or a
//! report naming a detected format, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::transfer::{detect, import};

fuzz_target!(|data: &[u8]| {
    let detected = detect(data);
    if let Ok(report) = import(data, None, None) {
        assert_eq!(Some(report.format), detected);
    }
});
