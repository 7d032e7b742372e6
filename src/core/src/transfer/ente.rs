//! Ente Auth plain-text export (import only).
//!
//! Source: Ente Auth's export ("Export codes" → plain text). ente-io/ente
//! `docs/docs/auth/migration/export.md` documents the content as `otpauth://` URIs separated by
//! new lines (the same text its encrypted export wraps), and Aegis reads it as a URI list
//! (`importers/EnteAuthImporter.java`). Each URI carries Ente's `codeDisplay` parameter,
//! URL-encoded JSON
//! `{pinned, trashed, lastUsedAt, tapCount, tags: [...], note, position, iconSrc, iconID}`.
//! Ente's encrypted export (`{version, kdfParams, encryptedData, encryptionNonce}`, Argon2id +
//! XChaCha20-Poly1305) is recognised and refused with instructions to export plain text.
//!
//! Lost on import: icons, usage counts, position, tags after the first (the first becomes the
//! group, the rest are added to the note). Entries in Ente's trash are reported, not imported.
//! `pinned` becomes the favourite mark.

use serde::Deserialize;

use super::{Collector, Format, ImportReport, TransferError};
use super::{from_uri, meaningful_lines, text_of};
use crate::uri::OtpUri;

const FORMAT: Format = Format::Ente;

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeDisplay {
    pinned: bool,
    trashed: bool,
    tags: Vec<String>,
    note: String,
}

pub(crate) fn import(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    let text = text_of(bytes, FORMAT)?;
    if text.trim_start_matches('\u{feff}').trim_start().starts_with('{') {
        return Err(TransferError::Unsupported {
            format: FORMAT,
            reason: "Ente's encrypted export is not supported; in Ente Auth choose \
                     Data > Export codes > Plain text, import that file, then delete it"
                .into(),
        });
    }
    let mut out = Collector::new(FORMAT);
    for (number, line) in meaningful_lines(text) {
        let location = format!("line {number}");
        let uri = match OtpUri::parse(line) {
            Ok(uri) => uri,
            Err(e) => {
                out.problem(location, None, e.to_string());
                continue;
            }
        };
        let display = uri.extra.iter().find(|(k, _)| k == "codeDisplay").map(|(_, v)| v.as_str());
        let display = match display.map(serde_json::from_str::<CodeDisplay>) {
            None => CodeDisplay::default(),
            Some(Ok(display)) => display,
            Some(Err(e)) => {
                let issuer = uri.issuer.clone();
                out.problem(location, Some(&issuer), format!("unreadable codeDisplay data: {e}"));
                continue;
            }
        };
        let issuer = uri.issuer.clone();
        if display.trashed {
            out.problem(location, Some(&issuer), "in Ente's trash; not imported");
            continue;
        }
        let mut account = from_uri(uri);
        account.favourite = display.pinned;
        let mut tags = display.tags.into_iter().filter(|t| !t.is_empty());
        account.group = tags.next();
        let rest: Vec<String> = tags.collect();
        account.note = display.note;
        if !rest.is_empty() {
            if !account.note.is_empty() {
                account.note.push('\n');
            }
            account.note.push_str(&format!("Also tagged: {}", rest.join(", ")));
        }
        out.push(location, Some(&issuer), Ok(account));
    }
    Ok(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::import as import_any;
    use crate::transfer::vectors::{self, Holds};

    #[test]
    fn fixture_holds_the_canonical_accounts() {
        let report = import_any(&vectors::fixture("ente-auth.txt"), None, None).unwrap();
        assert_eq!(report.format, FORMAT);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &vectors::canonical(), Holds::ALL);
    }

    #[test]
    fn encrypted_export_is_detected_and_refused_with_advice() {
        let file = br#"{"version": 1, "kdfParams": {"memLimit": 4096, "opsLimit": 3, "salt": "x"},
            "encryptedData": "x", "encryptionNonce": "x"}"#;
        let err = import_any(file, None, Some("pw")).unwrap_err();
        assert!(matches!(err, TransferError::Unsupported { format: FORMAT, .. }), "{err}");
        assert!(err.to_string().contains("Plain text"), "{err}");
    }

    #[test]
    fn trashed_and_damaged_entries_are_reported() {
        let text = "otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP&codeDisplay=%7B%22trashed%22%3Atrue%7D\n\
                    otpauth://totp/B:b?secret=JBSWY3DPEHPK3PXP&codeDisplay=%7Bbroken\n\
                    otpauth://totp/C:c?secret=JBSWY3DPEHPK3PXP&codeDisplay=%7B%22tags%22%3A%5B%22x%22%2C%22y%22%5D%7D\n";
        let report = import(text.as_bytes()).unwrap();
        assert_eq!(report.accounts.len(), 1);
        assert_eq!(report.accounts[0].group.as_deref(), Some("x"));
        assert_eq!(report.accounts[0].note, "Also tagged: y");
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["line 1 (A): in Ente's trash; not imported".to_owned(), shown[1].clone()]
        );
        assert!(shown[1].starts_with("line 2 (B): unreadable codeDisplay"), "{shown:?}");
    }
}
