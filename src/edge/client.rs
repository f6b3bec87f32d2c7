//! Who the client is: the peer address, or, when the peer is a trusted proxy,
//! the nearest address in `X-Forwarded-For` (read from the right) that is
//! not one (docs/API.md, "At the edge"). Addresses to the left of the first untrusted
//! one are the client's own claims and are never believed.

use ipnet::IpNet;
use std::net::IpAddr;
use std::str::FromStr;

/// `WXAUTH_TRUSTED_PROXIES`' default: loopback and private ranges, as Rails'
/// `RemoteIp`, so a proxy in the same network works without setting it.
pub const DEFAULT_TRUSTED_PROXIES: &str =
    "127.0.0.0/8, ::1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7";

/// The most `X-Forwarded-For` entries looked at; a longer chain is a client
/// padding the header, and its leftmost entries are claims anyway.
const MAX_FORWARDED_HOPS: usize = 32;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts no proxy: the peer is always the client.
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`, given the request's `X-Forwarded-For`
    /// values in header order.
    pub fn client<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded.flat_map(|value| value.split(',')).collect();
        let mut client = peer;
        for hop in hops.iter().rev().take(MAX_FORWARDED_HOPS) {
            let Some(ip) = parse_hop(hop) else {
                // Garbage where an address should be: the proxy to its right
                // is the last address we can vouch for.
                return client;
            };
            client = ip;
            if !self.contains(ip) {
                return ip;
            }
        }
        client
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated addresses or CIDR blocks, or `none`.
    fn from_str(text: &str) -> Result<Self, String> {
        if text.trim().eq_ignore_ascii_case("none") {
            return Ok(Self::none());
        }
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!(
                            "{item:?} is not an IP address or CIDR block (such as 10.0.0.0/8 or ::1); use `none` to trust no proxy"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

/// An `X-Forwarded-For` entry: an IP address, maybe with a port or in
/// brackets (some proxies add them).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|addr| canonical(addr.ip()))
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, a dual-stack socket's view
/// of an IPv4 peer) as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn default() -> TrustedProxies {
        DEFAULT_TRUSTED_PROXIES.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let client = default().client(ip("203.0.113.7"), ["198.51.100.1"].into_iter());
        assert_eq!(client, ip("203.0.113.7"));
    }

    #[test]
    fn a_trusted_peer_names_the_nearest_untrusted_hop_from_the_right() {
        // The client claims 1.1.1.1; the internet address nginx saw is
        // 203.0.113.7; an inner proxy 10.0.0.5 forwarded to the peer.
        let client = default().client(
            ip("127.0.0.1"),
            ["1.1.1.1, 203.0.113.7", "10.0.0.5"].into_iter(),
        );
        assert_eq!(client, ip("203.0.113.7"));
    }

    #[test]
    fn a_trusted_peer_without_the_header_is_the_client() {
        assert_eq!(
            default().client(ip("10.1.2.3"), std::iter::empty()),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn with_none_trusted_the_header_is_ignored() {
        let none: TrustedProxies = "none".parse().unwrap();
        assert_eq!(
            none.client(ip("127.0.0.1"), ["203.0.113.7"].into_iter()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn garbage_in_the_chain_stops_at_the_last_trusted_hop() {
        let client = default().client(
            ip("127.0.0.1"),
            ["203.0.113.7, not-an-ip, 10.0.0.5"].into_iter(),
        );
        assert_eq!(client, ip("10.0.0.5"));
    }

    #[test]
    fn all_hops_trusted_gives_the_leftmost() {
        let client = default().client(ip("127.0.0.1"), ["10.0.0.9, 10.0.0.5"].into_iter());
        assert_eq!(client, ip("10.0.0.9"));
    }

    #[test]
    fn ports_brackets_and_mapped_addresses_are_understood() {
        let client = default().client(
            ip("::ffff:127.0.0.1"),
            ["[2001:db8::1]:4711, 192.168.1.1:80"].into_iter(),
        );
        assert_eq!(client, ip("2001:db8::1"));
    }

    #[test]
    fn custom_lists_parse_and_bad_entries_are_named() {
        let list: TrustedProxies = "10.1.0.0/16, 2001:db8::7".parse().unwrap();
        assert!(list.contains(ip("10.1.200.3")));
        assert!(!list.contains(ip("10.2.0.1")));
        assert!(list.contains(ip("2001:db8::7")));
        let error = "10.0.0.0/8, nginx".parse::<TrustedProxies>().unwrap_err();
        assert!(error.contains("\"nginx\""));
    }
}
