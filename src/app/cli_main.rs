//! The `tessera-cli` binary: the whole command line, which `tessera` hands every command to
//! that its quick path does not answer (see `src/app/main.rs`). With no arguments (or
//! `--background`) it becomes the desktop app by executing `tessera-gui` from the same
//! directory.
//!
//! Apart from the GUI because start-up time is the command line's main cost: the GUI build
//! links fontconfig (which brings freetype, libpng, brotli, expat and zlib) and is far larger,
//! and the dynamic loader pays for that on every command. This binary uses only the
//! `tessera-cli` crate, never the app crate, so it links no GUI code at all (a linked crate's
//! `#[used]` statics are kept even when unused; see src/cli/Cargo.toml).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if tessera_cli::Launch::from_args(&args).is_none() {
        return tessera_cli::main();
    }
    let gui = gui_path();
    let error = run_gui(&gui, &args);
    eprintln!("error: cannot start the desktop app {}: {error}", gui.display());
    eprintln!("hint: install tessera-gui next to tessera (`cargo build` builds both)");
    eprintln!("hint: `tessera --help` lists the command-line commands");
    ExitCode::FAILURE
}

/// `tessera-gui` next to this executable (by its real path, so a symlinked `tessera` works).
fn gui_path() -> PathBuf {
    let name = format!("tessera-gui{}", std::env::consts::EXE_SUFFIX);
    std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Replaces this process with the GUI (same pid, environment and terminal); returns only on
/// failure.
#[cfg(unix)]
fn run_gui(gui: &std::path::Path, args: &[std::ffi::OsString]) -> std::io::Error {
    use std::os::unix::process::CommandExt as _;
    std::process::Command::new(gui).args(args).exec()
}

/// Runs the GUI and exits with its status (no `exec` outside Unix).
#[cfg(not(unix))]
fn run_gui(gui: &std::path::Path, args: &[std::ffi::OsString]) -> std::io::Error {
    match std::process::Command::new(gui).args(args).status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(error) => error,
    }
}
