//! One Tessera per desktop session: the real app started with `--background` on an Xvfb
//! screen and a private session bus shows no window; a second `tessera` shows the first one's
//! window and exits instead of starting another app.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::screen_lock::{bus, vault_in_use, wait_until};
use crate::common::Home;

/// Whether a top-level window on `display` is mapped (the app's window is the only client).
pub(crate) fn window_shown(display: &str) -> bool {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::xproto::{ConnectionExt as _, MapState};
    let (conn, screen) = x11rb::connect(Some(display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let tree = conn.query_tree(root).unwrap().reply().unwrap();
    tree.children.iter().any(|&w| {
        conn.get_window_attributes(w)
            .ok()
            .and_then(|c| c.reply().ok())
            .is_some_and(|a| a.map_state == MapState::VIEWABLE)
    })
}

/// Whether someone owns Tessera's name on the bus.
fn name_owned(address: &str) -> bool {
    let out = Command::new("dbus-send")
        .arg(format!("--bus={address}"))
        .args(["--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"])
        .args(["org.freedesktop.DBus.NameHasOwner", "string:io.github.tessera.Tessera"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("boolean true")
}

#[test]
fn a_second_launch_shows_the_running_app_instead_of_starting_another() {
    let home = Home::new();
    home.ok(&["add", "--secret", "JBSWY3DPEHPK3PXP", "--issuer", "Example", "--account", "ada"]);
    let bus = bus();
    let xvfb = super::scan::start_xvfb();
    let launch = |args: &[&str]| {
        let mut command = home.command();
        command
            .args(args)
            .env("DISPLAY", &xvfb.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .stdout(Stdio::null());
        command
    };
    let mut first = launch(&["--background"]).stderr(Stdio::null()).spawn().unwrap();
    wait_until("the first app took the name", 60, || name_owned(&bus.address));
    wait_until("the first app opened the vault", 60, || vault_in_use(&home));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!window_shown(&xvfb.display), "--background starts without a window");

    let started = Instant::now();
    let second = launch(&[]).output().unwrap();
    assert!(second.status.success(), "{second:?}");
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("already running"), "{said}");
    assert!(started.elapsed() < Duration::from_secs(30), "the second launch returned at once");
    wait_until("the running app showed its window", 20, || window_shown(&xvfb.display));
    assert!(first.try_wait().unwrap().is_none(), "the first app runs on");

    let _ = first.kill();
    let _ = first.wait();
}

/// Without a session bus (a bare console, a container; Windows and macOS take the same path)
/// the data folder's lock still keeps a second app from polling the same accounts: it says
/// why and exits, and the first runs on.
#[test]
fn without_a_session_bus_a_second_app_on_the_same_data_folder_does_not_start() {
    let home = Home::new();
    home.ok(&["add", "--secret", "JBSWY3DPEHPK3PXP", "--issuer", "Example", "--account", "ada"]);
    let xvfb = super::scan::start_xvfb();
    let nowhere = home.dir.path().join("no-bus");
    let launch = || {
        let mut command = home.command();
        command
            .arg("--background")
            .env("DISPLAY", &xvfb.display)
            .env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}", nowhere.display()))
            .stdout(Stdio::null());
        command
    };
    let mut first = launch().stderr(Stdio::null()).spawn().unwrap();
    wait_until("the first app opened the vault", 60, || vault_in_use(&home));

    let mut second = launch().stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while second.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("a second app started on the same data folder");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = second.wait_with_output().unwrap();
    assert!(second.status.success(), "{second:?}");
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("another Tessera is already running with the data folder"), "{said}");
    assert!(said.contains("hint: use that one"), "{said}");
    assert!(first.try_wait().unwrap().is_none(), "the first app runs on");

    // Once the first is gone, the next launch starts.
    let _ = first.kill();
    let _ = first.wait();
    let mut third = launch().stderr(Stdio::null()).spawn().unwrap();
    wait_until("a later app opened the vault", 60, || vault_in_use(&home));
    assert!(third.try_wait().unwrap().is_none());
    let _ = third.kill();
    let _ = third.wait();
}
