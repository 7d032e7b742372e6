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
    let mut fastest = Duration::MAX;
    for _ in 0..3 {
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
        fastest = fastest.min(start.elapsed());
        let _ = child.kill();
        child.wait().map_err(|e| e.to_string())?;
    }
    Ok(fastest)
}

fn vault_survives_sigkill_at_random_points() -> Result<(), String> {
    let (_dir, path) = temp_vault();
    create_vault(&path);
    let seed = std::env::var("TESSERA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7e55_e7a5_u64);
    let mut rng = fastrand::Rng::with_seed(seed);
    // Kill within twice the time a writer needs for its first save, measured here, so that
    // the kills spread over start-up, unlock, encryption, write and rename on fast and slow
    // machines alike.
    let first_save = time_to_first_save(&path)?;
    let window = u64::try_from(first_save.as_micros()).unwrap_or(u64::MAX).max(1000) * 2;
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

type TestFn = fn() -> Result<(), String>;

fn main() -> ExitCode {
    if let Ok(role) = std::env::var(CHILD_ROLE) {
        let path = PathBuf::from(std::env::var_os(CHILD_PATH).unwrap_or_default());
        let result = match role.as_str() {
            "crash" => crash_writer(&path),
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
    let tests: [(&str, TestFn); 2] = [
        ("vault_survives_sigkill_at_random_points", vault_survives_sigkill_at_random_points),
        ("two_concurrent_writers_lose_no_update", two_concurrent_writers_lose_no_update),
    ];
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut failed = 0;
    for (name, test) in tests {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        match test() {
            Ok(()) => println!("test {name} ... ok"),
            Err(e) => {
                println!("test {name} ... FAILED: {e}");
                failed += 1;
            }
        }
    }
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
