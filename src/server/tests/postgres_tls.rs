//! Issue 13 finding 2: the store reaches PostgreSQL over TLS. A real PostgreSQL
//! (`scripts/throwaway-postgres.sh`) is switched to `ssl=on` with a certificate made here and
//! told to refuse every connection that is not TLS; the store then connects only with
//! `sslmode=require` and the right `sslrootcert`, and refuses a server whose certificate does
//! not chain to it.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tessera_server::Store;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A CA and a certificate for 127.0.0.1 and localhost signed by it: (CA PEM, cert PEM, key PEM).
fn certificates() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "tessera test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// Runs SQL as the cluster's superuser over the Unix socket (allowed without TLS).
fn psql(dir: &Path, port: u16, sql: &str) {
    let out = Command::new("psql")
        .args(["-h"])
        .arg(dir)
        .args(["-p", &port.to_string(), "-U", "postgres", "-q", "-c", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_store_speaks_tls_to_postgresql_and_checks_its_certificate() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("tessera-pg-tls-{}", std::process::id()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/throwaway-postgres.sh");
    let status = Command::new("bash")
        .arg(script)
        .arg(&dir)
        .arg(port.to_string())
        .arg(std::process::id().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "cannot start PostgreSQL (Debian package postgresql)");
    let data = dir.join("data");
    let (ca, cert, key) = certificates();
    std::fs::write(data.join("server.crt"), cert).unwrap();
    std::fs::write(data.join("server.key"), key).unwrap();
    // PostgreSQL wants its key private and owned by the user it runs as.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let perms = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(data.join("server.key"), perms).unwrap();
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&data).unwrap());
        let group = std::os::unix::fs::MetadataExt::gid(&std::fs::metadata(&data).unwrap());
        for file in ["server.crt", "server.key"] {
            std::os::unix::fs::chown(data.join(file), Some(owner), Some(group)).unwrap();
        }
    }
    // TCP connections must be TLS from now on; the Unix socket stays for this test's setup.
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
    )
    .unwrap();
    psql(&dir, port, "ALTER SYSTEM SET ssl = on");
    psql(&dir, port, "SELECT pg_reload_conf()");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let (other_ca, _, _) = certificates();
    let other_ca_file = dir.join("other-ca.pem");
    std::fs::write(&other_ca_file, other_ca).unwrap();

    let url = |query: &str| format!("postgres://postgres@127.0.0.1:{port}/postgres?{query}");
    // The reload takes a moment; until then TLS is not offered.
    let deadline = Instant::now() + Duration::from_secs(20);
    let store = loop {
        let attempt = Store::open_postgres(&url(&format!(
            "sslmode=require&sslrootcert={}",
            ca_file.display()
        )));
        match attempt {
            Ok(store) => break store,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("no TLS connection: {e}"),
        }
    };
    assert_eq!(store.meta_init("probe", b"tls").unwrap(), b"tls");
    let refused = |query: &str| Store::open_postgres(&url(query)).err().map(|e| e.to_string());
    // Plain TCP is refused by the server (so the connection above really was TLS).
    assert!(refused("sslmode=disable").is_some(), "plain text must not connect");
    // A certificate that does not chain to the trusted CA is refused by the store.
    let wrong = refused(&format!("sslmode=verify-full&sslrootcert={}", other_ca_file.display()));
    assert!(wrong.is_some(), "a certificate from another CA must be refused");
    // Without sslrootcert only the Mozilla roots are trusted, and they do not know this CA.
    assert!(refused("sslmode=require").is_some());
}
