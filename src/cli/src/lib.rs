//! The `tessera` command line: a thin layer over tessera-core.
//!
//! A crate of its own, beside the app, so the `tessera` binary links no GUI (start-up is the
//! command line's main cost). It also holds [`capture`], the QR sources the app's scan
//! screen shares, and [`Launch`], how the binaries tell the desktop app's arguments from a
//! command.
//!
//! The contract (subcommands, flags, JSON shapes, exit codes) is fixed: tests and outside
//! scripts rely on it. Errors print as `error: ...` plus a `hint: ...` on stderr; exit 1 for
//! bad input or a failed operation, 2 for usage errors (clap's own). Nothing is written to the
//! vault when a command fails.

#![allow(unreachable_pub)]

mod add;
mod backup;
pub mod capture;
mod code;
mod edit;
mod error;
mod export;
mod import;
mod password;
mod push;
mod query;
mod recovery;
mod scan;
mod session;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use error::CliError;

/// Tessera: an open-source authenticator.
#[derive(Debug, Parser)]
// `bin_name`: usage lines say `tessera` whichever binary parses (tessera-cli, tessera-gui).
#[command(
    name = "tessera",
    bin_name = "tessera",
    version,
    about,
    long_about = None,
    after_long_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The end of `tessera --help` and of the man page: what a bare `tessera` does (handled before
/// the arguments reach clap, see `src/app/cli_main.rs`) and the environment.
const AFTER_HELP: &str = "\
Without a command, tessera opens the desktop app (tessera-gui, installed beside it), or brings \
the running one to the front; `tessera --background` starts it without a window.

Environment: TESSERA_HOME is the data folder (the vault, settings and backups); \
TESSERA_PASSWORD_FILE is read like --password-file; TESSERA_KEYRING=off never uses the OS \
keyring.";

/// Options every subcommand accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Read the vault password from FILE (first line). Also: TESSERA_PASSWORD_FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the vault explicitly (the first `add` also creates it).
    Init(InitArgs),
    /// Add an account from an otpauth:// URI or from a secret key.
    Add(add::AddArgs),
    /// List accounts.
    List(ListArgs),
    /// Show the current codes of accounts matching QUERY (all accounts without QUERY).
    Code(code::CodeArgs),
    /// Advance a counter-based (HOTP) account and print its new code.
    Next(code::NextArgs),
    /// Remove an account.
    Remove(edit::RemoveArgs),
    /// Change an account's issuer and/or account name.
    Rename(edit::RenameArgs),
    /// Export accounts: a Tessera encrypted backup, or another app's format (aegis, 2fas,
    /// proton, google, uri-list) for moving there.
    Export(export::ExportArgs),
    /// Import accounts from another authenticator's export file.
    Import(import::ImportArgs),
    /// Write an encrypted Tessera backup (Argon2id at the vault's cost) into a folder,
    /// keeping the newest N.
    Backup(backup::BackupArgs),
    /// Decrypt the newest backup in a folder and compare it with the vault.
    VerifyBackup(backup::VerifyBackupArgs),
    /// Read QR codes from images, the screen or the clipboard (print, describe or add them).
    Scan(scan::ScanArgs),
    /// Change the vault password, remove it, or turn the OS keyring slot on or off.
    Password(password::PasswordArgs),
    /// Push login approvals: list, approve, deny or watch login requests.
    #[command(subcommand)]
    Push(push::PushCommand),
    /// An account's recovery (emergency) codes: add them, list them, mark them used.
    #[command(subcommand)]
    Recovery(recovery::RecoveryCommand),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Protect the vault with a password only, even if an OS keyring is available.
    #[arg(long)]
    pub no_keyring: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Parses the process arguments, runs the command and turns the outcome into an exit code.
pub fn main() -> ExitCode {
    main_with(std::env::args_os())
}

/// Like [`main`], with explicit arguments (for tests).
pub fn main_with<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run(cli, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = out.flush();
            err.print();
            ExitCode::from(err.exit_code())
        }
    }
}

/// Runs a parsed command, writing its normal output to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<(), CliError> {
    let session = session::Session::from_env(&cli.global)?;
    match cli.command {
        Command::Init(args) => session.init(args.no_keyring, out),
        Command::Add(args) => add::run(&session, &args, out),
        Command::List(args) => code::list(&session, args.json, out),
        Command::Code(args) => code::code(&session, &args, out),
        Command::Next(args) => code::next(&session, &args, out),
        Command::Remove(args) => edit::remove(&session, &args, out),
        Command::Rename(args) => edit::rename(&session, args, out),
        Command::Export(args) => export::run(&session, &args, out),
        Command::Import(args) => import::run(&session, &args, out),
        Command::Backup(args) => backup::backup(&session, &args, out),
        Command::VerifyBackup(args) => backup::verify(&session, &args, out),
        Command::Scan(args) => scan::run(&session, &args, out),
        Command::Password(args) => password::run(&session, &args, out),
        Command::Push(command) => push::run(&session, command, out),
        Command::Recovery(command) => recovery::run(&session, command, out),
    }
}

/// How the desktop app starts, when the arguments ask for it rather than for a command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Launch {
    /// Start without showing the window (`--background`, as the autostart entry does): push
    /// requests are listened for once the vault is open (at once with the keyring).
    pub background: bool,
}

impl Launch {
    /// Reads the desktop app's arguments: none, or `--background`. Anything else is `None`
    /// (a command-line command).
    pub fn from_args(args: &[OsString]) -> Option<Self> {
        match args {
            [] => Some(Self::default()),
            [flag] if flag == "--background" => Some(Self { background: true }),
            _ => None,
        }
    }
}
