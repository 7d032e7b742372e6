//! What can go wrong with a vault, as one error enum whose messages never contain secrets.

use std::path::{Path, PathBuf};

use super::storage;

/// Everything that can go wrong with a vault. Messages never contain secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No vault file at the path.
    #[error("no vault at {}", path.display())]
    NotFound {
        /// Where we looked.
        path: PathBuf,
    },
    /// `create` found a file already there.
    #[error("a vault already exists at {}", path.display())]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The password does not open the password slot (the file itself is intact).
    #[error("wrong password")]
    WrongPassword,
    /// The file is truncated, corrupted or altered.
    #[error("the vault file is damaged: {detail}")]
    Damaged {
        /// What exactly is wrong.
        detail: String,
    },
    /// The file was written by a newer Tessera.
    #[error(
        "the vault uses format version {found}, but this build reads versions up to {supported}; \
         update tessera"
    )]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The OS secret store did not answer or did not have the key.
    #[error("the system keyring is unavailable: {detail}")]
    KeyringUnavailable {
        /// What the store said.
        detail: String,
    },
    /// The only secret store that answered forgets keys at reboot, and no password slot exists.
    #[error(
        "only the {store} keyring answered, which forgets keys at reboot; protect the vault with \
         a password too"
    )]
    KeyringNotDurable {
        /// The store that answered.
        store: String,
    },
    /// The requested unlock method has no slot in this vault, or removing a slot would leave
    /// none.
    #[error("{detail}")]
    NoUsableSlot {
        /// Which method is missing.
        detail: String,
    },
    /// Another process holds the vault open.
    #[error(
        "the vault {} is in use by another tessera process{}; close it and retry",
        path.display(),
        if holder.is_empty() { String::new() } else { format!(" (pid {holder})") }
    )]
    Busy {
        /// The vault path.
        path: PathBuf,
        /// The holder's pid as recorded in the lock file, if known.
        holder: String,
    },
    /// The file changed on disk since this process loaded it.
    #[error("the vault {} was changed by another process; reopen it and retry", path.display())]
    Conflict {
        /// The vault path.
        path: PathBuf,
    },
    /// Another process changed the vault's slots, which rotated its master key; the key this
    /// process held no longer opens it.
    #[error(
        "the vault {} was re-keyed by another process (its password or keyring changed); \
         unlock it again",
        path.display()
    )]
    Rekeyed {
        /// The vault path.
        path: PathBuf,
    },
    /// A slot change keeps the password slot, whose key this process does not know (the
    /// vault was unlocked with the keyring): confirm the password first.
    #[error("enter the vault password to change how the vault is unlocked")]
    PasswordNeeded,
    /// `TESSERA_HOME` is unset and the platform has no data directory.
    #[error("no data directory: set TESSERA_HOME")]
    NoDataDir,
    /// A file system operation failed.
    #[error("i/o error on {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A failure that indicates a bug or a broken platform (random source, serializer).
    #[error("internal error: {detail}")]
    Internal {
        /// What failed.
        detail: String,
    },
}

/// Adds the backup's path to a damage report, so that the user knows a copy exists.
pub(super) fn point_to_backup(error: VaultError, path: &Path) -> VaultError {
    match error {
        VaultError::Damaged { detail } => {
            let bak = storage::sibling(path, ".bak");
            let detail = if bak.is_file() {
                format!("{detail}; the previous save is kept at {}", bak.display())
            } else {
                detail
            };
            VaultError::Damaged { detail }
        }
        other => other,
    }
}
