//! The client address of a request behind a reverse proxy.
//!
//! The per-address limits (enrolment attempts, connections per client) key on the client's
//! address. Behind a reverse proxy every request arrives from the proxy, so without more
//! every user would share the proxy's bucket. An operator names the proxies it runs
//! (`serve --trusted-proxy 127.0.0.1/32`, repeatable, or the config key `trusted_proxies`):
//! only when the connection comes from one of them is the client address read from the
//! header the proxy writes (`--client-address-header`: `x-forwarded-for`, the default, or
//! RFC 7239 `forwarded`), walking it from the right (the hop the proxy itself saw) past
//! further trusted proxies to the first address that is not one: the entries left of it
//! are whatever the client sent and are never believed. Anyone else's headers are ignored,
//! so a client connecting directly cannot pick its own bucket.
//!
//! Only the header the operator names is read: a proxy appends to its own header and
//! passes the other one through untouched, so reading both would let a client forge one.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Which request header a trusted proxy writes the client address into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx `$proxy_add_x_forwarded_for`,
    /// Caddy, HAProxy `option forwardfor`).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for="[2001:db8::1]:4711"`.
    Forwarded,
}

impl std::str::FromStr for ForwardedHeader {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            other => {
                Err(format!("unknown client address header {other:?} (x-forwarded-for, forwarded)"))
            }
        }
    }
}

/// The reverse proxies whose forwarded-for header is believed, and which header that is.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Trusts proxies in `nets` (none: every request's client is its connection's peer).
    pub fn new(nets: Vec<IpNet>, header: ForwardedHeader) -> Self {
        Self { nets, header }
    }

    /// Parses `ADDR` or `ADDR/PREFIX` (a single address is a /32 or /128).
    pub fn parse_net(text: &str) -> Result<IpNet, String> {
        let text = text.trim();
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("{text:?} is not an address or CIDR block (e.g. 10.0.0.5/32)"))
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The client address of a request that arrived from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops = match self.header {
            ForwardedHeader::XForwardedFor => x_forwarded_for(headers),
            ForwardedHeader::Forwarded => forwarded_for(headers),
        };
        // From the right: each trusted hop vouches for the one before it.
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) => {
                    client = ip.to_canonical();
                    if !self.trusts(client) {
                        return client;
                    }
                }
                // Not an address ("unknown", an obfuscated name, garbage): the last trusted
                // hop is all that is known.
                None => return client,
            }
        }
        client
    }
}

/// The hops of every `X-Forwarded-For` header, in order (`None`: not an address).
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| match value.to_str() {
            Ok(text) => text.split(',').map(|hop| node(hop.trim())).collect(),
            Err(_) => vec![None],
        })
        .collect()
}

/// The `for=` nodes of every `Forwarded` header element, in order (`None`: not an address,
/// or an element without `for`).
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all("forwarded") {
        let Ok(text) = value.to_str() else {
            hops.push(None);
            continue;
        };
        for element in split_unquoted(text, ',') {
            let node_of = split_unquoted(element, ';').into_iter().find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim().eq_ignore_ascii_case("for").then(|| value.trim())
            });
            hops.push(node_of.and_then(|v| node(v.trim_matches('"'))));
        }
    }
    hops
}

/// Splits `text` at `sep` outside double quotes (RFC 7239 values may be quoted strings).
fn split_unquoted(text: &str, sep: char) -> Vec<&str> {
    let (mut parts, mut start, mut quoted) = (Vec::new(), 0, false);
    for (i, c) in text.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

/// An address as proxies write it: `192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`, with or
/// without a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn node(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = text.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    text.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(nets: &[&str], header: ForwardedHeader) -> TrustedProxies {
        let nets = nets.iter().map(|n| TrustedProxies::parse_net(n).unwrap()).collect();
        TrustedProxies::new(nets, header)
    }

    #[test]
    fn headers_from_a_peer_that_is_not_a_trusted_proxy_are_ignored() {
        let none = TrustedProxies::default();
        let forged = headers("x-forwarded-for", &["198.51.100.7"]);
        assert_eq!(none.client(ip("127.0.0.1"), &forged), ip("127.0.0.1"));
        let other = proxies(&["10.0.0.5"], ForwardedHeader::XForwardedFor);
        assert_eq!(other.client(ip("192.0.2.9"), &forged), ip("192.0.2.9"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let p = proxies(&["127.0.0.1/32", "10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        // The client forged the first entry; the proxy appended what it saw.
        let h = headers("x-forwarded-for", &["6.6.6.6, 192.0.2.1", "10.1.2.3"]);
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("192.0.2.1"));
        assert_eq!(p.client(ip("::ffff:127.0.0.1"), &h), ip("192.0.2.1"), "IPv4-mapped peer");
        // No header from the proxy: the proxy itself.
        assert_eq!(p.client(ip("127.0.0.1"), &HeaderMap::new()), ip("127.0.0.1"));
        // Garbage right of the client's entry stops the walk at the last trusted hop.
        let h = headers("x-forwarded-for", &["192.0.2.1, nonsense"]);
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        let h = headers("x-forwarded-for", &["[2001:db8::7]:443"]);
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("2001:db8::7"));
    }

    #[test]
    fn forwarded_is_read_only_when_named() {
        let h = headers(
            "forwarded",
            &["for=6.6.6.6;proto=https, for=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1"],
        );
        let p = proxies(&["127.0.0.1"], ForwardedHeader::Forwarded);
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("2001:db8:cafe::17"));
        let xff = proxies(&["127.0.0.1"], ForwardedHeader::XForwardedFor);
        assert_eq!(xff.client(ip("127.0.0.1"), &h), ip("127.0.0.1"), "not the header named");
        let unknown = headers("forwarded", &["for=192.0.2.1, for=unknown"]);
        assert_eq!(p.client(ip("127.0.0.1"), &unknown), ip("127.0.0.1"));
        assert!(TrustedProxies::parse_net("10.0.0.0/33").is_err());
        assert!("via".parse::<ForwardedHeader>().is_err());
    }
}
