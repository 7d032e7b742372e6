//! The vault as the GUI sees it: a backend that can inspect, create and open the vault, and an
//! open vault whose entries the screens edit and save.
//!
//! The traits keep the screens independent of where entries live: the app uses the encrypted
//! vault file, tests may use [`MemoryBackend`]. Opening and creating are slow (key derivation)
//! and run off the UI thread, hence `Send + Sync`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tessera_core::otp::OtpParams;

/// One account (mirrors `tessera_core::vault::Entry` field for field until the vault lands).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Stable identifier.
    pub id: String,
    /// The service ("GitHub"); may be empty.
    pub issuer: String,
    /// The account name at the service.
    pub account: String,
    /// How codes are computed, including the secret.
    pub otp: OtpParams,
    /// Free text.
    pub note: String,
    /// Optional group name.
    pub group: Option<String>,
    /// Shown first when true.
    pub favourite: bool,
    /// Creation time, Unix seconds.
    pub created: u64,
    /// When a code was last copied, Unix seconds.
    pub last_used: Option<u64>,
}

impl Entry {
    /// Returns a new entry created at `now` with a process-unique id.
    pub fn new(issuer: String, account: String, otp: OtpParams, now: u64) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let id =
            format!("{now}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        Self {
            id,
            issuer,
            account,
            otp,
            note: String::new(),
            group: None,
            favourite: false,
            created: now,
            last_used: None,
        }
    }
}

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
    /// Writes the entries.
    fn save(&mut self) -> Result<(), StoreError>;
}

/// Returns the data directory: `$TESSERA_HOME`, else `$XDG_DATA_HOME/tessera`, else
/// `~/.local/share/tessera`.
pub fn data_dir() -> PathBuf {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("TESSERA_HOME")
        .or_else(|| env("XDG_DATA_HOME").map(|d| d.join("tessera")))
        .or_else(|| env("HOME").map(|h| h.join(".local/share/tessera")))
        .unwrap_or_else(|| PathBuf::from("tessera"))
}

/// Returns the backend the app uses for the vault in `home`.
pub fn system_backend(home: &Path) -> Arc<dyn VaultBackend> {
    // Until the encrypted vault is merged the app keeps accounts in memory only.
    Arc::new(MemoryBackend {
        location: home.join("vault.json").display().to_string(),
        ..Default::default()
    })
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
}

impl MemoryBackend {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryVault> {
        self.vault.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn opened(&self, entries: Vec<Entry>) -> Box<dyn OpenVault> {
        Box::new(MemoryOpen { vault: Arc::clone(&self.vault), entries })
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

    fn save(&mut self) -> Result<(), StoreError> {
        let mut vault = self.vault.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        vault.entries = self.entries.clone();
        Ok(())
    }
}
