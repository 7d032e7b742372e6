//! Settings: language, theme, auto-lock, clipboard delay, hidden codes, keep running in the
//! tray (and whether the desktop shows one), the global shortcut (and how it stands),
//! the vault's protection, about.
//! Preferences apply at once and are saved.

use slint::ComponentHandle;
use tessera_core::vault::policy::PasswordUse;
use zeroize::Zeroizing;

use super::{NewPasswordProblem, check_new_password, int, password_min};
use crate::model::prefs::{Language, Settings, ThemeMode};
use crate::model::vault::Unlocked;
use crate::model::{Event, Model, View};
use crate::platform::shortcut::Binding;
use crate::platform::tray::Host;
use crate::ui::{AppAdapter, AppWindow, SecurityNotice, SettingsAdapter, ShortcutStatus};

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
    adapter.set_auto_lock_minutes(int(settings.auto_lock_minutes));
    adapter.set_clipboard_seconds(int(settings.clipboard_seconds));
    adapter.set_hide_codes(settings.hide_codes);
    // Only fails when the bundle lacks the language, which build.rs guarantees it has.
    let _ = slint::select_bundled_translation(settings.translation());
}

/// Fills the settings screen (each time it is shown).
fn fill(ui: &AppWindow, model: &Model) {
    let state = model.state();
    apply(&state.settings, ui);
    let adapter = ui.global::<SettingsAdapter>();
    drop(state);
    show_tray(ui, model);
    let state = model.state();
    adapter.set_autostart_available(state.deps.autostart.is_available());
    adapter.set_start_at_login(state.deps.autostart.is_on());
    adapter.set_listen_before_unlock(state.settings.listen_before_unlock);
    adapter.set_vault_path(state.deps.vault.location().into());
    adapter.set_notice(SecurityNotice::None);
    adapter.set_keyring_available(state.deps.vault.keyring_available());
    adapter.set_global_shortcut(state.settings.global_shortcut.as_str().into());
    drop(state);
    show_shortcut(ui, model);
    show_protection(ui, model);
}

/// Shows how the global shortcut stands.
fn show_shortcut(ui: &AppWindow, model: &Model) {
    let adapter = ui.global::<SettingsAdapter>();
    let (status, detail) = match &model.state().shortcut_status {
        Binding::Off => (ShortcutStatus::Off, String::new()),
        Binding::Pending => (ShortcutStatus::Pending, String::new()),
        Binding::Bound(keys) => (ShortcutStatus::Bound, keys.clone()),
        Binding::Unassigned => (ShortcutStatus::Unassigned, String::new()),
        Binding::Taken(keys) => (ShortcutStatus::Taken, keys.clone()),
        Binding::Unsupported => (ShortcutStatus::Unsupported, String::new()),
        Binding::Failed(reason) => (ShortcutStatus::Failed, reason.clone()),
    };
    adapter.set_shortcut_status(status);
    adapter.set_shortcut_detail(detail.into());
}

/// Shows whether closing the window keeps the app running, and whether a tray shows it.
fn show_tray(ui: &AppWindow, model: &Model) {
    let adapter = ui.global::<SettingsAdapter>();
    adapter.set_keep_running(model.keeps_running());
    adapter.set_tray_shown(model.state().deps.tray.host() != Host::Missing);
}

fn read(ui: &AppWindow, previous: &Settings, by_default: bool) -> Settings {
    let adapter = ui.global::<SettingsAdapter>();
    // An untouched default stays a default (it follows whether push accounts exist and a
    // tray shows the app).
    let keep_running = adapter.get_keep_running();
    let keep_running = (previous.keep_running.is_some()
        || keep_running != previous.keeps_running(by_default))
    .then_some(keep_running);
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
        keep_running,
        // Changed only through its own callback (it moves keys in the keyring).
        listen_before_unlock: previous.listen_before_unlock,
        hide_codes: adapter.get_hide_codes(),
        // Changed only through its own callback (it binds the keys).
        global_shortcut: previous.global_shortcut.clone(),
        // The clock check's choices change through their own section (screen::clock).
        ..previous.clone()
    }
}

fn show_protection(ui: &AppWindow, model: &Model) {
    if let Some(summary) = model.state().vault.as_ref().map(Unlocked::summary) {
        let adapter = ui.global::<SettingsAdapter>();
        adapter.set_has_password(summary.has_password);
        adapter.set_has_keyring(summary.has_keyring);
        adapter.set_password_min(password_min(password_use(model)));
    }
}

/// How a new password would protect the open vault: a short PIN is allowed only beside a
/// keyring slot.
fn password_use(model: &Model) -> PasswordUse {
    let keyring = model.state().vault.as_ref().is_some_and(|v| v.summary().has_keyring);
    if keyring { PasswordUse::VaultWithKeyring } else { PasswordUse::VaultAlone }
}

/// Runs a protection change on the open vault off the UI thread (it derives a key), then
/// reports.
fn change_protection(
    ui: &AppWindow,
    model: &Model,
    change: impl FnOnce(&mut Unlocked) -> Result<(), tessera_core::vault::VaultError> + Send + 'static,
    success: SecurityNotice,
) {
    model.touch();
    if !model.is_unlocked() {
        return;
    }
    let adapter = ui.global::<SettingsAdapter>();
    adapter.set_security_busy(true);
    adapter.set_notice(SecurityNotice::None);
    let handle = ui.as_weak();
    model.with_vault_off_thread(change, move |model, result| {
        let Some(ui) = handle.upgrade() else { return };
        let adapter = ui.global::<SettingsAdapter>();
        adapter.set_security_busy(false);
        match result {
            Ok(()) => adapter.set_notice(success),
            Err(error) => {
                adapter.set_notice(SecurityNotice::Failed);
                adapter.set_notice_detail(crate::notice::vault_detail(&error).into());
            }
        }
        show_protection(&ui, model);
    });
}

/// Wires the settings screen (and the top bar's button that opens it).
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let adapter = window.global::<SettingsAdapter>();
    adapter.set_version(env!("CARGO_PKG_VERSION").into());
    apply(&model.state().settings, window);

    let m = model.downgrade();
    window.global::<AppAdapter>().on_open_settings(move || {
        if let Some(model) = m.upgrade() {
            model.touch();
            model.show(View::Settings);
        }
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    adapter.on_start_at_login_toggled(move |on| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.set_start_at_login(on);
        // Shows what is true now (unchanged after a failure).
        ui.global::<SettingsAdapter>().set_start_at_login(model.state().deps.autostart.is_on());
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    adapter.on_listen_before_unlock_toggled(move |on| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.set_listen_before_unlock(on);
        // Shows what is true now (unchanged after a failure).
        let on = model.state().settings.listen_before_unlock;
        ui.global::<SettingsAdapter>().set_listen_before_unlock(on);
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    adapter.on_changed(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        let by_default = model.keep_running_by_default();
        let settings = read(&ui, &model.state().settings, by_default);
        apply(&settings, &ui);
        model.set_settings(settings);
        // The tray speaks the language just chosen.
        model.refresh_tray();
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    adapter.on_change_password(move |password, repeat| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        if let Err(problem) = check_new_password(&password, &repeat, password_use(&model)) {
            ui.global::<SettingsAdapter>().set_notice(match problem {
                NewPasswordProblem::TooShort => SecurityNotice::TooShort,
                NewPasswordProblem::NeedsLetters => SecurityNotice::NeedsLetters,
                NewPasswordProblem::Differ => SecurityNotice::Differ,
            });
            return;
        }
        let password = Zeroizing::new(password.to_string());
        change_protection(
            &ui,
            &model,
            move |v| v.set_password(password),
            SecurityNotice::PasswordChanged,
        );
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    adapter.on_toggle_keyring(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        let enable = !model.state().vault.as_ref().is_some_and(|v| v.summary().has_keyring);
        let success = if enable { SecurityNotice::KeyringOn } else { SecurityNotice::KeyringOff };
        change_protection(&ui, &model, move |v| v.enable_keyring(enable), success);
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    adapter.on_global_shortcut_set(move |written| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        let adapter = ui.global::<SettingsAdapter>();
        match model.set_global_shortcut(&written) {
            // Written back the one way it is shown ("ctrl+alt+t" becomes "Ctrl+Alt+T").
            Ok(()) => {
                adapter.set_global_shortcut(model.state().settings.global_shortcut.as_str().into());
            }
            Err(_) => {
                adapter.set_shortcut_status(ShortcutStatus::Invalid);
                adapter.set_shortcut_detail(written);
            }
        }
    });

    let m = model.downgrade();
    adapter.on_back(move || {
        let Some(model) = m.upgrade() else { return };
        let view = if model.is_unlocked() { View::Accounts } else { View::Unlock };
        model.show(view);
    });

    let handle = window.as_weak();
    model.subscribe(move |model, event| match (event, handle.upgrade()) {
        (Event::Show(View::Settings), Some(ui)) => fill(&ui, model),
        (Event::TrayChanged | Event::PushAccountsChanged, Some(ui)) => show_tray(&ui, model),
        (Event::ShortcutChanged, Some(ui)) => show_shortcut(&ui, model),
        _ => {}
    });
}
