//! Which addresses a web fetch may reach, and the name resolver that enforces it.
//!
//! Refusing private URLs by their text is not enough: a public-looking name can resolve to
//! 127.0.0.1 or 10.0.0.5 (or be switched to one between a check and the connect). So the
//! fetch client resolves names through [`PublicOnly`], which drops every non-public address
//! from the answer and fails when none is left; the HTTP client then connects to exactly
//! those addresses, for the first request and for every redirect hop alike. Literal
//! addresses in URLs are checked by [`is_private`] before any request.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Not on the public internet: loopback, private, link-local, carrier-grade NAT,
/// unspecified, broadcast, multicast, documentation and benchmarking ranges, reserved
/// (240/4); IPv6 loopback, unique-local, link-local, multicast and documentation ranges, the
/// whole of `::/96` and NAT64's `64:ff9b::/96`, and IPv4-mapped addresses by the address
/// they carry.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT (and Tailscale).
        || (a == 100 && (b & 0xC0) == 64)
        // 192.0.0.0/24, protocol assignments.
        || (a == 192 && b == 0 && c == 0)
        // 198.18.0.0/15, benchmarking.
        || (a == 198 && (b & 0xFE) == 18)
        // 240.0.0.0/4, reserved.
        || a >= 240
}

fn is_private_v6(v6: Ipv6Addr) -> bool {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_private_v4(v4);
    }
    let s = v6.segments();
    // ::/96: unspecified, loopback and the deprecated IPv4-compatible form.
    s[..6] == [0; 6]
        // 64:ff9b::/96, NAT64: reaches whatever IPv4 address it carries.
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
        || v6.is_unique_local()
        || v6.is_unicast_link_local()
        || v6.is_multicast()
        // 2001:db8::/32, documentation.
        || (s[0] == 0x2001 && s[1] == 0x0db8)
}

/// Looks a host name up: the addresses it has (any port; the client sets its own).
pub type Lookup = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>
        + Send
        + Sync,
>;

/// The system's resolver.
pub fn system_lookup() -> Lookup {
    Arc::new(|host: String| {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.collect()) })
    })
}

/// A name that has no public address: the fetch is refused, whatever the URL looked like.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to private or local addresses")]
pub struct PrivateName {
    pub host: String,
}

/// A resolver that answers only with public addresses (see the module docs).
pub struct PublicOnly {
    lookup: Lookup,
}

impl PublicOnly {
    pub fn new(lookup: Lookup) -> Self {
        PublicOnly { lookup }
    }
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let lookup = (self.lookup)(host.clone());
        Box::pin(async move {
            let public: Vec<SocketAddr> = lookup
                .await?
                .into_iter()
                .filter(|a| !is_private(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(
                    Box::new(PrivateName { host }) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_ranges_are_refused_and_public_ones_pass() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "192.0.0.8",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::10.0.0.1",
            "::8.8.8.8",
            "64:ff9b::7f00:1",
            "64:ff9b::808:808",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(is_private(ip(s)), "{s}");
        }
        for s in ["8.8.8.8", "93.184.216.34", "198.20.0.1", "2606:4700::1111"] {
            assert!(!is_private(ip(s)), "{s}");
        }
    }

    fn fixed(answer: Vec<&'static str>) -> Lookup {
        Arc::new(move |_host: String| {
            let addrs: Vec<SocketAddr> = answer.iter().map(|a| a.parse().unwrap()).collect();
            Box::pin(async move { Ok(addrs) })
        })
    }

    #[tokio::test]
    async fn names_keep_only_their_public_addresses() {
        let name: Name = "evil.example".parse().unwrap();
        let refused = PublicOnly::new(fixed(vec!["127.0.0.1:0", "10.0.0.5:0"]))
            .resolve(name)
            .await
            .err()
            .expect("a name with only private addresses is refused");
        assert!(refused.to_string().contains("evil.example"), "{refused}");
        let name: Name = "mixed.example".parse().unwrap();
        let kept: Vec<SocketAddr> = PublicOnly::new(fixed(vec!["10.0.0.5:0", "93.184.216.34:0"]))
            .resolve(name)
            .await
            .unwrap()
            .collect();
        assert_eq!(kept, ["93.184.216.34:0".parse::<SocketAddr>().unwrap()]);
    }
}
