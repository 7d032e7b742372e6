//! Crash-safe file replacement, the backup generation, and the inter-process lock.
//!
//! A save writes a new temp file `vault.json.<random>.tmp` (mode 0600), fsyncs it, makes
//! `vault.json.bak` a copy of the current file (a hard link where the file system allows it,
//! else a copied temp file renamed into place), renames the temp file over `vault.json` and
//! fsyncs the directory. A save that rotates the master key removes `.bak` instead (see the
//! `slots` module).
//!
//! Temp files are created exclusively (`O_CREAT | O_EXCL`) under a random name: an existing
//! file or symlink at that name (planted by another local user in a shared folder) makes the
//! creation fail instead of being followed, truncated or kept with looser permissions, and
//! POSIX guarantees that `O_EXCL` does not follow a symlink in the last component. The data
//! folder's own permissions are checked by [`folder_warning`], which the front ends print.
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

/// Creates `path` exclusively (never following or reusing what is there), writes `bytes`
/// and fsyncs.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    let mut options = private_options();
    options.write(true).create_new(true);
    let mut file = options.open(path).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => VaultError::AlreadyExists { path: path.to_path_buf() },
        _ => io_error(path, e),
    })?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| io_error(path, e))
}

/// Returns a fresh temp path beside `path`: `<name><suffix>.<random>.tmp`.
fn temp_path(path: &Path, suffix: &str) -> Result<PathBuf, VaultError> {
    let random = super::format::random_bytes::<8>()?;
    let hex = data_encoding::HEXLOWER.encode(random.as_ref());
    Ok(sibling(path, &format!("{suffix}.{hex}.tmp")))
}

/// Writes `bytes` to a new temp file beside `path` (see the module docs) and returns it.
fn write_temp(path: &Path, suffix: &str, bytes: &[u8]) -> Result<PathBuf, VaultError> {
    let tmp = temp_path(path, suffix)?;
    if let Err(e) = write_synced(&tmp, bytes) {
        // Only remove what this call created: an AlreadyExists means someone else's file.
        if !matches!(e, VaultError::AlreadyExists { .. }) {
            let _ = fs::remove_file(&tmp);
        }
        return Err(e);
    }
    Ok(tmp)
}

/// What a replacing save does with the previous generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Previous {
    /// Keep it as `.bak`.
    Keep,
    /// Remove `.bak`: its slots open a master key that was just revoked.
    Drop,
}

/// Returns a warning if the folder holding `path` can be read or entered by other users
/// (group or world permission bits set); `None` if it is private or cannot be checked.
pub(super) fn folder_warning(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mode = fs::metadata(dir).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            return Some(format!(
                "the vault folder {} is accessible to other users (mode {:o}); run `chmod 700` \
                 on it",
                dir.display(),
                mode & 0o777
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    None
}

/// Writes a brand-new vault file; fails with [`VaultError::AlreadyExists`] if one is there.
///
/// The bytes go to a temp file first and are then hard-linked into place, which fails
/// atomically if the target appeared meanwhile; where hard links are unsupported the file
/// is created with `create_new` directly.
pub(super) fn create_new(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    let tmp = write_temp(path, "", bytes)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(VaultError::AlreadyExists { path: path.to_path_buf() });
        }
        Err(_) => write_synced(path, bytes)?,
    }
    sync_dir(path)
}

/// Replaces the vault file atomically, keeping the previous generation as `.bak` or
/// removing `.bak` (then before the rename: a crash in between leaves the old file and no
/// `.bak`, never a revoked generation beside a new one).
pub(super) fn replace(path: &Path, bytes: &[u8], previous: Previous) -> Result<(), VaultError> {
    let tmp = write_temp(path, "", bytes)?;
    let prepared = match previous {
        Previous::Keep => keep_backup(path),
        Previous::Drop => remove_backup(path),
    };
    let renamed = prepared.and_then(|()| fs::rename(&tmp, path).map_err(|e| io_error(path, e)));
    if let Err(e) = renamed {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(path)
}

fn remove_backup(path: &Path) -> Result<(), VaultError> {
    let bak = sibling(path, ".bak");
    match fs::remove_file(&bak) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(&bak, e)),
    }
}

/// Makes `.bak` hold the current file. Each step leaves either the old or the new backup.
fn keep_backup(path: &Path) -> Result<(), VaultError> {
    let bak = sibling(path, ".bak");
    let mut bak_tmp = temp_path(path, ".bak")?;
    if fs::hard_link(path, &bak_tmp).is_err() {
        bak_tmp = write_temp(path, ".bak", &read(path)?)?;
    }
    fs::rename(&bak_tmp, &bak).map_err(|e| {
        let _ = fs::remove_file(&bak_tmp);
        io_error(&bak, e)
    })
}

/// The exclusive inter-process lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct FileLock {
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn a_symlink_planted_at_a_temp_name_is_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let planted = dir.path().join("vault.json.tmp");
        symlink(&victim, &planted).unwrap();
        let err = write_synced(&planted, b"vault bytes").unwrap_err();
        assert!(matches!(err, VaultError::AlreadyExists { .. }), "{err:?}");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn a_save_never_writes_through_a_symlink_planted_beside_the_vault() {
        // The attack on the old fixed name `vault.json.tmp`: another local user who can write
        // the folder plants a symlink there and the next save writes the vault into its target
        // (or a file that keeps looser permissions).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.json");
        create_new(&path, b"generation 1").unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        for name in ["vault.json.tmp", "vault.json.bak.tmp"] {
            symlink(&victim, dir.path().join(name)).unwrap();
        }
        replace(&path, b"generation 2", Previous::Keep).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"generation 2");
        assert_eq!(fs::read(sibling(&path, ".bak")).unwrap(), b"generation 1");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        let mode = fs::symlink_metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn dropping_the_previous_generation_removes_the_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.json");
        create_new(&path, b"generation 1").unwrap();
        replace(&path, b"generation 2", Previous::Keep).unwrap();
        replace(&path, b"generation 3", Previous::Drop).unwrap();
        assert!(!sibling(&path, ".bak").exists());
        assert_eq!(fs::read(&path).unwrap(), b"generation 3");
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_folder_open_to_other_users_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.json");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(folder_warning(&path), None);
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let warning = folder_warning(&path).unwrap();
        assert!(warning.contains("accessible to other users") && warning.contains("755"));
    }
}
