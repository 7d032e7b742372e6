//! Issue 13's attacks on a real server over loopback TCP: each test is the request an
//! outside attacker sends, and checks what the server must not do about it.

mod common;

use common::Server;
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
