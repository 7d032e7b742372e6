//! The Debian package, built by `scripts/package.sh` from the debug binaries this test run has
//! already built (`--profile dev --no-build`: no second build), unpacked into a clean root
//! and checked as a user would meet it: the installed `tessera` runs, a bare `tessera` finds
//! the installed `tessera-gui`, the desktop file and the AppStream metainfo pass their
//! validators, the man pages render, and the shell completions complete.
//!
//! Needs `cargo deb` (scripts/test.sh installs the pinned version through
//! `scripts/package.sh --tools-only`), dpkg-deb, desktop-file-validate, appstreamcli, man
//! and bash (scripts/system-packages.sh).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The folder with this run's binaries (`target/debug`), next to this package's own binary.
fn binaries() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_tessera-dist")).parent().unwrap().to_path_buf();
    for name in ["tessera", "tessera-cli", "tessera-gui", "tessera-server"] {
        assert!(
            dir.join(name).is_file(),
            "{} is missing: run the whole workspace's tests (`bash scripts/test.sh`), which \
             build every binary, or `cargo build --workspace --bins` first",
            dir.join(name).display()
        );
    }
    dir
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `man` writing to a pipe still marks bold and underlined text by overstriking (`c\bc`,
/// `_\bc`); keeps the printed character only.
fn plain(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    for c in page.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out
}

#[track_caller]
fn ok(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Builds the package into a temporary folder and unpacks it into `root`; returns the .deb.
fn build_and_unpack(out: &Path, root: &Path) -> PathBuf {
    let bin = binaries();
    let target = bin.parent().unwrap();
    let run = Command::new("bash")
        .arg(workspace().join("scripts/package.sh"))
        .args(["--profile", "dev", "--no-build", "--fast", "--out"])
        .arg(out)
        .env("CARGO_TARGET_DIR", target)
        .current_dir(workspace())
        .output()
        .unwrap();
    let stdout = ok(&run, "scripts/package.sh");
    let deb = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    assert_eq!(deb.extension().and_then(|e| e.to_str()), Some("deb"), "{stdout}");
    assert!(deb.starts_with(out) && deb.is_file(), "{}", deb.display());
    ok(&Command::new("dpkg-deb").arg("-x").arg(&deb).arg(root).output().unwrap(), "dpkg-deb -x");
    deb
}

#[test]
fn the_debian_package_installs_a_working_app() {
    let out = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let deb = build_and_unpack(out.path(), root.path());
    let root = root.path();

    // The control file: the name, and the libraries dpkg-shlibdeps found (the GUI's).
    let control =
        ok(&Command::new("dpkg-deb").arg("--field").arg(&deb).output().unwrap(), "dpkg-deb -f");
    assert!(control.contains("Package: tessera\n"), "{control}");
    assert!(control.contains("Version: 0.1.0"), "{control}");
    let depends = control.lines().find(|l| l.starts_with("Depends:")).unwrap_or_default();
    assert!(depends.contains("libc6") && depends.contains("libfontconfig1"), "{control}");

    // The installed binaries run; `tessera --version` is answered by the installed
    // tessera-cli, and a bare `tessera` reaches the installed tessera-gui through it (no
    // display here, so the GUI's own message proves the hand-over).
    let usr_bin = root.join("usr/bin");
    let version = Command::new(usr_bin.join("tessera")).arg("--version").output().unwrap();
    assert_eq!(ok(&version, "tessera --version").trim(), "tessera 0.1.0");
    let server = Command::new(usr_bin.join("tessera-server")).arg("--version").output().unwrap();
    assert_eq!(ok(&server, "tessera-server --version").trim(), "tessera-server 0.1.0");
    let bare = Command::new(usr_bin.join("tessera"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("TESSERA_HOME", root.join("home"))
        .output()
        .unwrap();
    assert!(text(&bare.stderr).contains("error: cannot open the window"), "{}", text(&bare.stderr));

    // Desktop integration files pass the validators the desktops and software centres use.
    let desktop = root.join("usr/share/applications/io.github.tessera.Tessera.desktop");
    ok(&Command::new("desktop-file-validate").arg(&desktop).output().unwrap(), "desktop file");
    let metainfo = root.join("usr/share/metainfo/io.github.tessera.Tessera.metainfo.xml");
    ok(
        &Command::new("appstreamcli")
            .args(["validate", "--no-net"])
            .arg(&metainfo)
            .output()
            .unwrap(),
        "appstreamcli validate",
    );
    assert!(
        root.join("usr/share/icons/hicolor/scalable/apps/io.github.tessera.Tessera.svg").is_file()
    );

    // Man pages render; the top page lists the commands, each command has its own page, and
    // tessera-gui's page is tessera's.
    let man = root.join("usr/share/man/man1");
    let render = |page: &str| {
        let out = Command::new("man")
            .arg("-l")
            .arg(man.join(page))
            .env("MANWIDTH", "100")
            .env("MAN_KEEP_FORMATTING", "0")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            // `.so man1/tessera.1` (tessera-gui's page) is found from the manual's root.
            .current_dir(man.parent().unwrap())
            .output()
            .unwrap();
        plain(&ok(&out, &format!("man -l {page}")))
    };
    let top = render("tessera.1.gz");
    for expected in ["tessera", "code", "--password-file", "TESSERA_HOME", "tessera-gui"] {
        assert!(top.contains(expected), "{expected:?} not in tessera(1):\n{top}");
    }
    let code = render("tessera-code.1.gz");
    assert!(code.contains("--json"), "{code}");
    assert!(man.join("tessera-push-watch.1.gz").is_file());
    assert_eq!(render("tessera-gui.1.gz"), top);
    assert_eq!(render("tessera-cli.1.gz"), top);
    let server = render("tessera-server.1.gz");
    for expected in ["tessera-server", "serve", "admin", "keys"] {
        assert!(server.contains(expected), "{expected:?} not in tessera-server(1):\n{server}");
    }
    let serve = render("tessera-server-serve.1.gz");
    for expected in ["--database", "--trusted-proxy", "TESSERA_SERVER_DATA"] {
        assert!(serve.contains(expected), "{expected:?} not in tessera-server-serve(1):\n{serve}");
    }
    assert!(man.join("tessera-server-admin-login.1.gz").is_file());

    // Completions: bash completes a command name from a prefix; zsh and fish files name it.
    let bash = root.join("usr/share/bash-completion/completions/tessera");
    let script = format!(
        "source '{}'; COMP_WORDS=(tessera co); COMP_CWORD=1; COMP_LINE='tessera co'; \
         COMP_POINT=10; _tessera tessera co tessera; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        bash.display()
    );
    let completed = ok(&Command::new("bash").arg("-c").arg(script).output().unwrap(), "bash");
    assert_eq!(completed.lines().collect::<Vec<_>>(), ["code"], "{completed}");
    let zsh =
        std::fs::read_to_string(root.join("usr/share/zsh/vendor-completions/_tessera")).unwrap();
    assert!(zsh.starts_with("#compdef tessera"), "{zsh}");
    let fish =
        std::fs::read_to_string(root.join("usr/share/fish/vendor_completions.d/tessera.fish"))
            .unwrap();
    assert!(fish.contains("complete -c tessera"), "{fish}");
    let server_bash = root.join("usr/share/bash-completion/completions/tessera-server");
    let script = format!(
        "source '{}'; COMP_WORDS=(tessera-server se); COMP_CWORD=1; \
         COMP_LINE='tessera-server se'; COMP_POINT=17; _tessera__server tessera-server se \
         tessera-server; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        server_bash.display()
    );
    let completed = ok(&Command::new("bash").arg("-c").arg(script).output().unwrap(), "bash");
    assert_eq!(completed.lines().collect::<Vec<_>>(), ["serve"], "{completed}");
    let zsh =
        std::fs::read_to_string(root.join("usr/share/zsh/vendor-completions/_tessera-server"))
            .unwrap();
    assert!(zsh.starts_with("#compdef tessera-server"), "{zsh}");
    assert!(root.join("usr/share/fish/vendor_completions.d/tessera-server.fish").is_file());
}
