//! Locks the vault when the desktop's screen locks: a thread listens on the session D-Bus for
//! the screensaver's `ActiveChanged(true)` signal, which GNOME (`org.gnome.ScreenSaver`), KDE
//! and most others (`org.freedesktop.ScreenSaver`), MATE and Cinnamon send when the screen
//! locks or blanks (`loginctl lock-session` makes them do it too).
//!
//! Listening only: nothing is asked of the screensaver, so a desktop without one (or without a
//! session bus) simply never locks the app this way; the idle auto-lock still does.

use std::sync::mpsc;

use zbus::blocking::{Connection, MessageIterator};
use zbus::message::Type;

/// Interfaces whose `ActiveChanged(true)` means the screen is locked or blanked.
const SCREENSAVERS: [&str; 4] = [
    "org.freedesktop.ScreenSaver",
    "org.gnome.ScreenSaver",
    "org.mate.ScreenSaver",
    "org.cinnamon.ScreenSaver",
];

/// Why listening could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for screen locks: {0}")]
pub struct ScreenLockError(#[from] zbus::Error);

/// Connects to the session bus (or the bus at `address`) and subscribes; then a thread calls
/// `on_lock` for every screen lock until the connection ends. Returns once subscribed, so a
/// signal sent after it returns is never missed.
pub fn watch(
    address: Option<&str>,
    on_lock: impl Fn() + Send + 'static,
) -> Result<(), ScreenLockError> {
    let connection = match address {
        Some(address) => zbus::blocking::connection::Builder::address(address)?.build()?,
        None => Connection::session()?,
    };
    let rule = zbus::MatchRule::builder().msg_type(Type::Signal).member("ActiveChanged")?.build();
    let messages = MessageIterator::for_match_rule(rule, &connection, None)?;
    let (ready, started) = mpsc::channel();
    let spawned = std::thread::Builder::new().name("tessera-screen-lock".into()).spawn(move || {
        let _ = ready.send(());
        // Keeps the connection (and so the subscription) alive with the thread.
        let _connection = connection;
        for message in messages {
            let Ok(message) = message else { continue };
            let header = message.header();
            let from_screensaver =
                header.interface().is_some_and(|i| SCREENSAVERS.contains(&i.as_str()));
            if from_screensaver && message.body().deserialize::<bool>().unwrap_or(false) {
                on_lock();
            }
        }
    });
    if let Err(error) = spawned {
        return Err(ScreenLockError(zbus::Error::InputOutput(std::sync::Arc::new(error))));
    }
    let _ = started.recv();
    Ok(())
}
