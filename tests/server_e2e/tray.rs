//! Tessera in the tray (issue 12): the real app, started with `--background` on an Xvfb screen
//! against a real `tessera-server`, registers its StatusNotifierItem with a
//! StatusNotifierWatcher on a private session bus. The watcher is written here (Debian has no
//! headless one): it records registrations as KDE's and GNOME's do. The test then reads the
//! item as a tray host does (its tooltip, status and icon over D-Bus properties, its menu
//! through `com.canonical.dbusmenu`) and clicks menu entries with dbusmenu `Event` calls.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zbus::zvariant::{OwnedValue, Value};

use super::{Db, Login, Server, device};
use crate::cli::instance::window_shown;
use crate::cli::screen_lock::{bus, vault_in_use, wait_until};

/// The StatusNotifierWatcher: remembers who registered.
struct Watcher {
    items: Arc<Mutex<Vec<String>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(&self, service: String) {
        self.items.lock().unwrap().push(service);
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().unwrap().clone()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// A pixmap as the protocol carries it: width, height, ARGB32 bytes.
type Pixmap = (i32, i32, Vec<u8>);

#[zbus::proxy(
    interface = "org.kde.StatusNotifierItem",
    default_path = "/StatusNotifierItem",
    gen_async = false
)]
trait Item {
    fn activate(&self, x: i32, y: i32) -> zbus::Result<()>;
    #[zbus(property)]
    fn tool_tip(&self) -> zbus::Result<(String, Vec<Pixmap>, String, String)>;
    #[zbus(property)]
    fn status(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn icon_pixmap(&self) -> zbus::Result<Vec<Pixmap>>;
}

type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

#[zbus::proxy(interface = "com.canonical.dbusmenu", default_path = "/MenuBar", gen_async = false)]
trait Menu {
    fn get_layout(
        &self,
        parent_id: i32,
        recursion_depth: i32,
        property_names: &[&str],
    ) -> zbus::Result<(u32, Layout)>;
    fn event(&self, id: i32, event_id: &str, data: &Value<'_>, timestamp: u32) -> zbus::Result<()>;
}

/// One menu entry as a tray host shows it.
#[derive(Debug, Clone)]
struct Entry {
    id: i32,
    label: String,
    enabled: bool,
}

struct Host<'a> {
    item: ItemProxy<'a>,
    menu: MenuProxy<'a>,
}

impl Host<'_> {
    fn summary(&self) -> String {
        self.item.tool_tip().unwrap().3
    }

    /// The menu's entries (separators left out), read fresh.
    fn entries(&self) -> Vec<Entry> {
        let (_, (_, _, children)) = self.menu.get_layout(0, -1, &[]).unwrap();
        children
            .into_iter()
            .filter_map(|child| {
                let (id, props, _): Layout = child.try_into().ok()?;
                let text = |key: &str| {
                    props.get(key).and_then(|v| <&str>::try_from(v).ok().map(str::to_owned))
                };
                if text("type").as_deref() == Some("separator") {
                    return None;
                }
                let enabled = props.get("enabled").is_none_or(|v| bool::try_from(v).unwrap());
                Some(Entry { id, label: text("label").unwrap_or_default(), enabled })
            })
            .collect()
    }

    fn entry(&self, label: &str) -> Entry {
        let entries = self.entries();
        entries
            .iter()
            .find(|e| e.label == label)
            .cloned()
            .unwrap_or_else(|| panic!("no entry {label:?} in {entries:?}"))
    }

    fn click(&self, label: &str) {
        let id = self.entry(label).id;
        self.menu.event(id, "clicked", &Value::from(""), 0).unwrap();
    }
}

#[test]
fn the_tray_counts_waiting_requests_opens_the_window_locks_and_quits() {
    let server = Server::start(Db::Sqlite);
    let home = device(&server, "alice");
    let bus = bus();
    let items = Arc::new(Mutex::new(Vec::new()));
    let _watcher = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name("org.kde.StatusNotifierWatcher")
        .unwrap()
        .serve_at("/StatusNotifierWatcher", Watcher { items: Arc::clone(&items) })
        .unwrap()
        .build()
        .unwrap();
    let xvfb = crate::cli::scan::start_xvfb();
    let mut app = home
        .command()
        .arg("--background")
        .env("DISPLAY", &xvfb.display)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the tray icon registered", 60, || !items.lock().unwrap().is_empty());
    wait_until("the app opened the vault", 60, || vault_in_use(&home));
    let name = items.lock().unwrap()[0].clone();
    assert!(name.starts_with("org.kde.StatusNotifierItem-"), "{name}");

    let host_bus = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .build()
        .unwrap();
    let no_cache = zbus::proxy::CacheProperties::No;
    let host = Host {
        item: ItemProxy::builder(&host_bus)
            .destination(name.as_str())
            .unwrap()
            .cache_properties(no_cache)
            .build()
            .unwrap(),
        menu: MenuProxy::builder(&host_bus)
            .destination(name.as_str())
            .unwrap()
            .cache_properties(no_cache)
            .build()
            .unwrap(),
    };
    wait_until("the tray says nothing waits", 20, || {
        host.summary() == "No login requests are waiting"
    });
    assert_eq!(host.item.tool_tip().unwrap().2, "Tessera");
    assert_eq!(host.item.status().unwrap(), "Active");
    let sizes: Vec<(i32, i32, usize)> =
        host.item.icon_pixmap().unwrap().iter().map(|(w, h, d)| (*w, *h, d.len())).collect();
    assert!(sizes.contains(&(32, 32, 32 * 32 * 4)), "{sizes:?}");
    let labels: Vec<String> = host.entries().into_iter().map(|e| e.label).collect();
    assert_eq!(labels, ["Open Tessera", "Lock", "Quit"]);
    assert!(!window_shown(&xvfb.display), "started in the background");

    // Let its first long poll reach the server, then log in elsewhere: the tray counts it.
    std::thread::sleep(Duration::from_secs(2));
    let login = Login::start(&server, "alice", &["--rp", "Webmail", "--ip", "192.0.2.7"]);
    wait_until("the tray shows the waiting request", 20, || {
        host.summary() == "A login request is waiting"
    });
    assert_eq!(host.item.status().unwrap(), "NeedsAttention");
    let dotted = host.item.icon_pixmap().unwrap();
    assert_ne!(dotted, host_icon_without_requests(), "the icon carries the waiting dot");
    let tooltip = format!("{:?}", host.item.tool_tip().unwrap());
    assert!(!tooltip.contains("192.0.2.7") && !tooltip.contains("alice"), "{tooltip}");

    // Its entry opens the window (on the request).
    host.click("Login request from Webmail");
    wait_until("the window opened", 20, || window_shown(&xvfb.display));

    // Lock from the tray: the vault closes, the request stays announced, Lock is greyed.
    assert!(host.entry("Lock").enabled);
    host.click("Lock");
    wait_until("the app locked", 20, || !vault_in_use(&home));
    assert!(!host.entry("Lock").enabled);
    assert_eq!(host.summary(), "A login request is waiting");

    // Quit from the tray: the app ends (and with it the polling); the login was not answered.
    host.click("Quit");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = app.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "Quit did not end the app");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    wait_until("the icon left the bus", 10, || host.item.status().is_err());
    let (_, outcome) =
        server.rp(reqwest::Method::GET, &format!("/rp/v1/logins/{}", login.id), None);
    assert_eq!(outcome["state"], "pending", "quitting answers nothing");
}

/// The 32 px icon without the waiting dot, as the app renders it.
fn host_icon_without_requests() -> Vec<Pixmap> {
    let svg = include_bytes!("../../assets/icons/tessera.svg");
    [16, 24, 32, 64]
        .into_iter()
        .map(|size| (size, size, tessera::platform::tray::icon_argb(svg, size as u32).unwrap()))
        .collect()
}
