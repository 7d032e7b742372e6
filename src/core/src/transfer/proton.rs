//! Proton Authenticator JSON exports, plain and password-encrypted (import and export).
//!
//! Source: Proton's own library, protonpass/proton-pass-common `proton-authenticator/src/entry/`
//! (`exporter.rs` for the JSON, `password_exporter.rs` and `../crypto.rs` for encryption).
//! Plain: `{"version": 1, "entries": [{"id", "content": {"uri", "entry_type": "Totp"|"Steam",
//! "name"}, "note"}]}`; `uri` is an `otpauth://totp/...` link or `steam://SECRET` (base32).
//! Encrypted: `{"version": 1, "salt": base64(16 bytes), "content": base64(nonce (12) ||
//! ciphertext || tag)}` holding the plain JSON; key = Argon2id v1.3 (19 MiB, 2 passes, 1 lane,
//! 32 bytes) of the password and salt; AES-256-GCM with the associated data
//! `proton.authenticator.export.v1`.
//!
//! Lost on import: Proton's entry ids. Proton's `name` is the account when the link has none.
//! Lost on export: groups and favourite marks (Proton has neither). Proton holds only TOTP and
//! Steam accounts with 1 to 9 digits: HOTP accounts and 10-digit codes are listed in
//! [`super::Export::unexported`], never dropped silently.

use data_encoding::BASE64;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use super::crypto;
use super::{
    Collector, Export, Format, ImportReport, ImportedAccount, TransferError, Unexported,
    entry_location, from_uri, secret_base32, to_uri,
};
use crate::otp::{Algorithm, OtpKind, OtpParams};
use crate::uri::OtpUri;

const FORMAT: Format = Format::Proton;
/// Proton's associated data for password exports (`EncryptionTag::PasswordExport`).
const AAD: &[u8] = b"proton.authenticator.export.v1";
/// Proton's Argon2id cost (`derive_password_key`): 19 MiB, 2 passes, 1 lane.
const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
const ARGON2_PASSES: u32 = 2;
const ARGON2_LANES: u32 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;

#[derive(Deserialize)]
struct Probe {
    version: Value,
    entries: Option<Vec<Value>>,
    salt: Option<String>,
    content: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct Entry {
    #[serde(default)]
    id: String,
    content: Content,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct Content {
    uri: String,
    entry_type: String,
    #[serde(default)]
    name: Option<String>,
}

pub(crate) fn import(bytes: &[u8], password: Option<&str>) -> Result<ImportReport, TransferError> {
    let probe: Probe = serde_json::from_slice(bytes)
        .map_err(|e| TransferError::corrupt(FORMAT, format!("not a Proton export: {e}")))?;
    if probe.version.as_u64() != Some(1) {
        return Err(TransferError::UnsupportedVersion {
            format: FORMAT,
            found: probe.version.to_string(),
            supported: "1",
        });
    }
    let entries = match (probe.entries, probe.salt, probe.content) {
        (Some(entries), _, _) => entries,
        (None, Some(salt), Some(content)) => {
            let password = password.ok_or(TransferError::PasswordRequired { format: FORMAT })?;
            let plain = decrypt(&salt, &content, password)?;
            let inner: Probe = serde_json::from_slice(&plain).map_err(|e| {
                TransferError::corrupt(FORMAT, format!("decrypted content is not an export: {e}"))
            })?;
            inner
                .entries
                .ok_or_else(|| TransferError::corrupt(FORMAT, "decrypted content has no entries"))?
        }
        _ => return Err(TransferError::corrupt(FORMAT, "neither entries nor salt and content")),
    };
    let mut out = Collector::new(FORMAT);
    for (index, value) in entries.into_iter().enumerate() {
        let name = value.pointer("/content/name").and_then(Value::as_str).map(str::to_owned);
        let result = serde_json::from_value::<Entry>(value)
            .map_err(|e| format!("unreadable entry: {e}"))
            .and_then(convert);
        out.push(entry_location(index), name.as_deref(), result);
    }
    Ok(out.finish())
}

fn decrypt(salt: &str, content: &str, password: &str) -> Result<Zeroizing<Vec<u8>>, TransferError> {
    let salt = BASE64
        .decode(salt.trim().as_bytes())
        .map_err(|_| TransferError::corrupt(FORMAT, "the salt is not base64"))?;
    if salt.len() != SALT_LEN {
        return Err(TransferError::corrupt(
            FORMAT,
            format!("the salt is {} bytes, not 16", salt.len()),
        ));
    }
    let sealed = BASE64
        .decode(content.trim().as_bytes())
        .map_err(|_| TransferError::corrupt(FORMAT, "the content is not base64"))?;
    if sealed.len() < NONCE_LEN + crypto::TAG_LEN {
        return Err(TransferError::corrupt(FORMAT, "the content is too short"));
    }
    let key = crypto::argon2id(password, &salt, ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES)
        .ok_or(TransferError::Random)?;
    let (nonce, data) = sealed.split_at(NONCE_LEN);
    crypto::open_with_aad(&*key, nonce, data, AAD)
        .ok_or(TransferError::WrongPassword { format: FORMAT })
}

fn convert(entry: Entry) -> Result<ImportedAccount, String> {
    let name = entry.content.name.unwrap_or_default();
    let mut account = match entry.content.entry_type.as_str() {
        "Steam" => {
            let uri = entry.content.uri.trim();
            let secret = match uri.split_once("://") {
                Some((scheme, rest)) if scheme.eq_ignore_ascii_case("steam") => {
                    secret_base32(rest)?
                }
                _ => return Err("a Steam entry without a steam:// link".into()),
            };
            let otp = OtpParams::new(OtpKind::Steam, secret, Algorithm::Sha1, 5, 30, 0)
                .map_err(|e| e.to_string())?;
            ImportedAccount::new("Steam", name.clone(), otp)
        }
        "Totp" => from_uri(OtpUri::parse(&entry.content.uri).map_err(|e| e.to_string())?),
        other => return Err(format!("unsupported entry type {other:?}")),
    };
    if account.account.is_empty() && account.issuer != name {
        account.account = name;
    }
    account.note = entry.note.unwrap_or_default();
    Ok(account)
}

pub(crate) fn export(
    accounts: &[ImportedAccount],
    password: Option<&str>,
) -> Result<Export, TransferError> {
    let mut entries = Vec::with_capacity(accounts.len());
    let mut unexported = Vec::new();
    for (index, account) in accounts.iter().enumerate() {
        let reason = match account.otp.kind {
            OtpKind::Hotp => Some("Proton Authenticator has no counter-based (HOTP) accounts"),
            _ if account.otp.digits > 9 => Some("Proton Authenticator shows at most 9 digits"),
            _ => None,
        };
        if let Some(reason) = reason {
            unexported.push(Unexported { index, label: account.label(), reason: reason.into() });
            continue;
        }
        let content = if account.otp.kind == OtpKind::Steam {
            Content {
                uri: format!("steam://{}", &*account.otp.secret.to_base32()),
                entry_type: "Steam".into(),
                name: Some(account.account.clone()),
            }
        } else {
            let name = if account.account.is_empty() { &account.issuer } else { &account.account };
            Content {
                uri: to_uri(account).to_uri().to_string(),
                entry_type: "Totp".into(),
                name: Some(name.clone()),
            }
        };
        let note = (!account.note.is_empty()).then(|| account.note.clone());
        entries.push(Entry { id: crypto::uuid_v4()?, content, note });
    }
    let plain = Zeroizing::new(
        serde_json::to_vec(&serde_json::json!({ "version": 1, "entries": entries }))
            .map_err(|e| TransferError::corrupt(FORMAT, e))?,
    );
    let data = match password {
        None => plain,
        Some(password) => {
            let salt: [u8; SALT_LEN] = crypto::random_bytes()?;
            let key =
                crypto::argon2id(password, &salt, ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES)
                    .ok_or(TransferError::Random)?;
            let (nonce, sealed) = crypto::seal_with_aad(&*key, &plain, AAD)?;
            let content = BASE64.encode(&[nonce.as_slice(), &sealed].concat());
            let file = serde_json::json!({
                "version": 1, "salt": BASE64.encode(&salt), "content": content,
            });
            Zeroizing::new(file.to_string().into_bytes())
        }
    };
    Ok(Export { format: FORMAT, data, unexported, recovery_left_out: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::vectors::{self, Holds};
    use crate::transfer::{detect, export as export_any, import as import_any};

    const HOLDS: Holds = Holds { note: true, group: false, favourite: false };

    /// The canonical accounts Proton can hold (not the two HOTP ones).
    fn holdable() -> Vec<ImportedAccount> {
        vectors::canonical().into_iter().filter(|a| a.otp.kind != OtpKind::Hotp).collect()
    }

    #[test]
    fn plain_fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("proton-plain.json");
        assert_eq!(detect(&bytes), Some(FORMAT));
        let report = import_any(&bytes, None, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &holdable(), HOLDS);
    }

    #[test]
    fn encrypted_fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("proton-encrypted.json");
        assert_eq!(detect(&bytes), Some(FORMAT));
        let report = import_any(&bytes, None, Some(vectors::FIXTURE_PASSWORD)).unwrap();
        vectors::assert_same(&report.accounts, &holdable(), HOLDS);
        assert_eq!(
            import(&bytes, None).unwrap_err(),
            TransferError::PasswordRequired { format: FORMAT }
        );
        assert_eq!(
            import(&bytes, Some("not the password")).unwrap_err(),
            TransferError::WrongPassword { format: FORMAT }
        );
    }

    #[test]
    fn export_round_trips_and_lists_what_proton_cannot_hold() {
        let all = vectors::canonical();
        for password in [None, Some("pw")] {
            let out = export_any(&all, FORMAT, password).unwrap();
            let skipped: Vec<usize> = out.unexported.iter().map(|u| u.index).collect();
            assert_eq!(skipped, vec![4, 5], "the two HOTP accounts");
            assert!(out.unexported[0].reason.contains("HOTP"), "{:?}", out.unexported);
            let report = import(&out.data, password).unwrap();
            vectors::assert_same(&report.accounts, &holdable(), HOLDS);
        }
    }

    #[test]
    fn damaged_files_name_what_is_wrong() {
        let err = import(br#"{"version":2,"entries":[]}"#, None).unwrap_err();
        assert!(matches!(err, TransferError::UnsupportedVersion { .. }), "{err}");
        let err =
            import(br#"{"version":1,"salt":"AAAA","content":"AAAA"}"#, Some("x")).unwrap_err();
        assert!(err.to_string().contains("salt is 3 bytes"), "{err}");
        let err = import(br#"{"version":1,"entries":[{"id":"x"#, None).unwrap_err();
        assert!(matches!(err, TransferError::Corrupt { .. }), "{err}");
        let mut bytes = vectors::fixture("proton-encrypted.json");
        let at = bytes.len() - 10;
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            import(&bytes, Some(vectors::FIXTURE_PASSWORD)).unwrap_err(),
            TransferError::WrongPassword { format: FORMAT }
        );
    }

    #[test]
    fn bad_entries_are_reported_and_the_rest_imports() {
        let file = br#"{"version":1,"entries":[
            {"id":"1","content":{"uri":"otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP","entry_type":"Totp","name":"a"},"note":null},
            {"id":"2","content":{"uri":"otpauth://totp/B:b?secret=!!","entry_type":"Totp","name":"b"}},
            {"id":"3","content":{"uri":"x","entry_type":"Hotp","name":"c"}},
            {"id":"4","content":{"uri":"otpauth://totp/D:d?secret=JBSWY3DPEHPK3PXP","entry_type":"Steam","name":"d"}}
        ]}"#;
        let report = import(file, None).unwrap();
        assert_eq!(report.accounts.len(), 1);
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].starts_with("entry 2 (b): "), "{shown:?}");
        assert!(shown[1].contains("unsupported entry type \"Hotp\""), "{shown:?}");
        assert!(shown[2].contains("steam://"), "{shown:?}");
    }
}
