//! Settings: language, theme, auto-lock, clipboard delay, about. Applied at once and saved.

use slint::ComponentHandle;

use zeroize::Zeroizing;

use crate::state::{Language, Settings, Shared, State, ThemeMode, background};
use crate::store::{OpenVault, StoreError};
use crate::{AppWindow, Screen, SecurityNotice, SettingsAdapter};

/// Copies `settings` into the settings screen and applies language and theme.
pub(crate) fn apply(settings: &Settings, ui: &AppWindow) {
    let adapter = ui.global::<SettingsAdapter>();
    adapter.set_language(match settings.language {
        Language::System => 0,
        Language::English => 1,
        Language::Dutch => 2,
    });
    adapter.set_theme(match settings.theme {
        ThemeMode::System => 0,
        ThemeMode::Light => 1,
        ThemeMode::Dark => 2,
    });
    adapter.set_auto_lock_minutes(i32::try_from(settings.auto_lock_minutes).unwrap_or(i32::MAX));
    adapter.set_clipboard_seconds(i32::try_from(settings.clipboard_seconds).unwrap_or(i32::MAX));
    // Only fails when the bundle lacks the language, which build.rs guarantees it has.
    let _ = slint::select_bundled_translation(settings.translation());
}

/// Shows the settings screen.
pub(crate) fn open(state: &State) {
    if let Some(ui) = state.ui() {
        apply(&state.settings, &ui);
        let adapter = ui.global::<SettingsAdapter>();
        adapter.set_vault_path(state.deps.vault.location().into());
        adapter.set_notice(SecurityNotice::None);
        adapter.set_keyring_available(state.deps.vault.keyring_available());
        show_protection(state, &ui);
    }
    state.show(Screen::Settings);
}

fn read(ui: &AppWindow, previous: &Settings) -> Settings {
    let adapter = ui.global::<SettingsAdapter>();
    let count = |v: i32| u32::try_from(v).unwrap_or(0);
    Settings {
        language: match adapter.get_language() {
            1 => Language::English,
            2 => Language::Dutch,
            _ => Language::System,
        },
        theme: match adapter.get_theme() {
            1 => ThemeMode::Light,
            2 => ThemeMode::Dark,
            _ => ThemeMode::System,
        },
        auto_lock_minutes: count(adapter.get_auto_lock_minutes()),
        clipboard_seconds: count(adapter.get_clipboard_seconds()),
        window_size: previous.window_size,
    }
}

fn show_protection(state: &State, ui: &AppWindow) {
    if let Some(vault) = state.vault.as_ref() {
        let summary = vault.summary();
        let adapter = ui.global::<SettingsAdapter>();
        adapter.set_has_password(summary.has_password);
        adapter.set_has_keyring(summary.has_keyring);
    }
}

/// Runs a protection change on the open vault off the UI thread (it derives a key), then puts
/// the vault back and reports.
fn change_protection(
    state: &Shared,
    change: impl FnOnce(&mut dyn OpenVault) -> Result<(), StoreError> + Send + 'static,
    success: SecurityNotice,
) {
    let vault = {
        let mut s = state.borrow_mut();
        s.touch();
        let Some(vault) = s.vault.take() else { return };
        if let Some(ui) = s.ui() {
            ui.global::<SettingsAdapter>().set_security_busy(true);
            ui.global::<SettingsAdapter>().set_notice(SecurityNotice::None);
        }
        vault
    };
    background(
        state,
        move || {
            let mut vault = vault;
            let result = change(vault.as_mut());
            (vault, result)
        },
        move |s: &mut State, (vault, result): (Box<dyn OpenVault>, Result<(), StoreError>)| {
            s.vault = Some(vault);
            s.summary = s.vault.as_ref().map(|v| v.summary());
            let Some(ui) = s.ui() else { return };
            let adapter = ui.global::<SettingsAdapter>();
            adapter.set_security_busy(false);
            match result {
                Ok(()) => adapter.set_notice(success),
                Err(error) => {
                    adapter.set_notice(SecurityNotice::Failed);
                    adapter.set_notice_detail(error.to_string().into());
                }
            }
            show_protection(s, &ui);
        },
    );
}

/// Wires the settings screen.
pub(crate) fn connect(window: &AppWindow, state: &Shared) {
    let adapter = window.global::<SettingsAdapter>();
    adapter.set_version(env!("CARGO_PKG_VERSION").into());

    let s = state.clone();
    adapter.on_changed(move || {
        let mut state = s.borrow_mut();
        state.touch();
        let Some(ui) = state.ui() else { return };
        state.settings = read(&ui, &state.settings);
        apply(&state.settings, &ui);
        if let Err(error) = state.settings.save(&state.deps.home) {
            state.toast(crate::Toast::Error, &error.to_string());
        }
    });

    let s = state.clone();
    adapter.on_change_password(move |password, repeat| {
        let problem = if password.chars().count() < crate::unlock::MIN_PASSWORD_CHARS {
            SecurityNotice::TooShort
        } else if password != repeat {
            SecurityNotice::Differ
        } else {
            SecurityNotice::None
        };
        if problem != SecurityNotice::None {
            if let Some(ui) = s.borrow().ui() {
                ui.global::<SettingsAdapter>().set_notice(problem);
            }
            return;
        }
        let password = Zeroizing::new(password.to_string());
        change_protection(&s, move |v| v.set_password(password), SecurityNotice::PasswordChanged);
    });

    let s = state.clone();
    adapter.on_toggle_keyring(move || {
        let enable = !s.borrow().vault.as_ref().is_some_and(|v| v.summary().has_keyring);
        let success = if enable { SecurityNotice::KeyringOn } else { SecurityNotice::KeyringOff };
        change_protection(&s, move |v| v.enable_keyring(enable), success);
    });

    let s = state.clone();
    adapter.on_back(move || {
        let state = s.borrow();
        let screen = if state.vault.is_some() { Screen::Accounts } else { Screen::Unlock };
        state.show(screen);
    });
}
