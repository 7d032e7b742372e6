//! The clock check on screen: the banner above the accounts and the Clock section of
//! Settings, both from the model's estimate (`model::clock`).

use slint::{ComponentHandle, SharedString};
use tessera_core::clock::offset::{Source, amount};
use tessera_core::push::format_utc;

use super::int;
use crate::model::{Event, Model};
use crate::ui::{AppWindow, ClockAdapter, ClockSource, ClockState};

/// Shows what the model knows about the clock.
fn fill(adapter: &ClockAdapter<'_>, model: &Model) {
    let state = model.state();
    let clock = &state.clock;
    match clock.estimate() {
        Some(estimate) => {
            let seconds = estimate.seconds();
            adapter.set_state(match seconds {
                0 => ClockState::Right,
                s if s > 0 => ClockState::Fast,
                _ => ClockState::Slow,
            });
            adapter.set_amount(amount(seconds.unsigned_abs()).into());
            adapter.set_uncertainty(int(estimate.uncertainty_seconds()));
            adapter.set_warn(estimate.needs_warning());
            adapter.set_source(match estimate.source {
                Source::PushServer(_) => ClockSource::Push,
                Source::Ntp(_) => ClockSource::Ntp,
            });
            adapter.set_source_name(estimate.source.server().into());
            // `2026-12-06T14:02:13Z` → `2026-12-06 14:02 UTC`.
            let at = format_utc(estimate.measured_at);
            let at = format!("{} UTC", at.get(..16).unwrap_or(&at).replace('T', " "));
            adapter.set_measured_at(at.into());
        }
        None => {
            adapter.set_state(ClockState::Unknown);
            adapter.set_amount(SharedString::new());
            adapter.set_warn(false);
            adapter.set_source(ClockSource::None);
            adapter.set_source_name(SharedString::new());
            adapter.set_measured_at(SharedString::new());
        }
    }
    adapter.set_correct(state.settings.correct_clock);
    adapter.set_ntp_busy(clock.ntp_busy);
    adapter.set_ntp_error(clock.ntp_error.as_str().into());
}

/// Wires the banner and the settings section.
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let adapter = window.global::<ClockAdapter>();
    adapter.set_ntp_server(model.state().settings.ntp_server.as_str().into());
    fill(&adapter, model);
    let m = model.downgrade();
    adapter.on_correct_toggled(move |on| {
        if let Some(model) = m.upgrade() {
            model.set_clock_correction(on);
        }
    });
    let m = model.downgrade();
    adapter.on_check_ntp(move |server| {
        if let Some(model) = m.upgrade() {
            model.set_ntp_server(&server);
        }
    });
    let handle = window.as_weak();
    model.subscribe(move |model, event| {
        if matches!(event, Event::ClockChanged | Event::Unlocked) {
            let Some(ui) = handle.upgrade() else { return };
            fill(&ui.global::<ClockAdapter>(), model);
        }
    });
}
