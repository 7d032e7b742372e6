//! HTTPS inside the server (`serve --tls-cert PEM --tls-key PEM`): a self-signed certificate
//! made here with rcgen, the real server binary, clients that trust exactly that certificate.

use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};
use tessera_core::push::DeviceKey;
use tessera_core::push::tessera::{self, TesseraEnrolment};

use super::{Server, http, signed};

/// A server on HTTPS with a fresh self-signed certificate for 127.0.0.1, and a client that
/// trusts only that certificate.
fn tls_server() -> (Server, Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    tessera_core::push::install_crypto_provider();
    let client = Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(made.cert.pem().as_bytes()).unwrap()])
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let server = Server::start_client(
        &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
        client.clone(),
        true,
    );
    (server, client, dir)
}

#[test]
fn the_server_speaks_https_with_the_given_certificate_and_not_plain_http() {
    let (server, client, _dir) = tls_server();
    assert!(server.url().starts_with("https://"));
    let health: Value =
        client.get(format!("{}/health", server.url())).send().unwrap().json().unwrap();
    assert_eq!(health, json!({ "status": "ok" }));
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = format!("http://127.0.0.1:{}/health", server.port);
    assert!(http().get(&plain).send().is_err(), "plain HTTP must fail on the TLS port");
    // A client with the system's trust (not this self-signed certificate) refuses the server.
    assert!(http().get(format!("{}/health", server.url())).send().is_err());
    // Enrolments point devices at https:// and ask them to verify the certificate.
    let (status, reply) =
        server.rp(reqwest::Method::POST, "/rp/v1/users/amy/enrol", Some(json!({})));
    assert_eq!(status, 200, "{reply}");
    let uri = reply["uri"].as_str().unwrap();
    let port = server.port;
    assert!(uri.contains(&format!("push_url=https%3A%2F%2F127.0.0.1%3A{port}&")), "{uri}");
    assert!(uri.ends_with("push_sslverify=1"), "{uri}");
}

#[test]
fn a_tls_server_shuts_down_gracefully_ending_long_polls() {
    let (mut server, client, _dir) = tls_server();
    // A device enrols over HTTPS and a login is created for it.
    let (_, reply) = server.rp(reqwest::Method::POST, "/rp/v1/users/ben/enrol", Some(json!({})));
    let uri = tessera_core::uri::OtpUri::parse(reply["uri"].as_str().unwrap()).unwrap();
    let e = TesseraEnrolment::from_extra(&uri.extra).unwrap().unwrap();
    let key = DeviceKey::generate_p256().unwrap();
    let body = serde_json::to_vec(&json!({
        "credential": e.credential,
        "public_key": tessera::b64(&key.p256_public_key().unwrap()),
    }))
    .unwrap();
    let enrolled =
        signed(&client, &server.url(), &e.device, &key, "POST", "/device/v1/enrol", &body)
            .send()
            .unwrap();
    assert_eq!(enrolled.status().as_u16(), 200);
    let (status, login) =
        server.rp(reqwest::Method::POST, "/rp/v1/logins", Some(json!({ "user": "ben" })));
    assert_eq!(status, 200, "{login}");
    let id = login["id"].as_str().unwrap().to_owned();
    // The relying party long-polls the outcome over TLS; the server is stopped meanwhile.
    let poll = std::thread::spawn({
        let (client, url, api_key) = (client.clone(), server.url(), server.key());
        move || {
            let started = Instant::now();
            let reply: Value = client
                .get(format!("{url}/rp/v1/logins/{id}?wait=20"))
                .bearer_auth(api_key)
                .send()
                .unwrap()
                .json()
                .unwrap();
            (reply, started.elapsed())
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    server.stop(); // SIGTERM; asserts a clean exit within 15 s
    let (reply, waited) = poll.join().unwrap();
    assert_eq!(reply["state"], "pending", "the poll got its answer before the exit");
    assert!(waited < Duration::from_secs(10), "ended by the shutdown, not the 20 s wait");
    assert!(server.log().contains("stopped"), "{}", server.log());
}
