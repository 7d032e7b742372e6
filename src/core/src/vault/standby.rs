//! Push accounts kept in the OS keyring, so that a locked app can listen for login requests
//! from a cold start ("Listen before the first unlock").
//!
//! Without this, a vault protected by a password alone gives the app no push key until the
//! user unlocks it once: after a reboot nothing is heard. With it, the push accounts (server,
//! serial, device key) are stored as one keyring entry named `<vault id>.push-standby` and
//! read at start; the codes stay sealed in the vault.
//!
//! What this trades: whoever can read the user's keyring (any program running as the user
//! once the keyring is unlocked) can sign push answers with these keys, without the vault
//! password. The app itself still answers nothing while locked (a locked app only announces a
//! request), so the exposure is the same as that of a keyring slot on the vault, limited to
//! the push keys. The entry is removed when the setting is turned off, and rewritten when push
//! accounts are added or removed.

use zeroize::Zeroizing;

use super::{KeyStore, KeyStoreError};
use crate::push::PushAccount;

/// Why the kept push accounts could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StandbyError {
    /// The keyring did not answer.
    #[error("{0}")]
    Store(KeyStoreError),
    /// The entry is not what this module writes (its content is never shown).
    #[error("the push keys kept in the keyring are damaged")]
    Damaged,
}

/// The keyring entry's name for the vault `vault_id`.
fn name(vault_id: &str) -> String {
    format!("{vault_id}.push-standby")
}

/// Keeps `accounts` in `store` for the vault `vault_id`, replacing what was kept.
pub fn keep(
    store: &dyn KeyStore,
    vault_id: &str,
    accounts: &[PushAccount],
) -> Result<(), KeyStoreError> {
    let json = Zeroizing::new(serde_json::to_vec(accounts).map_err(|_| {
        KeyStoreError::Unavailable("the push accounts could not be encoded".into())
    })?);
    store.store(&name(vault_id), &json).map(|_| ())
}

/// Returns the push accounts kept for the vault `vault_id` (none kept: empty).
pub fn load(store: &dyn KeyStore, vault_id: &str) -> Result<Vec<PushAccount>, StandbyError> {
    match store.load(&name(vault_id)) {
        Ok(json) => serde_json::from_slice(&json).map_err(|_| StandbyError::Damaged),
        Err(KeyStoreError::NotFound) => Ok(Vec::new()),
        Err(error) => Err(StandbyError::Store(error)),
    }
}

/// Removes the kept push accounts (none kept is not an error).
pub fn forget(store: &dyn KeyStore, vault_id: &str) -> Result<(), KeyStoreError> {
    store.delete(&name(vault_id))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;
    use crate::push::{DeviceKey, PushBackendKind};
    use crate::vault::Stored;

    #[derive(Debug, Default)]
    struct Keys(Mutex<HashMap<String, Vec<u8>>>);

    impl KeyStore for Keys {
        fn store(&self, name: &str, key: &[u8]) -> Result<Stored, KeyStoreError> {
            self.0.lock().unwrap().insert(name.into(), key.to_vec());
            Ok(Stored { store: "memory".into(), durable: true })
        }
        fn load(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
            let keys = self.0.lock().unwrap();
            keys.get(name).cloned().map(Zeroizing::new).ok_or(KeyStoreError::NotFound)
        }
        fn delete(&self, name: &str) -> Result<(), KeyStoreError> {
            self.0.lock().unwrap().remove(name);
            Ok(())
        }
    }

    fn account(serial: &str) -> PushAccount {
        PushAccount {
            backend: PushBackendKind::Tessera,
            serial: serial.into(),
            url: "https://push.example/device/v1/pending".into(),
            sslverify: true,
            device_key: DeviceKey::generate_p256().unwrap(),
            server_public_key: vec![4; 65],
            issuer: "Zoë Bank".into(),
            label: "alice".into(),
            enrolled_at: 1_700_000_000,
            require_password: false,
        }
    }

    #[test]
    fn kept_accounts_come_back_with_their_keys_and_forgetting_removes_them() {
        let keys = Keys::default();
        assert!(load(&keys, "v1").unwrap().is_empty(), "nothing kept yet");
        let kept = [account("TS01"), account("TS02")];
        keep(&keys, "v1", &kept).unwrap();
        let back = load(&keys, "v1").unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].serial, "TS02");
        let message = b"poll";
        assert_eq!(
            back[0].device_key.p256_public_key().unwrap(),
            kept[0].device_key.p256_public_key().unwrap()
        );
        assert!(back[0].device_key.sign_p256(message).is_ok());
        assert!(load(&keys, "another vault").unwrap().is_empty(), "kept per vault");
        forget(&keys, "v1").unwrap();
        assert!(load(&keys, "v1").unwrap().is_empty());
        assert!(keys.0.lock().unwrap().is_empty());
    }

    #[test]
    fn a_tampered_entry_is_damaged_and_its_content_never_shown() {
        let keys = Keys::default();
        keys.store("v1.push-standby", b"{\"secret\": \"JBSWY3DPEHPK3PXP\"").unwrap();
        let error = load(&keys, "v1").unwrap_err();
        assert!(matches!(error, StandbyError::Damaged));
        assert!(!error.to_string().contains("JBSWY3DPEHPK3PXP"));
    }
}
