//! The `tessera` binary: the command line when given a subcommand.

use std::process::ExitCode;

fn main() -> ExitCode {
    tessera::cli::main()
}
