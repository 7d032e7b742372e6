//! Decodes arbitrary bytes as a Google Authenticator `MigrationPayload`; whatever decodes must
//! survive re-encoding, and collecting it in a `MigrationSet` must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::uri::{MigrationBatch, MigrationSet};

#[path = "shared/migration.rs"]
mod migration;

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = MigrationBatch::from_payload(data) else {
        return;
    };
    let _ = format!("{batch:?}");
    migration::check_round_trip(&batch);
    let mut set = MigrationSet::new();
    let _ = set.add(batch);
    let _ = set.missing();
});
