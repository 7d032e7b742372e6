//! Locking when the screen locks: the listener against a real (private) session bus, and the
//! desktop app itself, unlocked on an Xvfb screen, giving up the vault when the screensaver
//! signals.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tessera::screen_lock::watch;

use crate::common::Home;

/// A private session bus; killed on drop.
pub(crate) struct Bus {
    child: Child,
    pub(crate) address: String,
    /// The bus's `XDG_RUNTIME_DIR`, inherited by the services it starts: at-spi-bus-launcher
    /// puts the accessibility bus's socket there, so tests running side by side each have
    /// their own (without it they share `~/.cache/at-spi/bus`, and one test's launcher
    /// removes the socket another is using).
    _runtime: tempfile::TempDir,
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn bus() -> Bus {
    let runtime = tempfile::tempdir().unwrap();
    let mut child = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon must be installed for this test (apt-get install -y dbus)");
    let mut address = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut address).unwrap();
    Bus { child, address: address.trim().to_owned(), _runtime: runtime }
}

pub(crate) fn signal(bus: &Bus, interface: &str, active: bool) {
    let status = Command::new("dbus-send")
        .arg(format!("--bus={}", bus.address))
        .args(["--type=signal", "/org/freedesktop/ScreenSaver"])
        .arg(format!("{interface}.ActiveChanged"))
        .arg(format!("boolean:{active}"))
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_screensaver_activating_is_a_lock_and_nothing_else_is() {
    let bus = bus();
    let (tx, locks) = mpsc::channel();
    watch(Some(&bus.address), move || tx.send(()).unwrap()).unwrap();
    let none = |why: &str| {
        assert!(locks.recv_timeout(Duration::from_millis(300)).is_err(), "{why}");
    };
    let one = |why: &str| {
        locks.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| panic!("{why}"));
    };
    signal(&bus, "org.freedesktop.ScreenSaver", false);
    none("the screensaver going away does not lock");
    signal(&bus, "com.example.Other", true);
    none("another interface's ActiveChanged does not lock");
    signal(&bus, "org.freedesktop.ScreenSaver", true);
    one("KDE and most desktops");
    signal(&bus, "org.gnome.ScreenSaver", true);
    one("GNOME");
}

#[test]
fn a_missing_bus_is_an_error_not_a_hang() {
    let err = watch(Some("unix:path=/nonexistent/tessera-bus"), || {}).unwrap_err();
    assert!(err.to_string().starts_with("cannot listen for screen locks"), "{err}");
}

/// Whether some process holds the vault's lock (the app holds it while unlocked). Read from
/// /proc/locks rather than by trying the lock, which could make the app's own attempt fail.
pub(crate) fn vault_in_use(home: &Home) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(meta) = std::fs::metadata(home.data().join("vault.json.lock")) else { return false };
    let inode = format!(":{} ", meta.ino());
    let locks = std::fs::read_to_string("/proc/locks").unwrap();
    locks.lines().any(|line| line.contains("FLOCK") && line.contains(&inode))
}

pub(crate) fn wait_until(what: &str, seconds: u64, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_desktop_app_locks_when_the_screen_locks() {
    let home = Home::new();
    home.ok(&["add", "--secret", "JBSWY3DPEHPK3PXP", "--issuer", "Example", "--account", "ada"]);
    let bus = bus();
    let xvfb = super::scan::start_xvfb();
    // `tessera` with no arguments: the real app, unlocked with the password file.
    let mut app = home
        .command()
        .env("DISPLAY", &xvfb.display)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the app unlocked the vault", 60, || vault_in_use(&home));
    signal(&bus, "org.gnome.ScreenSaver", true);
    wait_until("the app locked on the screen lock", 20, || !vault_in_use(&home));
    assert!(app.try_wait().unwrap().is_none(), "locked, not quit");
    assert_eq!(home.ok(&["code", "Example"]).len(), 7, "the command line has the vault again");
    let _ = app.kill();
    let _ = app.wait();
}
