//! Multi-process vault tests: SIGKILL during saves, and two concurrent writers.
//!
//! The binary re-executes itself (`std::env::current_exe`) with `TESSERA_VAULT_CHILD` set to
//! play a writer process; that is why it has its own `main` (`harness = false`): a libtest
//! harness would need a dummy `#[test]` entry point for the child role.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use tessera_core::otp::{OtpParams, Secret};
use tessera_core::vault::{Entry, KdfParams, Protection, Unlock, Vault, VaultError, VaultOptions};
use zeroize::Zeroizing;

const CHILD_ROLE: &str = "TESSERA_VAULT_CHILD";
const CHILD_PATH: &str = "TESSERA_VAULT_CHILD_PATH";
const CHILD_TAG: &str = "TESSERA_VAULT_CHILD_TAG";
const CHILD_COUNT: &str = "TESSERA_VAULT_CHILD_COUNT";
const PASSWORD: &str = "process test password";
/// Entries per generation in the crash test; with the padding below each save writes ~60 KB,
/// so a kill often lands in the middle of a write.
const CRASH_ENTRIES: usize = 20;
const NOTE_PAD: usize = 2000;

fn unlock() -> Unlock {
    Unlock::Password(Zeroizing::new(PASSWORD.to_owned()))
}

fn options(lock_wait: Duration) -> VaultOptions {
    VaultOptions { lock_wait, ..VaultOptions::default() }
}

fn entry(issuer: String, note: String) -> Entry {
    let secret = Secret::parse_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").expect("valid secret");
    let mut entry = Entry::new(issuer, "alice".into(), OtpParams::totp(secret), 1_700_000_000);
    entry.note = note;
    entry
}

/// The crash test's content for generation marker `k`: every entry carries `k`.
fn crash_content(k: u64) -> Vec<Entry> {
    (0..CRASH_ENTRIES)
        .map(|i| entry(format!("e{i}"), format!("{k}:{}", "x".repeat(NOTE_PAD))))
        .collect()
}

/// Returns the marker `k` if the entries are exactly `crash_content(k)`.
fn crash_marker(entries: &[Entry]) -> Result<u64, String> {
    if entries.len() != CRASH_ENTRIES {
        return Err(format!("{} entries, expected {CRASH_ENTRIES}", entries.len()));
    }
    let k = entries[0].note.split(':').next().and_then(|k| k.parse::<u64>().ok());
    let k = k.ok_or("unreadable marker")?;
    for (i, e) in entries.iter().enumerate() {
        if e.issuer != format!("e{i}") || e.note != format!("{k}:{}", "x".repeat(NOTE_PAD)) {
            return Err(format!("entry {i} does not belong to generation {k}"));
        }
    }
    Ok(k)
}

fn create_vault(path: &Path) {
    let protection = Protection::PasswordWithParams(
        Zeroizing::new(PASSWORD.to_owned()),
        KdfParams::INSECURE_FOR_TESTS,
    );
    let mut vault = Vault::create_with(path, &[protection], options(Duration::from_secs(5)))
        .expect("create vault");
    vault.content_mut().entries = crash_content(0);
    vault.save().expect("first save");
    // Twice, so that the backup holds a whole generation of the test content too.
    vault.save().expect("second save");
}

/// Child role "crash": open, bump the marker, save — forever, until killed.
fn crash_writer(path: &Path) -> Result<(), VaultError> {
    loop {
        let mut vault = Vault::open_with(path, &unlock(), options(Duration::from_secs(30)))?;
        let k = crash_marker(&vault.content().entries)
            .map_err(|detail| VaultError::Damaged { detail })?;
        vault.content_mut().entries = crash_content(k + 1);
        vault.save()?;
    }
}

/// Child role "adder": add `count` entries tagged `tag`, each through open→modify→save.
fn adder(path: &Path, tag: &str, count: usize) -> Result<(), VaultError> {
    for i in 0..count {
        let mut vault = Vault::open_with(path, &unlock(), options(Duration::from_secs(60)))?;
        vault.content_mut().entries.push(entry(format!("{tag}-{i}"), String::new()));
        vault.save()?;
    }
    Ok(())
}

fn spawn_child(role: &str, path: &Path, tag: &str, count: usize) -> Child {
    Command::new(std::env::current_exe().expect("own executable"))
        .env(CHILD_ROLE, role)
        .env(CHILD_PATH, path)
        .env(CHILD_TAG, tag)
        .env(CHILD_COUNT, count.to_string())
        .spawn()
        .expect("spawn child")
}

fn temp_vault() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vault.json");
    (dir, path)
}

/// Returns how long a fresh writer takes until its first save is visible (the fastest of 3).
fn time_to_first_save(path: &Path) -> Result<Duration, String> {
    let mut times = Vec::new();
    for _ in 0..5 {
        let generation = |p: &Path| Vault::inspect(p).map(|i| i.generation);
        let before = generation(path).map_err(|e| e.to_string())?;
        let start = Instant::now();
        let mut child = spawn_child("crash", path, "", 0);
        loop {
            let problem = match generation(path) {
                Ok(g) if g != before => break,
                Ok(_) if start.elapsed() > Duration::from_secs(20) => Some("never saved".into()),
                Ok(_) => None,
                Err(e) => Some(e.to_string()),
            };
            if let Some(problem) = problem {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("calibration: {problem}"));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        times.push(start.elapsed());
        let _ = child.kill();
        child.wait().map_err(|e| e.to_string())?;
    }
    // The median, not the fastest: on a loaded machine one lucky fast run made the window so
    // short that most kills landed before any save (seen: 8 of 300 rounds saved).
    times.sort();
    Ok(times[times.len() / 2])
}

fn vault_survives_sigkill_at_random_points() -> Result<(), String> {
    let (_dir, path) = temp_vault();
    create_vault(&path);
    let seed = std::env::var("TESSERA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7e55_e7a5_u64);
    let mut rng = fastrand::Rng::with_seed(seed);
    // Kill within 1.5 times the time a writer needs for its first save (median of five runs,
    // measured here), so that the kills spread over start-up, unlock, encryption, write and
    // rename on fast and slow machines alike.
    let first_save = time_to_first_save(&path)?;
    let window = u64::try_from(first_save.as_micros()).unwrap_or(u64::MAX).max(1000) * 3 / 2;
    let mut last = crash_marker(
        &Vault::read_only(&path, &unlock(), &options(Duration::ZERO))
            .map_err(|e| e.to_string())?
            .entries,
    )?;
    let kills = 300;
    let mut advanced = 0;
    let started = Instant::now();
    for round in 0..kills {
        let mut child = spawn_child("crash", &path, "", 0);
        std::thread::sleep(Duration::from_micros(rng.u64(0..window)));
        let killed = child.kill();
        let status = child.wait().map_err(|e| format!("wait: {e}"))?;
        killed.map_err(|e| format!("kill: {e}"))?;
        if status.success() {
            return Err(format!("round {round}: the writer exited on its own: {status}"));
        }
        // The vault must open, and hold one whole generation: the old one or a newer one.
        let vault = Vault::open_with(&path, &unlock(), options(Duration::from_secs(5)))
            .map_err(|e| format!("round {round} (seed {seed}): vault does not open: {e}"))?;
        let k = crash_marker(&vault.content().entries)
            .map_err(|e| format!("round {round} (seed {seed}): mixed content: {e}"))?;
        if k < last {
            return Err(format!("round {round} (seed {seed}): went back from {last} to {k}"));
        }
        if k > last {
            advanced += 1;
        }
        last = k;
        drop(vault);
        // The backup is a whole generation too.
        let bak = path.with_file_name("vault.json.bak");
        if bak.exists() {
            let old = Vault::read_only(&bak, &unlock(), &options(Duration::ZERO))
                .map_err(|e| format!("round {round}: backup does not open: {e}"))?;
            crash_marker(&old.entries).map_err(|e| format!("round {round}: backup: {e}"))?;
        }
    }
    println!(
        "crash test: {kills} kills within {:.1?} of start in {:.1?}; {advanced} rounds saw progress, \
         marker {last} (seed {seed})",
        Duration::from_micros(window),
        started.elapsed()
    );
    // A test where the writer never got to save would prove nothing.
    if advanced < kills / 10 {
        return Err(format!("only {advanced} of {kills} rounds saw a completed save"));
    }
    Ok(())
}

fn two_concurrent_writers_lose_no_update() -> Result<(), String> {
    let (_dir, path) = temp_vault();
    create_vault(&path);
    {
        let mut vault = Vault::open_with(&path, &unlock(), options(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        vault.content_mut().entries.clear();
        vault.save().map_err(|e| e.to_string())?;
    }
    let n = 25;
    let mut children = [spawn_child("adder", &path, "a", n), spawn_child("adder", &path, "b", n)];
    for child in &mut children {
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("a writer failed: {status}"));
        }
    }
    let vault = Vault::open_with(&path, &unlock(), options(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut issuers: Vec<String> =
        vault.content().entries.iter().map(|e| e.issuer.clone()).collect();
    issuers.sort();
    let mut expected: Vec<String> =
        ["a", "b"].iter().flat_map(|t| (0..n).map(move |i| format!("{t}-{i}"))).collect();
    expected.sort();
    if issuers != expected {
        return Err(format!("expected {} entries, found {}: {issuers:?}", 2 * n, issuers.len()));
    }
    Ok(())
}

/// Child role "secret-service", run inside `dbus-run-session`: start a throwaway GNOME
/// Keyring, then create and reopen a keyring-only vault through the real system store.
fn secret_service_child(path: &Path) -> Result<(), String> {
    use std::io::Write;
    use tessera_core::vault::{KeyStore, SystemKeyStore};
    let mut daemon = Command::new("gnome-keyring-daemon")
        .args(["--unlock", "--components=secrets"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("gnome-keyring-daemon: {e}"))?;
    if let Some(mut stdin) = daemon.stdin.take() {
        stdin.write_all(b"throwaway keyring password").map_err(|e| e.to_string())?;
    }
    let status = daemon.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("gnome-keyring-daemon failed: {status}"));
    }
    // The daemon registers on the bus asynchronously; give it a moment to answer.
    let system = SystemKeyStore::new();
    let start = Instant::now();
    let stored = loop {
        match system.store("tessera-probe", &[1; 32]) {
            Ok(stored) => break stored,
            Err(e) if start.elapsed() > Duration::from_secs(10) => return Err(e.to_string()),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    system.delete("tessera-probe").map_err(|e| e.to_string())?;
    if stored.store != "secret-service" || !stored.durable {
        return Err(format!("expected the durable secret service, got {stored:?}"));
    }
    let options = VaultOptions::default();
    let mut vault = Vault::create_with(path, &[Protection::Keyring], options.clone())
        .map_err(|e| format!("create: {e}"))?;
    vault.content_mut().entries.push(entry("GitHub".into(), String::new()));
    vault.save().map_err(|e| format!("save: {e}"))?;
    drop(vault);
    let vault = Vault::open_with(path, &Unlock::Keyring, options.clone())
        .map_err(|e| format!("open: {e}"))?;
    if vault.content().entries.len() != 1 {
        return Err("the reopened vault lost its entry".into());
    }
    let name = vault.info().vault_id;
    drop(vault);
    if system.load(&name).map_err(|e| e.to_string())?.len() != 32 {
        return Err("the secret service does not hold a 32-byte key under the vault id".into());
    }
    Ok(())
}

fn real_secret_service_holds_the_keyring_slot() -> Result<(), String> {
    let (dir, path) = temp_vault();
    let runtime = dir.path().join("run");
    std::fs::create_dir(&runtime).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let private = std::fs::Permissions::from_mode(0o700);
        std::fs::set_permissions(&runtime, private).map_err(|e| e.to_string())?;
    }
    let output = Command::new("dbus-run-session")
        .arg("--")
        .arg(std::env::current_exe().map_err(|e| e.to_string())?)
        .env(CHILD_ROLE, "secret-service")
        .env(CHILD_PATH, &path)
        // A throwaway keyring: never the user's own (HOME stays, as gnome-keyring needs it).
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .map_err(|e| {
            format!(
                "cannot run dbus-run-session ({e}); install the dbus and gnome-keyring packages"
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "secret-service child failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// `TESSERA_HOME` is read from the environment, which only a fresh process can set safely.
fn tessera_home_overrides_the_data_dir() -> Result<(), String> {
    let (dir, _) = temp_vault();
    let home = dir.path().join("custom home");
    let output = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .env(CHILD_ROLE, "print-default-path")
        .env("TESSERA_HOME", &home)
        .output()
        .map_err(|e| e.to_string())?;
    let printed = String::from_utf8_lossy(&output.stdout);
    let expected = home.join("vault.json");
    if !output.status.success() || printed.trim_end() != expected.to_string_lossy() {
        return Err(format!("expected {}, got {printed:?}", expected.display()));
    }
    Ok(())
}

type TestFn = fn() -> Result<(), String>;

fn main() -> ExitCode {
    if let Ok(role) = std::env::var(CHILD_ROLE) {
        let path = PathBuf::from(std::env::var_os(CHILD_PATH).unwrap_or_default());
        let result = match role.as_str() {
            "crash" => crash_writer(&path),
            "print-default-path" => tessera_core::vault::default_path().map(|p| {
                println!("{}", p.display());
            }),
            "secret-service" => secret_service_child(&path)
                .map_err(|detail| VaultError::KeyringUnavailable { detail }),
            "adder" => {
                let tag = std::env::var(CHILD_TAG).unwrap_or_default();
                let count = std::env::var(CHILD_COUNT).ok().and_then(|c| c.parse().ok());
                adder(&path, &tag, count.unwrap_or(0))
            }
            other => {
                eprintln!("unknown child role {other}");
                return ExitCode::FAILURE;
            }
        };
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("child {role}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let tests: [(&str, TestFn); 4] = [
        ("tessera_home_overrides_the_data_dir", tessera_home_overrides_the_data_dir),
        ("vault_survives_sigkill_at_random_points", vault_survives_sigkill_at_random_points),
        ("two_concurrent_writers_lose_no_update", two_concurrent_writers_lose_no_update),
        ("real_secret_service_holds_the_keyring_slot", real_secret_service_holds_the_keyring_slot),
    ];
    // Accept libtest's command line: a positional filter; flags (and the values of the flags
    // that take one) are ignored.
    let mut filter = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if ["--test-threads", "--skip", "--format", "--color", "--logfile", "-Z"]
            .contains(&arg.as_str())
        {
            args.next();
        } else if !arg.starts_with('-') && filter.is_none() {
            filter = Some(arg);
        }
    }
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in tests {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        match test() {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(e) => {
                println!("test {name} ... FAILED: {e}");
                failed += 1;
            }
        }
    }
    // The plain closing line CI readers understand for a custom harness.
    println!("\n{passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
