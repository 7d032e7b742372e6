//! The user's preferences (`settings.json`: language, theme, auto-lock, clipboard delay,
//! window size, keep running in the background, hidden codes, the global shortcut, the clock
//! correction and time server; no secrets) and the failed-unlock record the core keeps
//! beside them.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Language choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Follow the system locale.
    #[default]
    System,
    /// English.
    English,
    /// Nederlands.
    Dutch,
}

/// Theme choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeMode {
    /// Follow the system colour scheme.
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

/// The global shortcut until the user picks another.
pub const DEFAULT_SHORTCUT: &str = "Ctrl+Alt+T";

/// The user's preferences, kept in `settings.json` in the data directory (no secrets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// UI language.
    pub language: Language,
    /// Light or dark.
    pub theme: ThemeMode,
    /// Lock after this many idle minutes; 0 never.
    pub auto_lock_minutes: u32,
    /// Clear a copied code after this many seconds; 0 never.
    pub clipboard_seconds: u32,
    /// Last window size (logical pixels).
    pub window_size: Option<(f32, f32)>,
    /// Whether closing the window hides it and the app keeps running (to receive push
    /// requests); `None` until the user chooses: then it is on while push accounts are
    /// listened to ([`Settings::keeps_running`]).
    pub keep_running: Option<bool>,
    /// Keep the push accounts in the OS keyring so that login requests are heard from a
    /// cold start, before the first unlock (`tessera_core::vault::standby`).
    pub listen_before_unlock: bool,
    /// "Hide codes until I click them": the list shows masks (`super::reveal`).
    pub hide_codes: bool,
    /// The global shortcut that brings Tessera up with the search ready ("Ctrl+Alt+T"; empty:
    /// none). Parsed by `platform::shortcut::Shortcut`.
    pub global_shortcut: String,
    /// Generate codes at the servers' time rather than the computer's when the clock is
    /// measured off (`model::clock`).
    pub correct_clock: bool,
    /// The time server (NTP) to compare the clock with; "" for none.
    pub ntp_server: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            language: Language::System,
            theme: ThemeMode::System,
            auto_lock_minutes: 5,
            clipboard_seconds: 30,
            window_size: None,
            keep_running: None,
            listen_before_unlock: false,
            hide_codes: false,
            global_shortcut: DEFAULT_SHORTCUT.to_owned(),
            correct_clock: false,
            ntp_server: String::new(),
        }
    }
}

impl Settings {
    const FILE: &'static str = "settings.json";

    /// Reads the settings from `home`; a missing or unreadable file gives the defaults.
    pub fn load(home: &Path) -> Self {
        read_json(home, Self::FILE)
    }

    /// Writes the settings to `home` (write to a temporary file, then rename).
    pub fn save(&self, home: &Path) -> std::io::Result<()> {
        write_json(home, Self::FILE, self)
    }

    /// Whether closing the window only hides it: the user's choice, else on exactly when
    /// push requests are being listened for.
    pub fn keeps_running(&self, listening: bool) -> bool {
        self.keep_running.unwrap_or(listening)
    }

    /// Returns the bundled translation to select: "" for English, "nl" for Dutch.
    pub fn translation(&self) -> &'static str {
        match self.language {
            Language::English => "",
            Language::Dutch => "nl",
            Language::System => {
                let locale = sys_locale::get_locale().unwrap_or_default().to_ascii_lowercase();
                if locale.starts_with("nl") { "nl" } else { "" }
            }
        }
    }
}

/// Reads `home/name` as JSON; a missing or unreadable file gives the default.
pub(super) fn read_json<T: Default + serde::de::DeserializeOwned>(home: &Path, name: &str) -> T {
    std::fs::read(home.join(name))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

pub(super) fn write_json<T: Serialize>(home: &Path, name: &str, value: &T) -> std::io::Result<()> {
    std::fs::create_dir_all(home)?;
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let tmp = home.join(format!("{name}.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, home.join(name))
}

/// Failed unlock attempts (the rule and its file live in the core, shared with the CLI).
pub use tessera_core::vault::attempts::Attempts;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlock_delay_grows_after_the_third_failure_and_is_capped() {
        let delays: Vec<u64> = (0..12).map(Attempts::delay).collect();
        assert_eq!(delays, [0, 0, 0, 5, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn wait_counts_down_from_the_last_failure() {
        let attempts = Attempts { failures: 4, last_failure: 1000 };
        assert_eq!(attempts.wait_at(1000), 10);
        assert_eq!(attempts.wait_at(1007), 3);
        assert_eq!(attempts.wait_at(1010), 0);
    }

    #[test]
    fn keeping_running_follows_push_listening_until_the_user_chooses() {
        let default = Settings::default();
        assert!(default.keeps_running(true), "on by default while push accounts are polled");
        assert!(!default.keeps_running(false), "without push accounts closing quits");
        let off = Settings { keep_running: Some(false), ..Default::default() };
        assert!(!off.keeps_running(true));
        let on = Settings { keep_running: Some(true), ..Default::default() };
        assert!(on.keeps_running(false));
    }

    #[test]
    fn settings_survive_a_round_trip_and_defaults_fill_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let settings =
            Settings { language: Language::Dutch, auto_lock_minutes: 9, ..Default::default() };
        settings.save(dir.path()).unwrap();
        assert_eq!(Settings::load(dir.path()), settings);
        std::fs::write(dir.path().join("settings.json"), br#"{"theme":"dark"}"#).unwrap();
        let loaded = Settings::load(dir.path());
        assert_eq!((loaded.theme, loaded.clipboard_seconds), (ThemeMode::Dark, 30));
    }
}
