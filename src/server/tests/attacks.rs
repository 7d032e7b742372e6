//! Issue 13's attacks on a real server over loopback TCP: each test is the request an
//! outside attacker sends, and checks what the server must not do about it.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Device, Server, turn_denials_into_approvals};
use serde_json::json;

/// Finding 1: 200 unauthenticated enrolments with 50 KB device ids are refused before any
/// work: the audit log gains nothing, the log does not echo them, and the server's memory
/// stays within a few MB.
#[test]
fn oversized_device_ids_on_enrolment_store_and_log_nothing() {
    let server = Server::start(&[]);
    let (status, before) = server.rp("GET", "/rp/v1/audit", &json!({}));
    assert_eq!(status, 200);
    // Warm up the connection handling once so the baseline includes it.
    let huge = "a".repeat(50 * 1024);
    let body = json!({ "credential": "00", "public_key": "AAAA" }).to_string();
    let request = |device: &str| {
        format!(
            "POST /device/v1/enrol HTTP/1.1\r\nx-tessera-device: {device}\r\n\
             x-tessera-timestamp: 1\r\nx-tessera-nonce: {}\r\nx-tessera-signature: AAAA\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            "0".repeat(32),
            body.len()
        )
    };
    let (status, _) = server.try_request_with_body(&request(&huge), body.as_bytes()).unwrap();
    assert_eq!(status, 401, "a 50 KB device id is malformed");
    let rss_before = server.rss_kib();
    let mut statuses = Vec::new();
    for i in 0..200 {
        let device = format!("{i:x}{huge}");
        let (status, _) = server.try_request_with_body(&request(&device), body.as_bytes()).unwrap();
        statuses.push(status);
    }
    // Malformed ids are refused (401) until the per-address enrolment rate stops the
    // flood altogether (429).
    assert!(statuses[..10].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
    assert!(statuses.contains(&429), "enrolment attempts are rate-limited per address");
    let rss_after = server.rss_kib();
    let (_, after) = server.rp("GET", "/rp/v1/audit", &json!({}));
    assert_eq!(before, after, "the audit log is unchanged");
    assert!(!server.log().contains(&huge[..1000]), "the log does not echo the device id");
    assert!(rss_after < rss_before + 4 * 1024, "RSS grew from {rss_before} KiB to {rss_after} KiB");
}

/// Finding 3: the server (or its database) says `approved` next to the device's genuinely
/// signed `deny`. Before the fix the admin CLI and the demo checked only that the signature
/// verified, with the key from the same answer, so both reported the login approved.
#[test]
fn a_denial_rewritten_to_approved_in_the_database_is_not_approved() {
    use std::io::BufRead as _;
    let server = Server::start(&["--demo"]);
    let device = Device::enrol(&server, "alice");
    turn_denials_into_approvals(&server);

    // The admin CLI as relying party.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .args(["admin", "login", "alice", "--mode", "code", "--wait", "20"])
        .args(["--server", &server.url(), "--api-key-file"])
        .arg(server.key_file())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("login screen") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "admin login ended early");
    }
    let challenge = device.pending(&server, 5).remove(0).challenge;
    let (status, body) = device.answer(&server, &challenge, "deny", None);
    assert_eq!(status, 200, "{body}");
    let output = child.wait_with_output().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(!output.status.success(), "the admin CLI must not accept the forged approval");
    assert!(rest.contains("unverified"), "{rest}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("not approve"), "{output:?}");

    // The demo page as relying party.
    let form = format!("user=alice&mode=code&csrf={}", demo_csrf(&server));
    let head = format!(
        "POST /demo/login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n",
        form.len()
    );
    let (status, page) = server.try_request_with_body(&head, form.as_bytes()).unwrap();
    assert_eq!(status, 200, "{page}");
    let id = page.split("data-id=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let challenge = device.pending(&server, 5).remove(0).challenge;
    assert_eq!(challenge.id, id);
    assert_eq!(device.answer(&server, &challenge, "deny", None).0, 200);
    let (status, outcome) =
        server.try_request(&format!("GET /demo/logins/{id}?wait=0 HTTP/1.1\r\n\r\n")).unwrap();
    assert_eq!(status, 200, "{outcome}");
    let (_, row) = server.rp("GET", &format!("/rp/v1/logins/{id}"), &json!({}));
    assert_eq!(row["state"], "approved", "the database says approved");
    assert!(outcome.contains("\"unverified\""), "the demo page says {outcome}");
}

/// The anti-CSRF token of the demo's forms, read from the page as a browser would.
fn demo_csrf(server: &Server) -> String {
    let (status, page) = server.try_request("GET /demo HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(status, 200, "{page}");
    page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
}

/// Finding 4: the demo's pages act with relying-party rights. A public URL that is not
/// loopback means they would be public behind the reverse proxy: refused. The environment
/// switch that turned them on silently is gone.
#[test]
fn the_demo_refuses_a_public_url_and_ignores_the_environment() {
    let data = tempfile::tempdir().unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .args(["serve", "--demo", "--public-url", "https://push.example", "--listen"])
        .args(["127.0.0.1:0", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("https://push.example"), "{stderr}");

    let server = Server::start_env(&[], &[("TESSERA_SERVER_DEMO", "1")]);
    assert_eq!(server.try_request("GET /demo HTTP/1.1\r\n\r\n").unwrap().0, 404);
}

/// Finding 4: a page on another site (or one that rebinds its own DNS name to 127.0.0.1)
/// posting to or reading the demo is refused: Host, Origin and the forms' token are checked.
#[test]
fn the_demo_refuses_cross_site_and_rebound_requests() {
    let server = Server::start(&["--demo"]);
    let csrf = demo_csrf(&server);
    // DNS rebinding: the browser sends the attacker's host name.
    let raw = |head: &str, body: &str| {
        let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
        use std::io::{Read as _, Write as _};
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply.split(' ').nth(1).unwrap().parse::<u16>().unwrap()
    };
    let rebound =
        "GET /demo HTTP/1.1\r\nHost: rebind.attacker.example\r\nConnection: close\r\n\r\n";
    assert_eq!(raw(rebound, ""), 403);
    // A cross-site form post, even with a token it somehow had.
    let form = format!("user=alice&csrf={csrf}");
    let head = |origin: &str| {
        format!(
            "POST /demo/enrol HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{origin}\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            server.addr,
            form.len()
        )
    };
    assert_eq!(raw(&head("Origin: https://evil.example\r\n"), &form), 403);
    // A post without the page's token.
    let tokenless = "user=alice";
    let (status, _) = server
        .try_request_with_body(
            &format!(
                "POST /demo/enrol HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: {}\r\n\r\n",
                tokenless.len()
            ),
            tokenless.as_bytes(),
        )
        .unwrap();
    assert_eq!(status, 403);
    // The same-site post with the token works.
    let origin = format!("Origin: http://{}\r\n", server.addr);
    assert_eq!(raw(&head(&origin), &form), 200);
}

/// Finding 6: headers are authenticated before the body is read. Each request below
/// announces a 60,000-byte body and never sends it; before the fix the server read (waited
/// for) the body first and answered only at its 40 s request deadline, so a stranger could
/// hold a request open and make the server buffer bodies. Now the bad API key, the unknown
/// or revoked device, or the malformed signature header is refused at once (the 5 s is how
/// long the client waits for an answer, not a speed measurement).
#[test]
fn bad_credentials_are_refused_before_the_body_arrives() {
    let server = Server::start(&[]);
    let revoked = Device::enrol(&server, "alice");
    let (status, _) =
        server.rp("DELETE", &format!("/rp/v1/users/alice/devices/{}", revoked.id), &json!({}));
    assert_eq!(status, 200);
    let rp = |path: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nAuthorization: Bearer tsk_{}\r\n\
             Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n",
            "0".repeat(40)
        )
    };
    let device = |path: &str, id: &str, signature: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nx-tessera-device: {id}\r\nx-tessera-timestamp: 1\r\n\
             x-tessera-nonce: {}\r\nx-tessera-signature: {signature}\r\n\
             Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n",
            "0".repeat(32)
        )
    };
    let unknown = "0123456789abcdef0123456789abcdef";
    for (what, head, expected) in [
        ("login with a wrong API key", rp("/rp/v1/logins"), 401),
        ("enrolment with a wrong API key", rp("/rp/v1/users/alice/enrol"), 401),
        ("answer from an unknown device", device("/device/v1/answer", unknown, "AAAA"), 401),
        ("answer from a revoked device", device("/device/v1/answer", &revoked.id, "AAAA"), 403),
        ("enrolment with a malformed signature", device("/device/v1/enrol", unknown, "!"), 401),
    ] {
        assert_eq!(server.status_without_body(&head), Some(expected), "{what}");
    }
}

/// Finding 6: a client that opens TLS connections and never finishes the handshake (here:
/// the first 3 bytes of a ClientHello, then silence) held a connection and a task each for
/// as long as it liked. Now the server closes them when the 10 s handshake time is up (the
/// client waits up to 30 s for that close: a functional wait, not a speed measurement).
#[test]
fn tls_handshakes_that_never_finish_are_closed() {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let server =
        Server::start(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    let mut held: Vec<std::net::TcpStream> = (0..20)
        .map(|_| {
            let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
            stream.write_all(&[0x16, 0x03, 0x01]).unwrap();
            stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
            stream
        })
        .collect();
    for stream in &mut held {
        let mut buf = [0u8; 64];
        match stream.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("the stalled handshake was not closed: {other:?}"),
        }
    }
}

/// Finding 6: one client opening 5,000 connections that send headers and then trickle a
/// body (or nothing) took every file descriptor of a server allowed 4,096, so nobody else
/// was served. Now one client address holds at most 256 connections (the rest are closed
/// unread) and requests have a deadline, so `/health` keeps answering.
#[test]
fn five_thousand_slow_bodies_do_not_stop_health() {
    let server = Server::start_limited(&[], 4096);
    let addr = server.addr;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let held = runtime.block_on(async move {
        use tokio::io::AsyncWriteExt as _;
        let mut held = Vec::new();
        let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        for _ in 0..5000 {
            if tokio::time::Instant::now() > give_up {
                break;
            }
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            // Another client than /health's: 127.0.0.2 (loopback, still one address).
            socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            let Ok(Ok(mut stream)) =
                tokio::time::timeout(std::time::Duration::from_secs(1), socket.connect(addr)).await
            else {
                continue;
            };
            let head = format!(
                "POST /device/v1/answer HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 60000\r\n\
                 Content-Type: application/json\r\n\r\n{{"
            );
            let _ = stream.write_all(head.as_bytes()).await;
            held.push(stream);
        }
        held
    });
    assert!(held.len() > 4000, "the attack opened {} connections", held.len());
    let started = std::time::Instant::now();
    let health = server.try_request("GET /health HTTP/1.1\r\n\r\n");
    assert_eq!(health.map(|h| h.0), Some(200), "after {:?}", started.elapsed());
    drop(held);
}

/// Finding 7: API keys were unnamed and all-powerful. The operator now makes a key scoped to
/// one relying party, lists keys (never their secrets) and revokes one; the payroll key
/// cannot start a login for the CRM, and once revoked it is refused.
#[test]
fn the_operator_scopes_lists_and_revokes_api_keys() {
    let server = Server::start(&[]);
    Device::enrol(&server, "alice");
    let added = server.keys(&["add", "payroll", "--rp", "payroll"]);
    assert!(added.status.success(), "{added:?}");
    let key = String::from_utf8(added.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("tsk_"), "{key}");

    let crm = json!({ "user": "alice", "rp": "crm" });
    let (status, reply) = server.rp_with(&key, "POST", "/rp/v1/logins", &crm);
    assert_eq!(status, 403, "{reply}");
    let (_, audit) = server.rp("GET", "/rp/v1/audit", &json!({}));
    assert!(!audit.to_string().contains("\"crm\""), "nothing was stored for crm: {audit}");
    let (status, reply) =
        server.rp_with(&key, "POST", "/rp/v1/logins", &json!({ "user": "alice" }));
    assert_eq!(status, 200, "{reply}");

    let listed = server.keys(&["list"]);
    assert!(listed.status.success(), "{listed:?}");
    let text = String::from_utf8(listed.stdout).unwrap();
    assert!(!text.contains(&key) && !text.contains(&server.key()), "no secret in {text}");
    let line = |text: &str, name: &str| -> Vec<String> {
        let line = text.lines().find(|l| l.starts_with(&format!("{name}\t"))).unwrap();
        line.split('\t').map(str::to_owned).collect()
    };
    let payroll = line(&text, "payroll");
    assert_eq!(payroll[1], "payroll");
    assert_ne!(payroll[3], "-", "last used is recorded: {text}");
    assert_eq!(payroll[4], "-", "not revoked yet: {text}");
    assert_eq!(line(&text, "bootstrap")[1], "*", "the operator's key: every relying party");

    let revoked = server.keys(&["revoke", "payroll"]);
    assert!(revoked.status.success(), "{revoked:?}");
    let (status, reply) = server.rp_with(&key, "GET", "/rp/v1/audit", &json!({}));
    assert_eq!(status, 401, "{reply}");
    let text = String::from_utf8(server.keys(&["list"]).stdout).unwrap();
    assert_ne!(line(&text, "payroll")[4], "-", "{text}");
    assert!(!server.keys(&["revoke", "payroll"]).status.success(), "nothing left to revoke");
}

/// An enrolment attempt with a malformed device id (refused with 401 after the per-address
/// rate check, 429 once the address is over it), with `forwarded` as its forwarding header.
fn enrol_attempt(server: &Server, forwarded: &str) -> u16 {
    let head = format!(
        "POST /device/v1/enrol HTTP/1.1\r\n{forwarded}\r\nx-tessera-device: nothex\r\n\
         Content-Length: 0\r\n\r\n"
    );
    server.try_request(&head).unwrap().0
}

/// Behind a reverse proxy the enrolment limit keys on the client address the proxy
/// forwards; a client connecting directly must not pick its own bucket by forging that
/// header, whether no proxy is trusted or another one is.
#[test]
fn a_forged_x_forwarded_for_from_a_direct_client_gets_no_fresh_bucket() {
    for extra in [&[][..], &["--trusted-proxy", "10.0.0.5/32"][..]] {
        let server = Server::start(extra);
        let statuses: Vec<u16> = (0..60)
            .map(|i| {
                enrol_attempt(&server, &format!("X-Forwarded-For: 198.51.{}.{}", i / 250, i % 250))
            })
            .collect();
        assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
        assert!(
            statuses.contains(&429),
            "{extra:?}: each forged address got a bucket of its own: {statuses:?}"
        );
    }
}

/// With the operator's proxy trusted, each client behind it has its own enrolment bucket,
/// keyed on the address the proxy appended (the client's own entries to its left are not
/// believed), in `X-Forwarded-For` or, when named, RFC 7239 `Forwarded`.
#[test]
fn behind_a_trusted_proxy_each_client_has_its_own_enrolment_bucket() {
    let cases = [
        (&["--trusted-proxy", "127.0.0.1"][..], "X-Forwarded-For: {forged}, {client}"),
        (
            &["--trusted-proxy", "127.0.0.0/8", "--client-address-header", "forwarded"][..],
            "Forwarded: for={forged};proto=https, for=\"{client}\"",
        ),
    ];
    for (extra, template) in cases {
        let server = Server::start(extra);
        let header = |forged: &str, client: &str| {
            template.replace("{forged}", forged).replace("{client}", client)
        };
        // Client 192.0.2.1 floods, varying what it writes into the header itself.
        let statuses: Vec<u16> = (0..60)
            .map(|i| enrol_attempt(&server, &header(&format!("6.6.6.{i}"), "192.0.2.1")))
            .collect();
        assert!(statuses.contains(&429), "{extra:?}: client 192.0.2.1 is limited: {statuses:?}");
        // Another client behind the same proxy is not.
        assert_eq!(enrol_attempt(&server, &header("6.6.6.6", "192.0.2.2")), 401, "{extra:?}");
        // Nor is the proxy itself (its own bucket) when it forwards no address.
        assert_eq!(enrol_attempt(&server, "X-Unrelated: 1"), 401, "{extra:?}");
    }
}
