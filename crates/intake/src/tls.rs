//! Loading the server certificate and key into a rustls configuration.
//!
//! The ring provider is named explicitly instead of relying on a process-wide default:
//! the project cross-compiles, and ring builds everywhere aws-lc may not.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "cannot read certificates from {path}: {detail} (expected a PEM file with the server certificate first, then its chain)"
    )]
    Certs { path: PathBuf, detail: String },
    #[error("{path} holds no certificate: expected `-----BEGIN CERTIFICATE-----` blocks")]
    NoCerts { path: PathBuf },
    #[error(
        "cannot read a private key from {path}: {detail} (expected a PEM PKCS#8, PKCS#1 or SEC1 key)"
    )]
    Key { path: PathBuf, detail: String },
    #[error("the certificate and key cannot be used together: {0}")]
    Config(#[from] rustls::Error),
}

/// Builds the TLS configuration from PEM files: `cert` holds the leaf then any
/// intermediates, `key` its private key.
pub fn load_server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Certs {
            path: cert.to_path_buf(),
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCerts {
            path: cert.to_path_buf(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_path_buf(),
        detail: e.to_string(),
    })?;

    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
    // The server speaks HTTP/1.1 only (tus needs nothing more), so say so in ALPN.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
