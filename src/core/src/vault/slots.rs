//! Changing how a vault is unlocked: the password slot, the keyring slot, the rules that keep
//! at least one durable way in, and master-key rotation.
//!
//! # Every slot change rotates the master key
//!
//! A slot only wraps the master key. If a password change merely re-wrapped the same key,
//! anyone who knew the old password and kept any old copy of the file (the `.bak`, a sync
//! or disk backup) could unwrap the key from the old slot and read every later save, or
//! paste the old slot into today's file. So every change (new password, password removed,
//! keyring on or off) draws a new master key, re-encrypts the content under it, wraps it for
//! every slot that remains, and saves without keeping a `.bak` of the previous generation
//! (which the old slots still open). The version-3 header MAC (see `format`) makes a slot
//! pasted from an old copy fail loudly instead of being tried.
//!
//! Re-wrapping a slot that stays needs that slot's key: the keyring's comes from the secret
//! store; the password slot's Argon2id output is remembered from the password unlock (or a
//! previous change) and otherwise asked for ([`VaultError::PasswordNeeded`], then
//! [`Vault::confirm_password`]).

use zeroize::Zeroizing;

use super::format::{self, Key, Slot, StoredKdf};
use super::storage;
use super::{KEYRING_SERVICE, KdfParams, KeyStoreError, Stored, Vault, VaultError};

/// The slots a vault will have after a change, with the key each one is wrapped under.
struct Plan {
    password: Option<(StoredKdf, Key)>,
    keyring: Option<Key>,
}

impl Vault {
    /// Sets, replaces (`Some`) or removes (`None`) the password slot, rotating the master key,
    /// then saves.
    ///
    /// Removing the password fails with [`VaultError::NoUsableSlot`] if no other slot remains.
    pub fn set_password(&mut self, password: Option<Zeroizing<String>>) -> Result<(), VaultError> {
        self.set_password_with(password, KdfParams::default())
    }

    /// Like [`Vault::set_password`] with explicit Argon2id parameters.
    pub fn set_password_with(
        &mut self,
        password: Option<Zeroizing<String>>,
        params: KdfParams,
    ) -> Result<(), VaultError> {
        let keyring = if self.has_keyring_slot() { Some(self.keyring_key()?) } else { None };
        match password {
            Some(password) => {
                let kdf = format::new_kdf(params)?;
                let key = format::derive_key(&password, &kdf)?;
                self.rekey(Plan { password: Some((kdf, key)), keyring })
            }
            None => {
                if keyring.is_none() {
                    return Err(VaultError::NoUsableSlot {
                        detail: "removing the password would leave no way to unlock the vault"
                            .into(),
                    });
                }
                // Only the keyring remains: make sure its key sits in a store that survives a
                // reboot. Storing the same key again tells us where it lands (and moves it to
                // the Secret Service if that answers now).
                let stored = self.restore_keyring_key()?;
                check_durable(Some(&stored), false)?;
                self.rekey(Plan { password: None, keyring })
            }
        }
    }

    /// Adds (`true`) or removes (`false`) the keyring slot, rotating the master key, then
    /// saves. Enabling it again replaces the key in the secret store.
    ///
    /// Enabling fails with [`VaultError::KeyringUnavailable`] if no store answers and with
    /// [`VaultError::KeyringNotDurable`] if only keyutils answers and there is no password.
    /// Either way fails with [`VaultError::PasswordNeeded`] when a password slot stays and
    /// this process does not know its key (see [`Vault::confirm_password`]).
    pub fn enable_keyring(&mut self, enable: bool) -> Result<(), VaultError> {
        if !enable && !self.has_keyring_slot() {
            return Ok(());
        }
        let password = self.password_plan()?;
        if !enable {
            if password.is_none() {
                return Err(VaultError::NoUsableSlot {
                    detail: "removing the keyring would leave no way to unlock the vault".into(),
                });
            }
            self.rekey(Plan { password, keyring: None })?;
            // The file no longer refers to the key; a failure to delete it only leaves an
            // unused secret behind, so it is not reported as an error.
            let _ = self.options.key_store.delete(&self.vault_id);
            return Ok(());
        }
        let previous = self.options.key_store.load(&self.vault_id).ok();
        let key = format::random_key()?;
        let stored = self
            .options
            .key_store
            .store(&self.vault_id, key.as_ref())
            .map_err(|e| VaultError::KeyringUnavailable { detail: e.to_string() })?;
        let result = check_durable(Some(&stored), password.is_some())
            .and_then(|()| self.rekey(Plan { password, keyring: Some(key) }));
        if result.is_err() {
            // Put the store back as it was, so that the unchanged file still opens.
            let _ = match previous {
                Some(old) => self.options.key_store.store(&self.vault_id, &old).map(|_| ()),
                None => self.options.key_store.delete(&self.vault_id),
            };
        }
        result
    }

    /// Checks `password` against the password slot and, if it opens it, remembers the slot's
    /// key so that a following slot change can keep the password slot (needed after a
    /// keyring unlock). Costs one Argon2id derivation.
    pub fn confirm_password(&mut self, password: &str) -> Result<(), VaultError> {
        let (id, kdf, nonce, wrapped_key) =
            format::password_slot(&self.slots).ok_or_else(|| VaultError::NoUsableSlot {
                detail: "this vault has no password".into(),
            })?;
        let key = format::derive_key(password, kdf)?;
        let aad = format::slot_aad(&self.vault_id, id);
        match format::open_key(&key, &aad, nonce, wrapped_key) {
            Ok(master) if ring_eq(master.as_ref(), self.master_key.as_ref()) => {
                self.slot_keys.password = Some(key);
                Ok(())
            }
            _ => Err(VaultError::WrongPassword),
        }
    }

    /// Returns true if `password` opens this vault's password slot (for re-authentication
    /// before revealing a secret). Costs one Argon2id derivation.
    pub fn verify_password(&self, password: &str) -> bool {
        self.slots.iter().any(|slot| match slot {
            Slot::Password { id, kdf, nonce, wrapped_key } => {
                let aad = format::slot_aad(&self.vault_id, id);
                format::derive_key(password, kdf)
                    .ok()
                    .and_then(|k| format::open_key(&k, &aad, nonce, wrapped_key).ok())
                    .is_some_and(|unwrapped| ring_eq(unwrapped.as_ref(), self.master_key.as_ref()))
            }
            Slot::Keyring { .. } => false,
        })
    }

    /// Checks `password` against the vault's password slot (one Argon2id derivation) and
    /// returns the proof an approval of a password-protected push account needs (see
    /// [`crate::push::PushSession::answer`]). A vault without a password slot cannot give
    /// one: [`VaultError::NoUsableSlot`] says to add a password.
    pub fn prove_password(&self, password: &str) -> Result<crate::push::PasswordProof, VaultError> {
        if !self.slots.iter().any(|s| matches!(s, Slot::Password { .. })) {
            return Err(VaultError::NoUsableSlot {
                detail: "this vault has no password to confirm the approval with; add one \
                         (`tessera password`, or Settings)"
                    .into(),
            });
        }
        if self.verify_password(password) {
            Ok(crate::push::PasswordProof::checked())
        } else {
            Err(VaultError::WrongPassword)
        }
    }

    fn has_keyring_slot(&self) -> bool {
        self.slots.iter().any(|s| matches!(s, Slot::Keyring { .. }))
    }

    /// The password slot as it stays through a change: its stored KDF and known key.
    fn password_plan(&self) -> Result<Option<(StoredKdf, Key)>, VaultError> {
        let Some(kdf) = self.slots.iter().find_map(|slot| match slot {
            Slot::Password { kdf, .. } => Some(kdf.clone()),
            Slot::Keyring { .. } => None,
        }) else {
            return Ok(None);
        };
        let key = self.slot_keys.password.as_ref().ok_or(VaultError::PasswordNeeded)?;
        Ok(Some((kdf, Zeroizing::new(**key))))
    }

    /// The keyring slot's key: remembered from the unlock, else loaded from the store.
    fn keyring_key(&self) -> Result<Key, VaultError> {
        if let Some(key) = &self.slot_keys.keyring {
            return Ok(Zeroizing::new(**key));
        }
        let stored = self
            .options
            .key_store
            .load(&self.vault_id)
            .map_err(|e| VaultError::KeyringUnavailable { detail: e.to_string() })?;
        let key: [u8; format::KEY_LEN] =
            stored.as_slice().try_into().map_err(|_| VaultError::KeyringUnavailable {
                detail: "the keyring holds a key of the wrong length for this vault".into(),
            })?;
        Ok(Zeroizing::new(key))
    }

    /// Draws a new master key, wraps it for the planned slots and saves, dropping the `.bak`
    /// (see the module docs). On error the vault, in memory and on disk, is as before.
    fn rekey(&mut self, plan: Plan) -> Result<(), VaultError> {
        let master_key = format::random_key()?;
        let mut slots = Vec::new();
        if let Some((kdf, key)) = &plan.password {
            let (id, sealed) = self.wrap(key, &master_key)?;
            slots.push(Slot::Password {
                id,
                kdf: kdf.clone(),
                nonce: sealed.nonce,
                wrapped_key: sealed.ciphertext,
            });
        }
        if let Some(key) = &plan.keyring {
            let (id, sealed) = self.wrap(key, &master_key)?;
            slots.push(Slot::Keyring {
                id,
                service: KEYRING_SERVICE.into(),
                user: self.vault_id.clone(),
                nonce: sealed.nonce,
                wrapped_key: sealed.ciphertext,
            });
        }
        let old_master = std::mem::replace(&mut self.master_key, master_key);
        let old_slots = std::mem::replace(&mut self.slots, slots);
        if let Err(e) = self.save_with(storage::Previous::Drop) {
            self.master_key = old_master;
            self.slots = old_slots;
            return Err(e);
        }
        self.slot_keys.password = plan.password.map(|(_, key)| key);
        self.slot_keys.keyring = plan.keyring;
        Ok(())
    }

    /// Seals `master_key` under `slot_key` for a new slot; returns the slot's id (part of the
    /// sealing's associated data) and the sealed key.
    fn wrap(
        &self,
        slot_key: &[u8; format::KEY_LEN],
        master_key: &[u8; format::KEY_LEN],
    ) -> Result<(String, format::Sealed), VaultError> {
        let id = format::random_uuid()?;
        let sealed = format::seal(slot_key, &format::slot_aad(&self.vault_id, &id), master_key)?;
        Ok((id, sealed))
    }

    /// Adds a password slot for the current master key (creating a vault).
    pub(super) fn put_password_slot(
        &mut self,
        password: &str,
        params: KdfParams,
    ) -> Result<(), VaultError> {
        let kdf = format::new_kdf(params)?;
        let slot_key = format::derive_key(password, &kdf)?;
        let (id, sealed) = self.wrap(&slot_key, &self.master_key)?;
        self.slots.retain(|s| !matches!(s, Slot::Password { .. }));
        self.slots.push(Slot::Password {
            id,
            kdf,
            nonce: sealed.nonce,
            wrapped_key: sealed.ciphertext,
        });
        self.slot_keys.password = Some(slot_key);
        Ok(())
    }

    /// Adds a keyring slot for the current master key (creating a vault), storing a new key.
    pub(super) fn put_keyring_slot(&mut self) -> Result<Stored, VaultError> {
        let slot_key = format::random_key()?;
        let stored = self
            .options
            .key_store
            .store(&self.vault_id, slot_key.as_ref())
            .map_err(|e| VaultError::KeyringUnavailable { detail: e.to_string() })?;
        let (id, sealed) = self.wrap(&slot_key, &self.master_key)?;
        self.slots.retain(|s| !matches!(s, Slot::Keyring { .. }));
        self.slots.push(Slot::Keyring {
            id,
            service: KEYRING_SERVICE.into(),
            user: self.vault_id.clone(),
            nonce: sealed.nonce,
            wrapped_key: sealed.ciphertext,
        });
        self.slot_keys.keyring = Some(slot_key);
        Ok(stored)
    }

    /// Stores the keyring slot's key again and reports where it landed.
    fn restore_keyring_key(&self) -> Result<Stored, VaultError> {
        let store = self.options.key_store.as_ref();
        let unavailable =
            |e: KeyStoreError| VaultError::KeyringUnavailable { detail: e.to_string() };
        let key = self.keyring_key()?;
        store.store(&self.vault_id, key.as_ref()).map_err(unavailable)
    }

    /// Refuses a keyring slot in a store that forgets keys at reboot unless a password exists
    /// (creating a vault).
    pub(super) fn check_durable(&self, stored: Option<&Stored>) -> Result<(), VaultError> {
        check_durable(stored, self.slots.iter().any(|s| matches!(s, Slot::Password { .. })))
    }
}

/// Refuses a keyring slot in a store that forgets keys at reboot unless a password slot
/// exists beside it.
fn check_durable(stored: Option<&Stored>, with_password: bool) -> Result<(), VaultError> {
    match stored {
        Some(stored) if !stored.durable && !with_password => {
            Err(VaultError::KeyringNotDurable { store: stored.store.clone() })
        }
        _ => Ok(()),
    }
}

/// Compares two keys without an early exit.
fn ring_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
