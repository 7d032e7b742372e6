//! Google Authenticator exports: `otpauth-migration://offline?data=...` links, one per QR code
//! (import and export).
//!
//! Source: the `MigrationPayload` protobuf Google Authenticator writes (field numbers in
//! `shared/docs/FORMATS.md`), decoded and encoded by [`crate::uri::MigrationBatch`] and
//! [`crate::uri::encode_migration`]. A file here is the links as text, one per line (what a QR
//! scan of each code, or `tessera export --format google`, produces); blank lines and `#`
//! comments are ignored. An export spans several QR codes sharing a batch id: codes that are
//! missing are reported, and the accounts of the codes present still import.
//!
//! Lost on import: nothing Tessera can use; MD5 accounts or unknown types are reported.
//! Lost on export: notes, groups, favourite marks; accounts the format cannot hold (Steam,
//! digits other than 6 or 8, periods other than 30 s) are listed in [`super::Export::unexported`].

use super::{Collector, Export, Format, ImportReport, ImportedAccount, TransferError, Unexported};
use super::{from_uri, meaningful_lines, text_of, to_uri};
use std::collections::HashSet;

use crate::uri::{
    MAX_BATCHES, MIGRATION_BATCH_ACCOUNTS, MigrationBatch, MigrationSet, encode_migration,
};

const FORMAT: Format = Format::GoogleMigration;

pub(crate) fn import(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    let text = text_of(bytes, FORMAT)?;
    let mut out = Collector::new(FORMAT);
    let mut set = MigrationSet::new();
    for (number, line) in meaningful_lines(text) {
        let added = MigrationBatch::parse(line).and_then(|batch| set.add(batch));
        if let Err(e) = added {
            out.problem(format!("line {number}"), None, e.to_string());
        }
    }
    for (batch, skipped) in set.skipped() {
        out.problem(
            format!("QR code {}, account {}", batch + 1, skipped.index + 1),
            Some(&skipped.label),
            skipped.reason.to_string(),
        );
    }
    let size = set.batch_size();
    for missing in set.missing() {
        out.problem(
            format!("QR code {} of {size}", missing + 1),
            None,
            "missing from the export: its accounts were not imported (add that QR code's link)",
        );
    }
    let accounts: Vec<_> = set.accounts().cloned().collect();
    for (index, uri) in accounts.into_iter().enumerate() {
        let issuer = uri.issuer.clone();
        out.push(format!("account {}", index + 1), Some(&issuer), Ok(from_uri(uri)));
    }
    Ok(out.finish())
}

/// Most accounts one export can hold: importers (ours included) refuse more QR codes than
/// [`MAX_BATCHES`].
const MAX_ACCOUNTS: usize = MAX_BATCHES as usize * MIGRATION_BATCH_ACCOUNTS;

pub(crate) fn export(accounts: &[ImportedAccount]) -> Export {
    let uris: Vec<_> = accounts.iter().map(to_uri).collect();
    let (mut links, skipped) = encode_migration(&uris);
    let mut unexported: Vec<Unexported> = skipped
        .into_iter()
        .map(|s| Unexported {
            index: s.index,
            label: accounts.get(s.index).map_or(s.label, ImportedAccount::label),
            reason: s.reason.to_string(),
        })
        .collect();
    if links.len() > MAX_BATCHES as usize {
        // Keep the first MAX_ACCOUNTS holdable accounts and list the rest: one export cannot
        // hold them, a second export of the remainder can.
        let skipped: HashSet<usize> = unexported.iter().map(|u| u.index).collect();
        let holdable: Vec<usize> = (0..uris.len()).filter(|i| !skipped.contains(i)).collect();
        let (kept, over) = holdable.split_at(MAX_ACCOUNTS);
        for &index in over {
            unexported.push(Unexported {
                index,
                label: accounts[index].label(),
                reason: format!(
                    "one Google Authenticator export holds at most {MAX_ACCOUNTS} accounts; \
                     export the rest separately"
                ),
            });
        }
        unexported.sort_by_key(|u| u.index);
        let kept: Vec<_> = kept.iter().map(|&i| uris[i].clone()).collect();
        links = encode_migration(&kept).0;
    }
    let mut data = zeroize::Zeroizing::new(Vec::new());
    for link in links {
        data.extend_from_slice(link.as_bytes());
        data.push(b'\n');
    }
    Export { format: FORMAT, data, unexported, recovery_left_out: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::import as import_any;
    use crate::transfer::vectors::{self, Holds};

    /// The canonical accounts Google's format can hold: not Forge (7 digits, 50 s), Mail (20 s)
    /// or Steam.
    fn holdable() -> Vec<ImportedAccount> {
        vectors::canonical()
            .into_iter()
            .filter(|a| !["Forge", "Mail", "Steam"].contains(&a.issuer.as_str()))
            .collect()
    }

    #[test]
    fn export_lists_what_it_cannot_hold_and_round_trips_the_rest() {
        let accounts = vectors::canonical();
        let out = export(&accounts);
        let skipped: Vec<(usize, &str)> =
            out.unexported.iter().map(|u| (u.index, u.reason.as_str())).collect();
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert_eq!(skipped.iter().map(|s| s.0).collect::<Vec<_>>(), [2, 3, 6]);
        assert!(skipped[2].1.contains("Steam"), "{skipped:?}");
        let report = import(&out.data).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &holdable(), Holds::OTP_ONLY);
    }

    #[test]
    fn committed_fixture_holds_the_canonical_accounts_it_can() {
        let report = import_any(&vectors::fixture("google-migration.txt"), None, None).unwrap();
        assert_eq!(report.format, FORMAT);
        vectors::assert_same(&report.accounts, &holdable(), Holds::OTP_ONLY);
    }

    #[test]
    fn missing_qr_codes_are_reported_and_the_rest_imports() {
        let many: Vec<ImportedAccount> = (0..25)
            .map(|i| {
                let mut a = holdable()[0].clone();
                a.account = format!("user{i}");
                a
            })
            .collect();
        let out = export(&many);
        let text = std::str::from_utf8(&out.data).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let partial = format!("{}\n# comment\n\n{}\n", lines[0], lines[2]);
        let report = import(partial.as_bytes()).unwrap();
        assert_eq!(report.accounts.len(), 15);
        assert_eq!(report.problems.len(), 1);
        assert_eq!(report.problems[0].location, "QR code 2 of 3");
    }

    #[test]
    fn accounts_beyond_one_exports_capacity_are_listed() {
        let one = holdable()[0].clone();
        let many = vec![one; MAX_ACCOUNTS + 3];
        let out = export(&many);
        assert_eq!(out.unexported.len(), 3);
        assert_eq!(out.unexported[0].index, MAX_ACCOUNTS);
        assert!(out.unexported[0].reason.contains("at most"), "{:?}", out.unexported[0]);
        let text = std::str::from_utf8(&out.data).unwrap();
        assert_eq!(text.lines().count(), MAX_BATCHES as usize);
    }

    #[test]
    fn damaged_links_are_reported_by_line() {
        let report = import(b"otpauth-migration://offline?data=%%%\nnot a link\n").unwrap();
        assert!(report.accounts.is_empty());
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert!(shown[0].starts_with("line 1: "), "{shown:?}");
        assert!(shown[1].starts_with("line 2: "), "{shown:?}");
    }
}
