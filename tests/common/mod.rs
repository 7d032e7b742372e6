//! Runs the built `tessera` binary against a throwaway data directory.

#![allow(dead_code)]

/// A private session bus with a recording notification service, and an Xvfb screen.
pub mod desktop;
/// Fakes for the GUI's `Deps`: a settable clock and an in-memory clipboard.
pub mod fakes;
pub mod live_app;
/// A time server (SNTP) on 127.0.0.1 with a chosen skew.
pub mod sntp;
pub mod test_vault;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temporary TESSERA_HOME with a password file; the OS keyring is switched off so tests never
/// touch the developer's secret store.
pub struct Home {
    pub dir: tempfile::TempDir,
    pub password_file: PathBuf,
}

/// What one run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Home {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let password_file = dir.path().join("password.txt");
        std::fs::write(&password_file, "correct horse battery staple\n").unwrap();
        Self { dir, password_file }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn vault(&self) -> PathBuf {
        self.data().join("vault.json")
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
        cmd.env("TESSERA_HOME", self.data())
            .env("TESSERA_PASSWORD_FILE", &self.password_file)
            .env("TESSERA_KEYRING", "off")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        to_run(&self.command().args(args).output().unwrap())
    }

    /// Runs `tessera ARGS` with `input` on standard input.
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write as _;
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        to_run(&child.wait_with_output().unwrap())
    }

    /// Runs and asserts success, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "tessera {args:?} failed:\n{}", run.stderr);
        run.stdout
    }

    /// Returns every file under the data directory with a digest of its bytes, for "nothing
    /// changed" checks (digests keep assertion failures readable).
    pub fn snapshot(&self) -> Vec<(PathBuf, String)> {
        let mut files = Vec::new();
        collect(&self.data(), &mut files);
        files.sort();
        files
            .into_iter()
            .map(|(path, bytes)| {
                let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
                let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
                (path, hex)
            })
            .collect()
    }
}

fn collect(dir: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "lock") {
            // The lock file records its holder's pid; it guards the vault, it is not vault data.
        } else {
            let bytes = std::fs::read(&path).unwrap();
            files.push((path, bytes));
        }
    }
}

pub fn to_run(output: &Output) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
