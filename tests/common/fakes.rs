//! Fakes for the GUI's `Deps`: a clock the test sets and a clipboard the test reads.
// STYLE.md allows unwrap in tests; these helpers sit outside #[test] functions.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tessera_core::clock::Clock;

/// A clock that reports whatever the test last set.
#[derive(Debug, Default)]
pub struct FakeClock(AtomicU64);

impl FakeClock {
    pub fn at(unix: u64) -> Arc<Self> {
        Arc::new(Self(AtomicU64::new(unix)))
    }

    pub fn set(&self, unix: u64) {
        self.0.store(unix, Ordering::SeqCst);
    }

    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A clipboard that is just a shared string.
#[derive(Debug, Default, Clone)]
pub struct FakeClipboard(pub Rc<RefCell<Option<String>>>);

impl FakeClipboard {
    pub fn content(&self) -> Option<String> {
        self.0.borrow().clone()
    }

    pub fn put(&self, text: &str) {
        *self.0.borrow_mut() = Some(text.to_owned());
    }
}

impl tessera::Clipboard for FakeClipboard {
    fn set_text(&mut self, text: &str) -> Result<(), tessera::ClipboardError> {
        self.put(text);
        Ok(())
    }

    fn text(&mut self) -> Option<String> {
        self.content()
    }

    fn clear(&mut self) {
        *self.0.borrow_mut() = None;
    }
}

/// A notification service that records what the app shows and withdraws.
#[derive(Default)]
pub struct FakeNotifier {
    pub shown: std::sync::Mutex<Vec<tessera::platform::notify::Announcement>>,
    pub withdrawn: std::sync::Mutex<Vec<String>>,
}

impl FakeNotifier {
    /// Each notification shown as "title: first line of the body".
    pub fn notes(&self) -> Vec<String> {
        let shown = self.shown.lock().unwrap();
        shown
            .iter()
            .map(|a| format!("{}: {}", a.title, a.body.lines().next().unwrap_or("")))
            .collect()
    }
}

impl tessera::platform::notify::Notifier for FakeNotifier {
    fn show(&self, announcement: tessera::platform::notify::Announcement) {
        self.shown.lock().unwrap().push(announcement);
    }

    fn withdraw(&self, request: &str) {
        self.withdrawn.lock().unwrap().push(request.to_owned());
    }

    fn on_response(&self, _handler: tessera::platform::notify::OnResponse) {}
}
