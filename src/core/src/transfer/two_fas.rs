//! 2FAS backups (`.2fas`), plain and password-encrypted, schema versions 1–4 (import and export).
//!
//! Source: the 2FAS Android app, twofas/2fas-android
//! `data/services/src/main/java/com/twofasapp/data/services/domain/BackupContent.kt` and
//! `BackupService.kt` (fields), `core/cipher/.../backup/BackupCipherImpl.kt` (encryption).
//! `{services, groups, updatedAt, schemaVersion, appVersionCode, appOrigin, servicesEncrypted?,
//! reference?}`. Encrypted files have `services: []`; `servicesEncrypted` and `reference` are
//! `base64(ciphertext || tag):base64(salt):base64(iv)`, key = PBKDF2-HMAC-SHA256(password, salt,
//! 10 000 iterations, 32 bytes), AES-256-GCM. `reference` encrypts a fixed text that 2FAS uses to
//! check the password; we write it so 2FAS accepts our files, and read only `servicesEncrypted`.
//!
//! Lost on import: icons, badges, colours, order, usage data; SHA-224/SHA-384 accounts (reported,
//! not imported). The service `name` becomes the issuer when `otp.issuer` is empty.
//! The format has no field for the iteration count: 2FAS fixes PBKDF2-HMAC-SHA256 at 10,000
//! iterations, and a file with more would not open in 2FAS. So a 2FAS export stays at that
//! cost, far below Tessera's own backup (`tessera_backup`, Argon2id at the vault's cost): it
//! is for moving to 2FAS, and the CLI's help and the GUI's export screen say so.
//!
//! Lost on export: notes and favourite marks (2FAS has neither); `updatedAt` is written as 0
//! (export takes no clock). HOTP counters above 2^31 - 1 do not fit 2FAS' 32-bit field: such
//! accounts are listed in [`super::Export::unexported`]. Everything else round-trips.

use std::collections::HashMap;
use std::num::NonZeroU32;

use data_encoding::BASE64;
use serde::Deserialize;
use serde_json::{Value, json};

use super::crypto;
use super::{
    Collector, Export, Format, ImportReport, ImportedAccount, TransferError, Unexported,
    entry_location, otp_params, secret_base32,
};
use crate::otp::OtpKind;

const FORMAT: Format = Format::TwoFas;
const ITERATIONS: NonZeroU32 = NonZeroU32::new(10_000).expect("invariant: non-zero");
/// The newest schema we read and the one we write.
const SCHEMA: u64 = 4;
/// Salt length 2FAS itself uses (BackupSaltGeneratorRandom.kt); readers accept any length.
const SALT_LEN: usize = 256;
/// The password-check text 2FAS encrypts into `reference` (BackupContent.kt, `Reference`): an
/// interoperability constant of the format, like a magic number.
const REFERENCE: &str = "tRViSsLKzd86Hprh4ceC2OP7xazn4rrt4xhfEUbOjxLX8Rc3mkISXE0lWbmnWfggogbBJhtYgpK6fMl1D6mtsy92R3HkdGfwuXbzLebqVFJsR7IZ2w58t938iymwG4824igYy1wi6n2WDpO1Q1P69zwJGs2F5a1qP4MyIiDSD7NCV2OvidXQCBnDlGfmz0f1BQySRkkt4ryiJeCjD2o4QsveJ9uDBUn8ELyOrESv5R5DMDkD4iAF8TXU7KyoJujd";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Backup {
    #[serde(default)]
    services: Vec<Value>,
    #[serde(default)]
    groups: Vec<Group>,
    schema_version: Value,
    services_encrypted: Option<String>,
}

#[derive(Deserialize)]
struct Group {
    id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Service {
    #[serde(default)]
    name: String,
    secret: String,
    otp: Option<Otp>,
    group_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Otp {
    label: Option<String>,
    account: Option<String>,
    issuer: Option<String>,
    digits: Option<u64>,
    period: Option<u64>,
    algorithm: Option<String>,
    counter: Option<u64>,
    token_type: Option<String>,
}

pub(crate) fn import(bytes: &[u8], password: Option<&str>) -> Result<ImportReport, TransferError> {
    let backup: Backup = serde_json::from_slice(bytes)
        .map_err(|e| TransferError::corrupt(FORMAT, format!("not a 2FAS backup: {e}")))?;
    match backup.schema_version.as_u64() {
        Some(1..=SCHEMA) => {}
        _ => {
            return Err(TransferError::UnsupportedVersion {
                format: FORMAT,
                found: backup.schema_version.to_string(),
                supported: "schema 1 to 4",
            });
        }
    }
    let services = match backup.services_encrypted.as_deref().filter(|s| !s.trim().is_empty()) {
        None => backup.services,
        Some(sealed) => {
            let password = password.ok_or(TransferError::PasswordRequired { format: FORMAT })?;
            let plain = decrypt(sealed, password)?;
            serde_json::from_slice(&plain).map_err(|e| {
                TransferError::corrupt(FORMAT, format!("decrypted services are not a list: {e}"))
            })?
        }
    };
    let groups: HashMap<&str, &str> =
        backup.groups.iter().map(|g| (g.id.as_str(), g.name.as_str())).collect();
    let mut out = Collector::new(FORMAT);
    for (index, value) in services.into_iter().enumerate() {
        let issuer = value
            .pointer("/otp/issuer")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| value.get("name").and_then(Value::as_str))
            .map(str::to_owned);
        let result = serde_json::from_value::<Service>(value)
            .map_err(|e| format!("unreadable service: {e}"))
            .and_then(|service| convert(service, &groups));
        out.push(entry_location(index), issuer.as_deref(), result);
    }
    Ok(out.finish())
}

fn decrypt(sealed: &str, password: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, TransferError> {
    let parts: Vec<&str> = sealed.trim().split(':').collect();
    let [data, salt, iv] = parts[..] else {
        return Err(TransferError::corrupt(FORMAT, "servicesEncrypted does not have three parts"));
    };
    let decode = |part: &str, what: &str| {
        BASE64
            .decode(part.as_bytes())
            .map_err(|_| TransferError::corrupt(FORMAT, format!("the {what} is not base64")))
    };
    let (data, salt, iv) = (decode(data, "ciphertext")?, decode(salt, "salt")?, decode(iv, "iv")?);
    let key = crypto::pbkdf2_sha256(password, &salt, ITERATIONS);
    crypto::open(&*key, &iv, &data).ok_or(TransferError::WrongPassword { format: FORMAT })
}

fn convert(service: Service, groups: &HashMap<&str, &str>) -> Result<ImportedAccount, String> {
    let otp = service.otp.unwrap_or_default();
    let kind = match otp.token_type.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("TOTP") => OtpKind::Totp,
        Some("HOTP") => OtpKind::Hotp,
        Some("STEAM") => OtpKind::Steam,
        Some(other) => return Err(format!("unsupported token type {other:?}")),
    };
    // Always the top-level secret: `otp.link` may carry a placeholder.
    let secret = secret_base32(&service.secret)?;
    let params =
        otp_params(kind, secret, otp.algorithm.as_deref(), otp.digits, otp.period, otp.counter)?;
    let issuer = otp.issuer.filter(|i| !i.is_empty()).unwrap_or(service.name);
    let account = otp.account.filter(|a| !a.is_empty()).or(otp.label).unwrap_or_default();
    let group = service.group_id.and_then(|id| groups.get(id.as_str()).map(|n| (*n).to_owned()));
    Ok(ImportedAccount { group, ..ImportedAccount::new(issuer, account, params) })
}

pub(crate) fn export(
    accounts: &[ImportedAccount],
    password: Option<&str>,
) -> Result<Export, TransferError> {
    let mut group_ids: Vec<(String, String)> = Vec::new();
    let mut services = Vec::with_capacity(accounts.len());
    let mut unexported = Vec::new();
    for (position, account) in accounts.iter().enumerate() {
        // 2FAS reads the counter into a 32-bit `Int` (BackupService.kt).
        if account.otp.kind == OtpKind::Hotp && account.otp.counter > i32::MAX as u64 {
            unexported.push(Unexported {
                index: position,
                label: account.label(),
                reason: format!(
                    "2FAS holds counters up to {}, not {}",
                    i32::MAX,
                    account.otp.counter
                ),
            });
            continue;
        }
        let group_id = match &account.group {
            None => None,
            Some(name) => Some(match group_ids.iter().find(|(n, _)| n == name) {
                Some((_, id)) => id.clone(),
                None => {
                    let id = crypto::uuid_v4()?;
                    group_ids.push((name.clone(), id.clone()));
                    id
                }
            }),
        };
        let otp = &account.otp;
        let token_type = match otp.kind {
            OtpKind::Totp => "TOTP",
            OtpKind::Hotp => "HOTP",
            OtpKind::Steam => "STEAM",
        };
        let counter = (otp.kind == OtpKind::Hotp).then_some(otp.counter);
        services.push(json!({
            "name": account.issuer,
            "secret": &*otp.secret.to_base32(),
            "updatedAt": 0,
            "serviceTypeID": null,
            "otp": {
                "link": null,
                "label": account.account,
                "account": account.account,
                "issuer": account.issuer,
                "digits": otp.digits,
                "period": otp.period,
                "algorithm": otp.algorithm.as_str(),
                "counter": counter,
                "tokenType": token_type,
                "source": "Manual",
            },
            "order": {"position": position},
            "badge": null,
            "icon": null,
            "groupId": group_id,
        }));
    }
    let groups: Vec<Value> = group_ids
        .into_iter()
        .map(|(name, id)| json!({"id": id, "name": name, "isExpanded": true, "updatedAt": 0}))
        .collect();
    let mut file = json!({
        "services": [],
        "groups": groups,
        "updatedAt": 0,
        "schemaVersion": SCHEMA,
        "appVersionCode": 0,
        "appVersionName": "",
        "appOrigin": "tessera",
    });
    match password {
        None => file["services"] = Value::Array(services),
        Some(password) => {
            let salt: [u8; SALT_LEN] = crypto::random_bytes()?;
            let key = crypto::pbkdf2_sha256(password, &salt, ITERATIONS);
            let plain = zeroize::Zeroizing::new(
                serde_json::to_vec(&services).expect("invariant: a JSON value always serialises"),
            );
            let encode = |plain: &[u8]| -> Result<String, TransferError> {
                let (iv, sealed) = crypto::seal(&*key, plain)?;
                Ok(format!(
                    "{}:{}:{}",
                    BASE64.encode(&sealed),
                    BASE64.encode(&salt),
                    BASE64.encode(&iv)
                ))
            };
            file["servicesEncrypted"] = json!(encode(&plain)?);
            file["reference"] = json!(encode(REFERENCE.as_bytes())?);
        }
    }
    let data = serde_json::to_vec_pretty(&file).expect("invariant: a JSON value always serialises");
    Ok(Export { format: FORMAT, data: data.into(), unexported, recovery_left_out: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::import as import_any;
    use crate::transfer::vectors::{self, Holds};

    const HOLDS: Holds = Holds { note: false, group: true, favourite: false };

    #[test]
    fn plain_export_round_trips_what_2fas_holds() {
        let accounts = vectors::canonical();
        let out = export(&accounts, None).unwrap();
        assert!(out.unexported.is_empty());
        let report = import(&out.data, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &accounts, HOLDS);
    }

    #[test]
    fn encrypted_export_round_trips_and_checks_the_password() {
        let accounts = vectors::canonical();
        let out = export(&accounts, Some("pässwörd")).unwrap();
        let file: Value = serde_json::from_slice(&out.data).unwrap();
        assert_eq!(file["services"], json!([]));
        assert!(file["reference"].as_str().unwrap().split(':').count() == 3);
        let report = import(&out.data, Some("pässwörd")).unwrap();
        vectors::assert_same(&report.accounts, &accounts, HOLDS);
        assert_eq!(
            import(&out.data, None).unwrap_err(),
            TransferError::PasswordRequired { format: FORMAT }
        );
        assert_eq!(
            import(&out.data, Some("passwörd")).unwrap_err(),
            TransferError::WrongPassword { format: FORMAT }
        );
    }

    #[test]
    fn committed_fixtures_hold_the_canonical_accounts() {
        for (name, password) in
            [("2fas-plain.2fas", None), ("2fas-encrypted.2fas", Some(vectors::FIXTURE_PASSWORD))]
        {
            let report = import_any(&vectors::fixture(name), None, password).unwrap();
            assert_eq!(report.format, FORMAT, "{name}");
            vectors::assert_same(&report.accounts, &vectors::canonical(), HOLDS);
        }
    }

    #[test]
    fn older_schemas_with_missing_fields_use_defaults() {
        let file = br#"{"schemaVersion": 1, "appVersionCode": 1, "services": [
            {"name": "Old Service", "secret": "jbsw y3dp ehpk 3pxp", "otp": {"account": "me"}},
            {"name": "Bare", "secret": "JBSWY3DPEHPK3PXP"}
        ]}"#;
        let report = import(file, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        let a = &report.accounts[0];
        assert_eq!((a.issuer.as_str(), a.account.as_str()), ("Old Service", "me"));
        assert_eq!((a.otp.kind, a.otp.digits, a.otp.period), (OtpKind::Totp, 6, 30));
        assert_eq!(report.accounts[1].issuer, "Bare");
    }

    #[test]
    fn counters_beyond_32_bits_are_listed_not_dropped() {
        let mut accounts = vectors::canonical();
        accounts[5].otp.counter = u64::from(u32::MAX);
        let out = export(&accounts, None).unwrap();
        assert_eq!(out.unexported.len(), 1);
        assert_eq!(out.unexported[0].index, 5);
        assert!(out.unexported[0].reason.contains("counters up to"), "{:?}", out.unexported);
        assert_eq!(import(&out.data, None).unwrap().accounts.len(), accounts.len() - 1);
    }

    #[test]
    fn unknown_schema_is_refused() {
        let err = import(br#"{"schemaVersion": 5, "services": []}"#, None).unwrap_err();
        assert!(matches!(err, TransferError::UnsupportedVersion { .. }), "{err}");
        assert!(err.to_string().contains("schema 1 to 4"), "{err}");
    }

    #[test]
    fn bad_services_are_reported_by_position_and_issuer() {
        let file = br#"{"schemaVersion": 4, "services": [
            {"name": "Good", "secret": "JBSWY3DPEHPK3PXP", "otp": {"tokenType": "TOTP"}},
            {"name": "Odd", "secret": "JBSWY3DPEHPK3PXP", "otp": {"algorithm": "SHA224"}},
            {"name": "NoSecret", "otp": {}},
            {"name": "Mystery", "secret": "JBSWY3DPEHPK3PXP", "otp": {"tokenType": "YANDEX"}}
        ]}"#;
        let report = import(file, None).unwrap();
        assert_eq!(report.accounts.len(), 1);
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert!(shown[0].starts_with("entry 2 (Odd): unknown algorithm"), "{shown:?}");
        assert!(shown[1].starts_with("entry 3 (NoSecret): unreadable service"), "{shown:?}");
        assert!(shown[2].contains("YANDEX"), "{shown:?}");
    }

    #[test]
    fn damaged_encrypted_field_is_an_error() {
        let file = br#"{"schemaVersion": 4, "services": [], "servicesEncrypted": "abc:def"}"#;
        assert!(matches!(import(file, Some("pw")), Err(TransferError::Corrupt { .. })));
        let file = br#"{"schemaVersion": 4, "services": [], "servicesEncrypted": "!!!:AAAA:AAAA"}"#;
        assert!(matches!(import(file, Some("pw")), Err(TransferError::Corrupt { .. })));
        let file =
            br#"{"schemaVersion": 4, "services": [], "servicesEncrypted": "AAAA:AAAA:AAAA"}"#;
        assert!(matches!(import(file, Some("pw")), Err(TransferError::WrongPassword { .. })));
    }
}
