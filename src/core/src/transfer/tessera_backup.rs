//! Tessera's own encrypted backup format (`.tessera`), version 1: what automatic backups and
//! `tessera backup` write, and an export format ("Tessera encrypted backup").
//!
//! Why a format of our own: backups used to be Aegis files (scrypt N = 2^15), so the copy of
//! the vault most likely to travel (a USB stick, a cloud folder) was far cheaper to attack
//! than the vault (Argon2id, 128 MiB, t = 4). This format protects a backup exactly like the
//! vault: Argon2id at the vault's own cost parameters, under the vault's ceilings
//! ([`KdfParams::MAX`]: 1 GiB, 16 passes, 16 lanes), AES-256-GCM, and the vault's version-3
//! content encoding. The full specification, for anyone writing another reader, is
//! `docs/backup-format.md`; in short (integers little-endian):
//!
//! ```text
//! offset size  field
//!  0     16    magic  89 "tessera-backup" 0a   (0x89 is never valid UTF-8: always binary)
//! 16      2    format version = 1
//! 18      1    KDF id = 1 (Argon2id, version 0x13)
//! 19      4    m_kib   Argon2id memory in KiB
//! 23      4    t       passes
//! 27      4    p       lanes
//! 31     16    salt    random, new for every file
//! 47     12    nonce   random, new for every file
//! 59      8    length  of the ciphertext that follows, tag included
//! ---- 67 bytes: "the header" ----
//! 67     32    checksum   SHA-256(header)                       (accidental damage)
//! 99     32    key check  HMAC-SHA256(K_check, header)          (right password?)
//! 131    len   AES-256-GCM(K_content, nonce, plaintext, aad = header) || 16-byte tag
//! ```
//!
//! K = Argon2id(password, salt, m_kib, t, p) (32 bytes); K_content and K_check are expanded
//! from K with HKDF-SHA256 (infos `tessera-backup/1/content` and `tessera-backup/1/key-check`)
//! so that no key serves two algorithms. The plaintext is the vault's version-3 content
//! (one layout byte, then postcard) holding the accounts with every field the vault keeps
//! (id, issuer, account, secret and OTP settings, note, group, favourite, creation and last
//! use times, and recovery codes: layout 2, written only when an account has codes, so a
//! backup without codes is still read by builds from before them); it never holds the backup
//! settings (and so never the backup password).
//!
//! Reading checks, in order, and reports:
//! - wrong magic → not this format; a newer format version → unsupported version;
//! - checksum mismatch, a length that disagrees with the file, an unknown KDF, or KDF
//!   parameters above [`KdfParams::MAX`] → **damaged** (checked before any key derivation, so
//!   a planted file cannot make the reader allocate 4 GiB);
//! - key check mismatch → **wrong password** (the header is intact, so only the password can
//!   be wrong; someone who edits the header *and* recomputes the checksum also lands here);
//! - the key check passes but AES-GCM refuses the content → **damaged** (tampered or
//!   corrupted content: the password was right);
//! - the decrypted content does not decode → **damaged**.
//!
//! Push enrolments are not in backups (nor were they in the Aegis backups before): a
//! restored push account would share its device key with the lost device; enrol the new
//! device again. The layout byte lets a later version add them.
//!
//! # Cost
//!
//! Writing or reading a backup costs one Argon2id derivation at the vault's parameters, the
//! same as one password unlock (default m = 128 MiB, t = 4, p = 1); the rest is negligible.
//! `cargo bench -p tessera-core --bench vault -- backup` measures it:
//! `backup/write_100_entries_default_kdf` and `backup/read_100_entries_default_kdf`, beside
//! `backup/aegis_write_100_entries` (scrypt N = 2^16) and `backup/two_fas_write_100_entries`
//! in the same run. 7 December 2026, release, the 2-core machine at load average 0.1-0.8
//! (criterion means, 10 samples): writing a 100-account backup 797 ms, reading it 771 ms;
//! an encrypted Aegis export 223 ms and a 2FAS export 3.2 ms in the same run. So a Tessera
//! backup costs an attacker who guesses its password about 3.6 times an Aegis export and
//! about 250 times a 2FAS one per guess, which is why it is the default for automatic backups.

use ring::{digest, hkdf, hmac};
use zeroize::Zeroizing;

use super::crypto;
use super::{Collector, Export, Format, ImportReport, ImportedAccount, TransferError};
use crate::vault::{Entry, KdfParams, VaultError, shared};

const FORMAT: Format = Format::TesseraBackup;
/// The first 16 bytes of every Tessera backup.
pub(crate) const MAGIC: &[u8; 16] = b"\x89tessera-backup\n";
/// The format version this build writes and the newest it reads.
pub const VERSION: u16 = 1;
/// The KDF id of Argon2id v1.3.
const KDF_ARGON2ID: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
/// Length of the authenticated header.
const HEADER_LEN: usize = 16 + 2 + 1 + 4 + 4 + 4 + SALT_LEN + NONCE_LEN + 8;
const DIGEST_LEN: usize = 32;
/// Where the ciphertext starts.
const BODY_START: usize = HEADER_LEN + 2 * DIGEST_LEN;
const CONTENT_INFO: &[u8] = b"tessera-backup/1/content";
const CHECK_INFO: &[u8] = b"tessera-backup/1/key-check";

/// Returns true if `bytes` start with the Tessera backup magic.
pub(crate) fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

fn damaged(reason: impl std::fmt::Display) -> TransferError {
    TransferError::corrupt(FORMAT, reason)
}

/// The two keys expanded from the Argon2id output.
struct Keys {
    content: Zeroizing<[u8; 32]>,
    check: hmac::Key,
}

fn keys(password: &str, salt: &[u8], params: KdfParams) -> Result<Keys, TransferError> {
    let root = shared::derive_key(password, salt, params).map_err(|e| match e {
        VaultError::Damaged { detail } => damaged(detail),
        other => damaged(other),
    })?;
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(root.as_ref());
    let mut content = Zeroizing::new([0u8; 32]);
    prk.expand(&[CONTENT_INFO], hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(content.as_mut()))
        .map_err(|_| TransferError::Random)?;
    let check = prk
        .expand(&[CHECK_INFO], hmac::HMAC_SHA256)
        .map(hmac::Key::from)
        .map_err(|_| TransferError::Random)?;
    Ok(Keys { content, check })
}

/// Encrypts `entries` under `password` with Argon2id at `params` (the vault's) into a
/// version-1 backup file. Fresh salt and nonce every time.
pub fn write(
    entries: &[Entry],
    password: &str,
    params: KdfParams,
) -> Result<Zeroizing<Vec<u8>>, TransferError> {
    if params.m_kib > KdfParams::MAX.m_kib
        || params.t > KdfParams::MAX.t
        || params.p > KdfParams::MAX.p
    {
        return Err(TransferError::Unsupported {
            format: FORMAT,
            reason: format!(
                "argon2id parameters above the ceiling (m={} KiB, t={}, p={})",
                params.m_kib, params.t, params.p
            ),
        });
    }
    let plain = shared::encode_entries(entries).map_err(damaged)?;
    let salt: [u8; SALT_LEN] = crypto::random_bytes()?;
    let keys = keys(password, &salt, params)?;
    // The nonce is in the header, and the header is the associated data: draw it first.
    let nonce: [u8; NONCE_LEN] = crypto::random_bytes()?;
    let length = (plain.len() + crypto::TAG_LEN) as u64;
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.push(KDF_ARGON2ID);
    header.extend_from_slice(&params.m_kib.to_le_bytes());
    header.extend_from_slice(&params.t.to_le_bytes());
    header.extend_from_slice(&params.p.to_le_bytes());
    header.extend_from_slice(&salt);
    header.extend_from_slice(&nonce);
    header.extend_from_slice(&length.to_le_bytes());
    debug_assert_eq!(header.len(), HEADER_LEN);
    let sealed = crypto::seal_with_nonce(keys.content.as_ref(), &nonce, &plain, &header)?;
    let mut out = Zeroizing::new(Vec::with_capacity(BODY_START + sealed.len()));
    out.extend_from_slice(&header);
    out.extend_from_slice(digest::digest(&digest::SHA256, &header).as_ref());
    out.extend_from_slice(hmac::sign(&keys.check, &header).as_ref());
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

/// Decrypts a backup file and returns its accounts (see the module docs for the errors).
pub fn read(bytes: &[u8], password: Option<&str>) -> Result<Vec<Entry>, TransferError> {
    if !looks_like(bytes) {
        return Err(damaged("not a Tessera backup (the file does not start with its marker)"));
    }
    if bytes.len() < 18 {
        return Err(damaged("the file is truncated inside its header"));
    }
    let version = u16::from_le_bytes([bytes[16], bytes[17]]);
    if version != VERSION {
        return Err(TransferError::UnsupportedVersion {
            format: FORMAT,
            found: version.to_string(),
            supported: "1",
        });
    }
    if bytes.len() < BODY_START + crypto::TAG_LEN {
        return Err(damaged("the file is truncated inside its header"));
    }
    let header = &bytes[..HEADER_LEN];
    let checksum = &bytes[HEADER_LEN..HEADER_LEN + DIGEST_LEN];
    let key_check = &bytes[HEADER_LEN + DIGEST_LEN..BODY_START];
    if digest::digest(&digest::SHA256, header).as_ref() != checksum {
        return Err(damaged(
            "the header's checksum does not match: the file was altered or corrupted",
        ));
    }
    if header[18] != KDF_ARGON2ID {
        return Err(damaged(format!("unknown key derivation {}", header[18])));
    }
    let params =
        KdfParams { m_kib: u32_at(header, 19), t: u32_at(header, 23), p: u32_at(header, 27) };
    if params.m_kib > KdfParams::MAX.m_kib
        || params.t > KdfParams::MAX.t
        || params.p > KdfParams::MAX.p
    {
        return Err(damaged(format!(
            "argon2id parameters above the ceiling (m={} KiB, t={}, p={}; at most {} KiB, {}, {})",
            params.m_kib,
            params.t,
            params.p,
            KdfParams::MAX.m_kib,
            KdfParams::MAX.t,
            KdfParams::MAX.p
        )));
    }
    let salt = &header[31..31 + SALT_LEN];
    let nonce = &header[47..47 + NONCE_LEN];
    let mut length = [0u8; 8];
    length.copy_from_slice(&header[59..67]);
    let length = u64::from_le_bytes(length);
    let body = &bytes[BODY_START..];
    if body.len() as u64 != length {
        return Err(damaged(format!(
            "the content is {} bytes long, the header says {length} (truncated or extended)",
            body.len()
        )));
    }
    let password = password.ok_or(TransferError::PasswordRequired { format: FORMAT })?;
    let keys = keys(password, salt, params)?;
    hmac::verify(&keys.check, header, key_check)
        .map_err(|_| TransferError::WrongPassword { format: FORMAT })?;
    let plain = crypto::open_with_aad(keys.content.as_ref(), nonce, body, header).ok_or_else(|| {
        damaged("the content does not authenticate although the password is right: it was altered or corrupted")
    })?;
    shared::decode_entries(&plain).map_err(|e| match e {
        VaultError::Damaged { detail } => damaged(detail),
        other => damaged(other),
    })
}

/// Reads a backup as an import: every account, as the vault held it.
pub(crate) fn import(bytes: &[u8], password: Option<&str>) -> Result<ImportReport, TransferError> {
    let entries = read(bytes, password)?;
    let mut out = Collector::new(FORMAT);
    for (index, entry) in entries.iter().enumerate() {
        out.push(
            super::entry_location(index),
            Some(&entry.issuer),
            Ok(ImportedAccount::from(entry)),
        );
    }
    Ok(out.finish())
}

/// Writes `accounts` as a backup at the default vault cost. An export knows no ids or times:
/// the accounts get new ids and creation time 0 (the automatic backup writes the vault's
/// entries as they are, with [`write`]). Always encrypted.
pub(crate) fn export(
    accounts: &[ImportedAccount],
    password: Option<&str>,
) -> Result<Export, TransferError> {
    let password = password.ok_or(TransferError::PasswordRequired { format: FORMAT })?;
    let entries: Vec<Entry> = accounts.iter().map(|a| a.clone().into_entry(0)).collect();
    let data = write(&entries, password, KdfParams::default())?;
    Ok(Export { format: FORMAT, data, unexported: Vec::new(), recovery_left_out: Vec::new() })
}

/// Returns the hex SHA-256 of a backup's header, for tests and tools that name a file.
#[cfg(test)]
fn header_digest(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(digest::digest(&digest::SHA256, &bytes[..HEADER_LEN]).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::{OtpParams, Secret};
    use crate::transfer::{import as import_any, vectors};

    const PASSWORD: &str = "correct horse battery staple";
    const CHEAP: KdfParams = KdfParams::INSECURE_FOR_TESTS;

    fn entries() -> Vec<Entry> {
        let mut list: Vec<Entry> =
            vectors::canonical().into_iter().map(|a| a.into_entry(1_700_000_000)).collect();
        list[0].last_used = Some(1_700_000_500);
        list
    }

    fn cheap_backup() -> Zeroizing<Vec<u8>> {
        write(&entries(), PASSWORD, CHEAP).unwrap()
    }

    /// Rewrites the header the way anyone without the password can: a fresh checksum.
    fn rechecksum(bytes: &mut [u8]) {
        let sum = digest::digest(&digest::SHA256, &bytes[..HEADER_LEN]);
        bytes[HEADER_LEN..HEADER_LEN + DIGEST_LEN].copy_from_slice(sum.as_ref());
    }

    #[test]
    fn a_backup_round_trips_every_field_the_vault_keeps() {
        let original = entries();
        let bytes = write(&original, PASSWORD, CHEAP).unwrap();
        assert_eq!(&bytes[..16], MAGIC);
        let back = read(&bytes, Some(PASSWORD)).unwrap();
        assert_eq!(format!("{back:?}"), format!("{original:?}"), "ids, times and all");
        assert!(back.iter().zip(&original).all(|(a, b)| a.otp.secret.ct_eq(&b.otp.secret)));
        let report = import_any(&bytes, None, Some(PASSWORD)).unwrap();
        assert_eq!(report.format, Format::TesseraBackup, "detected by its magic");
        vectors::assert_same(&report.accounts, &vectors::canonical(), vectors::Holds::ALL);
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("JBSW") && !text.contains("GitHub"), "nothing in the clear");
    }

    #[test]
    fn a_backup_carries_recovery_codes_and_one_without_them_stays_layout_1() {
        let mut original = entries();
        let plain_backup = write(&original, PASSWORD, CHEAP).unwrap();
        let mut entries_back = read(&plain_backup, Some(PASSWORD)).unwrap();
        assert!(entries_back.iter().all(|e| e.recovery.is_empty()));
        original[1].add_recovery_codes("RC-1111\nRC-2222", 7).unwrap();
        original[1].mark_recovery_code(2, true, 8).unwrap();
        let bytes = write(&original, PASSWORD, CHEAP).unwrap();
        entries_back = read(&bytes, Some(PASSWORD)).unwrap();
        assert_eq!(entries_back[1].recovery, original[1].recovery);
        assert!(entries_back[0].recovery.is_empty());
        assert!(!String::from_utf8_lossy(&bytes).contains("RC-1111"), "encrypted");
    }

    #[test]
    fn each_backup_draws_a_fresh_salt_and_nonce() {
        let (a, b) = (cheap_backup(), cheap_backup());
        assert_ne!(a[31..47], b[31..47], "salt");
        assert_ne!(a[47..59], b[47..59], "nonce");
        assert_ne!(header_digest(&a), header_digest(&b));
    }

    #[test]
    fn the_vault_cost_parameters_are_written_into_the_header() {
        let params = KdfParams { m_kib: 64, t: 3, p: 2 };
        let bytes = write(&entries()[..1], PASSWORD, params).unwrap();
        assert_eq!((u32_at(&bytes, 19), u32_at(&bytes, 23), u32_at(&bytes, 27)), (64, 3, 2));
        assert_eq!(read(&bytes, Some(PASSWORD)).unwrap().len(), 1);
    }

    #[test]
    fn a_wrong_or_missing_password_is_reported_as_such() {
        let bytes = cheap_backup();
        assert_eq!(
            read(&bytes, Some("not the password")).unwrap_err(),
            TransferError::WrongPassword { format: FORMAT }
        );
        assert_eq!(
            read(&bytes, None).unwrap_err(),
            TransferError::PasswordRequired { format: FORMAT }
        );
    }

    #[test]
    fn tampered_content_is_damage_not_a_wrong_password() {
        let mut bytes = cheap_backup().to_vec();
        let last = bytes.len() - 20;
        bytes[last] ^= 1;
        let err = read(&bytes, Some(PASSWORD)).unwrap_err();
        assert!(matches!(err, TransferError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("altered or corrupted"), "{err}");
    }

    #[test]
    fn accidental_header_damage_and_truncation_are_damage() {
        let good = cheap_backup();
        let mut flipped = good.to_vec();
        flipped[40] ^= 0x10; // inside the salt
        let err = read(&flipped, Some(PASSWORD)).unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        let cut = &good[..good.len() - 1];
        let err = read(cut, Some(PASSWORD)).unwrap_err();
        assert!(err.to_string().contains("truncated or extended"), "{err}");
        let err = read(&good[..100], Some(PASSWORD)).unwrap_err();
        assert!(matches!(err, TransferError::Corrupt { .. }), "{err}");
        // A nonce swapped in with a recomputed checksum is bound by the associated data: the
        // key check still passes (same password), so the content reports damage.
        let mut swapped = good.to_vec();
        swapped[50] ^= 1;
        rechecksum(&mut swapped);
        let err = read(&swapped, Some(PASSWORD)).unwrap_err();
        assert!(
            matches!(err, TransferError::WrongPassword { .. }),
            "the key check covers the header: {err}"
        );
    }

    /// The attack: a planted backup asks for 4 GiB of Argon2id memory (with a valid checksum,
    /// which anyone can compute). It must be refused as damaged before any derivation: were
    /// the parameters obeyed, this test would allocate 4 GiB and take minutes.
    #[test]
    fn a_backup_asking_for_4_gib_is_refused_without_allocating_it() {
        let mut bytes = cheap_backup().to_vec();
        bytes[19..23].copy_from_slice(&(4u32 * 1024 * 1024).to_le_bytes());
        rechecksum(&mut bytes);
        let err = read(&bytes, Some(PASSWORD)).unwrap_err();
        assert!(matches!(err, TransferError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("above the ceiling"), "{err}");
        let mut passes = cheap_backup().to_vec();
        passes[23..27].copy_from_slice(&64u32.to_le_bytes());
        rechecksum(&mut passes);
        assert!(
            read(&passes, Some(PASSWORD)).unwrap_err().to_string().contains("above the ceiling")
        );
    }

    #[test]
    fn newer_versions_and_unknown_kdfs_are_named() {
        let mut newer = cheap_backup().to_vec();
        newer[16] = 2;
        let err = read(&newer, Some(PASSWORD)).unwrap_err();
        assert!(matches!(err, TransferError::UnsupportedVersion { .. }), "{err}");
        let mut kdf = cheap_backup().to_vec();
        kdf[18] = 9;
        rechecksum(&mut kdf);
        assert!(read(&kdf, Some(PASSWORD)).unwrap_err().to_string().contains("key derivation 9"));
    }

    #[test]
    fn export_needs_a_password_and_round_trips() {
        let accounts = vectors::canonical();
        assert_eq!(
            crate::transfer::export(&accounts, FORMAT, None).unwrap_err(),
            TransferError::PasswordRequired { format: FORMAT }
        );
        let secret = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        let one = [ImportedAccount::new("Issuer", "me", OtpParams::totp(secret))];
        let entries: Vec<Entry> = one.iter().map(|a| a.clone().into_entry(5)).collect();
        let bytes = write(&entries, PASSWORD, CHEAP).unwrap();
        let report = import(&bytes, Some(PASSWORD)).unwrap();
        vectors::assert_same(&report.accounts, &one, vectors::Holds::ALL);
    }

    #[test]
    fn the_committed_fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("tessera-backup.tessera");
        let report = import_any(&bytes, None, Some(vectors::FIXTURE_PASSWORD)).unwrap();
        assert_eq!(report.format, FORMAT);
        vectors::assert_same(&report.accounts, &vectors::canonical(), vectors::Holds::ALL);
    }
}
