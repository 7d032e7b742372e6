//! The window around the views: which view is on show, the lock button and idle tracking,
//! the toast at the bottom, and the banner for a failed automatic backup.

use std::rc::Rc;
use std::time::Duration;

use slint::{ComponentHandle, SharedString, Timer, TimerMode};
use tessera_core::transfer::backup::BackupOutcome;

use crate::model::{Event, Model, View};
use crate::ui::{AppAdapter, AppWindow, Screen};

/// How long a toast stays.
const TOAST_TIME: Duration = Duration::from_millis(1800);

/// The Slint screen of a model view.
pub(crate) fn screen_of(view: View) -> Screen {
    match view {
        View::FirstRun => Screen::FirstRun,
        View::Unlock => Screen::Unlock,
        View::Accounts => Screen::Accounts,
        View::AddAccount => Screen::AddAccount,
        View::Scan => Screen::Scan,
        View::Details => Screen::Details,
        View::Settings => Screen::Settings,
        View::Approvals => Screen::Approvals,
        View::ShowQr => Screen::ShowQr,
        View::Import => Screen::Import,
        View::Export => Screen::Export,
        View::Recovery => Screen::Recovery,
    }
}

/// Wires the window frame.
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let app = window.global::<AppAdapter>();
    let m = model.downgrade();
    app.on_lock(move || {
        if let Some(model) = m.upgrade() {
            model.lock();
        }
    });
    let m = model.downgrade();
    app.on_activity(move || {
        if let Some(model) = m.upgrade() {
            model.touch();
        }
    });
    app.set_unlocked(false);

    let toast_timer = Rc::new(Timer::default());
    let handle = window.as_weak();
    model.subscribe(move |_, event| {
        let Some(ui) = handle.upgrade() else { return };
        let app = ui.global::<AppAdapter>();
        match event {
            Event::Show(view) => app.set_screen(screen_of(*view)),
            Event::Unlocked => app.set_unlocked(true),
            Event::Locked => app.set_unlocked(false),
            Event::Notice(notice) => {
                let (toast, detail) = crate::notice::toast(notice);
                app.set_toast(toast);
                app.set_toast_detail(detail.into());
                let weak = ui.as_weak();
                toast_timer.start(TimerMode::SingleShot, TOAST_TIME, move || {
                    if let Some(ui) = weak.upgrade() {
                        ui.global::<AppAdapter>().set_toast(crate::ui::Toast::None);
                    }
                });
            }
            Event::Backup(BackupOutcome::Failed(reason)) => {
                app.set_backup_problem(reason.as_str().into());
            }
            Event::Backup(BackupOutcome::Written(_)) => app.set_backup_problem(SharedString::new()),
            _ => {}
        }
    });
}
