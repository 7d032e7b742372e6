//! Keyboard-first use: the global shortcut brings the window up with the search ready, Enter
//! copies the top match and hides the window again (a "quick pick"); N copies a row's next
//! code.
//!
//! The shortcut's service (`platform::shortcut`: an X11 grab or the desktop portal) reports
//! from its own thread; its events come to [`Model::global_shortcut_event`] on the UI thread
//! through `task::stream`, like the tray's. Tests without an event loop call that method.

use std::sync::{Arc, Mutex};

use tessera_core::otp::OtpKind;

use super::{Event, Model, View};
use crate::platform::shortcut::{
    Binding, GlobalShortcut, OnShortcutEvent, Shortcut, ShortcutError, ShortcutEvent,
};
use crate::task::{self, Background};

/// The running shortcut service.
pub(super) struct Service {
    service: Box<dyn GlobalShortcut>,
    /// Without an event loop (tests): what the service reported, taken after each call.
    inline: Option<Arc<Mutex<Vec<ShortcutEvent>>>>,
}

impl Model {
    /// Starts the global shortcut service made by `start` (given where to report) and binds
    /// the shortcut in the settings.
    pub fn start_global_shortcut(
        &self,
        start: impl FnOnce(OnShortcutEvent) -> Box<dyn GlobalShortcut>,
    ) {
        let mut inline = None;
        let on_event: OnShortcutEvent = if self.background() == Background::Thread {
            let weak = self.downgrade();
            let heard = task::stream(move |event: ShortcutEvent| {
                if let Some(model) = weak.upgrade() {
                    model.global_shortcut_event(&event);
                }
                true
            });
            match heard {
                Ok(sender) => Arc::new(move |event: ShortcutEvent| {
                    sender.send(event);
                }),
                Err(error) => {
                    eprintln!("tessera: the global shortcut will not answer: {error}");
                    return;
                }
            }
        } else {
            let queue: Arc<Mutex<Vec<ShortcutEvent>>> = Arc::default();
            inline = Some(Arc::clone(&queue));
            Arc::new(move |event: ShortcutEvent| {
                if let Ok(mut queue) = queue.lock() {
                    queue.push(event);
                }
            })
        };
        let service = start(on_event);
        self.state_mut().shortcut = Some(Service { service, inline });
        let written = self.state().settings.global_shortcut.clone();
        match parse(&written) {
            Ok(shortcut) => self.bind_global_shortcut(shortcut),
            Err(error) => self.shortcut_status(Binding::Failed(error.to_string())),
        }
    }

    fn bind_global_shortcut(&self, shortcut: Option<Shortcut>) {
        let inline = {
            let state = self.state();
            let Some(running) = state.shortcut.as_ref() else { return };
            running.service.bind(shortcut);
            running.inline.clone()
        };
        let queued = inline
            .and_then(|queue| queue.lock().ok().map(|mut q| std::mem::take(&mut *q)))
            .unwrap_or_default();
        for event in queued {
            self.global_shortcut_event(&event);
        }
    }

    fn shortcut_status(&self, binding: Binding) {
        self.state_mut().shortcut_status = binding;
        self.emit(&Event::ShortcutChanged);
    }

    /// Acts on what the shortcut's service reports.
    pub fn global_shortcut_event(&self, event: &ShortcutEvent) {
        match event {
            ShortcutEvent::Pressed { time } => self.summon(*time),
            ShortcutEvent::Status(binding) => self.shortcut_status(binding.clone()),
        }
    }

    /// Uses `written` ("Ctrl+Alt+T"; empty: none) as the global shortcut: saves it and binds
    /// it. Keys that are not a shortcut change nothing and say why.
    pub fn set_global_shortcut(&self, written: &str) -> Result<(), ShortcutError> {
        let shortcut = parse(written)?;
        let mut settings = self.state().settings.clone();
        settings.global_shortcut = shortcut.map(|s| s.to_string()).unwrap_or_default();
        self.set_settings(settings);
        if self.state().shortcut.is_some() {
            self.bind_global_shortcut(shortcut);
        } else {
            self.shortcut_status(if shortcut.is_some() {
                Binding::Unsupported
            } else {
                Binding::Off
            });
        }
        Ok(())
    }

    /// The global shortcut was pressed: the window comes up on the accounts with an empty
    /// search in focus (or on the unlock screen, and the search after the unlock); picking a
    /// code then hides it again.
    pub fn summon(&self, time: u32) {
        self.touch();
        {
            let mut state = self.state_mut();
            state.summoned = true;
            state.search.clear();
        }
        if self.is_unlocked() {
            self.rebuild_list();
            self.show(View::Accounts);
            self.emit(&Event::FocusSearch);
        }
        self.emit(&Event::Raise);
        let state = self.state();
        if let Some(running) = state.shortcut.as_ref() {
            running.service.activate(time);
        }
    }

    /// Whether the window was brought up by the global shortcut and not left since.
    pub fn summoned(&self) -> bool {
        self.state().summoned
    }

    /// Copies the code of `id` picked from the search (Enter); after the global shortcut the
    /// window hides again.
    pub fn pick(&self, id: &str) {
        self.copy(id);
        self.dismiss();
    }

    /// Hides the window again if the global shortcut brought it up (Esc); true if it did.
    pub fn dismiss(&self) -> bool {
        if !std::mem::take(&mut self.state_mut().summoned) {
            return false;
        }
        self.emit(&Event::Dismiss);
        true
    }

    /// Copies the next code of `id` (N in the list): the next period's code of a time-based
    /// account, for when the current one is about to run out; a counter-based account is
    /// advanced (and saved) and its new code copied.
    pub fn copy_next(&self, id: &str) {
        let hotp =
            self.state().entries().iter().find(|e| e.id == id).map(|e| e.otp.kind == OtpKind::Hotp);
        match hotp {
            None => {}
            Some(true) => {
                let advanced = self.commit(|content| {
                    content.entries.iter_mut().find(|e| e.id == id).map(|e| e.otp.advance())
                });
                if matches!(advanced, Some(Some(Ok(_)))) {
                    self.copy(id);
                }
            }
            Some(false) => self.copy_code(id, |otp, now| {
                otp.code_for_counter(otp.counter_at(now).saturating_add(1))
            }),
        }
    }
}

/// Reads the written shortcut: empty is none.
fn parse(written: &str) -> Result<Option<Shortcut>, ShortcutError> {
    if written.trim().is_empty() { Ok(None) } else { written.parse().map(Some) }
}
