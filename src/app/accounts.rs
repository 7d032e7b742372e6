//! The accounts list: search, copy, HOTP next code, opening details, and the window-wide
//! actions in the top bar (add, settings, lock).

use slint::ComponentHandle;

use crate::state::Shared;
use crate::{AccountsAdapter, AppAdapter, AppWindow, Screen};

/// Wires the list's and the top bar's callbacks.
pub(crate) fn connect(window: &AppWindow, state: &Shared) {
    let accounts = window.global::<AccountsAdapter>();
    let app = window.global::<AppAdapter>();

    let s = state.clone();
    accounts.on_search_changed(move |text| {
        let mut state = s.borrow_mut();
        state.touch();
        state.search = text.to_string();
        state.refresh_rows();
    });

    let s = state.clone();
    accounts.on_copy(move |id| s.borrow_mut().copy(&id));

    let s = state.clone();
    accounts.on_next_code(move |id| {
        let mut state = s.borrow_mut();
        state.touch();
        let Some(entry) = state.entry_mut(&id) else { return };
        if entry.otp.advance().is_ok() && state.save() {
            let now = state.now();
            state.update_rolled_over(now);
        }
    });

    let s = state.clone();
    accounts.on_details(move |id| crate::details::open(&mut s.borrow_mut(), &id));

    let s = state.clone();
    app.on_add_account(move || {
        let state = s.borrow();
        if state.vault.is_some() {
            if let Some(ui) = state.ui() {
                crate::add_account::reset(&ui);
            }
            state.show(Screen::AddAccount);
        }
    });

    let s = state.clone();
    app.on_open_settings(move || {
        let mut state = s.borrow_mut();
        state.touch();
        crate::settings::open(&state);
    });

    let s = state.clone();
    app.on_lock(move || s.borrow_mut().lock());

    let s = state.clone();
    app.on_activity(move || s.borrow_mut().touch());
}
