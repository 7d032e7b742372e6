//! Push that reaches you with the window hidden or the vault locked (issue 12): the real app,
//! started with `--background` on an Xvfb screen, long-polls the real `tessera-server`; a
//! recording `org.freedesktop.Notifications` service on a private session bus (it offers
//! buttons and clicks them by emitting `ActionInvoked`, as a desktop does) receives the
//! notification, and its Approve button approves the login for the relying party; a device
//! enrolled later for the same user is announced.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zbus::zvariant::OwnedValue;

use super::{Db, Login, Server, device};
use crate::cli::screen_lock::{bus, signal, vault_in_use, wait_until};

const PATH: &str = "/org/freedesktop/Notifications";
const NAME: &str = "org.freedesktop.Notifications";

/// One `Notify` call as the service received it.
#[derive(Debug, Clone)]
struct Shown {
    id: u32,
    summary: String,
    body: String,
    /// (key, label) pairs.
    actions: Vec<(String, String)>,
    urgency: Option<u8>,
}

#[derive(Debug, Default)]
struct Calls {
    shown: Vec<Shown>,
    closed: Vec<u32>,
}

/// The notification service: records calls, offers buttons.
struct Service {
    calls: Arc<Mutex<Calls>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Service {
    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into()]
    }

    #[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)] // the protocol's signature
    fn notify(
        &self,
        _app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut calls = self.calls.lock().unwrap();
        let id = if replaces_id == 0 { calls.shown.len() as u32 + 1 } else { replaces_id };
        let actions =
            actions.chunks(2).map(|pair| (pair[0].clone(), pair[1].clone())).collect::<Vec<_>>();
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        calls.shown.push(Shown { id, summary, body, actions, urgency });
        id
    }

    fn close_notification(&self, id: u32) {
        self.calls.lock().unwrap().closed.push(id);
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        ("recorder".into(), "tessera tests".into(), "1".into(), "1.2".into())
    }
}

/// Waits for the `n`-th notification (1-based) and returns it.
fn nth_shown(calls: &Mutex<Calls>, n: usize, seconds: u64) -> Shown {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(shown) = calls.lock().unwrap().shown.get(n - 1) {
            return shown.clone();
        }
        assert!(Instant::now() < deadline, "notification {n} never came");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn click(service: &zbus::blocking::Connection, id: u32, action: &str) {
    service.emit_signal(None::<&str>, PATH, NAME, "ActionInvoked", &(id, action)).unwrap();
}

fn login_state(server: &Server, id: &str) -> String {
    let (_, outcome) = server.rp(reqwest::Method::GET, &format!("/rp/v1/logins/{id}"), None);
    outcome["state"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_hidden_app_notifies_a_login_and_its_approve_button_approves_it() {
    let server = Server::start(Db::Sqlite);
    let home = device(&server, "alice");
    let bus = bus();
    let calls = Arc::new(Mutex::new(Calls::default()));
    let service = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name(NAME)
        .unwrap()
        .serve_at(PATH, Service { calls: Arc::clone(&calls) })
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
    wait_until("the app opened the vault", 60, || vault_in_use(&home));
    // Let its first long poll reach the server, so the login below wakes it.
    std::thread::sleep(Duration::from_secs(2));

    let started = Instant::now();
    let login = Login::start(
        &server,
        "alice",
        &["--ip", "192.0.2.7", "--location", "Oslo, NO", "--rp", "Webmail"],
    );
    let shown = nth_shown(&calls, 1, 20);
    eprintln!("login -> notification: {} ms", started.elapsed().as_millis());
    assert_eq!(shown.summary, "Webmail");
    assert!(shown.body.contains("192.0.2.7") && shown.body.contains("Oslo, NO"), "{shown:?}");
    assert!(shown.body.contains("seconds left to answer"), "{shown:?}");
    let keys: Vec<&str> = shown.actions.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["default", "approve", "deny", "not-me"]);
    assert_eq!(shown.urgency, Some(2));

    click(&service, shown.id, "approve");
    assert_eq!(login.outcome(), (0, "approved".to_owned()), "the relying party sees approved");
    wait_until("the answered request's notification is withdrawn", 10, || {
        calls.lock().unwrap().closed.contains(&shown.id)
    });

    // Locked by the screen lock: the next login is announced without its details, and a
    // click on a button the locked notification does not even have decides nothing.
    signal(&bus, "org.gnome.ScreenSaver", true);
    wait_until("the app locked", 20, || !vault_in_use(&home));
    let second = Login::start(&server, "alice", &["--rp", "Webmail", "--ip", "192.0.2.8"]);
    let locked = nth_shown(&calls, 2, 20);
    assert_eq!(locked.summary, "Tessera");
    assert_eq!(locked.body, "Login request from Webmail — unlock Tessera to answer");
    assert!(!locked.body.contains("192.0.2.8"));
    assert_eq!(locked.actions.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["default"]);
    click(&service, locked.id, "approve");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(login_state(&server, &second.id), "pending", "a locked app answers nothing");
    assert!(app.try_wait().unwrap().is_none(), "still running, still listening");

    // Someone enrols another device for alice: the running app shows the server's notice
    // (issue 13, finding 7), even while locked.
    let _other = device(&server, "alice");
    let new_device = |n: &Shown| n.body.starts_with("A new device was enrolled");
    wait_until("the new-device notice came", 60, || {
        calls.lock().unwrap().shown.iter().any(new_device)
    });
    let notice = calls.lock().unwrap().shown.iter().find(|n| new_device(n)).cloned().unwrap();
    assert!(notice.body.contains("alice"), "{notice:?}");
    assert!(notice.actions.is_empty(), "{notice:?}");

    let _ = app.kill();
    let _ = app.wait();
}
