//! A real `tessera-server` on 127.0.0.1 for the attack tests, spoken to over plain TCP (the
//! requests an attacker writes, byte by byte), and its memory as the kernel reports it.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server; stopped (killed) when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub data: tempfile::TempDir,
    child: Child,
}

impl Server {
    /// Starts `serve` with `extra` flags on a free loopback port and waits for `/health`.
    pub fn start(extra: &[&str]) -> Self {
        Self::start_env(extra, &[])
    }

    /// Starts `serve` with `extra` flags and `env` variables.
    pub fn start_env(extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_full(extra, env, None)
    }

    /// Starts `serve` allowed at most `nofile` open files (`ulimit -n`).
    pub fn start_limited(extra: &[&str], nofile: u32) -> Self {
        Self::start_full(extra, &[], Some(nofile))
    }

    fn start_full(extra: &[&str], env: &[(&str, &str)], nofile: Option<u32>) -> Self {
        let data = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = std::fs::File::create(data.path().join("server.log")).unwrap();
        let mut command = match nofile {
            Some(n) => {
                let mut c = Command::new("bash");
                c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\"")]);
                c.arg(env!("CARGO_BIN_EXE_tessera-server"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_tessera-server")),
        };
        let child = command
            .args(["serve", "--data"])
            .arg(data.path().join("d"))
            .args(["--listen", &addr.to_string()])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        // A TLS server does not answer plain HTTP: wait for its port instead.
        let tls = extra.contains(&"--tls-cert");
        let server = Self { addr, data, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let up = if tls {
                TcpStream::connect(addr).is_ok()
            } else {
                server.try_request("GET /health HTTP/1.1\r\n\r\n").is_some_and(|r| r.0 == 200)
            };
            if up {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not come up:\n{}", server.log());
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory in KiB (`VmRSS` of /proc/PID/status).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Sends `head` (request line and headers, ending in an empty line, without `Host` and
    /// `Connection`) plus `body`; returns the status and the body.
    pub fn try_request_with_body(&self, head: &str, body: &[u8]) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let (line, rest) = head.split_once("\r\n")?;
        let request = format!("{line}\r\nHost: {}\r\nConnection: close\r\n{rest}", self.addr);
        stream.write_all(request.as_bytes()).ok()?;
        stream.write_all(body).ok()?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).ok()?;
        let text = String::from_utf8_lossy(&reply).into_owned();
        let status = text.split(' ').nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        Some((status, body))
    }

    /// Sends only `head` (which announces a body with `Content-Length`) and never the body;
    /// returns the status the server answers within 5 s (`None`: no answer by then).
    pub fn status_without_body(&self, head: &str) -> Option<u16> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let (line, rest) = head.split_once("\r\n")?;
        let request = format!("{line}\r\nHost: {}\r\n{rest}", self.addr);
        stream.write_all(request.as_bytes()).ok()?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 512];
        while !reply.windows(2).any(|w| w == b"\r\n") {
            let n = stream.read(&mut buf).ok()?;
            if n == 0 {
                return None;
            }
            reply.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&reply).split(' ').nth(1)?.parse().ok()
    }

    pub fn try_request(&self, head: &str) -> Option<(u16, String)> {
        self.try_request_with_body(head, b"")
    }

    /// A relying-party call with the bootstrap key: status and JSON answer.
    pub fn rp(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.rp_with(&self.key(), method, path, body)
    }

    /// A relying-party call with API key `key`: status and JSON answer.
    pub fn rp_with(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let body = body.to_string();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        let (status, reply) = self.try_request_with_body(&head, body.as_bytes()).unwrap();
        (status, serde_json::from_str(&reply).unwrap_or(serde_json::Value::Null))
    }

    /// Runs `tessera-server keys ARGS --data DIR` on this server's data folder.
    pub fn keys(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_tessera-server"))
            .arg("keys")
            .args(args)
            .arg("--data")
            .arg(self.data.path().join("d"))
            .output()
            .unwrap()
    }

    /// Runs `tessera-server admin ARGS --server URL --api-key-file FILE`.
    pub fn admin(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_tessera-server"))
            .arg("admin")
            .args(args)
            .args(["--server", &self.url(), "--api-key-file"])
            .arg(self.key_file())
            .output()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A device speaking `tessera-push-v1` to the server with real signatures.
pub struct Device {
    pub id: String,
    pub key: tessera_core::push::DeviceKey,
}

impl Device {
    /// Enrols a new device for `user` (the relying party asks, the device answers).
    pub fn enrol(server: &Server, user: &str) -> Self {
        use tessera_core::push::tessera::{self, TesseraEnrolment};
        let (status, reply) =
            server.rp("POST", &format!("/rp/v1/users/{user}/enrol"), &serde_json::json!({}));
        assert_eq!(status, 200, "{reply}");
        let uri = tessera_core::uri::OtpUri::parse(reply["uri"].as_str().unwrap()).unwrap();
        let e = TesseraEnrolment::from_extra(&uri.extra).unwrap().unwrap();
        let device = Self {
            id: e.device.clone(),
            key: tessera_core::push::DeviceKey::generate_p256().unwrap(),
        };
        let body = serde_json::json!({
            "credential": e.credential,
            "public_key": tessera::b64(&device.key.p256_public_key().unwrap()),
        });
        let (status, reply) = device.call(server, "POST", "/device/v1/enrol", &body.to_string());
        assert_eq!(status, 200, "{reply}");
        device
    }

    /// Sends a signed device request; returns the status and the body.
    pub fn call(&self, server: &Server, method: &str, path: &str, body: &str) -> (u16, String) {
        use tessera_core::push::tessera;
        let ts =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
                as u64;
        let nonce = tessera::random_hex(16).unwrap();
        let message = tessera::request_message(method, path, &self.id, ts, &nonce, body.as_bytes());
        let signature = tessera::b64(&self.key.sign_p256(&message).unwrap());
        let head = format!(
            "{method} {path} HTTP/1.1\r\n{}: {}\r\n{}: {ts}\r\n{}: {nonce}\r\n{}: {signature}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            tessera::HEADER_DEVICE,
            self.id,
            tessera::HEADER_TIMESTAMP,
            tessera::HEADER_NONCE,
            tessera::HEADER_SIGNATURE,
            body.len()
        );
        server.try_request_with_body(&head, body.as_bytes()).unwrap()
    }

    /// Waits up to `wait` seconds for pending challenges.
    pub fn pending(
        &self,
        server: &Server,
        wait: u64,
    ) -> Vec<tessera_core::push::tessera::SignedChallenge> {
        let (status, body) =
            self.call(server, "GET", &format!("/device/v1/pending?wait={wait}"), "");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<tessera_core::push::tessera::PendingResponse>(&body)
            .unwrap()
            .challenges
    }

    /// Signs `decision` (`approve`, `deny`, `not_me`) with `answer` over `challenge` and sends
    /// it; returns the status and the body.
    pub fn answer(
        &self,
        server: &Server,
        challenge: &tessera_core::push::tessera::Challenge,
        decision: &str,
        answer: Option<&str>,
    ) -> (u16, String) {
        use tessera_core::push::tessera::{self, AnswerRequest, SignedDecision};
        let message = tessera::decision_message(challenge, decision, answer).unwrap();
        let request = AnswerRequest {
            decision: SignedDecision {
                challenge: challenge.clone(),
                decision: decision.to_owned(),
                answer: answer.map(str::to_owned),
                signature: tessera::b64(&self.key.sign_p256(&message).unwrap()),
            },
        };
        self.call(server, "POST", "/device/v1/answer", &serde_json::to_string(&request).unwrap())
    }
}

/// Rewrites the server's SQLite database the way an attacker with write access to it would:
/// from now on, every login the server marks `denied` reads back as `approved`.
pub fn turn_denials_into_approvals(server: &Server) {
    let db = rusqlite::Connection::open(server.data.path().join("d/tessera.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER forge AFTER UPDATE OF state ON logins WHEN NEW.state = 'denied' \
         BEGIN UPDATE logins SET state = 'approved' WHERE id = NEW.id; END;",
    )
    .unwrap();
}
