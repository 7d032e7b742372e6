//! The `tessera-gui` binary: the desktop app with no arguments (what `tessera` with no
//! arguments runs), the command line with a subcommand, like `tessera`.

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args_os().len() > 1 {
        return tessera::cli::main();
    }
    match tessera::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot open the window: {error}");
            eprintln!("hint: a display is needed (X11 or Wayland; Xvfb on a headless machine)");
            eprintln!("hint: `tessera --help` lists the command-line commands");
            ExitCode::FAILURE
        }
    }
}
