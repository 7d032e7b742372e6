//! The `tessera-gui` binary: the desktop app with no arguments or `--background` (what
//! `tessera` runs then), the command line with a subcommand, like `tessera`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let Some(launch) = tessera::Launch::from_args(&args) else {
        return tessera::cli::main();
    };
    match tessera::run(launch) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot open the window: {error}");
            eprintln!("hint: a display is needed (X11 or Wayland; Xvfb on a headless machine)");
            eprintln!("hint: `tessera --help` lists the command-line commands");
            ExitCode::FAILURE
        }
    }
}
