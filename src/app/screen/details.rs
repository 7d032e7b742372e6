//! Account details: rename, issuer, note, favourite, delete with confirmation.

use slint::{ComponentHandle, SharedString};
use tessera_core::otp::OtpKind;

use crate::model::{Event, Model, Notice, View};
use crate::ui::{AccountsAdapter, AppWindow, DetailsAdapter};

/// Fills the form from the selected account.
fn fill(ui: &AppWindow, model: &Model) {
    let state = model.state();
    let Some(id) = state.selected.as_deref() else { return };
    let Some(entry) = state.entries().iter().find(|e| e.id == id) else { return };
    let details = ui.global::<DetailsAdapter>();
    details.set_id(id.into());
    details.set_name(entry.account.as_str().into());
    details.set_issuer(entry.issuer.as_str().into());
    details.set_note(entry.note.as_str().into());
    details.set_favourite(entry.favourite);
    details.set_recovery_count(super::int(entry.recovery.len()));
    details.set_confirm_delete(false);
    let otp = &entry.otp;
    let kind = match otp.kind {
        OtpKind::Totp => format!("TOTP · {} · {} · {} s", otp.algorithm, otp.digits, otp.period),
        OtpKind::Hotp => format!("HOTP · {} · {} · #{}", otp.algorithm, otp.digits, otp.counter),
        OtpKind::Steam => "Steam Guard".to_owned(),
    };
    details.set_kind_text(kind.into());
}

/// Empties the form (on lock: nothing typed survives).
fn clear(ui: &AppWindow) {
    let details = ui.global::<DetailsAdapter>();
    details.set_id(SharedString::new());
    details.set_name(SharedString::new());
    details.set_issuer(SharedString::new());
    details.set_note(SharedString::new());
    details.set_confirm_delete(false);
}

/// Wires the details screen (and the list's "details" button that opens it).
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let m = model.downgrade();
    let handle = window.as_weak();
    window.global::<AccountsAdapter>().on_details(move |id| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        let known = model.state().entries().iter().any(|e| e.id == id.as_str());
        if known {
            model.state_mut().selected = Some(id.to_string());
            fill(&ui, &model);
            model.show(View::Details);
        }
    });

    let details = window.global::<DetailsAdapter>();
    let m = model.downgrade();
    let handle = window.as_weak();
    details.on_save(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        let Some(id) = model.state().selected.clone() else { return };
        let form = ui.global::<DetailsAdapter>();
        let (account, issuer) =
            (form.get_name().trim().to_owned(), form.get_issuer().trim().to_owned());
        let (note, favourite) = (form.get_note().to_string(), form.get_favourite());
        let saved = model.commit(|content| {
            let Some(entry) = content.entries.iter_mut().find(|e| e.id == id) else { return false };
            (entry.account, entry.issuer, entry.note, entry.favourite) =
                (account, issuer, note, favourite);
            true
        });
        if saved == Some(true) {
            model.show(View::Accounts);
            model.notice(Notice::Saved(String::new()));
        }
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    details.on_delete_confirmed(move || {
        let Some(model) = m.upgrade() else { return };
        model.touch();
        let Some(id) = model.state_mut().selected.take() else { return };
        let deleted = model.commit(|content| {
            let before = content.entries.len();
            content.entries.retain(|e| e.id != id);
            before != content.entries.len()
        });
        if deleted == Some(true) {
            model.show(View::Accounts);
            model.notice(Notice::Deleted);
        }
        if let Some(ui) = handle.upgrade() {
            ui.global::<DetailsAdapter>().set_confirm_delete(false);
        }
    });

    let m = model.downgrade();
    details.on_back(move || {
        let Some(model) = m.upgrade() else { return };
        model.state_mut().selected = None;
        model.show(View::Accounts);
    });

    let handle = window.as_weak();
    model.subscribe(move |_, event| {
        if let (Event::Locked, Some(ui)) = (event, handle.upgrade()) {
            clear(&ui);
        }
    });
}
