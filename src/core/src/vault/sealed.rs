//! Reading a vault file and decrypting it: [`SealedVault`] (read and verified once, then
//! opened with one unlock method after another) and the slot-unwrapping rules.

use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::error::point_to_backup;
use super::format::{self, Ciphertext, Key, OpenError, Slot, VaultFile};
use super::storage::{self, FileLock};
use super::{
    KeyStore, Unlock, Vault, VaultContent, VaultError, VaultInfo, VaultOptions, content, query,
};

/// The slot keys this process knows, kept so that a later slot change can re-wrap a new
/// master key for the slots that stay (see the `slots` module). Zeroized on drop.
#[derive(Default)]
pub(super) struct SlotKeys {
    /// The password slot's Argon2id output (known after a password unlock or change).
    pub(super) password: Option<Key>,
    /// The keyring slot's key (known after a keyring unlock or enabling the keyring).
    pub(super) keyring: Option<Key>,
}

/// The result of decrypting a file.
pub(super) struct Decrypted {
    pub(super) file: VaultFile,
    pub(super) master_key: Key,
    pub(super) content: VaultContent,
    pub(super) slot_keys: SlotKeys,
}

pub(super) fn decrypt(
    bytes: &[u8],
    unlock: &Unlock,
    key_store: &dyn KeyStore,
) -> Result<Decrypted, VaultError> {
    let decoded = VaultFile::decode(bytes)?;
    let ciphertext = decoded.ciphertext.get(bytes);
    decrypt_file(decoded.file, ciphertext, unlock, key_store)
}

/// Unwraps the master key, checks the header MAC and decrypts `ciphertext`, the file's
/// content.
fn decrypt_file(
    file: VaultFile,
    ciphertext: &[u8],
    unlock: &Unlock,
    key_store: &dyn KeyStore,
) -> Result<Decrypted, VaultError> {
    let (master_key, slot_keys) = unwrap_master_key(&file, unlock, key_store)?;
    let content = decrypt_content(&file, ciphertext, &master_key)?;
    Ok(Decrypted { file, master_key, content, slot_keys })
}

/// A vault file read from disk and verified (format, version, structure, checksum) but not
/// yet decrypted.
///
/// It lets a caller look at the slots ([`SealedVault::info`]), try the keyring and then a
/// password without reading and parsing the file again for each attempt. [`Vault::open`] and
/// [`Vault::read_only`] are shorthands for [`SealedVault::read`] followed by
/// [`SealedVault::open`] or [`SealedVault::decrypt`].
pub struct SealedVault {
    path: PathBuf,
    /// The whole file as read.
    bytes: Vec<u8>,
    /// The parsed header.
    file: VaultFile,
    ciphertext: Ciphertext,
}

impl fmt::Debug for SealedVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedVault")
            .field("path", &self.path)
            .field("vault_id", &self.file.vault_id)
            .field("generation", &self.file.generation)
            .finish_non_exhaustive()
    }
}

impl SealedVault {
    /// Reads and verifies the vault file at `path`; needs no secret and takes no lock.
    pub fn read(path: &Path) -> Result<Self, VaultError> {
        let bytes = storage::read(path)?;
        let decoded = VaultFile::decode(&bytes).map_err(|e| point_to_backup(e, path))?;
        Ok(Self {
            path: path.to_path_buf(),
            file: decoded.file,
            bytes,
            ciphertext: decoded.ciphertext,
        })
    }

    /// Returns the format version, vault id, generation and slots.
    pub fn info(&self) -> VaultInfo {
        VaultInfo::of(&self.file)
    }

    fn decrypt_here(
        &self,
        unlock: &Unlock,
        options: &VaultOptions,
    ) -> Result<Decrypted, VaultError> {
        decrypt_file(
            self.file.clone(),
            self.ciphertext.get(&self.bytes),
            unlock,
            options.key_store.as_ref(),
        )
        .map_err(|e| point_to_backup(e, &self.path))
    }

    /// Decrypts the content without taking the lock: a snapshot for display that cannot be
    /// saved. Can be called again with another [`Unlock`] after a failure.
    pub fn decrypt(
        &self,
        unlock: &Unlock,
        options: &VaultOptions,
    ) -> Result<VaultContent, VaultError> {
        self.decrypt_here(unlock, options).map(|d| d.content)
    }

    /// Like [`SealedVault::decrypt`], with only the accounts [`query::matching`] returns for
    /// `query`, in vault order (push accounts and settings in full), for a one-shot reader
    /// (`tessera code QUERY`): it decrypts the file where it was read, so it takes the sealed
    /// vault. The content is checked as by a full decrypt; the other accounts are read through
    /// without being built, so finding one account in a large vault costs little more than
    /// decrypting it.
    pub fn decrypt_matching(
        self,
        unlock: &Unlock,
        options: &VaultOptions,
        query: &str,
    ) -> Result<VaultContent, VaultError> {
        let Self { path, bytes, file, mut ciphertext } = self;
        let wanted = query::Query::new(query);
        let keep = |id: &[u8], issuer: &[u8], account: &[u8]| wanted.admits(id, issuer, account);
        let (master_key, _) = unwrap_master_key(&file, unlock, options.key_store.as_ref())
            .map_err(|e| point_to_backup(e, &path))?;
        // Wiped on drop: it holds the plaintext once decrypted.
        let mut bytes = Zeroizing::new(bytes);
        let buffer = ciphertext.get_mut(&mut bytes);
        let mut content = decrypt_in_place(&file, buffer, &master_key, Some(&keep))
            .map_err(|e| point_to_backup(e, &path))?;
        // What `keep` admitted is a superset (an id match wins alone): the one rule decides.
        let found = query::matching(&content.entries, query);
        let entries = std::mem::take(&mut content.entries).into_iter().enumerate();
        content.entries = entries.filter(|(i, _)| found.contains(i)).map(|(_, e)| e).collect();
        Ok(content)
    }

    /// Unlocks and takes the exclusive lock for the life of the returned [`Vault`]. Can be
    /// called again with another [`Unlock`] after a failure.
    ///
    /// A wrong password or a damaged file leaves the directory exactly as it was (not even a
    /// new lock file): the slot is opened before the lock is taken. If another process saved
    /// between [`SealedVault::read`] and the lock, the current file is decrypted instead.
    pub fn open(&self, unlock: &Unlock, options: VaultOptions) -> Result<Vault, VaultError> {
        let path = self.path.as_path();
        let decrypted = self.decrypt_here(unlock, &options)?;
        let lock = FileLock::acquire(path, options.lock_wait)?;
        let current = storage::read(path)?;
        let decrypted = if current == self.bytes {
            decrypted
        } else {
            // Another process saved meanwhile, and may have rotated the master key (a slot
            // change): unlock the current file from scratch.
            decrypt(&current, unlock, options.key_store.as_ref())
                .map_err(|e| point_to_backup(e, path))?
        };
        Ok(Vault::from_decrypted(path.to_path_buf(), decrypted, options, lock))
    }
}

fn unwrap_master_key(
    file: &VaultFile,
    unlock: &Unlock,
    key_store: &dyn KeyStore,
) -> Result<(Key, SlotKeys), VaultError> {
    let no_slot = |detail: &str| VaultError::NoUsableSlot { detail: detail.to_owned() };
    match unlock {
        Unlock::Password(password) => {
            let (id, kdf, nonce, wrapped_key) = format::password_slot(&file.slots)
                .ok_or_else(|| no_slot("this vault has no password; unlock it with the keyring"))?;
            let slot_key = format::derive_key(password, kdf)?;
            let aad = format::slot_aad(&file.vault_id, id);
            let master = format::open_key(&slot_key, &aad, nonce, wrapped_key)
                .map_err(|e| slot_error(e, VaultError::WrongPassword))?;
            Ok((master, SlotKeys { password: Some(slot_key), keyring: None }))
        }
        Unlock::Keyring => {
            let (id, user, nonce, wrapped_key) = file
                .slots
                .iter()
                .find_map(|slot| match slot {
                    Slot::Keyring { id, user, nonce, wrapped_key, .. } => {
                        Some((id, user, nonce, wrapped_key))
                    }
                    Slot::Password { .. } => None,
                })
                .ok_or_else(|| {
                    no_slot("this vault is not stored in the keyring; use the password")
                })?;
            let stored = key_store
                .load(user)
                .map_err(|e| VaultError::KeyringUnavailable { detail: e.to_string() })?;
            let slot_key: [u8; format::KEY_LEN] =
                stored.as_slice().try_into().map_err(|_| VaultError::KeyringUnavailable {
                    detail: "the keyring holds a key of the wrong length for this vault".into(),
                })?;
            let slot_key = Zeroizing::new(slot_key);
            let aad = format::slot_aad(&file.vault_id, id);
            let master = format::open_key(&slot_key, &aad, nonce, wrapped_key).map_err(|e| {
                slot_error(
                    e,
                    VaultError::KeyringUnavailable {
                        detail: "the keyring's key for this vault does not open it (stale entry?)"
                            .into(),
                    },
                )
            })?;
            Ok((master, SlotKeys { password: None, keyring: Some(slot_key) }))
        }
    }
}

fn slot_error(error: OpenError, rejected: VaultError) -> VaultError {
    match error {
        OpenError::Malformed(detail) => {
            format::damaged(format!("a key slot is malformed: {detail}"))
        }
        OpenError::Rejected => rejected,
    }
}

/// Checks the header MAC under `master_key`, then decrypts and decodes the content.
pub(super) fn decrypt_content(
    file: &VaultFile,
    ciphertext: &[u8],
    master_key: &Key,
) -> Result<VaultContent, VaultError> {
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    decrypt_in_place(file, &mut buffer, master_key, None)
}

/// Checks the header MAC under `master_key`, decrypts `buffer` (the ciphertext) where it
/// lies and decodes it, building only the accounts `keep` admits.
fn decrypt_in_place(
    file: &VaultFile,
    buffer: &mut [u8],
    master_key: &Key,
    keep: content::Keep<'_>,
) -> Result<VaultContent, VaultError> {
    file.verify_mac(master_key)?;
    let plain = format::open_in_place(master_key, &file.content_aad(), &file.content_nonce, buffer)
        .map_err(|e| match e {
            OpenError::Malformed(detail) => {
                format::damaged(format!("the content is malformed: {detail}"))
            }
            OpenError::Rejected => {
                format::damaged("the content does not authenticate (altered or corrupted)")
            }
        })?;
    content::decode_where(file.version, plain, keep)
}
