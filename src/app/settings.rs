//! Settings: language, theme, auto-lock, clipboard delay, about. Applied at once and saved.

use slint::ComponentHandle;

use crate::state::{Language, Settings, Shared, State, ThemeMode};
use crate::{AppWindow, Screen, SettingsAdapter};

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
        ui.global::<SettingsAdapter>().set_vault_path(state.deps.vault.location().into());
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
    adapter.on_back(move || {
        let state = s.borrow();
        let screen = if state.vault.is_some() { Screen::Accounts } else { Screen::Unlock };
        state.show(screen);
    });
}
