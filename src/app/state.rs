//! The controller: what the screens share (settings, the open vault, the rows on show, the
//! clipboard we own) and the one timer that drives codes, countdowns and the idle lock.

use std::cell::RefCell;
use std::path::Path;
use std::rc::{Rc, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use slint::{ComponentHandle, Model, ModelRc, SharedString, Timer, TimerMode, VecModel};
use tessera_core::otp::{OtpKind, group_code};
use zeroize::Zeroizing;

use crate::deps::{Background, Deps};
use crate::store::{Entry, OpenVault, VaultSummary};
use crate::{AccountRow, AccountsAdapter, AppAdapter, AppWindow, Screen, Toast};

/// The controller shared by every screen's callbacks.
pub(crate) type Shared = Rc<RefCell<State>>;

/// Slint's `int` is 32 bits, so the countdown gets the time modulo this number: a multiple of
/// every period from 1 to 22 s and of 24, 30, 36, 40, 45, 60, 90 and 120 s, so `now % period`
/// is unchanged for all periods real accounts use.
const NOW_MODULUS: u64 = 2_095_133_040;

/// How long the "Copied" toast stays.
const TOAST_TIME: Duration = Duration::from_millis(1800);

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
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            language: Language::System,
            theme: ThemeMode::System,
            auto_lock_minutes: 5,
            clipboard_seconds: 30,
            window_size: None,
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
fn read_json<T: Default + serde::de::DeserializeOwned>(home: &Path, name: &str) -> T {
    std::fs::read(home.join(name))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn write_json<T: Serialize>(home: &Path, name: &str, value: &T) -> std::io::Result<()> {
    std::fs::create_dir_all(home)?;
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let tmp = home.join(format!("{name}.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, home.join(name))
}

/// Failed unlock attempts (the rule and its file live in the core, shared with the CLI).
pub use tessera_core::vault::attempts::Attempts;

/// One row on show and the moving factor its code was computed for.
struct Shown {
    id: String,
    counter: u64,
}

/// The controller's state.
pub(crate) struct State {
    pub deps: Deps,
    pub settings: Settings,
    pub vault: Option<Box<dyn OpenVault>>,
    pub summary: Option<VaultSummary>,
    pub attempts: Attempts,
    pub search: String,
    pub details_id: Option<String>,
    /// The QR scan in progress (scan.rs).
    pub scan: crate::scan::ScanState,
    /// The QR codes on show (qr_view.rs).
    pub qr: crate::qr_view::QrState,
    rows: Rc<VecModel<AccountRow>>,
    shown: Vec<Shown>,
    last_second: u64,
    last_activity: u64,
    copied: Option<Zeroizing<String>>,
    clear_timer: Timer,
    toast_timer: Timer,
    pub tick_timer: Timer,
    pub approvals: crate::approvals::Approvals,
    pub window: slint::Weak<AppWindow>,
    pub me: Weak<RefCell<Self>>,
}

impl State {
    pub fn new(deps: Deps, window: &AppWindow) -> Shared {
        let settings = Settings::load(&deps.home);
        let attempts = Attempts::load(&deps.home);
        let now = deps.clock.now();
        let rows = Rc::new(VecModel::default());
        window.global::<AccountsAdapter>().set_rows(ModelRc::from(Rc::clone(&rows)));
        Rc::new_cyclic(|me| {
            RefCell::new(Self {
                deps,
                settings,
                vault: None,
                summary: None,
                attempts,
                search: String::new(),
                details_id: None,
                scan: crate::scan::ScanState::default(),
                qr: crate::qr_view::QrState::default(),
                rows,
                shown: Vec::new(),
                last_second: 0,
                last_activity: now,
                copied: None,
                clear_timer: Timer::default(),
                toast_timer: Timer::default(),
                tick_timer: Timer::default(),
                approvals: crate::approvals::Approvals::default(),
                window: window.as_weak(),
                me: me.clone(),
            })
        })
    }

    pub fn ui(&self) -> Option<AppWindow> {
        self.window.upgrade()
    }

    pub fn now(&self) -> u64 {
        self.deps.clock.now()
    }

    /// Records user activity (resets the idle lock).
    pub fn touch(&mut self) {
        self.last_activity = self.now();
    }

    pub fn show(&self, screen: Screen) {
        if let Some(ui) = self.ui() {
            ui.global::<AppAdapter>().set_screen(screen);
        }
    }

    pub fn toast(&mut self, toast: Toast, detail: &str) {
        let Some(ui) = self.ui() else { return };
        ui.global::<AppAdapter>().set_toast(toast);
        ui.global::<AppAdapter>().set_toast_detail(detail.into());
        let weak = self.window.clone();
        self.toast_timer.start(TimerMode::SingleShot, TOAST_TIME, move || {
            if let Some(ui) = weak.upgrade() {
                ui.global::<AppAdapter>().set_toast(Toast::None);
            }
        });
    }

    pub fn entries(&self) -> &[Entry] {
        self.vault.as_ref().map_or(&[], |v| v.entries())
    }

    pub fn entry_mut(&mut self, id: &str) -> Option<&mut Entry> {
        self.vault.as_mut()?.entries_mut().iter_mut().find(|e| e.id == id)
    }

    /// Saves the vault; on failure shows the reason and returns false.
    pub fn save(&mut self) -> bool {
        let Some(vault) = self.vault.as_mut() else { return false };
        match vault.save() {
            Ok(()) => {
                self.note_backup();
                true
            }
            Err(error) => {
                self.toast(Toast::Error, &error.to_string());
                false
            }
        }
    }

    /// Rebuilds the list: search filter, favourites first, then sections by group or issuer.
    pub fn refresh_rows(&mut self) {
        let now = self.now();
        let needle = self.search.trim().to_lowercase();
        let mut picked: Vec<&Entry> = self
            .entries()
            .iter()
            .filter(|e| {
                needle.is_empty()
                    || e.issuer.to_lowercase().contains(&needle)
                    || e.account.to_lowercase().contains(&needle)
            })
            .collect();
        let section =
            |e: &Entry| e.group.clone().unwrap_or_else(|| e.issuer.clone()).to_lowercase();
        let mut counts = std::collections::HashMap::<String, usize>::new();
        for e in &picked {
            if !e.favourite {
                *counts.entry(section(e)).or_default() += 1;
            }
        }
        // Sort key: favourites, then named sections (2+ accounts), then the rest.
        let rank = |e: &Entry| {
            if e.favourite {
                0
            } else if counts.get(&section(e)).copied().unwrap_or(0) > 1 {
                1
            } else {
                2
            }
        };
        picked.sort_by_cached_key(|e| {
            (rank(e), section(e), e.issuer.to_lowercase(), e.account.to_lowercase())
        });
        let any_header = picked.iter().any(|e| rank(e) < 2);
        let mut rows = Vec::with_capacity(picked.len());
        let mut shown = Vec::with_capacity(picked.len());
        let mut previous: Option<(u8, String)> = None;
        for e in picked {
            let key = (rank(e), if rank(e) == 1 { section(e) } else { String::new() });
            let mut row = row_for(e, now);
            if previous.as_ref() != Some(&key) {
                (row.header_kind, row.header) = match key.0 {
                    0 => (1, SharedString::new()),
                    1 => (2, e.group.clone().unwrap_or_else(|| e.issuer.clone()).into()),
                    _ if any_header => (3, SharedString::new()),
                    _ => (0, SharedString::new()),
                };
            }
            previous = Some(key);
            shown.push(Shown { id: e.id.clone(), counter: e.otp.counter_at(now) });
            rows.push(row);
        }
        let total = self.entries().len();
        self.rows.set_vec(rows);
        self.shown = shown;
        if let Some(ui) = self.ui() {
            let adapter = ui.global::<AccountsAdapter>();
            adapter.set_total(i32::try_from(total).unwrap_or(i32::MAX));
            adapter.set_now((now % NOW_MODULUS) as i32);
        }
    }

    /// Runs once a second: updates the countdown, recomputes the codes whose period rolled
    /// over, applies the idle lock and counts down an unlock delay.
    pub fn tick(&mut self) {
        let now = self.now();
        if now == self.last_second {
            return;
        }
        self.last_second = now;
        let Some(ui) = self.ui() else { return };
        if self.vault.is_some() {
            ui.global::<AccountsAdapter>().set_now((now % NOW_MODULUS) as i32);
            self.update_rolled_over(now);
            crate::approvals::tick(self);
            let idle = u64::from(self.settings.auto_lock_minutes) * 60;
            if idle > 0 && now.saturating_sub(self.last_activity) >= idle {
                self.lock();
            }
        } else {
            crate::unlock::show_wait(self, &ui);
        }
    }

    /// Recomputes the rows whose moving factor changed since they were built.
    pub fn update_rolled_over(&mut self, now: u64) {
        let Some(vault) = self.vault.as_ref() else { return };
        for (index, shown) in self.shown.iter_mut().enumerate() {
            let Some(entry) = vault.entries().iter().find(|e| e.id == shown.id) else { continue };
            let counter = entry.otp.counter_at(now);
            if counter != shown.counter {
                shown.counter = counter;
                if let Some(old) = self.rows.row_data(index) {
                    let fresh = row_for(entry, now);
                    self.rows.set_row_data(
                        index,
                        AccountRow { header_kind: old.header_kind, header: old.header, ..fresh },
                    );
                }
            }
        }
    }

    /// Puts the current code of `id` on the clipboard and arranges for it to be cleared.
    pub fn copy(&mut self, id: &str) {
        let now = self.now();
        self.touch();
        let Some(entry) = self.entry_mut(id) else { return };
        entry.last_used = Some(now);
        let code = Zeroizing::new(entry.otp.code_at(now));
        if let Err(error) = self.deps.clipboard.set_text(&code) {
            self.toast(Toast::Error, &error);
            return;
        }
        self.copied = Some(code);
        self.toast(Toast::Copied, "");
        let seconds = self.settings.clipboard_seconds;
        if seconds > 0 {
            let me = self.me.clone();
            self.clear_timer.start(
                TimerMode::SingleShot,
                Duration::from_secs(u64::from(seconds)),
                move || {
                    if let Some(state) = me.upgrade() {
                        state.borrow_mut().clear_clipboard_if_ours();
                    }
                },
            );
        } else {
            self.clear_timer.stop();
        }
    }

    /// Clears the clipboard only if it still holds the code we put there.
    pub fn clear_clipboard_if_ours(&mut self) {
        if let Some(code) = self.copied.take()
            && self.deps.clipboard.text().as_deref() == Some(code.as_str())
        {
            self.deps.clipboard.clear();
        }
    }

    /// Closes the vault (dropping the decrypted entries) and shows the unlock screen.
    pub fn lock(&mut self) {
        if self.vault.is_none() {
            return;
        }
        crate::approvals::locked(self);
        self.vault = None;
        self.details_id = None;
        crate::scan::clear(self);
        crate::qr_view::clear(self);
        self.search.clear();
        self.rows.set_vec(Vec::new());
        self.shown.clear();
        if let Some(ui) = self.ui() {
            ui.global::<AppAdapter>().set_unlocked(false);
            ui.global::<AccountsAdapter>().set_search(SharedString::new());
            ui.global::<AccountsAdapter>().set_total(0);
            // Nothing typed into a form (a secret key, a note) survives locking.
            crate::add_account::reset(&ui);
            crate::details::clear(&ui);
            crate::unlock::prepare(self, &ui);
        }
        self.show(Screen::Unlock);
    }

    /// Shows a failed automatic backup of the last save as a non-blocking banner (and clears
    /// the banner once a backup succeeds again).
    pub fn note_backup(&self) {
        let outcome = self.vault.as_ref().and_then(|v| v.last_backup());
        if let Some(ui) = self.ui() {
            crate::transfer::show_backup_outcome(&ui, outcome.as_ref());
        }
    }

    /// Takes an opened vault: shows the accounts.
    pub fn opened(&mut self, vault: Box<dyn OpenVault>) {
        let rollback = vault.rollback();
        self.vault = Some(vault);
        self.touch();
        if let Some(ui) = self.ui() {
            ui.global::<AppAdapter>().set_unlocked(true);
        }
        self.refresh_rows();
        self.show(Screen::Accounts);
        crate::approvals::unlocked(self);
        if let Some(warning) = rollback {
            self.toast(crate::Toast::Error, &warning);
        }
    }
}

/// Converts an entry into the row Slint shows at `now`.
pub(crate) fn row_for(entry: &Entry, now: u64) -> AccountRow {
    let otp = &entry.otp;
    let hotp = otp.kind == OtpKind::Hotp;
    let next = if hotp {
        String::new()
    } else {
        group_code(&otp.code_for_counter(otp.counter_at(now).saturating_add(1)))
    };
    let label = if entry.issuer.trim().is_empty() { &entry.account } else { &entry.issuer };
    AccountRow {
        id: entry.id.as_str().into(),
        issuer: entry.issuer.as_str().into(),
        account: entry.account.as_str().into(),
        initial: label
            .trim()
            .chars()
            .next()
            .map(|c| c.to_uppercase().collect::<String>())
            .unwrap_or_else(|| "?".into())
            .into(),
        tint: avatar_colour(label),
        code: group_code(&otp.code_at(now)).into(),
        next_code: next.into(),
        period: i32::try_from(otp.period).unwrap_or(i32::MAX),
        hotp,
        favourite: entry.favourite,
        header_kind: 0,
        header: SharedString::new(),
    }
}

/// Picks an avatar colour from the issuer name, so the same issuer always gets the same one.
pub(crate) fn avatar_colour(name: &str) -> slint::Color {
    // Mid-tone colours that keep white initials readable in light and dark themes.
    const COLOURS: [(u8, u8, u8); 12] = [
        (0x1e, 0x6f, 0xd9),
        (0x6a, 0x4f, 0xb3),
        (0x2e, 0x7d, 0x32),
        (0xc6, 0x28, 0x28),
        (0xd8, 0x6a, 0x00),
        (0x00, 0x83, 0x8f),
        (0xad, 0x14, 0x57),
        (0x45, 0x5a, 0x64),
        (0x5d, 0x40, 0x37),
        (0x30, 0x3f, 0x9f),
        (0x55, 0x8b, 0x2f),
        (0x8e, 0x24, 0xaa),
    ];
    // FNV-1a: stable across runs and platforms (std's hasher is randomly seeded).
    let hash = name
        .trim()
        .to_lowercase()
        .bytes()
        .fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let (r, g, b) = COLOURS[hash as usize % COLOURS.len()];
    slint::Color::from_rgb_u8(r, g, b)
}

/// Runs `job` off the UI thread (or inline in tests) and hands its result to `done` on the UI
/// thread.
pub(crate) fn background<T: Send + 'static>(
    state: &Shared,
    job: impl FnOnce() -> T + Send + 'static,
    done: impl FnOnce(&mut State, T) + 'static,
) {
    let mode = state.borrow().deps.background;
    let weak = Rc::downgrade(state);
    let finish = move |value: T| {
        if let Some(state) = weak.upgrade() {
            done(&mut state.borrow_mut(), value);
        }
    };
    if mode == Background::Thread {
        let (tx, rx) = futures_channel::oneshot::channel::<T>();
        let waiter = slint::spawn_local(async move {
            if let Ok(value) = rx.await {
                finish(value);
            }
        });
        match waiter {
            Ok(_) => {
                std::thread::spawn(move || {
                    // The receiver is gone only if the window closed meanwhile.
                    let _ = tx.send(job());
                });
            }
            // No event loop to come back to (cannot happen once the window runs).
            Err(error) => eprintln!("tessera: cannot run background work: {error}"),
        }
        return;
    }
    finish(job());
}

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
    fn the_same_issuer_always_gets_the_same_colour() {
        assert_eq!(avatar_colour("GitHub"), avatar_colour(" github "));
    }

    #[test]
    fn now_modulus_preserves_common_periods() {
        for period in [1u64, 10, 15, 20, 30, 45, 60, 90, 120] {
            assert_eq!(NOW_MODULUS % period, 0, "period {period}");
        }
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
