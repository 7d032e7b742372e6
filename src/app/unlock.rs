//! First run (create the vault) and unlock (password/PIN or keyring), with a growing delay
//! after failed attempts that survives restarts. Key derivation runs off the UI thread.

use std::sync::Arc;

use slint::{ComponentHandle, SharedString};
use zeroize::Zeroizing;

use crate::state::{Shared, State, background};
use crate::store::{NewProtection, OpenVault, StoreError, UnlockWith};
use crate::{
    AppAdapter, AppWindow, CreateProblem, FirstRunAdapter, Screen, UnlockAdapter, UnlockProblem,
};

/// Shortest password or PIN accepted for a new vault.
pub(crate) const MIN_PASSWORD_CHARS: usize = 4;

/// Decides the first screen: create, unlock (possibly automatically), or a damaged-vault notice.
pub(crate) fn start(state: &Shared) {
    let (backend, password_file) = {
        let s = state.borrow();
        (Arc::clone(&s.deps.vault), s.deps.password_file.clone())
    };
    let mut s = state.borrow_mut();
    let Some(ui) = s.ui() else { return };
    ui.global::<AppAdapter>().set_unlocked(false);
    match backend.inspect() {
        Ok(None) => {
            let keyring = backend.keyring_available();
            let first = ui.global::<FirstRunAdapter>();
            first.set_keyring_available(keyring);
            first.set_use_keyring(keyring);
            s.show(Screen::FirstRun);
        }
        Ok(Some(summary)) => {
            s.summary = Some(summary);
            prepare(&s, &ui);
            s.show(Screen::Unlock);
            drop(s);
            if let Some(path) = password_file.filter(|_| summary.has_password) {
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        let password = text.trim_end_matches(['\n', '\r']).to_owned();
                        try_unlock(state, UnlockWith::Password(Zeroizing::new(password)));
                    }
                    Err(error) => {
                        let s = state.borrow();
                        show_problem(
                            &s,
                            UnlockProblem::Other,
                            &format!("{}: {error}", path.display()),
                        );
                    }
                }
            } else if summary.has_keyring && !summary.has_password {
                try_unlock(state, UnlockWith::Keyring);
            }
        }
        Err(error) => {
            s.summary = None;
            prepare(&s, &ui);
            s.show(Screen::Unlock);
            let (problem, detail) = problem_of(&error);
            show_problem(&s, problem, &detail);
        }
    }
}

/// Fills the unlock screen's slots and clears old messages.
pub(crate) fn prepare(state: &State, ui: &AppWindow) {
    let unlock = ui.global::<UnlockAdapter>();
    let summary = state
        .summary
        .unwrap_or(crate::store::VaultSummary { has_password: true, has_keyring: false });
    unlock.set_has_password(summary.has_password);
    unlock.set_has_keyring(summary.has_keyring);
    unlock.set_problem(UnlockProblem::None);
    unlock.set_detail(SharedString::new());
    unlock.set_busy(false);
    show_wait(state, ui);
}

/// Shows how long until the next attempt is allowed.
pub(crate) fn show_wait(state: &State, ui: &AppWindow) {
    let wait = state.attempts.wait_at(state.now());
    ui.global::<UnlockAdapter>().set_wait_seconds(i32::try_from(wait).unwrap_or(i32::MAX));
}

fn show_problem(state: &State, problem: UnlockProblem, detail: &str) {
    if let Some(ui) = state.ui() {
        let unlock = ui.global::<UnlockAdapter>();
        unlock.set_problem(problem);
        unlock.set_detail(detail.into());
    }
}

fn problem_of(error: &StoreError) -> (UnlockProblem, String) {
    match error {
        StoreError::WrongPassword => (UnlockProblem::WrongPassword, String::new()),
        StoreError::Damaged(detail) => (UnlockProblem::Damaged, detail.clone()),
        StoreError::NewerVersion => (UnlockProblem::NewerVersion, String::new()),
        StoreError::Keyring(detail) => (UnlockProblem::KeyringFailed, detail.clone()),
        StoreError::Other(detail) => (UnlockProblem::Other, detail.clone()),
    }
}

fn try_unlock(state: &Shared, how: UnlockWith) {
    let backend = {
        let mut s = state.borrow_mut();
        // The CLI counts its failures in the same record: pick them up.
        s.attempts = crate::state::Attempts::load(&s.deps.home);
        if s.attempts.wait_at(s.now()) > 0 {
            if let Some(ui) = s.ui() {
                show_wait(&s, &ui);
            }
            return;
        }
        if let Some(ui) = s.ui() {
            ui.global::<UnlockAdapter>().set_busy(true);
            ui.global::<UnlockAdapter>().set_problem(UnlockProblem::None);
        }
        Arc::clone(&s.deps.vault)
    };
    let with_password = matches!(how, UnlockWith::Password(_));
    background(
        state,
        move || backend.open(how),
        move |s: &mut State, result: Result<Box<dyn OpenVault>, StoreError>| {
            if let Some(ui) = s.ui() {
                ui.global::<UnlockAdapter>().set_busy(false);
            }
            match result {
                Ok(vault) => {
                    if s.attempts.failures > 0 {
                        s.attempts = s.attempts.after(true, s.now());
                        let _ = s.attempts.save(&s.deps.home);
                    }
                    s.opened(vault);
                }
                Err(error) => {
                    if with_password && error == StoreError::WrongPassword {
                        s.attempts = s.attempts.after(false, s.now());
                        // Losing the record only weakens the delay; the user still gets in.
                        let _ = s.attempts.save(&s.deps.home);
                    }
                    let (problem, detail) = problem_of(&error);
                    show_problem(s, problem, &detail);
                    if let Some(ui) = s.ui() {
                        show_wait(s, &ui);
                    }
                }
            }
        },
    );
}

/// Wires the first-run and unlock screens.
pub(crate) fn connect(window: &AppWindow, state: &Shared) {
    let unlock = window.global::<UnlockAdapter>();
    let s = state.clone();
    unlock.on_unlock(move |password| {
        try_unlock(&s, UnlockWith::Password(Zeroizing::new(password.to_string())));
    });
    let s = state.clone();
    unlock.on_unlock_keyring(move || try_unlock(&s, UnlockWith::Keyring));

    let first = window.global::<FirstRunAdapter>();
    let s = state.clone();
    first.on_create(move |keyring, password, confirm| {
        let backend = {
            let st = s.borrow();
            let Some(ui) = st.ui() else { return };
            let first = ui.global::<FirstRunAdapter>();
            if !keyring {
                let problem = if password.chars().count() < MIN_PASSWORD_CHARS {
                    CreateProblem::PasswordTooShort
                } else if password != confirm {
                    CreateProblem::PasswordsDiffer
                } else {
                    CreateProblem::None
                };
                first.set_problem(problem);
                if problem != CreateProblem::None {
                    return;
                }
            }
            first.set_problem(CreateProblem::None);
            first.set_busy(true);
            Arc::clone(&st.deps.vault)
        };
        let protection = if keyring {
            NewProtection::Keyring
        } else {
            NewProtection::Password(Zeroizing::new(password.to_string()))
        };
        background(
            &s,
            move || backend.create(protection),
            move |st: &mut State, result: Result<Box<dyn OpenVault>, StoreError>| {
                let Some(ui) = st.ui() else { return };
                let first = ui.global::<FirstRunAdapter>();
                first.set_busy(false);
                match result {
                    Ok(vault) => {
                        st.summary = Some(crate::store::VaultSummary {
                            has_password: !keyring,
                            has_keyring: keyring,
                        });
                        st.opened(vault);
                    }
                    Err(error) => {
                        first.set_problem(CreateProblem::Failed);
                        first.set_detail(error.to_string().into());
                    }
                }
            },
        );
    });
}
