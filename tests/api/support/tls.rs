//! Self-signed certificates for test servers with built-in TLS.

use std::path::PathBuf;

use scimd::config::Settings;

/// A self-signed certificate for `localhost` and 127.0.0.1, as PEM files removed afterwards.
pub struct CertFiles {
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    pub fn new() -> CertFiles {
        let dir = std::env::temp_dir().join(format!("scimd-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let generated =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, generated.cert.pem()).unwrap();
        std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
        CertFiles { dir, cert, key }
    }

    /// Points the server at these files.
    pub fn configure(&self, settings: &mut Settings) {
        settings.tls_cert = Some(self.cert.clone());
        settings.tls_key = Some(self.key.clone());
    }
}

impl Drop for CertFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
