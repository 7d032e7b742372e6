//! First run (create the vault) and unlock (password/PIN or keyring), showing the model's
//! unlock state: busy, why the last attempt failed, and the delay after failed attempts.

use slint::ComponentHandle;
use tessera_core::vault::Unlock;
use tessera_core::vault::policy::PasswordUse;
use zeroize::Zeroizing;

use super::{NewPasswordProblem, check_new_password, int, password_min};
use crate::model::vault::{NewProtection, VaultSummary};
use crate::model::{Event, Model, View};
use crate::ui::{AppWindow, CreateProblem, FirstRunAdapter, UnlockAdapter, UnlockProblem};

/// Shows the model's unlock state.
fn show(ui: &AppWindow, model: &Model) {
    let unlock = ui.global::<UnlockAdapter>();
    let state = model.state();
    let summary = state.summary.unwrap_or(VaultSummary { has_password: true, has_keyring: false });
    unlock.set_has_password(summary.has_password);
    unlock.set_has_keyring(summary.has_keyring);
    unlock.set_busy(state.unlock.busy);
    let (problem, detail) = match &state.unlock.problem {
        Some(error) => crate::notice::unlock_problem(error),
        None => (UnlockProblem::None, String::new()),
    };
    unlock.set_problem(problem);
    unlock.set_detail(detail.into());
    unlock.set_wait_seconds(int(state.attempts.wait_at(state.now())));
    unlock.set_waiting(if state.vault.is_none() { int(state.inbox.pending().len()) } else { 0 });
}

/// Wires the first-run and unlock screens.
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let unlock = window.global::<UnlockAdapter>();
    let m = model.downgrade();
    unlock.on_unlock(move |password| {
        if let Some(model) = m.upgrade() {
            model.unlock(Unlock::Password(Zeroizing::new(password.to_string())));
        }
    });
    let m = model.downgrade();
    unlock.on_unlock_keyring(move || {
        if let Some(model) = m.upgrade() {
            model.unlock(Unlock::Keyring);
        }
    });

    let first = window.global::<FirstRunAdapter>();
    let m = model.downgrade();
    let handle = window.as_weak();
    first.on_create(move |keyring, password, confirm| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        let first = ui.global::<FirstRunAdapter>();
        if !keyring {
            // The password is the vault's only slot: the core's full rule applies.
            let checked = check_new_password(&password, &confirm, PasswordUse::VaultAlone);
            if let Err(problem) = checked {
                first.set_problem(match problem {
                    NewPasswordProblem::TooShort => CreateProblem::PasswordTooShort,
                    NewPasswordProblem::NeedsLetters => CreateProblem::PasswordNeedsLetters,
                    NewPasswordProblem::Differ => CreateProblem::PasswordsDiffer,
                });
                return;
            }
        }
        first.set_problem(CreateProblem::None);
        first.set_busy(true);
        let protection = if keyring {
            NewProtection::Keyring
        } else {
            NewProtection::Password(Zeroizing::new(password.to_string()))
        };
        let handle = ui.as_weak();
        model.create(protection, move |error| {
            let Some(ui) = handle.upgrade() else { return };
            let first = ui.global::<FirstRunAdapter>();
            first.set_busy(false);
            if let Some(error) = error {
                first.set_problem(CreateProblem::Failed);
                first.set_detail(crate::notice::vault_detail(&error).into());
            }
        });
    });

    let handle = window.as_weak();
    model.subscribe(move |model, event| {
        let Some(ui) = handle.upgrade() else { return };
        match event {
            Event::UnlockChanged | Event::InboxChanged { .. } => show(&ui, model),
            Event::Show(View::FirstRun) => {
                let keyring = model.state().deps.vault.keyring_available();
                let first = ui.global::<FirstRunAdapter>();
                first.set_keyring_available(keyring);
                first.set_use_keyring(keyring);
                first.set_password_min(password_min(PasswordUse::VaultAlone));
            }
            _ => {}
        }
    });
}
