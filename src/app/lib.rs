//! The Tessera app: the desktop GUI (Slint) and the command line, both thin over tessera-core.
//!
//! [`run`] opens the window; [`build`] wires a window to a [`Deps`] without running the event
//! loop, which is how the UI tests drive the real interface with a fake clock and clipboard.
#![allow(unreachable_pub)]

pub mod capture;
pub mod cli;
pub mod deps;
pub mod push_worker;
pub mod store;

mod accounts;
mod add_account;
mod approvals;
mod details;
mod qr_view;
mod scan;
#[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
pub mod screen_lock;
mod settings;
mod state;
mod transfer;
mod unlock;

use std::time::Duration;

use slint::{ComponentHandle, TimerMode};

pub use deps::{Background, Clipboard, Deps, ScanSources, SystemClipboard, SystemScanSources};
pub use state::{Attempts, Language, Settings, ThemeMode};

/// The Slint-generated window, adapters and row types (generated code: lints off).
#[allow(clippy::all, clippy::pedantic, clippy::nursery, clippy::unwrap_used, clippy::todo)]
#[allow(unreachable_pub, missing_docs)]
mod ui {
    slint::include_modules!();
}
pub use ui::*;

/// A window wired to its controller.
pub struct App {
    window: AppWindow,
    state: state::Shared,
}

impl App {
    /// Returns the Slint window (tests find elements in it).
    pub fn window(&self) -> &AppWindow {
        &self.window
    }

    /// Runs the once-a-second update now (the timer calls it in the running app).
    pub fn tick(&self) {
        self.state.borrow_mut().tick();
    }

    /// Returns the current settings.
    pub fn settings(&self) -> Settings {
        self.state.borrow().settings.clone()
    }
}

/// Creates the window and wires every screen to `deps`; shows first run or unlock. Closing
/// the window saves its size in the settings.
pub fn build(deps: Deps) -> Result<App, slint::PlatformError> {
    let window = AppWindow::new()?;
    let state = state::State::new(deps, &window);
    settings::apply(&state.borrow().settings, &window);
    accounts::connect(&window, &state);
    add_account::connect(&window, &state);
    unlock::connect(&window, &state);
    details::connect(&window, &state);
    scan::connect(&window, &state);
    qr_view::connect(&window, &state);
    settings::connect(&window, &state);
    approvals::connect(&window, &state);
    transfer::connect(&window, &state);
    let weak = std::rc::Rc::downgrade(&state);
    // The only periodic timer: codes are recomputed only for rows whose period rolled over.
    state.borrow().tick_timer.start(TimerMode::Repeated, Duration::from_secs(1), move || {
        if let Some(state) = weak.upgrade() {
            state.borrow_mut().tick();
        }
    });
    let weak = std::rc::Rc::downgrade(&state);
    let handle = window.as_weak();
    window.window().on_close_requested(move || {
        if let (Some(state), Some(window)) = (weak.upgrade(), handle.upgrade()) {
            let mut state = state.borrow_mut();
            let size = window.window().size().to_logical(window.window().scale_factor());
            state.settings.window_size = Some((size.width, size.height));
            // Losing the window size is harmless.
            let _ = state.settings.save(&state.deps.home);
        }
        slint::CloseRequestResponse::HideWindow
    });
    unlock::start(&state);
    state.borrow_mut().tick();
    Ok(App { window, state })
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
    if let Some((width, height)) = app.state.borrow().settings.window_size {
        app.window.window().set_size(slint::LogicalSize::new(width.max(300.0), height.max(300.0)));
    }
    #[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
    {
        let window = app.window.as_weak();
        let watching = screen_lock::watch(None, move || {
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
