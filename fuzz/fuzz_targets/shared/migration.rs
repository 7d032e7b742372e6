//! Shared by the fuzz targets that meet Google Authenticator exports: whatever decodes must
//! survive re-encoding with every field the export format carries.

use tessera_core::uri::{MigrationBatch, OtpUri, encode_migration_with_id};

/// Re-encodes `batch` and checks the links decode to the same accounts.
pub fn check_round_trip(batch: &MigrationBatch) {
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
}
