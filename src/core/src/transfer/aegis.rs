//! Aegis vault JSON, plain and password-encrypted (import and export).
//!
//! Source: beemdevelopment/Aegis `docs/vault.md`
//! (<https://github.com/beemdevelopment/Aegis/blob/master/docs/vault.md>): a container
//! `{version: 1, header: {slots, params}, db}`; when encrypted, `db` is base64 of the AES-256-GCM
//! ciphertext of the content (tag in `header.params.tag`) under a random master key, which each
//! slot wraps with AES-256-GCM; password slots (type 1) derive their key with scrypt
//! (`n`, `r`, `p`, hex `salt`; Aegis uses N=2^15, r=8, p=1). Content versions 1–3: version 1 has
//! no groups, version 2 a `group` name per entry, version 3 a `groups` list of UUIDs.
//!
//! Lost on import: icons, UUIDs, usage data; MOTP and Yandex entries (reported per entry, not
//! imported: Tessera cannot compute those codes); membership in more than one group (the first
//! is kept, the others are added to the note); vaults that only have biometric or raw slots
//! (device-bound, unusable off the phone: refused with a clear error).
//! Lost on export: nothing the account model holds. Export writes content version 3 with one
//! password slot (scrypt N=2^16, r=8, p=1, new salt, nonces and master key each time), or
//! `slots: null` when exporting without a password.
//!
//! Why N=2^16, twice Aegis' own cost: a slot stores `n`, `r` and `p`, and Aegis derives the
//! key with whatever the slot says (`PasswordSlot.deriveKey` → `CryptoUtils.deriveKey` →
//! Bouncy Castle `SCrypt.generate(password, salt, n, r, p, 32)`), so a stronger N is read by
//! Aegis unchanged. We stop at 2^16 (64 MiB of scrypt memory, inside the Java heap of an
//! ordinary phone) rather than 2^17 (128 MiB): Bouncy Castle allocates that memory on the
//! Java heap, and an import that fails with an out-of-memory error on the phone would defeat
//! the format's purpose, which is moving to Aegis. For keeping a copy, Tessera's own backup
//! (`tessera_backup`, Argon2id at the vault's cost) is the stronger choice.

use std::collections::HashMap;

use data_encoding::{BASE64, HEXLOWER, HEXLOWER_PERMISSIVE};
use serde::Deserialize;
use serde_json::{Value, json};

use super::crypto::{self, TAG_LEN};
use super::{
    Collector, Export, Format, ImportReport, ImportedAccount, TransferError, entry_location,
    otp_params, secret_base32,
};
use crate::otp::OtpKind;

const FORMAT: Format = Format::Aegis;
/// scrypt cost written on export: Aegis' own r and p (docs/vault.md, "KDF") with twice its
/// N (2^15), which Aegis reads from the slot (see the module docs).
const SCRYPT_LOG_N: u32 = 16;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;

#[derive(Deserialize)]
struct Container {
    version: Value,
    header: Header,
    db: Value,
}

#[derive(Deserialize)]
struct Header {
    slots: Option<Vec<Value>>,
    params: Option<KeyParams>,
}

#[derive(Deserialize)]
struct KeyParams {
    nonce: String,
    tag: String,
}

#[derive(Deserialize)]
struct Slot {
    #[serde(rename = "type")]
    kind: u64,
    key: String,
    key_params: KeyParams,
    n: Option<u64>,
    r: Option<u32>,
    p: Option<u32>,
    salt: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    version: Value,
    entries: Vec<Value>,
    #[serde(default)]
    groups: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
    uuid: String,
    name: String,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    favorite: bool,
    info: Info,
    /// Content version 3: group UUIDs.
    #[serde(default)]
    groups: Vec<String>,
    /// Content version 2: one group name.
    #[serde(default)]
    group: Option<String>,
}

#[derive(Deserialize)]
struct Info {
    secret: String,
    algo: Option<String>,
    digits: Option<u64>,
    period: Option<u64>,
    counter: Option<u64>,
}

fn hex(text: &str, what: &str) -> Result<Vec<u8>, TransferError> {
    HEXLOWER_PERMISSIVE
        .decode(text.as_bytes())
        .map_err(|_| TransferError::corrupt(FORMAT, format!("{what} is not hexadecimal")))
}

fn version_number(value: &Value) -> Option<u64> {
    value.as_u64()
}

pub(crate) fn import(bytes: &[u8], password: Option<&str>) -> Result<ImportReport, TransferError> {
    let container: Container = serde_json::from_slice(bytes)
        .map_err(|e| TransferError::corrupt(FORMAT, format!("not an Aegis vault: {e}")))?;
    if version_number(&container.version) != Some(1) {
        return Err(TransferError::UnsupportedVersion {
            format: FORMAT,
            found: container.version.to_string(),
            supported: "1",
        });
    }
    let content = match (container.header.slots, container.header.params, container.db) {
        (None, None, db @ Value::Object(_)) => db,
        (Some(slots), Some(params), Value::String(db)) => {
            let password = password.ok_or(TransferError::PasswordRequired { format: FORMAT })?;
            let master = unlock(&slots, password)?;
            let mut sealed = BASE64
                .decode(db.as_bytes())
                .map_err(|_| TransferError::corrupt(FORMAT, "db is not base64"))?;
            sealed.extend(hex(&params.tag, "the content tag")?);
            let nonce = hex(&params.nonce, "the content nonce")?;
            let plain = crypto::open(&master, &nonce, &sealed)
                .ok_or_else(|| TransferError::corrupt(FORMAT, "the content does not decrypt"))?;
            serde_json::from_slice(&plain).map_err(|e| {
                TransferError::corrupt(FORMAT, format!("decrypted content is not JSON: {e}"))
            })?
        }
        _ => {
            return Err(TransferError::corrupt(
                FORMAT,
                "the header and db do not match (neither plain nor encrypted)",
            ));
        }
    };
    read_content(content)
}

/// Tries every password slot; returns the master key of the first that opens.
fn unlock(slots: &[Value], password: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, TransferError> {
    let mut password_slots = 0;
    for value in slots {
        let Ok(slot) = serde_json::from_value::<Slot>(value.clone()) else {
            continue;
        };
        if slot.kind != 1 {
            continue;
        }
        password_slots += 1;
        let (Some(n), Some(r), Some(p), Some(salt)) = (slot.n, slot.r, slot.p, &slot.salt) else {
            return Err(TransferError::corrupt(
                FORMAT,
                "a password slot lacks its scrypt parameters",
            ));
        };
        let salt = hex(salt, "a slot salt")?;
        let derived =
            crypto::scrypt(password, &salt, n, r, p).ok_or_else(|| TransferError::Unsupported {
                format: FORMAT,
                reason: format!("scrypt parameters n={n} r={r} p={p} are invalid or too costly"),
            })?;
        let mut wrapped = hex(&slot.key, "a slot key")?;
        wrapped.extend(hex(&slot.key_params.tag, "a slot tag")?);
        let nonce = hex(&slot.key_params.nonce, "a slot nonce")?;
        if let Some(master) = crypto::open(&*derived, &nonce, &wrapped) {
            return Ok(master);
        }
    }
    if password_slots == 0 {
        return Err(TransferError::Unsupported {
            format: FORMAT,
            reason: "the vault has no password slot (biometric slots only work on the phone that \
                     made them); export it from Aegis with a password"
                .into(),
        });
    }
    Err(TransferError::WrongPassword { format: FORMAT })
}

fn read_content(content: Value) -> Result<ImportReport, TransferError> {
    let content: Content = serde_json::from_value(content)
        .map_err(|e| TransferError::corrupt(FORMAT, format!("unreadable content: {e}")))?;
    match version_number(&content.version) {
        Some(1..=3) => {}
        _ => {
            return Err(TransferError::UnsupportedVersion {
                format: FORMAT,
                found: format!("content {}", content.version),
                supported: "content 1 to 3",
            });
        }
    }
    let groups: HashMap<&str, &str> =
        content.groups.iter().map(|g| (g.uuid.as_str(), g.name.as_str())).collect();
    let mut out = Collector::new(FORMAT);
    for (index, value) in content.entries.into_iter().enumerate() {
        let issuer = value.get("issuer").and_then(Value::as_str).map(str::to_owned);
        let result = serde_json::from_value::<Entry>(value)
            .map_err(|e| format!("unreadable entry: {e}"))
            .and_then(|entry| convert(entry, &groups));
        out.push(entry_location(index), issuer.as_deref(), result);
    }
    Ok(out.finish())
}

fn convert(entry: Entry, groups: &HashMap<&str, &str>) -> Result<ImportedAccount, String> {
    let kind = match entry.kind.as_str() {
        "totp" => OtpKind::Totp,
        "hotp" => OtpKind::Hotp,
        "steam" => OtpKind::Steam,
        other => {
            return Err(format!(
                "unsupported type {other:?} (Tessera computes TOTP, HOTP and Steam codes)"
            ));
        }
    };
    let info = entry.info;
    let secret = secret_base32(&info.secret)?;
    let otp =
        otp_params(kind, secret, info.algo.as_deref(), info.digits, info.period, info.counter)?;
    let mut note = entry.note.unwrap_or_default();
    let mut names = entry.groups.iter().filter_map(|id| groups.get(id.as_str()).copied());
    let group = match names.next() {
        Some(first) => {
            let rest: Vec<&str> = names.collect();
            if !rest.is_empty() {
                if !note.is_empty() {
                    note.push('\n');
                }
                note.push_str(&format!("Also in groups: {}", rest.join(", ")));
            }
            Some(first.to_owned())
        }
        None => entry.group.filter(|g| !g.is_empty()),
    };
    Ok(ImportedAccount {
        note,
        group,
        favourite: entry.favorite,
        ..ImportedAccount::new(entry.issuer, entry.name, otp)
    })
}

pub(crate) fn export(
    accounts: &[ImportedAccount],
    password: Option<&str>,
) -> Result<Export, TransferError> {
    let mut group_ids: Vec<(String, String)> = Vec::new();
    let mut entries = Vec::with_capacity(accounts.len());
    for account in accounts {
        let mut groups = Vec::new();
        if let Some(name) = &account.group {
            let id = match group_ids.iter().find(|(n, _)| n == name) {
                Some((_, id)) => id.clone(),
                None => {
                    let id = crypto::uuid_v4()?;
                    group_ids.push((name.clone(), id.clone()));
                    id
                }
            };
            groups.push(id);
        }
        let otp = &account.otp;
        let mut info = json!({
            "secret": &*otp.secret.to_base32(),
            "algo": otp.algorithm.as_str(),
            "digits": otp.digits,
        });
        match otp.kind {
            OtpKind::Hotp => info["counter"] = json!(otp.counter),
            OtpKind::Totp | OtpKind::Steam => info["period"] = json!(otp.period),
        }
        entries.push(json!({
            "type": otp.kind.as_str(),
            "uuid": crypto::uuid_v4()?,
            "name": account.account,
            "issuer": account.issuer,
            "note": account.note,
            "favorite": account.favourite,
            "icon": null,
            "icon_mime": null,
            "icon_hash": null,
            "info": info,
            "groups": groups,
        }));
    }
    let groups: Vec<Value> =
        group_ids.into_iter().map(|(name, uuid)| json!({"uuid": uuid, "name": name})).collect();
    let content = json!({"version": 3, "entries": entries, "groups": groups});
    let file = match password {
        None => json!({"version": 1, "header": {"slots": null, "params": null}, "db": content}),
        Some(password) => encrypt(&content, password)?,
    };
    let data = serde_json::to_vec_pretty(&file).expect("invariant: a JSON value always serialises");
    Ok(Export {
        format: FORMAT,
        data: data.into(),
        unexported: Vec::new(),
        recovery_left_out: Vec::new(),
    })
}

fn encrypt(content: &Value, password: &str) -> Result<Value, TransferError> {
    let master: [u8; 32] = crypto::random_bytes()?;
    let master = zeroize::Zeroizing::new(master);
    let salt: [u8; 32] = crypto::random_bytes()?;
    let derived = crypto::scrypt(password, &salt, 1 << SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P)
        .expect("invariant: the export's scrypt parameters are valid and within the ceiling");
    let (key_nonce, wrapped) = crypto::seal(&*derived, &*master)?;
    let (wrapped_key, wrapped_tag) = wrapped.split_at(wrapped.len() - TAG_LEN);
    let plain = zeroize::Zeroizing::new(
        serde_json::to_vec(content).expect("invariant: a JSON value always serialises"),
    );
    let (nonce, sealed) = crypto::seal(&*master, &plain)?;
    let (ciphertext, tag) = sealed.split_at(sealed.len() - TAG_LEN);
    Ok(json!({
        "version": 1,
        "header": {
            "slots": [{
                "type": 1,
                "uuid": crypto::uuid_v4()?,
                "key": HEXLOWER.encode(wrapped_key),
                "key_params": {"nonce": HEXLOWER.encode(&key_nonce), "tag": HEXLOWER.encode(wrapped_tag)},
                "n": 1u64 << SCRYPT_LOG_N,
                "r": SCRYPT_R,
                "p": SCRYPT_P,
                "salt": HEXLOWER.encode(&salt),
            }],
            "params": {"nonce": HEXLOWER.encode(&nonce), "tag": HEXLOWER.encode(tag)},
        },
        "db": BASE64.encode(ciphertext),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::{import as import_any, vectors};

    const PASSWORD: &str = "correct horse battery staple";

    #[test]
    fn plain_export_round_trips_every_field() {
        let accounts = vectors::canonical();
        let out = export(&accounts, None).unwrap();
        assert!(out.unexported.is_empty());
        let report = import(&out.data, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &accounts, vectors::Holds::ALL);
    }

    #[test]
    fn encrypted_export_round_trips_and_needs_the_password() {
        let accounts = vectors::canonical();
        let out = export(&accounts, Some(PASSWORD)).unwrap();
        let text = std::str::from_utf8(&out.data).unwrap();
        assert!(!text.contains("JBSW"), "no secret in the encrypted file");
        let file: Value = serde_json::from_slice(&out.data).unwrap();
        let slot = &file["header"]["slots"][0];
        assert_eq!((slot["n"].as_u64(), slot["r"].as_u64()), (Some(1 << 16), Some(8)));
        let report = import(&out.data, Some(PASSWORD)).unwrap();
        vectors::assert_same(&report.accounts, &accounts, vectors::Holds::ALL);
        assert_eq!(
            import(&out.data, None).unwrap_err(),
            TransferError::PasswordRequired { format: FORMAT }
        );
        assert_eq!(
            import(&out.data, Some("wrong")).unwrap_err(),
            TransferError::WrongPassword { format: FORMAT }
        );
    }

    #[test]
    fn committed_fixtures_hold_the_canonical_accounts() {
        let plain = vectors::fixture("aegis-plain.json");
        let report = import_any(&plain, None, None).unwrap();
        assert_eq!(report.format, FORMAT);
        vectors::assert_same(&report.accounts, &vectors::canonical(), vectors::Holds::ALL);
        let encrypted = vectors::fixture("aegis-encrypted.json");
        let report = import_any(&encrypted, None, Some(vectors::FIXTURE_PASSWORD)).unwrap();
        vectors::assert_same(&report.accounts, &vectors::canonical(), vectors::Holds::ALL);
    }

    fn plain_with(content: &Value) -> Vec<u8> {
        serde_json::to_vec(
            &json!({"version": 1, "header": {"slots": null, "params": null}, "db": content}),
        )
        .unwrap()
    }

    #[test]
    fn content_versions_one_and_two_are_read() {
        let v1 = plain_with(&json!({"version": 1, "entries": [{
            "type": "totp", "uuid": "x", "name": "alice", "issuer": "Old", "icon": null,
            "info": {"secret": "JBSWY3DPEHPK3PXP", "algo": "SHA1", "digits": 6, "period": 30}
        }]}));
        let report = import(&v1, None).unwrap();
        assert_eq!(report.accounts[0].issuer, "Old");
        assert_eq!(report.accounts[0].group, None);
        let v2 = plain_with(&json!({"version": 2, "entries": [{
            "type": "hotp", "uuid": "x", "name": "bob", "issuer": "Mid", "group": "Work",
            "info": {"secret": "JBSWY3DPEHPK3PXP", "algo": "SHA256", "digits": 8, "counter": 7}
        }]}));
        let report = import(&v2, None).unwrap();
        let a = &report.accounts[0];
        assert_eq!(
            (a.group.as_deref(), a.otp.kind, a.otp.counter),
            (Some("Work"), OtpKind::Hotp, 7)
        );
    }

    #[test]
    fn unknown_versions_are_refused() {
        let v4 = plain_with(&json!({"version": 4, "entries": []}));
        let err = import(&v4, None).unwrap_err();
        assert!(matches!(err, TransferError::UnsupportedVersion { .. }), "{err}");
        assert!(err.to_string().contains("content 4"), "{err}");
        let outer = br#"{"version": 2, "header": {"slots": null, "params": null}, "db": {}}"#;
        assert!(matches!(import(outer, None), Err(TransferError::UnsupportedVersion { .. })));
    }

    #[test]
    fn bad_entries_are_reported_and_the_rest_imports() {
        let file = plain_with(&json!({"version": 3, "groups": [], "entries": [
            {"type": "totp", "name": "a", "issuer": "Good", "info": {"secret": "JBSWY3DPEHPK3PXP", "algo": "SHA1", "digits": 6, "period": 30}},
            {"type": "motp", "name": "b", "issuer": "Motp", "info": {"secret": "JBSWY3DPEHPK3PXP", "algo": "MD5", "digits": 6, "period": 10, "pin": "1234"}},
            {"type": "totp", "name": "c", "issuer": "BadKey", "info": {"secret": "not base32!", "algo": "SHA1", "digits": 6, "period": 30}},
            {"type": "totp", "name": "d", "issuer": "BadDigits", "info": {"secret": "JBSWY3DPEHPK3PXP", "algo": "SHA1", "digits": 300, "period": 30}},
            {"type": "totp", "name": "e", "issuer": "NoInfo"},
            "not an object"
        ]}));
        let report = import(&file, None).unwrap();
        assert_eq!(report.accounts.len(), 1);
        let places: Vec<_> = report.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(places.len(), 5, "{places:?}");
        assert!(places[0].starts_with("entry 2 (Motp): unsupported type \"motp\""), "{places:?}");
        assert!(places[1].starts_with("entry 3 (BadKey): unreadable secret"), "{places:?}");
        assert!(places[2].contains("digits"), "{places:?}");
        assert!(places[4].starts_with("entry 6: "), "{places:?}");
        assert!(places.iter().all(|p| !p.contains("JBSW")), "no secret in problems");
    }

    #[test]
    fn several_groups_keep_the_first_and_note_the_rest() {
        let file = plain_with(&json!({"version": 3,
            "groups": [{"uuid": "g1", "name": "Work"}, {"uuid": "g2", "name": "Travel"}],
            "entries": [{"type": "totp", "name": "a", "issuer": "X", "note": "hi", "groups": ["g1", "g2"],
                "info": {"secret": "JBSWY3DPEHPK3PXP", "algo": "SHA1", "digits": 6, "period": 30}}]}));
        let a = &import(&file, None).unwrap().accounts[0];
        assert_eq!(a.group.as_deref(), Some("Work"));
        assert_eq!(a.note, "hi\nAlso in groups: Travel");
    }

    #[test]
    fn damaged_encrypted_vaults_give_clear_errors() {
        let good = export(&vectors::canonical()[..1], Some(PASSWORD)).unwrap();
        let mut file: Value = serde_json::from_slice(&good.data).unwrap();

        let mut db_damaged = file.clone();
        let db = db_damaged["db"].as_str().unwrap().to_owned();
        db_damaged["db"] = json!(format!("AAAA{}", &db[4..]));
        let err = import(&serde_json::to_vec(&db_damaged).unwrap(), Some(PASSWORD)).unwrap_err();
        assert!(matches!(err, TransferError::Corrupt { .. }), "{err}");

        let mut biometric = file.clone();
        biometric["header"]["slots"][0]["type"] = json!(2);
        let err = import(&serde_json::to_vec(&biometric).unwrap(), Some(PASSWORD)).unwrap_err();
        assert!(err.to_string().contains("no password slot"), "{err}");

        file["header"]["slots"][0]["n"] = json!(1u64 << 40);
        let err = import(&serde_json::to_vec(&file).unwrap(), Some(PASSWORD)).unwrap_err();
        assert!(err.to_string().contains("too costly"), "{err}");

        let truncated = &good.data[..good.data.len() / 2];
        assert!(matches!(import(truncated, Some(PASSWORD)), Err(TransferError::Corrupt { .. })));
    }
}
