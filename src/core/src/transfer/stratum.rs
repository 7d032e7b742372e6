//! Stratum (formerly Authenticator Pro): plain JSON backups, encrypted backups in the current
//! and the legacy scheme, and the app's internal database (import only).
//!
//! Source: the app's own format description, jamie-mh/AuthenticatorPro (now stratumauth/app)
//! `doc/BACKUP_FORMAT.md`, and its `AuthenticatorPro.Core/Backup/Encryption/` classes; as also
//! read by Aegis' `importers/StratumImporter.java`. Plain: `{"Authenticators": [{Type (1 HOTP,
//! 2 TOTP, 3 mOTP, 4 Steam, 5 Yandex), Issuer, Username, Secret (base32), Algorithm (0 SHA-1,
//! 1 SHA-256, 2 SHA-512), Digits, Period, Counter, ...}], "Categories": [{Id, Name}],
//! "AuthenticatorCategories": [{CategoryId, AuthenticatorSecret}]}`. Encrypted (current):
//! `"AUTHENTICATORPRO" || salt (16) || iv (12) || ciphertext || tag`, key = Argon2id(password,
//! salt, 64 MiB, 3 passes, 4 lanes, 32 bytes), AES-256-GCM. Legacy: `"AuthenticatorPro" ||
//! salt (20) || iv (16) || ciphertext`, key = PBKDF2-HMAC-SHA1(password, salt, 64 000, 32 bytes),
//! AES-256-CBC with PKCS#7 padding. Internal database (`databases/authenticator.db3`, when the
//! app's database encryption is off): table `authenticator` with the same fields in lower case.
//!
//! Lost on import: icons, ranking, copy counts and PINs; mOTP and Yandex accounts (reported, not
//! imported: Tessera does not compute them). The first category becomes the group; the database
//! has no categories table we read.

use std::collections::HashMap;
use std::num::NonZeroU32;

use serde::Deserialize;
use serde_json::Value;
use zeroize::Zeroizing;

use super::crypto;
use super::database;
use super::{
    Collector, Format, ImportReport, ImportedAccount, TransferError, entry_location, otp_params,
    secret_base32,
};
use crate::otp::OtpKind;

const FORMAT: Format = Format::Stratum;
const HEADER: &[u8] = b"AUTHENTICATORPRO";
const HEADER_LEGACY: &[u8] = b"AuthenticatorPro";
const SALT_LEN: usize = 16;
const IV_LEN: usize = 12;
/// Stratum's Argon2id cost (`StrongBackupEncryption`): 64 MiB, 3 passes, 4 lanes.
const ARGON2_MEMORY_KIB: u32 = 64 * 1024;
const ARGON2_PASSES: u32 = 3;
const ARGON2_LANES: u32 = 4;
const LEGACY_SALT_LEN: usize = 20;
const LEGACY_IV_LEN: usize = 16;
const LEGACY_ITERATIONS: NonZeroU32 = NonZeroU32::new(64_000).expect("invariant: non-zero");

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Backup {
    authenticators: Vec<Value>,
    #[serde(default)]
    categories: Vec<Category>,
    #[serde(default)]
    authenticator_categories: Vec<Binding>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Category {
    id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Binding {
    category_id: String,
    authenticator_secret: String,
}

/// One account, as in the JSON (PascalCase) and the database (lower case).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Authenticator {
    #[serde(rename = "Type")]
    kind: u64,
    issuer: Option<String>,
    username: Option<String>,
    secret: String,
    #[serde(default)]
    algorithm: u64,
    digits: Option<u64>,
    period: Option<u64>,
    counter: Option<u64>,
}

/// Returns true if `bytes` starts with either encrypted backup header.
pub(crate) fn looks_encrypted(bytes: &[u8]) -> bool {
    bytes.starts_with(HEADER) || bytes.starts_with(HEADER_LEGACY)
}

pub(crate) fn import(bytes: &[u8], password: Option<&str>) -> Result<ImportReport, TransferError> {
    if bytes.starts_with(database::SQLITE_MAGIC) {
        return import_database(bytes);
    }
    if looks_encrypted(bytes) {
        let password = password.ok_or(TransferError::PasswordRequired { format: FORMAT })?;
        let plain = if bytes.starts_with(HEADER) {
            decrypt(&bytes[HEADER.len()..], password)?
        } else {
            decrypt_legacy(&bytes[HEADER_LEGACY.len()..], password)?
        };
        return read_json(&plain, true);
    }
    read_json(bytes, false)
}

fn decrypt(rest: &[u8], password: &str) -> Result<Zeroizing<Vec<u8>>, TransferError> {
    if rest.len() < SALT_LEN + IV_LEN + crypto::TAG_LEN {
        return Err(TransferError::corrupt(FORMAT, "the encrypted backup is too short"));
    }
    let (salt, rest) = rest.split_at(SALT_LEN);
    let (iv, sealed) = rest.split_at(IV_LEN);
    let key = crypto::argon2id(password, salt, ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES)
        .ok_or(TransferError::Random)?;
    crypto::open(&*key, iv, sealed).ok_or(TransferError::WrongPassword { format: FORMAT })
}

fn decrypt_legacy(rest: &[u8], password: &str) -> Result<Zeroizing<Vec<u8>>, TransferError> {
    if rest.len() < LEGACY_SALT_LEN + LEGACY_IV_LEN + 16 {
        return Err(TransferError::corrupt(FORMAT, "the encrypted backup is too short"));
    }
    let (salt, rest) = rest.split_at(LEGACY_SALT_LEN);
    let (iv, data) = rest.split_at(LEGACY_IV_LEN);
    let key = crypto::pbkdf2_sha1(password, salt, LEGACY_ITERATIONS);
    crypto::cbc_decrypt(&*key, iv, data).ok_or(TransferError::WrongPassword { format: FORMAT })
}

fn read_json(bytes: &[u8], decrypted: bool) -> Result<ImportReport, TransferError> {
    let backup: Backup = serde_json::from_slice(bytes).map_err(|e| {
        if decrypted {
            // CBC has no integrity check: a wrong legacy password can pass the padding check.
            TransferError::WrongPassword { format: FORMAT }
        } else {
            TransferError::corrupt(FORMAT, format!("not a Stratum backup: {e}"))
        }
    })?;
    let names: HashMap<&str, &str> =
        backup.categories.iter().map(|c| (c.id.as_str(), c.name.as_str())).collect();
    let mut groups: HashMap<&str, &str> = HashMap::new();
    for binding in &backup.authenticator_categories {
        if let Some(name) = names.get(binding.category_id.as_str()) {
            groups.entry(binding.authenticator_secret.as_str()).or_insert(name);
        }
    }
    let mut out = Collector::new(FORMAT);
    for (index, value) in backup.authenticators.into_iter().enumerate() {
        let issuer = value.get("Issuer").and_then(Value::as_str).map(str::to_owned);
        let result = serde_json::from_value::<Authenticator>(value)
            .map_err(|e| format!("unreadable authenticator: {e}"))
            .and_then(|a| {
                let group = groups.get(a.secret.as_str()).map(|g| (*g).to_owned());
                convert(a).map(|mut account| {
                    account.group = group;
                    account
                })
            });
        out.push(entry_location(index), issuer.as_deref(), result);
    }
    Ok(out.finish())
}

fn import_database(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    let conn = database::open(bytes, FORMAT)?;
    let needed =
        ["type", "issuer", "username", "secret", "algorithm", "digits", "period", "counter"];
    database::require(&conn, "authenticator", &needed, FORMAT)?;
    let fail = |e: rusqlite::Error| TransferError::corrupt(FORMAT, format!("unreadable rows: {e}"));
    let mut statement = conn
        .prepare(
            "SELECT type, issuer, username, secret, algorithm, digits, period, counter \
             FROM authenticator ORDER BY rowid",
        )
        .map_err(fail)?;
    let rows = statement
        .query_map([], |row| {
            let number =
                |i| row.get::<_, Option<i64>>(i).map(|n| n.and_then(|n| u64::try_from(n).ok()));
            Ok(Authenticator {
                kind: number(0)?.unwrap_or(0),
                issuer: row.get(1)?,
                username: row.get(2)?,
                secret: row.get::<_, Option<String>>(3)?.unwrap_or_default(),
                algorithm: number(4)?.unwrap_or(0),
                digits: number(5)?,
                period: number(6)?,
                counter: number(7)?,
            })
        })
        .map_err(fail)?;
    let mut out = Collector::new(FORMAT);
    for (index, row) in rows.enumerate() {
        let authenticator = row.map_err(fail)?;
        let issuer = authenticator.issuer.clone();
        out.push(entry_location(index), issuer.as_deref(), convert(authenticator));
    }
    Ok(out.finish())
}

fn convert(a: Authenticator) -> Result<ImportedAccount, String> {
    let kind = match a.kind {
        1 => OtpKind::Hotp,
        2 => OtpKind::Totp,
        4 => OtpKind::Steam,
        3 => return Err("mOTP accounts are not supported".into()),
        5 => return Err("Yandex accounts are not supported".into()),
        other => return Err(format!("unknown type {other}")),
    };
    let algorithm = match a.algorithm {
        0 => "SHA1",
        1 => "SHA256",
        2 => "SHA512",
        other => return Err(format!("unknown algorithm {other}")),
    };
    let secret = secret_base32(&a.secret)?;
    let otp = otp_params(kind, secret, Some(algorithm), a.digits, a.period, a.counter)?;
    Ok(ImportedAccount::new(a.issuer.unwrap_or_default(), a.username.unwrap_or_default(), otp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::vectors::{self, Holds};
    use crate::transfer::{detect, import as import_any};

    const HOLDS: Holds = Holds { note: false, group: true, favourite: false };

    #[test]
    fn plain_fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("stratum-plain.json");
        assert_eq!(detect(&bytes), Some(FORMAT));
        let report = import_any(&bytes, None, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &vectors::canonical(), HOLDS);
    }

    #[test]
    fn encrypted_fixtures_hold_the_canonical_accounts() {
        for name in ["stratum-encrypted.bin", "stratum-encrypted-legacy.bin"] {
            let bytes = vectors::fixture(name);
            assert_eq!(detect(&bytes), Some(FORMAT), "{name}");
            let report = import_any(&bytes, None, Some(vectors::FIXTURE_PASSWORD)).unwrap();
            vectors::assert_same(&report.accounts, &vectors::canonical(), HOLDS);
            assert_eq!(
                import(&bytes, None).unwrap_err(),
                TransferError::PasswordRequired { format: FORMAT }
            );
            assert_eq!(
                import(&bytes, Some("not it")).unwrap_err(),
                TransferError::WrongPassword { format: FORMAT },
                "{name}"
            );
            let err = import(&bytes[..40], Some("x")).unwrap_err();
            assert!(err.to_string().contains("too short"), "{name}: {err}");
        }
    }

    #[test]
    fn database_fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("stratum-internal.db3");
        assert_eq!(detect(&bytes), Some(FORMAT));
        let report = import_any(&bytes, None, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &vectors::canonical(), Holds::OTP_ONLY);
    }

    #[test]
    fn bad_entries_are_reported_and_the_rest_imports() {
        let file = br#"{"Authenticators":[
            {"Type":2,"Issuer":"A","Username":null,"Secret":"JBSWY3DPEHPK3PXP","Algorithm":0,"Digits":6,"Period":30,"Counter":0},
            {"Type":3,"Issuer":"B","Username":"b","Secret":"JBSWY3DPEHPK3PXP","Algorithm":0,"Digits":6,"Period":10,"Counter":0},
            {"Type":2,"Issuer":"C","Username":"c","Secret":"JBSWY3DPEHPK3PXP","Algorithm":7,"Digits":6,"Period":30,"Counter":0},
            {"Issuer":"D"}
        ],"Categories":[]}"#;
        let report = import(file, None).unwrap();
        assert_eq!(report.accounts.len(), 1);
        assert_eq!(report.accounts[0].account, "");
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].starts_with("entry 2 (B): mOTP"), "{shown:?}");
        assert!(shown[1].contains("unknown algorithm 7"), "{shown:?}");
        assert!(shown[2].starts_with("entry 4 (D): unreadable"), "{shown:?}");
        let err = import(b"{\"Authenticators\": 3}", None).unwrap_err();
        assert!(matches!(err, TransferError::Corrupt { .. }), "{err}");
    }
}
