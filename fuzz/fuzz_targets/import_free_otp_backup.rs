//! Fuzzes the FreeOTP 2 encrypted-backup reader: every input is put behind the Java
//! serialisation header (`AC ED 00 05`) so that each run exercises the `ObjectOutputStream` map
//! reader and the master-key and token JSON checks, which all run before a password is needed.
//! No password is given, so PBKDF2 (100 000 rounds in real files) is never reached; decryption is
//! covered by the unit tests. Any bytes give an error or a report of that format, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::transfer::{Format, import};

fuzz_target!(|data: &[u8]| {
    let mut bytes = vec![0xac, 0xed, 0x00, 0x05];
    bytes.extend_from_slice(data);
    if let Ok(report) = import(&bytes, Some(Format::FreeOtp), None) {
        assert_eq!(report.format, Format::FreeOtp);
    }
});
