//! What a trusted proxy tells us about the original request: the client's address, the scheme
//! and the host. `Forwarded` (RFC 7239) and `X-Forwarded-*` are ordinary headers that any client
//! can send, so they are read only when the connection comes from a `trusted_proxies` address.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderMap};

use crate::cidr::Cidr;

/// The original request as the proxies describe it. Fields are `None` when not forwarded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub client: Option<IpAddr>,
    pub proto: Option<String>,
    pub host: Option<String>,
}

/// One hop of a `Forwarded` header (or an `X-Forwarded-For` entry): the address the proxy saw
/// the request come from, and the scheme and host it received.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Hop {
    /// `None` for `unknown` and obfuscated identifiers (`_hidden`).
    from: Option<IpAddr>,
    proto: Option<String>,
    host: Option<String>,
}

/// What the proxies say, if the peer is one of `trusted`; `None` for every other peer.
pub fn from_request(req: &HttpRequest, trusted: &[Cidr]) -> Option<Forwarded> {
    let peer = req.peer_addr()?.ip();
    is_trusted(peer, trusted).then(|| read(req.headers(), trusted))
}

fn is_trusted(ip: IpAddr, trusted: &[Cidr]) -> bool {
    trusted.iter().any(|net| net.contains(ip))
}

/// Reads the headers of a request that came from a trusted proxy. `Forwarded` wins over
/// `X-Forwarded-*` when both are present.
fn read(headers: &HeaderMap, trusted: &[Cidr]) -> Forwarded {
    let forwarded = all_values(headers, header::FORWARDED);
    if !forwarded.is_empty() {
        let hops: Vec<Hop> = forwarded.iter().map(|element| parse_element(element)).collect();
        let hop = origin_hop(&hops, trusted);
        return Forwarded { client: hop.from, proto: hop.proto.clone(), host: hop.host.clone() };
    }
    let hops: Vec<Hop> = all_values(headers, "x-forwarded-for")
        .iter()
        .map(|entry| Hop { from: parse_node(entry), ..Hop::default() })
        .collect();
    // X-Forwarded-Proto/-Host are usually set (not appended) by the proxy in front of us: take
    // the value nearest to us, the one our trusted peer wrote.
    let last = |name: &str| all_values(headers, name).pop().filter(|v| !v.is_empty());
    Forwarded {
        client: origin_hop(&hops, trusted).from,
        proto: last("x-forwarded-proto").map(|p| p.to_ascii_lowercase()),
        host: last("x-forwarded-host"),
    }
}

/// The hop that describes the original client. Walking from the nearest hop outwards, every
/// address that is itself a trusted proxy is skipped; the first one that is not is the client.
/// Earlier entries were written by whoever sent the request to that client's proxy, possibly the
/// client itself, so they prove nothing. An `unknown` hop ends the walk at the proxy before it.
fn origin_hop<'h>(hops: &'h [Hop], trusted: &[Cidr]) -> &'h Hop {
    static NONE: Hop = Hop { from: None, proto: None, host: None };
    let mut chosen = &NONE;
    for hop in hops.iter().rev() {
        match hop.from {
            Some(ip) if is_trusted(ip, trusted) => chosen = hop,
            Some(_) => return hop,
            None if chosen.from.is_some() => return chosen,
            None => return hop,
        }
    }
    chosen
}

/// Every comma-separated value of every instance of a header, trimmed, in order.
fn all_values(headers: &HeaderMap, name: impl header::AsHeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_owned())
        .collect()
}

/// One `Forwarded` element: `for=192.0.2.60;proto=https;host=example.com`.
fn parse_element(element: &str) -> Hop {
    let mut hop = Hop::default();
    for pair in element.split(';') {
        let Some((key, value)) = pair.split_once('=') else { continue };
        let value = value.trim().trim_matches('"');
        match key.trim().to_ascii_lowercase().as_str() {
            "for" => hop.from = parse_node(value),
            "proto" => hop.proto = Some(value.to_ascii_lowercase()),
            "host" => hop.host = Some(value.to_owned()),
            _ => {}
        }
    }
    hop
}

/// An address as proxies write it: `192.0.2.60`, `192.0.2.60:443`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:443`. `unknown` and `_obfuscated` give `None`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    node.parse::<IpAddr>()
        .or_else(|_| node.parse::<SocketAddr>().map(|a| a.ip()))
        .or_else(|_| node.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>())
        .ok()
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn nets(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn client(pairs: &[(&str, &str)], trusted: &[&str]) -> Option<String> {
        read(&headers(pairs), &nets(trusted)).client.map(|ip| ip.to_string())
    }

    #[test]
    fn x_forwarded_for_gives_the_rightmost_untrusted_address() {
        let trusted = ["10.0.0.0/8"];
        // A client-supplied entry on the left cannot win over what our proxy appended.
        let xff = [("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2")];
        assert_eq!(client(&xff, &trusted).as_deref(), Some("203.0.113.7"));
        assert_eq!(
            client(&[("x-forwarded-for", "203.0.113.7")], &trusted).as_deref(),
            Some("203.0.113.7")
        );
        // Several header instances form one list.
        let split = [("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.7, 10.1.1.1")];
        assert_eq!(client(&split, &trusted).as_deref(), Some("203.0.113.7"));
    }

    #[test]
    fn an_all_trusted_chain_gives_the_leftmost_address() {
        let xff = [("x-forwarded-for", "10.0.0.9, 10.0.0.2")];
        assert_eq!(client(&xff, &["10.0.0.0/8"]).as_deref(), Some("10.0.0.9"));
        // The deprecated "trust everyone": the first entry, as before.
        let xff = [("x-forwarded-for", "198.51.100.1, 203.0.113.7")];
        assert_eq!(client(&xff, &["0.0.0.0/0", "::/0"]).as_deref(), Some("198.51.100.1"));
    }

    #[test]
    fn ports_brackets_and_ipv6_are_understood() {
        let trusted = ["fd00::/8", "10.0.0.0/8"];
        let xff = [("x-forwarded-for", "[2001:db8::7]:4711, fd00::1")];
        assert_eq!(client(&xff, &trusted).as_deref(), Some("2001:db8::7"));
        let xff = [("x-forwarded-for", "203.0.113.7:5000")];
        assert_eq!(client(&xff, &trusted).as_deref(), Some("203.0.113.7"));
    }

    #[test]
    fn garbage_or_unknown_stops_at_the_last_trusted_hop() {
        let xff = [("x-forwarded-for", "203.0.113.7, not-an-ip, 10.0.0.2")];
        assert_eq!(client(&xff, &["10.0.0.0/8"]).as_deref(), Some("10.0.0.2"));
        assert_eq!(client(&[("x-forwarded-for", "unknown")], &["10.0.0.0/8"]), None);
        assert_eq!(client(&[], &["10.0.0.0/8"]), None);
    }

    #[test]
    fn forwarded_wins_and_its_client_hop_gives_proto_and_host() {
        let trusted = ["10.0.0.0/8"];
        let pairs = [
            (
                "forwarded",
                "for=6.6.6.6;proto=http, for=\"[2001:db8::7]:4711\";proto=https;host=scim.example.com",
            ),
            ("forwarded", "for=10.0.0.3;proto=http;host=internal"),
            ("x-forwarded-for", "198.51.100.1"),
            ("x-forwarded-proto", "http"),
        ];
        let f = read(&headers(&pairs), &nets(&trusted));
        assert_eq!(f.client, Some("2001:db8::7".parse().unwrap()));
        assert_eq!(f.proto.as_deref(), Some("https"));
        assert_eq!(f.host.as_deref(), Some("scim.example.com"));
        let f = read(&headers(&[("forwarded", "For=203.0.113.7;Proto=HTTPS")]), &nets(&trusted));
        assert_eq!(f.proto.as_deref(), Some("https"));
    }

    #[test]
    fn x_forwarded_proto_and_host_take_the_nearest_value() {
        let pairs =
            [("x-forwarded-proto", "http, HTTPS"), ("x-forwarded-host", "scim.example.com")];
        let f = read(&headers(&pairs), &nets(&["10.0.0.0/8"]));
        assert_eq!(f.proto.as_deref(), Some("https"));
        assert_eq!(f.host.as_deref(), Some("scim.example.com"));
        assert_eq!(f.client, None);
    }
}
