//! Which network addresses the analyzer may reach.
//!
//! Sources are typed by users (and, for registry entries, written by strangers), so a URL could
//! point at the machine itself, its cloud metadata service (`169.254.169.254`) or the
//! operator's private network. Unless `Analyzer::allow_private_network` is set, every host is
//! resolved and refused when it has a non-public address: loopback, private (RFC 1918),
//! carrier-grade NAT, link-local, unique-local (`fc00::/7`), multicast, unspecified,
//! documentation and reserved ranges, and IPv6 forms that embed such an IPv4 address.
//!
//! HTTP downloads check the addresses inside the connection's own resolver (see `http.rs`), so
//! a second DNS answer cannot differ from the checked one. git is a separate program: its host
//! is checked here just before git runs, and for HTTP(S) the checked address is pinned with
//! `http.curloptResolve`; ssh and `git://` hosts are checked but not pinned (see SPEC.md).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::AnalyzeError;

/// Whether an address is on the public internet (also used by the server to vet the hosts of
/// OAuth client metadata documents).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Carrier-grade NAT (100.64.0.0/10).
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments (192.0.0.0/24).
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking (198.18.0.0/15).
        || (a == 198 && (b == 18 || b == 19))
        // Reserved (240.0.0.0/4).
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local (fc00::/7).
        || (first & 0xfe00) == 0xfc00
        // Link-local (fe80::/10) and the deprecated site-local (fec0::/10).
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // Documentation (2001:db8::/32).
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`),
/// NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) address: they reach that IPv4 host.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !(s[6] == 0 && s[7] <= 1) {
        return Some(tail(s[6], s[7]));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(tail(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(tail(s[1], s[2]));
    }
    None
}

/// The addresses of `host` that may be used: all of them when private networks are allowed,
/// else the public ones, or an error naming what was refused.
pub(crate) fn filter(
    host: &str,
    addresses: Vec<SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, AnalyzeError> {
    if allow_private {
        return Ok(addresses);
    }
    let (public, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addresses.into_iter().partition(|a| is_public(a.ip()));
    if public.is_empty() {
        let listed: Vec<String> = refused.iter().map(|a| a.ip().to_string()).collect();
        return Err(AnalyzeError::PrivateNetwork {
            host: host.to_string(),
            detail: if listed.is_empty() {
                "it has no address".into()
            } else {
                format!("it resolves to {}", listed.join(", "))
            },
        });
    }
    Ok(public)
}

/// Resolves `host` (a name or an IP literal, without brackets) and applies [`filter`].
pub(crate) async fn resolve_checked(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, AnalyzeError> {
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| AnalyzeError::Download {
                url: host.to_string(),
                detail: format!("cannot resolve the host name: {e}"),
            })?
            .collect(),
    };
    filter(host, addresses, allow_private)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "140.82.112.3",
            "2606:4700::1111",
            "2a00:1450::1",
        ];
        for ip in public {
            assert!(is_public(ip.parse().unwrap()), "{ip} is public");
        }
        let private = [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:0001::1",
            "2001:db8::1",
        ];
        for ip in private {
            assert!(!is_public(ip.parse().unwrap()), "{ip} is not public");
        }
    }

    #[test]
    fn filter_keeps_public_addresses_and_names_refused_ones() {
        let mixed = vec![
            "127.0.0.1:443".parse().unwrap(),
            "1.1.1.1:443".parse().unwrap(),
        ];
        let kept = filter("example", mixed.clone(), false).unwrap();
        assert_eq!(kept, vec!["1.1.1.1:443".parse().unwrap()]);
        assert_eq!(filter("example", mixed, true).unwrap().len(), 2);
        let error = filter("localhost", vec!["127.0.0.1:80".parse().unwrap()], false).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("localhost"), "{message}");
        assert!(message.contains("127.0.0.1"), "{message}");
    }
}
