//! Built-in TLS (`tls_cert` / `tls_key`), for running exposed without a terminating proxy:
//! rustls on the aws-lc-rs provider (the one jsonwebtoken already links), TLS 1.2 and 1.3.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::aws_lc_rs;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read TLS {what} {path}: {error}")]
    Read { what: &'static str, path: String, error: std::io::Error },
    #[error("TLS certificate {path}: {message}")]
    Certificate { path: String, message: String },
    #[error("TLS key {path}: {message}")]
    Key { path: String, message: String },
    #[error("TLS certificate {cert} and key {key} cannot be used: {message}")]
    Config { cert: String, key: String, message: String },
}

/// A server configuration from a PEM certificate chain (leaf first) and a PEM private key
/// (PKCS#8, PKCS#1 RSA or SEC1 EC). The key must belong to the leaf certificate.
pub fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let chain = read_chain(cert)?;
    let private_key = read_key(key)?;
    let config_error = |message: String| TlsError::Config {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
        message,
    };
    ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| config_error(e.to_string()))
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        what,
        path: path.display().to_string(),
        error,
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read("certificate", path)?;
    let error =
        |message: String| TlsError::Certificate { path: path.display().to_string(), message };
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(format!("not a valid PEM file: {e}")))?;
    if chain.is_empty() {
        return Err(error("no CERTIFICATE block found (expected a PEM certificate chain)".into()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("key", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::Key {
        path: path.display().to_string(),
        message: format!("no usable private key (expected PEM PKCS#8, RSA or EC): {e}"),
    })
}

/// Makes aws-lc-rs the process's rustls provider, for clients that take the default (the webhook
/// sender: reqwest is built without a provider of its own). Installing twice is harmless.
pub fn install_default_provider() {
    let _ = aws_lc_rs::default_provider().install_default();
}
