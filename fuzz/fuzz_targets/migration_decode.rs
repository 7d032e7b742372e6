//! Decodes arbitrary bytes as a Google Authenticator `MigrationPayload`; whatever decodes must
//! survive re-encoding, and collecting it in a `MigrationSet` must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::uri::{MigrationBatch, MigrationSet, OtpUri, encode_migration_with_id};

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = MigrationBatch::from_payload(data) else {
        return;
    };
    let _ = format!("{batch:?}");
    let (links, skipped) = encode_migration_with_id(&batch.accounts, batch.batch_id);
    assert!(skipped.is_empty(), "decoded accounts are always encodable");
    let again: Vec<OtpUri> = links
        .iter()
        .flat_map(|l| MigrationBatch::parse(l).expect("an encoded link decodes").accounts)
        .collect();
    assert_eq!(again.len(), batch.accounts.len());
    for (a, b) in batch.accounts.iter().zip(&again) {
        assert_eq!(a.issuer, b.issuer);
        assert_eq!(a.account, b.account);
        assert!(a.otp.secret.ct_eq(&b.otp.secret));
        assert_eq!(
            (a.otp.kind, a.otp.algorithm, a.otp.digits),
            (b.otp.kind, b.otp.algorithm, b.otp.digits)
        );
        assert_eq!(a.otp.counter, b.otp.counter);
    }
    let mut set = MigrationSet::new();
    let _ = set.add(batch);
    let _ = set.missing();
});
