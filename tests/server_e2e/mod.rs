//! Tessera's own push server end to end: the real `tessera-server` binary on 127.0.0.1 (a
//! free port, a throwaway data folder; every scenario on SQLite and on PostgreSQL, a
//! throwaway cluster started by scripts/throwaway-postgres.sh), the real `tessera` binary as the device, and the
//! operator CLI (`tessera-server admin ...`) as the relying party. Attacks (replay, forged
//! challenge, tampered context) are made with the protocol functions of tessera-core against
//! the same running server.

#![allow(clippy::unwrap_used)]

mod app;
mod notify;
mod scan;
mod tray;

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};
use tessera_core::push::tessera::{
    self, AnswerRequest, Challenge, ExpectedLogin, PendingResponse, SignedChallenge,
    SignedDecision, TesseraBackend,
};
use tessera_core::push::{DeviceKey, PushAccount, PushBackend, PushBackendKind};

use crate::common::{Home, Run, to_run};

/// The `tessera-server` binary, built on first use (cargo builds a workspace member's binary
/// only for its own integration tests, so a root-package test builds it itself). It asks for
/// the whole workspace's test build, which `cargo test --workspace` has just made, so the
/// build is a no-op there; `-p tessera-server` alone would resolve other features and
/// compile a second copy of half the dependencies (a CI run once ran out of disk on that).
fn server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let bin = profile_dir.join(format!("tessera-server{}", std::env::consts::EXE_SUFFIX));
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let target_dir = profile_dir.parent().unwrap();
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "--workspace", "--tests"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build
            .env("CARGO_TARGET_DIR", target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building tessera-server failed");
        assert!(bin.exists(), "{} missing after the build", bin.display());
        bin
    })
    .clone()
}

fn http() -> &'static Client {
    static HTTP: OnceLock<Client> = OnceLock::new();
    HTTP.get_or_init(|| {
        tessera_core::push::install_crypto_provider();
        Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The storage engine a test runs against.
#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Port of a throwaway PostgreSQL cluster for this test process (started on first use by
/// scripts/throwaway-postgres.sh, stopped by its watchdog when the process ends).
fn postgres_port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("tessera-pg-{}", std::process::id()));
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/throwaway-postgres.sh");
        let status = Command::new("bash")
            .arg(script)
            .arg(&dir)
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "cannot start PostgreSQL (Debian package postgresql)");
        port
    })
}

/// A fresh database in the throwaway cluster; returns its URL.
fn postgres_database() -> String {
    let port = postgres_port();
    let name = format!("t_{}", tessera::random_hex(8).unwrap());
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-q", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    format!("postgres://postgres@127.0.0.1:{port}/{name}")
}

/// A running server over its own data folder.
pub struct Server {
    pub data: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    extra: Vec<String>,
    /// The client for this server (one that trusts its certificate when it serves HTTPS).
    client: Client,
    https: bool,
}

impl Server {
    pub fn start(db: Db) -> Self {
        match db {
            Db::Sqlite => Self::start_with(&[]),
            Db::Postgres => Self::start_with(&["--database", &postgres_database()]),
        }
    }

    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_client(extra, http().clone(), false)
    }

    /// Starts a server whose URL is `https://` when `https`, reached through `client`.
    pub fn start_client(extra: &[&str], client: Client, https: bool) -> Self {
        let mut server = Self {
            data: tempfile::tempdir().unwrap(),
            port: free_port(),
            child: None,
            // These tests drive the flows a relying party asks for (a bare `approve` among
            // them); the server's push-fatigue defaults (code mode unless asked otherwise,
            // escalation after a denial) have their own tests in src/server.
            extra: ["--default-mode", "approve", "--escalate-after-denials", "0"]
                .iter()
                .chain(extra)
                .map(|s| (*s).to_owned())
                .collect(),
            client,
            https,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.path().join("server.log"))
            .unwrap();
        let child = Command::new(server_bin())
            .args(["serve", "--data"])
            .arg(self.data.path().join("d"))
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self
                .client
                .get(format!("{}/health", self.url()))
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not come up:\n{}", self.log());
    }

    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", if self.https { "https" } else { "http" }, self.port)
    }

    pub fn key_file(&self) -> PathBuf {
        self.data.path().join("d/api-key")
    }

    pub fn key(&self) -> String {
        std::fs::read_to_string(self.key_file()).unwrap().trim().to_owned()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default()
    }

    /// Stops with SIGTERM (graceful shutdown) and waits for the exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    assert!(status.success(), "server exit {status}:\n{}", self.log());
                    break;
                }
                assert!(Instant::now() < deadline, "server did not stop:\n{}", self.log());
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn admin(&self, args: &[&str]) -> Run {
        let out = Command::new(server_bin())
            .arg("admin")
            .args(&args[..1])
            .args(["--server", &self.url(), "--api-key-file"])
            .arg(self.key_file())
            .args(&args[1..])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        to_run(&out)
    }

    /// Relying-party API call.
    pub fn rp(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request =
            self.client.request(method, format!("{}{path}", self.url())).bearer_auth(self.key());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// Enrols `user` and returns the URI.
    pub fn enrol_uri(&self, user: &str) -> String {
        let run = self.admin(&["enrol", user, "--no-qr"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout.lines().next().unwrap().to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An `admin login` running in the background: what the login screen shows, then the outcome.
pub struct Login {
    child: Child,
    rest: std::thread::JoinHandle<String>,
    pub id: String,
    /// The number (pick) or code (code) on the login screen.
    pub shown: Option<String>,
}

impl Login {
    pub fn start(server: &Server, user: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(server_bin())
            .args(["admin", "login", user, "--server", &server.url(), "--api-key-file"])
            .arg(server.key_file())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        let mut second = String::new();
        lines.read_line(&mut first).unwrap();
        lines.read_line(&mut second).unwrap();
        if first.is_empty() {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            panic!("admin login failed: {err}");
        }
        let id = first.split_whitespace().nth(1).unwrap().to_owned();
        let shown = second
            .split_whitespace()
            .find(|w| w.chars().all(|c| c.is_ascii_digit()) && !w.is_empty())
            .map(str::to_owned);
        let rest = std::thread::spawn(move || {
            let mut rest = String::new();
            lines.read_to_string(&mut rest).unwrap();
            rest
        });
        Self { child, rest, id, shown }
    }

    /// Waits for the command; returns (exit code, last stdout line).
    pub fn outcome(mut self) -> (i32, String) {
        let status = self.child.wait().unwrap();
        let rest = self.rest.join().unwrap();
        (status.code().unwrap_or(-1), rest.lines().last().unwrap_or_default().to_owned())
    }
}

/// A device home enrolled with `user` through `tessera add URI`.
pub(super) fn device(server: &Server, user: &str) -> Home {
    let home = Home::new();
    let uri = server.enrol_uri(user);
    let out = home.ok(&["add", &uri]);
    assert!(out.contains("added push approvals for"), "{out}");
    home
}

fn pending(home: &Home) -> Vec<Value> {
    let out = home.ok(&["push", "pending", "--json"]);
    serde_json::from_str::<Value>(&out).unwrap().as_array().unwrap().clone()
}

fn wait_pending(home: &Home, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = pending(home);
        if list.len() >= n || Instant::now() > deadline {
            return list;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn enrol_gives_totp_and_push_and_approve_is_verified_by_the_relying_party(db: Db) {
    let server = Server::start(db);
    let home = device(&server, "alice");
    let list = home.ok(&["list", "--json"]);
    assert!(list.contains("alice"), "{list}");
    let accounts = home.ok(&["push", "accounts", "--json"]);
    assert!(accounts.contains("\"backend\": \"tessera\""), "{accounts}");

    let login = Login::start(
        &server,
        "alice",
        &["--ip", "192.0.2.7", "--location", "Oslo, NO", "--rp", "Webmail"],
    );
    let list = wait_pending(&home, 1);
    assert_eq!(list.len(), 1);
    let r = &list[0];
    assert_eq!(r["id"], login.id.as_str());
    assert_eq!(r["context"]["ip"], "192.0.2.7");
    assert_eq!(r["context"]["location"], "Oslo, NO");
    assert_eq!(r["title"], "Webmail");
    let out = home.ok(&["push", "approve", &login.id[..8]]);
    assert!(out.starts_with("approved"), "{out}");
    assert_eq!(login.outcome(), (0, "approved".to_owned()));

    // The relying party's record verifies with the device key, over the context shown.
    let (status, outcome) = server.rp(
        reqwest::Method::GET,
        &format!("/rp/v1/logins/{}", r["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(status, 200);
    let (_, devices) = server.rp(reqwest::Method::GET, "/rp/v1/users/alice/devices", None);
    let pinned = tessera_server::pins_from_devices(&devices);
    let expected = ExpectedLogin { id: r["id"].as_str().unwrap(), user: "alice", answer: None };
    assert_eq!(tessera_server::verify_outcome(&outcome, &pinned, &expected), Ok(()));
    assert_eq!(outcome["decision"]["challenge"]["context"]["ip"], "192.0.2.7");
    let history = home.ok(&["push", "history", "--json"]);
    assert!(history.contains(&login_id_prefix(&outcome)), "{history}");
    assert!(pending(&home).is_empty(), "single use: answered logins are gone");
}

/// Issue 13 finding 7: a second device enrolled for alice (by her, or by someone holding an
/// API key) is announced to her first device by `tessera push pending`, once; the new
/// device is not told about itself.
fn a_new_push_device_is_announced_once_to_the_users_first_device(db: Db) {
    let server = Server::start(db);
    let first = device(&server, "alice");
    let second = device(&server, "alice");
    let out = first.ok(&["push", "pending"]);
    let told = "A new device was enrolled for alice on ";
    assert_eq!(out.matches(told).count(), 1, "{out}");
    assert!(out.contains(" UTC. If this wasn't you, tell your administrator."), "{out}");
    let again = first.ok(&["push", "pending"]);
    assert!(!again.contains("new device"), "told once: {again}");
    let own = second.ok(&["push", "pending"]);
    assert!(!own.contains("new device"), "not about itself: {own}");
}

fn login_id_prefix(outcome: &Value) -> String {
    outcome["id"].as_str().unwrap().to_owned()
}

fn deny_and_not_me_reach_the_relying_party_and_not_me_mutes_the_user(db: Db) {
    let server = Server::start(db);
    let home = device(&server, "bob");
    let login = Login::start(&server, "bob", &[]);
    wait_pending(&home, 1);
    home.ok(&["push", "deny", &login.id]);
    assert_eq!(login.outcome(), (1, "denied".to_owned()));

    let login = Login::start(&server, "bob", &[]);
    wait_pending(&home, 1);
    home.ok(&["push", "deny", "--not-me", &login.id]);
    assert_eq!(login.outcome(), (1, "not-me".to_owned()));

    let refused = server.admin(&["login", "bob", "--wait", "1"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("muted"), "{}", refused.stderr);
    let audit = server.admin(&["audit", "--user", "bob"]);
    assert!(audit.stdout.contains("\"not_me\""), "{}", audit.stdout);
    assert!(audit.stdout.contains("\"muted\""), "{}", audit.stdout);
}

fn pick_and_code_accept_the_right_answer_and_deny_a_wrong_one(db: Db) {
    let server = Server::start(db);
    let home = device(&server, "carol");
    // pick, right
    let login = Login::start(&server, "carol", &["--mode", "pick"]);
    let r = wait_pending(&home, 1).remove(0);
    let shown = login.shown.clone().unwrap();
    let options: Vec<String> = r["require_presence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(options.len(), 3);
    assert!(options.contains(&shown));
    home.ok(&["push", "approve", &login.id, "--answer", &shown]);
    assert_eq!(login.outcome(), (0, "approved".to_owned()));
    // pick, wrong: another offered number denies the login (one try)
    let login = Login::start(&server, "carol", &["--mode", "pick"]);
    let r = wait_pending(&home, 1).remove(0);
    let shown = login.shown.clone().unwrap();
    let wrong = r["require_presence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .find(|o| *o != shown)
        .unwrap()
        .to_owned();
    let run = home.run(&["push", "approve", &login.id, "--answer", &wrong]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(login.outcome(), (1, "denied".to_owned()));
    // code, right
    let login = Login::start(&server, "carol", &["--mode", "code"]);
    let r = wait_pending(&home, 1).remove(0);
    assert_eq!(r["code_entry"], true);
    let code = login.shown.clone().unwrap();
    assert_eq!(code.len(), 6);
    let run = home.run(&["push", "approve", &login.id]);
    assert_eq!(run.code, 1, "code mode needs the code");
    home.ok(&["push", "approve", &login.id, "--answer", &code]);
    assert_eq!(login.outcome(), (0, "approved".to_owned()));
    // code, wrong
    let login = Login::start(&server, "carol", &["--mode", "code"]);
    wait_pending(&home, 1);
    let code = login.shown.clone().unwrap();
    let wrong = if code == "123456" { "654321" } else { "123456" };
    let run = home.run(&["push", "approve", &login.id, "--answer", wrong]);
    assert_eq!(run.code, 1);
    assert_eq!(login.outcome(), (1, "denied".to_owned()));
}

fn an_unanswered_login_expires_and_cannot_be_approved_afterwards(db: Db) {
    let server = Server::start(db);
    let home = device(&server, "dave");
    let login = Login::start(&server, "dave", &["--expires-in", "2", "--wait", "10"]);
    let id = login.id.clone();
    assert_eq!(login.outcome(), (1, "expired".to_owned()));
    assert!(pending(&home).is_empty(), "expired logins are not shown");
    let run = home.run(&["push", "approve", &id]);
    assert_eq!(run.code, 1);
}

fn a_revoked_device_can_neither_poll_nor_receive_logins(db: Db) {
    let server = Server::start(db);
    let home = device(&server, "erin");
    let devices = server.admin(&["devices", "erin"]);
    let id = devices.stdout.lines().next().unwrap().to_owned();
    assert_eq!(server.admin(&["revoke", "erin", &id]).code, 0);
    let run = home.run(&["push", "pending"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("revoked"), "{}", run.stderr);
    let refused = server.admin(&["login", "erin", "--wait", "1"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("no active device"), "{}", refused.stderr);
    assert!(server.admin(&["devices", "erin"]).stdout.contains("(revoked)"));
}

fn pending_logins_survive_a_restart_once_and_are_decided_once(db: Db) {
    let mut server = Server::start(db);
    let home = device(&server, "frank");
    let (status, a) =
        server.rp(reqwest::Method::POST, "/rp/v1/logins", Some(json!({"user": "frank"})));
    assert_eq!(status, 200, "{a}");
    let (_, b) = server.rp(
        reqwest::Method::POST,
        "/rp/v1/logins",
        Some(json!({"user": "frank", "mode": "code"})),
    );
    server.restart();
    assert!(server.log().contains("ending long-polls"), "graceful shutdown ran");
    let list = wait_pending(&home, 2);
    let mut ids: Vec<&str> = list.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    let mut expected = [a["id"].as_str().unwrap(), b["id"].as_str().unwrap()];
    expected.sort_unstable();
    assert_eq!(ids, expected, "nothing lost or duplicated");
    home.ok(&["push", "approve", a["id"].as_str().unwrap()]);
    server.restart();
    let (_, outcome) = server.rp(
        reqwest::Method::GET,
        &format!("/rp/v1/logins/{}", a["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(outcome["state"], "approved", "a decision survives the restart");
    let run = home.run(&["push", "approve", a["id"].as_str().unwrap()]);
    assert_eq!(run.code, 1, "decided once");
    assert_eq!(pending(&home).len(), 1);
}

/// A device made in the test with the protocol functions (to capture and alter requests).
struct RawDevice {
    id: String,
    key: DeviceKey,
    server_key: Vec<u8>,
    base: String,
}

fn signed_request(
    d: &RawDevice,
    method: &str,
    path: &str,
    body: &[u8],
) -> reqwest::blocking::RequestBuilder {
    signed(http(), &d.base, &d.id, &d.key, method, path, body)
}

/// A device request signed the protocol's way (timestamp, nonce, P-256 signature headers),
/// sent through `client`.
pub fn signed(
    client: &Client,
    base: &str,
    device: &str,
    key: &DeviceKey,
    method: &str,
    path: &str,
    body: &[u8],
) -> reqwest::blocking::RequestBuilder {
    let ts = u64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
    )
    .unwrap();
    let nonce = tessera::random_hex(16).unwrap();
    let message = tessera::request_message(method, path, device, ts, &nonce, body);
    client
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .header(tessera::HEADER_DEVICE, device)
        .header(tessera::HEADER_TIMESTAMP, ts.to_string())
        .header(tessera::HEADER_NONCE, nonce)
        .header(tessera::HEADER_SIGNATURE, tessera::b64(&key.sign_p256(&message).unwrap()))
        .body(body.to_vec())
}

fn raw_device(server: &Server, user: &str) -> RawDevice {
    let uri = server.enrol_uri(user);
    let parsed = tessera_core::uri::OtpUri::parse(&uri).unwrap();
    let e = tessera::TesseraEnrolment::from_extra(&parsed.extra).unwrap().unwrap();
    let key = DeviceKey::generate_p256().unwrap();
    let mut d = RawDevice { id: e.device.clone(), key, server_key: Vec::new(), base: server.url() };
    let body = serde_json::to_vec(&json!({"credential": e.credential, "public_key": tessera::b64(&d.key.p256_public_key().unwrap())})).unwrap();
    let reply: Value =
        signed_request(&d, "POST", "/device/v1/enrol", &body).send().unwrap().json().unwrap();
    d.server_key = tessera::unb64(reply["server_public_key"].as_str().unwrap()).unwrap();
    // The credential is single use.
    let again = signed_request(&d, "POST", "/device/v1/enrol", &body).send().unwrap();
    assert_eq!(again.status().as_u16(), 403);
    d
}

fn a_captured_device_request_cannot_be_replayed(db: Db) {
    let server = Server::start(db);
    let d = raw_device(&server, "gina");
    let request = signed_request(&d, "GET", "/device/v1/pending?wait=0", b"").build().unwrap();
    let copy = request.try_clone().unwrap();
    assert_eq!(http().execute(request).unwrap().status().as_u16(), 200);
    let replay = http().execute(copy).unwrap();
    assert_eq!(replay.status().as_u16(), 401);
    assert!(replay.text().unwrap().contains("replayed"));
    // A request signed for one path does not work for another.
    let moved = signed_request(&d, "GET", "/device/v1/pending?wait=0", b"").build().unwrap();
    let mut moved = moved;
    *moved.url_mut() = format!("{}/device/v1/pending?wait=5", d.base).parse().unwrap();
    assert_eq!(http().execute(moved).unwrap().status().as_u16(), 401);
}

fn a_challenge_signed_by_another_key_is_dropped_by_the_client(db: Db) {
    let server = Server::start(db);
    let d = raw_device(&server, "hank");
    server.rp(reqwest::Method::POST, "/rp/v1/logins", Some(json!({"user": "hank"})));
    let account = |server_public_key: Vec<u8>| PushAccount {
        backend: PushBackendKind::Tessera,
        serial: d.id.clone(),
        url: d.base.clone(),
        sslverify: false,
        device_key: d.key.clone(),
        server_public_key,
        issuer: "Tessera".into(),
        label: "hank".into(),
        enrolled_at: 0,
        require_password: false,
    };
    let backend = TesseraBackend::new().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(backend.poll(&account(d.server_key.clone()), now).unwrap().len(), 1);
    let impostor = DeviceKey::generate_p256().unwrap().p256_public_key().unwrap();
    assert!(
        backend.poll(&account(impostor.clone()), now).unwrap().is_empty(),
        "forged challenges are dropped"
    );
    // A challenge the impostor signs itself does not verify against the real server key.
    let reply: PendingResponse =
        signed_request(&d, "GET", "/device/v1/pending?wait=0", b"").send().unwrap().json().unwrap();
    let forged = SignedChallenge::sign(
        reply.challenges[0].challenge.clone(),
        &DeviceKey::generate_p256().unwrap(),
    )
    .unwrap();
    assert!(!forged.verify(&d.server_key));
    assert!(reply.challenges[0].verify(&d.server_key));
}

fn a_decision_over_a_tampered_context_is_refused(db: Db) {
    let server = Server::start(db);
    let d = raw_device(&server, "ivy");
    let (_, login) = server.rp(
        reqwest::Method::POST,
        "/rp/v1/logins",
        Some(json!({"user": "ivy", "context": {"ip": "203.0.113.9"}})),
    );
    let reply: PendingResponse =
        signed_request(&d, "GET", "/device/v1/pending?wait=0", b"").send().unwrap().json().unwrap();
    let mut shown: Challenge = reply.challenges[0].challenge.clone();
    shown.context.ip = Some("192.0.2.1".into());
    let sign = |c: &Challenge| {
        let sig = d.key.sign_p256(&tessera::decision_message(c, "approve", None).unwrap()).unwrap();
        serde_json::to_vec(&AnswerRequest {
            decision: SignedDecision {
                challenge: c.clone(),
                decision: "approve".into(),
                answer: None,
                signature: tessera::b64(&sig),
            },
        })
        .unwrap()
    };
    let refused = signed_request(&d, "POST", "/device/v1/answer", &sign(&shown)).send().unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let (_, outcome) = server.rp(
        reqwest::Method::GET,
        &format!("/rp/v1/logins/{}", login["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(outcome["state"], "pending");
    // A bad decision signature over the right challenge is refused too.
    let real = reply.challenges[0].challenge.clone();
    let mut body: Value = serde_json::from_slice(&sign(&real)).unwrap();
    body["decision"]["decision"] = "deny".into();
    let refused =
        signed_request(&d, "POST", "/device/v1/answer", &serde_json::to_vec(&body).unwrap())
            .send()
            .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let accepted = signed_request(&d, "POST", "/device/v1/answer", &sign(&real)).send().unwrap();
    assert_eq!(accepted.status().as_u16(), 200);
}

/// A private Python venv with pyotp (PyPI), made once per machine.
fn pyotp_python() -> PathBuf {
    let venv = std::env::temp_dir().join("tessera-pyotp-venv");
    let python = venv.join("bin/python");
    if Command::new(&python).args(["-c", "import pyotp"]).status().is_ok_and(|s| s.success()) {
        return python;
    }
    assert!(
        Command::new("python3").args(["-m", "venv"]).arg(&venv).status().unwrap().success(),
        "python3 -m venv failed (install python3-venv)"
    );
    let ok = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "pyotp==2.9.0"])
        .status()
        .unwrap()
        .success();
    assert!(ok, "pip install pyotp failed");
    python
}

#[test]
fn standard_parsers_read_the_enrolment_uri_as_plain_totp() {
    let server = Server::start(Db::Sqlite);
    let uri = server.enrol_uri("judy");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    // Our own parser, TOTP only: the push parameters are extras, the TOTP account is intact.
    let parsed = tessera_core::uri::OtpUri::parse(&uri).unwrap();
    assert_eq!(parsed.account, "judy");
    assert!(parsed.extra.iter().any(|(k, v)| k == "push" && v == "tessera1"));
    let at = 1_795_000_000;
    let ours = parsed.otp.code_at(at);
    // pyotp's parse_uri accepts the URI and gives the same code.
    let script = format!("import pyotp,sys; print(pyotp.parse_uri(sys.argv[1]).at({at}))");
    let out = Command::new(pyotp_python()).args(["-c", &script, &uri]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), ours);
}

/// The demo relying-party pages (`serve --demo`).
mod demo;
/// HTTPS inside the server (`serve --tls-cert --tls-key`).
mod tls;

/// Runs each end-to-end test against both storage engines.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::Db::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::Db::Postgres) } )*
        }
    };
}

on_both_stores!(
    enrol_gives_totp_and_push_and_approve_is_verified_by_the_relying_party,
    deny_and_not_me_reach_the_relying_party_and_not_me_mutes_the_user,
    pick_and_code_accept_the_right_answer_and_deny_a_wrong_one,
    an_unanswered_login_expires_and_cannot_be_approved_afterwards,
    a_revoked_device_can_neither_poll_nor_receive_logins,
    pending_logins_survive_a_restart_once_and_are_decided_once,
    a_captured_device_request_cannot_be_replayed,
    a_challenge_signed_by_another_key_is_dropped_by_the_client,
    a_decision_over_a_tampered_context_is_refused,
    a_new_push_device_is_announced_once_to_the_users_first_device
);

#[test]
fn a_login_created_on_one_postgres_instance_wakes_a_device_polling_another() {
    let a = Server::start(Db::Postgres);
    let url = a.extra.iter().skip_while(|e| *e != "--database").nth(1).unwrap().clone();
    let b = Server::start_with(&["--database", &url]);
    let d = raw_device(&a, "kim");
    let poll = std::thread::spawn(move || {
        let started = Instant::now();
        let reply: PendingResponse = signed_request(&d, "GET", "/device/v1/pending?wait=20", b"")
            .send()
            .unwrap()
            .json()
            .unwrap();
        (started.elapsed(), reply.challenges.len())
    });
    // Longer than the listener's 1 s idle timeout: a listener that mishandled its first
    // timeout once slept through every later NOTIFY.
    std::thread::sleep(Duration::from_millis(2500));
    let response = http()
        .post(format!("{}/rp/v1/logins", b.url()))
        .bearer_auth(a.key())
        .json(&json!({"user": "kim"}))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (waited, count) = poll.join().unwrap();
    assert_eq!(count, 1);
    assert!(waited < Duration::from_secs(10), "woken by NOTIFY, not the 20 s timeout: {waited:?}");
}
