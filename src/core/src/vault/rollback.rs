//! Noticing a rolled-back vault: the last generation seen of each vault, kept outside the
//! vault file.
//!
//! Every save increments the file's `generation`, and the content's associated data binds
//! it, so a file cannot claim another generation than it has. But a whole *older* file (from
//! a backup, a sync conflict, or an attacker who kept a copy) is a valid vault: opening it
//! silently would bring back removed accounts or push keys, or undo a password change. So
//! the front ends record the newest generation they have seen, per vault id, in two places
//! an attacker who swaps `vault.json` does not automatically control:
//!
//! - the OS keyring, when the vault has a keyring slot (entry `<vault id>.generation`);
//! - a small record in the data directory (`seen-generations.json`, the app's and the CLI's
//!   settings), which at least catches restores and sync conflicts.
//!
//! Opening a generation older than the newest recorded one is reported as a [`Rollback`]:
//! the front ends warn clearly and keep working (the user may have restored on purpose).
//! They record the generation after every open that is not a rollback and after every save,
//! so the warning repeats on each open of the older file until a change is saved to it (the
//! user's acknowledgement); from then on its generations are the ones recorded.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{KeyStore, VaultInfo};

/// The record's file name in the data directory.
pub const SEEN_FILE_NAME: &str = "seen-generations.json";

/// An opened vault is older than one seen before.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this vault file is generation {found}, but generation {seen} was seen before: it is an older \
     copy (restored, synced back or swapped in); accounts removed or a password changed since \
     may be back"
)]
pub struct Rollback {
    /// The newest generation recorded.
    pub seen: u64,
    /// The generation just opened.
    pub found: u64,
}

/// Where the last seen generations are kept (see the module docs).
#[derive(Clone)]
pub struct Watermark {
    file: PathBuf,
    key_store: Option<Arc<dyn KeyStore>>,
}

impl std::fmt::Debug for Watermark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watermark").field("file", &self.file).finish_non_exhaustive()
    }
}

impl Watermark {
    /// Keeps the record in `data_dir`, and in `key_store` for vaults with a keyring slot.
    pub fn new(data_dir: &Path, key_store: Option<Arc<dyn KeyStore>>) -> Self {
        Self { file: data_dir.join(SEEN_FILE_NAME), key_store }
    }

    /// Returns the rollback if `info` is older than the newest generation recorded.
    pub fn check(&self, info: &VaultInfo) -> Result<(), Rollback> {
        match self.seen(info) {
            Some(seen) if seen > info.generation => Err(Rollback { seen, found: info.generation }),
            _ => Ok(()),
        }
    }

    /// Checks `info` (see [`Watermark::check`]) and, if it is not a rollback, records its
    /// generation when it differs from the recorded one (so that opening an unchanged vault
    /// writes nothing).
    pub fn note(&self, info: &VaultInfo) -> Result<(), Rollback> {
        match self.seen(info) {
            Some(seen) if seen > info.generation => Err(Rollback { seen, found: info.generation }),
            Some(seen) if seen == info.generation => Ok(()),
            _ => {
                self.record(info);
                Ok(())
            }
        }
    }

    /// Records `info`'s generation as the one to compare with (after an open that was not a
    /// rollback, and after every save). A failure to record only weakens the check, so it is
    /// not reported.
    pub fn record(&self, info: &VaultInfo) {
        let mut map = self.read_file();
        map.insert(info.vault_id.clone(), info.generation);
        if let Ok(bytes) = serde_json::to_vec_pretty(&map) {
            let tmp = self.file.with_extension(format!("{}.tmp", std::process::id()));
            if fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, &self.file)).is_err() {
                let _ = fs::remove_file(&tmp);
            }
        }
        if let Some(store) = self.key_store.as_ref().filter(|_| info.has_keyring) {
            let _ = store.store(&keyring_name(&info.vault_id), &info.generation.to_le_bytes());
        }
    }

    fn seen(&self, info: &VaultInfo) -> Option<u64> {
        let from_file = self.read_file().get(&info.vault_id).copied();
        let from_keyring = self
            .key_store
            .as_ref()
            .filter(|_| info.has_keyring)
            .and_then(|store| store.load(&keyring_name(&info.vault_id)).ok())
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
            .map(u64::from_le_bytes);
        from_file.max(from_keyring)
    }

    fn read_file(&self) -> BTreeMap<String, u64> {
        fs::read(&self.file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }
}

fn keyring_name(vault_id: &str) -> String {
    format!("{vault_id}.generation")
}
