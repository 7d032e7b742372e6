//! Where the vault is and how to unlock or create it, for every command.
//!
//! Unlock order: the OS keyring if the vault has a keyring slot and the secret store answers;
//! else a password from `--password-file`, `TESSERA_PASSWORD_FILE`, or an interactive prompt on
//! a terminal; otherwise a clear error. `TESSERA_KEYRING=off` skips the keyring entirely (for
//! automation, kiosks and tests that must not touch the user's secret store).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use tessera_core::clock::{Clock, SystemClock};
use tessera_core::transfer::backup::{BackupOutcome, save_and_back_up};
use tessera_core::vault::attempts::{AttemptError, AttemptGuard};
use tessera_core::vault::policy::{self, PasswordUse};
use tessera_core::vault::rollback::{Rollback, Watermark};
use tessera_core::vault::{
    self, Protection, SealedVault, Unlock, Vault, VaultContent, VaultError, VaultOptions,
};
use zeroize::Zeroizing;

use super::{CliError, GlobalArgs};

/// The resolved vault location and unlock sources for one command.
pub struct Session {
    path: PathBuf,
    password_file: Option<PathBuf>,
    keyring: bool,
}

impl Session {
    /// Reads `TESSERA_HOME`, `TESSERA_PASSWORD_FILE` and `TESSERA_KEYRING`.
    pub fn from_env(global: &GlobalArgs) -> Result<Self, CliError> {
        let path = vault::default_path()?;
        let password_file = global
            .password_file
            .clone()
            .or_else(|| std::env::var_os("TESSERA_PASSWORD_FILE").map(PathBuf::from));
        Ok(Self { path, password_file, keyring: keyring_enabled() })
    }

    /// Returns the vault file's path (its folder also holds the app's `clock.json`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns true if a vault file exists.
    pub fn vault_exists(&self) -> bool {
        self.path.exists()
    }

    /// Opens the existing vault for changes (takes the vault's lock).
    pub fn open(&self) -> Result<Vault, CliError> {
        let sealed = self.sealed()?;
        let vault = self.unlock(&sealed, |unlock| sealed.open(unlock, VaultOptions::default()))?;
        warn_on_rollback(&vault);
        Ok(vault)
    }

    /// Decrypts the existing vault for display only: no lock is taken, so this neither waits
    /// for nor blocks another tessera process.
    pub fn read(&self) -> Result<VaultContent, CliError> {
        let sealed = self.sealed()?;
        let options = VaultOptions::default();
        let content = self.unlock(&sealed, |unlock| sealed.decrypt(unlock, &options))?;
        if let Err(rollback) = watermark(&self.path).note(&sealed.info()) {
            print_rollback(&rollback);
        }
        Ok(content)
    }

    /// Reads and verifies the vault file once; every unlock attempt reuses it.
    fn sealed(&self) -> Result<SealedVault, CliError> {
        if let Some(warning) = vault::folder_warning(&self.path) {
            eprintln!("warning: {warning}");
        }
        match SealedVault::read(&self.path) {
            Ok(sealed) => Ok(sealed),
            Err(VaultError::NotFound { .. }) => {
                Err(CliError::new(format!("no vault at {}", self.path.display()))
                    .hint("add an account with `tessera add` or run `tessera init`"))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Tries the keyring, then a password, with `attempt` doing the actual unlock.
    fn unlock<T>(
        &self,
        sealed: &SealedVault,
        attempt: impl Fn(&Unlock) -> Result<T, VaultError>,
    ) -> Result<T, CliError> {
        let info = sealed.info();
        if info.has_keyring && self.keyring {
            match attempt(&Unlock::Keyring) {
                Ok(value) => return Ok(value),
                // The secret store did not answer or lacks our key: fall back to a password.
                Err(VaultError::KeyringUnavailable { .. }) if info.has_password => {}
                Err(err) => return Err(err.into()),
            }
        }
        if !info.has_password {
            return Err(CliError::new(
                "the vault is protected only by the OS keyring, which did not answer",
            )
            .hint(
                "unlock your desktop session's keyring (or start its secret service) and try again",
            ));
        }
        let password = self.password(false)?;
        self.guarded(|| attempt(&Unlock::Password(password)))
    }

    /// Runs a password attempt under the shared unlock delay (see
    /// `tessera_core::vault::attempts`): refused while the delay after earlier failures runs,
    /// serialized with other processes' attempts, and counted when the password is wrong.
    fn guarded<T>(&self, attempt: impl FnOnce() -> Result<T, VaultError>) -> Result<T, CliError> {
        let home = self.path.parent().unwrap_or(Path::new("."));
        let guard = AttemptGuard::begin(home, SystemClock.now(), ATTEMPT_LOCK_WAIT).map_err(
            |e| match e {
                AttemptError::Wait { .. } => CliError::new(e.to_string()).hint(
                    "the delay grows after each wrong password and survives restarts; the vault \
                     was not changed",
                ),
                AttemptError::Vault(e) => e.into(),
            },
        )?;
        let result = attempt();
        match &result {
            Ok(_) => guard.finish(true, SystemClock.now()),
            Err(VaultError::WrongPassword) => guard.finish(false, SystemClock.now()),
            // Damage, I/O, a busy vault: not a guess, not counted.
            Err(_) => drop(guard),
        }
        Ok(result?)
    }

    /// Returns the current vault password (password file or terminal prompt), for commands
    /// that must confirm it after a keyring unlock.
    pub fn current_password(&self) -> Result<Zeroizing<String>, CliError> {
        self.password(false)
    }

    /// Opens the vault, creating it first if there is none (the first `add`).
    pub fn open_or_create(&self, out: &mut dyn Write) -> Result<Vault, CliError> {
        if self.vault_exists() { self.open() } else { self.create(false, out) }
    }

    /// `tessera init`: creates the vault, refusing to replace one.
    pub fn init(&self, no_keyring: bool, out: &mut dyn Write) -> Result<(), CliError> {
        if self.vault_exists() {
            return Err(CliError::new(format!(
                "a vault already exists at {}",
                self.path.display()
            ))
            .hint("the existing vault was left untouched"));
        }
        self.create(no_keyring, out).map(drop)
    }

    fn create(&self, no_keyring: bool, out: &mut dyn Write) -> Result<Vault, CliError> {
        let explicit_password = self.password_from_file()?;
        if self.keyring && !no_keyring {
            if let Some(pw) = &explicit_password {
                check_new(pw, PasswordUse::VaultWithKeyring)?;
            }
            let mut protections = vec![Protection::Keyring];
            if let Some(pw) = &explicit_password {
                protections.push(Protection::Password(pw.clone()));
            }
            match Vault::create(&self.path, &protections) {
                Ok(vault) => {
                    let _ = writeln!(
                        out,
                        "created a vault at {} protected by the OS keyring{}",
                        self.path.display(),
                        if explicit_password.is_some() { " and a password" } else { "" }
                    );
                    return Ok(vault);
                }
                // No secret store, or only one that forgets keys at reboot: use a password.
                Err(
                    VaultError::KeyringUnavailable { .. } | VaultError::KeyringNotDurable { .. },
                ) => {}
                Err(err) => return Err(err.into()),
            }
        }
        let password = match explicit_password {
            Some(pw) => pw,
            None => self.password(true)?,
        };
        check_new(&password, PasswordUse::VaultAlone)?;
        let vault = Vault::create(&self.path, &[Protection::Password(password)])?;
        let _ = writeln!(out, "created a vault at {} protected by a password", self.path.display());
        Ok(vault)
    }

    /// Returns the password from the password file, if one is configured.
    fn password_from_file(&self) -> Result<Option<Zeroizing<String>>, CliError> {
        let Some(file) = &self.password_file else { return Ok(None) };
        read_password_file(file).map(Some)
    }

    /// Returns the vault password to confirm an approval for `account`, whose server asked
    /// for it: from `--password-file` / `TESSERA_PASSWORD_FILE`, else asked on the terminal
    /// (hidden), even when the keyring opened the vault.
    pub fn approval_password(&self, account: &str) -> Result<Zeroizing<String>, CliError> {
        if let Some(pw) = self.password_from_file()? {
            return Ok(pw);
        }
        let prompt = format!("Vault password (approving for {account} requires it): ");
        prompt_password(&prompt, false)?.ok_or_else(|| {
            CliError::new(format!(
                "approving a request for {account} needs the vault password; nothing was sent"
            ))
            .hint("pass --password-file FILE or set TESSERA_PASSWORD_FILE (or run on a terminal)")
        })
    }

    fn password(&self, confirm: bool) -> Result<Zeroizing<String>, CliError> {
        if let Some(pw) = self.password_from_file()? {
            return Ok(pw);
        }
        if !std::io::stdin().is_terminal() {
            return Err(CliError::new("the vault needs a password and none was given").hint(
                "pass --password-file FILE or set TESSERA_PASSWORD_FILE (or run on a terminal)",
            ));
        }
        let prompt = if confirm { "New vault password: " } else { "Vault password: " };
        let first = Zeroizing::new(
            rpassword::prompt_password(prompt)
                .map_err(|err| CliError::new(format!("cannot read the password: {err}")))?,
        );
        if first.is_empty() {
            return Err(CliError::new("the password is empty"));
        }
        if confirm {
            let second = Zeroizing::new(
                rpassword::prompt_password("Repeat the password: ")
                    .map_err(|err| CliError::new(format!("cannot read the password: {err}")))?,
            );
            if *first != *second {
                return Err(CliError::new("the two passwords differ; no vault was created"));
            }
        }
        Ok(first)
    }
}

/// Returns where the last seen generation of the vault at `path` is kept: its data
/// directory, and the OS keyring unless `TESSERA_KEYRING=off`.
fn watermark(path: &Path) -> Watermark {
    let dir = path.parent().unwrap_or(Path::new("."));
    Watermark::new(dir, keyring_enabled().then(|| VaultOptions::default().key_store))
}

fn keyring_enabled() -> bool {
    !matches!(
        std::env::var("TESSERA_KEYRING").as_deref().map(str::to_ascii_lowercase).as_deref(),
        Ok("off" | "0" | "no" | "false")
    )
}

fn warn_on_rollback(vault: &Vault) {
    if let Err(rollback) = watermark(vault.path()).note(&vault.info()) {
        print_rollback(&rollback);
    }
}

fn print_rollback(rollback: &Rollback) {
    eprintln!("warning: {rollback}");
    eprintln!(
        "hint: if you did not restore this file on purpose, check the folder; saving a change \
         accepts this copy"
    );
}

/// How long a password attempt waits for another process's attempt to finish.
const ATTEMPT_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Applies the one password policy to a new password and prints its strength hint.
pub fn check_new(password: &str, usage: PasswordUse) -> Result<(), CliError> {
    match policy::check_new_password(password, usage) {
        Ok(strength) => {
            if strength < policy::Strength::Strong {
                eprintln!("note: password strength {}", strength.hint());
            }
            if usage == PasswordUse::VaultWithKeyring
                && password.chars().all(|c| c.is_ascii_digit())
            {
                eprintln!(
                    "note: a PIN is only a fallback beside the keyring; a copy of the vault file \
                     can be opened by guessing it, so use a password if copies may leave this \
                     machine"
                );
            }
            Ok(())
        }
        Err(err) => Err(CliError::new(err.to_string()).hint("nothing was changed")),
    }
}

/// Returns a new password for `usage`: from `file` (first line), else asked twice on a
/// terminal; checked against the password policy.
pub fn new_password(
    file: Option<&Path>,
    usage: PasswordUse,
    prompt: &str,
) -> Result<Zeroizing<String>, CliError> {
    let password = match file {
        Some(file) => read_password_file(file)?,
        None => prompt_password(prompt, true)?.ok_or_else(|| {
            CliError::usage("a new password is needed")
                .hint("pass --new-password-file FILE (or run on a terminal to type it twice)")
        })?,
    };
    check_new(&password, usage)?;
    Ok(password)
}

/// Reads a password from the first line of `file` (a trailing newline from `echo` is not part of
/// it); also used for the import and export file passwords.
pub fn read_password_file(file: &Path) -> Result<Zeroizing<String>, CliError> {
    let raw = Zeroizing::new(std::fs::read_to_string(file).map_err(|err| {
        CliError::new(format!("cannot read the password file {}: {err}", file.display()))
    })?);
    let first = raw.lines().next().unwrap_or("");
    if first.is_empty() {
        return Err(CliError::new(format!("the password file {} is empty", file.display())));
    }
    Ok(Zeroizing::new(first.to_owned()))
}

/// Asks for a password on the terminal (twice when `confirm`); `None` when stdin is not a
/// terminal, so scripts get a clear error instead of a hang.
pub fn prompt_password(prompt: &str, confirm: bool) -> Result<Option<Zeroizing<String>>, CliError> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|err| CliError::new(format!("cannot read the password: {err}")))
    };
    let first = read(prompt)?;
    if first.is_empty() {
        return Err(CliError::new("the password is empty"));
    }
    if confirm && *read("Repeat the password: ")? != *first {
        return Err(CliError::new("the two passwords differ"));
    }
    Ok(Some(first))
}

/// Saves the vault and reports the automatic backup's outcome on stderr: a failed backup is
/// a warning, never a failed command (the vault itself was saved).
pub fn save(vault: &mut Vault) -> Result<(), VaultError> {
    let outcome = save_and_back_up(vault, &SystemClock)?;
    watermark(vault.path()).record(&vault.info());
    if let Some(BackupOutcome::Failed(reason)) = outcome {
        eprintln!("warning: the vault was saved, but the automatic backup failed: {reason}");
        eprintln!(
            "hint: older backups were left untouched; check the folder or run `tessera backup`"
        );
    }
    Ok(())
}
