//! Where webhooks may be sent: an endpoint URL is checked when it is created, and every address
//! its host resolves to is checked again at each delivery, so a name that later resolves to a
//! private, loopback or link-local address (DNS rebinding) is refused too. Pure.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the webhook URL is not a valid absolute URL")]
    Invalid,
    #[error("the webhook URL is longer than {MAX_URL_LEN} characters")]
    TooLong,
    #[error("the webhook URL must use https (http only with allow_private_webhook_targets = true)")]
    Scheme,
    #[error("the webhook URL must not carry a user name or password")]
    Credentials,
    #[error(
        "the webhook target {0} is a private, loopback, link-local or otherwise non-public \
         address (set allow_private_webhook_targets = true to allow it)"
    )]
    Private(IpAddr),
}

/// Checks an endpoint URL: absolute, bounded, https (or http when private targets are allowed),
/// no credentials, and no non-public IP literal.
pub fn check_url(text: &str, allow_private: bool) -> Result<Url, TargetError> {
    if text.len() > MAX_URL_LEN {
        return Err(TargetError::TooLong);
    }
    let url = Url::parse(text.trim()).map_err(|_| TargetError::Invalid)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(TargetError::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    let ip = match url.host() {
        None => return Err(TargetError::Invalid),
        Some(Host::Domain(_)) => None,
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
    };
    if let Some(ip) = ip {
        check_ip(ip, allow_private)?;
    }
    Ok(url)
}

/// Refuses a non-public address unless private targets are allowed.
pub fn check_ip(ip: IpAddr, allow_private: bool) -> Result<(), TargetError> {
    if allow_private || is_public(ip) { Ok(()) } else { Err(TargetError::Private(ip)) }
}

/// Whether an address is on the public internet: not unspecified, loopback, private, CGNAT,
/// link-local, multicast, broadcast, reserved, documentation or benchmarking, nor an IPv6 form
/// (mapped, compatible, NAT64) of such an IPv4 address, nor unique-local or site-local IPv6.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0 // "this network", unspecified
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0); // discard-only 100::/64
    !refused
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`, deprecated) or NAT64 (`64:ff9b::a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5].iter().all(|&x| x == 0) && s[5] == 0xffff;
    let compatible = s[..6].iter().all(|&x| x == 0) && !ip.is_loopback() && !ip.is_unspecified();
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0);
    (mapped || compatible || nat64).then_some(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_refused() {
        let refused = [
            "0.0.0.0",
            "127.0.0.1",
            "127.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
        ];
        for text in refused {
            let ip: IpAddr = text.parse().unwrap();
            assert!(!is_public(ip), "{text} must be refused");
            assert_eq!(check_ip(ip, false), Err(TargetError::Private(ip)));
            assert_eq!(check_ip(ip, true), Ok(()));
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        let allowed = [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
        ];
        for text in allowed {
            assert!(is_public(text.parse().unwrap()), "{text} must be allowed");
        }
    }

    #[test]
    fn urls_must_be_https_public_and_bounded() {
        assert!(check_url("https://hooks.example.com/scimd", false).is_ok());
        assert_eq!(check_url("http://hooks.example.com/", false), Err(TargetError::Scheme));
        assert!(check_url("http://hooks.example.com/", true).is_ok());
        assert_eq!(check_url("ftp://example.com/", true), Err(TargetError::Scheme));
        assert_eq!(check_url("not a url", false), Err(TargetError::Invalid));
        assert_eq!(check_url("https://u:p@example.com/", false), Err(TargetError::Credentials));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(check_url(&long, false), Err(TargetError::TooLong));
        assert!(matches!(
            check_url("https://127.0.0.1:8443/hook", false),
            Err(TargetError::Private(_))
        ));
        assert!(matches!(check_url("https://[::1]/hook", false), Err(TargetError::Private(_))));
        assert!(matches!(
            check_url("https://[::ffff:7f00:1]/hook", false),
            Err(TargetError::Private(_))
        ));
        assert!(check_url("http://127.0.0.1:9/hook", true).is_ok());
    }
}
