//! Desktop notifications (freedesktop Notifications over D-Bus through `notify-rust`).

use std::sync::Arc;

/// Shows a desktop notification with a title and a body; must not fail loudly.
pub type Notify = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// Shows a desktop notification; failures (no notification daemon, no D-Bus) are logged and
/// otherwise ignored. Runs on its own short-lived thread: the D-Bus call may block.
pub fn notify_desktop(title: &str, body: &str) {
    #[cfg(not(target_os = "android"))]
    {
        let (title, body) = (title.to_owned(), body.to_owned());
        let spawned = std::thread::Builder::new().name("tessera-notify".into()).spawn(move || {
            let shown = notify_rust::Notification::new()
                .appname("Tessera")
                .summary(&title)
                .body(&body)
                .show();
            if let Err(error) = shown {
                eprintln!("tessera: cannot show a desktop notification: {error}");
            }
        });
        if let Err(error) = spawned {
            eprintln!("tessera: cannot show a desktop notification: {error}");
        }
    }
    #[cfg(target_os = "android")]
    let _ = (title, body);
}
