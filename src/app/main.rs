//! The `tessera` binary: answers `tessera code QUERY` itself when it can, and hands every other
//! command line (and a bare `tessera`, which opens the desktop app) to `tessera-cli`.
//!
//! Why a launcher: `tessera code` is run from scripts and shell prompts as often as oathtool,
//! and most of its time was start-up, not work. The full command line links clap, the QR
//! decoders, the image formats, the HTTP client and the X11 capture code; the dynamic loader
//! relocates all of it on every run (19,509 relocations against oathtool's 224; even
//! `tessera --version` took ~1.9x oathtool's whole run, see scripts/bench-code.sh). This binary
//! uses tessera-core's vault and OTP code only, so it stays small and starts like a C
//! program.
//!
//! The quick path answers only when its answer is certainly the full command line's: the
//! arguments are exactly `code QUERY`, `TESSERA_KEYRING` is not set, the OS keyring opens the
//! vault, exactly one account matches (the core's one query rule), and nothing would be
//! warned about (the data folder's permissions, an older copy of the vault, a clock known to
//! be off). In every other case `tessera-cli` runs the command from scratch, so errors,
//! prompts, warnings, the unlock delay and every other command behave exactly as before.
//!
//! `tessera-cli` is looked for beside this executable's real path (a build's target folder,
//! `/usr/bin` in the package). It uses the tessera-cli crate only, never the app crate, and
//! so links no GUI code either (see src/cli/Cargo.toml).
//!
//! As packaged (and as `scripts/run.sh` and `scripts/bench-code.sh` build it) this binary is
//! a static PIE, relinked by `scripts/static-launcher.sh`: without the dynamic loader's work a
//! `tessera code` run takes ~50 fewer page faults, which is what brought it to 1.4x
//! oathtool's time (the figures are in scripts/bench-code.sh).

mod sibling;

use std::ffi::OsString;
use std::io::Write as _;
use std::process::ExitCode;

use tessera_core::clock::offset::Stored;
use tessera_core::clock::{Clock as _, SystemClock};
use tessera_core::vault::rollback::Watermark;
use tessera_core::vault::{self, SealedVault, Unlock, VaultOptions};
use zeroize::Zeroizing;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if let Some(code) = quick_code(&args) {
        // Like the command line, a closed stdout is not an error worth a message.
        let _ = writeln!(std::io::stdout().lock(), "{}", code.as_str());
        return ExitCode::SUCCESS;
    }
    let cli = sibling::path("tessera-cli");
    let error = sibling::exec(&cli, &args);
    eprintln!("error: cannot start the command line {}: {error}", cli.display());
    eprintln!("hint: install tessera-cli next to tessera (`cargo build` builds it)");
    ExitCode::FAILURE
}

/// The code `tessera code QUERY` prints, when the quick path can answer (see the module
/// docs); `None` hands the command to `tessera-cli`.
fn quick_code(args: &[OsString]) -> Option<Zeroizing<String>> {
    let [command, query] = args else { return None };
    let query = query.to_str()?;
    if command != "code" || query.starts_with('-') || std::env::var_os("TESSERA_KEYRING").is_some()
    {
        return None;
    }
    let path = vault::default_path().ok()?;
    let home = path.parent()?;
    if vault::folder_warning(&path).is_some() {
        return None;
    }
    let sealed = SealedVault::read(&path).ok()?;
    let info = sealed.info();
    if !info.has_keyring {
        return None;
    }
    let options = VaultOptions::default();
    // Decrypted where it was read, building only the matching accounts (the core's query
    // rule, the command line's too).
    let content = sealed.decrypt_matching(&Unlock::Keyring, &options, query).ok()?;
    Watermark::new(home, Some(options.key_store)).note(&info).ok()?;
    let now = SystemClock.now();
    if Stored::load(home, now).is_some_and(|estimate| estimate.needs_warning()) {
        return None;
    }
    let [only] = &content.entries[..] else { return None };
    Some(Zeroizing::new(only.otp.code_at(now)))
}
