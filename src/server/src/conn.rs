//! Connection admission: at most [`Limits::total`] open connections, and at most
//! [`Limits::per_client`] from one client address, so one client (or a flood of slow ones)
//! cannot take every socket and file descriptor the server has. A connection over a limit
//! is closed as soon as it is accepted, before it is read. Loopback `127.0.0.1` and `::1`
//! count only towards the total: a reverse proxy on the same machine connects from there on
//! behalf of every client (other `127.0.0.0/8` addresses are clients like any other). So do
//! the operator's trusted proxies ([`Gate::trusting`], `serve --trusted-proxy`), wherever
//! they run.
//!
//! [`CappedListener`] is the plain-TCP listener for `axum::serve`; the TLS listener admits
//! through the same [`Gate`] before its handshake.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most open connections in all.
    pub total: usize,
    /// Most open connections from one client address (IPv6: one /64).
    pub per_client: usize,
}

/// Counts open connections and admits new ones within [`Limits`].
#[derive(Debug, Clone)]
pub struct Gate(Arc<GateInner>);

#[derive(Debug)]
struct GateInner {
    limits: Limits,
    proxies: crate::proxy::TrustedProxies,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// The client key of an address: itself, or its /64 for IPv6; `None` for the proxy
/// addresses that count only towards the total.
fn client_of(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) if v4 == std::net::Ipv4Addr::LOCALHOST => None,
        IpAddr::V4(v4) => Some(IpAddr::V4(v4)),
        IpAddr::V6(v6) if v6.is_loopback() => None,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => client_of(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                Some(IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)))
            }
        },
    }
}

impl Gate {
    /// A gate with these limits.
    pub fn new(limits: Limits) -> Self {
        Self::trusting(limits, crate::proxy::TrustedProxies::default())
    }

    /// A gate with these limits under which `proxies` count only towards the total, as
    /// loopback does: they connect on behalf of many clients.
    pub fn trusting(limits: Limits, proxies: crate::proxy::TrustedProxies) -> Self {
        Self(Arc::new(GateInner { limits, proxies, open: Mutex::default() }))
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        self.0.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits a connection from `peer`, or `None` when a limit is reached.
    pub fn admit(&self, peer: IpAddr) -> Option<Ticket> {
        let client = if self.0.proxies.trusts(peer) { None } else { client_of(peer) };
        let mut open = self.open();
        if open.total >= self.0.limits.total {
            return None;
        }
        if let Some(client) = client {
            let n = open.per_client.entry(client).or_insert(0);
            if *n >= self.0.limits.per_client {
                return None;
            }
            *n += 1;
        }
        open.total += 1;
        Some(Ticket { gate: self.clone(), client })
    }
}

/// An admitted connection's place; given back when dropped.
#[derive(Debug)]
pub struct Ticket {
    gate: Gate,
    client: Option<IpAddr>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self.gate.open();
        open.total = open.total.saturating_sub(1);
        if let Some(client) = self.client
            && let Some(n) = open.per_client.get_mut(&client)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.per_client.remove(&client);
            }
        }
    }
}

/// A TCP stream holding its [`Ticket`].
#[derive(Debug)]
pub struct Admitted {
    stream: TcpStream,
    _ticket: Ticket,
}

impl Admitted {
    /// Admits `stream` from `peer` through `gate`; `None` (and the stream closed) over a limit.
    pub fn new(gate: &Gate, stream: TcpStream, peer: SocketAddr) -> Option<Self> {
        let ticket = gate.admit(peer.ip())?;
        // Long-poll answers are small and latency-bound: no Nagle delay.
        let _ = stream.set_nodelay(true);
        Some(Self { stream, _ticket: ticket })
    }
}

impl AsyncRead for Admitted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// A plain-TCP listener for `axum::serve` that admits connections through a [`Gate`].
#[derive(Debug)]
pub struct CappedListener {
    tcp: TcpListener,
    gate: Gate,
}

impl CappedListener {
    /// Listens on `tcp`, admitting through `gate`.
    pub fn new(tcp: TcpListener, gate: Gate) -> Self {
        Self { tcp, gate }
    }
}

impl Listener for CappedListener {
    type Io = Admitted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.tcp.accept().await {
                Ok((stream, peer)) => {
                    if let Some(io) = Admitted::new(&self.gate, stream, peer) {
                        return (io, peer);
                    }
                    // Over a limit: the stream is dropped (closed) unread.
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off, as axum does.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn connections_are_capped_per_client_and_in_all() {
        let gate = Gate::new(Limits { total: 5, per_client: 2 });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let b_same_64: IpAddr = "2001:db8::2".parse().unwrap();
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert!(gate.admit(a).is_none(), "per client");
        drop(first);
        let _third = gate.admit(a).unwrap();
        let _b = gate.admit(b).unwrap();
        let _b2 = gate.admit(b_same_64).unwrap();
        assert!(gate.admit(b).is_none(), "one /64 is one client");
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let _p = gate.admit(proxy).unwrap();
        assert!(gate.admit(proxy).is_none(), "the total still counts the proxy");
    }

    #[test]
    fn a_trusted_proxy_counts_only_towards_the_total() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let nets = vec![crate::proxy::TrustedProxies::parse_net("10.0.0.5").unwrap()];
        let proxies = crate::proxy::TrustedProxies::new(nets, Default::default());
        let gate = Gate::trusting(Limits { total: 3, per_client: 1 }, proxies);
        let _held: Vec<Ticket> = (0..3).map(|_| gate.admit(proxy).unwrap()).collect();
        assert!(gate.admit(proxy).is_none(), "the total");
        let plain = Gate::new(Limits { total: 3, per_client: 1 });
        let _one = plain.admit(proxy).unwrap();
        assert!(plain.admit(proxy).is_none(), "untrusted, it is one client");
    }
}
