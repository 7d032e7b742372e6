//! Automatic encrypted backups to a user-chosen folder, and "verify backup".
//!
//! Each backup is a Tessera backup file (see [`super::tessera_backup`] and
//! `docs/backup-format.md`) under its own backup password, protected like the vault itself:
//! Argon2id at the vault's cost parameters, AES-256-GCM. Files are named
//! `tessera-backup-YYYYMMDD-HHMMSS.tessera` (UTC, from the time the caller passes), which sorts
//! oldest to newest by name. Backups written before this format are Aegis files named
//! `tessera-backup-YYYYMMDD-HHMMSS.json`; they are still listed, verified, restored (import
//! detects both) and pruned with the new ones, so a folder that holds both keeps the newest
//! `keep` of either kind. To move to another app, export in that app's format instead.
//!
//! Safety rules, in order: the new backup is written to a temporary file, flushed to disk,
//! read back and compared byte for byte, and only then renamed into place; only after that
//! succeeds are backups beyond the newest `keep` deleted. Any failure returns an error and
//! deletes nothing, so a full disk or a broken folder never costs the older good backups. A
//! failed backup is the caller's to report; it must never block saving the vault.
//!
//! [`save_and_back_up`] is the one place that runs the automatic backup after a vault save:
//! the vault module only saves (it neither reads the clock nor knows backup formats), and
//! every front end calls this function instead of [`Vault::save`] so that the rule "a save is
//! followed by the backup its settings ask for, and a failed backup never fails the save"
//! lives once.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Format, ImportedAccount, TransferError, import, tessera_backup};
use crate::clock::Clock;
use crate::vault::{BackupSettings, Entry, KdfParams, Vault, VaultError};

/// How many backups are kept when the user has not chosen.
pub const DEFAULT_KEEP: usize = 10;

const PREFIX: &str = "tessera-backup-";
/// The suffix of backups written now (Tessera backup format).
const SUFFIX: &str = ".tessera";
/// The suffix of backups written before the Tessera format (Aegis files).
const AEGIS_SUFFIX: &str = ".json";

/// Returns the part of a backup file name between the prefix and the suffix, if it is one.
fn stamp_of(name: &str) -> Option<&str> {
    let core = name.strip_prefix(PREFIX)?;
    core.strip_suffix(SUFFIX).or_else(|| core.strip_suffix(AEGIS_SUFFIX))
}

/// The Argon2id cost of a vault's backups: its password slot's, or the default when it has
/// only a keyring slot.
pub fn backup_kdf(vault: &Vault) -> KdfParams {
    vault.info().kdf.unwrap_or_default()
}

fn io_error(what: &str, path: &Path, error: &std::io::Error) -> TransferError {
    TransferError::Io { what: format!("{what} {}", path.display()), reason: error.to_string() }
}

/// What the automatic backup after a save did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupOutcome {
    /// A new backup file was written (older ones beyond `keep` were pruned).
    Written(PathBuf),
    /// The backup failed; the vault itself was saved and no older backup was deleted.
    Failed(String),
}

/// Saves `vault`, then writes the automatic backup its settings ask for.
///
/// Returns `Ok(None)` when automatic backups are off. A failed backup is reported as
/// [`BackupOutcome::Failed`], never as an error: the vault is already safely on disk.
pub fn save_and_back_up(
    vault: &mut Vault,
    clock: &dyn Clock,
) -> Result<Option<BackupOutcome>, VaultError> {
    Ok(save_for_backup(vault, clock)?.map(PendingBackup::write))
}

/// Saves `vault` and takes what its automatic backup needs, without writing it: a backup
/// derives its key at the vault's Argon2id cost (as long as an unlock), so the desktop app
/// writes it off the UI thread with [`PendingBackup::write`]. `None` when backups are off.
pub fn save_for_backup(
    vault: &mut Vault,
    clock: &dyn Clock,
) -> Result<Option<PendingBackup>, VaultError> {
    vault.save()?;
    Ok(vault.content().backup.as_ref().map(|settings| PendingBackup {
        entries: vault.content().entries.clone(),
        settings: settings.clone(),
        kdf: backup_kdf(vault),
        now: clock.now(),
    }))
}

/// An automatic backup of the vault as it was just saved, not written yet. It holds the
/// entries and the backup password (both zeroized on drop).
pub struct PendingBackup {
    entries: Vec<Entry>,
    settings: BackupSettings,
    kdf: KdfParams,
    now: u64,
}

impl std::fmt::Debug for PendingBackup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingBackup")
            .field("entries", &self.entries.len())
            .field("folder", &self.settings.folder)
            .finish_non_exhaustive()
    }
}

impl PendingBackup {
    /// Writes the backup (slow: key derivation). Backups are written one at a time, so two
    /// saves in quick succession never race on the folder's names or its pruning.
    pub fn write(self) -> BackupOutcome {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let settings = &self.settings;
        match write_backup(
            &self.entries,
            &settings.folder,
            &settings.password,
            self.kdf,
            settings.keep.max(1),
            self.now,
        ) {
            Ok(path) => BackupOutcome::Written(path),
            Err(err) => BackupOutcome::Failed(err.to_string()),
        }
    }
}

/// Writes an encrypted backup of `entries` into `dir` and keeps the newest `keep` backups.
///
/// `kdf` is the Argon2id cost (the vault's, see [`backup_kdf`]); `now` is the Unix time used
/// for the file name. Returns the new file's path. On error nothing is deleted (see the
/// module documentation).
pub fn write_backup(
    entries: &[Entry],
    dir: &Path,
    password: &str,
    kdf: KdfParams,
    keep: usize,
    now: u64,
) -> Result<PathBuf, TransferError> {
    let data = tessera_backup::write(entries, password, kdf)?;
    fs::create_dir_all(dir).map_err(|e| io_error("cannot create the backup folder", dir, &e))?;
    let path = free_name(dir, now);
    let temp = dir.join(format!(".{PREFIX}{now}.tmp"));
    let written = write_and_check(&temp, &data);
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    if let Err(e) = fs::rename(&temp, &path) {
        let _ = fs::remove_file(&temp);
        return Err(io_error("cannot move the new backup into place at", &path, &e));
    }
    if let Ok(dir_handle) = fs::File::open(dir) {
        // Persist the rename; not every platform can sync a directory, and the backup is
        // already complete either way.
        let _ = dir_handle.sync_all();
    }
    prune(dir, keep.max(1))?;
    Ok(path)
}

fn write_and_check(temp: &Path, data: &[u8]) -> Result<(), TransferError> {
    let mut file = open_private(temp).map_err(|e| io_error("cannot create", temp, &e))?;
    file.write_all(data).map_err(|e| io_error("cannot write", temp, &e))?;
    file.sync_all().map_err(|e| io_error("cannot flush", temp, &e))?;
    drop(file);
    let back = fs::read(temp).map_err(|e| io_error("cannot read back", temp, &e))?;
    if back != data {
        return Err(TransferError::Io {
            what: format!("the backup written to {}", temp.display()),
            reason: "reading it back gave different bytes".into(),
        });
    }
    Ok(())
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new().write(true).create(true).truncate(true).open(path)
}

/// Returns a backup path for `now` that does not exist yet (`-2`, `-3`, ... within a second).
fn free_name(dir: &Path, now: u64) -> PathBuf {
    let stamp = timestamp(now);
    let mut path = dir.join(format!("{PREFIX}{stamp}{SUFFIX}"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{PREFIX}{stamp}-{n}{SUFFIX}"));
        n += 1;
    }
    path
}

/// Lists the backups in `dir`, oldest first.
pub fn list_backups(dir: &Path) -> Result<Vec<PathBuf>, TransferError> {
    let read = fs::read_dir(dir).map_err(|e| io_error("cannot read the backup folder", dir, &e))?;
    let mut found: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).and_then(stamp_of).is_some())
        .collect();
    // Names embed a fixed-width UTC timestamp, and "-2" suffixes sort after the plain name.
    found.sort_by_key(|p| sort_key(p));
    Ok(found)
}

fn sort_key(path: &Path) -> (String, u32) {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let core = stamp_of(name).unwrap_or_default();
    match core.get(15..).and_then(|s| s.strip_prefix('-')).and_then(|n| n.parse().ok()) {
        Some(n) => (core[..15].to_owned(), n),
        None => (core.to_owned(), 1),
    }
}

fn prune(dir: &Path, keep: usize) -> Result<(), TransferError> {
    let backups = list_backups(dir)?;
    let excess = backups.len().saturating_sub(keep);
    for old in &backups[..excess] {
        fs::remove_file(old).map_err(|e| io_error("cannot delete the old backup", old, &e))?;
    }
    Ok(())
}

/// The outcome of comparing the newest backup with the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupCheck {
    /// The backup that was checked.
    pub path: PathBuf,
    /// Accounts in the vault but not in the backup ("issuer (account)").
    pub missing: Vec<String>,
    /// Accounts in the backup but not in the vault.
    pub extra: Vec<String>,
    /// Accounts in both whose settings, note, group or favourite mark differ.
    pub changed: Vec<String>,
}

impl BackupCheck {
    /// Returns true if the backup holds exactly the vault's accounts.
    pub fn matches(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.changed.is_empty()
    }
}

/// Decrypts the newest backup in `dir` and compares it with `accounts` (the vault's).
pub fn verify_backup(
    accounts: &[ImportedAccount],
    dir: &Path,
    password: &str,
) -> Result<BackupCheck, TransferError> {
    let path = list_backups(dir)?
        .pop()
        .ok_or_else(|| TransferError::NoBackup { dir: dir.display().to_string() })?;
    let bytes = fs::read(&path).map_err(|e| io_error("cannot read", &path, &e))?;
    // Older backups are Aegis files; the name says which reader applies.
    let format = if path.extension().is_some_and(|e| e == "json") {
        Format::Aegis
    } else {
        Format::TesseraBackup
    };
    let report = import(&bytes, Some(format), Some(password))?;
    let mut check = BackupCheck { path, missing: vec![], extra: vec![], changed: vec![] };
    let mut unmatched: Vec<&ImportedAccount> = report.accounts.iter().collect();
    for wanted in accounts {
        let found = unmatched.iter().position(|got| {
            got.issuer == wanted.issuer
                && got.account == wanted.account
                && got.otp.secret.ct_eq(&wanted.otp.secret)
        });
        match found {
            None => check.missing.push(wanted.label()),
            Some(i) => {
                let got = unmatched.swap_remove(i);
                if !same_settings(got, wanted) {
                    check.changed.push(wanted.label());
                }
            }
        }
    }
    check.extra = unmatched.iter().map(|a| a.label()).collect();
    for problem in report.problems {
        check.extra.push(format!("unreadable {problem}"));
    }
    Ok(check)
}

fn same_settings(a: &ImportedAccount, b: &ImportedAccount) -> bool {
    let (p, q) = (&a.otp, &b.otp);
    let moving = if p.kind.is_time_based() { p.period == q.period } else { p.counter == q.counter };
    p.kind == q.kind
        && p.algorithm == q.algorithm
        && p.digits == q.digits
        && moving
        && a.note == b.note
        && a.group == b.group
        && a.favourite == b.favourite
}

/// Formats Unix seconds as `YYYYMMDD-HHMMSS` (UTC).
///
/// Written out rather than pulling in a date crate for one conversion: the civil-from-days
/// algorithm from Howard Hinnant's "chrono-Compatible Low-Level Date Algorithms".
fn timestamp(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or(i64::MAX / 2);
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::otp::OtpParams;
    use crate::transfer::{detect, vectors};
    use crate::vault::{Entry, KdfParams, KeyStoreError, Protection, Unlock, VaultOptions};

    const PASSWORD: &str = "backup password";
    const CHEAP: KdfParams = KdfParams::INSECURE_FOR_TESTS;

    fn canonical_entries() -> Vec<Entry> {
        vectors::canonical().into_iter().map(|a| a.into_entry(1_700_000_000)).collect()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tessera-backup-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn timestamps_are_utc_civil_dates() {
        assert_eq!(timestamp(0), "19700101-000000");
        assert_eq!(timestamp(951_782_400), "20000229-000000");
        assert_eq!(timestamp(1_700_000_000), "20231114-221320");
        assert_eq!(timestamp(4_102_444_799), "20991231-235959");
    }

    #[test]
    fn backups_rotate_keeping_the_newest() {
        let dir = temp_dir("rotate");
        let entries = canonical_entries();
        for i in 0..4 {
            write_backup(&entries[..1], &dir, PASSWORD, CHEAP, 3, 1_700_000_000 + i * 60).unwrap();
        }
        let same_second =
            write_backup(&entries[..1], &dir, PASSWORD, CHEAP, 3, 1_700_000_180).unwrap();
        assert!(same_second.to_string_lossy().ends_with("-2.tessera"), "{same_second:?}");
        let names: Vec<String> = list_backups(&dir)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "tessera-backup-20231114-221520.tessera",
                "tessera-backup-20231114-221620.tessera",
                "tessera-backup-20231114-221620-2.tessera",
            ]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&same_second).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_backup_deletes_nothing() {
        let dir = temp_dir("fail");
        let accounts = vectors::canonical();
        let entries = canonical_entries();
        write_backup(&entries, &dir, PASSWORD, CHEAP, 1, 1_700_000_000).unwrap();
        // A directory squatting on the temporary name makes the next write fail.
        fs::create_dir_all(dir.join(format!(".{PREFIX}1700000060.tmp"))).unwrap();
        let err = write_backup(&entries, &dir, PASSWORD, CHEAP, 1, 1_700_000_060).unwrap_err();
        assert!(matches!(err, TransferError::Io { .. }), "{err}");
        let left = list_backups(&dir).unwrap();
        assert_eq!(left.len(), 1, "the older good backup survives");
        assert!(verify_backup(&accounts, &dir, PASSWORD).unwrap().matches());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn verify_reports_differences_with_the_vault() {
        let dir = temp_dir("verify");
        let mut accounts = vectors::canonical();
        write_backup(&canonical_entries(), &dir, PASSWORD, CHEAP, DEFAULT_KEEP, 1_700_000_000)
            .unwrap();
        let check = verify_backup(&accounts, &dir, PASSWORD).unwrap();
        assert!(check.matches(), "{check:?}");

        accounts[1].note = "changed".into();
        let removed = accounts.remove(0);
        let mut added = removed.clone();
        added.account = "someone else".into();
        accounts.push(added);
        let check = verify_backup(&accounts, &dir, PASSWORD).unwrap();
        assert!(!check.matches());
        assert_eq!(check.changed, ["Example Bank (12345678)"]);
        assert_eq!(check.missing, ["GitHub (someone else)"]);
        assert_eq!(check.extra, ["GitHub (alice@example.com)"]);

        let err = verify_backup(&accounts, &dir, "wrong").unwrap_err();
        assert_eq!(err, TransferError::WrongPassword { format: Format::TesseraBackup });
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn verify_without_backups_says_so() {
        let dir = temp_dir("empty");
        fs::create_dir_all(&dir).unwrap();
        let err = verify_backup(&[], &dir, PASSWORD).unwrap_err();
        assert!(matches!(err, TransferError::NoBackup { .. }), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn older_aegis_backups_are_still_verified_listed_and_pruned() {
        let dir = temp_dir("aegis");
        fs::create_dir_all(&dir).unwrap();
        let accounts = vectors::canonical();
        // What an automatic backup looked like before the Tessera format.
        let old = crate::transfer::export(&accounts, Format::Aegis, Some(PASSWORD)).unwrap();
        let old_path = dir.join("tessera-backup-20231114-221320.json");
        fs::write(&old_path, &*old.data).unwrap();
        assert_eq!(list_backups(&dir).unwrap(), std::slice::from_ref(&old_path));
        assert!(verify_backup(&accounts, &dir, PASSWORD).unwrap().matches(), "Aegis read");
        let new =
            write_backup(&canonical_entries(), &dir, PASSWORD, CHEAP, 1, 1_700_000_060).unwrap();
        assert_eq!(list_backups(&dir).unwrap(), [new], "the older Aegis backup was pruned");
        assert!(verify_backup(&accounts, &dir, PASSWORD).unwrap().matches(), "Tessera read");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A key store that never answers: these vaults have a password slot only.
    #[derive(Debug)]
    struct NoKeyring;

    impl crate::vault::KeyStore for NoKeyring {
        fn store(&self, _: &str, _: &[u8]) -> Result<crate::vault::Stored, KeyStoreError> {
            Err(KeyStoreError::Unavailable("none in tests".into()))
        }
        fn load(&self, _: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, KeyStoreError> {
            Err(KeyStoreError::Unavailable("none in tests".into()))
        }
        fn delete(&self, _: &str) -> Result<(), KeyStoreError> {
            Ok(())
        }
    }

    const VAULT_PASSWORD: &str = "correct horse battery staple";

    fn vault_options() -> VaultOptions {
        VaultOptions {
            key_store: std::sync::Arc::new(NoKeyring),
            lock_wait: std::time::Duration::from_millis(200),
        }
    }

    fn new_vault(path: &Path) -> Vault {
        let password = zeroize::Zeroizing::new(VAULT_PASSWORD.to_owned());
        let protection = Protection::PasswordWithParams(password, KdfParams::INSECURE_FOR_TESTS);
        Vault::create_with(path, &[protection], vault_options()).unwrap()
    }

    fn open_pw(path: &Path, password: &str) -> Result<Vault, VaultError> {
        let unlock = Unlock::Password(zeroize::Zeroizing::new(password.to_owned()));
        Vault::open_with(path, &unlock, vault_options())
    }

    fn entry(issuer: &str) -> Entry {
        let secret = crate::otp::Secret::parse_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").unwrap();
        Entry::new(
            issuer.into(),
            "alice@example.com".into(),
            OtpParams::totp(secret),
            1_700_000_000,
        )
    }

    fn backup_settings(folder: &Path, keep: usize) -> BackupSettings {
        BackupSettings {
            folder: folder.to_path_buf(),
            keep,
            password: zeroize::Zeroizing::new("backup pw".to_owned()),
        }
    }

    const CLOCK: FixedClock = FixedClock(1_700_000_000);

    #[test]
    fn every_save_writes_an_automatic_backup_that_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.json");
        let folder = dir.path().join("backups");
        let mut vault = new_vault(&path);
        assert_eq!(
            save_and_back_up(&mut vault, &CLOCK).unwrap(),
            None,
            "no backup before one is configured"
        );
        vault.content_mut().backup = Some(backup_settings(&folder, 2));
        vault.content_mut().entries.push(entry("GitHub"));
        let outcome = save_and_back_up(&mut vault, &CLOCK).unwrap();
        let Some(BackupOutcome::Written(first)) = outcome else { panic!("{outcome:?}") };
        // The backup is a Tessera backup at the vault's own Argon2id cost.
        let bytes = fs::read(&first).unwrap();
        assert_eq!(detect(&bytes), Some(Format::TesseraBackup));
        let m_kib = u32::from_le_bytes(bytes[19..23].try_into().unwrap());
        assert_eq!(m_kib, KdfParams::INSECURE_FOR_TESTS.m_kib);
        let restored = tessera_backup::read(&bytes, Some("backup pw")).unwrap();
        assert_eq!(format!("{restored:?}"), format!("{:?}", vault.content().entries));
        for (i, issuer) in ["GitLab", "Visma"].into_iter().enumerate() {
            vault.content_mut().entries.push(entry(issuer));
            save_and_back_up(&mut vault, &FixedClock(1_700_000_000 + 60 * (i as u64 + 1))).unwrap();
        }
        let backups = list_backups(&folder).unwrap();
        assert_eq!(backups.len(), 2, "only the newest `keep` backups stay");
        let accounts: Vec<ImportedAccount> =
            vault.content().entries.iter().map(ImportedAccount::from).collect();
        let check = verify_backup(&accounts, &folder, "backup pw").unwrap();
        assert!(check.matches(), "{check:?}");
        // The settings survive a reopen (they live in the encrypted content).
        drop(vault);
        let reopened = open_pw(&path, VAULT_PASSWORD).unwrap();
        let settings = reopened.content().backup.as_ref().unwrap();
        assert_eq!((settings.folder.as_path(), settings.keep), (folder.as_path(), 2));
    }

    #[test]
    fn a_failed_backup_never_fails_the_save_or_deletes_older_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.json");
        let folder = dir.path().join("backups");
        let mut vault = new_vault(&path);
        vault.content_mut().backup = Some(backup_settings(&folder, 1));
        vault.content_mut().entries.push(entry("GitHub"));
        save_and_back_up(&mut vault, &CLOCK).unwrap();
        let good = list_backups(&folder).unwrap();
        assert_eq!(good.len(), 1);
        // Point the backups at a path below a regular file: creating the folder must fail.
        let blocker = dir.path().join("not-a-folder");
        std::fs::write(&blocker, b"x").unwrap();
        vault.content_mut().backup = Some(backup_settings(&blocker.join("sub"), 1));
        vault.content_mut().entries.push(entry("GitLab"));
        let outcome = save_and_back_up(&mut vault, &CLOCK).unwrap();
        assert!(matches!(outcome, Some(BackupOutcome::Failed(reason)) if !reason.is_empty()));
        drop(vault);
        assert_eq!(
            open_pw(&path, VAULT_PASSWORD).unwrap().content().entries.len(),
            2,
            "the save landed"
        );
        assert_eq!(list_backups(&folder).unwrap(), good, "old backup kept");
    }
}
