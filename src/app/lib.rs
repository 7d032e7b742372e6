//! The Tessera app: the desktop GUI (Slint) and the command line, both thin over tessera-core.
//!
//! [`run`] opens the window; [`build`] wires a window to a [`Deps`] without running the event
//! loop, which is how the UI tests drive the real interface with a fake clock and clipboard.
#![allow(unreachable_pub)]

pub mod model;
mod notice;
pub mod platform;
mod render;
mod screen;
pub mod task;

use std::rc::Rc;
use std::time::Duration;

use slint::{ComponentHandle, Timer, TimerMode};

pub use model::prefs::{Attempts, Language, Settings, ThemeMode};
pub use model::vault::VaultFile;
pub use model::{Deps, Model, push_worker};
pub use platform::APP_ID;
pub use platform::capture;
pub use platform::clipboard::{Clipboard, ClipboardError, SystemClipboard};
#[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
pub use platform::screen_lock;
pub use platform::sources::{ScanSources, SystemScanSources};
pub use task::Background;
/// The command line lives in its own crate so that the `tessera` binary links no GUI.
pub use tessera_cli as cli;
pub use tessera_cli::Launch;

mod ui;
pub use ui::*;

/// A window wired to its model.
pub struct App {
    window: AppWindow,
    model: Model,
    _tick: Timer,
    /// Gives memory back once the window has stayed hidden a while ([`trim_when_hidden`]).
    trim: Rc<Timer>,
}

impl App {
    /// Returns the Slint window (tests find elements in it).
    pub fn window(&self) -> &AppWindow {
        &self.window
    }

    /// Returns the model behind the window.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Runs the once-a-second update now (the timer calls it in the running app).
    pub fn tick(&self) {
        self.model.tick();
    }

    /// Returns the current settings.
    pub fn settings(&self) -> Settings {
        self.model.state().settings.clone()
    }
}

/// Creates the window and the model on `deps`, wires every screen, and shows first run or
/// unlock. Closing the window saves its size in the settings, and ends the app unless it
/// keeps running in the background ([`Model::keeps_running`]: in the tray); Ctrl+Q and Quit in
/// the tray menu always end it.
pub fn build(deps: Deps) -> Result<App, slint::PlatformError> {
    let window = AppWindow::new()?;
    let model = Model::new(deps);
    screen::shell::connect(&window, &model);
    screen::accounts::connect(&window, &model);
    screen::add_account::connect(&window, &model);
    screen::unlock::connect(&window, &model);
    screen::details::connect(&window, &model);
    screen::scan::connect(&window, &model);
    screen::qr_view::connect(&window, &model);
    screen::settings::connect(&window, &model);
    screen::approvals::connect(&window, &model);
    screen::transfer::connect(&window, &model);
    screen::recovery::connect(&window, &model);
    screen::reminder::connect(&window, &model);
    screen::clock::connect(&window, &model);
    screen::icon_packs::connect(&window, &model);
    // The only periodic timer: codes are recomputed only for rows whose period rolled over.
    let tick = Timer::default();
    let weak = model.downgrade();
    tick.start(TimerMode::Repeated, Duration::from_secs(1), move || {
        if let Some(model) = weak.upgrade() {
            model.tick();
        }
    });
    let trim = Rc::new(Timer::default());
    let weak = model.downgrade();
    let handle = window.as_weak();
    let closed_trim = Rc::clone(&trim);
    window.window().on_close_requested(move || {
        if let (Some(model), Some(window)) = (weak.upgrade(), handle.upgrade()) {
            let size = window.window().size().to_logical(window.window().scale_factor());
            model.remember_window_size((size.width, size.height));
            if model.keeps_running() {
                trim_when_hidden(&closed_trim, window.as_weak());
            } else {
                quit();
            }
        }
        slint::CloseRequestResponse::HideWindow
    });
    window.global::<AppAdapter>().on_quit(quit);
    let handle = window.as_weak();
    let dismissed_trim = Rc::clone(&trim);
    model.subscribe(move |_, event| match (event, handle.upgrade()) {
        (model::Event::Raise, Some(window)) => raise(&window),
        // Hidden, not closed: the app keeps running for the next press of the shortcut.
        (model::Event::Dismiss, Some(window)) => {
            let _ = window.hide();
            trim_when_hidden(&dismissed_trim, window.as_weak());
        }
        (model::Event::Quit, _) => quit(),
        _ => {}
    });
    model.start();
    model.tick();
    Ok(App { window, model, _tick: tick, trim })
}

/// Once the window has stayed hidden for [`platform::memory::DELAY`], gives the memory only
/// the window needed back to the system (see [`platform::memory`]); a window shown again in
/// the meantime cancels it.
fn trim_when_hidden(timer: &Timer, window: slint::Weak<AppWindow>) {
    timer.start(TimerMode::SingleShot, platform::memory::DELAY, move || {
        if window.upgrade().is_some_and(|w| !w.window().is_visible()) {
            platform::memory::trim();
        }
    });
}

/// Ends the event loop of [`run_with`] (fails only when none runs, as in the UI tests).
fn quit() {
    let _ = slint::quit_event_loop();
}

/// Opens the desktop app and returns when it quits. If Tessera already runs in this desktop
/// session, that one is asked to show its window instead and this returns at once.
pub fn run(launch: Launch) -> Result<(), slint::PlatformError> {
    if std::env::var_os("SLINT_BACKEND").is_none() {
        // The software renderer starts fastest and uses least memory (STACK.md); fall back to
        // whatever works if it cannot be selected.
        let _ = slint::BackendSelector::new().renderer_name("software".into()).select();
    }
    // Lets Wayland compositors match the window to the .desktop file; harmless if refused.
    let _ = slint::set_xdg_app_id(APP_ID);
    // The window, once built, for a later launch's Activate (which arrives on a bus thread).
    let shown: std::sync::Arc<std::sync::Mutex<Option<slint::Weak<AppWindow>>>> =
        std::sync::Arc::default();
    #[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
    let _held = {
        let slot = std::sync::Arc::clone(&shown);
        let activate = move || {
            let window = slot.lock().ok().and_then(|w| w.clone());
            if let Some(window) = window {
                let _ = window.upgrade_in_event_loop(|w| raise(&w));
            }
        };
        match platform::instance::claim(None, activate) {
            Ok(platform::instance::Claim::Running) => {
                eprintln!("tessera: already running; its window was brought to the front");
                return Ok(());
            }
            Ok(platform::instance::Claim::First(held)) => Some(held),
            Err(error) => {
                eprintln!("tessera: {error}; starting anyway");
                None
            }
        }
    };
    // Only one app per data folder, whatever the bus could tell (see platform::instance).
    let deps = Deps::system();
    let _app_lock = match platform::instance::AppLock::take(&deps.home) {
        Ok(lock) => Some(lock),
        Err(held @ platform::instance::AppLockError::Held(_)) => {
            eprintln!("tessera: {held}");
            eprintln!("hint: use that one (its window or its tray icon), or quit it first");
            return Ok(());
        }
        Err(error) => {
            eprintln!("tessera: {error}; starting anyway");
            None
        }
    };
    run_with(deps, launch, |window| {
        if let Ok(mut slot) = shown.lock() {
            *slot = Some(window.as_weak());
        }
    })
}

/// Shows the window and brings it to the front (a hidden window is mapped again; a visible
/// one is re-mapped, which window managers raise and focus).
fn raise(window: &AppWindow) {
    let w = window.window();
    w.set_minimized(false);
    if w.is_visible() {
        let _ = w.hide();
    }
    let _ = w.show();
}

/// Opens the app on `deps` and returns when it quits (the window closed while the app does not
/// keep running, or Ctrl+Q); the window size is remembered. `built` sees the window first.
pub fn run_with(
    deps: Deps,
    launch: Launch,
    built: impl FnOnce(&AppWindow),
) -> Result<(), slint::PlatformError> {
    let app = build(deps)?;
    built(&app.window);
    if let Some((width, height)) = app.model.state().settings.window_size {
        app.window.window().set_size(slint::LogicalSize::new(width.max(300.0), height.max(300.0)));
    }
    #[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
    {
        let window = app.window.as_weak();
        let watching = platform::screen_lock::watch(None, move || {
            // Fails only when the event loop has ended (the app is closing).
            let _ = window.upgrade_in_event_loop(|w| w.global::<AppAdapter>().invoke_lock());
        });
        if let Err(error) = watching {
            eprintln!("tessera: {error}; the app locks when idle only");
        }
    }
    // The global shortcut (an X11 grab or the desktop portal) brings the window up.
    app.model.start_global_shortcut(platform::shortcut::system);
    if launch.background {
        trim_when_hidden(&app.trim, app.window.as_weak());
    } else {
        app.window.show()?;
    }
    let ran = slint::run_event_loop_until_quit();
    let _ = app.window.hide();
    // Push polling outlives a lock but not the app: stop it and drop the device keys.
    app.model.quit();
    ran
}

/// The Android entry point: the activity glue calls this exported symbol.
#[cfg(target_os = "android")]
#[unsafe(no_mangle)]
#[allow(unsafe_code)] // only `no_mangle`: the symbol name is the Android ABI
fn android_main(app: slint::android::AndroidApp) {
    let home = app.internal_data_path().unwrap_or_else(|| std::path::PathBuf::from("."));
    if slint::android::init(app).is_ok() {
        let _ = run_with(Deps::system_at(home), Launch::default(), |_| {});
    }
}
