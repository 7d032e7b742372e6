//! A time server for tests: SNTP (RFC 4330 §4-5) on a UDP socket on 127.0.0.1, answering
//! with a chosen skew, written here so the clock check is tested against a real exchange.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Seconds between the NTP era (1900) and the Unix epoch.
const NTP_UNIX: u64 = 2_208_988_800;

/// What the server's clock reads.
#[derive(Debug, Clone, Copy)]
pub enum Skew {
    /// The client's own transmit time plus this many ms: exact offsets for a client whose
    /// clock stands still (the GUI tests' fake clock).
    FromClient(i64),
    /// The real system time plus this many ms (the CLI, on the real clock).
    FromSystem(i64),
}

/// A running responder; stops when dropped.
pub struct Responder {
    pub addr: String,
    stop: Arc<AtomicBool>,
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn to_ntp(unix_ms: i64) -> u64 {
    let ms = u64::try_from(unix_ms).unwrap() + NTP_UNIX * 1000;
    ((ms / 1000) << 32) | (((ms % 1000) << 32) / 1000)
}

fn to_unix_ms(ntp: u64) -> i64 {
    let secs = (ntp >> 32) - NTP_UNIX;
    i64::try_from(secs * 1000 + (((ntp & 0xffff_ffff) * 1000) >> 32)).unwrap()
}

impl Responder {
    /// Starts answering every request with a server clock skewed as `skew` says.
    pub fn start(skew: Skew) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let addr = socket.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let running = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !running.load(Ordering::SeqCst) {
                let mut request = [0u8; 48];
                let Ok((48, from)) = socket.recv_from(&mut request) else { continue };
                let client_tx = u64::from_be_bytes(request[40..48].try_into().unwrap());
                let server_ms = match skew {
                    Skew::FromClient(ms) => to_unix_ms(client_tx) + ms,
                    Skew::FromSystem(ms) => {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap();
                        i64::try_from(now.as_millis()).unwrap() + ms
                    }
                };
                let now = to_ntp(server_ms).to_be_bytes();
                let mut reply = [0u8; 48];
                // LI 0, version 4, mode 4 (server), stratum 2, precision 2^-20.
                reply[0] = (4 << 3) | 4;
                reply[1] = 2;
                reply[3] = 0xec;
                reply[12..16].copy_from_slice(&[127, 0, 0, 1]);
                reply[16..24].copy_from_slice(&to_ntp(server_ms - 60_000).to_be_bytes());
                reply[24..32].copy_from_slice(&client_tx.to_be_bytes());
                reply[32..40].copy_from_slice(&now);
                reply[40..48].copy_from_slice(&now);
                let _ = socket.send_to(&reply, from);
            }
        });
        Self { addr, stop }
    }
}
