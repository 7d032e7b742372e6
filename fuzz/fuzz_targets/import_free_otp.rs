//! Fuzzes the FreeOTP importer (tokens.xml, and the 2.x backup when the bytes start with Java's
//! serialisation header): any bytes give an error or a report of that format, never a panic. No
//! password is given, so encrypted inputs stop before key derivation (which would make each run
//! take milliseconds); the decryption paths are covered by the unit tests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::transfer::{Format, import};

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = import(data, Some(Format::FreeOtp), None) {
        assert_eq!(report.format, Format::FreeOtp);
    }
});
