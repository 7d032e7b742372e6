//! The vault as the app holds it: where the file lives ([`VaultFile`]: inspect, create, open,
//! slow and `Send`, so they run off the UI thread) and the open vault ([`Unlocked`]: the real
//! `tessera_core::vault::Vault`, changed only through [`Unlocked::commit`], which saves, writes
//! the automatic backup and records the generation for rollback detection, and restores the
//! content if the save fails).
//!
//! There is no second, in-memory vault: tests use this same file with cheap Argon2id
//! parameters and an in-memory key store ([`VaultFile::with`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tessera_core::clock::Clock;
use tessera_core::push::{PasswordProof, PushAccount};
use tessera_core::transfer::backup::{BackupOutcome, PendingBackup, save_for_backup};
use tessera_core::vault::rollback::{Rollback, Watermark};
use tessera_core::vault::{
    FORMAT_VERSION, KdfParams, KeyStore, KeyStoreError, Protection, Unlock, Vault, VaultContent,
    VaultError, VaultInfo, VaultOptions, standby,
};
use zeroize::Zeroizing;

/// What is known about a vault before unlocking it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaultSummary {
    /// A password slot exists.
    pub has_password: bool,
    /// A keyring slot exists.
    pub has_keyring: bool,
}

impl From<&VaultInfo> for VaultSummary {
    fn from(info: &VaultInfo) -> Self {
        Self { has_password: info.has_password, has_keyring: info.has_keyring }
    }
}

/// How to protect a new vault.
pub enum NewProtection {
    /// A key in the OS secret store.
    Keyring,
    /// A password or PIN.
    Password(Zeroizing<String>),
}

/// Where the vault file lives and how it is opened.
#[derive(Debug, Clone)]
pub struct VaultFile {
    path: PathBuf,
    options: VaultOptions,
    kdf: Option<KdfParams>,
    keyring_off: bool,
}

/// True when `TESSERA_KEYRING=off` (or 0/no/false) switches the keyring off, as for the CLI.
fn keyring_switched_off() -> bool {
    std::env::var("TESSERA_KEYRING")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "off" | "0" | "no" | "false"))
}

impl VaultFile {
    /// The vault file in `home`, protected through the OS secret stores.
    pub fn in_home(home: &Path) -> Self {
        Self {
            path: home.join(tessera_core::vault::VAULT_FILE_NAME),
            options: VaultOptions::default(),
            kdf: None,
            keyring_off: keyring_switched_off(),
        }
    }

    /// The vault file at `path` with an explicit key store and Argon2id cost (tests use cheap
    /// parameters and an in-memory key store).
    pub fn with(path: PathBuf, key_store: Arc<dyn KeyStore>, kdf: Option<KdfParams>) -> Self {
        Self {
            path,
            options: VaultOptions { key_store, ..VaultOptions::default() },
            kdf,
            keyring_off: false,
        }
    }

    /// Returns the vault's slots, or `None` if there is no vault yet.
    pub fn inspect(&self) -> Result<Option<VaultSummary>, VaultError> {
        match Vault::inspect(&self.path) {
            Ok(info) if info.version > FORMAT_VERSION => Err(VaultError::UnsupportedVersion {
                found: info.version,
                supported: FORMAT_VERSION,
            }),
            Ok(info) => Ok(Some(VaultSummary::from(&info))),
            Err(VaultError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Creates a new empty vault (slow: key derivation).
    pub fn create(&self, protection: NewProtection) -> Result<Unlocked, VaultError> {
        let protection = match (protection, self.kdf) {
            (NewProtection::Keyring, _) => Protection::Keyring,
            (NewProtection::Password(p), Some(kdf)) => Protection::PasswordWithParams(p, kdf),
            (NewProtection::Password(p), None) => Protection::Password(p),
        };
        let vault = Vault::create_with(&self.path, &[protection], self.options.clone())?;
        let watermark = self.watermark();
        watermark.record(&vault.info());
        Ok(Unlocked { vault, last_backup: None, pending_backup: None, rollback: None, watermark })
    }

    /// Opens the vault (slow: key derivation); notes whether it is an older copy.
    pub fn open(&self, unlock: &Unlock) -> Result<Unlocked, VaultError> {
        let vault = Vault::open_with(&self.path, unlock, self.options.clone())?;
        let watermark = self.watermark();
        let rollback = watermark.note(&vault.info()).err();
        Ok(Unlocked { vault, last_backup: None, pending_backup: None, rollback, watermark })
    }

    /// Returns true if a durable OS secret store answers (the default protection when it
    /// does). A store that forgets keys at reboot (keyutils) is no place for the only key.
    pub fn keyring_available(&self) -> bool {
        if self.keyring_off {
            return false;
        }
        const PROBE: &str = "tessera-availability-probe";
        match self.options.key_store.store(PROBE, b"probe") {
            Ok(stored) => {
                let _ = self.options.key_store.delete(PROBE);
                stored.durable
            }
            Err(_) => false,
        }
    }

    /// Returns the push accounts kept in the keyring for listening before the first unlock
    /// (none kept, no vault or the keyring switched off: none; a failing keyring is logged).
    pub fn standby_accounts(&self) -> Vec<PushAccount> {
        if self.keyring_off {
            return Vec::new();
        }
        let Ok(info) = Vault::inspect(&self.path) else { return Vec::new() };
        standby::load(&*self.options.key_store, &info.vault_id).unwrap_or_else(|error| {
            eprintln!("tessera: login requests are heard only after the unlock: {error}");
            Vec::new()
        })
    }

    /// Keeps `accounts` in the keyring for the vault `vault_id` (`None`: removes them).
    pub fn set_standby(
        &self,
        vault_id: &str,
        accounts: Option<&[PushAccount]>,
    ) -> Result<(), KeyStoreError> {
        match accounts {
            Some(accounts) => standby::keep(&*self.options.key_store, vault_id, accounts),
            None => standby::forget(&*self.options.key_store, vault_id),
        }
    }

    /// Returns the vault's id (names its keyring entries), if there is a vault.
    pub fn vault_id(&self) -> Option<String> {
        Vault::inspect(&self.path).ok().map(|info| info.vault_id)
    }

    /// Returns where the vault lives, for the About section.
    pub fn location(&self) -> String {
        self.path.display().to_string()
    }

    /// Where the last seen generation is kept: the data directory, and the keyring unless it
    /// is switched off.
    fn watermark(&self) -> Watermark {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        Watermark::new(dir, (!self.keyring_off).then(|| Arc::clone(&self.options.key_store)))
    }
}

/// The open vault, with what the automatic backup after its last save did and whether it
/// was opened as an older copy.
pub struct Unlocked {
    vault: Vault,
    last_backup: Option<BackupOutcome>,
    /// The automatic backup of the last save, until it is taken to be written off the UI
    /// thread.
    pending_backup: Option<PendingBackup>,
    rollback: Option<Rollback>,
    watermark: Watermark,
}

impl std::fmt::Debug for Unlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unlocked").field("vault", &self.vault).finish_non_exhaustive()
    }
}

impl Unlocked {
    /// Returns the decrypted content.
    pub fn content(&self) -> &VaultContent {
        self.vault.content()
    }

    /// Applies `change` and saves (with the automatic backup); if the save fails, the content
    /// goes back to what it was and the error is returned. The one way the app changes the
    /// vault.
    pub fn commit<T>(
        &mut self,
        clock: &dyn Clock,
        change: impl FnOnce(&mut VaultContent) -> T,
    ) -> Result<T, VaultError> {
        let mut pending = None;
        let result = self.vault.commit_with(change, |vault| {
            pending = save_for_backup(vault, clock)?;
            Ok::<(), VaultError>(())
        })?;
        // A newer save supersedes a backup not written yet.
        self.pending_backup = pending;
        self.watermark.record(&self.vault.info());
        Ok(result)
    }

    /// Takes the automatic backup of the last save, to be written (slow: key derivation at
    /// the vault's cost) off the UI thread.
    pub fn take_pending_backup(&mut self) -> Option<PendingBackup> {
        self.pending_backup.take()
    }

    /// Writes the automatic backup of the last save here and now (slow: for work already off
    /// the UI thread) and records what it did.
    pub fn write_pending_backup(&mut self) -> Option<BackupOutcome> {
        let outcome = self.pending_backup.take()?.write();
        self.last_backup = Some(outcome.clone());
        Some(outcome)
    }

    /// Records what the automatic backup did.
    pub fn set_last_backup(&mut self, outcome: BackupOutcome) {
        self.last_backup = Some(outcome);
    }

    /// Notes that `id`'s code was used at `now`, in memory only: it is saved with the next
    /// change (a copy is no reason to rewrite the file).
    pub fn mark_used(&mut self, id: &str, now: u64) {
        if let Some(entry) = self.vault.content_mut().entries.iter_mut().find(|e| e.id == id) {
            entry.last_used = Some(now);
        }
    }

    /// Returns the vault's id (names its keyring entries).
    pub fn vault_id(&self) -> String {
        self.vault.info().vault_id
    }

    /// Returns the Argon2id cost the vault's backups and Tessera-backup exports use (the
    /// vault's own).
    pub fn backup_kdf(&self) -> KdfParams {
        tessera_core::transfer::backup::backup_kdf(&self.vault)
    }

    /// Returns what showing recovery codes asks of the user (the core's rule).
    pub fn reveal_check(&self) -> tessera_core::vault::recovery::RevealCheck {
        tessera_core::vault::recovery::RevealCheck::for_vault(&self.vault.info())
    }

    /// Returns which slots the vault has.
    pub fn summary(&self) -> VaultSummary {
        VaultSummary::from(&self.vault.info())
    }

    /// Sets or replaces the password slot, rotating the master key (slow: key derivation).
    pub fn set_password(&mut self, password: Zeroizing<String>) -> Result<(), VaultError> {
        self.vault.set_password(Some(password))?;
        self.watermark.record(&self.vault.info());
        Ok(())
    }

    /// Adds or removes the keyring slot, rotating the master key; refuses to remove the last
    /// slot.
    pub fn enable_keyring(&mut self, enable: bool) -> Result<(), VaultError> {
        self.vault.enable_keyring(enable)?;
        self.watermark.record(&self.vault.info());
        Ok(())
    }

    /// Returns true if `password` opens the vault's password slot (re-authentication; slow).
    pub fn verify_password(&self, password: &str) -> bool {
        self.vault.verify_password(password)
    }

    /// Checks the vault password for approving a request of a push account that requires
    /// it, and returns the proof the core's approve path needs (slow: key derivation).
    pub fn prove_password(&self, password: &str) -> Result<PasswordProof, VaultError> {
        self.vault.prove_password(password)
    }

    /// Returns what the automatic backup after the last save did (`None`: none was due).
    pub fn last_backup(&self) -> Option<&BackupOutcome> {
        self.last_backup.as_ref()
    }

    /// Returns the rollback warning if the opened file is older than a generation seen
    /// before (see `tessera_core::vault::rollback`).
    pub fn rollback(&self) -> Option<&Rollback> {
        self.rollback.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::clock::FixedClock;
    use tessera_core::otp::{OtpParams, Secret};
    use tessera_core::vault::Entry;

    use crate::model::testing::MemoryKeys;

    fn file(dir: &Path) -> VaultFile {
        VaultFile::with(
            dir.join("vault.json"),
            Arc::new(MemoryKeys::default()),
            Some(KdfParams::INSECURE_FOR_TESTS),
        )
    }

    fn entry(issuer: &str) -> Entry {
        let secret = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        Entry::new(issuer.into(), "me".into(), OtpParams::totp(secret), 1)
    }

    #[test]
    fn a_commit_saves_and_a_failed_commit_leaves_the_open_vault_as_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let vault_file = file(dir.path());
        assert_eq!(vault_file.inspect().unwrap(), None);
        let password = || NewProtection::Password(Zeroizing::new("correct horse".into()));
        let mut open = vault_file.create(password()).unwrap();
        let clock = FixedClock(1_700_000_000);
        open.commit(&clock, |c| c.entries.push(entry("Zoë Bank"))).unwrap();
        let older = std::fs::read(dir.path().join("vault.json")).unwrap();
        open.commit(&clock, |c| c.entries.push(entry("Coöperatie"))).unwrap();
        // Another writer put an older file back: the next save is refused as a conflict.
        std::fs::write(dir.path().join("vault.json"), &older).unwrap();
        let failed = open.commit(&clock, |c| c.entries.clear());
        assert!(matches!(failed, Err(VaultError::Conflict { .. })), "{:?}", failed.err());
        assert_eq!(open.content().entries.len(), 2, "the failed change was taken back");
        drop(open);
        let reopened =
            vault_file.open(&Unlock::Password(Zeroizing::new("correct horse".into()))).unwrap();
        assert_eq!(reopened.content().entries.len(), 1, "the file is the older copy");
        assert_eq!(reopened.content().entries[0].issuer, "Zoë Bank");
    }

    #[test]
    fn a_wrong_password_and_a_damaged_file_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let vault_file = file(dir.path());
        drop(vault_file.create(NewProtection::Password(Zeroizing::new("correct horse".into()))));
        let wrong = vault_file.open(&Unlock::Password(Zeroizing::new("wrong horse".into())));
        assert!(matches!(wrong, Err(VaultError::WrongPassword)));
        let path = dir.path().join("vault.json");
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x20;
        std::fs::write(&path, bytes).unwrap();
        let damaged = vault_file.open(&Unlock::Password(Zeroizing::new("correct horse".into())));
        assert!(matches!(damaged, Err(VaultError::Damaged { .. })), "{damaged:?}");
    }
}
