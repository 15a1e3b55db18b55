//! Redirect URIs: Okta's five callback URIs for an OIN app, and what we accept at registration.
//! Matching at /authorize is exact string equality against the registered list.

use url::Url;

/// The callbacks Okta uses for an app named `app_name` in its admin consoles.
pub fn okta_callbacks(app_name: &str) -> Vec<String> {
    let path = format!("/admin/app/cpc/{app_name}/oauth/callback");
    vec![
        format!("https://system-admin.okta.com{path}"),
        format!("https://system-admin.okta-emea.com{path}"),
        format!("https://system-admin.oktapreview.com{path}"),
        format!("https://system-admin.trexcloud.com{path}"),
        format!("http://system-admin.okta1.com:1802{path}"),
    ]
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
    #[error("{0:?}: the redirect URI needs a host")]
    NoHost(String),
    #[error("{0:?}: a redirect URI must not contain a fragment")]
    Fragment(String),
    #[error("{0:?}: a redirect URI must not contain credentials")]
    Credentials(String),
}

/// A redirect URI we are willing to register: absolute http(s), with a host, no fragment, no
/// userinfo (RFC 6749 §3.1.2).
pub fn validate(uri: &str) -> Result<(), RedirectUriError> {
    let url = Url::parse(uri)
        .map_err(|reason| RedirectUriError::NotAbsolute { uri: uri.to_owned(), reason })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(RedirectUriError::Scheme(uri.to_owned()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(RedirectUriError::NoHost(uri.to_owned()));
    }
    if url.fragment().is_some() {
        return Err(RedirectUriError::Fragment(uri.to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectUriError::Credentials(uri.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okta_callbacks_cover_every_cell() {
        let uris = okta_callbacks("acme_scim");
        assert_eq!(uris.len(), 5);
        assert_eq!(uris[0], "https://system-admin.okta.com/admin/app/cpc/acme_scim/oauth/callback");
        assert_eq!(
            uris[4],
            "http://system-admin.okta1.com:1802/admin/app/cpc/acme_scim/oauth/callback"
        );
        assert!(uris.iter().all(|u| validate(u).is_ok()));
    }

    #[test]
    fn app_names_and_uris_are_checked() {
        assert!(valid_app_name("acme-scim_2"));
        assert!(!valid_app_name("acme/../x"));
        assert!(!valid_app_name(""));
        for bad in ["/relative", "ftp://x/y", "https://x/y#frag", "https://u:p@x/y", "not a url"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
        assert!(validate("http://127.0.0.1:9999/cb").is_ok());
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
