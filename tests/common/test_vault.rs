//! The real encrypted vault file for GUI tests: cheap Argon2id parameters, a key store in
//! memory (durable, or none at all), and helpers to prepare the file and read it back.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tessera::VaultFile;
use tessera_core::push::PushAccount;
use tessera_core::vault::{
    Entry, KdfParams, KeyStore, KeyStoreError, Protection, Stored, Unlock, Vault, VaultContent,
    VaultOptions,
};
use zeroize::Zeroizing;

/// The password the prepared vaults have.
pub const PASSWORD: &str = "1234";

/// A secret store in memory: durable, or answering nobody (no keyring on this desktop).
#[derive(Debug, Default)]
pub struct Keys {
    keys: Mutex<HashMap<String, Vec<u8>>>,
    available: bool,
}

impl KeyStore for Keys {
    fn store(&self, name: &str, key: &[u8]) -> Result<Stored, KeyStoreError> {
        if !self.available {
            return Err(KeyStoreError::Unavailable("no secret store in this test".into()));
        }
        self.keys.lock().unwrap().insert(name.to_owned(), key.to_vec());
        Ok(Stored { store: "memory".into(), durable: true })
    }

    fn load(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        if !self.available {
            return Err(KeyStoreError::Unavailable("no secret store in this test".into()));
        }
        self.keys
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .map(Zeroizing::new)
            .ok_or(KeyStoreError::NotFound)
    }

    fn delete(&self, name: &str) -> Result<(), KeyStoreError> {
        self.keys.lock().unwrap().remove(name);
        Ok(())
    }
}

/// A vault file in its own temporary folder.
pub struct TestVault {
    pub path: PathBuf,
    pub keys: Arc<Keys>,
    _dir: tempfile::TempDir,
}

impl TestVault {
    /// No vault yet; `keyring`: whether a durable secret store answers.
    pub fn empty(keyring: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(Keys { keys: Mutex::default(), available: keyring });
        Self { path: dir.path().join("vault.json"), keys, _dir: dir }
    }

    /// A vault with password [`PASSWORD`] (no secret store) holding `entries` and `push`.
    pub fn with_password(entries: Vec<Entry>, push: Vec<PushAccount>) -> Self {
        let vault = Self::empty(false);
        let password = Protection::PasswordWithParams(
            Zeroizing::new(PASSWORD.into()),
            KdfParams::INSECURE_FOR_TESTS,
        );
        vault.write(&[password], entries, push);
        vault
    }

    /// A vault protected by the (durable, in-memory) secret store only.
    pub fn keyring_only(entries: Vec<Entry>) -> Self {
        let vault = Self::empty(true);
        vault.write(&[Protection::Keyring], entries, Vec::new());
        vault
    }

    fn options(&self) -> VaultOptions {
        let key_store: Arc<dyn KeyStore> = self.keys.clone();
        VaultOptions { key_store, ..VaultOptions::default() }
    }

    fn write(&self, protections: &[Protection], entries: Vec<Entry>, push: Vec<PushAccount>) {
        let mut vault = Vault::create_with(&self.path, protections, self.options()).unwrap();
        vault
            .commit(|content| {
                content.entries = entries;
                content.push_accounts = push;
            })
            .unwrap();
    }

    /// What the app opens.
    pub fn file(&self) -> VaultFile {
        VaultFile::with(self.path.clone(), self.keys.clone(), Some(KdfParams::INSECURE_FOR_TESTS))
    }

    /// True if `password` opens the file.
    pub fn opens_with(&self, password: &str) -> bool {
        let unlock = Unlock::Password(Zeroizing::new(password.into()));
        Vault::read_only(&self.path, &unlock, &self.options()).is_ok()
    }

    /// What the file holds now (opened with [`PASSWORD`], else the secret store).
    pub fn content(&self) -> VaultContent {
        let password = Unlock::Password(Zeroizing::new(PASSWORD.into()));
        Vault::read_only(&self.path, &password, &self.options())
            .or_else(|_| Vault::read_only(&self.path, &Unlock::Keyring, &self.options()))
            .unwrap()
    }

    /// Alters one digit of the header's checksum, as a disk error or a careless edit would.
    pub fn damage(&self) {
        let mut bytes = std::fs::read(&self.path).unwrap();
        let key = b"\"checksum\":\"";
        let at = bytes.windows(key.len()).position(|w| w == key).unwrap() + key.len();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        std::fs::write(&self.path, bytes).unwrap();
    }
}
