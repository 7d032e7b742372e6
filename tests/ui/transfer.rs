//! Import, export and backups through the GUI with real files: the committed Aegis fixtures
//! (tests/fixtures/transfer/, password `tessera-fixture`), exports written to a temporary
//! folder and read back, and automatic backups of the real encrypted vault file.

use std::path::{Path, PathBuf};

use i_slint_backend_testing::ElementQuery;
use slint::ComponentHandle;
use tessera_core::transfer::backup::list_backups;

use super::{ENGLISH, Harness, RFC_KEY, RFC_TIME, entry, launch, unlocked};
use crate::common::test_vault::TestVault;

const FIXTURE_PASSWORD: &str = "tessera-fixture";

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/transfer")
        .join(name)
        .display()
        .to_string()
}

/// Every visible accessible label that starts with `prefix`.
fn labels_starting(h: &Harness, prefix: &str) -> Vec<String> {
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::ZERO);
    let prefix = prefix.to_owned();
    ElementQuery::from_root(h.app.window())
        .match_predicate(move |e| {
            e.accessible_label().is_some_and(|l| l.starts_with(prefix.as_str()))
                && e.computed_opacity() > 0.0
        })
        .find_all()
        .into_iter()
        .filter_map(|e| e.accessible_label().map(|l| l.to_string()))
        .collect()
}

/// Elements scrolled out of the window are not found by label; make every form fit.
fn tall(h: &Harness) {
    h.app.window().window().set_size(slint::LogicalSize::new(440.0, 1400.0));
}

fn open_import(h: &Harness, path: &str) {
    tall(h);
    h.click("Settings");
    h.click("Import accounts");
    h.type_into("File to import", path);
    h.click("Read file");
}

/// The codes of every entry at the RFC time, sorted (what the user sees, account by account).
fn codes(entries: &[tessera_core::vault::Entry]) -> Vec<(String, String, String)> {
    let mut codes: Vec<_> = entries
        .iter()
        .map(|e| (e.issuer.clone(), e.account.clone(), e.otp.code_at(RFC_TIME)))
        .collect();
    codes.sort();
    codes
}

#[test]
fn importing_an_encrypted_aegis_file_previews_first_and_adds_everything_only_when_confirmed() {
    let h = unlocked(vec![entry("Existing", "ada", RFC_KEY)]);
    open_import(&h, &fixture("aegis-encrypted.json"));
    assert!(h.exists("This file is encrypted: enter its password."), "asks for the password");
    h.type_into("Password of the file", FIXTURE_PASSWORD);
    h.click("Read file");
    assert!(
        h.exists("Found 9 accounts in Aegis vault (JSON)"),
        "the preview names count and format"
    );
    assert_eq!(h.entries().len(), 1, "nothing is added before the user confirms");

    h.click("Add the imported accounts");
    let entries = h.entries();
    assert_eq!(entries.len(), 10, "all nine accounts were added in one save");
    assert!(h.exists("Lock"), "back on the accounts screen");

    // The same file again: every account is a duplicate and is skipped.
    open_import(&h, &fixture("aegis-plain.json"));
    assert!(h.exists("Found 0 accounts in Aegis vault (JSON)"));
    assert!(h.exists("9 already in the vault (skipped)"));
    assert!(h.exists("Nothing to add: all its accounts are already in the vault"));
    assert_eq!(h.one("Add the imported accounts").accessible_enabled(), Some(false));
    assert_eq!(h.entries().len(), 10);
}

#[test]
fn the_import_screen_says_where_to_find_each_format_and_reads_the_new_ones() {
    let h = unlocked(vec![entry("Existing", "ada", RFC_KEY)]);
    tall(&h);
    h.click("Settings");
    h.click("Import accounts");
    for title in [
        "Proton Authenticator export (JSON): ",
        "Authy app data (XML): ",
        "Steam Guard .maFile: ",
        "Duo Mobile accounts (JSON): ",
    ] {
        assert_eq!(labels_starting(&h, title).len(), 1, "a hint for {title}");
    }
    h.type_into("File to import", &fixture("stratum-encrypted.bin"));
    h.click("Read file");
    h.type_into("Password of the file", FIXTURE_PASSWORD);
    h.click("Read file");
    assert!(h.exists("Found 9 accounts in Stratum / Authenticator Pro backup or database"));
    h.click("Add the imported accounts");
    assert_eq!(h.entries().len(), 10);
}

#[test]
fn a_wrong_password_or_a_missing_file_says_so_and_changes_nothing() {
    let h = unlocked(vec![entry("Existing", "ada", RFC_KEY)]);
    let before = h.entries();
    open_import(&h, &fixture("aegis-encrypted.json"));
    h.type_into("Password of the file", "not the password");
    h.click("Read file");
    assert!(h.exists("Wrong password, or the file is damaged. Nothing was imported."));
    assert!(!h.exists("Add the imported accounts"), "no preview, nothing to confirm");
    assert_eq!(codes(&h.entries()), codes(&before), "the vault is untouched");

    let missing = std::env::temp_dir().join("tessera-no-such-file.json");
    h.type_into("File to import", &missing.display().to_string());
    h.click("Read file");
    let shown = labels_starting(&h, "Could not read the file; nothing was imported: cannot read");
    assert_eq!(shown.len(), 1, "the unreadable file is named: {shown:?}");
    h.click("Cancel");
    assert_eq!(codes(&h.entries()), codes(&before));
}

#[test]
fn export_needs_the_vault_password_and_a_tessera_backup_export_reimports_to_the_same_codes() {
    let mut steam = entry("Steam", "gabe", "JBSWY3DPEHPK3PXP");
    steam.otp = tessera_core::otp::OtpParams {
        kind: tessera_core::otp::OtpKind::Steam,
        ..steam.otp.clone()
    };
    let original =
        vec![entry("Example", "ada", RFC_KEY), steam, entry("Ünïcode", "bob", "KRSXG5CTMVRXEZLU")];
    let h = unlocked(original.clone());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export.tessera");

    tall(&h);
    h.click("Settings");
    h.click("Export accounts");
    assert!(!h.exists("Export destination"), "nothing to choose before re-authenticating");
    h.type_into("Vault password or PIN", "wrong");
    h.click("Continue");
    assert!(h.exists("Wrong password or PIN"));
    h.type_into("Vault password or PIN", "1234");
    h.click("Continue");
    h.type_into("Export password", "export-pass");
    h.type_into("Repeat export password", "export-pass-typo");
    h.type_into("Export destination", &out.display().to_string());
    h.click("Export");
    assert!(h.exists("The two entries differ"));
    assert!(!out.exists());
    h.type_into("Repeat export password", "export-pass");
    h.click("Export");
    assert!(h.exists(&format!("Exported 3 accounts to {}", out.display())));
    // The default format is Tessera's own backup, offered without a "plain" choice.
    assert!(!h.exists("Write without encryption"));
    let written = std::fs::read(&out).unwrap();
    assert!(written.starts_with(b"\x89tessera-backup\n"), "a Tessera backup");
    let text = String::from_utf8_lossy(&written);
    assert!(!text.contains(RFC_KEY) && !text.contains("ada"), "the export is encrypted");

    // A fresh, empty vault imports the file back.
    let vault = TestVault::with_password(Vec::new(), Vec::new());
    let again = launch(vault, tempfile::tempdir().unwrap(), ENGLISH);
    again.type_into("Password or PIN", "1234");
    again.click("Unlock");
    open_import(&again, &out.display().to_string());
    again.type_into("Password of the file", "export-pass");
    again.click("Read file");
    assert!(again.exists("Found 3 accounts in Tessera encrypted backup"));
    again.click("Add the imported accounts");
    assert_eq!(codes(&again.entries()), codes(&original), "the same accounts give the same codes");
}

/// Creates the real encrypted vault with password "correct horse" and opens Settings.
fn file_vault() -> (Harness, PathBuf) {
    i_slint_backend_testing::init_no_event_loop();
    let vault = TestVault::empty(true);
    let path = vault.path.clone();
    let h = launch(vault, tempfile::tempdir().unwrap(), ENGLISH);
    h.click("Use the system keyring");
    h.type_into("New password or PIN", "correct horse");
    h.type_into("Repeat password or PIN", "correct horse");
    h.click("Create vault");
    assert!(path.exists());
    tall(&h);
    (h, path)
}

fn turn_on_backups(h: &Harness, folder: &Path) {
    h.click("Settings");
    h.type_into("Backup folder", &folder.display().to_string());
    h.type_into("Backup password", "backup-pass");
    h.type_into("Repeat backup password", "backup-pass");
    h.click("Turn on backups");
}

fn add_and_return_to_settings(h: &Harness, issuer: &str, key: &str) {
    h.click("Back");
    h.add_by_key("ada", issuer, key);
    h.click("Add");
    h.click("Settings");
}

#[test]
fn backups_are_written_on_turning_on_and_on_each_change_and_a_failing_folder_only_warns() {
    let (h, vault) = file_vault();
    let folder = tempfile::tempdir().unwrap();
    let backups = folder.path().join("backups");

    // A folder that cannot be created: backups stay off.
    let blocked = folder.path().join("a-file");
    std::fs::write(&blocked, "not a folder").unwrap();
    turn_on_backups(&h, &blocked.join("sub"));
    assert_eq!(labels_starting(&h, "Backups stay off: the first backup failed:").len(), 1);
    assert!(h.exists("Turn on backups"), "backups are still off");

    h.click("Back");
    turn_on_backups(&h, &backups);
    assert_eq!(list_backups(&backups).unwrap().len(), 1, "turning on writes the first backup");
    assert!(h.exists("Verify backup"));
    assert_eq!(labels_starting(&h, "Last backup: ").len(), 1);

    add_and_return_to_settings(&h, "Example", RFC_KEY);
    assert_eq!(list_backups(&backups).unwrap().len(), 2, "a change writes another backup");

    // The folder turns into a file: the next save succeeds and the banner says the backup did not.
    std::fs::remove_dir_all(&backups).unwrap();
    std::fs::write(&backups, "in the way").unwrap();
    let saved_before = std::fs::read(&vault).unwrap();
    add_and_return_to_settings(&h, "Second", "JBSWY3DPEHPK3PXP");
    assert_ne!(std::fs::read(&vault).unwrap(), saved_before, "the vault itself was saved");
    h.click("Back");
    assert_eq!(
        labels_starting(&h, "The automatic backup failed (your changes are saved):").len(),
        1,
        "a non-blocking notice shows on the accounts screen"
    );
    assert!(h.exists("Copy code for Second ada"), "the new account is there");
    h.click("Dismiss backup notice");
    assert!(labels_starting(&h, "The automatic backup failed").is_empty());
}

#[test]
fn verify_backup_reports_a_match_and_then_what_is_missing() {
    let (h, _vault) = file_vault();
    let folder = tempfile::tempdir().unwrap();
    h.add_by_key("ada", "Example", RFC_KEY);
    h.click("Add");
    turn_on_backups(&h, folder.path());
    add_and_return_to_settings(&h, "Second", "JBSWY3DPEHPK3PXP");
    let written = list_backups(folder.path()).unwrap();
    assert_eq!(written.len(), 2);

    h.click("Verify backup");
    let newest = written[1].display().to_string();
    assert!(h.exists(&format!("The newest backup matches the vault: {newest}")));

    // Without the newest file, the newest backup predates the second account.
    std::fs::remove_file(&written[1]).unwrap();
    h.click("Verify backup");
    assert!(h.exists("The newest backup differs from the vault: 1 missing, 0 extra, 0 changed"));
    assert!(h.exists("− Second (ada)"), "the missing account is named");
}

#[test]
fn screenshots_of_the_import_preview_and_the_backup_settings_render() {
    super::screenshots::i_slint_core_platform_set();
    let dir = tempfile::tempdir().unwrap();
    // The canonical URI list with two lines that cannot be imported.
    let mut list = std::fs::read_to_string(fixture("uri-list.txt")).unwrap();
    list.push_str("otpauth://totp/Broken:bob?secret=NOT-BASE32!\n");
    list.push_str("otpauth://totp/Example:short?secret=JBSW\n");
    let file = dir.path().join("accounts.txt");
    std::fs::write(&file, list).unwrap();

    let h = super::start_on_current_backend(Some(vec![entry("Existing", "ada", RFC_KEY)]), ENGLISH);
    h.type_into("Password or PIN", "1234");
    h.click("Unlock");
    open_import(&h, &file.display().to_string());
    h.app.window().window().set_size(slint::LogicalSize::new(440.0, 640.0));
    super::screenshots::snapshot(&h, "import-preview-english-light");

    let h = launch(TestVault::empty(true), tempfile::tempdir().unwrap(), ENGLISH);
    h.click("Use the system keyring");
    h.type_into("New password or PIN", "correct horse");
    h.type_into("Repeat password or PIN", "correct horse");
    h.click("Create vault");
    tall(&h);
    h.add_by_key("ada", "Example", RFC_KEY);
    h.click("Add");
    turn_on_backups(&h, &dir.path().join("Backups"));
    h.click("Verify backup");
    // Let the "Account added" toast go.
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_secs(3));
    h.app.window().window().set_size(slint::LogicalSize::new(440.0, 1080.0));
    super::screenshots::snapshot(&h, "backup-settings-english-light");

    // The banner after a save whose backup failed.
    h.app.window().window().set_size(slint::LogicalSize::new(440.0, 640.0));
    let folder = dir.path().join("Backups");
    std::fs::remove_dir_all(&folder).unwrap();
    std::fs::write(&folder, "in the way").unwrap();
    add_and_return_to_settings(&h, "GitHub", "JBSWY3DPEHPK3PXP");
    h.click("Back");
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_secs(3));
    super::screenshots::snapshot(&h, "backup-failed-banner-english-light");
}
