//! HTTP plumbing shared by the push clients (privacyIDEA, Tessera): one way to build a
//! blocking client (no redirects, bounded times), read a bounded JSON answer and name the
//! root cause of a transport error without the URL. Cargo feature `push-client`.

use std::io::Read as _;
use std::sync::Once;
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::Value;

use super::PushError;

/// Installs rustls' ring provider once per process (reqwest is built without a default one,
/// to stay off aws-lc's C build). [`PrivacyIdeaBackend::new`](crate::push::PrivacyIdeaBackend::new) calls it; call it yourself
/// before building any other reqwest client. Harmless if a provider is installed already.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // An error only means a provider is installed already, which is what we want.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Reads a push server's JSON answer. Answers are a few kilobytes; one past `limit` bytes is
/// cut off there and then fails to parse, so a hostile server cannot make the app buffer
/// without limit.
pub(crate) fn read_json(
    response: reqwest::blocking::Response,
    server: &str,
    limit: u64,
) -> Result<Value, PushError> {
    let status = response.status().as_u16();
    let mut text = String::new();
    response
        .take(limit)
        .read_to_string(&mut text)
        .map_err(|e| PushError::Unreachable { server: server.to_owned(), detail: e.to_string() })?;
    serde_json::from_str(&text).map_err(|_| PushError::BadResponse {
        server: server.to_owned(),
        detail: format!("HTTP {status} without a JSON body"),
    })
}

/// Builds the blocking HTTP client every push backend uses: our user agent, bounded
/// connect and request times, and no redirects (a redirect could lead from HTTPS to plain
/// HTTP or to another host, around the transport checks; neither backend redirects).
/// `verify` false accepts any certificate (`sslverify=0`, loopback only).
pub(crate) fn http_client(verify: bool, timeout: Duration) -> Result<Client, PushError> {
    Client::builder()
        .user_agent(concat!("Tessera/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(timeout)
        .tls_danger_accept_invalid_certs(!verify)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| PushError::Key(format!("cannot set up TLS: {}", root_cause(&e))))
}

/// Returns the innermost cause of an error chain, which names what actually went wrong
/// ("Connection refused") where the outer layers say only "error sending request". Never
/// includes the URL (it carries the poll signature).
pub(crate) fn root_cause(error: &reqwest::Error) -> String {
    let mut current: &dyn std::error::Error = error;
    while let Some(next) = current.source() {
        current = next;
    }
    let text = if std::ptr::addr_eq(current, error as &dyn std::error::Error) {
        error.to_string()
    } else {
        current.to_string()
    };
    // reqwest's own text includes the URL; cut it off if the root cause is reqwest's.
    text.split(" for url (").next().unwrap_or_default().chars().take(200).collect()
}
