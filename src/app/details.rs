//! Account details: rename, issuer, note, favourite, delete with confirmation.

use slint::ComponentHandle;
use tessera_core::otp::OtpKind;

use crate::state::{Shared, State};
use crate::{AppWindow, DetailsAdapter, Screen, Toast};

/// Shows the details of `id`.
pub(crate) fn open(state: &mut State, id: &str) {
    state.touch();
    let Some(ui) = state.ui() else { return };
    let Some(entry) = state.entries().iter().find(|e| e.id == id) else { return };
    let details = ui.global::<DetailsAdapter>();
    details.set_id(id.into());
    details.set_name(entry.account.as_str().into());
    details.set_issuer(entry.issuer.as_str().into());
    details.set_note(entry.note.as_str().into());
    details.set_favourite(entry.favourite);
    details.set_confirm_delete(false);
    let otp = &entry.otp;
    let kind = match otp.kind {
        OtpKind::Totp => format!("TOTP · {} · {} · {} s", otp.algorithm, otp.digits, otp.period),
        OtpKind::Hotp => format!("HOTP · {} · {} · #{}", otp.algorithm, otp.digits, otp.counter),
        OtpKind::Steam => "Steam Guard".to_owned(),
    };
    details.set_kind_text(kind.into());
    state.details_id = Some(id.to_owned());
    state.show(Screen::Details);
}

/// Empties the details form (on lock).
pub(crate) fn clear(ui: &AppWindow) {
    let details = ui.global::<DetailsAdapter>();
    details.set_id(slint::SharedString::new());
    details.set_name(slint::SharedString::new());
    details.set_issuer(slint::SharedString::new());
    details.set_note(slint::SharedString::new());
    details.set_confirm_delete(false);
}

/// Wires the details screen.
pub(crate) fn connect(window: &AppWindow, state: &Shared) {
    let details = window.global::<DetailsAdapter>();

    let s = state.clone();
    details.on_save(move || {
        let mut state = s.borrow_mut();
        state.touch();
        let Some(ui) = state.ui() else { return };
        let Some(id) = state.details_id.clone() else { return };
        let form = ui.global::<DetailsAdapter>();
        let Some(entry) = state.entry_mut(&id) else { return };
        entry.account = form.get_name().trim().to_owned();
        entry.issuer = form.get_issuer().trim().to_owned();
        entry.note = form.get_note().to_string();
        entry.favourite = form.get_favourite();
        if state.save() {
            state.refresh_rows();
            state.show(Screen::Accounts);
            state.toast(Toast::Saved, "");
        }
    });

    let s = state.clone();
    details.on_delete_confirmed(move || {
        let mut state = s.borrow_mut();
        state.touch();
        let Some(id) = state.details_id.take() else { return };
        let Some(vault) = state.vault.as_mut() else { return };
        let entries = vault.entries_mut();
        let Some(index) = entries.iter().position(|e| e.id == id) else { return };
        let removed = entries.remove(index);
        if state.save() {
            state.refresh_rows();
            state.show(Screen::Accounts);
            state.toast(Toast::Deleted, "");
        } else if let Some(vault) = state.vault.as_mut() {
            vault.entries_mut().insert(index, removed);
        }
        if let Some(ui) = state.ui() {
            ui.global::<DetailsAdapter>().set_confirm_delete(false);
        }
    });

    let s = state.clone();
    details.on_back(move || {
        let mut state = s.borrow_mut();
        state.details_id = None;
        state.show(Screen::Accounts);
    });
}
