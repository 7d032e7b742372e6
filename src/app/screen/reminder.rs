//! The backup reminder banner on the accounts screen (the rule is `model::reminder`): shown
//! or hidden as time passes and the accounts change; "Turn on backups" opens the settings,
//! where backups are set up; "Dismiss" hides it until a week after the next change.

use slint::ComponentHandle;

use crate::model::{Event, Model, View};
use crate::ui::{AppWindow, BackupReminderAdapter};

fn refresh(ui: &AppWindow, model: &Model) {
    let due = model.backup_reminder_due();
    let adapter = ui.global::<BackupReminderAdapter>();
    if adapter.get_shown() != due {
        adapter.set_shown(due);
    }
}

/// Wires the banner.
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let adapter = window.global::<BackupReminderAdapter>();
    let m = model.downgrade();
    adapter.on_turn_on(move || {
        if let Some(model) = m.upgrade() {
            model.touch();
            model.show(View::Settings);
        }
    });
    let (m, handle) = (model.downgrade(), window.as_weak());
    adapter.on_dismiss(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.dismiss_backup_reminder();
        refresh(&ui, &model);
    });
    let handle = window.as_weak();
    model.subscribe(move |model, event| {
        let Some(ui) = handle.upgrade() else { return };
        if matches!(
            event,
            Event::Tick
                | Event::Unlocked
                | Event::Locked
                | Event::ListChanged
                | Event::Backup(_)
                | Event::Show(_)
        ) {
            refresh(&ui, model);
        }
    });
}
