//! The privacyIDEA 3.14 test peer, shared by tessera-core's interop tests and the app's
//! end-to-end tests (included there by path): finds or starts the server from
//! `shared/peers/privacyidea/setup.sh` (about a minute; needs python3-venv, curl, jq), logs in
//! as admin, and offers the admin calls the tests use. Tests share the one server and take
//! turns through a process-wide lock.

// Test code: an unwrap here is how a test reports failure.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::Value;

/// The admin API of the running server, behind a lock that serialises the tests.
pub struct Peer {
    pub url: String,
    http: Client,
    jwt: String,
}

/// The peer's setup script: `$PI_SETUP` if set, else `shared/peers/privacyidea/setup.sh` in
/// the nearest folder above this crate that has it (the repository's `../shared`).
fn setup_script() -> PathBuf {
    let script = std::env::var_os("PI_SETUP").map(PathBuf::from).or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|dir| dir.join("shared/peers/privacyidea/setup.sh"))
            .find(|script| script.exists())
    });
    let script = script.unwrap_or_else(|| PathBuf::from("../shared/peers/privacyidea/setup.sh"));
    // Absolute: the script is run from $PI_HOME.
    let script = std::path::absolute(&script).unwrap_or(script);
    assert!(
        script.exists(),
        "no privacyIDEA server is running (no answer at the URL in $PI_HOME/env) and the setup \
         script is not at {}; set PI_SETUP to shared/peers/privacyidea/setup.sh",
        script.display()
    );
    script
}

fn pi_home() -> PathBuf {
    std::env::var_os("PI_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("privacyidea-peer"))
}

fn read_env_url() -> Option<String> {
    let text = std::fs::read_to_string(pi_home().join("env")).ok()?;
    text.lines().find_map(|l| l.strip_prefix("PI_URL=")).map(str::to_owned)
}

fn is_up(http: &Client, url: &str) -> bool {
    http.get(format!("{url}/healthz/livez")).send().is_ok_and(|r| r.status().is_success())
}

/// The running server (started if needed), locked for this test.
pub fn peer() -> MutexGuard<'static, Peer> {
    static PEER: OnceLock<Mutex<Peer>> = OnceLock::new();
    let lock = PEER.get_or_init(|| {
        tessera_core::push::install_crypto_provider();
        let http = Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let url = match read_env_url() {
            Some(url) if is_up(&http, &url) => url,
            existing => {
                // Keep the data if the server merely stopped; start fresh otherwise.
                let mut cmd = Command::new("bash");
                cmd.arg(setup_script());
                // The server outlives this run: it starts in its own folder, not in this
                // checkout. One started in a checkout deleted later answers every request
                // naming a user with 500 (its user file resolver logs the working folder).
                std::fs::create_dir_all(pi_home()).expect("create $PI_HOME");
                cmd.current_dir(pi_home());
                if existing.is_some() && pi_home().join("data/privacyidea.sqlite").exists() {
                    cmd.arg("restart");
                }
                let status = cmd.status().expect("run the privacyIDEA setup script");
                assert!(status.success(), "privacyIDEA setup failed; see its output above");
                read_env_url().expect("setup writes $PI_HOME/env")
            }
        };
        // A fresh admin token: the one in the env file expires after an hour.
        let auth: Value = http
            .post(format!("{url}/auth"))
            .form(&[("username", "admin"), ("password", "adminpw")])
            .send()
            .unwrap()
            .json()
            .unwrap();
        let jwt = auth["result"]["value"]["token"].as_str().expect("admin login").to_owned();
        Mutex::new(Peer { url, http, jwt })
    });
    // A failed test must not take the others down with a poisoned lock.
    lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Peer {
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::blocking::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.url)).header("Authorization", &self.jwt)
    }

    pub fn json(&self, request: reqwest::blocking::RequestBuilder) -> Value {
        let response = request.send().unwrap();
        let status = response.status();
        let body: Value = response.json().unwrap();
        assert!(status.is_success(), "admin API failed: {status} {body}");
        body
    }

    /// Starts a push enrolment for alice and returns the QR link.
    pub fn enrol_link(&self) -> String {
        let body = self.json(self.admin(reqwest::Method::POST, "/token/init").form(&[
            ("type", "push"),
            ("genkey", "1"),
            ("user", "alice"),
            ("realm", "realm1"),
        ]));
        body["detail"]["pushurl"]["value"].as_str().unwrap().to_owned()
    }

    /// Triggers a login for the token `serial`; returns the transaction id and the body.
    pub fn trigger(&self, serial: &str) -> (String, Value) {
        let body =
            self.json(self.admin(reqwest::Method::POST, "/validate/triggerchallenge").form(&[
                ("user", "alice"),
                ("realm", "realm1"),
                ("serial", serial),
            ]));
        let tid = body["detail"]["transaction_id"].as_str().expect("a transaction id").to_owned();
        (tid, body)
    }

    /// Returns `challenge_status` of a transaction: accept, pending, declined, ...
    pub fn outcome(&self, transaction_id: &str) -> String {
        let body = self.json(
            self.http
                .get(format!("{}/validate/polltransaction", self.url))
                .query(&[("transaction_id", transaction_id)]),
        );
        body["detail"]["challenge_status"].as_str().unwrap_or("").to_owned()
    }

    pub fn delete_token(&self, serial: &str) {
        let _ = self.admin(reqwest::Method::DELETE, &format!("/token/{serial}")).send();
    }

    pub fn set_config(&self, key: &str, value: &str) {
        self.json(
            self.admin(reqwest::Method::POST, "/system/setConfig")
                .json(&serde_json::json!({ key: value })),
        );
    }

    pub fn delete_config(&self, key: &str) {
        let _ = self.admin(reqwest::Method::DELETE, &format!("/system/{key}")).send();
    }

    pub fn set_policy(&self, name: &str, scope: &str, action: &str) {
        self.json(self.admin(reqwest::Method::POST, &format!("/policy/{name}")).json(
            &serde_json::json!({"scope": scope, "active": true, "realm": "", "action": action}),
        ));
    }

    pub fn delete_policy(&self, name: &str) {
        let _ = self.admin(reqwest::Method::DELETE, &format!("/policy/{name}")).send();
    }

    /// Returns the audit entries for `serial` as JSON text.
    pub fn audit(&self, serial: &str) -> String {
        let body = self.json(
            self.admin(reqwest::Method::GET, "/audit/")
                .query(&[("serial", serial), ("page_size", "50")]),
        );
        body["result"]["value"]["auditdata"].to_string()
    }
}
