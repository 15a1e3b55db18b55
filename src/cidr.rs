//! IP networks (`10.0.0.0/8`, `fd00::/8`, or a single address) for `trusted_proxies`: a dozen
//! lines of bit masking rather than another dependency.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address and how many of its leading bits a matching address must share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Every IPv4 and every IPv6 address: what the deprecated `trust_forwarded_headers` means.
    pub const ANY: [Cidr; 2] = [
        Cidr { network: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), prefix: 0 },
        Cidr { network: IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), prefix: 0 },
    ];

    /// True when `ip` lies in this network. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a
    /// dual-stack listener reports for IPv4 peers) match as the IPv4 address they carry.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask(32, self.prefix) as u32;
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask(128, self.prefix);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// True for `0.0.0.0/0` and `::/0`.
    pub fn is_everything(&self) -> bool {
        self.prefix == 0
    }
}

/// The top `prefix` bits of a `width`-bit number set.
fn mask(width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        (u128::MAX << (128 - u32::from(prefix))) >> (128 - u32::from(width))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an IP address or CIDR range (10.0.0.0/8, fd00::/8)")]
pub struct InvalidCidr(String);

impl FromStr for Cidr {
    type Err = InvalidCidr;

    fn from_str(text: &str) -> Result<Cidr, InvalidCidr> {
        let invalid = || InvalidCidr(text.to_owned());
        let trimmed = text.trim();
        let (addr, prefix) = match trimmed.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (trimmed, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| invalid())?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= width).ok_or_else(invalid)?
            }
            Some(_) => return Err(invalid()),
        };
        // `::ffff:10.0.0.0/104` is `10.0.0.0/8`, as peers are compared in their IPv4 form.
        match network.to_canonical() {
            IpAddr::V4(v4) if network.is_ipv6() => {
                let prefix = prefix.checked_sub(96).ok_or_else(invalid)?;
                Ok(Cidr { network: IpAddr::V4(v4), prefix })
            }
            _ => Ok(Cidr { network, prefix }),
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The network a per-address budget or lockout counts an address under: an IPv4 address as it
/// is, an IPv6 address as its /64 (`2001:db8:1:2::/64`). One subscriber or host is routinely
/// given a whole /64, so keying on the full address would let a client rotate through 2^64
/// addresses past every lockout. Text that is not an address is kept as it is.
pub fn throttle_key(address: &str) -> String {
    match address.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V6(ip)) => {
            let network = std::net::Ipv6Addr::from(u128::from(ip) & mask(128, 64));
            format!("{network}/64")
        }
        Ok(IpAddr::V4(ip)) => ip.to_string(),
        Err(_) => address.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_are_throttled_by_their_64() {
        assert_eq!(throttle_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(throttle_key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_eq!(throttle_key("2001:db8:1:3::1"), "2001:db8:1:3::/64");
        assert_eq!(throttle_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(throttle_key("::ffff:203.0.113.7"), "203.0.113.7");
    }

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_ranges_match_by_prefix() {
        let net = cidr("10.1.0.0/16");
        assert!(net.contains(ip("10.1.0.0")));
        assert!(net.contains(ip("10.1.255.255")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(!net.contains(ip("11.1.0.1")));
        assert!(cidr("192.168.1.7/31").contains(ip("192.168.1.6")));
        assert!(!cidr("192.168.1.7/31").contains(ip("192.168.1.8")));
        assert!(cidr("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!cidr("0.0.0.0/0").contains(ip("::1")));
    }

    #[test]
    fn a_bare_address_is_a_single_host() {
        assert_eq!(cidr("127.0.0.1"), cidr("127.0.0.1/32"));
        assert!(cidr("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!cidr("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(cidr("::1").contains(ip("::1")));
        assert!(!cidr("::1").contains(ip("::2")));
    }

    #[test]
    fn ipv6_ranges_match_by_prefix() {
        let net = cidr("2001:db8::/32");
        assert!(net.contains(ip("2001:db8::1")));
        assert!(net.contains(ip("2001:db8:ffff:ffff::1")));
        assert!(!net.contains(ip("2001:db9::1")));
        assert!(!net.contains(ip("10.0.0.1")));
        assert!(cidr("fd00::/8").contains(ip("fdab:cdef::1")));
        assert!(!cidr("fd00::/8").contains(ip("fe80::1")));
        assert!(cidr("::/0").contains(ip("2001:db8::1")));
        assert!(cidr("2001:db8::1/128").contains(ip("2001:db8::1")));
        assert!(cidr("2001:db8::/127").contains(ip("2001:db8::1")));
    }

    #[test]
    fn ipv4_mapped_addresses_match_as_ipv4() {
        assert!(cidr("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
        assert_eq!(cidr("::ffff:10.0.0.0/104"), cidr("10.0.0.0/8"));
        assert!(cidr("::ffff:10.0.0.0/104").contains(ip("10.1.2.3")));
        assert_eq!(cidr("::ffff:127.0.0.1"), cidr("127.0.0.1"));
    }

    #[test]
    fn malformed_ranges_are_refused() {
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "10.0.0/8",
            "host",
            "::ffff:10.0.0.0/95",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert_eq!(cidr(" 10.0.0.0/8 ").to_string(), "10.0.0.0/8");
    }
}
