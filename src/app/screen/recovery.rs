//! The recovery-codes screen: one account's codes, counted without proof, shown only after
//! the password is entered again (see `model::recovery` for the rule), marked used, copied
//! (cleared after the clipboard delay), and added by paste. Opened from the details screen.

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use tessera_core::account::Account;
use tessera_core::vault::recovery::{RecoveryError, RevealCheck};
use zeroize::Zeroizing;

use super::int;
use crate::model::recovery::{AddError, RevealError};
use crate::model::{Event, Model, View};
use crate::ui::{AppWindow, RecoveryAdapter, RecoveryProblem, RecoveryRow};

/// Fills the screen for the selected account: title, counts, and the codes if revealed.
fn fill(ui: &AppWindow, model: &Model) {
    let adapter = ui.global::<RecoveryAdapter>();
    let Some(id) = model.state().selected.clone() else { return };
    let title = model.state().entries().iter().find(|e| e.id == id).map(Account::label);
    let Some(title) = title else { return };
    let (total, unused) = model.recovery_counts(&id).unwrap_or_default();
    adapter.set_title(title.into());
    adapter.set_total(int(total));
    adapter.set_unused(int(unused));
    adapter.set_has_password(model.recovery_check() != Some(RevealCheck::Confirmation));
    let rows = model.recovery_codes(&id);
    adapter.set_revealed(rows.is_some());
    let rows: Vec<RecoveryRow> = rows
        .unwrap_or_default()
        .iter()
        .map(|r| RecoveryRow {
            number: int(r.number),
            code: SharedString::from(r.code.as_str()),
            used: r.used,
        })
        .collect();
    adapter.set_codes(ModelRc::new(VecModel::from(rows)));
}

/// Forgets everything on show (leaving the screen, another account, locking).
fn clear(ui: &AppWindow) {
    let adapter = ui.global::<RecoveryAdapter>();
    adapter.set_revealed(false);
    adapter.set_busy(false);
    adapter.set_wrong_password(false);
    adapter.set_codes(ModelRc::default());
    adapter.set_pasted(SharedString::new());
    adapter.set_problem(RecoveryProblem::None);
    adapter.set_added(-1);
    adapter.set_repeated(0);
}

fn selected(model: &Model) -> Option<String> {
    model.state().selected.clone()
}

/// Wires the screen (and the details screen's "Recovery codes" button that opens it).
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let adapter = window.global::<RecoveryAdapter>();

    let (m, handle) = (model.downgrade(), window.as_weak());
    adapter.on_open(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        model.hide_recovery();
        clear(&ui);
        fill(&ui, &model);
        model.show(View::Recovery);
    });

    let (m, handle) = (model.downgrade(), window.as_weak());
    adapter.on_reveal(move |password| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        let Some(id) = selected(&model) else { return };
        let adapter = ui.global::<RecoveryAdapter>();
        adapter.set_wrong_password(false);
        adapter.set_busy(true);
        let password = (!password.is_empty()).then(|| Zeroizing::new(password.to_string()));
        let handle = ui.as_weak();
        model.reveal_recovery(&id, password, move |model, result| {
            let Some(ui) = handle.upgrade() else { return };
            let adapter = ui.global::<RecoveryAdapter>();
            adapter.set_busy(false);
            adapter.set_wrong_password(result == Err(RevealError::WrongPassword));
            fill(&ui, model);
        });
    });

    let (m, handle) = (model.downgrade(), window.as_weak());
    adapter.on_add(move |pasted| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        let Some(id) = selected(&model) else { return };
        let adapter = ui.global::<RecoveryAdapter>();
        // The paste is a secret: the field is emptied whatever happens to it.
        let pasted = Zeroizing::new(pasted.to_string());
        match model.add_recovery_codes(&id, &pasted) {
            Ok(added) => {
                adapter.set_pasted(SharedString::new());
                adapter.set_problem(RecoveryProblem::None);
                adapter.set_added(int(added.added));
                adapter.set_repeated(int(added.repeated));
            }
            Err(error) => {
                let (problem, line) = match error {
                    AddError::Refused(RecoveryError::Empty) => (RecoveryProblem::Empty, 0),
                    AddError::Refused(RecoveryError::TooLong { line, .. }) => {
                        (RecoveryProblem::TooLong, line)
                    }
                    AddError::Refused(RecoveryError::ControlCharacter { line, .. }) => {
                        (RecoveryProblem::ControlCharacter, line)
                    }
                    AddError::Refused(RecoveryError::TooMany { .. }) => {
                        (RecoveryProblem::TooMany, 0)
                    }
                    AddError::Refused(RecoveryError::NoSuchCode { .. }) | AddError::NotSaved => {
                        (RecoveryProblem::NotSaved, 0)
                    }
                };
                adapter.set_problem(problem);
                adapter.set_problem_line(int(line));
                adapter.set_added(-1);
            }
        }
        fill(&ui, &model);
    });

    let (m, handle) = (model.downgrade(), window.as_weak());
    adapter.on_mark(move |number, used| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        let Some(id) = selected(&model) else { return };
        if let Ok(number) = usize::try_from(number) {
            model.mark_recovery_code(&id, number, used);
        }
        fill(&ui, &model);
    });

    let m = model.downgrade();
    adapter.on_copy(move |number| {
        let Some(model) = m.upgrade() else { return };
        let Some(id) = selected(&model) else { return };
        if let Ok(number) = usize::try_from(number) {
            model.copy_recovery_code(&id, number);
        }
    });

    let (m, handle) = (model.downgrade(), window.as_weak());
    adapter.on_close(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.hide_recovery();
        clear(&ui);
        let back = if model.state().selected.is_some() { View::Details } else { View::Accounts };
        model.show(back);
    });

    let handle = window.as_weak();
    model.subscribe(move |model, event| {
        let Some(ui) = handle.upgrade() else { return };
        match event {
            Event::Locked => clear(&ui),
            // Any other screen shown hides the codes (they are revealed for this screen only).
            Event::Show(view)
                if *view != View::Recovery && ui.global::<RecoveryAdapter>().get_revealed() =>
            {
                model.hide_recovery();
                clear(&ui);
            }
            _ => {}
        }
    });
}
