//! The GUI over the real encrypted vault file (cheap Argon2id parameters, an in-memory key
//! store): first run creates it, locking drops it, unlocking reads it back, and a damaged
//! file is reported as damaged.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use slint::ComponentHandle;
use tessera::store::{FileBackend, MemoryBackend};
use tessera_core::vault::{KdfParams, KeyStore, KeyStoreError, Stored};
use zeroize::Zeroizing;

use super::{ENGLISH, RFC_CODE, RFC_KEY, launch};

/// A durable secret store that lives in memory.
#[derive(Debug, Default)]
pub(super) struct MemoryKeys(Mutex<HashMap<String, Vec<u8>>>);

impl KeyStore for MemoryKeys {
    fn store(&self, name: &str, key: &[u8]) -> Result<Stored, KeyStoreError> {
        self.0.lock().unwrap().insert(name.to_owned(), key.to_vec());
        Ok(Stored { store: "memory".into(), durable: true })
    }

    fn load(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        self.0.lock().unwrap().get(name).cloned().map(Zeroizing::new).ok_or(KeyStoreError::NotFound)
    }

    fn delete(&self, name: &str) -> Result<(), KeyStoreError> {
        self.0.lock().unwrap().remove(name);
        Ok(())
    }
}

pub(super) fn file_backend(path: PathBuf, keys: &Arc<MemoryKeys>) -> Arc<FileBackend> {
    let keys: Arc<dyn KeyStore> = keys.clone();
    Arc::new(FileBackend::with(path, keys, Some(KdfParams::INSECURE_FOR_TESTS)))
}

#[test]
fn the_encrypted_vault_is_created_locked_reopened_and_a_damaged_file_is_named_so() {
    i_slint_backend_testing::init_no_event_loop();
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("vault.json");
    let keys = Arc::new(MemoryKeys::default());
    let h = launch(file_backend(path.clone(), &keys), MemoryBackend::default(), home, ENGLISH);

    // With a durable key store the keyring is offered and chosen by default; take a password.
    assert!(h.exists("Use the system keyring"));
    h.click("Use the system keyring");
    h.type_into("New password or PIN", "correct horse");
    h.type_into("Repeat password or PIN", "correct horse");
    h.click("Create vault");
    assert!(path.exists(), "the vault file is written");
    h.add_by_key("ada", "Example", RFC_KEY);
    h.click("Add");
    assert!(h.exists(RFC_CODE));
    // Version 3: a JSON header line, then raw ciphertext (not UTF-8).
    let on_disk = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
    // Quoted: a bare "ada" turns up by chance in base64 ciphertext about once in a hundred runs.
    assert!(!on_disk.contains("\"ada\"") && !on_disk.contains(RFC_KEY), "the file is encrypted");

    h.click("Lock");
    h.type_into("Password or PIN", "wrong horse");
    h.click("Unlock");
    assert!(h.exists("Wrong password or PIN"));
    h.type_into("Password or PIN", "correct horse");
    h.click("Unlock");
    assert!(h.exists(RFC_CODE), "the account was read back from the file");
    h.click("Lock");

    // Alter one byte of the encrypted content (the raw ciphertext after the header line).
    let mut bytes = std::fs::read(&path).unwrap();
    let header_end = bytes.iter().position(|&b| b == b'\n').unwrap();
    let middle = header_end + (bytes.len() - header_end) / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    h.type_into("Password or PIN", "correct horse");
    h.click("Unlock");
    assert!(!h.exists("Wrong password or PIN"), "a damaged file is not a wrong password");
    assert!(h.all("Tessera is locked").len() == 1);
    let damaged = h.app.window().global::<tessera::UnlockAdapter>().get_problem();
    assert_eq!(damaged, tessera::UnlockProblem::Damaged);
}
