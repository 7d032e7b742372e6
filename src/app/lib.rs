//! The Tessera app: the desktop GUI (Slint) and the command line, both thin over tessera-core.
//!
//! [`run`] opens the window; [`build`] wires a window to a [`Deps`] without running the event
//! loop, which is how the UI tests drive the real interface with a fake clock and clipboard.
#![allow(unreachable_pub)]

pub mod cli;
pub mod model;
mod notice;
pub mod platform;
mod screen;
pub mod task;

use std::time::Duration;

use slint::{ComponentHandle, Timer, TimerMode};

pub use model::prefs::{Attempts, Language, Settings, ThemeMode};
pub use model::vault::VaultFile;
pub use model::{Deps, Model, push_worker};
pub use platform::capture;
pub use platform::clipboard::{Clipboard, ClipboardError, SystemClipboard};
#[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
pub use platform::screen_lock;
pub use platform::sources::{ScanSources, SystemScanSources};
pub use task::Background;

mod ui;
pub use ui::*;

/// A window wired to its model.
pub struct App {
    window: AppWindow,
    model: Model,
    _tick: Timer,
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
/// unlock. Closing the window saves its size in the settings.
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
    // The only periodic timer: codes are recomputed only for rows whose period rolled over.
    let tick = Timer::default();
    let weak = model.downgrade();
    tick.start(TimerMode::Repeated, Duration::from_secs(1), move || {
        if let Some(model) = weak.upgrade() {
            model.tick();
        }
    });
    let weak = model.downgrade();
    let handle = window.as_weak();
    window.window().on_close_requested(move || {
        if let (Some(model), Some(window)) = (weak.upgrade(), handle.upgrade()) {
            let size = window.window().size().to_logical(window.window().scale_factor());
            model.remember_window_size((size.width, size.height));
        }
        slint::CloseRequestResponse::HideWindow
    });
    model.start();
    model.tick();
    Ok(App { window, model, _tick: tick })
}

/// The application id: names the .desktop file, the AppStream metadata and the window class.
pub const APP_ID: &str = "io.github.tessera.Tessera";

/// Opens the desktop app and returns when its window closes.
pub fn run() -> Result<(), slint::PlatformError> {
    if std::env::var_os("SLINT_BACKEND").is_none() {
        // The software renderer starts fastest and uses least memory (STACK.md); fall back to
        // whatever works if it cannot be selected.
        let _ = slint::BackendSelector::new().renderer_name("software".into()).select();
    }
    // Lets Wayland compositors match the window to the .desktop file; harmless if refused.
    let _ = slint::set_xdg_app_id(APP_ID);
    run_with(Deps::system())
}

/// Opens the app on `deps` and returns when its window closes; the window size is remembered.
pub fn run_with(deps: Deps) -> Result<(), slint::PlatformError> {
    let app = build(deps)?;
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
    app.window.run()
}

/// The Android entry point: the activity glue calls this exported symbol.
#[cfg(target_os = "android")]
#[unsafe(no_mangle)]
#[allow(unsafe_code)] // only `no_mangle`: the symbol name is the Android ABI
fn android_main(app: slint::android::AndroidApp) {
    let home = app.internal_data_path().unwrap_or_else(|| std::path::PathBuf::from("."));
    if slint::android::init(app).is_ok() {
        let _ = run_with(Deps::system_at(home));
    }
}
