//! andOTP backups: plain JSON and password-encrypted (import only).
//!
//! Source: the andOTP app, andOTP/andOTP `app/src/main/java/org/shadowice/flocke/andotp/`
//! (`Database/Entry.java`, later `Entry.kt`, for the JSON fields, `Utilities/BackupHelper.java` and
//! `Utilities/EncryptionHelper.java` for encryption), as also read by Aegis'
//! `importers/AndOtpImporter.java`. Plain: a JSON array of
//! `{secret, issuer, label, digits, type (TOTP|HOTP|STEAM), algorithm, period, counter, tags,
//! thumbnail, last_used, used_frequency}`. Encrypted (`.json.aes`, current format):
//! `iterations (u32 big-endian) || salt (12) || nonce (12) || ciphertext || tag (16)`, key =
//! PBKDF2-HMAC-SHA1(password, salt, iterations, 32 bytes), AES-256-GCM. The old encrypted format
//! is `nonce || ciphertext || tag` with key = SHA-256(password); both are tried.
//!
//! Lost on import: thumbnails, usage data, tags after the first (the first becomes the group;
//! the rest are added to the note). andOTP has no notes or favourites. Entries without an
//! `issuer` field (old andOTP) split their label at " - " into issuer and account, as andOTP did.

use std::num::NonZeroU32;

use ring::digest;
use serde::Deserialize;
use serde_json::Value;

use super::crypto::{self, TAG_LEN};
use super::{
    Collector, Format, ImportReport, ImportedAccount, TransferError, entry_location, otp_params,
    secret_base32,
};
use crate::otp::OtpKind;

const FORMAT: Format = Format::AndOtp;
const SALT_LEN: usize = 12;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 4 + SALT_LEN;
/// Refuse iteration counts a real andOTP file never has (it picks 140 000–160 000): a random
/// file must not make us spin for minutes before saying "wrong password".
const MAX_ITERATIONS: u32 = 10_000_000;

#[derive(Deserialize)]
struct Entry {
    secret: String,
    issuer: Option<String>,
    #[serde(default)]
    label: String,
    digits: Option<u64>,
    #[serde(rename = "type")]
    kind: Option<String>,
    algorithm: Option<String>,
    period: Option<u64>,
    counter: Option<u64>,
    #[serde(default)]
    tags: Vec<String>,
}

/// Returns true if `bytes` starts like a current-format encrypted andOTP backup.
pub(crate) fn looks_encrypted(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_LEN + NONCE_LEN + TAG_LEN
        && iterations(bytes).is_some_and(|n| (1_000..=MAX_ITERATIONS).contains(&n))
}

fn iterations(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?))
}

pub(crate) fn import(bytes: &[u8], password: Option<&str>) -> Result<ImportReport, TransferError> {
    let text =
        std::str::from_utf8(bytes).ok().map(|t| t.trim_start_matches('\u{feff}').trim_start());
    if let Some(text) = text.filter(|t| t.starts_with('[')) {
        return read_entries(text.as_bytes());
    }
    if bytes.len() < NONCE_LEN + TAG_LEN {
        return Err(TransferError::corrupt(FORMAT, "too short to be an andOTP backup"));
    }
    let password = password.ok_or(TransferError::PasswordRequired { format: FORMAT })?;
    let plain = decrypt_current(bytes, password)
        .or_else(|| decrypt_old(bytes, password))
        .ok_or(TransferError::WrongPassword { format: FORMAT })?;
    read_entries(&plain)
}

fn decrypt_current(bytes: &[u8], password: &str) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let count = iterations(bytes).filter(|n| *n <= MAX_ITERATIONS)?;
    let count = NonZeroU32::new(count)?;
    let salt = bytes.get(4..HEADER_LEN)?;
    let nonce = bytes.get(HEADER_LEN..HEADER_LEN + NONCE_LEN)?;
    let sealed = bytes.get(HEADER_LEN + NONCE_LEN..)?;
    let key = crypto::pbkdf2_sha1(password, salt, count);
    crypto::open(&*key, nonce, sealed)
}

/// andOTP's first encrypted format: the key is a bare SHA-256 of the password (weak, but it is
/// what those files use).
fn decrypt_old(bytes: &[u8], password: &str) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let key = digest::digest(&digest::SHA256, password.as_bytes());
    crypto::open(key.as_ref(), bytes.get(..NONCE_LEN)?, bytes.get(NONCE_LEN..)?)
}

fn read_entries(json: &[u8]) -> Result<ImportReport, TransferError> {
    let entries: Vec<Value> = serde_json::from_slice(json)
        .map_err(|e| TransferError::corrupt(FORMAT, format!("not an andOTP entry list: {e}")))?;
    let mut out = Collector::new(FORMAT);
    for (index, value) in entries.into_iter().enumerate() {
        let issuer = value
            .get("issuer")
            .or_else(|| value.get("label"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let result = serde_json::from_value::<Entry>(value)
            .map_err(|e| format!("unreadable entry: {e}"))
            .and_then(convert);
        out.push(entry_location(index), issuer.as_deref(), result);
    }
    Ok(out.finish())
}

fn convert(entry: Entry) -> Result<ImportedAccount, String> {
    let kind = match entry.kind.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("TOTP") => OtpKind::Totp,
        Some("HOTP") => OtpKind::Hotp,
        Some("STEAM") => OtpKind::Steam,
        Some(other) => return Err(format!("unsupported type {other:?}")),
    };
    let secret = secret_base32(&entry.secret)?;
    let otp = otp_params(
        kind,
        secret,
        entry.algorithm.as_deref(),
        entry.digits,
        entry.period,
        entry.counter,
    )?;
    let (issuer, account) = match entry.issuer {
        Some(issuer) => (issuer, entry.label),
        None => match entry.label.split_once(" - ") {
            Some((issuer, account)) => (issuer.to_owned(), account.to_owned()),
            None => (String::new(), entry.label),
        },
    };
    let mut tags = entry.tags.into_iter().filter(|t| !t.is_empty());
    let group = tags.next();
    let rest: Vec<String> = tags.collect();
    let note =
        if rest.is_empty() { String::new() } else { format!("Also tagged: {}", rest.join(", ")) };
    Ok(ImportedAccount { note, group, ..ImportedAccount::new(issuer, account, otp) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::vectors::{self, Holds};
    use crate::transfer::{detect, import as import_any};

    const HOLDS: Holds = Holds { note: false, group: true, favourite: false };

    #[test]
    fn plain_fixture_holds_the_canonical_accounts() {
        let report = import_any(&vectors::fixture("andotp-plain.json"), None, None).unwrap();
        assert_eq!(report.format, FORMAT);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &vectors::canonical(), HOLDS);
    }

    #[test]
    fn encrypted_fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("andotp-encrypted.json.aes");
        assert_eq!(detect(&bytes), Some(FORMAT));
        let report = import_any(&bytes, None, Some(vectors::FIXTURE_PASSWORD)).unwrap();
        vectors::assert_same(&report.accounts, &vectors::canonical(), HOLDS);
        assert_eq!(
            import(&bytes, None).unwrap_err(),
            TransferError::PasswordRequired { format: FORMAT }
        );
        assert_eq!(
            import(&bytes, Some("nope")).unwrap_err(),
            TransferError::WrongPassword { format: FORMAT }
        );
        let truncated = &bytes[..bytes.len() - 1];
        assert_eq!(
            import(truncated, Some(vectors::FIXTURE_PASSWORD)).unwrap_err(),
            TransferError::WrongPassword { format: FORMAT }
        );
    }

    #[test]
    fn old_encrypted_format_is_read() {
        let plain = br#"[{"secret":"JBSWY3DPEHPK3PXP","label":"Legacy - me","digits":6,"type":"TOTP","algorithm":"SHA1","period":30}]"#;
        let key = digest::digest(&digest::SHA256, b"old");
        let (nonce, sealed) = crypto::seal(key.as_ref(), plain).unwrap();
        let file = [nonce.as_slice(), &sealed].concat();
        let report = import(&file, Some("old")).unwrap();
        let a = &report.accounts[0];
        assert_eq!((a.issuer.as_str(), a.account.as_str()), ("Legacy", "me"));
    }

    #[test]
    fn bad_entries_are_reported_and_tags_become_groups() {
        let file = br#"[
            {"secret":"JBSWY3DPEHPK3PXP","issuer":"A","label":"a","digits":6,"type":"TOTP","algorithm":"SHA1","period":30,"tags":["Home","Phone"]},
            {"secret":"JBSWY3DPEHPK3PXP","issuer":"B","label":"b","digits":6,"type":"MOTP","algorithm":"MD5","period":10},
            {"issuer":"C","label":"c"},
            42
        ]"#;
        let report = import(file, None).unwrap();
        assert_eq!(report.accounts.len(), 1);
        assert_eq!(report.accounts[0].group.as_deref(), Some("Home"));
        assert_eq!(report.accounts[0].note, "Also tagged: Phone");
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3);
        assert!(shown[0].starts_with("entry 2 (B): unsupported type"), "{shown:?}");
        assert!(shown[1].starts_with("entry 3 (C): unreadable entry"), "{shown:?}");
        assert!(shown[2].starts_with("entry 4: "), "{shown:?}");
    }

    #[test]
    fn random_binary_is_not_taken_for_andotp() {
        assert!(!looks_encrypted(&[0xff; 64]), "absurd iteration count");
        assert!(!looks_encrypted(&[0, 2, 0x49, 0xf0]), "too short");
        assert!(matches!(import(b"\x00\x01", Some("x")), Err(TransferError::Corrupt { .. })));
    }
}
