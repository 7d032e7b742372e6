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

mod sibling;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if tessera_cli::Launch::from_args(&args).is_none() {
        return tessera_cli::main();
    }
    let gui = sibling::path("tessera-gui");
    let error = sibling::exec(&gui, &args);
    eprintln!("error: cannot start the desktop app {}: {error}", gui.display());
    eprintln!("hint: install tessera-gui next to tessera (`cargo build` builds both)");
    eprintln!("hint: `tessera --help` lists the command-line commands");
    ExitCode::FAILURE
}
