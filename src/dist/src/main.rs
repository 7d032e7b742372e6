//! `tessera-dist docs DIR`: writes the man pages and shell completions of `tessera` and
//! `tessera-server` into `DIR/man` and `DIR/completions`, for `scripts/package.sh` to put into
//! the Debian package.
//!
//! They are generated from `tessera_cli::Cli` and `tessera_server::cli::Cli`, the definitions
//! the binaries parse their arguments with, so they cannot drift from `--help`:
//!
//! - `man/tessera.1` and one page per subcommand (`tessera-code.1`, `tessera-push-watch.1`,
//!   ...) by `clap_mangen`; `man/tessera-gui.1` and `man/tessera-cli.1` point to `tessera.1`
//!   (`.so`), because both take the same commands (`tessera` hands them to `tessera-cli`, and
//!   a bare `tessera` runs `tessera-gui`);
//!   `man/tessera-server.1` and its subcommands' pages (`tessera-server-serve.1`,
//!   `tessera-server-admin-login.1`, ...) likewise;
//! - `completions/tessera.bash`, `completions/_tessera` (zsh) and
//!   `completions/tessera.fish` by `clap_complete`, and the same three for `tessera-server`.
//!
//! A separate binary (rather than a hidden `tessera` subcommand) keeps the generators out of
//! the command line that `tessera code` starts on every call.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;
use tessera_cli::Cli;
use tessera_server::cli::Cli as ServerCli;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let [command, dir] = args.as_slice() else {
        return usage();
    };
    if command != "docs" {
        return usage();
    }
    match docs(Path::new(dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot write the docs into {}: {error}", Path::new(dir).display());
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: tessera-dist docs DIR");
    eprintln!("hint: writes DIR/man/*.1 and DIR/completions/* for `tessera` and `tessera-server`");
    ExitCode::from(2)
}

/// Writes every page and completion script into `dir` (created if needed).
fn docs(dir: &Path) -> io::Result<()> {
    let man = dir.join("man");
    std::fs::create_dir_all(&man)?;
    clap_mangen::generate_to(Cli::command(), &man)?;
    for alias in ["tessera-gui.1", "tessera-cli.1"] {
        std::fs::write(man.join(alias), ".so man1/tessera.1\n")?;
    }
    clap_mangen::generate_to(ServerCli::command(), &man)?;

    let completions = dir.join("completions");
    std::fs::create_dir_all(&completions)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut Cli::command(), "tessera", &completions)?;
        let server = &mut ServerCli::command();
        clap_complete::generate_to(shell, server, "tessera-server", &completions)?;
    }
    Ok(())
}
