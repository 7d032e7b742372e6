//! [`Vault::commit`]: change the content and save it as one step that either happens whole or
//! not at all.
//!
//! Every front end used to write its own "push, save, and on failure pop what was pushed"; the
//! copies drifted (some forgot the push account, some the history). A commit takes a snapshot,
//! lets the caller change the content, saves, and puts the snapshot back if the save fails, so
//! a failed operation never leaves the open vault different from the file.

use super::{Vault, VaultContent, VaultError};

impl Vault {
    /// Applies `change` to the content and saves; if the save fails, the content is restored
    /// to what it was before `change` ran and the error is returned.
    pub fn commit<T>(
        &mut self,
        change: impl FnOnce(&mut VaultContent) -> T,
    ) -> Result<T, VaultError> {
        self.commit_with(change, Self::save)
    }

    /// [`Vault::commit`] with the caller's save step (the front ends save and then write the
    /// automatic backup: `transfer::backup::save_and_back_up`).
    pub fn commit_with<T, E>(
        &mut self,
        change: impl FnOnce(&mut VaultContent) -> T,
        save: impl FnOnce(&mut Self) -> Result<(), E>,
    ) -> Result<T, E> {
        let before = self.content().clone();
        let result = change(self.content_mut());
        match save(self) {
            Ok(()) => Ok(result),
            Err(err) => {
                *self.content_mut() = before;
                Err(err)
            }
        }
    }
}
