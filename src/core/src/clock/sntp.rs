//! Asking a time server the user names what time it is: SNTP (RFC 4330) over UDP, one
//! request, blocking, with a timeout. Cargo feature `ntp`.
//!
//! The protocol is [`sntpc`] 0.11 with its `sync` feature (a one-task executor, no Tokio),
//! chosen over `rsntp` 4.1 on these grounds, checked in both crates' sources:
//! - sntpc takes the local timestamps from a trait we implement, so the local clock is our
//!   [`Clock`] (time stays a parameter: the tests run a fake clock against a local responder
//!   and get exact offsets); rsntp reads `SystemTime::now()` inside its exchange.
//! - sntpc sends and receives through a socket trait we implement over `std::net::UdpSocket`,
//!   so we choose the bind address, the timeout, and tell a timeout from other failures.
//! - Both check the answer as RFC 5905 §A.5.1.1 asks (origin timestamp, mode, stratum,
//!   Kiss-o'-Death, unsynchronised leap indicator); sntpc also the root distance.
//! - sntpc is MIT OR Apache-2.0, edition 2024, marked actively developed, and its only
//!   dependencies here are `cfg-if` and `miniloop`; rsntp's default features pull Tokio and
//!   chrono (its blocking client works without them).
//!
//! sntpc reports the offset the NTP way (server minus local, microseconds); a [`Reading`] is
//! local minus server, so the sign is turned here, and the round trip bounds the error.

use std::cell::Cell;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use sntpc::{NtpContext, NtpTimestampGenerator, NtpUdpSocket};

use super::Clock;
use super::offset::{Reading, Source};

/// The NTP port, used when the server is named without one.
pub const PORT: u16 = 123;

/// How long to wait for the answer by default.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Why a time server could not be asked. Messages name the server as the user typed it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SntpError {
    /// The name is empty or cannot be a host name or address.
    #[error("{0:?} is not a server name: give a host name or an address, optionally with :port")]
    BadName(String),
    /// The name does not resolve.
    #[error("cannot find the time server {server}: {detail}")]
    NotFound {
        /// The server as named.
        server: String,
        /// What the resolver said.
        detail: String,
    },
    /// No answer came in time.
    #[error("the time server {server} did not answer within {seconds} s")]
    Timeout {
        /// The server as named.
        server: String,
        /// The time waited.
        seconds: u64,
    },
    /// Sending or receiving failed.
    #[error("cannot reach the time server {server}: {detail}")]
    Unreachable {
        /// The server as named.
        server: String,
        /// The socket error.
        detail: String,
    },
    /// The answer is not a usable time (wrong origin, Kiss-o'-Death, unsynchronised ...).
    #[error("the time server {server} gave no usable time: {detail}")]
    BadAnswer {
        /// The server as named.
        server: String,
        /// What was wrong, in sntpc's words.
        detail: String,
    },
}

/// Splits "host", "host:port", "1.2.3.4:port", "::1" or "[::1]:port" into host and port.
fn host_and_port(server: &str) -> Option<(String, u16)> {
    let server = server.trim();
    if server.is_empty() || server.len() > 260 || server.chars().any(char::is_whitespace) {
        return None;
    }
    if let Ok(addr) = server.parse::<SocketAddr>() {
        return Some((addr.ip().to_string(), addr.port()));
    }
    if let Ok(ip) = server.parse::<std::net::IpAddr>() {
        return Some((ip.to_string(), PORT));
    }
    match server.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            let port = port.parse().ok().filter(|p| *p != 0)?;
            (!host.is_empty()).then(|| (host.to_owned(), port))
        }
        Some(_) => None,
        None => Some((server.to_owned(), PORT)),
    }
}

/// Asks `server` (as the user typed it: `pool.ntp.org`, `ntp.example:1123`, `[::1]:123`)
/// for the time, reading the local clock from `clock`, waiting at most `timeout` for the
/// answer. Resolves the name (blocking) and sends one request from an unbound port.
pub fn measure(server: &str, clock: &dyn Clock, timeout: Duration) -> Result<Reading, SntpError> {
    let named = server.trim().to_owned();
    let (host, port) = host_and_port(server).ok_or_else(|| SntpError::BadName(named.clone()))?;
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| SntpError::NotFound { server: named.clone(), detail: e.to_string() })?
        .next()
        .ok_or_else(|| SntpError::NotFound {
            server: named.clone(),
            detail: "no address".to_owned(),
        })?;
    let unreachable =
        |e: std::io::Error| SntpError::Unreachable { server: named.clone(), detail: e.to_string() };
    let bind: SocketAddr =
        if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let socket = UdpSocket::bind(bind).map_err(unreachable)?;
    socket.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))).map_err(unreachable)?;
    let socket = Socket { socket, failure: Cell::new(None) };
    let context = NtpContext::new(Stamps { clock, now_ms: 0 });
    let result = sntpc::sync::get_time(addr, &socket, context);
    let answer = match result {
        Ok(answer) => answer,
        Err(sntpc::Error::Network) => {
            let error = socket.failure.take();
            return Err(match error {
                // A read timeout is `WouldBlock` on Unix, `TimedOut` on Windows.
                Some(std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    SntpError::Timeout { server: named, seconds: timeout.as_secs().max(1) }
                }
                Some(kind) => unreachable(std::io::Error::from(kind)),
                None => unreachable(std::io::Error::other("the request was not sent whole")),
            });
        }
        Err(other) => {
            let detail = match other {
                sntpc::Error::KissOfDeath(_) => "it asks not to be asked (Kiss-o'-Death)".into(),
                sntpc::Error::UnsynchronizedClock => "its own clock is not synchronised".into(),
                sntpc::Error::IncorrectOriginTimestamp => {
                    "the answer is not for our request".into()
                }
                other => format!("{other:?}"),
            };
            return Err(SntpError::BadAnswer { server: named, detail });
        }
    };
    // Microseconds to milliseconds; sntpc's offset is server minus local.
    let offset_ms = -(answer.offset() / 1000);
    let round_trip_ms = answer.roundtrip().div_ceil(1000);
    Ok(Reading::from_sntp(Source::Ntp(named), clock.now_millis(), offset_ms, round_trip_ms))
}

/// The local timestamps sntpc asks for, from our clock (milliseconds are all it has).
#[derive(Clone, Copy)]
struct Stamps<'a> {
    clock: &'a dyn Clock,
    now_ms: u64,
}

impl NtpTimestampGenerator for Stamps<'_> {
    fn init(&mut self) {
        self.now_ms = self.clock.now_millis();
    }

    fn timestamp_sec(&self) -> u64 {
        self.now_ms / 1000
    }

    fn timestamp_subsec_micros(&self) -> u32 {
        // Below 1000 * 1000: fits.
        u32::try_from(self.now_ms % 1000 * 1000).unwrap_or(0)
    }

    fn precision(&self) -> i8 {
        // A millisecond is about 2^-10 s.
        -10
    }
}

/// A std UDP socket for sntpc; remembers why the last call failed (sntpc's own error only
/// says "network"), so that a timeout is told as one.
struct Socket {
    socket: UdpSocket,
    failure: Cell<Option<std::io::ErrorKind>>,
}

impl NtpUdpSocket for Socket {
    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> sntpc::Result<usize> {
        self.socket.send_to(buf, addr).map_err(|e| {
            self.failure.set(Some(e.kind()));
            sntpc::Error::Network
        })
    }

    async fn recv_from(&self, buf: &mut [u8]) -> sntpc::Result<(usize, SocketAddr)> {
        self.socket.recv_from(buf).map_err(|e| {
            self.failure.set(Some(e.kind()));
            sntpc::Error::Network
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, FixedClock, SystemClock};

    /// Seconds between the NTP era (1900) and the Unix epoch.
    const NTP_UNIX: u64 = 2_208_988_800;

    /// How the test's responder answers.
    #[derive(Clone, Copy)]
    enum Answer {
        /// The client's own transmit time plus `skew_ms` (exact with a fixed client clock).
        Skewed(i64),
        /// The real system time plus `skew_ms`.
        SystemPlus(i64),
        /// A Kiss-o'-Death "RATE" (stratum 0): the client must not use it.
        KissOfDeath,
        /// Another origin timestamp than the request's (a spoofed or stale answer).
        WrongOrigin,
    }

    fn ntp_time(unix_ms: i64) -> u64 {
        let ms = u64::try_from(unix_ms).unwrap() + NTP_UNIX * 1000;
        let (secs, frac_ms) = (ms / 1000, ms % 1000);
        (secs << 32) | ((frac_ms << 32) / 1000)
    }

    fn unix_ms(ntp: u64) -> i64 {
        let secs = (ntp >> 32) - NTP_UNIX;
        let ms = ((ntp & 0xffff_ffff) * 1000) >> 32;
        i64::try_from(secs * 1000 + ms).unwrap()
    }

    /// A local SNTP server on 127.0.0.1 (written here from RFC 4330 §4-5): answers `count`
    /// requests the way `answer` says, then ends.
    fn responder(answer: Answer, count: usize) -> (SocketAddr, std::thread::JoinHandle<()>) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            for _ in 0..count {
                let mut request = [0u8; 48];
                let (n, from) = socket.recv_from(&mut request).unwrap();
                assert_eq!(n, 48, "an SNTP request is 48 bytes");
                assert_eq!(request[0] & 0x7, 3, "client mode");
                let client_tx = u64::from_be_bytes(request[40..48].try_into().unwrap());
                let server_ms = match answer {
                    Answer::Skewed(skew) => unix_ms(client_tx) + skew,
                    Answer::SystemPlus(skew) => {
                        i64::try_from(SystemClock.now_millis()).unwrap() + skew
                    }
                    Answer::KissOfDeath | Answer::WrongOrigin => unix_ms(client_tx),
                };
                let mut reply = [0u8; 48];
                // LI 0, version 4, mode 4 (server); stratum 2 (0 is a Kiss-o'-Death).
                reply[0] = (4 << 3) | 4;
                reply[1] = if matches!(answer, Answer::KissOfDeath) { 0 } else { 2 };
                reply[3] = (-20i8).to_be_bytes()[0];
                reply[12..16].copy_from_slice(b"RATE");
                let now = ntp_time(server_ms);
                let origin =
                    if matches!(answer, Answer::WrongOrigin) { client_tx ^ 1 } else { client_tx };
                reply[16..24].copy_from_slice(&ntp_time(server_ms - 10_000).to_be_bytes());
                reply[24..32].copy_from_slice(&origin.to_be_bytes());
                reply[32..40].copy_from_slice(&now.to_be_bytes());
                reply[40..48].copy_from_slice(&now.to_be_bytes());
                socket.send_to(&reply, from).unwrap();
            }
        });
        (addr, thread)
    }

    /// 2026-12-06 14:00:00 UTC.
    const T: u64 = 1_796_565_600;

    #[test]
    fn a_server_47_seconds_behind_shows_the_clock_47_seconds_fast() {
        let (addr, server) = responder(Answer::Skewed(-47_000), 1);
        let reading = measure(&addr.to_string(), &FixedClock(T), TIMEOUT).unwrap();
        server.join().unwrap();
        assert_eq!(reading.source, Source::Ntp(addr.to_string()));
        assert_eq!(reading.offset_ms(), 47_000);
        assert!(reading.uncertainty_ms() <= 1, "{reading:?}");
        let estimate = reading.estimate();
        assert!(estimate.needs_warning());
        assert_eq!(estimate.corrected(T), T - 47);
        assert_eq!(estimate.measured_at, T);
    }

    #[test]
    fn a_server_ahead_shows_the_clock_slow_to_the_millisecond() {
        let (addr, server) = responder(Answer::Skewed(125_250), 1);
        let reading = measure(&addr.to_string(), &FixedClock(T), TIMEOUT).unwrap();
        server.join().unwrap();
        assert_eq!(reading.offset_ms(), -125_250);
        assert_eq!(reading.estimate().seconds(), -125);
    }

    #[test]
    fn against_the_real_clock_the_offset_is_within_the_round_trip() {
        let (addr, server) = responder(Answer::SystemPlus(-20_000), 1);
        let reading =
            measure(&format!("127.0.0.1:{}", addr.port()), &SystemClock, TIMEOUT).unwrap();
        server.join().unwrap();
        assert!(reading.low_ms <= 20_000 + 2 && 20_000 - 2 <= reading.high_ms, "{reading:?}");
        assert!(reading.uncertainty_ms() < 1000, "a loopback round trip is short: {reading:?}");
    }

    #[test]
    fn kiss_of_death_and_wrong_origins_are_refused() {
        let (addr, server) = responder(Answer::KissOfDeath, 1);
        let error = measure(&addr.to_string(), &FixedClock(T), TIMEOUT).unwrap_err();
        server.join().unwrap();
        assert!(
            matches!(&error, SntpError::BadAnswer { detail, .. } if detail.contains("Kiss-o'-Death")),
            "{error}"
        );
        let (addr, server) = responder(Answer::WrongOrigin, 1);
        let error = measure(&addr.to_string(), &FixedClock(T), TIMEOUT).unwrap_err();
        server.join().unwrap();
        assert!(
            matches!(&error, SntpError::BadAnswer { detail, .. } if detail.contains("not for our request")),
            "{error}"
        );
    }

    #[test]
    fn a_silent_server_times_out_with_a_clear_message() {
        // Bound but never answering.
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap().to_string();
        let error = measure(&addr, &FixedClock(T), Duration::from_millis(200)).unwrap_err();
        assert_eq!(error, SntpError::Timeout { server: addr.clone(), seconds: 1 });
        assert_eq!(error.to_string(), format!("the time server {addr} did not answer within 1 s"));
    }

    #[test]
    fn names_are_checked_before_anything_is_sent() {
        assert_eq!(host_and_port("pool.ntp.org"), Some(("pool.ntp.org".into(), 123)));
        assert_eq!(host_and_port(" ntp.example:1123 "), Some(("ntp.example".into(), 1123)));
        assert_eq!(host_and_port("[::1]:5123"), Some(("::1".into(), 5123)));
        assert_eq!(host_and_port("::1"), Some(("::1".into(), 123)));
        assert_eq!(host_and_port("10.0.0.1"), Some(("10.0.0.1".into(), 123)));
        for bad in
            ["", "  ", "ntp example", "ntp.example:", "ntp.example:0", "ntp.example:x", "a:b:c"]
        {
            assert_eq!(host_and_port(bad), None, "{bad:?}");
            assert!(matches!(measure(bad, &FixedClock(T), TIMEOUT), Err(SntpError::BadName(_))));
        }
    }
}
