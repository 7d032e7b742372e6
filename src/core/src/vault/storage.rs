//! Crash-safe file replacement, the backup generation, and the inter-process lock.
//!
//! A save writes `vault.json.tmp` (mode 0600), fsyncs it, makes `vault.json.bak` a copy of
//! the current file (a hard link where the file system allows it, else a copied temp file
//! renamed into place), renames the temp file over `vault.json` and fsyncs the directory.
//! `rename` is atomic on POSIX file systems, so after a crash at any instant `vault.json`
//! is either the old or the new generation, never a mixture and never missing.
//!
//! The lock is an exclusive advisory lock (`flock` on Unix, `LockFileEx` on Windows, via
//! `std::fs::File::lock`) on the sidecar `vault.json.lock`. A sidecar is used because the
//! vault file itself is replaced on every save, so a lock on it would not outlive the save.
//! The kernel drops the lock when the holder dies, so a crashed process never leaves it stale.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::VaultError;

fn io_error(path: &Path, source: io::Error) -> VaultError {
    VaultError::Io { path: path.to_path_buf(), source }
}

/// Returns `path` with `suffix` appended to its file name (`vault.json` + `.bak`).
pub(super) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// Reads the whole vault file, mapping a missing file to [`VaultError::NotFound`].
pub(super) fn read(path: &Path) -> Result<Vec<u8>, VaultError> {
    match fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(VaultError::NotFound { path: path.to_path_buf() })
        }
        Err(e) => Err(io_error(path, e)),
    }
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

fn sync_dir(path: &Path) -> Result<(), VaultError> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates the parent directory (mode 0700 on Unix) if it does not exist.
pub(super) fn ensure_parent(path: &Path) -> Result<(), VaultError> {
    let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| io_error(dir, e))
}

fn write_synced(path: &Path, bytes: &[u8], create_new: bool) -> Result<(), VaultError> {
    let mut options = private_options();
    options.write(true);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => VaultError::AlreadyExists { path: path.to_path_buf() },
        _ => io_error(path, e),
    })?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| io_error(path, e))
}

/// Writes a brand-new vault file; fails with [`VaultError::AlreadyExists`] if one is there.
///
/// The bytes go to a temp file first and are then hard-linked into place, which fails
/// atomically if the target appeared meanwhile; where hard links are unsupported the file
/// is created with `create_new` directly.
pub(super) fn create_new(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    let tmp = sibling(path, ".tmp");
    write_synced(&tmp, bytes, false)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(VaultError::AlreadyExists { path: path.to_path_buf() });
        }
        Err(_) => write_synced(path, bytes, true)?,
    }
    sync_dir(path)
}

/// Replaces the vault file atomically, keeping the previous generation as `.bak`.
pub(super) fn replace(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    let tmp = sibling(path, ".tmp");
    write_synced(&tmp, bytes, false)?;
    keep_backup(path)?;
    fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
    sync_dir(path)
}

/// Makes `.bak` hold the current file. Each step leaves either the old or the new backup.
fn keep_backup(path: &Path) -> Result<(), VaultError> {
    let bak = sibling(path, ".bak");
    let bak_tmp = sibling(path, ".bak.tmp");
    let _ = fs::remove_file(&bak_tmp);
    if fs::hard_link(path, &bak_tmp).is_err() {
        let current = read(path)?;
        write_synced(&bak_tmp, &current, false)?;
    }
    fs::rename(&bak_tmp, &bak).map_err(|e| io_error(&bak, e))
}

/// The exclusive inter-process lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub(super) struct FileLock {
    _file: File,
}

/// How often a blocked lock attempt retries.
const LOCK_POLL: Duration = Duration::from_millis(20);

impl FileLock {
    /// Takes the lock on `<vault>.lock`, waiting up to `wait`; then [`VaultError::Busy`].
    pub(super) fn acquire(vault: &Path, wait: Duration) -> Result<Self, VaultError> {
        let path = sibling(vault, ".lock");
        let mut options = private_options();
        options.read(true).write(true).create(true).truncate(false);
        let mut file = options.open(&path).map_err(|e| io_error(&path, e))?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    thread::sleep(LOCK_POLL);
                }
                Err(fs::TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    let holder = holder.trim().chars().take(20).collect::<String>();
                    return Err(VaultError::Busy { path: vault.to_path_buf(), holder });
                }
                Err(fs::TryLockError::Error(e)) => return Err(io_error(&path, e)),
            }
        }
        // Record the holder's pid so that a blocked process can say who holds the lock.
        let _ = file.set_len(0).and_then(|()| write!(file, "{}", std::process::id()));
        Ok(Self { _file: file })
    }
}
