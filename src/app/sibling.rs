//! Running a sibling binary: `tessera` hands commands to `tessera-cli`, which hands a bare
//! `tessera` to `tessera-gui`. A module of each of those two binaries, not of the app library,
//! which neither may link (see src/cli/Cargo.toml).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The binary `name` next to this executable (by its real path, so a symlinked one works).
pub(crate) fn path(name: &str) -> PathBuf {
    let name = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Replaces this process with `program` (same pid, environment and terminal); returns only
/// on failure.
#[cfg(unix)]
pub(crate) fn exec(program: &Path, args: &[OsString]) -> std::io::Error {
    use std::os::unix::process::CommandExt as _;
    std::process::Command::new(program).args(args).exec()
}

/// Runs `program` and exits with its status (no `exec` outside Unix).
#[cfg(not(unix))]
pub(crate) fn exec(program: &Path, args: &[OsString]) -> std::io::Error {
    match std::process::Command::new(program).args(args).status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(error) => error,
    }
}
