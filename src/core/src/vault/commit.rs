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
        let before = self.content().clone();
        let result = change(self.content_mut());
        match self.save() {
            Ok(()) => Ok(result),
            Err(err) => {
                *self.content_mut() = before;
                Err(err)
            }
        }
    }
}
