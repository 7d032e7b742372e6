//! Fuzzes vault opening: header parsing, checksum, slot unwrapping and content decryption
//! must return an error, never panic, on any input.
//!
//! Seeds in `fuzz/seeds/vault_open/`: vaults with 0, 1 and 3 entries written by our own
//! `Vault::create_with` + `save` with the password `fuzz` and `KdfParams::INSECURE_FOR_TESTS`,
//! so that mutations of real files reach the slot and content layers: `vault-N.json` in
//! format version 1 (whole-file checksum), `vault-v2-N.json` the same vaults opened and saved
//! again by the version-2 build (header checksum). The core's unit tests also read two of the
//! version-1 seeds to prove that version 1 stays readable. Run:
//! `cargo fuzz run vault_open fuzz/corpus/vault_open fuzz/seeds/vault_open` (see the report for
//! the stable-toolchain invocation). The keyring path always meets a wrong key (the store below
//! answers `[7; 32]`) and so exercises the rejection path.
#![no_main]

use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tessera_core::vault::{KeyStore, KeyStoreError, Stored, Unlock, Vault, VaultOptions};
use zeroize::Zeroizing;

/// Answers every keyring lookup with the same fixed key.
#[derive(Debug)]
struct FixedStore;

impl KeyStore for FixedStore {
    fn store(&self, _: &str, _: &[u8]) -> Result<Stored, KeyStoreError> {
        Ok(Stored { store: "fixed".into(), durable: true })
    }
    fn load(&self, _: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        Ok(Zeroizing::new(vec![7; 32]))
    }
    fn delete(&self, _: &str) -> Result<(), KeyStoreError> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(info) = Vault::inspect_bytes(data) else { return };
    let options = VaultOptions { key_store: Arc::new(FixedStore), lock_wait: Duration::ZERO };
    let _ = Vault::read_bytes(data, &Unlock::Keyring, &options);
    // Real Argon2id costs are far too slow for fuzzing; cheap slots still cover the code path.
    let cheap = info.kdf.is_none_or(|k| k.m_kib <= 64 && k.t <= 2 && k.p <= 2);
    if cheap {
        let _ = Vault::read_bytes(data, &Unlock::Password(Zeroizing::new("fuzz".into())), &options);
    }
});
