//! The two binaries: `tessera` is the lean command line and hands a bare `tessera` to
//! `tessera-gui`, which holds the desktop app.

use std::process::{Command, Stdio};

use crate::common::{Home, to_run};

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
    assert!(!names(env!("CARGO_BIN_EXE_tessera")), "the command line does not");
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
