//! An account's recovery codes as the app shows and changes them, over the core's rule
//! (`tessera_core::vault::recovery`: parsing a paste, limits, marking used, who must prove
//! what before codes are shown).
//!
//! Codes are shown only to the account they were revealed for, after the vault password was
//! entered again ([`RevealCheck::Password`], checked off the UI thread with the core's
//! `verify_password`, one key derivation), or after an explicit confirmation when the OS
//! keyring alone protects the vault ([`RevealCheck::Confirmation`]: there is no password to
//! type; the unlocked desktop session is the proof, as for showing an account's QR code).
//! Locking, leaving the screen or opening another account hides them again.
//!
//! Copying a code puts it on the clipboard for the user's clipboard delay; when the delay is
//! "never" (0), a recovery code is still cleared after [`RECOVERY_CLIPBOARD_SECONDS`]: it stays
//! valid for years, unlike a one-time code.

use tessera_core::vault::recovery::{Added, RecoveryError, RevealCheck};
use zeroize::Zeroizing;

use super::{Model, Notice};

/// How long a copied recovery code stays on the clipboard when the user's delay is "never".
pub const RECOVERY_CLIPBOARD_SECONDS: u64 = 30;

/// One code as the screen lists it.
pub struct CodeRow {
    /// 1-based, as the command line numbers them.
    pub number: usize,
    /// The code.
    pub code: Zeroizing<String>,
    /// Marked used.
    pub used: bool,
}

/// Why codes were not shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevealError {
    /// The password does not open the vault's password slot.
    WrongPassword,
    /// The vault is locked or the account is gone.
    Unavailable,
}

/// Why a paste was not added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddError {
    /// The core refused the paste (nothing was saved).
    Refused(RecoveryError),
    /// The save failed (the vault is as it was; the toast says why).
    NotSaved,
}

impl Model {
    /// Returns what showing recovery codes asks of the user (`None` while locked).
    pub fn recovery_check(&self) -> Option<RevealCheck> {
        self.state().vault.as_ref().map(super::vault::Unlocked::reveal_check)
    }

    /// Returns how many codes account `id` has and how many are not used (no code is read).
    pub fn recovery_counts(&self, id: &str) -> Option<(usize, usize)> {
        let state = self.state();
        let entry = state.entries().iter().find(|e| e.id == id)?;
        Some((entry.recovery.len(), entry.unused_recovery_codes()))
    }

    /// Returns true while account `id`'s codes are revealed.
    pub fn recovery_revealed(&self, id: &str) -> bool {
        self.state().revealed_recovery.as_deref() == Some(id)
    }

    /// Reveals account `id`'s codes after the check [`Model::recovery_check`] names: the
    /// `password` for a vault with one (verified off the UI thread; a wrong or missing one
    /// reveals nothing), or the confirmation the call itself is for a keyring-only vault.
    pub fn reveal_recovery(
        &self,
        id: &str,
        password: Option<Zeroizing<String>>,
        done: impl FnOnce(&Self, Result<(), RevealError>) + 'static,
    ) {
        self.touch();
        self.hide_recovery();
        let known = self.state().entries().iter().any(|e| e.id == id);
        let (Some(check), true) = (self.recovery_check(), known) else {
            done(self, Err(RevealError::Unavailable));
            return;
        };
        let id = id.to_owned();
        match (check, password) {
            (RevealCheck::Confirmation, _) => {
                self.state_mut().revealed_recovery = Some(id);
                done(self, Ok(()));
            }
            (RevealCheck::Password, None) => done(self, Err(RevealError::WrongPassword)),
            (RevealCheck::Password, Some(password)) => self.with_vault_off_thread(
                move |vault| vault.verify_password(&password),
                move |model, ok| {
                    if !ok {
                        done(model, Err(RevealError::WrongPassword));
                    } else if model.state().entries().iter().any(|e| e.id == id) {
                        model.state_mut().revealed_recovery = Some(id);
                        done(model, Ok(()));
                    } else {
                        done(model, Err(RevealError::Unavailable));
                    }
                },
            ),
        }
    }

    /// Hides the revealed codes (leaving the screen, another account, locking).
    pub fn hide_recovery(&self) {
        self.state_mut().revealed_recovery = None;
    }

    /// Returns account `id`'s codes, only while they are revealed for it.
    pub fn recovery_codes(&self, id: &str) -> Option<Vec<CodeRow>> {
        let state = self.state();
        if state.revealed_recovery.as_deref() != Some(id) {
            return None;
        }
        let entry = state.entries().iter().find(|e| e.id == id)?;
        Some(
            entry
                .recovery
                .iter()
                .enumerate()
                .map(|(i, c)| CodeRow {
                    number: i + 1,
                    code: c.code.clone(),
                    used: c.used.is_some(),
                })
                .collect(),
        )
    }

    /// Adds the codes pasted for account `id` and saves. Adding shows nothing, so it needs no
    /// password. A refused paste or a failed save leaves the vault as it was.
    pub fn add_recovery_codes(&self, id: &str, pasted: &str) -> Result<Added, AddError> {
        self.touch();
        let now = self.now();
        // Tried on a copy first: a refused paste must not cost a save (or a backup).
        let mut entry = {
            let state = self.state();
            state.entries().iter().find(|e| e.id == id).cloned().ok_or(AddError::NotSaved)?
        };
        let added = entry.add_recovery_codes(pasted, now).map_err(AddError::Refused)?;
        let saved = self.commit(|content| {
            let target = content.entries.iter_mut().find(|e| e.id == id)?;
            target.recovery = std::mem::take(&mut entry.recovery);
            Some(())
        });
        match saved {
            Some(Some(())) => Ok(added),
            _ => Err(AddError::NotSaved),
        }
    }

    /// Marks code `number` (1-based) of account `id` used or unused again, and saves.
    pub fn mark_recovery_code(&self, id: &str, number: usize, used: bool) -> bool {
        self.touch();
        let now = self.now();
        // Checked first: a mark that cannot apply must not cost a save.
        let exists = self
            .state()
            .entries()
            .iter()
            .any(|e| e.id == id && (1..=e.recovery.len()).contains(&number));
        if !exists {
            return false;
        }
        let changed = self.commit(|content| {
            let entry = content.entries.iter_mut().find(|e| e.id == id)?;
            entry.mark_recovery_code(number, used, now).ok()
        });
        changed.flatten().is_some()
    }

    /// Copies code `number` (1-based) of account `id`, only while its codes are revealed; it
    /// is cleared after the clipboard delay (see the module docs for "never").
    pub fn copy_recovery_code(&self, id: &str, number: usize) {
        self.touch();
        let now = self.now();
        let outcome = {
            let mut state = self.state_mut();
            if state.revealed_recovery.as_deref() != Some(id) {
                return;
            }
            let Some(code) = state
                .entries()
                .iter()
                .find(|e| e.id == id)
                .and_then(|e| number.checked_sub(1).and_then(|i| e.recovery.get(i)))
                .map(|c| c.code.clone())
            else {
                return;
            };
            let delay = match u64::from(state.settings.clipboard_seconds) {
                0 => RECOVERY_CLIPBOARD_SECONDS,
                seconds => seconds,
            };
            let result = state.deps.clipboard.set_text(&code);
            if result.is_ok() {
                state.copied = Some((code, now + delay));
            }
            result
        };
        match outcome {
            Ok(()) => self.notice(Notice::Copied),
            Err(error) => self.notice(Notice::Error(error.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::sync::Arc;

    use tessera_core::otp::{OtpParams, Secret};
    use tessera_core::vault::{Entry, Unlock};
    use zeroize::Zeroizing;

    use super::*;
    use crate::model::testing::{TestClipboard, TestClock, model};
    use crate::model::vault::NewProtection;

    const PASSWORD: &str = "correct horse";

    struct Setup {
        home: tempfile::TempDir,
        model: Model,
        clock: Arc<TestClock>,
        board: TestClipboard,
        id: String,
    }

    /// A password vault with one account, "Visma".
    fn setup() -> Setup {
        let home = tempfile::tempdir().unwrap();
        let clock = Arc::new(TestClock(1_700_000_000.into()));
        let board = TestClipboard::default();
        let model = model(home.path(), Arc::clone(&clock), board.clone());
        model.create(NewProtection::Password(Zeroizing::new(PASSWORD.into())), |error| {
            assert!(error.is_none(), "{error:?}");
        });
        let secret = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        let entry = Entry::new("Visma".into(), "me".into(), OtpParams::totp(secret), 1);
        let id = entry.id.clone();
        model.commit(|c| c.entries.push(entry)).unwrap();
        Setup { home, model, clock, board, id }
    }

    impl Setup {
        fn vault_bytes(&self) -> Vec<u8> {
            std::fs::read(self.home.path().join("vault.json")).unwrap()
        }

        fn clipboard(&self) -> Option<String> {
            self.board.0.lock().unwrap().clone()
        }

        fn advance(&self, seconds: u64) {
            *self.clock.0.lock().unwrap() += seconds;
        }

        fn reveal(&self, password: Option<&str>) -> Option<Result<(), RevealError>> {
            let outcome = Rc::new(RefCell::new(None));
            let seen = Rc::clone(&outcome);
            let password = password.map(|p| Zeroizing::new(p.to_owned()));
            self.model
                .reveal_recovery(&self.id, password, move |_, r| *seen.borrow_mut() = Some(r));
            outcome.borrow_mut().take()
        }
    }

    fn texts(rows: &[CodeRow]) -> Vec<(usize, String, bool)> {
        rows.iter().map(|r| (r.number, r.code.to_string(), r.used)).collect()
    }

    #[test]
    fn codes_are_shown_only_after_the_right_password() {
        let setup = setup();
        let (model, id) = (&setup.model, setup.id.as_str());
        model.add_recovery_codes(id, "RC-ONE\nRC-TWO").unwrap();
        assert!(model.recovery_codes(id).is_none(), "adding reveals nothing");

        assert_eq!(setup.reveal(Some("wrong horse")), Some(Err(RevealError::WrongPassword)));
        assert!(model.recovery_codes(id).is_none(), "a wrong password shows nothing");
        assert_eq!(setup.reveal(None), Some(Err(RevealError::WrongPassword)));
        assert!(model.recovery_codes(id).is_none(), "no password shows nothing");

        assert_eq!(setup.reveal(Some(PASSWORD)), Some(Ok(())));
        let rows = model.recovery_codes(id).unwrap();
        assert_eq!(texts(&rows), [(1, "RC-ONE".into(), false), (2, "RC-TWO".into(), false)]);
        assert!(model.recovery_codes("another account").is_none());

        model.lock();
        model.unlock(Unlock::Password(Zeroizing::new(PASSWORD.into())));
        assert!(model.is_unlocked());
        assert!(model.recovery_codes(id).is_none(), "locking hides them again");
    }

    #[test]
    fn a_keyring_only_vault_reveals_on_confirmation() {
        let home = tempfile::tempdir().unwrap();
        let clock = Arc::new(TestClock(1_700_000_000.into()));
        let model = model(home.path(), clock, TestClipboard::default());
        model.create(NewProtection::Keyring, |error| assert!(error.is_none(), "{error:?}"));
        assert_eq!(model.recovery_check(), Some(RevealCheck::Confirmation));
        let secret = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        let entry = Entry::new("Visma".into(), "me".into(), OtpParams::totp(secret), 1);
        let id = entry.id.clone();
        model.commit(|c| c.entries.push(entry)).unwrap();
        model.add_recovery_codes(&id, "RC-ONE").unwrap();
        assert!(model.recovery_codes(&id).is_none());
        model.reveal_recovery(&id, None, |_, r| assert_eq!(r, Ok(())));
        assert_eq!(model.recovery_codes(&id).unwrap().len(), 1);
    }

    #[test]
    fn a_refused_paste_saves_nothing_and_marks_survive_a_reopen() {
        let setup = setup();
        let (model, id) = (&setup.model, setup.id.as_str());
        let before = setup.vault_bytes();
        let refused = model.add_recovery_codes(id, "  \n\t\n");
        assert_eq!(refused, Err(AddError::Refused(RecoveryError::Empty)));
        assert_eq!(setup.vault_bytes(), before, "the file is unchanged");

        assert_eq!(model.add_recovery_codes(id, "RC-ONE\nRC-TWO").unwrap().added, 2);
        assert!(model.mark_recovery_code(id, 2, true));
        let before = setup.vault_bytes();
        assert!(!model.mark_recovery_code(id, 3, true), "no third code");
        assert_eq!(setup.vault_bytes(), before, "a refused mark saves nothing");
        assert_eq!(model.recovery_counts(id), Some((2, 1)));
        model.lock();
        model.unlock(Unlock::Password(Zeroizing::new(PASSWORD.into())));
        assert_eq!(model.recovery_counts(id), Some((2, 1)), "saved in the vault");
    }

    #[test]
    fn a_copied_code_leaves_the_clipboard_after_the_delay_even_when_it_is_never() {
        let setup = setup();
        let (model, id) = (&setup.model, setup.id.as_str());
        model.add_recovery_codes(id, "RC-ONE").unwrap();
        model.copy_recovery_code(id, 1);
        assert_eq!(setup.clipboard(), None, "not revealed: nothing copied");

        let mut settings = model.state().settings.clone();
        settings.clipboard_seconds = 0;
        model.set_settings(settings);
        assert_eq!(setup.reveal(Some(PASSWORD)), Some(Ok(())));
        model.copy_recovery_code(id, 1);
        assert_eq!(setup.clipboard().as_deref(), Some("RC-ONE"));
        setup.advance(RECOVERY_CLIPBOARD_SECONDS - 1);
        model.tick();
        assert_eq!(setup.clipboard().as_deref(), Some("RC-ONE"));
        setup.advance(1);
        model.tick();
        assert_eq!(setup.clipboard(), None, "cleared although the delay is never");
    }
}
