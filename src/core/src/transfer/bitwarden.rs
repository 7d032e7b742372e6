//! Bitwarden password-manager exports, unencrypted JSON and CSV (import only).
//!
//! Source: Bitwarden's "Bitwarden import format" (<https://bitwarden.com/help/import-data/>) as
//! written by bitwarden/clients `libs/tools/export/vault-export/vault-export-core/`. JSON:
//! `{encrypted: false, folders: [{id, name}], items: [{type, name, notes, favorite, folderId,
//! login: {username, password, uris, totp}}]}`. CSV columns:
//! `folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp`.
//! `totp` holds an `otpauth://` URI, a `steam://SECRET` link, or a bare base32 secret (then
//! TOTP, SHA1, 6 digits, 30 s).
//!
//! Lost on import: passwords, URIs, custom fields (Tessera stores no passwords); items without a
//! `totp` value are not authenticator accounts and are skipped without a problem. The item name
//! fills an empty issuer and the username an empty account; notes, folder and favourite carry
//! over. Encrypted ("account restricted" or password-protected) exports are refused with a
//! clear error: export unencrypted JSON or CSV from Bitwarden instead.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::{
    Collector, Format, ImportReport, ImportedAccount, TransferError, entry_location, from_uri,
    otp_params, secret_base32, text_of,
};
use crate::otp::OtpKind;
use crate::uri::OtpUri;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonExport {
    #[serde(default)]
    encrypted: bool,
    #[serde(default)]
    password_protected: bool,
    #[serde(default)]
    folders: Vec<Folder>,
    #[serde(default)]
    items: Value,
}

#[derive(Deserialize)]
struct Folder {
    id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    #[serde(default)]
    name: String,
    notes: Option<String>,
    #[serde(default)]
    favorite: bool,
    folder_id: Option<String>,
    login: Option<Login>,
}

#[derive(Deserialize)]
struct Login {
    username: Option<String>,
    totp: Option<String>,
}

/// The fields of one item that matter to us, from either file type.
struct Fields<'a> {
    name: &'a str,
    username: &'a str,
    totp: &'a str,
    notes: &'a str,
    folder: Option<&'a str>,
    favourite: bool,
}

fn convert(fields: &Fields<'_>) -> Result<ImportedAccount, String> {
    let totp = fields.totp.trim();
    let mut account = if strip_scheme(totp, "otpauth").is_some() {
        from_uri(OtpUri::parse(totp).map_err(|e| e.to_string())?)
    } else if let Some(secret) = strip_scheme(totp, "steam") {
        let otp = otp_params(OtpKind::Steam, secret_base32(secret)?, None, None, None, None)?;
        ImportedAccount::new("", "", otp)
    } else {
        let otp = otp_params(OtpKind::Totp, secret_base32(totp)?, None, None, None, None)?;
        ImportedAccount::new("", "", otp)
    };
    if account.issuer.is_empty() {
        fields.name.trim().clone_into(&mut account.issuer);
    }
    if account.account.is_empty() {
        fields.username.trim().clone_into(&mut account.account);
    }
    fields.notes.clone_into(&mut account.note);
    account.group = fields.folder.filter(|f| !f.is_empty()).map(str::to_owned);
    account.favourite = fields.favourite;
    Ok(account)
}

/// Returns what follows `scheme://` (scheme matched case-insensitively).
fn strip_scheme<'a>(text: &'a str, scheme: &str) -> Option<&'a str> {
    let (head, rest) = text.split_once("://")?;
    head.eq_ignore_ascii_case(scheme).then_some(rest)
}

pub(crate) fn import_json(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    const FORMAT: Format = Format::BitwardenJson;
    let export: JsonExport = serde_json::from_slice(bytes)
        .map_err(|e| TransferError::corrupt(FORMAT, format!("not a Bitwarden JSON export: {e}")))?;
    if export.encrypted || export.password_protected {
        return Err(TransferError::Unsupported {
            format: FORMAT,
            reason: "the export is encrypted; export from Bitwarden as unencrypted .json or .csv"
                .into(),
        });
    }
    let folders: HashMap<&str, &str> =
        export.folders.iter().map(|f| (f.id.as_str(), f.name.as_str())).collect();
    let Value::Array(items) = export.items else {
        return Err(TransferError::corrupt(FORMAT, "no list of items"));
    };
    let mut out = Collector::new(FORMAT);
    for (index, value) in items.into_iter().enumerate() {
        let name = value.get("name").and_then(Value::as_str).map(str::to_owned);
        let item = match serde_json::from_value::<Item>(value) {
            Ok(item) => item,
            Err(e) => {
                out.problem(
                    entry_location(index),
                    name.as_deref(),
                    format!("unreadable item: {e}"),
                );
                continue;
            }
        };
        let Some(login) = item.login else { continue };
        let Some(totp) = login.totp.filter(|t| !t.trim().is_empty()) else { continue };
        let fields = Fields {
            name: &item.name,
            username: login.username.as_deref().unwrap_or_default(),
            totp: &totp,
            notes: item.notes.as_deref().unwrap_or_default(),
            folder: item.folder_id.as_deref().and_then(|id| folders.get(id).copied()),
            favourite: item.favorite,
        };
        out.push(entry_location(index), Some(&item.name), convert(&fields));
    }
    Ok(out.finish())
}

pub(crate) fn import_csv(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    const FORMAT: Format = Format::BitwardenCsv;
    let text = text_of(bytes, FORMAT)?.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| TransferError::corrupt(FORMAT, format!("unreadable header line: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let totp_column = column("login_totp")
        .ok_or_else(|| TransferError::corrupt(FORMAT, "no login_totp column"))?;
    let [folder, favourite, name, notes, username] =
        ["folder", "favorite", "name", "notes", "login_username"].map(column);
    let mut out = Collector::new(FORMAT);
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line() + 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // A broken quote or invalid UTF-8 ends what the reader can make sense of.
                out.problem(format!("line {line}"), None, format!("unreadable CSV: {e}"));
                break;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or_default();
        let totp = get(Some(totp_column));
        if totp.trim().is_empty() {
            continue;
        }
        let fields = Fields {
            name: get(name),
            username: get(username),
            totp,
            notes: get(notes),
            folder: Some(get(folder)),
            favourite: matches!(get(favourite).trim(), "1" | "true" | "TRUE"),
        };
        out.push(format!("line {line}"), Some(fields.name), convert(&fields));
    }
    Ok(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::import as import_any;
    use crate::transfer::vectors::{self, Holds};

    #[test]
    fn json_fixture_holds_the_canonical_accounts() {
        let report = import_any(&vectors::fixture("bitwarden.json"), None, None).unwrap();
        assert_eq!(report.format, Format::BitwardenJson);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &vectors::canonical(), Holds::ALL);
    }

    #[test]
    fn csv_fixture_holds_the_canonical_accounts() {
        let report = import_any(&vectors::fixture("bitwarden.csv"), None, None).unwrap();
        assert_eq!(report.format, Format::BitwardenCsv);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &vectors::canonical(), Holds::ALL);
    }

    #[test]
    fn bare_secrets_take_names_from_the_item() {
        let csv = "folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp\n\
                   ,,login,Plain Site,,,0,https://x,me,pw,JBSW Y3DP EHPK 3PXP\n\
                   ,,login,No TOTP,,,0,https://y,me,pw,\n\
                   ,1,login,Bad,,,0,https://z,me,pw,not-base32!\n";
        let report = import_csv(csv.as_bytes()).unwrap();
        assert_eq!(report.accounts.len(), 1);
        let a = &report.accounts[0];
        assert_eq!((a.issuer.as_str(), a.account.as_str(), a.otp.period), ("Plain Site", "me", 30));
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 1);
        assert!(shown[0].starts_with("line 4 (Bad): unreadable secret"), "{shown:?}");
    }

    #[test]
    fn encrypted_json_exports_are_refused() {
        let err = import_json(
            br#"{"encrypted": true, "encKeyValidation_DO_NOT_EDIT": "x", "items": "x"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unencrypted"), "{err}");
        let err = import_json(br#"{"encrypted": true, "passwordProtected": true, "data": "x"}"#)
            .unwrap_err();
        assert!(matches!(err, TransferError::Unsupported { .. }), "{err}");
    }

    #[test]
    fn csv_without_totp_column_is_corrupt() {
        let err = import_csv(b"name,login_username\nx,y\n").unwrap_err();
        assert!(err.to_string().contains("login_totp"), "{err}");
    }
}
