//! HTTP plumbing shared by the push clients (privacyIDEA, Tessera): one way to build a
//! blocking client (no redirects, bounded times), read a bounded JSON answer, name the
//! root cause of a transport error without the URL, and read the servers' `Date` headers
//! for the clock check ([`DateLog`]). Cargo feature `push-client`.

use std::collections::HashMap;
use std::io::Read as _;
use std::sync::{Mutex, Once, PoisonError};
use std::time::{Duration, Instant, UNIX_EPOCH};

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;

use super::PushError;
use crate::clock::offset::{MAX_UNCERTAINTY_MS, Reading, Source};
use crate::clock::{Clock, SystemClock};

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

/// Returns an answer's `Date` header as Unix seconds.
pub(crate) fn date_of(response: &Response) -> Option<u64> {
    let text = response.headers().get(reqwest::header::DATE)?.to_str().ok()?;
    let time = httpdate::parse_http_date(text).ok()?;
    Some(time.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

/// The clock readings taken from the push servers' `Date` headers
/// ([`crate::clock::offset`]), waiting for the app to collect them
/// ([`PushBackend::take_clock_readings`](super::PushBackend::take_clock_readings)). Like the
/// signed request timestamps, it reads the system clock at this edge: the wall clock when a
/// request leaves, plus the monotonic time until its answer's headers are in (so a clock
/// set during the exchange does not distort it).
#[derive(Debug, Default)]
pub(crate) struct DateLog {
    readings: Mutex<Vec<Reading>>,
    /// When each server last gave a reading narrow enough to use (local Unix ms).
    last_usable: Mutex<HashMap<String, u64>>,
}

impl DateLog {
    /// Readings kept until collected (the newest).
    const KEEP: usize = 16;

    /// How often a long-polling client wants a usable reading from each server.
    pub(crate) const EVERY_MS: u64 = 3600 * 1000;

    /// Sends `request` to `server` and notes the answer's `Date` against our clock.
    pub(crate) fn send(&self, request: RequestBuilder, server: &str) -> reqwest::Result<Response> {
        let sent_ms = SystemClock.now_millis();
        let started = Instant::now();
        let response = request.send()?;
        let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Some(date) = date_of(&response) {
            let source = Source::PushServer(server.to_owned());
            self.note(Reading::from_http_date(source, sent_ms, sent_ms.saturating_add(took), date));
        }
        Ok(response)
    }

    fn note(&self, reading: Reading) {
        if reading.uncertainty_ms() <= MAX_UNCERTAINTY_MS {
            let mut usable = self.last_usable.lock().unwrap_or_else(PoisonError::into_inner);
            usable.insert(reading.source.server().to_owned(), reading.at_ms);
        }
        let mut readings = self.readings.lock().unwrap_or_else(PoisonError::into_inner);
        if readings.len() >= Self::KEEP {
            readings.remove(0);
        }
        readings.push(reading);
    }

    /// Takes the readings noted since the last call.
    pub(crate) fn take(&self) -> Vec<Reading> {
        std::mem::take(&mut *self.readings.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// True when `server` gave no usable reading in the last [`DateLog::EVERY_MS`] before
    /// `now_ms`: a long-polling client then polls once without being held (a held poll's
    /// answer may have been written at any moment of 25 s, which tells nothing).
    pub(crate) fn wants_reading(&self, server: &str, now_ms: u64) -> bool {
        let usable = self.last_usable.lock().unwrap_or_else(PoisonError::into_inner);
        usable.get(server).is_none_or(|at| now_ms.saturating_sub(*at) >= Self::EVERY_MS)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::net::TcpListener;
    use std::time::SystemTime;

    use super::*;

    /// An HTTP server on 127.0.0.1 that answers one request with a `Date` header 47 s behind
    /// the real clock, written at the moment it answers.
    fn server_47_seconds_behind() -> (String, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let thread = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            let date = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(47));
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nDate: {date}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            )
            .unwrap();
        });
        (url, thread)
    }

    #[test]
    fn an_answers_date_becomes_a_reading_that_holds_the_true_offset() {
        let (url, server) = server_47_seconds_behind();
        let log = DateLog::default();
        assert!(log.wants_reading("127.0.0.1", SystemClock.now_millis()), "none yet");
        install_crypto_provider();
        let client = http_client(true, Duration::from_secs(5)).unwrap();
        let response = log.send(client.get(&url), "127.0.0.1").unwrap();
        assert_eq!(response.status().as_u16(), 200);
        server.join().unwrap();
        let readings = log.take();
        assert_eq!(readings.len(), 1, "{readings:?}");
        let reading = &readings[0];
        assert_eq!(reading.source, Source::PushServer("127.0.0.1".into()));
        // The server's clock is exactly 47 s behind ours: the interval must hold 47 000 ms.
        assert!(reading.low_ms <= 47_000 && 47_000 <= reading.high_ms, "{reading:?}");
        assert!(reading.uncertainty_ms() < 1_500, "a loopback round trip: {reading:?}");
        assert!(log.take().is_empty(), "taken once");
        let now = SystemClock.now_millis();
        assert!(!log.wants_reading("127.0.0.1", now), "a usable reading was just taken");
        assert!(log.wants_reading("127.0.0.1", now + DateLog::EVERY_MS), "an hour later");
    }
}
