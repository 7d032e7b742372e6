//! LastPass Authenticator's JSON export (import only).
//!
//! Source: LastPass publishes no format; the file is the app's "Export accounts to file"
//! (Settings → Transfer accounts), as read by Proton's own importer
//! (protonpass/proton-pass-common `proton-authenticator/src/parser/lastpass/json.rs`):
//! `{"version", "accounts": [{issuerName, userName, secret (base32), timeStep, digits,
//! algorithm, originalIssuerName?, originalUserName?, isFavorite?, folderData?: {folderId}}],
//! "folders"?: [{id, name}]}`. LastPass accounts are always TOTP.
//!
//! Lost on import: LastPass' push-notification flags, positions and "last used" data. The
//! folder becomes the group and `isFavorite` the favourite mark.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::{
    Collector, Format, ImportReport, ImportedAccount, TransferError, entry_location, otp_params,
    secret_base32,
};
use crate::otp::OtpKind;

const FORMAT: Format = Format::LastPass;

#[derive(Deserialize)]
struct Export {
    accounts: Vec<Value>,
    #[serde(default)]
    folders: Vec<Folder>,
}

#[derive(Deserialize)]
struct Folder {
    id: Value,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Account {
    #[serde(default)]
    issuer_name: String,
    #[serde(default)]
    user_name: String,
    secret: String,
    time_step: Option<u64>,
    digits: Option<u64>,
    algorithm: Option<String>,
    #[serde(default)]
    is_favorite: bool,
    folder_data: Option<FolderData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FolderData {
    folder_id: Value,
}

pub(crate) fn import(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    let export: Export = serde_json::from_slice(bytes)
        .map_err(|e| TransferError::corrupt(FORMAT, format!("not a LastPass export: {e}")))?;
    let folders: HashMap<String, &str> =
        export.folders.iter().map(|f| (f.id.to_string(), f.name.as_str())).collect();
    let mut out = Collector::new(FORMAT);
    for (index, value) in export.accounts.into_iter().enumerate() {
        let issuer = value.get("issuerName").and_then(Value::as_str).map(str::to_owned);
        let result = serde_json::from_value::<Account>(value)
            .map_err(|e| format!("unreadable account: {e}"))
            .and_then(|account| convert(account, &folders));
        out.push(entry_location(index), issuer.as_deref(), result);
    }
    Ok(out.finish())
}

fn convert(account: Account, folders: &HashMap<String, &str>) -> Result<ImportedAccount, String> {
    let secret = secret_base32(&account.secret)?;
    let otp = otp_params(
        OtpKind::Totp,
        secret,
        account.algorithm.as_deref(),
        account.digits,
        account.time_step,
        None,
    )?;
    let mut imported = ImportedAccount::new(account.issuer_name, account.user_name, otp);
    imported.favourite = account.is_favorite;
    imported.group = account
        .folder_data
        .and_then(|f| folders.get(&f.folder_id.to_string()).map(|n| (*n).to_owned()));
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::vectors::{self, Holds};
    use crate::transfer::{detect, import as import_any};

    #[test]
    fn fixture_holds_the_canonical_totp_accounts() {
        let bytes = vectors::fixture("lastpass.json");
        assert_eq!(detect(&bytes), Some(FORMAT));
        let report = import_any(&bytes, None, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        let want = vectors::canonical_where(|a| a.otp.kind == OtpKind::Totp);
        vectors::assert_same(&report.accounts, &want, Holds { note: false, ..Holds::ALL });
    }

    #[test]
    fn bad_entries_are_reported_and_damage_is_named() {
        let file = br#"{"version":3,"accounts":[
            {"issuerName":"A","userName":"a","secret":"JBSWY3DPEHPK3PXP","timeStep":30,"digits":6,"algorithm":"SHA1"},
            {"issuerName":"B","userName":"b","secret":"JBSWY3DPEHPK3PXP","timeStep":30,"digits":6,"algorithm":"MD5"},
            {"issuerName":"C","userName":"c","secret":"JBSWY3DPEHPK3PXP","timeStep":0,"digits":6,"algorithm":"SHA1"}
        ]}"#;
        let report = import(file).unwrap();
        assert_eq!(report.accounts.len(), 1);
        assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
        assert!(report.problems[0].to_string().starts_with("entry 2 (B): "));
        assert!(report.problems[1].to_string().starts_with("entry 3 (C): "));
        let err = import(br#"{"version":3}"#).unwrap_err();
        assert!(err.to_string().contains("accounts"), "{err}");
    }
}
