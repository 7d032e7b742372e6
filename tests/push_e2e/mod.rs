//! Push approvals end to end: the `tessera` binary against a real privacyIDEA 3.14 server.
//!
//! The server is `../shared/peers/privacyidea/setup.sh` (started here if `$PI_HOME/env` is
//! missing or the server is down; the script needs python3-venv, curl and jq). Each test enrols its own
//! token for alice from the QR link through `tessera add`, in its own `TESSERA_HOME`, and
//! deletes the token afterwards; a process-wide lock keeps tests from sharing the server.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::Value;

use crate::common::Home;

/// The desktop app's approvals view against the same server.
mod gui;

/// The admin API of the running privacyIDEA server.
struct Peer {
    url: String,
    jwt: String,
}

fn pi_home() -> PathBuf {
    std::env::var_os("PI_HOME")
        .map_or_else(|| std::env::temp_dir().join("privacyidea-peer"), PathBuf::from)
}

fn read_env_url() -> Option<String> {
    let text = std::fs::read_to_string(pi_home().join("env")).ok()?;
    text.lines().find_map(|l| l.strip_prefix("PI_URL=")).map(str::to_owned)
}

fn http() -> &'static Client {
    static HTTP: OnceLock<Client> = OnceLock::new();
    HTTP.get_or_init(|| {
        tessera_core::push::install_crypto_provider();
        Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
    })
}

fn is_up(url: &str) -> bool {
    http().get(format!("{url}/healthz/livez")).send().is_ok_and(|r| r.status().is_success())
}

fn peer() -> MutexGuard<'static, Peer> {
    static PEER: OnceLock<Mutex<Peer>> = OnceLock::new();
    let lock = PEER.get_or_init(|| {
        let url = match read_env_url() {
            Some(url) if is_up(&url) => url,
            existing => {
                // `$PI_SETUP`, else `shared/` beside the repository.
                let script = std::env::var_os("PI_SETUP").map_or_else(
                    || {
                        Path::new(env!("CARGO_MANIFEST_DIR"))
                            .join("../shared/peers/privacyidea/setup.sh")
                    },
                    PathBuf::from,
                );
                assert!(
                    script.exists(),
                    "no privacyIDEA server is running and the setup script is not at {}; \
                     set PI_SETUP to shared/peers/privacyidea/setup.sh",
                    script.display()
                );
                let mut cmd = Command::new("bash");
                cmd.arg(script);
                if existing.is_some() && pi_home().join("data/privacyidea.sqlite").exists() {
                    cmd.arg("restart");
                }
                assert!(cmd.status().unwrap().success(), "privacyIDEA setup failed");
                read_env_url().unwrap()
            }
        };
        let auth: Value = http()
            .post(format!("{url}/auth"))
            .form(&[("username", "admin"), ("password", "adminpw")])
            .send()
            .unwrap()
            .json()
            .unwrap();
        let jwt = auth["result"]["value"]["token"].as_str().unwrap().to_owned();
        Mutex::new(Peer { url, jwt })
    });
    lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Peer {
    fn admin(&self, method: &str, path: &str, form: &[(&str, &str)]) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let request = http()
            .request(method, format!("{}{path}", self.url))
            .header("Authorization", &self.jwt)
            .form(form);
        request.send().unwrap().json().unwrap_or(Value::Null)
    }

    fn enrol_link(&self) -> String {
        let body = self.admin(
            "POST",
            "/token/init",
            &[("type", "push"), ("genkey", "1"), ("user", "alice"), ("realm", "realm1")],
        );
        body["detail"]["pushurl"]["value"].as_str().unwrap().to_owned()
    }

    fn trigger(&self, serial: &str) -> (String, Value) {
        let body = self.admin(
            "POST",
            "/validate/triggerchallenge",
            &[("user", "alice"), ("realm", "realm1"), ("serial", serial)],
        );
        (body["detail"]["transaction_id"].as_str().unwrap().to_owned(), body)
    }

    fn outcome(&self, transaction_id: &str) -> String {
        let body: Value = http()
            .get(format!("{}/validate/polltransaction", self.url))
            .query(&[("transaction_id", transaction_id)])
            .send()
            .unwrap()
            .json()
            .unwrap();
        body["detail"]["challenge_status"].as_str().unwrap_or("").to_owned()
    }

    fn audit(&self, serial: &str) -> String {
        let body: Value = http()
            .get(format!("{}/audit/", self.url))
            .header("Authorization", &self.jwt)
            .query(&[("serial", serial), ("page_size", "50")])
            .send()
            .unwrap()
            .json()
            .unwrap();
        body["result"]["value"]["auditdata"].to_string()
    }
}

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
        self.peer.admin("DELETE", &format!("/token/{}", self.serial), &[]);
        if let Some(policy) = self.policy {
            self.peer.admin("DELETE", &format!("/policy/{policy}"), &[]);
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
    let vault = std::fs::read_to_string(device.home.vault()).unwrap();
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
    peer.admin(
        "POST",
        "/policy/push_presence_e2e",
        &[("scope", "authentication"), ("active", "true"), ("action", "push_require_presence")],
    );
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
