//! The app's model: everything the screens show and change, with no window.
//!
//! [`Model`] owns the open vault ([`vault`]), the accounts list ([`account_list`]), the push
//! inbox ([`inbox`]), the preferences and unlock record ([`prefs`]) and the account being
//! added ([`draft`]). Screens call its methods and subscribe to its [`Event`]s; the model
//! never calls a screen and holds no Slint type except the list's `impl slint::Model`. Slow
//! work runs through [`crate::task`]. Everything here is unit-tested without a window.
//!
//! Listeners run after the model's own state is updated and released, so a listener may call
//! back into the model.

pub mod account_list;
pub mod announce;
pub mod clock;
pub mod draft;
pub mod icons;
pub mod inbox;
pub mod prefs;
pub mod push_worker;
pub mod recovery;
pub mod reminder;
pub mod reveal;
pub mod shortcut;
#[cfg(test)]
pub(crate) mod testing;
pub mod tray;
pub mod vault;

use std::cell::{Ref, RefCell, RefMut};
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use tessera_core::clock::{Clock, SystemClock};
use tessera_core::push::{Decision, PasswordProof, PushBackend, PushHistoryItem, ScheduleConfig};
use tessera_core::transfer::backup::BackupOutcome;
use tessera_core::vault::{Unlock, VaultContent, VaultError};
use zeroize::Zeroizing;

use crate::platform::capture::CaptureError;
use crate::platform::clipboard::{Clipboard, SystemClipboard};
use crate::platform::notify::{Notifier, Response};
use crate::platform::sources::{ScanSources, SystemScanSources};
use crate::platform::tray::{Host, Tray, TrayEvent};
use crate::task::{self, Background};
use account_list::AccountList;
use draft::Draft;
use inbox::Inbox;
use prefs::{Attempts, Settings};
use push_worker::{Engine, PushWorker, Report};
use vault::{NewProtection, Unlocked, VaultFile, VaultSummary};

/// Everything the app reads from or does to the world.
pub struct Deps {
    /// The time source for codes, idle lock and unlock throttling.
    pub clock: Arc<dyn Clock>,
    /// Where copied codes go.
    pub clipboard: Box<dyn Clipboard>,
    /// The data directory: settings and the unlock-attempt record live here.
    pub home: PathBuf,
    /// The vault file.
    pub vault: VaultFile,
    /// How slow work runs.
    pub background: Background,
    /// A file holding the password to unlock with at start (`TESSERA_PASSWORD_FILE`).
    pub password_file: Option<PathBuf>,
    /// Where scanned QR codes come from.
    pub scan_sources: Arc<dyn ScanSources>,
    /// The push servers' protocols (privacyIDEA, Tessera); tests put an in-process backend
    /// here.
    pub push_backends: Vec<Arc<dyn PushBackend>>,
    /// When to poll push accounts.
    pub push_schedule: ScheduleConfig,
    /// Desktop notifications of login requests (with buttons where the desktop has them).
    pub notify: Arc<dyn Notifier>,
    /// The "Start at login" entry.
    pub autostart: crate::platform::autostart::Autostart,
    /// The tray icon (the app lives there while the window is closed).
    pub tray: Arc<dyn Tray>,
}

impl Deps {
    /// Returns the real dependencies: system clock and clipboard, the vault in the data
    /// directory (`TESSERA_HOME` or the platform's), worker threads.
    pub fn system() -> Self {
        let home = tessera_core::vault::data_dir().unwrap_or_else(|_| PathBuf::from("tessera"));
        Self::system_at(home)
    }

    /// Like [`Deps::system`] with an explicit data directory (Android's app-private dir).
    pub fn system_at(home: PathBuf) -> Self {
        Self {
            clock: Arc::new(SystemClock),
            clipboard: Box::new(SystemClipboard::default()),
            vault: VaultFile::in_home(&home),
            home,
            background: Background::Thread,
            password_file: std::env::var_os("TESSERA_PASSWORD_FILE")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            scan_sources: Arc::new(SystemScanSources),
            push_backends: crate::platform::system_push_backends(),
            push_schedule: ScheduleConfig::default(),
            notify: Arc::new(crate::platform::notify::DesktopNotifier::default()),
            autostart: crate::platform::autostart::Autostart::system(),
            tray: crate::platform::tray::system(),
        }
    }
}

/// The views the model can send the user to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Create the vault.
    FirstRun,
    /// Unlock it.
    Unlock,
    /// The accounts list.
    Accounts,
    /// Add an account by hand (or check a scanned one).
    AddAccount,
    /// Scan QR codes.
    Scan,
    /// One account's details.
    Details,
    /// Settings.
    Settings,
    /// Login requests.
    Approvals,
    /// One account's QR code, or the export codes.
    ShowQr,
    /// Import from a file.
    Import,
    /// Export to a file.
    Export,
    /// One account's recovery codes.
    Recovery,
}

/// A short message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A code was copied.
    Copied,
    /// Accounts were added.
    Added,
    /// Changes (or `n` imported accounts) were saved.
    Saved(String),
    /// Something was deleted.
    Deleted,
    /// Something failed; the detail says what.
    Error(String),
}

/// Why the vault could not be opened or created (for the unlock and first-run screens).
#[derive(Debug)]
pub enum OpenError {
    /// The vault refused (wrong password, damaged, newer version, keyring ...).
    Vault(VaultError),
    /// The password file (`TESSERA_PASSWORD_FILE`) could not be read.
    PasswordFile {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

/// What happened in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Go to this view.
    Show(View),
    /// The vault was opened.
    Unlocked,
    /// The vault was closed: nothing typed into a form may survive.
    Locked,
    /// The list was rebuilt (entries, search) or its codes rolled over.
    ListChanged,
    /// A second passed.
    Tick,
    /// The unlock screen's state changed (busy, problem, wait).
    UnlockChanged,
    /// A short message for the user.
    Notice(Notice),
    /// The automatic backup after a save was written or failed.
    Backup(BackupOutcome),
    /// Push accounts were added or removed.
    PushAccountsChanged,
    /// Pending requests, their errors or the polling trouble changed; `arrived` when new
    /// requests came in (the approvals view comes to the front).
    InboxChanged {
        /// New requests arrived.
        arrived: bool,
    },
    /// The push history changed.
    HistoryChanged,
    /// Bring the window to the front (a notification or the tray was clicked).
    Raise,
    /// End the app (Quit in the tray menu).
    Quit,
    /// The desktop's tray came or went (settings say whether closing the window quits).
    TrayChanged,
    /// Put the keyboard in the search field (the global shortcut brought the window up).
    FocusSearch,
    /// Hide the window again (a code was picked after the global shortcut brought it up).
    Dismiss,
    /// The global shortcut's binding changed ([`State::shortcut_status`]).
    ShortcutChanged,
    /// What is known about the computer's clock changed (offset, source, time server check).
    ClockChanged,
}

/// The unlock screen's state.
#[derive(Debug, Default)]
pub struct UnlockState {
    /// Key derivation is running.
    pub busy: bool,
    /// Why the last attempt failed.
    pub problem: Option<OpenError>,
}

/// The model's state; screens read it through [`Model::state`].
pub struct State {
    /// The outside world.
    pub deps: Deps,
    /// The preferences.
    pub settings: Settings,
    /// The failed-unlock record.
    pub attempts: Attempts,
    /// The open vault.
    pub vault: Option<Unlocked>,
    /// The slots of the vault on disk (`None`: none yet, or unreadable).
    pub summary: Option<VaultSummary>,
    /// The unlock screen's state.
    pub unlock: UnlockState,
    /// The search text.
    pub search: String,
    /// The account whose details are open.
    pub selected: Option<String>,
    /// A scanned account waiting for the add form.
    pub draft: Option<Draft>,
    /// The push inbox.
    pub inbox: Inbox,
    /// How far the computer's clock is off ([`clock`]).
    pub clock: clock::ClockCheck,
    last_second: u64,
    last_activity: u64,
    /// The code we put on the clipboard and when to clear it.
    copied: Option<(Zeroizing<String>, u64)>,
    /// History items of requests that ended while the vault was locked, saved at the next
    /// unlock.
    unsaved_history: Vec<PushHistoryItem>,
    /// Words notifications in the UI's language (the screens set it; English without a
    /// window).
    pub words: Rc<dyn Fn(announce::Words<'_>) -> String>,
    /// How the global shortcut stands.
    pub shortcut_status: crate::platform::shortcut::Binding,
    /// The global shortcut's service (none until [`Model::start_global_shortcut`]).
    shortcut: Option<shortcut::Service>,
    /// The window was brought up by the global shortcut: picking a code hides it again.
    summoned: bool,
    /// The account whose recovery codes are revealed ([`recovery`]).
    revealed_recovery: Option<String>,
    /// The backup reminder's record ([`reminder`]).
    reminder: reminder::BackupReminder,
}

impl State {
    /// Returns the entries of the open vault (none when locked).
    pub fn entries(&self) -> &[tessera_core::vault::Entry] {
        self.vault.as_ref().map_or(&[], |v| &v.content().entries)
    }

    /// Returns the time now.
    pub fn now(&self) -> u64 {
        self.deps.clock.now()
    }
}

type Listener = Rc<dyn Fn(&Model, &Event)>;

struct Inner {
    state: RefCell<State>,
    list: Rc<AccountList>,
    listeners: RefCell<Vec<Listener>>,
    icons: Rc<icons::ServiceIcons>,
}

/// A handle on the model (cheap to clone; all clones share it).
#[derive(Clone)]
pub struct Model {
    inner: Rc<Inner>,
}

/// A handle that does not keep the model alive (for callbacks stored in the window).
#[derive(Clone)]
pub struct WeakModel(Weak<Inner>);

impl WeakModel {
    /// Returns the model if it still exists.
    pub fn upgrade(&self) -> Option<Model> {
        self.0.upgrade().map(|inner| Model { inner })
    }
}

impl Model {
    /// Creates the model on `deps`: reads the settings and the unlock record.
    pub fn new(deps: Deps) -> Self {
        let settings = Settings::load(&deps.home);
        let attempts = Attempts::load(&deps.home);
        let reminder = reminder::BackupReminder::load(&deps.home);
        let now = deps.clock.now();
        let icons = Rc::new(icons::ServiceIcons::new(&deps.home));
        let list = Rc::new(AccountList::default());
        list.set_icons(Rc::clone(&icons));
        let state = State {
            deps,
            settings,
            attempts,
            vault: None,
            summary: None,
            unlock: UnlockState::default(),
            search: String::new(),
            selected: None,
            draft: None,
            inbox: Inbox::default(),
            clock: clock::ClockCheck::default(),
            last_second: 0,
            last_activity: now,
            copied: None,
            unsaved_history: Vec::new(),
            words: Rc::new(announce::english),
            shortcut_status: crate::platform::shortcut::Binding::Unsupported,
            shortcut: None,
            summoned: false,
            revealed_recovery: None,
            reminder,
        };
        list.set_hiding(state.settings.hide_codes);
        let model = Self {
            inner: Rc::new(Inner {
                state: RefCell::new(state),
                list,
                listeners: RefCell::new(Vec::new()),
                icons,
            }),
        };
        model.start_push_worker();
        model
    }

    /// Returns a weak handle.
    pub fn downgrade(&self) -> WeakModel {
        WeakModel(Rc::downgrade(&self.inner))
    }

    /// Reads the state.
    pub fn state(&self) -> Ref<'_, State> {
        self.inner.state.borrow()
    }

    /// Changes the state directly (screens: form-only state such as the search text).
    pub fn state_mut(&self) -> RefMut<'_, State> {
        self.inner.state.borrow_mut()
    }

    /// Returns the accounts list (a `slint::Model`).
    pub fn list(&self) -> Rc<AccountList> {
        Rc::clone(&self.inner.list)
    }

    /// Returns the service icons (the catalogue is read on first use).
    pub fn icons(&self) -> Rc<icons::ServiceIcons> {
        Rc::clone(&self.inner.icons)
    }

    /// Calls `listener` for every event from now on.
    pub fn subscribe(&self, listener: impl Fn(&Self, &Event) + 'static) {
        self.inner.listeners.borrow_mut().push(Rc::new(listener));
    }

    /// Tells every listener; the state must not be borrowed by the caller.
    pub fn emit(&self, event: &Event) {
        let listeners: Vec<Listener> = self.inner.listeners.borrow().clone();
        for listener in listeners {
            listener(self, event);
        }
        if matches!(
            event,
            Event::InboxChanged { .. }
                | Event::Locked
                | Event::Unlocked
                | Event::PushAccountsChanged
                | Event::TrayChanged
        ) {
            self.refresh_tray();
        }
        if *event == Event::PushAccountsChanged {
            self.keep_standby();
        }
        if matches!(event, Event::Backup(BackupOutcome::Written(_))) {
            self.backup_reminder_copied();
        }
    }

    /// Sends the user to `view`.
    pub fn show(&self, view: View) {
        if view != View::Accounts {
            // Gone elsewhere: no longer a quick pick.
            self.state_mut().summoned = false;
        }
        self.emit(&Event::Show(view));
    }

    /// Shows a short message.
    pub fn notice(&self, notice: Notice) {
        self.emit(&Event::Notice(notice));
    }

    /// Returns how slow work runs.
    pub fn background(&self) -> Background {
        self.state().deps.background
    }

    /// Returns the time now.
    pub fn now(&self) -> u64 {
        self.state().now()
    }

    /// Records user activity (resets the idle lock).
    pub fn touch(&self) {
        let mut state = self.state_mut();
        state.last_activity = state.now();
    }

    // --- unlocking -----------------------------------------------------------------------

    /// Decides the first view: create, unlock (possibly at once: a password file, or a
    /// keyring-only vault), or the unlock view with the reason the vault cannot be read.
    pub fn start(&self) {
        self.hear_notifications();
        self.hear_tray();
        self.refresh_tray();
        let (inspected, password_file) = {
            let state = self.state();
            (state.deps.vault.inspect(), state.deps.password_file.clone())
        };
        match inspected {
            Ok(None) => self.show(View::FirstRun),
            Ok(Some(summary)) => {
                self.state_mut().summary = Some(summary);
                self.emit(&Event::UnlockChanged);
                self.show(View::Unlock);
                self.listen_before_unlock();
                if let Some(path) = password_file.filter(|_| summary.has_password) {
                    match std::fs::read_to_string(&path) {
                        Ok(text) => {
                            let password = text.trim_end_matches(['\n', '\r']).to_owned();
                            self.unlock(Unlock::Password(Zeroizing::new(password)));
                        }
                        Err(error) => {
                            self.state_mut().unlock.problem =
                                Some(OpenError::PasswordFile { path, error });
                            self.emit(&Event::UnlockChanged);
                        }
                    }
                } else if summary.has_keyring && !summary.has_password {
                    self.unlock(Unlock::Keyring);
                }
            }
            Err(error) => {
                {
                    let mut state = self.state_mut();
                    state.summary = None;
                    state.unlock.problem = Some(OpenError::Vault(error));
                }
                self.emit(&Event::UnlockChanged);
                self.show(View::Unlock);
            }
        }
    }

    /// Seconds until the next unlock attempt is allowed.
    pub fn unlock_wait(&self) -> u64 {
        let state = self.state();
        state.attempts.wait_at(state.now())
    }

    /// Opens the vault off the UI thread; failed password attempts grow the delay (shared
    /// with the CLI through the core's record).
    pub fn unlock(&self, how: Unlock) {
        let vault_file = {
            let mut state = self.state_mut();
            // The CLI counts its failures in the same record: pick them up.
            state.attempts = Attempts::load(&state.deps.home);
            if state.attempts.wait_at(state.now()) > 0 {
                drop(state);
                self.emit(&Event::UnlockChanged);
                return;
            }
            state.unlock = UnlockState { busy: true, problem: None };
            state.deps.vault.clone()
        };
        self.emit(&Event::UnlockChanged);
        let with_password = matches!(how, Unlock::Password(_));
        let weak = self.downgrade();
        task::run(
            self.background(),
            move || vault_file.open(&how),
            move |result| {
                let Some(model) = weak.upgrade() else { return };
                model.state_mut().unlock.busy = false;
                match result {
                    Ok(vault) => {
                        {
                            let mut state = model.state_mut();
                            if state.attempts.failures > 0 {
                                state.attempts = state.attempts.after(true, state.now());
                                let _ = state.attempts.save(&state.deps.home);
                            }
                        }
                        model.opened(vault);
                    }
                    Err(error) => {
                        {
                            let mut state = model.state_mut();
                            if with_password && matches!(error, VaultError::WrongPassword) {
                                state.attempts = state.attempts.after(false, state.now());
                                // Losing the record only weakens the delay; the user gets in.
                                let _ = state.attempts.save(&state.deps.home);
                            }
                            state.unlock.problem = Some(OpenError::Vault(error));
                        }
                        model.emit(&Event::UnlockChanged);
                    }
                }
            },
        );
    }

    /// Creates the vault off the UI thread, then opens it; `done` gets the error if any.
    pub fn create(
        &self,
        protection: NewProtection,
        done: impl FnOnce(Option<VaultError>) + 'static,
    ) {
        let keyring = matches!(protection, NewProtection::Keyring);
        let vault_file = self.state().deps.vault.clone();
        let weak = self.downgrade();
        task::run(
            self.background(),
            move || vault_file.create(protection),
            move |result| {
                let Some(model) = weak.upgrade() else { return };
                match result {
                    Ok(vault) => {
                        model.state_mut().summary =
                            Some(VaultSummary { has_password: !keyring, has_keyring: keyring });
                        done(None);
                        model.opened(vault);
                    }
                    Err(error) => done(Some(error)),
                }
            },
        );
    }

    /// Takes an opened vault: builds the list, listens for push requests (keeping the
    /// session that went on while locked, with its pending requests, which come to the front
    /// at once), saves what ended while locked, and shows the accounts (with a rollback
    /// warning if the file is an older copy).
    fn opened(&self, vault: Unlocked) {
        let rollback = vault.rollback().map(ToString::to_string);
        let accounts = vault.content().push_accounts.clone();
        let (unsaved, listening) = {
            let mut state = self.state_mut();
            state.summary = Some(vault.summary());
            state.vault = Some(vault);
            state.last_activity = state.now();
            let listening = state.inbox.listens_to(&accounts);
            (std::mem::take(&mut state.unsaved_history), listening)
        };
        self.note_accounts();
        self.rebuild_list();
        self.emit(&Event::Unlocked);
        self.show(View::Accounts);
        if self.state().summoned {
            self.emit(&Event::FocusSearch);
        }
        if !unsaved.is_empty() {
            let _ = self.commit(|content| content.push_history.extend(unsaved));
        }
        self.emit(&Event::PushAccountsChanged);
        self.emit(&Event::HistoryChanged);
        if listening {
            let waiting = !self.state().inbox.pending().is_empty();
            self.emit(&Event::InboxChanged { arrived: waiting });
        } else {
            let reports = self.state_mut().inbox.listen(accounts);
            self.apply_reports(reports);
        }
        if let Some(warning) = rollback {
            self.notice(Notice::Error(warning));
        }
    }

    /// Sends clicks in notifications (which arrive on a notification thread) to
    /// [`Model::respond`] on the UI thread. Tests without an event loop call `respond`.
    fn hear_notifications(&self) {
        if self.state().deps.background != Background::Thread {
            return;
        }
        let weak = self.downgrade();
        let heard = task::stream(move |response: Response| {
            if let Some(model) = weak.upgrade() {
                model.respond(&response);
            }
            true
        });
        match heard {
            Ok(sender) => self.state().deps.notify.on_response(Box::new(move |response| {
                sender.send(response);
            })),
            Err(error) => eprintln!("tessera: notification buttons will not answer: {error}"),
        }
    }

    /// Stops listening for push requests and forgets the device keys (the app quits); the
    /// notifications of waiting requests are withdrawn.
    pub fn quit(&self) {
        let waiting: Vec<String> =
            self.state().inbox.pending().iter().map(|p| p.request.id.clone()).collect();
        self.state_mut().inbox.stop();
        let notify = Arc::clone(&self.state().deps.notify);
        for id in &waiting {
            notify.withdraw(id);
        }
    }

    /// Acts on a click in a request's notification: opens the window on it, or decides as
    /// the window's buttons do (refused while locked: the window then opens to unlock). A
    /// click on a request no longer waiting, or on a button it never offered, does nothing.
    pub fn respond(&self, response: &Response) {
        let request = self
            .state()
            .inbox
            .pending()
            .iter()
            .find(|p| p.request.id == response.request)
            .map(|p| p.request.clone());
        let Some(request) = request else { return };
        match announce::click(&request, &response.action) {
            Some(announce::Click::Decide(decision)) if self.is_unlocked() => {
                self.decide(&request.id, decision);
            }
            Some(_) => {
                if self.is_unlocked() {
                    self.show(View::Approvals);
                }
                self.emit(&Event::Raise);
            }
            None => {}
        }
    }

    /// Shows the current state in the tray: waiting requests, locked, listening.
    pub fn refresh_tray(&self) {
        let (tray, status) = {
            let state = self.state();
            let waiting: Vec<&tessera_core::push::PushRequest> =
                state.inbox.pending().iter().map(|p| &p.request).collect();
            let status = tray::status(
                &waiting,
                state.vault.is_some(),
                state.inbox.is_listening(),
                &*state.words,
            );
            (Arc::clone(&state.deps.tray), status)
        };
        tray.show(status);
    }

    /// Acts on a choice in the tray menu (or a click on its icon).
    pub fn tray_event(&self, event: &TrayEvent) {
        match event {
            TrayEvent::Open => self.emit(&Event::Raise),
            TrayEvent::Request(id) => {
                let waiting = self.state().inbox.pending().iter().any(|p| &p.request.id == id);
                if waiting && self.is_unlocked() {
                    self.show(View::Approvals);
                }
                self.emit(&Event::Raise);
            }
            TrayEvent::Lock => self.lock(),
            TrayEvent::Quit => self.emit(&Event::Quit),
            TrayEvent::HostChanged => self.emit(&Event::TrayChanged),
        }
    }

    /// Sends tray events (which arrive on the tray's thread) to [`Model::tray_event`] on the
    /// UI thread. Tests without an event loop call `tray_event`.
    fn hear_tray(&self) {
        if self.state().deps.background != Background::Thread {
            return;
        }
        let weak = self.downgrade();
        let heard = task::stream(move |event: TrayEvent| {
            if let Some(model) = weak.upgrade() {
                model.tray_event(&event);
            }
            true
        });
        match heard {
            Ok(sender) => self.state().deps.tray.on_event(Box::new(move |event| {
                sender.send(event);
            })),
            Err(error) => eprintln!("tessera: the tray menu will not answer: {error}"),
        }
    }

    /// Closes the vault (dropping the decrypted entries) and shows the unlock view. Push
    /// requests are still listened for: a locked app announces them and answers after the
    /// unlock (see [`inbox`]).
    pub fn lock(&self) {
        {
            let mut state = self.state_mut();
            if state.vault.is_none() {
                return;
            }
            state.vault = None;
            state.revealed_recovery = None;
            state.selected = None;
            state.draft = None;
            state.search.clear();
            state.unlock = UnlockState::default();
        }
        self.inner.list.clear();
        self.emit(&Event::Locked);
        self.emit(&Event::InboxChanged { arrived: false });
        self.emit(&Event::UnlockChanged);
        self.show(View::Unlock);
    }

    /// True while the vault is open.
    pub fn is_unlocked(&self) -> bool {
        self.state().vault.is_some()
    }

    // --- changing the vault --------------------------------------------------------------

    /// Changes the vault's content and saves, as one step: on failure the content is as it
    /// was and the reason is shown. Rebuilds the list; the automatic backup is written off the
    /// UI thread (its key derivation costs an unlock) and reported when done.
    pub fn commit<T>(&self, change: impl FnOnce(&mut VaultContent) -> T) -> Option<T> {
        let result = {
            let mut state = self.state_mut();
            let clock = Arc::clone(&state.deps.clock);
            let vault = state.vault.as_mut()?;
            vault.commit(&*clock, change)
        };
        match result {
            Ok(value) => {
                self.note_accounts();
                self.rebuild_list();
                self.write_backup();
                Some(value)
            }
            Err(error) => {
                self.notice(Notice::Error(error.to_string()));
                None
            }
        }
    }

    /// Writes the automatic backup of the last save off the UI thread (its key derivation
    /// costs an unlock) and reports it when done; nothing when backups are off.
    pub fn write_backup(&self) {
        let Some(backup) = self.state_mut().vault.as_mut().and_then(Unlocked::take_pending_backup)
        else {
            return;
        };
        let weak = self.downgrade();
        task::run(
            self.background(),
            move || backup.write(),
            move |outcome| {
                let Some(model) = weak.upgrade() else { return };
                if let Some(vault) = model.state_mut().vault.as_mut() {
                    vault.set_last_backup(outcome.clone());
                }
                model.emit(&Event::Backup(outcome));
            },
        );
    }

    /// Runs a slow change on the open vault off the UI thread (protection, backups), then
    /// puts it back and hands the result to `done`.
    pub fn with_vault_off_thread<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Unlocked) -> T + Send + 'static,
        done: impl FnOnce(&Self, T) + 'static,
    ) {
        let Some(vault) = self.state_mut().vault.take() else { return };
        let weak = self.downgrade();
        task::run(
            self.background(),
            move || {
                let mut vault = vault;
                let value = job(&mut vault);
                // Already off the UI thread: write the backup of a save the job made here.
                let backup = vault.write_pending_backup();
                (vault, value, backup)
            },
            move |(vault, value, backup)| {
                let Some(model) = weak.upgrade() else { return };
                {
                    let mut state = model.state_mut();
                    state.summary = Some(vault.summary());
                    state.vault = Some(vault);
                }
                if let Some(outcome) = backup {
                    model.emit(&Event::Backup(outcome));
                }
                done(&model, value);
            },
        );
    }

    // --- the list ------------------------------------------------------------------------

    /// Rebuilds the list from the open vault and the search text.
    pub fn rebuild_list(&self) {
        {
            let state = self.state();
            self.inner.list.rebuild(state.entries(), &state.search, state.code_now());
        }
        self.emit(&Event::ListChanged);
    }

    /// Filters the list.
    pub fn search(&self, text: &str) {
        self.touch();
        self.state_mut().search = text.to_owned();
        self.rebuild_list();
    }

    /// Puts the current code of `id` on the clipboard; it is cleared after the user's delay
    /// (only if it is still ours).
    pub fn copy(&self, id: &str) {
        self.copy_code(id, |otp, now| otp.code_at(now));
    }

    /// Puts the code `code_of(otp, now)` of `id` on the clipboard, as [`Model::copy`] does
    /// (`now` corrected for the clock's offset when the user chose so).
    fn copy_code(
        &self,
        id: &str,
        code_of: impl FnOnce(&tessera_core::otp::OtpParams, u64) -> String,
    ) {
        self.touch();
        let (now, code_now) = {
            let state = self.state();
            (state.now(), state.code_now())
        };
        let outcome = {
            let mut state = self.state_mut();
            let Some(vault) = state.vault.as_mut() else { return };
            let Some(entry) = vault.content().entries.iter().find(|e| e.id == id) else { return };
            // At the clock-corrected time when the user chose the correction (model::clock).
            let code = Zeroizing::new(code_of(&entry.otp, code_now));
            vault.mark_used(id, now);
            let delay = u64::from(state.settings.clipboard_seconds);
            match state.deps.clipboard.set_text(&code) {
                Ok(()) => {
                    state.copied = (delay > 0).then(|| (code, now + delay));
                    Ok(())
                }
                Err(error) => Err(error),
            }
        };
        match outcome {
            Ok(()) => self.notice(Notice::Copied),
            Err(error) => self.notice(Notice::Error(error.to_string())),
        }
    }

    /// Shows the hidden code of `id` for one period ("Hide codes until I click them").
    pub fn reveal(&self, id: &str) {
        self.touch();
        let state = self.state();
        self.inner.list.reveal(state.entries(), id, state.now());
    }

    /// Clears the clipboard if it still holds the code we put there.
    fn clear_clipboard_if_ours(&self) {
        let mut state = self.state_mut();
        if let Some((code, _)) = state.copied.take()
            && state.deps.clipboard.text().as_deref() == Some(code.as_str())
        {
            state.deps.clipboard.clear();
        }
    }

    /// Advances an HOTP account to its next code and saves.
    pub fn next_code(&self, id: &str) {
        self.touch();
        let _ = self.commit(|content| {
            content.entries.iter_mut().find(|e| e.id == id).map(|e| e.otp.advance())
        });
    }

    // --- the clock -----------------------------------------------------------------------

    /// Runs once a second: countdowns, codes that rolled over, the clipboard delay, push
    /// polls and expiry, the idle lock, and the unlock delay's countdown.
    pub fn tick(&self) {
        let now = self.now();
        let (open, clear, idle_out) = {
            let mut state = self.state_mut();
            if now == state.last_second {
                return;
            }
            state.last_second = now;
            let clear = state.copied.as_ref().is_some_and(|(_, at)| now >= *at);
            let idle = u64::from(state.settings.auto_lock_minutes) * 60;
            let idle_out = idle > 0 && now.saturating_sub(state.last_activity) >= idle;
            (state.vault.is_some(), clear, idle_out)
        };
        if clear {
            self.clear_clipboard_if_ours();
        }
        let applied = self.state_mut().inbox.tick(now);
        self.take_applied(applied);
        self.clock_tick(now);
        if !open {
            self.emit(&Event::UnlockChanged);
            return;
        }
        {
            let state = self.state();
            self.inner.list.roll_over(state.entries(), state.code_now());
        }
        self.emit(&Event::Tick);
        if idle_out {
            self.lock();
        }
    }

    // --- push ----------------------------------------------------------------------------

    fn start_push_worker(&self) {
        let (engine, background) = {
            let state = self.state();
            let deps = &state.deps;
            let engine =
                Engine::new(deps.push_backends.clone(), deps.clock.clone(), deps.push_schedule);
            (engine, deps.background)
        };
        let worker = match background {
            Background::Inline => PushWorker::Inline(Box::new(engine)),
            Background::Thread => {
                let weak = self.downgrade();
                let stream = task::stream(move |reports: Vec<Report>| match weak.upgrade() {
                    Some(model) => {
                        model.apply_reports(reports);
                        true
                    }
                    None => false,
                });
                match stream {
                    Ok(sender) => PushWorker::spawn(engine, move |reports| {
                        // Fails only when the event loop has ended (the app is closing).
                        let _ = sender.send(reports);
                    }),
                    Err(error) => {
                        eprintln!("tessera: push approvals are unavailable: {error}");
                        return;
                    }
                }
            }
        };
        self.state_mut().inbox.set_worker(worker);
    }

    /// Applies the push worker's reports.
    pub fn apply_reports(&self, reports: Vec<Report>) {
        let applied = {
            let mut state = self.state_mut();
            let now = state.now();
            state.inbox.apply(reports, now)
        };
        self.take_applied(applied);
    }

    /// Records what the inbox returned (one save for the whole batch; kept for the next
    /// unlock while locked), notifies the desktop of arrivals, and tells the screens. A
    /// locked app announces a request without its details.
    fn take_applied(&self, mut applied: inbox::Applied) {
        if !applied.clock.is_empty() {
            self.take_clock_readings(std::mem::take(&mut applied.clock));
        }
        let open = self.is_unlocked();
        if !applied.history.is_empty() {
            if open {
                let _ = self.commit(|content| content.push_history.extend(applied.history));
                self.emit(&Event::HistoryChanged);
            } else {
                self.state_mut().unsaved_history.extend(applied.history);
            }
        }
        let (notify, words, now) = {
            let state = self.state();
            (Arc::clone(&state.deps.notify), Rc::clone(&state.words), state.now())
        };
        for request in &applied.arrived {
            notify.show(announce::announcement(request, now, open, &*words));
        }
        for id in &applied.gone {
            notify.withdraw(id);
        }
        // Each server notice is shown once, locked or not (it names no secret): a device
        // enrolled by someone else must not go unnoticed.
        for (n, message) in applied.notices.into_iter().enumerate() {
            notify.show(announce::notice(format!("notice-{now}-{n}"), message));
        }
        if applied.changed || !applied.arrived.is_empty() {
            self.emit(&Event::InboxChanged { arrived: !applied.arrived.is_empty() });
        }
    }

    /// Returns true when approving request `id` needs the vault password: its push account's
    /// server asked for the device to be unlocked (privacyIDEA's `pin`/`app_force_unlock`).
    pub fn approval_needs_password(&self, id: &str) -> bool {
        let state = self.state();
        let Some(pending) = state.inbox.pending().iter().find(|p| p.request.id == id) else {
            return false;
        };
        state.vault.as_ref().is_some_and(|v| {
            v.content()
                .push_accounts
                .iter()
                .any(|a| a.serial == pending.request.serial && a.require_password)
        })
    }

    /// Sends the user's decision for request `id` (only while the vault is open). An
    /// approval that needs the vault password (see [`Model::approval_needs_password`]) is
    /// not sent from here, whatever asked for it (a notification's Approve button, a stale
    /// row): the window opens on the request, which asks for the password
    /// ([`Model::approve_with_password`]).
    pub fn decide(&self, id: &str, decision: Decision) {
        self.touch();
        if matches!(decision, Decision::Approve { .. }) && self.approval_needs_password(id) {
            self.show(View::Approvals);
            self.emit(&Event::Raise);
            return;
        }
        self.send_decision(id, decision, None);
    }

    /// Approves request `id` with the vault `password`: checks it off the UI thread (one key
    /// derivation, through the core's `prove_password`) and sends the approval with the
    /// proof; a wrong password sends nothing and marks the request.
    pub fn approve_with_password(
        &self,
        id: &str,
        answer: Option<String>,
        password: Zeroizing<String>,
    ) {
        self.touch();
        if !self.approval_needs_password(id) {
            self.decide(id, Decision::Approve { answer });
            return;
        }
        let id = id.to_owned();
        self.with_vault_off_thread(
            move |vault| vault.prove_password(&password),
            move |model, proved| match proved {
                Ok(proof) => model.send_decision(&id, Decision::Approve { answer }, Some(proof)),
                Err(error) => {
                    let detail = match error {
                        VaultError::WrongPassword => String::new(),
                        other => other.to_string(),
                    };
                    if model.state_mut().inbox.refuse_password(&id, detail) {
                        model.emit(&Event::InboxChanged { arrived: false });
                    }
                }
            },
        );
    }

    fn send_decision(&self, id: &str, decision: Decision, proof: Option<PasswordProof>) {
        let reports = {
            let mut state = self.state_mut();
            if state.vault.is_none() {
                return;
            }
            state.inbox.decide(id, decision, proof)
        };
        let Some(reports) = reports else { return };
        self.emit(&Event::InboxChanged { arrived: false });
        self.apply_reports(reports);
    }

    /// Removes push account `serial` (and its device key) and listens again without it; its
    /// pending requests go with it.
    pub fn remove_push_account(&self, serial: &str) {
        self.touch();
        let removed = self.commit(|content| {
            let before = content.push_accounts.len();
            content.push_accounts.retain(|a| a.serial != serial);
            before != content.push_accounts.len()
        });
        if removed != Some(true) {
            return;
        }
        self.state_mut().inbox.forget_account(serial);
        self.listen_again();
        self.notice(Notice::Deleted);
    }

    /// At a cold start, listens with the push accounts kept in the keyring, if the user asked
    /// for it (the unlock then keeps this session: see [`Model::opened`]).
    fn listen_before_unlock(&self) {
        let accounts = {
            let state = self.state();
            if !state.settings.listen_before_unlock || state.vault.is_some() {
                return;
            }
            state.deps.vault.standby_accounts()
        };
        if accounts.is_empty() {
            return;
        }
        let reports = self.state_mut().inbox.listen(accounts);
        self.emit(&Event::InboxChanged { arrived: false });
        self.apply_reports(reports);
    }

    /// Keeps the open vault's push accounts in the keyring when the user asked to listen
    /// before the first unlock.
    fn keep_standby(&self) {
        let done = {
            let state = self.state();
            let Some(vault) = state.vault.as_ref() else { return };
            if !state.settings.listen_before_unlock {
                return;
            }
            let accounts = &vault.content().push_accounts;
            state.deps.vault.set_standby(&vault.vault_id(), Some(accounts))
        };
        if let Err(error) = done {
            self.notice(Notice::Error(format!(
                "cannot keep the push keys in the keyring: {error}"
            )));
        }
    }

    /// Turns "listen before the first unlock" on (the open vault's push keys go into the
    /// keyring now, or at the next unlock) or off (they are removed from it). A keyring that
    /// fails is told and the setting is left as it was.
    pub fn set_listen_before_unlock(&self, on: bool) {
        let done = {
            let state = self.state();
            let file = &state.deps.vault;
            match (state.vault.as_ref(), on) {
                (Some(vault), true) => {
                    file.set_standby(&vault.vault_id(), Some(&vault.content().push_accounts))
                }
                (Some(vault), false) => file.set_standby(&vault.vault_id(), None),
                (None, true) => Ok(()),
                (None, false) => file.vault_id().map_or(Ok(()), |id| file.set_standby(&id, None)),
            }
        };
        if let Err(error) = done {
            self.notice(Notice::Error(format!(
                "cannot change the push keys in the keyring: {error}"
            )));
            return;
        }
        let mut settings = self.state().settings.clone();
        settings.listen_before_unlock = on;
        self.set_settings(settings);
    }

    /// Restarts polling with the vault's current push accounts.
    pub fn listen_again(&self) {
        let accounts = {
            let state = self.state();
            let Some(vault) = state.vault.as_ref() else { return };
            vault.content().push_accounts.clone()
        };
        self.emit(&Event::PushAccountsChanged);
        self.emit(&Event::HistoryChanged);
        let reports = self.state_mut().inbox.listen(accounts);
        self.emit(&Event::InboxChanged { arrived: false });
        self.apply_reports(reports);
    }

    /// Returns the push history, newest first, at most `limit` items.
    pub fn history(&self, limit: usize) -> Vec<PushHistoryItem> {
        let state = self.state();
        let Some(vault) = state.vault.as_ref() else { return Vec::new() };
        vault.content().push_history.iter().rev().take(limit).cloned().collect()
    }

    // --- settings ------------------------------------------------------------------------

    /// Replaces the settings and saves them.
    pub fn set_settings(&self, settings: Settings) {
        self.touch();
        let hiding = settings.hide_codes;
        let saved = {
            let mut state = self.state_mut();
            state.settings = settings;
            state.settings.save(&state.deps.home)
        };
        if hiding != self.inner.list.hiding() {
            self.inner.list.set_hiding(hiding);
            self.rebuild_list();
        }
        if let Err(error) = saved {
            self.notice(Notice::Error(error.to_string()));
        }
    }

    /// Whether closing the window should only hide it (the app keeps running and listening
    /// for push requests): the user's setting, by default on while push accounts are polled.
    pub fn keeps_running(&self) -> bool {
        self.state().settings.keeps_running(self.keep_running_by_default())
    }

    /// Whether closing the window keeps the app running unless the user chose otherwise:
    /// while push requests are listened for and a tray shows the app (with no tray, a
    /// hidden app could only be found by starting it again).
    pub fn keep_running_by_default(&self) -> bool {
        let state = self.state();
        state.inbox.is_listening() && state.deps.tray.host() != Host::Missing
    }

    /// Turns "Start at login" on or off: the autostart entry starts this program with
    /// `--background`. A failure is told and changes nothing.
    pub fn set_start_at_login(&self, on: bool) {
        let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("tessera-gui"));
        let done = self.state().deps.autostart.set(on, &program);
        if let Err(error) = done {
            self.notice(Notice::Error(format!("cannot change the autostart entry: {error}")));
        }
    }

    /// Remembers the window size (losing it is harmless).
    pub fn remember_window_size(&self, size: (f32, f32)) {
        let mut state = self.state_mut();
        state.settings.window_size = Some(size);
        let _ = state.settings.save(&state.deps.home);
    }

    /// Hands a scanned account to the add form and shows it.
    pub fn hand_to_form(&self, draft: Draft) {
        self.state_mut().draft = Some(draft);
        self.show(View::AddAccount);
    }

    /// Runs a still scan's work off the UI thread.
    pub fn scan<T: Send + 'static>(
        &self,
        job: impl FnOnce(&dyn ScanSources) -> Result<T, CaptureError> + Send + 'static,
        done: impl FnOnce(&Self, Result<T, CaptureError>) + 'static,
    ) {
        self.touch();
        let sources = Arc::clone(&self.state().deps.scan_sources);
        let weak = self.downgrade();
        task::run(
            self.background(),
            move || job(&*sources),
            move |result| {
                if let Some(model) = weak.upgrade() {
                    done(&model, result);
                }
            },
        );
    }
}

#[cfg(test)]
mod tests;
