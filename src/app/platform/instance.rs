//! One Tessera per desktop session, so that only one process ever polls the push servers.
//!
//! The first app owns the session-bus name `io.github.tessera.Tessera` and serves
//! `org.freedesktop.Application` at `/io/github/tessera/Tessera` (the interface desktop
//! launchers use for D-Bus-activatable apps). A later `tessera` or `tessera-gui` calls
//! `Activate` on it, which shows and raises the running window, and exits.
//!
//! Whatever the bus says, the running app also holds [`AppLock`], an exclusive lock on
//! `app.lock` in the data folder, so that only one process polls those accounts where the bus
//! cannot tell: without a session bus (a bare console, some containers), on Windows and macOS
//! (no session bus; the name is not claimed there), or from two desktop sessions of one user.
//! A later launch that finds the lock held says so and exits; it cannot bring the other
//! window to the front without the bus (a named pipe or a `CFMessagePort` would be the
//! equivalent there, untested here). The lock is the vault's own file lock
//! ([`tessera_core::vault::lock_beside`]: `File::try_lock`, flock on Linux and LockFileEx
//! on Windows), released by the system when the process ends, however it ends.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use zbus::blocking::Connection;
use zbus::fdo::RequestNameFlags;
use zbus::zvariant::OwnedValue;

/// The well-known bus name (the application id).
pub const BUS_NAME: &str = crate::platform::APP_ID;
/// Where the application object lives (the id as a path, as the freedesktop spec asks).
pub const OBJECT_PATH: &str = "/io/github/tessera/Tessera";
const INTERFACE: &str = "org.freedesktop.Application";

/// The outcome of [`claim`].
#[derive(Debug)]
pub enum Claim {
    /// This process is the one Tessera; the name is held as long as this value lives.
    First(Held),
    /// Another Tessera runs and was asked to show its window.
    Running,
}

/// The bus connection that holds the name and serves `Activate`.
#[derive(Debug)]
pub struct Held {
    _connection: Connection,
}

/// Why the single-instance check could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot check for another running Tessera on the session bus: {0}")]
pub struct InstanceError(#[from] zbus::Error);

/// `org.freedesktop.Application`: only `Activate` does something; `Open` has no files to
/// open and `ActivateAction` no actions, so both activate too.
struct Application<F> {
    on_activate: F,
}

#[zbus::interface(name = "org.freedesktop.Application")]
impl<F: Fn() + Send + Sync + 'static> Application<F> {
    fn activate(&self, _platform_data: HashMap<String, OwnedValue>) {
        (self.on_activate)();
    }

    fn open(&self, _uris: Vec<String>, _platform_data: HashMap<String, OwnedValue>) {
        (self.on_activate)();
    }

    fn activate_action(
        &self,
        _action_name: String,
        _parameter: Vec<OwnedValue>,
        _platform_data: HashMap<String, OwnedValue>,
    ) {
        (self.on_activate)();
    }
}

/// Claims the name on the session bus (or the bus at `address`): the first caller gets
/// [`Claim::First`] and `on_activate` runs (on a bus thread) whenever a later launch asks;
/// a later caller activates the first and gets [`Claim::Running`].
pub fn claim(
    address: Option<&str>,
    on_activate: impl Fn() + Send + Sync + 'static,
) -> Result<Claim, InstanceError> {
    let connection = match address {
        Some(address) => zbus::blocking::connection::Builder::address(address)?.build()?,
        None => Connection::session()?,
    };
    // Serve first, then take the name: a launch that finds the name finds the method too.
    connection.object_server().at(OBJECT_PATH, Application { on_activate })?;
    let taken = match connection
        .request_name_with_flags(BUS_NAME, RequestNameFlags::DoNotQueue.into())
    {
        Ok(
            zbus::fdo::RequestNameReply::PrimaryOwner | zbus::fdo::RequestNameReply::AlreadyOwner,
        ) => false,
        Ok(_) | Err(zbus::Error::NameTaken) => true,
        Err(error) => return Err(error.into()),
    };
    if !taken {
        return Ok(Claim::First(Held { _connection: connection }));
    }
    let platform_data: HashMap<&str, zbus::zvariant::Value<'_>> = HashMap::new();
    connection.call_method(
        Some(BUS_NAME),
        OBJECT_PATH,
        Some(INTERFACE),
        "Activate",
        &(platform_data,),
    )?;
    Ok(Claim::Running)
}

/// The running app's hold on its data folder (see the module docs); released when dropped.
#[derive(Debug)]
pub struct AppLock {
    _lock: tessera_core::vault::FileLock,
}

/// Why [`AppLock::take`] failed.
#[derive(Debug, thiserror::Error)]
pub enum AppLockError {
    /// Another Tessera holds the lock.
    #[error("another Tessera is already running with the data folder {}", .0.display())]
    Held(PathBuf),
    /// The lock file could not be made or locked.
    #[error("cannot take the app's lock: {0}")]
    Lock(tessera_core::vault::VaultError),
}

impl AppLock {
    /// The lock file's name in the data folder.
    pub const FILE: &'static str = "app.lock";

    /// Takes the lock on `home` (the data folder, created owner-only if missing), without
    /// waiting: the core's vault lock, on `app.lock`.
    pub fn take(home: &Path) -> Result<Self, AppLockError> {
        let name = Self::FILE.trim_end_matches(".lock");
        match tessera_core::vault::lock_beside(&home.join(name)) {
            Ok(lock) => Ok(Self { _lock: lock }),
            Err(tessera_core::vault::VaultError::Busy { .. }) => {
                Err(AppLockError::Held(home.to_owned()))
            }
            Err(error) => Err(AppLockError::Lock(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Child, Command, Stdio};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use super::*;

    struct Bus(Child, String);

    impl Drop for Bus {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn bus() -> Bus {
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon must be installed (apt-get install -y dbus)");
        let mut address = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut address).unwrap();
        Bus(child, address.trim().to_owned())
    }

    fn wait_for(count: &AtomicUsize, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while count.load(Ordering::SeqCst) < n {
            assert!(Instant::now() < deadline, "Activate never arrived");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn the_first_claim_holds_the_name_and_later_ones_activate_it() {
        let bus = bus();
        let activations = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&activations);
        let first = claim(Some(&bus.1), move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        assert!(matches!(first, Claim::First(_)));
        for n in 1..=2 {
            let second = claim(Some(&bus.1), || panic!("a later launch serves nothing")).unwrap();
            assert!(matches!(second, Claim::Running));
            wait_for(&activations, n);
        }
        // Launchers pass platform data (a startup-notification id): accepted and ignored.
        let launcher =
            zbus::blocking::connection::Builder::address(bus.1.as_str()).unwrap().build().unwrap();
        let data = HashMap::from([("desktop-startup-id", zbus::zvariant::Value::from("id-1"))]);
        launcher
            .call_method(Some(BUS_NAME), OBJECT_PATH, Some(INTERFACE), "Activate", &(data,))
            .unwrap();
        wait_for(&activations, 3);

        // Once the first quits, the next launch is the first again.
        drop(first);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Claim::First(_)) = claim(Some(&bus.1), || {}) {
                break;
            }
            assert!(Instant::now() < deadline, "the name was never released");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn no_bus_is_an_error_that_says_so() {
        let err = claim(Some("unix:path=/nonexistent/tessera-bus"), || {}).unwrap_err();
        assert!(err.to_string().starts_with("cannot check for another running Tessera"), "{err}");
    }

    #[test]
    fn one_app_holds_the_data_folder_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("new").join("data");
        let first = AppLock::take(&home).expect("the first app takes the lock");
        match AppLock::take(&home) {
            Err(AppLockError::Held(folder)) => assert_eq!(folder, home),
            other => panic!("a second app must find the lock held: {other:?}"),
        }
        let other = dir.path().join("elsewhere");
        drop(AppLock::take(&other).expect("another data folder is another app's"));
        drop(first);
        AppLock::take(&home).expect("free again once the first let go");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&home).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "a data folder made here is the owner's only");
        }
    }
}
