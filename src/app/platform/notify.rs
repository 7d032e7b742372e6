//! Desktop notifications for push requests, with buttons where the desktop offers them.
//!
//! On Linux and the BSDs this speaks the freedesktop Notifications protocol
//! (`org.freedesktop.Notifications` on the session bus) directly through zbus, already in the
//! tree: one thread owns the connection and shows or withdraws notifications in order, and
//! another turns `ActionInvoked` signals into [`Response`]s. Written here rather than with
//! `notify-rust`, which waits for a click with one blocking thread per notification and can
//! close a notification only through the handle that wait consumes: a request answered in the
//! window or withdrawn by the server must close its notification by id. A notification server
//! without the `actions` capability gets the same notification without buttons.
//!
//! On Windows and macOS (untested here) notifications are plain, through `notify-rust`:
//! answering needs the window there.

use std::time::Duration;

/// A notification about one push request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The request it is about: announcing it again replaces the notification.
    pub request: String,
    /// The first line (the service).
    pub title: String,
    /// The rest: the question, where the login comes from, the time left.
    pub body: String,
    /// Buttons as (action key, label); the key `default` is a click on the notification.
    pub actions: Vec<(String, String)>,
    /// How long it should stay up (the request's time left).
    pub expires_in: Option<Duration>,
}

/// A click in a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The request the notification was about.
    pub request: String,
    /// The action key of the button (`default` for the notification itself).
    pub action: String,
}

/// Where clicks in notifications go (called on a notification thread).
pub type OnResponse = Box<dyn Fn(Response) + Send + Sync>;

/// Shows and withdraws notifications; must never fail loudly (a desktop without a
/// notification service still runs the app).
pub trait Notifier: Send + Sync {
    /// Shows `announcement`, replacing an earlier one about the same request.
    fn show(&self, announcement: Announcement);
    /// Closes the notification about `request`, if one is up.
    fn withdraw(&self, request: &str);
    /// Sends clicks to `handler` from now on.
    fn on_response(&self, handler: OnResponse);
}

/// No notifications (tests, and a desktop that has no way to show them).
#[derive(Debug, Default)]
pub struct Silent;

impl Notifier for Silent {
    fn show(&self, _announcement: Announcement) {}
    fn withdraw(&self, _request: &str) {}
    fn on_response(&self, _handler: OnResponse) {}
}

#[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
pub use freedesktop::DesktopNotifier;

#[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
mod freedesktop {
    use std::collections::HashMap;
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex, PoisonError};

    use zbus::blocking::{Connection, MessageIterator};
    use zbus::message::Type;
    use zbus::zvariant::Value;

    use super::{Announcement, Notifier, OnResponse, Response};

    const DEST: &str = "org.freedesktop.Notifications";
    const PATH: &str = "/org/freedesktop/Notifications";

    enum Job {
        Show(Announcement),
        Withdraw(String),
    }

    /// Notification id (the server's) → request id.
    type Shown = Arc<Mutex<HashMap<u32, String>>>;
    type Handler = Arc<Mutex<Option<OnResponse>>>;

    /// The freedesktop notification service on the session bus (or on a given bus).
    pub struct DesktopNotifier {
        address: Option<String>,
        jobs: Mutex<Option<mpsc::Sender<Job>>>,
        handler: Handler,
    }

    impl DesktopNotifier {
        /// Notifications on the session bus; connects at the first notification.
        pub fn new() -> Self {
            Self { address: None, jobs: Mutex::new(None), handler: Handler::default() }
        }

        /// Notifications on the bus at `address` (tests run a private bus).
        pub fn at(address: &str) -> Self {
            Self { address: Some(address.to_owned()), ..Self::new() }
        }

        fn send(&self, job: Job) {
            let Ok(mut jobs) = self.jobs.lock() else { return };
            if jobs.is_none() {
                let (tx, rx) = mpsc::channel();
                let (address, handler) = (self.address.clone(), Arc::clone(&self.handler));
                let spawned = std::thread::Builder::new()
                    .name("tessera-notify".into())
                    .spawn(move || serve(address.as_deref(), &rx, handler));
                if let Err(error) = spawned {
                    eprintln!("tessera: cannot show desktop notifications: {error}");
                    return;
                }
                *jobs = Some(tx);
            }
            if let Some(jobs) = jobs.as_ref() {
                let _ = jobs.send(job);
            }
        }
    }

    impl Default for DesktopNotifier {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Notifier for DesktopNotifier {
        fn show(&self, announcement: Announcement) {
            self.send(Job::Show(announcement));
        }

        fn withdraw(&self, request: &str) {
            self.send(Job::Withdraw(request.to_owned()));
        }

        fn on_response(&self, handler: OnResponse) {
            if let Ok(mut slot) = self.handler.lock() {
                *slot = Some(handler);
            }
        }
    }

    /// The notification thread: connects, learns whether buttons are supported, listens for
    /// clicks, then carries out the jobs in order until the app drops the notifier.
    fn serve(address: Option<&str>, jobs: &mpsc::Receiver<Job>, handler: Handler) {
        let connected = match address {
            Some(address) => {
                zbus::blocking::connection::Builder::address(address).and_then(|b| b.build())
            }
            None => Connection::session(),
        };
        let connection = match connected {
            Ok(connection) => connection,
            Err(error) => {
                eprintln!("tessera: cannot show desktop notifications: {error}");
                return;
            }
        };
        let buttons = connection
            .call_method(Some(DEST), PATH, Some(DEST), "GetCapabilities", &())
            .and_then(|reply| reply.body().deserialize::<Vec<String>>())
            .is_ok_and(|caps| caps.iter().any(|c| c == "actions"));
        let shown = Shown::default();
        if buttons && let Err(error) = listen(&connection, Arc::clone(&shown), handler) {
            eprintln!("tessera: notification buttons will not answer: {error}");
        }
        for job in jobs {
            let done = match job {
                Job::Show(announcement) => show(&connection, &shown, announcement, buttons),
                Job::Withdraw(request) => withdraw(&connection, &shown, &request),
            };
            if let Err(error) = done {
                eprintln!("tessera: cannot show a desktop notification: {error}");
            }
        }
    }

    /// Subscribes to the service's signals (before the first notification, so no click is
    /// missed) and hands clicks to `handler` on a thread of its own.
    fn listen(connection: &Connection, shown: Shown, handler: Handler) -> zbus::Result<()> {
        let rule = zbus::MatchRule::builder().msg_type(Type::Signal).interface(DEST)?.build();
        let signals = MessageIterator::for_match_rule(rule, connection, None)?;
        std::thread::Builder::new()
            .name("tessera-notify-clicks".into())
            .spawn(move || {
                for message in signals {
                    let Ok(message) = message else { continue };
                    let member = message.header().member().map(|m| m.to_string());
                    match member.as_deref() {
                        Some("ActionInvoked") => {
                            let Ok((id, action)) = message.body().deserialize::<(u32, String)>()
                            else {
                                continue;
                            };
                            let request = shown.lock().ok().and_then(|s| s.get(&id).cloned());
                            let handler = handler.lock();
                            if let (Some(request), Ok(Some(handler))) =
                                (request, handler.as_deref())
                            {
                                handler(Response { request, action });
                            }
                        }
                        Some("NotificationClosed") => {
                            if let Ok((id, _reason)) = message.body().deserialize::<(u32, u32)>()
                                && let Ok(mut shown) = shown.lock()
                            {
                                shown.remove(&id);
                            }
                        }
                        _ => {}
                    }
                }
            })
            .map_err(|e| zbus::Error::InputOutput(Arc::new(e)))?;
        Ok(())
    }

    fn show(
        connection: &Connection,
        shown: &Shown,
        a: Announcement,
        buttons: bool,
    ) -> zbus::Result<()> {
        // Held until the new id is recorded: a click the service sends before its reply to
        // Notify waits for it in the listener instead of finding no request and being lost.
        // The listener is the only other holder, and the reply arrives on zbus's own thread.
        let mut shown = shown.lock().unwrap_or_else(PoisonError::into_inner);
        let replaces = shown.iter().find(|(_, r)| **r == a.request).map_or(0, |(id, _)| *id);
        let actions: Vec<&str> = if buttons {
            a.actions.iter().flat_map(|(key, label)| [key.as_str(), label.as_str()]).collect()
        } else {
            Vec::new()
        };
        let hints: HashMap<&str, Value<'_>> = HashMap::from([
            // A login waits for an answer: critical keeps it up until answered or withdrawn.
            ("urgency", Value::U8(2)),
            ("desktop-entry", Value::from(crate::platform::APP_ID)),
            ("category", Value::from("x-tessera.login-request")),
        ]);
        let timeout = a
            .expires_in
            .map_or(-1, |left| i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1));
        let reply = connection.call_method(
            Some(DEST),
            PATH,
            Some(DEST),
            "Notify",
            &(
                "Tessera",
                replaces,
                "io.github.tessera.Tessera",
                &a.title,
                &a.body,
                actions,
                hints,
                timeout,
            ),
        )?;
        let id: u32 = reply.body().deserialize()?;
        shown.retain(|_, request| *request != a.request);
        shown.insert(id, a.request);
        Ok(())
    }

    fn withdraw(connection: &Connection, shown: &Shown, request: &str) -> zbus::Result<()> {
        let id = shown.lock().ok().and_then(|mut s| {
            let id = s.iter().find(|(_, r)| r.as_str() == request).map(|(id, _)| *id)?;
            s.remove(&id);
            Some(id)
        });
        if let Some(id) = id {
            connection.call_method(Some(DEST), PATH, Some(DEST), "CloseNotification", &(id,))?;
        }
        Ok(())
    }
}

/// Plain notifications through `notify-rust` (Windows, macOS; untested here): no buttons.
#[cfg(not(all(unix, not(target_os = "android"), not(target_os = "macos"))))]
#[derive(Default)]
pub struct DesktopNotifier;

#[cfg(not(all(unix, not(target_os = "android"), not(target_os = "macos"))))]
impl Notifier for DesktopNotifier {
    fn show(&self, announcement: Announcement) {
        #[cfg(not(target_os = "android"))]
        std::thread::spawn(move || {
            let shown = notify_rust::Notification::new()
                .appname("Tessera")
                .summary(&announcement.title)
                .body(&announcement.body)
                .show();
            if let Err(error) = shown {
                eprintln!("tessera: cannot show a desktop notification: {error}");
            }
        });
        #[cfg(target_os = "android")]
        let _ = announcement;
    }

    fn withdraw(&self, _request: &str) {}

    fn on_response(&self, _handler: OnResponse) {}
}
