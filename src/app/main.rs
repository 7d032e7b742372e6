//! `tessera`: the desktop app with no arguments, the command line with a subcommand.

fn main() -> std::process::ExitCode {
    if std::env::args_os().len() > 1 {
        eprintln!("error: the command line is not part of this build yet");
        return std::process::ExitCode::from(2);
    }
    match tessera::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot open the window: {error}");
            eprintln!("hint: a display is needed (run under X11/Wayland, or Xvfb)");
            std::process::ExitCode::FAILURE
        }
    }
}
