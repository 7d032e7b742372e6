//! Push approvals end to end: the `tessera` binary against a real privacyIDEA 3.14 server.
//!
//! The server is `../shared/peers/privacyidea/setup.sh` (started here if `$PI_HOME/env` is
//! missing or the server is down; the script needs python3-venv, curl and jq). Each test enrols its own
//! token for alice from the QR link through `tessera add`, in its own `TESSERA_HOME`, and
//! deletes the token afterwards; a process-wide lock keeps tests from sharing the server.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::common::Home;

/// The desktop app's approvals view against the same server.
mod gui;

/// The hidden app answering from its notification, and announcing while locked.
mod notify;

/// The privacyIDEA peer harness, shared with tessera-core's interop tests.
#[path = "../../src/core/tests/pi_peer/mod.rs"]
mod pi_peer;
use pi_peer::{Peer, peer};

/// A `TESSERA_HOME` (keyring off, password file) with one push account for alice, enrolled
/// through `tessera add LINK`; deletes the token (and a test policy) on the server at the end.
struct Device<'a> {
    peer: &'a Peer,
    home: Home,
    serial: String,
    policy: Option<&'static str>,
}

impl Drop for Device<'_> {
    fn drop(&mut self) {
        self.peer.delete_token(&self.serial);
        if let Some(policy) = self.policy {
            self.peer.delete_policy(policy);
        }
    }
}

impl Device<'_> {
    fn pending(&self) -> Vec<Value> {
        serde_json::from_str::<Value>(&self.home.ok(&["push", "pending", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

fn device(peer: &Peer) -> Device<'_> {
    let link = peer.enrol_link();
    let serial = link.split("serial=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let device = Device { peer, home: Home::new(), serial, policy: None };
    let run = device.home.run(&["add", &link]);
    assert_eq!(run.code, 0, "add failed: {}", run.stderr);
    assert!(
        run.stdout.contains(&format!("added push account {}", device.serial)),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("warning: the connection to 127.0.0.1"),
        "plain HTTP is flagged: {}",
        run.stderr
    );
    // The first `add` created the vault; a second enrolment of the same token is refused
    // before the server is asked (its credential is spent anyway).
    let again = device.home.run(&["add", &link]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("is already enrolled"), "{}", again.stderr);
    device
}

#[test]
fn cli_enrols_lists_and_approves_a_login() {
    let peer = peer();
    let device = device(&peer);
    assert!(device.pending().is_empty());
    assert_eq!(device.home.ok(&["push", "pending"]).trim(), "no login requests waiting");

    let (tid, _) = peer.trigger(&device.serial);
    let pending = device.pending();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["question"], "Login by Alice from 127.0.0.1?");
    assert_eq!(pending[0]["serial"], device.serial.as_str());
    let text = device.home.ok(&["push", "pending"]);
    assert!(text.contains("privacyIDEA: Login by Alice from 127.0.0.1?"), "{text}");

    let id = pending[0]["short_id"].as_str().unwrap();
    let out = device.home.ok(&["push", "approve", id]);
    assert!(out.starts_with("approved: privacyIDEA"), "{out}");
    assert_eq!(peer.outcome(&tid), "accept");
    assert!(device.pending().is_empty());

    // The decision is kept in the vault's history, and the account is listed (without keys).
    let history: Value =
        serde_json::from_str(&device.home.ok(&["push", "history", "--json"])).unwrap();
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history[0]["decision"]["decision"], "approve");
    assert_eq!(history[0]["question"], "Login by Alice from 127.0.0.1?");
    assert_eq!(history[0]["accepted"], true);
    let accounts: Value =
        serde_json::from_str(&device.home.ok(&["push", "accounts", "--json"])).unwrap();
    assert_eq!(accounts[0]["serial"], device.serial.as_str());
    assert_eq!(accounts[0]["server"], peer.url.trim_start_matches("http://"));
    assert!(!accounts.to_string().contains("device_key"));
    let vault = String::from_utf8_lossy(&std::fs::read(device.home.vault()).unwrap()).into_owned();
    assert!(!vault.contains(&device.serial), "push accounts are inside the encrypted content");
}

#[test]
fn cli_denies_and_reports_not_me() {
    let peer = peer();
    let device = device(&peer);
    let (tid, _) = peer.trigger(&device.serial);
    let id = device.pending()[0]["id"].as_str().unwrap().to_owned();
    let out = device.home.ok(&["push", "deny", &id]);
    assert!(out.starts_with("denied: "), "{out}");
    assert_eq!(peer.outcome(&tid), "declined");

    let (tid, _) = peer.trigger(&device.serial);
    let id = device.pending()[0]["id"].as_str().unwrap().to_owned();
    let out = device.home.ok(&["push", "deny", &id, "--not-me"]);
    assert!(out.starts_with("denied (not me): "), "{out}");
    assert_eq!(peer.outcome(&tid), "declined");
    let audit = peer.audit(&device.serial);
    assert!(
        audit
            .contains(&format!("transaction_id: {tid}, status: declined, reason: unknown_trigger")),
        "{audit}"
    );
}

#[test]
fn cli_number_matching_needs_the_right_choice() {
    let peer = peer();
    let mut device = device(&peer);
    device.policy = Some("push_presence_e2e");
    peer.set_policy("push_presence_e2e", "authentication", "push_require_presence");
    let (tid, body) = peer.trigger(&device.serial);
    let request = device.pending().remove(0);
    let options: Vec<String> = serde_json::from_value(request["require_presence"].clone()).unwrap();
    let body = body.to_string();
    let right =
        options.iter().find(|o| body.contains(&format!("\"presence_answer\":\"{o}\""))).unwrap();
    let wrong = options.iter().find(|o| *o != right).unwrap();
    let id = request["short_id"].as_str().unwrap();

    let run = device.home.run(&["push", "approve", id]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("error: this request asks you to choose one of"), "{}", run.stderr);
    assert!(run.stderr.contains("--answer"), "hint: {}", run.stderr);

    let run = device.home.run(&["push", "approve", id, "--answer", wrong]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("did not accept the answer"), "{}", run.stderr);
    assert_eq!(peer.outcome(&tid), "pending");

    device.home.ok(&["push", "approve", id, "--answer", right]);
    assert_eq!(peer.outcome(&tid), "accept");
}

#[test]
fn cli_reports_unknown_ids_with_a_hint() {
    let peer = peer();
    let device = device(&peer);
    let run = device.home.run(&["push", "approve", "NOSUCHID"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("error: no pending push request matches \"NOSUCHID\""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("tessera push pending"), "{}", run.stderr);
}

#[test]
fn cli_watch_prints_requests_as_they_arrive() {
    let peer = peer();
    let device = device(&peer);
    let mut child =
        device.home.command().args(["push", "watch"]).stdout(Stdio::piped()).spawn().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let first = lines.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(first.starts_with("watching 1 push account"), "{first}");
    std::thread::sleep(Duration::from_secs(1));
    peer.trigger(&device.serial);
    // How fast is measured by scripts/measure-push.py; here only that it arrives.
    let line = lines.recv_timeout(Duration::from_secs(30)).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.contains("privacyIDEA: Login by Alice from 127.0.0.1?"), "{line}");
}

/// privacyIDEA's `push_force_app_pin`: the enrolment link carries `pin=True`, and approving
/// one of its logins needs the vault password even when the OS keyring opened the vault (here
/// the kernel keyutils keyring, in a session keyring of this test's own); without it, or with
/// a wrong one, nothing reaches the server.
#[test]
fn cli_approves_for_a_pin_token_only_with_the_vault_password() {
    let peer = peer();
    peer.set_policy("push_pin_e2e", "enrollment", "push_force_app_pin");
    let link = peer.enrol_link();
    assert!(link.contains("pin=True"), "{link}");
    let serial = link.split("serial=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let device = Device { peer: &peer, home: Home::new(), serial, policy: Some("push_pin_e2e") };
    let ring = format!("tessera-test-{}-{}", std::process::id(), device.serial);
    let wrong = device.home.dir.path().join("wrong.txt");
    std::fs::write(&wrong, "not the password\n").unwrap();
    // `tessera ARGS` with the keyring on, in the test's session keyring, and no password
    // unless `password` names a file.
    let run = |args: &[&str], password: Option<&std::path::Path>| {
        let mut cmd = std::process::Command::new("keyctl");
        cmd.args(["session", &ring, env!("CARGO_BIN_EXE_tessera")])
            .args(args)
            .env("TESSERA_HOME", device.home.data())
            .env_remove("TESSERA_KEYRING")
            .env_remove("TESSERA_PASSWORD_FILE")
            .stdin(Stdio::null());
        if let Some(file) = password {
            cmd.env("TESSERA_PASSWORD_FILE", file);
        }
        crate::common::to_run(&cmd.output().expect("keyctl (keyutils) must be installed"))
    };
    let init = run(&["init"], Some(&device.home.password_file));
    assert_eq!(init.code, 0, "{}", init.stderr);
    let add = run(&["add", &link], None);
    assert_eq!(add.code, 0, "the keyring opens the vault: {}", add.stderr);

    let (tid, _) = peer.trigger(&device.serial);
    let pending = run(&["push", "pending", "--json"], None);
    let pending: Value = serde_json::from_str(&pending.stdout).unwrap();
    let id = pending[0]["short_id"].as_str().unwrap().to_owned();

    let bare = run(&["push", "approve", &id], None);
    assert_eq!(bare.code, 1);
    assert!(bare.stderr.contains("needs the vault password; nothing was sent"), "{}", bare.stderr);
    let guessed = run(&["push", "approve", &id], Some(&wrong));
    assert_eq!(guessed.code, 1);
    assert!(
        guessed.stderr.contains("wrong vault password; nothing was sent"),
        "{}",
        guessed.stderr
    );
    assert_eq!(peer.outcome(&tid), "pending", "nothing reached the server");

    let approved = run(&["push", "approve", &id], Some(&device.home.password_file));
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    assert_eq!(peer.outcome(&tid), "accept");
}
