//! `tessera password`: change, remove or complement the vault's protection.
//!
//! Every change goes through the core's slot functions, which rotate the master key (so the
//! old password or keyring key opens nothing saved afterwards) and follow the one password
//! policy (`tessera_core::vault::policy`), as the app's settings screen does.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use tessera_core::vault::policy::PasswordUse;
use tessera_core::vault::{Vault, VaultError};

use super::CliError;
use super::session::{Session, new_password};

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("change").args(["new_password_file", "remove", "keyring"]))]
pub struct PasswordArgs {
    /// Read the new vault password from FILE (first line); without any option, the new
    /// password is asked twice on the terminal.
    #[arg(long, value_name = "FILE")]
    pub new_password_file: Option<PathBuf>,
    /// Remove the password: the vault then opens only through the OS keyring (refused when
    /// the vault has no keyring slot).
    #[arg(long)]
    pub remove: bool,
    /// Add (`on`) or remove (`off`) the OS keyring slot.
    #[arg(long, value_name = "on|off")]
    pub keyring: Option<Switch>,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

pub fn run(session: &Session, args: &PasswordArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let mut vault = session.open()?;
    let info = vault.info();
    let message = if args.remove {
        if !info.has_password {
            return Err(CliError::new("the vault has no password to remove"));
        }
        vault.set_password(None).map_err(|e| slot_error(&e, "remove the password"))?;
        "the password was removed: the vault now opens only through the OS keyring"
    } else if let Some(switch) = args.keyring {
        let enable = switch == Switch::On;
        if enable == info.has_keyring {
            let _ = writeln!(
                out,
                "the OS keyring slot is already {}",
                if enable { "on" } else { "off" }
            );
            return Ok(());
        }
        with_password(session, &mut vault, |v| v.enable_keyring(enable))
            .map_err(|e| slot_error(&e, "change the keyring slot"))?;
        if enable {
            "the OS keyring now unlocks the vault too"
        } else {
            "the OS keyring slot was removed: the vault now opens with its password"
        }
    } else {
        let usage =
            if info.has_keyring { PasswordUse::VaultWithKeyring } else { PasswordUse::VaultAlone };
        let password =
            new_password(args.new_password_file.as_deref(), usage, "New vault password: ")?;
        vault.set_password(Some(password)).map_err(|e| slot_error(&e, "change the password"))?;
        "the vault password was changed"
    };
    let _ = writeln!(
        out,
        "{message}; the vault key was replaced, so old passwords and old copies of the file no longer open what is saved from now on"
    );
    Ok(())
}

/// Runs a slot change that keeps the password slot, confirming the current password first
/// when the vault was unlocked through the keyring (the core needs the password slot's key to
/// wrap the new master key).
fn with_password(
    session: &Session,
    vault: &mut Vault,
    change: impl Fn(&mut Vault) -> Result<(), VaultError>,
) -> Result<(), VaultError> {
    match change(vault) {
        Err(VaultError::PasswordNeeded) => {
            let password = session.current_password().map_err(|e| VaultError::NoUsableSlot {
                detail: format!("the current vault password is needed: {e}"),
            })?;
            vault.confirm_password(&password)?;
            change(vault)
        }
        other => other,
    }
}

fn slot_error(error: &VaultError, what: &str) -> CliError {
    let hint = match error {
        VaultError::NoUsableSlot { .. } => {
            "a vault needs a password or the OS keyring; add the other one first"
        }
        VaultError::KeyringUnavailable { .. } | VaultError::KeyringNotDurable { .. } => {
            "the keyring must answer (and keep keys across reboots) to hold the vault's only key"
        }
        _ => "the vault was not changed",
    };
    CliError::new(format!("cannot {what}: {error}")).hint(hint)
}
