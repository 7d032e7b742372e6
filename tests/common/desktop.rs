//! A desktop for the real app (issue 12, point 6): a private session bus with a recording
//! `org.freedesktop.Notifications` service that offers buttons and clicks them by emitting
//! `ActionInvoked`, as a desktop does, and an Xvfb screen. Used against `tessera-server`
//! (tests/server_e2e/notify.rs) and the privacyIDEA peer (tests/push_e2e/notify.rs).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zbus::zvariant::OwnedValue;

use super::Home;
use crate::cli::scan::{Xvfb, start_xvfb};
use crate::cli::screen_lock::{Bus, bus};

const PATH: &str = "/org/freedesktop/Notifications";
const NAME: &str = "org.freedesktop.Notifications";

/// One `Notify` call as the service received it.
#[derive(Debug, Clone)]
pub struct Shown {
    pub id: u32,
    pub summary: String,
    pub body: String,
    /// (key, label) pairs.
    pub actions: Vec<(String, String)>,
    pub urgency: Option<u8>,
}

impl Shown {
    pub fn keys(&self) -> Vec<&str> {
        self.actions.iter().map(|(k, _)| k.as_str()).collect()
    }
}

#[derive(Debug, Default)]
pub struct Calls {
    pub shown: Vec<Shown>,
    pub closed: Vec<u32>,
}

/// The notification service: records calls, offers buttons.
struct Service {
    calls: Arc<Mutex<Calls>>,
    /// An action to click on each notification as it is shown, before Notify's reply is sent
    /// (the fastest click there can be).
    click_on_show: Option<String>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Service {
    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into()]
    }

    #[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)] // the protocol's signature
    async fn notify(
        &self,
        #[zbus(connection)] connection: &zbus::Connection,
        _app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let id = {
            let mut calls = self.calls.lock().unwrap();
            let id = if replaces_id == 0 { calls.shown.len() as u32 + 1 } else { replaces_id };
            let actions = actions
                .chunks(2)
                .map(|pair| (pair[0].clone(), pair[1].clone()))
                .collect::<Vec<_>>();
            let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
            calls.shown.push(Shown { id, summary, body, actions, urgency });
            id
        };
        if let Some(action) = &self.click_on_show {
            let click = (id, action.as_str());
            connection
                .emit_signal(None::<&str>, PATH, NAME, "ActionInvoked", &click)
                .await
                .unwrap();
        }
        id
    }

    fn close_notification(&self, id: u32) {
        self.calls.lock().unwrap().closed.push(id);
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        ("recorder".into(), "tessera tests".into(), "1".into(), "1.2".into())
    }
}

/// The session bus, the notification service on it, and a screen. Fields drop in order: the
/// app is killed before its bus and screen go.
pub struct Desktop {
    app: Option<Child>,
    pub calls: Arc<Mutex<Calls>>,
    service: zbus::blocking::Connection,
    pub xvfb: Xvfb,
    pub bus: Bus,
}

impl Drop for Desktop {
    fn drop(&mut self) {
        if let Some(mut app) = self.app.take() {
            let _ = app.kill();
            let _ = app.wait();
        }
    }
}

impl Desktop {
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// A desktop whose notification service clicks `action` on every notification before it
    /// even answers the Notify call.
    pub fn clicking_on_show(action: &str) -> Self {
        Self::start_with(Some(action.to_owned()))
    }

    fn start_with(click_on_show: Option<String>) -> Self {
        let bus = bus();
        let calls = Arc::new(Mutex::new(Calls::default()));
        let service = zbus::blocking::connection::Builder::address(bus.address.as_str())
            .unwrap()
            .name(NAME)
            .unwrap()
            .serve_at(PATH, Service { calls: Arc::clone(&calls), click_on_show })
            .unwrap()
            .build()
            .unwrap();
        Self { app: None, calls, service, xvfb: start_xvfb(), bus }
    }

    /// What GNOME's accessibility switch does: starts the accessibility bus (D-Bus activation
    /// of at-spi-bus-launcher) and tells toolkits, AccessKit included, to expose their tree.
    /// Call before launching the app.
    pub fn enable_accessibility(&self) {
        enable_accessibility(&self.bus);
    }

    /// Starts `tessera ARGS` for `home` on this desktop (killed when the desktop drops).
    pub fn launch(&mut self, home: &Home, args: &[&str]) {
        let child = home
            .command()
            .args(args)
            .env("DISPLAY", &self.xvfb.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus.address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.app = Some(child);
    }

    /// Whether the launched app is still running.
    pub fn app_running(&mut self) -> bool {
        self.app.as_mut().is_some_and(|app| app.try_wait().unwrap().is_none())
    }

    /// Waits for the `n`-th notification (1-based) and returns it.
    pub fn nth_shown(&self, n: usize, seconds: u64) -> Shown {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            if let Some(shown) = self.calls.lock().unwrap().shown.get(n - 1) {
                return shown.clone();
            }
            assert!(Instant::now() < deadline, "notification {n} never came");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The notification after the `seen` first ones, within `seconds` (counting it as seen).
    pub fn next_shown(&self, seen: &mut usize, seconds: u64) -> Shown {
        *seen += 1;
        self.nth_shown(*seen, seconds)
    }

    /// Clicks `action` ("default" is the notification itself) as the desktop would.
    pub fn click(&self, id: u32, action: &str) {
        self.service.emit_signal(None::<&str>, PATH, NAME, "ActionInvoked", &(id, action)).unwrap();
    }

    pub fn closed(&self, id: u32) -> bool {
        self.calls.lock().unwrap().closed.contains(&id)
    }

    /// Presses the app's element named `name` over AT-SPI, as a screen reader user would,
    /// once it shows (within `seconds`). Needs `enable_accessibility` before the launch.
    pub fn press(&self, name: &str, seconds: u64) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let out = a11y_script()
                .args(["press", name])
                .env("DBUS_SESSION_BUS_ADDRESS", &self.bus.address)
                .env_remove("DISPLAY")
                .output()
                .expect("python3 with pyatspi must be installed (scripts/system-packages.sh)");
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "could not press {name:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// scripts/a11y-tree.py under Debian's Python (python3-pyatspi is installed for it, not for a
/// pyenv or venv on PATH).
pub fn a11y_script() -> Command {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/a11y-tree.py"));
    cmd
}

/// See [`Desktop::enable_accessibility`].
pub fn enable_accessibility(bus: &Bus) {
    let status = Command::new("dbus-send")
        .arg(format!("--bus={}", bus.address))
        .args(["--print-reply", "--dest=org.a11y.Bus", "/org/a11y/bus"])
        .args(["org.freedesktop.DBus.Properties.Set", "string:org.a11y.Status"])
        .args(["string:IsEnabled", "variant:boolean:true"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "at-spi2-core must be installed (scripts/system-packages.sh)");
}
