//! The vault as the GUI sees it: a backend that can inspect, create and open the vault, and an
//! open vault whose entries the screens edit and save.
//!
//! The traits keep the screens independent of where entries live: the app uses the encrypted
//! vault file, tests may use [`MemoryBackend`]. Opening and creating are slow (key derivation)
//! and run off the UI thread, hence `Send + Sync`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tessera_core::push::{PushAccount, PushHistoryItem};
pub use tessera_core::transfer::backup::BackupOutcome;
pub use tessera_core::vault::BackupSettings;
pub use tessera_core::vault::Entry;
use tessera_core::vault::rollback::Watermark;
use tessera_core::vault::{
    FORMAT_VERSION, KdfParams, KeyStore, Protection, Unlock, Vault, VaultError, VaultOptions,
};

/// What is known about a vault before unlocking it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaultSummary {
    /// A password slot exists.
    pub has_password: bool,
    /// A keyring slot exists.
    pub has_keyring: bool,
}

/// How to protect a new vault.
pub enum NewProtection {
    /// A key in the OS secret store.
    Keyring,
    /// A password or PIN.
    Password(zeroize::Zeroizing<String>),
}

/// How to open an existing vault.
pub enum UnlockWith {
    /// The OS secret store's key.
    Keyring,
    /// A password or PIN.
    Password(zeroize::Zeroizing<String>),
}

/// Why a vault operation failed, sorted the way the user must be told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The password does not open the vault (the file is intact).
    #[error("wrong password")]
    WrongPassword,
    /// The file is damaged; never reported as a wrong password.
    #[error("the vault file is damaged: {0}")]
    Damaged(String),
    /// Written by a newer Tessera.
    #[error("the vault was written by a newer version")]
    NewerVersion,
    /// The OS secret store failed.
    #[error("the system keyring failed: {0}")]
    Keyring(String),
    /// Anything else (I/O, busy, ...).
    #[error("{0}")]
    Other(String),
}

/// Finds, creates and opens the vault.
pub trait VaultBackend: Send + Sync {
    /// Returns the vault's slots, or `None` if there is no vault yet.
    fn inspect(&self) -> Result<Option<VaultSummary>, StoreError>;
    /// Creates a new empty vault.
    fn create(&self, protection: NewProtection) -> Result<Box<dyn OpenVault>, StoreError>;
    /// Opens the vault.
    fn open(&self, unlock: UnlockWith) -> Result<Box<dyn OpenVault>, StoreError>;
    /// Returns true if an OS secret store answers (the default protection when it does).
    fn keyring_available(&self) -> bool;
    /// Returns where the vault lives, for the About section.
    fn location(&self) -> String;
}

/// An unlocked vault.
pub trait OpenVault: Send {
    /// Returns the entries in stored order.
    fn entries(&self) -> &[Entry];
    /// Returns the entries for editing; call [`OpenVault::save`] afterwards.
    fn entries_mut(&mut self) -> &mut Vec<Entry>;
    /// Returns the enrolled push-approval accounts.
    fn push_accounts(&self) -> &[PushAccount];
    /// Returns the push accounts for enrolling; call [`OpenVault::save`] afterwards.
    fn push_accounts_mut(&mut self) -> &mut Vec<PushAccount>;
    /// Returns the history of push requests and decisions (oldest first) to append to.
    fn push_history_mut(&mut self) -> &mut Vec<PushHistoryItem>;
    /// Writes the entries.
    fn save(&mut self) -> Result<(), StoreError>;
    /// Returns which slots the vault has.
    fn summary(&self) -> VaultSummary;
    /// Sets or replaces the password slot, then saves (slow: key derivation).
    fn set_password(&mut self, password: zeroize::Zeroizing<String>) -> Result<(), StoreError>;
    /// Adds or removes the keyring slot, then saves; refuses to remove the last slot.
    fn enable_keyring(&mut self, enable: bool) -> Result<(), StoreError>;
    /// Returns true if `password` opens the vault's password slot (re-authentication; slow).
    fn verify_password(&self, password: &str) -> bool;
    /// Returns the automatic backup settings (`None`: backups off).
    fn backup(&self) -> Option<BackupSettings> {
        None
    }
    /// Replaces the backup settings; they take effect with the next [`OpenVault::save`].
    fn set_backup(&mut self, _settings: Option<BackupSettings>) -> Result<(), StoreError> {
        Err(StoreError::Other("backups need the encrypted vault file".into()))
    }
    /// Returns what the automatic backup after the last save did (`None`: none was due).
    fn last_backup(&self) -> Option<BackupOutcome> {
        None
    }
    /// Returns a warning if the opened file is older than a generation seen before (see
    /// `tessera_core::vault::rollback`).
    fn rollback(&self) -> Option<String> {
        None
    }
}

/// Returns the data directory: `$TESSERA_HOME`, else the platform data directory (the same
/// rule as the CLI, from the vault module).
pub fn data_dir() -> PathBuf {
    tessera_core::vault::data_dir().unwrap_or_else(|_| PathBuf::from("tessera"))
}

/// Returns the backend the app uses: the encrypted vault file in `home`.
pub fn system_backend(home: &Path) -> Arc<dyn VaultBackend> {
    Arc::new(FileBackend::new(home.join(tessera_core::vault::VAULT_FILE_NAME)))
}

/// The encrypted vault file (tessera-core's [`Vault`]).
#[derive(Debug, Clone)]
pub struct FileBackend {
    path: PathBuf,
    options: VaultOptions,
    kdf: Option<KdfParams>,
}

impl FileBackend {
    /// Returns a backend for the vault file at `path` using the OS secret stores.
    pub fn new(path: PathBuf) -> Self {
        Self { path, options: VaultOptions::default(), kdf: None }
    }

    /// Returns a backend with an explicit key store and Argon2id cost (tests use cheap
    /// parameters and an in-memory key store).
    pub fn with(path: PathBuf, key_store: Arc<dyn KeyStore>, kdf: Option<KdfParams>) -> Self {
        Self { path, options: VaultOptions { key_store, ..VaultOptions::default() }, kdf }
    }
}

fn store_error(error: VaultError) -> StoreError {
    match error {
        VaultError::WrongPassword => StoreError::WrongPassword,
        VaultError::Damaged { detail } => StoreError::Damaged(detail),
        VaultError::UnsupportedVersion { .. } => StoreError::NewerVersion,
        VaultError::KeyringUnavailable { detail } => StoreError::Keyring(detail),
        error @ VaultError::KeyringNotDurable { .. } => StoreError::Keyring(error.to_string()),
        other => StoreError::Other(other.to_string()),
    }
}

impl VaultBackend for FileBackend {
    fn inspect(&self) -> Result<Option<VaultSummary>, StoreError> {
        match Vault::inspect(&self.path) {
            Ok(info) if info.version > FORMAT_VERSION => Err(StoreError::NewerVersion),
            Ok(info) => Ok(Some(VaultSummary {
                has_password: info.has_password,
                has_keyring: info.has_keyring,
            })),
            Err(VaultError::NotFound { .. }) => Ok(None),
            Err(error) => Err(store_error(error)),
        }
    }

    fn create(&self, protection: NewProtection) -> Result<Box<dyn OpenVault>, StoreError> {
        let protection = match (protection, self.kdf) {
            (NewProtection::Keyring, _) => Protection::Keyring,
            (NewProtection::Password(p), Some(kdf)) => Protection::PasswordWithParams(p, kdf),
            (NewProtection::Password(p), None) => Protection::Password(p),
        };
        let vault = Vault::create_with(&self.path, &[protection], self.options.clone())
            .map_err(store_error)?;
        let watermark = self.watermark();
        watermark.record(&vault.info());
        Ok(Box::new(FileVault { vault, last_backup: None, rollback: None, watermark }))
    }

    fn open(&self, unlock: UnlockWith) -> Result<Box<dyn OpenVault>, StoreError> {
        let unlock = match unlock {
            UnlockWith::Keyring => Unlock::Keyring,
            UnlockWith::Password(p) => Unlock::Password(p),
        };
        let vault =
            Vault::open_with(&self.path, &unlock, self.options.clone()).map_err(store_error)?;
        let watermark = self.watermark();
        let rollback = watermark.note(&vault.info()).err().map(|r| r.to_string());
        Ok(Box::new(FileVault { vault, last_backup: None, rollback, watermark }))
    }

    fn keyring_available(&self) -> bool {
        // TESSERA_KEYRING=off switches the keyring off, as for the CLI (kiosks, tests).
        let off = std::env::var("TESSERA_KEYRING")
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "off" | "0" | "no" | "false"));
        if off {
            return false;
        }
        // A store that forgets keys at reboot (keyutils) is no place for the only key.
        const PROBE: &str = "tessera-availability-probe";
        match self.options.key_store.store(PROBE, b"probe") {
            Ok(stored) => {
                let _ = self.options.key_store.delete(PROBE);
                stored.durable
            }
            Err(_) => false,
        }
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

impl FileBackend {
    /// Where the last seen generation is kept: the data directory, and the keyring unless
    /// `TESSERA_KEYRING=off`.
    fn watermark(&self) -> Watermark {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let off = std::env::var("TESSERA_KEYRING")
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "off" | "0" | "no" | "false"));
        Watermark::new(dir, (!off).then(|| Arc::clone(&self.options.key_store)))
    }
}

/// The open vault file, with what the automatic backup after its last save did and whether
/// it was opened as an older copy.
struct FileVault {
    vault: Vault,
    last_backup: Option<BackupOutcome>,
    rollback: Option<String>,
    watermark: Watermark,
}

impl OpenVault for FileVault {
    fn entries(&self) -> &[Entry] {
        &self.vault.content().entries
    }

    fn entries_mut(&mut self) -> &mut Vec<Entry> {
        &mut self.vault.content_mut().entries
    }

    fn push_accounts(&self) -> &[PushAccount] {
        &self.vault.content().push_accounts
    }

    fn push_accounts_mut(&mut self) -> &mut Vec<PushAccount> {
        &mut self.vault.content_mut().push_accounts
    }

    fn push_history_mut(&mut self) -> &mut Vec<PushHistoryItem> {
        &mut self.vault.content_mut().push_history
    }

    fn save(&mut self) -> Result<(), StoreError> {
        let outcome = tessera_core::transfer::backup::save_and_back_up(
            &mut self.vault,
            &tessera_core::clock::SystemClock,
        )
        .map_err(store_error)?;
        self.last_backup = outcome;
        self.watermark.record(&self.vault.info());
        Ok(())
    }

    fn summary(&self) -> VaultSummary {
        let info = self.vault.info();
        VaultSummary { has_password: info.has_password, has_keyring: info.has_keyring }
    }

    fn set_password(&mut self, password: zeroize::Zeroizing<String>) -> Result<(), StoreError> {
        self.vault.set_password(Some(password)).map_err(store_error)
    }

    fn enable_keyring(&mut self, enable: bool) -> Result<(), StoreError> {
        self.vault.enable_keyring(enable).map_err(|error| match error {
            // The new master key must be wrapped for the password slot too, which needs the
            // password's key: known after a password unlock, not after a keyring unlock.
            VaultError::PasswordNeeded => StoreError::Other(
                "lock Tessera and unlock it with the password, then change the keyring".into(),
            ),
            other => store_error(other),
        })
    }

    fn verify_password(&self, password: &str) -> bool {
        self.vault.verify_password(password)
    }

    fn backup(&self) -> Option<BackupSettings> {
        self.vault.content().backup.clone()
    }

    fn set_backup(&mut self, settings: Option<BackupSettings>) -> Result<(), StoreError> {
        self.vault.content_mut().backup = settings;
        Ok(())
    }

    fn last_backup(&self) -> Option<BackupOutcome> {
        self.last_backup.clone()
    }

    fn rollback(&self) -> Option<String> {
        self.rollback.clone()
    }
}

/// What a [`MemoryBackend`] holds.
#[derive(Debug, Default)]
pub struct MemoryVault {
    /// Whether the vault has been created.
    pub exists: bool,
    /// The password slot, if any.
    pub password: Option<String>,
    /// Whether a keyring slot exists.
    pub keyring: bool,
    /// Simulates a damaged file: opening fails with [`StoreError::Damaged`].
    pub damaged: bool,
    /// The saved entries.
    pub entries: Vec<Entry>,
    /// The enrolled push accounts.
    pub push_accounts: Vec<PushAccount>,
    /// The saved push history.
    pub push_history: Vec<PushHistoryItem>,
}

/// A vault kept in memory, shared between opens (for tests and previews).
#[derive(Debug, Default, Clone)]
pub struct MemoryBackend {
    /// The shared contents.
    pub vault: Arc<Mutex<MemoryVault>>,
    /// Whether `keyring_available` answers true.
    pub keyring: bool,
    /// What `location` reports.
    pub location: String,
}

struct MemoryOpen {
    vault: Arc<Mutex<MemoryVault>>,
    entries: Vec<Entry>,
    push_accounts: Vec<PushAccount>,
    push_history: Vec<PushHistoryItem>,
}

impl MemoryBackend {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryVault> {
        self.vault.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn opened(&self, entries: Vec<Entry>) -> Box<dyn OpenVault> {
        let (push_accounts, push_history) = {
            let vault = self.lock();
            (vault.push_accounts.clone(), vault.push_history.clone())
        };
        Box::new(MemoryOpen {
            vault: Arc::clone(&self.vault),
            entries,
            push_accounts,
            push_history,
        })
    }
}

impl VaultBackend for MemoryBackend {
    fn inspect(&self) -> Result<Option<VaultSummary>, StoreError> {
        let vault = self.lock();
        Ok(vault.exists.then_some(VaultSummary {
            has_password: vault.password.is_some(),
            has_keyring: vault.keyring,
        }))
    }

    fn create(&self, protection: NewProtection) -> Result<Box<dyn OpenVault>, StoreError> {
        let mut vault = self.lock();
        if vault.exists {
            return Err(StoreError::Other("a vault already exists".into()));
        }
        match protection {
            NewProtection::Keyring if !self.keyring => {
                return Err(StoreError::Keyring("no secret store".into()));
            }
            NewProtection::Keyring => vault.keyring = true,
            NewProtection::Password(p) => vault.password = Some(p.to_string()),
        }
        vault.exists = true;
        drop(vault);
        Ok(self.opened(Vec::new()))
    }

    fn open(&self, unlock: UnlockWith) -> Result<Box<dyn OpenVault>, StoreError> {
        let vault = self.lock();
        if vault.damaged {
            return Err(StoreError::Damaged("checksum mismatch".into()));
        }
        let ok = match &unlock {
            UnlockWith::Keyring => vault.keyring,
            UnlockWith::Password(p) => vault.password.as_deref() == Some(p.as_str()),
        };
        if !ok {
            return Err(match unlock {
                UnlockWith::Keyring => StoreError::Keyring("no key stored".into()),
                UnlockWith::Password(_) => StoreError::WrongPassword,
            });
        }
        let entries = vault.entries.clone();
        drop(vault);
        Ok(self.opened(entries))
    }

    fn keyring_available(&self) -> bool {
        self.keyring
    }

    fn location(&self) -> String {
        if self.location.is_empty() { "memory".into() } else { self.location.clone() }
    }
}

impl OpenVault for MemoryOpen {
    fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn entries_mut(&mut self) -> &mut Vec<Entry> {
        &mut self.entries
    }

    fn push_accounts(&self) -> &[PushAccount] {
        &self.push_accounts
    }

    fn push_accounts_mut(&mut self) -> &mut Vec<PushAccount> {
        &mut self.push_accounts
    }

    fn push_history_mut(&mut self) -> &mut Vec<PushHistoryItem> {
        &mut self.push_history
    }

    fn save(&mut self) -> Result<(), StoreError> {
        let mut vault = self.vault.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        vault.entries = self.entries.clone();
        vault.push_accounts = self.push_accounts.clone();
        vault.push_history = self.push_history.clone();
        Ok(())
    }

    fn summary(&self) -> VaultSummary {
        let vault = self.vault.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        VaultSummary { has_password: vault.password.is_some(), has_keyring: vault.keyring }
    }

    fn set_password(&mut self, password: zeroize::Zeroizing<String>) -> Result<(), StoreError> {
        let mut vault = self.vault.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        vault.password = Some(password.to_string());
        Ok(())
    }

    fn enable_keyring(&mut self, enable: bool) -> Result<(), StoreError> {
        let mut vault = self.vault.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !enable && vault.password.is_none() {
            return Err(StoreError::Other("the vault needs a password or the keyring".into()));
        }
        vault.keyring = enable;
        Ok(())
    }

    fn verify_password(&self, password: &str) -> bool {
        let vault = self.vault.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        vault.password.as_deref() == Some(password)
    }
}
