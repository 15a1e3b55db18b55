//! Redirect URIs: Okta's callback URIs for an OIN app, and what we accept at registration.
//! Matching at /authorize is exact string equality against the registered list. Plain `http://`
//! is accepted only for loopback hosts (RFC 8252 §7.3, RFC 9700 §2.6): anywhere else the code
//! would cross the network in clear. Okta's one plain-http cell (`okta1.com:1802`) is added only
//! when the operator asks for it.

use url::Url;

/// The https callbacks Okta uses for an app named `app_name` in its admin consoles, and with
/// `plain_http` also the plain-http one of its `okta1.com:1802` cell.
pub fn okta_callbacks(app_name: &str, plain_http: bool) -> Vec<String> {
    let path = format!("/admin/app/cpc/{app_name}/oauth/callback");
    let mut uris = vec![
        format!("https://system-admin.okta.com{path}"),
        format!("https://system-admin.okta-emea.com{path}"),
        format!("https://system-admin.oktapreview.com{path}"),
        format!("https://system-admin.trexcloud.com{path}"),
    ];
    if plain_http {
        uris.push(format!("http://system-admin.okta1.com:1802{path}"));
    }
    uris
}

/// An Okta app name is a path segment: letters, digits, `_` and `-` only.
pub fn valid_app_name(app_name: &str) -> bool {
    !app_name.is_empty()
        && app_name.len() <= 100
        && app_name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Why a redirect URI cannot be registered; the message names the URI for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("{uri:?} is not an absolute URL: {reason}")]
    NotAbsolute { uri: String, reason: url::ParseError },
    #[error("{0:?}: only http and https redirect URIs are allowed")]
    Scheme(String),
    #[error(
        "{0:?}: plain http is allowed only for loopback hosts (localhost, 127.0.0.1, [::1]); use https"
    )]
    PlainHttp(String),
    #[error("{0:?}: the redirect URI needs a host")]
    NoHost(String),
    #[error("{0:?}: a redirect URI must not contain a fragment")]
    Fragment(String),
    #[error("{0:?}: a redirect URI must not contain credentials")]
    Credentials(String),
}

/// A redirect URI we are willing to register: absolute https (http for loopback only), with a
/// host, no fragment, no userinfo (RFC 6749 §3.1.2).
pub fn validate(uri: &str) -> Result<(), RedirectUriError> {
    let url = Url::parse(uri)
        .map_err(|reason| RedirectUriError::NotAbsolute { uri: uri.to_owned(), reason })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(RedirectUriError::Scheme(uri.to_owned()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(RedirectUriError::NoHost(uri.to_owned()));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(RedirectUriError::PlainHttp(uri.to_owned()));
    }
    if url.fragment().is_some() {
        return Err(RedirectUriError::Fragment(uri.to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectUriError::Credentials(uri.to_owned()));
    }
    Ok(())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okta_callbacks_cover_every_cell() {
        let uris = okta_callbacks("acme_scim", false);
        assert_eq!(uris.len(), 4);
        assert_eq!(uris[0], "https://system-admin.okta.com/admin/app/cpc/acme_scim/oauth/callback");
        assert!(uris.iter().all(|u| validate(u).is_ok()));
        let with_http = okta_callbacks("acme_scim", true);
        assert_eq!(
            with_http[4],
            "http://system-admin.okta1.com:1802/admin/app/cpc/acme_scim/oauth/callback"
        );
        assert!(validate(&with_http[4]).is_err(), "registered only as Okta's own, on request");
    }

    #[test]
    fn app_names_and_uris_are_checked() {
        assert!(valid_app_name("acme-scim_2"));
        assert!(!valid_app_name("acme/../x"));
        assert!(!valid_app_name(""));
        for bad in ["/relative", "ftp://x/y", "https://x/y#frag", "https://u:p@x/y", "not a url"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
        for loopback in ["http://127.0.0.1:9999/cb", "http://localhost/cb", "http://[::1]:8/cb"] {
            assert!(validate(loopback).is_ok(), "{loopback}");
        }
        for remote in ["http://idp.example/cb", "http://10.0.0.1/cb", "http://127.example/cb"] {
            assert_eq!(validate(remote), Err(RedirectUriError::PlainHttp(remote.to_owned())));
        }
    }

    #[test]
    fn refusals_name_the_uri() {
        let cases = [
            ("/relative", "\"/relative\" is not an absolute URL: relative URL without a base"),
            ("ftp://x/y", "\"ftp://x/y\": only http and https redirect URIs are allowed"),
            (
                "https://x/y#frag",
                "\"https://x/y#frag\": a redirect URI must not contain a fragment",
            ),
            ("https://u:p@x/y", "\"https://u:p@x/y\": a redirect URI must not contain credentials"),
        ];
        for (uri, message) in cases {
            assert_eq!(validate(uri).map_err(|e| e.to_string()), Err(message.to_owned()), "{uri}");
        }
    }
}
