//! The three binaries: `tessera` answers `tessera code QUERY` itself when it certainly can and
//! hands everything else to `tessera-cli`, the lean command line, which hands a bare
//! `tessera` to `tessera-gui`, the desktop app.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tessera_core::otp::{OtpParams, Secret};

use crate::common::{Home, Run, to_run};

#[test]
fn bare_tessera_becomes_the_desktop_app() {
    let home = Home::new();
    // No display: the window cannot open, and the message says so. It comes from tessera-gui,
    // so the hand-over happened.
    let run = to_run(
        &home.command().env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY").output().unwrap(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("error: cannot open the window"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: a display is needed"), "{}", run.stderr);
}

#[test]
fn a_missing_desktop_app_is_named_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let alone = dir.path().join("tessera");
    std::fs::copy(env!("CARGO_BIN_EXE_tessera"), &alone).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_tessera-cli"), dir.path().join("tessera-cli")).unwrap();
    let run = to_run(&Command::new(&alone).stdin(Stdio::null()).output().unwrap());
    assert_eq!(run.code, 1);
    let gui = dir.path().canonicalize().unwrap().join("tessera-gui");
    assert!(
        run.stderr.contains(&format!("error: cannot start the desktop app {}", gui.display())),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: install tessera-gui next to tessera"), "{}", run.stderr);
    // The command line works without it.
    let run = to_run(&Command::new(&alone).arg("--version").output().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn the_command_line_binary_does_not_load_the_gui_libraries() {
    // Start-up time of `tessera code` is mostly the dynamic loader: the command line must not
    // pull in fontconfig (and with it freetype, libpng, brotli, expat and zlib), which the GUI
    // needs. The library's name is in the binary only if the binary asks the loader for it.
    let names = |path: &str| {
        let bytes = std::fs::read(path).unwrap();
        bytes.windows(16).any(|w| w == b"libfontconfig.so")
    };
    assert!(names(env!("CARGO_BIN_EXE_tessera-gui")), "the GUI does link fontconfig");
    assert!(!names(env!("CARGO_BIN_EXE_tessera-cli")), "the command line does not");
    assert!(!names(env!("CARGO_BIN_EXE_tessera")), "nor does the launcher");
}

/// The launcher under test: this build's, or the statically linked one that ships, when
/// scripts/test.sh names it in `TESSERA_TEST_LAUNCHER` (`cargo test` builds it dynamically).
fn launcher() -> PathBuf {
    std::env::var_os("TESSERA_TEST_LAUNCHER")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tessera")), PathBuf::from)
}

/// A folder holding only the launcher (no tessera-cli beside it), and the launcher's path.
fn launcher_alone() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let alone = dir.path().join("tessera");
    std::fs::copy(launcher(), &alone).unwrap();
    (dir, alone)
}

#[test]
fn a_missing_command_line_is_named_with_a_hint() {
    let (dir, alone) = launcher_alone();
    let run = to_run(&Command::new(&alone).arg("--version").output().unwrap());
    assert_eq!(run.code, 1, "{}", run.stderr);
    let cli = dir.path().canonicalize().unwrap().join("tessera-cli");
    let said = format!("error: cannot start the command line {}", cli.display());
    assert!(run.stderr.contains(&said), "{}", run.stderr);
    assert!(run.stderr.contains("hint: install tessera-cli next to tessera"), "{}", run.stderr);
}

/// `tessera` alone (no tessera-cli beside it) answers `code QUERY` when the OS keyring opens
/// the vault (here the kernel's keyutils, in a session keyring of this test's own) and one
/// account matches, with the code the full command line prints. Whatever it must not decide
/// is handed over, which fails visibly without tessera-cli: several matches, any other
/// command, `TESSERA_KEYRING` set, and an older copy of the vault (the full command line
/// warns about it, and still prints the code).
#[test]
fn tessera_answers_code_alone_only_when_its_answer_is_certain() {
    let home = Home::new();
    let (_dir, alone) = launcher_alone();
    let full = Path::new(env!("CARGO_BIN_EXE_tessera"));
    // No bus socket in the runtime folder: the keyring is keyutils, never the user's own.
    let runtime = tempfile::tempdir().unwrap();
    let ring = format!("tessera-quick-{}", std::process::id());
    let run = |bin: &Path, args: &[&str], env: &[(&str, &Path)]| -> Run {
        let mut cmd = Command::new("keyctl");
        cmd.args(["session", &ring])
            .arg(bin)
            .args(args)
            .env("TESSERA_HOME", home.data())
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("TESSERA_KEYRING")
            .env_remove("TESSERA_PASSWORD_FILE")
            .stdin(Stdio::null());
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut run = to_run(&cmd.output().expect("keyctl (keyutils) must be installed"));
        // keyctl's own line, not the command's.
        run.stderr = run
            .stderr
            .lines()
            .filter(|l| !l.starts_with("Joined session keyring"))
            .map(|l| format!("{l}\n"))
            .collect();
        run
    };
    let handed_over =
        |run: &Run| run.code == 1 && run.stderr.contains("cannot start the command line");

    // keyutils forgets keys at reboot, so the vault gets a password slot too.
    let init = run(full, &["init"], &[("TESSERA_PASSWORD_FILE", &home.password_file)]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    assert!(init.stdout.contains("protected by the OS keyring and a password"), "{}", init.stdout);
    for issuer in ["Zoë Bank", "Coöperatie"] {
        let args = ["add", "--secret", "JBSWY3DPEHPK3PXP", "--issuer", issuer, "--account", "me"];
        let add = run(full, &args, &[]);
        assert_eq!(add.code, 0, "the keyring opens the vault: {}", add.stderr);
    }

    // One match: the code, from the launcher alone, equal to the full command line's.
    let expected = |before: u64| {
        let params = OtpParams::totp(Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap());
        let after = now();
        [params.code_at(before), params.code_at(after)]
    };
    let before = now();
    let quick = run(&alone, &["code", "ZOË"], &[]);
    assert_eq!(quick.code, 0, "{}", quick.stderr);
    assert!(expected(before).contains(&quick.stdout.trim().to_owned()), "{}", quick.stdout);
    assert_eq!(quick.stderr, "");
    let before = now();
    let whole = run(full, &["code", "ZOË"], &[]);
    assert!(expected(before).contains(&whole.stdout.trim().to_owned()), "{}", whole.stdout);

    // Everything else is the full command line's.
    assert!(handed_over(&run(&alone, &["code", "me"], &[])), "two accounts match");
    assert!(run(full, &["code", "me"], &[]).stdout.contains("Coöperatie"));
    assert!(handed_over(&run(&alone, &["list"], &[])));
    assert!(handed_over(&run(&alone, &["code", "zoë", "--json"], &[])));
    let keyring_on = run(&alone, &["code", "zoë"], &[("TESSERA_KEYRING", Path::new("on"))]);
    assert!(handed_over(&keyring_on), "{}", keyring_on.stderr);

    // An older copy of the vault: warned about by the full command line, so not answered.
    let older = std::fs::read(home.vault()).unwrap();
    let rename = run(full, &["rename", "Coöperatie", "--issuer", "Coop"], &[]);
    assert_eq!(rename.code, 0, "{}", rename.stderr);
    std::fs::write(home.vault(), older).unwrap();
    assert!(handed_over(&run(&alone, &["code", "zoë"], &[])));
    let warned = run(full, &["code", "zoë"], &[]);
    assert_eq!(warned.code, 0, "{}", warned.stderr);
    assert!(warned.stderr.contains("warning: "), "{}", warned.stderr);
    assert!(warned.stderr.contains("older"), "{}", warned.stderr);
}

/// The same on a desktop: the vault's key is in a Secret Service (a throwaway GNOME Keyring on
/// a private session bus), and the launcher, alone, still answers `code QUERY` itself.
#[test]
fn tessera_answers_code_alone_with_the_desktop_keyring() {
    let home = Home::new();
    let (dir, alone) = launcher_alone();
    let runtime = dir.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .unwrap();
    // Inside the bus: the keyring daemon, then `init` until the keyring answers (without a
    // password source, `init` cannot fall back to a password), an account, and the launcher.
    let script = r#"
        printf throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null
        for _ in $(seq 50); do "$1" init >"$3/init.txt" 2>&1 && break; sleep 0.2; done
        cat "$3/init.txt" >&2
        "$1" add --secret JBSWY3DPEHPK3PXP --issuer "Zoë Bank" --account me >&2
        "$2" code zoë
    "#;
    let before = now();
    let run = to_run(
        &Command::new("dbus-run-session")
            .args(["--", "bash", "-c", script, "bash"])
            .arg(env!("CARGO_BIN_EXE_tessera"))
            .arg(&alone)
            .arg(dir.path())
            .env("TESSERA_HOME", home.data())
            .env("XDG_DATA_HOME", dir.path().join("keyrings"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("TESSERA_KEYRING")
            .env_remove("TESSERA_PASSWORD_FILE")
            .stdin(Stdio::null())
            .output()
            .expect("dbus-run-session and gnome-keyring must be installed"),
    );
    assert!(run.stderr.contains("protected by the OS keyring\n"), "{}", run.stderr);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let params = OtpParams::totp(Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap());
    let expected = [params.code_at(before), params.code_at(now())];
    assert!(expected.contains(&run.stdout.trim().to_owned()), "{}{}", run.stdout, run.stderr);
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn tessera_gui_with_a_subcommand_is_the_command_line_too() {
    let home = Home::new();
    let run = to_run(
        &Command::new(env!("CARGO_BIN_EXE_tessera-gui"))
            .args(["init", "--no-keyring"])
            .env("TESSERA_HOME", home.data())
            .env("TESSERA_PASSWORD_FILE", &home.password_file)
            .env("TESSERA_KEYRING", "off")
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("created a vault"), "{}", run.stdout);
    assert_eq!(home.ok(&["list", "--json"]).trim(), "[]", "the same vault, read by tessera");
}
