//! The clock check in the app: how far the computer's clock is from the push servers' (their
//! answers' `Date` headers, handed over by the push worker) and from the time server the user
//! names (SNTP, asked off the UI thread at start, hourly and on request). The rules live in
//! `tessera_core::clock::offset`; this keeps the readings, tells the screens when what they
//! show changes ([`Event::ClockChanged`]), writes the estimate next to the preferences for
//! `tessera code` (`clock.json`), and, when the user asks for it, corrects the time codes are
//! generated at ([`State::code_now`]).

use std::sync::Arc;

use tessera_core::clock::offset::{Estimate, Reading, Readings, Stored};
use tessera_core::clock::{Clock, sntp};

use super::{Event, Model, State};
use crate::task;

/// How often the named time server is asked while the app runs (seconds).
const NTP_EVERY: u64 = 3600;

/// While readings come in, `clock.json` is rewritten at least this often (seconds), so the
/// CLI finds a fresh one.
const SAVE_EVERY: u64 = 600;

/// The readings and what is on show.
#[derive(Debug, Default)]
pub struct ClockCheck {
    readings: Readings,
    /// The estimate on show and in `clock.json`.
    shown: Option<Estimate>,
    /// When `clock.json` was last written (local Unix seconds).
    saved_at: u64,
    /// The time server is being asked.
    pub ntp_busy: bool,
    /// Why asking the time server failed last time ("" when it did not).
    pub ntp_error: String,
    /// When the time server was last asked (local Unix seconds; 0: not yet).
    ntp_asked_at: u64,
}

/// What the screens show of an estimate: equal views need no update.
fn view(estimate: Option<&Estimate>) -> Option<(i64, u64, String, bool)> {
    estimate
        .map(|e| (e.seconds(), e.uncertainty_seconds(), e.source.to_string(), e.needs_warning()))
}

impl ClockCheck {
    /// The best current estimate, if any.
    pub fn estimate(&self) -> Option<&Estimate> {
        self.shown.as_ref()
    }

    /// Takes `readings` and works out the estimate at local `now_ms`; true when what the
    /// screens show changed.
    fn update(&mut self, readings: Vec<Reading>, now_ms: u64) -> bool {
        for reading in readings {
            self.readings.add(reading);
        }
        let best = self.readings.best(now_ms);
        let changed = view(best.as_ref()) != view(self.shown.as_ref());
        self.shown = best;
        changed
    }
}

impl State {
    /// The time codes are generated at: now, or, when the user asked Tessera to correct its
    /// codes and an offset is measured, the servers' time.
    pub fn code_now(&self) -> u64 {
        let now = self.now();
        match self.clock.estimate() {
            Some(estimate) if self.settings.correct_clock => estimate.corrected(now),
            _ => now,
        }
    }
}

impl Model {
    /// Takes clock readings (push servers' `Date` headers, the time server's answer):
    /// updates the estimate, keeps `clock.json` fresh, and tells the screens (codes are
    /// recomputed when they are corrected).
    pub fn take_clock_readings(&self, readings: Vec<Reading>) {
        let changed = {
            let mut state = self.state_mut();
            let (now, now_ms) = (state.now(), state.deps.clock.now_millis());
            let arrived = !readings.is_empty();
            let changed = state.clock.update(readings, now_ms);
            let stale = now.saturating_sub(state.clock.saved_at) >= SAVE_EVERY;
            if (changed || (arrived && stale))
                && let Some(estimate) = state.clock.shown.clone()
            {
                // Losing it only leaves `tessera code` without a warning.
                let _ = Stored::save(&state.deps.home, &estimate);
                state.clock.saved_at = now;
            }
            changed
        };
        if changed {
            self.clock_changed();
        }
    }

    fn clock_changed(&self) {
        if self.state().settings.correct_clock {
            self.rebuild_list();
        }
        self.emit(&Event::ClockChanged);
    }

    /// Runs every second: asks the time server at start and then hourly, and lets an old
    /// estimate lapse.
    pub(super) fn clock_tick(&self, now: u64) {
        let due = {
            let state = self.state();
            let clock = &state.clock;
            !state.settings.ntp_server.trim().is_empty()
                && !clock.ntp_busy
                && (clock.ntp_asked_at == 0 || now.saturating_sub(clock.ntp_asked_at) >= NTP_EVERY)
        };
        if due {
            self.check_ntp();
        }
        // No new readings: only the age of the old ones changes.
        self.take_clock_readings(Vec::new());
    }

    /// Asks the time server named in the settings now, off the UI thread.
    pub fn check_ntp(&self) {
        let (server, clock) = {
            let mut state = self.state_mut();
            let server = state.settings.ntp_server.trim().to_owned();
            if server.is_empty() || state.clock.ntp_busy {
                return;
            }
            state.clock.ntp_busy = true;
            state.clock.ntp_error.clear();
            state.clock.ntp_asked_at = state.now();
            let clock: Arc<dyn Clock> = Arc::clone(&state.deps.clock);
            (server, clock)
        };
        self.emit(&Event::ClockChanged);
        let weak = self.downgrade();
        task::run(
            self.background(),
            move || sntp::measure(&server, &*clock, sntp::TIMEOUT),
            move |result| {
                let Some(model) = weak.upgrade() else { return };
                let readings = {
                    let mut state = model.state_mut();
                    state.clock.ntp_busy = false;
                    match result {
                        Ok(reading) => vec![reading],
                        Err(error) => {
                            state.clock.ntp_error = error.to_string();
                            Vec::new()
                        }
                    }
                };
                model.take_clock_readings(readings);
                model.emit(&Event::ClockChanged);
            },
        );
    }

    /// Names the time server to compare the clock with ("" for none), saves it and asks it.
    pub fn set_ntp_server(&self, server: &str) {
        let mut settings = self.state().settings.clone();
        settings.ntp_server = server.trim().to_owned();
        self.set_settings(settings);
        self.state_mut().clock.ntp_error.clear();
        self.check_ntp();
        self.emit(&Event::ClockChanged);
    }

    /// Turns the correction of codes for the measured offset on or off.
    pub fn set_clock_correction(&self, on: bool) {
        let mut settings = self.state().settings.clone();
        settings.correct_clock = on;
        self.set_settings(settings);
        self.rebuild_list();
        self.emit(&Event::ClockChanged);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use tessera_core::clock::offset::Source;

    use super::*;
    use crate::model::testing::{TestClipboard, TestClock, model};

    /// 2026-12-06 14:00:00 UTC.
    const T: u64 = 1_796_565_600;

    fn header(server: &str, local_s: u64, date: u64) -> Reading {
        let sent = local_s * 1000;
        Reading::from_http_date(Source::PushServer(server.into()), sent, sent + 80, date)
    }

    fn setup() -> (tempfile::TempDir, Model, Rc<RefCell<Vec<Event>>>) {
        let home = tempfile::tempdir().unwrap();
        let model = model(home.path(), Arc::new(TestClock(T.into())), TestClipboard::default());
        let events = Rc::new(RefCell::new(Vec::new()));
        let sink = Rc::clone(&events);
        model.subscribe(move |_, event| sink.borrow_mut().push(event.clone()));
        (home, model, events)
    }

    #[test]
    fn a_fast_clock_is_shown_saved_for_the_cli_and_corrected_only_when_asked() {
        let (home, model, events) = setup();
        model.take_clock_readings(vec![header("pi.example", T, T - 47)]);
        assert!(events.borrow().contains(&Event::ClockChanged));
        let estimate = model.state().clock.estimate().cloned().unwrap();
        assert_eq!(estimate.seconds(), 47);
        assert!(estimate.needs_warning());
        assert_eq!(Stored::load(home.path(), T), Some(estimate), "clock.json for the CLI");
        assert_eq!(model.state().code_now(), T, "no correction until asked");
        model.set_clock_correction(true);
        assert_eq!(model.state().code_now(), T - 47);
        assert!(model.state().settings.correct_clock, "the choice is saved");
        model.set_clock_correction(false);
        assert_eq!(model.state().code_now(), T);
    }

    #[test]
    fn unchanged_readings_do_not_disturb_the_screens() {
        let (_home, model, events) = setup();
        model.take_clock_readings(vec![header("pi.example", T, T - 47)]);
        events.borrow_mut().clear();
        model.take_clock_readings(vec![header("pi.example", T + 5, T - 42)]);
        assert!(!events.borrow().contains(&Event::ClockChanged), "{:?}", events.borrow());
    }

    #[test]
    fn a_time_server_that_does_not_answer_is_reported_and_nothing_changes() {
        let (_home, model, _events) = setup();
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = silent.local_addr().unwrap().to_string();
        // sntp::TIMEOUT (3 s) passes: the check runs inline in this test.
        model.set_ntp_server(&server);
        let state = model.state();
        assert_eq!(state.settings.ntp_server, server);
        assert!(!state.clock.ntp_busy);
        assert!(state.clock.ntp_error.contains("did not answer"), "{}", state.clock.ntp_error);
        assert_eq!(state.clock.estimate(), None);
    }
}
