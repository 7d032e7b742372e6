//! The tray icon: Tessera keeps running there when its window is closed.
//!
//! On Linux and the BSDs the icon is a StatusNotifierItem (the KDE/freedesktop protocol that
//! KDE Plasma, GNOME's AppIndicator extension, Xfce, LXQt, Budgie, waybar and others host),
//! served with the `ksni` crate on the session bus: the icon (with a red dot while requests
//! wait), a tooltip with the number of waiting requests, and a menu: Open Tessera, each waiting
//! request, Lock, Quit. A click on the icon opens the window.
//!
//! Whether a tray is shown at all depends on the desktop: the item registers with the
//! `org.kde.StatusNotifierWatcher` on the bus. Without one (plain GNOME without the extension,
//! a bare window manager) nothing shows the icon; [`Tray::host`] says so, the settings tell the
//! user, and closing the window then quits unless the user asks to keep running anyway. A
//! watcher that appears later (a panel restarted) gets the item registered again.
//!
//! Windows and macOS have no implementation here yet (`NoTray`: the host is
//! [`Host::Missing`], so closing the window quits unless the user keeps it running); the
//! `tray-icon` crate is the candidate there, untested on this Linux-only machine.

use std::sync::Arc;

/// What the tray shows: everything is worded already (the model translates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrayStatus {
    /// The tooltip's first line (the app's name).
    pub title: String,
    /// The tooltip's text: waiting requests, locked, not listening yet.
    pub summary: String,
    /// Requests are waiting: the icon shows a red dot and asks for attention.
    pub attention: bool,
    /// The waiting requests as (request id, menu label).
    pub requests: Vec<(String, String)>,
    /// The menu's fixed entries, worded.
    pub labels: TrayLabels,
    /// "Lock" can be chosen (the vault is open).
    pub can_lock: bool,
}

/// The menu's fixed entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrayLabels {
    /// "Open Tessera".
    pub open: String,
    /// "Lock".
    pub lock: String,
    /// "Quit".
    pub quit: String,
}

/// What the user did in the tray, or what changed about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayEvent {
    /// Open Tessera (the menu entry, or a click on the icon).
    Open,
    /// Open the window on this waiting request.
    Request(String),
    /// Lock the vault.
    Lock,
    /// Quit the app.
    Quit,
    /// The desktop's tray came or went ([`Tray::host`] changed).
    HostChanged,
}

/// Whether the desktop shows the tray icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// Not known yet (the icon is still registering).
    Unknown,
    /// A tray shows the icon.
    Present,
    /// Nothing shows it: no StatusNotifierWatcher on the bus (or no bus).
    Missing,
}

/// Where tray events go (called on the tray's thread).
pub type OnTrayEvent = Box<dyn Fn(TrayEvent) + Send + Sync>;

/// The tray icon; like notifications it must never fail loudly.
pub trait Tray: Send + Sync {
    /// Shows `status` (replacing what was shown).
    fn show(&self, status: TrayStatus);
    /// Sends the user's choices to `handler` from now on.
    fn on_event(&self, handler: OnTrayEvent);
    /// Whether the desktop shows the icon.
    fn host(&self) -> Host;
}

/// No tray (tests, and platforms without an implementation).
#[derive(Debug, Default)]
pub struct NoTray;

impl Tray for NoTray {
    fn show(&self, _status: TrayStatus) {}
    fn on_event(&self, _handler: OnTrayEvent) {}
    fn host(&self) -> Host {
        Host::Missing
    }
}

/// The system's tray: a StatusNotifierItem on Linux, [`NoTray`] elsewhere.
pub fn system() -> Arc<dyn Tray> {
    #[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
    {
        Arc::new(sni::StatusNotifier::start())
    }
    #[cfg(not(all(unix, not(target_os = "android"), not(target_os = "macos"))))]
    {
        Arc::new(NoTray)
    }
}

/// Escapes text for the tooltip, whose description is a subset of HTML: a request's title
/// comes from a push server and must not bring its own markup. Only `<`, `>` and `&` (the
/// text is element content; quotes stay readable in hosts that do not know `&apos;`).
pub fn escape_markup(text: &str) -> String {
    quick_xml::escape::partial_escape(text).into_owned()
}

#[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
pub use sni::{StatusNotifier, icon_argb};

#[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
mod sni {
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::sync::{Arc, Mutex, mpsc};

    use ksni::blocking::TrayMethods as _;
    use ksni::menu::{MenuItem, StandardItem};

    use super::{Host, OnTrayEvent, Tray, TrayEvent, TrayStatus, escape_markup};

    const ICON: &[u8] = include_bytes!("../../../assets/icons/tessera.svg");
    const ICON_WAITING: &[u8] = include_bytes!("../../../assets/icons/tessera-waiting.svg");
    /// Pixmap sizes offered: hosts pick the nearest (panels are 16–48 px, HiDPI doubles).
    const SIZES: [u32; 4] = [16, 24, 32, 64];

    const UNKNOWN: u8 = 0;
    const PRESENT: u8 = 1;
    const MISSING: u8 = 2;

    /// State shared by the app's handle and the item served on the bus.
    #[derive(Default)]
    struct Shared {
        host: AtomicU8,
        handler: Mutex<Option<OnTrayEvent>>,
    }

    impl Shared {
        fn send(&self, event: TrayEvent) {
            if let Ok(handler) = self.handler.lock()
                && let Some(handler) = handler.as_ref()
            {
                handler(event);
            }
        }

        fn set_host(&self, host: u8) {
            if self.host.swap(host, Ordering::SeqCst) != host {
                self.send(TrayEvent::HostChanged);
            }
        }
    }

    /// The StatusNotifierItem. A thread registers it (connecting to the bus and the watcher
    /// takes a few milliseconds, kept off the start-up path) and applies status changes in
    /// order; dropping this value removes the icon.
    pub struct StatusNotifier {
        updates: Mutex<mpsc::Sender<TrayStatus>>,
        shared: Arc<Shared>,
    }

    impl StatusNotifier {
        /// Starts registering the icon on the session bus.
        pub fn start() -> Self {
            let (updates, pending) = mpsc::channel::<TrayStatus>();
            let shared = Arc::new(Shared::default());
            let item = Item {
                status: TrayStatus::default(),
                shared: Arc::clone(&shared),
                icons: Arc::new(Icons::render()),
            };
            let thread_shared = Arc::clone(&shared);
            let spawned =
                std::thread::Builder::new().name("tessera-tray".into()).spawn(move || {
                    // A watcher missing now may come later (a panel still starting): the item
                    // stays on the bus and registers then (`watcher_online`).
                    let handle = match item.assume_sni_available(true).spawn() {
                        Ok(handle) => handle,
                        Err(error) => {
                            eprintln!("tessera: no tray icon: {error}");
                            thread_shared.set_host(MISSING);
                            return;
                        }
                    };
                    let _ = thread_shared.host.compare_exchange(
                        UNKNOWN,
                        PRESENT,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    );
                    thread_shared.send(TrayEvent::HostChanged);
                    while let Ok(status) = pending.recv() {
                        // Only the newest of a burst matters.
                        let newest = pending.try_iter().last().unwrap_or(status);
                        handle.update(|item| item.status = newest);
                    }
                    handle.shutdown().wait();
                });
            if let Err(error) = spawned {
                eprintln!("tessera: no tray icon: {error}");
                shared.host.store(MISSING, Ordering::SeqCst);
            }
            Self { updates: Mutex::new(updates), shared }
        }
    }

    impl Tray for StatusNotifier {
        fn show(&self, status: TrayStatus) {
            if let Ok(updates) = self.updates.lock() {
                let _ = updates.send(status);
            }
        }

        fn on_event(&self, handler: OnTrayEvent) {
            if let Ok(mut slot) = self.shared.handler.lock() {
                *slot = Some(handler);
            }
        }

        fn host(&self) -> Host {
            match self.shared.host.load(Ordering::SeqCst) {
                PRESENT => Host::Present,
                MISSING => Host::Missing,
                _ => Host::Unknown,
            }
        }
    }

    /// The icon in each size, normal and with the "requests waiting" dot.
    struct Icons {
        normal: Vec<ksni::Icon>,
        waiting: Vec<ksni::Icon>,
    }

    impl Icons {
        fn render() -> Self {
            let render = |svg| {
                SIZES
                    .iter()
                    .filter_map(|&size| {
                        let data = icon_argb(svg, size)?;
                        let side = i32::try_from(size).ok()?;
                        Some(ksni::Icon { width: side, height: side, data })
                    })
                    .collect()
            };
            Self { normal: render(ICON), waiting: render(ICON_WAITING) }
        }
    }

    /// Renders `svg` to a `size`×`size` ARGB32 pixmap in network byte order, the layout the
    /// StatusNotifierItem protocol carries (`None` if the SVG does not parse).
    pub fn icon_argb(svg: &[u8], size: u32) -> Option<Vec<u8>> {
        let pixmap = crate::render::svg_pixmap(svg, size)?;
        let mut argb = Vec::with_capacity(pixmap.pixels().len() * 4);
        for pixel in pixmap.pixels() {
            let c = pixel.demultiply();
            argb.extend_from_slice(&[c.alpha(), c.red(), c.green(), c.blue()]);
        }
        Some(argb)
    }

    /// The item served on the bus.
    struct Item {
        status: TrayStatus,
        shared: Arc<Shared>,
        icons: Arc<Icons>,
    }

    impl ksni::Tray for Item {
        fn id(&self) -> String {
            crate::platform::APP_ID.into()
        }

        fn title(&self) -> String {
            "Tessera".into()
        }

        fn category(&self) -> ksni::Category {
            ksni::Category::Communications
        }

        fn status(&self) -> ksni::Status {
            if self.status.attention { ksni::Status::NeedsAttention } else { ksni::Status::Active }
        }

        fn icon_pixmap(&self) -> Vec<ksni::Icon> {
            if self.status.attention {
                self.icons.waiting.clone()
            } else {
                self.icons.normal.clone()
            }
        }

        fn attention_icon_pixmap(&self) -> Vec<ksni::Icon> {
            self.icons.waiting.clone()
        }

        fn tool_tip(&self) -> ksni::ToolTip {
            ksni::ToolTip {
                title: self.status.title.clone(),
                description: escape_markup(&self.status.summary),
                ..Default::default()
            }
        }

        fn activate(&mut self, _x: i32, _y: i32) {
            self.shared.send(TrayEvent::Open);
        }

        fn menu(&self) -> Vec<MenuItem<Self>> {
            let labels = &self.status.labels;
            let mut menu = vec![entry(&labels.open, true, |_| TrayEvent::Open)];
            if !self.status.requests.is_empty() {
                menu.push(MenuItem::Separator);
                for (id, label) in &self.status.requests {
                    let id = id.clone();
                    menu.push(entry(label, true, move |_| TrayEvent::Request(id.clone())));
                }
            }
            menu.push(MenuItem::Separator);
            menu.push(entry(&labels.lock, self.status.can_lock, |_| TrayEvent::Lock));
            menu.push(entry(&labels.quit, true, |_| TrayEvent::Quit));
            menu
        }

        fn watcher_online(&self) {
            self.shared.set_host(PRESENT);
        }

        fn watcher_offline(&self, _reason: ksni::OfflineReason) -> bool {
            self.shared.set_host(MISSING);
            // Keep serving: the watcher may come back (a panel restart).
            true
        }
    }

    /// A menu entry that sends `event` when chosen.
    fn entry(
        label: &str,
        enabled: bool,
        event: impl Fn(&Item) -> TrayEvent + Send + 'static,
    ) -> MenuItem<Item> {
        StandardItem {
            label: label.to_owned(),
            enabled,
            activate: Box::new(move |item: &mut Item| item.shared.send(event(item))),
            ..Default::default()
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_from_a_push_server_is_escaped() {
        assert_eq!(
            escape_markup("<b>Bank</b> & \"Zoë\" 'Coöperatie'"),
            "&lt;b&gt;Bank&lt;/b&gt; &amp; \"Zoë\" 'Coöperatie'"
        );
    }

    #[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
    #[test]
    fn the_icon_renders_as_argb_in_network_order() {
        let svg = include_bytes!("../../../assets/icons/tessera.svg");
        let argb = icon_argb(svg, 32).unwrap();
        assert_eq!(argb.len(), 32 * 32 * 4);
        // The middle of the top-left tile is opaque white; the corner is transparent.
        let at = |x: usize, y: usize| &argb[(y * 32 + x) * 4..][..4];
        assert_eq!(at(10, 10), [255, 255, 255, 255]);
        assert_eq!(at(0, 0)[0], 0);
        // The blue frame: #1f63d6.
        assert_eq!(at(16, 3), [255, 0x1f, 0x63, 0xd6]);
        assert!(icon_argb(b"not an svg", 16).is_none());
    }
}
