//! Outgoing HTTPS (webhooks, JWKS fetches): one reqwest on rustls with aws-lc-rs, the system's
//! CA bundle, and error text that never carries the URL.

/// A client error without the URL (it may carry a token in its query).
pub fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut message = kind.to_owned();
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    message
}

/// The system's CA certificates (`SSL_CERT_FILE`, or the usual bundle paths): reqwest is built
/// without a root store of its own.
pub fn system_roots() -> Vec<reqwest::Certificate> {
    let candidates = std::env::var("SSL_CERT_FILE").into_iter().chain(
        [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/cert.pem",
            "/etc/ssl/ca-bundle.pem",
        ]
        .into_iter()
        .map(str::to_owned),
    );
    for path in candidates {
        if let Ok(pem) = std::fs::read(&path)
            && let Ok(certs) = reqwest::Certificate::from_pem_bundle(&pem)
        {
            return certs;
        }
    }
    tracing::warn!("no CA bundle found: https webhooks will fail (set SSL_CERT_FILE)");
    Vec::new()
}
