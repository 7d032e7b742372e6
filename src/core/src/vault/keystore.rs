//! The OS secret store seen through one small trait, so that tests can replace it.
//!
//! A keyring slot keeps a random 256-bit *slot key* in the platform secret store under
//! service `tessera`, user = the vault's uuid; the slot key wraps the vault's master key in
//! the file exactly like a password-derived key does. A wrong or stale key in the store is
//! therefore detected (AES-GCM refuses it) instead of decrypting garbage.
//!
//! Store order at run time (see [`SystemKeyStore`]): on Linux the Secret Service (GNOME
//! Keyring, KWallet) first, then the kernel's keyutils session keyring. keyutils forgets
//! everything at reboot, so a key that only keyutils accepted is reported as not durable and
//! the vault refuses to rely on it alone (a password slot must exist beside it). macOS uses
//! the login keychain and Windows the Credential Manager.

use std::fmt;
use std::sync::{Arc, OnceLock};

use keyring_core::{CredentialPersistence, CredentialStore};
use zeroize::Zeroizing;

/// The keyring service name under which Tessera stores slot keys.
pub const KEYRING_SERVICE: &str = "tessera";

/// Why the secret store could not do what was asked. Never carries secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStoreError {
    /// No store answered (no session bus, no keyring daemon, locked and no prompt...).
    Unavailable(String),
    /// The store answered but holds no key under this name.
    NotFound,
}

impl fmt::Display for KeyStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(detail) => write!(f, "no secret store answered: {detail}"),
            Self::NotFound => f.write_str("the secret store holds no key for this vault"),
        }
    }
}

/// Where a key ended up when it was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// A human-readable store name ("secret-service", "keyutils", ...).
    pub store: String,
    /// False when the store forgets its contents at reboot or logout (keyutils).
    pub durable: bool,
}

/// A place that keeps small secrets outside the vault file, by name.
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// Stores `key` under `name`, replacing any previous value.
    fn store(&self, name: &str, key: &[u8]) -> Result<Stored, KeyStoreError>;
    /// Returns the key stored under `name`.
    fn load(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError>;
    /// Deletes the key stored under `name`; deleting a missing key is not an error.
    fn delete(&self, name: &str) -> Result<(), KeyStoreError>;
}

/// Adapts one `keyring-core` credential store to [`KeyStore`].
pub struct CoreKeyStore {
    label: String,
    store: Arc<CredentialStore>,
}

impl CoreKeyStore {
    /// Wraps a keyring-core store; `label` names it in messages.
    pub fn new(label: &str, store: Arc<CredentialStore>) -> Self {
        Self { label: label.to_owned(), store }
    }

    fn durable(&self) -> bool {
        matches!(
            self.store.persistence(),
            CredentialPersistence::UntilDelete | CredentialPersistence::Unspecified
        )
    }

    fn entry(&self, name: &str) -> Result<keyring_core::Entry, KeyStoreError> {
        self.store.build(KEYRING_SERVICE, name, None).map_err(|e| self.unavailable(&e))
    }

    fn unavailable(&self, error: &keyring_core::Error) -> KeyStoreError {
        // keyring-core errors name the platform failure; `BadEncoding`/`BadDataFormat` carry
        // the stored bytes, so they are never formatted.
        let detail = match error {
            keyring_core::Error::BadEncoding(_) | keyring_core::Error::BadDataFormat(..) => {
                "the stored value has an unexpected format".to_owned()
            }
            other => other.to_string(),
        };
        KeyStoreError::Unavailable(format!("{}: {detail}", self.label))
    }
}

impl fmt::Debug for CoreKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreKeyStore").field("label", &self.label).finish_non_exhaustive()
    }
}

impl KeyStore for CoreKeyStore {
    fn store(&self, name: &str, key: &[u8]) -> Result<Stored, KeyStoreError> {
        self.entry(name)?.set_secret(key).map_err(|e| self.unavailable(&e))?;
        Ok(Stored { store: self.label.clone(), durable: self.durable() })
    }

    fn load(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        match self.entry(name)?.get_secret() {
            Ok(bytes) => Ok(Zeroizing::new(bytes)),
            Err(keyring_core::Error::NoEntry) => Err(KeyStoreError::NotFound),
            Err(e) => Err(self.unavailable(&e)),
        }
    }

    fn delete(&self, name: &str) -> Result<(), KeyStoreError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(self.unavailable(&e)),
        }
    }
}

/// The platform's secret stores, tried in order of preference; built lazily on first use so
/// that opening a password-only vault never touches the session bus.
#[derive(Default)]
pub struct SystemKeyStore {
    stores: OnceLock<Vec<Result<CoreKeyStore, String>>>,
}

impl fmt::Debug for SystemKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SystemKeyStore")
    }
}

impl SystemKeyStore {
    /// Returns a store that will consult the platform's secret stores.
    pub fn new() -> Self {
        Self::default()
    }

    fn stores(&self) -> &[Result<CoreKeyStore, String>] {
        self.stores.get_or_init(platform_stores)
    }

    fn unavailable(errors: &[String]) -> KeyStoreError {
        if errors.is_empty() {
            KeyStoreError::Unavailable("this platform has no supported secret store".to_owned())
        } else {
            KeyStoreError::Unavailable(errors.join("; "))
        }
    }
}

#[cfg(target_os = "linux")]
fn platform_stores() -> Vec<Result<CoreKeyStore, String>> {
    // Connecting to the Secret Service starts zbus' executor threads before it finds out that
    // there is no bus; when the bus socket provably does not exist, say so without trying.
    let secret_service = if session_bus_absent() {
        Err("secret-service: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and \
             there is no bus socket in the runtime directory)"
            .to_owned())
    } else {
        zbus_secret_service_keyring_store::Store::new()
            .map(|s| CoreKeyStore::new("secret-service", s))
            .map_err(|e| format!("secret-service: {e}"))
    };
    let keyutils = linux_keyutils_keyring_store::Store::new()
        .map(|s| CoreKeyStore::new("keyutils", s))
        .map_err(|e| format!("keyutils: {e}"));
    vec![secret_service, keyutils]
}

/// True only when no session bus can answer: `DBUS_SESSION_BUS_ADDRESS` is unset and the
/// socket zbus would fall back to (`$XDG_RUNTIME_DIR/bus`, else `/run/user/<euid>/bus`, see
/// `zbus::Address::session`) does not exist. Any doubt means "try the bus".
#[cfg(target_os = "linux")]
fn session_bus_absent() -> bool {
    use std::os::unix::fs::MetadataExt;
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        return false;
    }
    let runtime_dir = match std::env::var("XDG_RUNTIME_DIR") {
        Ok(dir) => std::path::PathBuf::from(dir),
        // /proc/self belongs to the process' effective uid, which is what zbus uses.
        Err(_) => match std::fs::metadata("/proc/self") {
            Ok(meta) => std::path::PathBuf::from(format!("/run/user/{}", meta.uid())),
            Err(_) => return false,
        },
    };
    matches!(
        std::fs::symlink_metadata(runtime_dir.join("bus")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound
    )
}

#[cfg(any(target_os = "macos", target_os = "ios"))]
fn platform_stores() -> Vec<Result<CoreKeyStore, String>> {
    vec![
        apple_native_keyring_store::keychain::Store::new()
            .map(|s| CoreKeyStore::new("keychain", s))
            .map_err(|e| format!("keychain: {e}")),
    ]
}

#[cfg(target_os = "windows")]
fn platform_stores() -> Vec<Result<CoreKeyStore, String>> {
    vec![
        windows_native_keyring_store::Store::new()
            .map(|s| CoreKeyStore::new("credential-manager", s))
            .map_err(|e| format!("credential-manager: {e}")),
    ]
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "macos",
    target_os = "ios",
    target_os = "windows"
)))]
fn platform_stores() -> Vec<Result<CoreKeyStore, String>> {
    Vec::new()
}

impl KeyStore for SystemKeyStore {
    fn store(&self, name: &str, key: &[u8]) -> Result<Stored, KeyStoreError> {
        let mut errors = Vec::new();
        for store in self.stores() {
            match store {
                Ok(store) => match store.store(name, key) {
                    Ok(stored) => return Ok(stored),
                    Err(e) => errors.push(e.to_string()),
                },
                Err(e) => errors.push(e.clone()),
            }
        }
        Err(Self::unavailable(&errors))
    }

    fn load(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        let mut errors = Vec::new();
        let mut answered = false;
        for store in self.stores() {
            match store {
                Ok(store) => match store.load(name) {
                    Ok(key) => return Ok(key),
                    Err(KeyStoreError::NotFound) => answered = true,
                    Err(e) => errors.push(e.to_string()),
                },
                Err(e) => errors.push(e.clone()),
            }
        }
        if answered { Err(KeyStoreError::NotFound) } else { Err(Self::unavailable(&errors)) }
    }

    fn delete(&self, name: &str) -> Result<(), KeyStoreError> {
        // Delete from every store that answers: a key must not linger in a fallback store.
        let mut errors = Vec::new();
        let mut answered = false;
        for store in self.stores() {
            match store {
                Ok(store) => match store.delete(name) {
                    Ok(()) => answered = true,
                    Err(e) => errors.push(e.to_string()),
                },
                Err(e) => errors.push(e.clone()),
            }
        }
        if answered { Ok(()) } else { Err(Self::unavailable(&errors)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_key_store_round_trips_through_the_sample_store() {
        let dir = tempfile::tempdir().unwrap();
        let backing = dir.path().join("keyring.ron");
        let backed = keyring_core::sample::Store::new_with_backing(backing.to_str().unwrap());
        let store = CoreKeyStore::new("sample", backed.unwrap());
        assert_eq!(store.load("vault-a"), Err(KeyStoreError::NotFound));
        let stored = store.store("vault-a", &[7u8; 32]).unwrap();
        assert!(stored.durable);
        assert_eq!(store.load("vault-a").unwrap().as_slice(), &[7u8; 32]);
        store.delete("vault-a").unwrap();
        store.delete("vault-a").unwrap();
        assert_eq!(store.load("vault-a"), Err(KeyStoreError::NotFound));
    }

    #[test]
    fn a_process_only_store_is_not_durable() {
        let store = CoreKeyStore::new("memory", keyring_core::sample::Store::new().unwrap());
        assert!(!store.store("vault-b", &[1u8; 32]).unwrap().durable);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn keyutils_is_reported_as_not_durable() {
        let store = linux_keyutils_keyring_store::Store::new().unwrap();
        assert!(matches!(
            keyring_core::api::CredentialStoreApi::persistence(store.as_ref()),
            CredentialPersistence::UntilReboot
        ));
        assert!(!CoreKeyStore::new("keyutils", store).durable());
    }
}
