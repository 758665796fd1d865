//! TLS for chain RPC: rustls with the ring provider, handed to each connection (no process-wide
//! default, no OpenSSL). Trusted roots are the system's CA bundle, plus every certificate in
//! `SSL_CERT_FILE` and in the files an operator names with `--rpc-ca-cert` (a private CA, or the
//! test stand-in's).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::RpcError;

/// Where distributions keep the system's CA bundle (the first that exists is used).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Roots a client trusts, and where they came from (for the error when there are none).
pub struct TrustedRoots {
    pub store: RootCertStore,
    /// The system bundle used, if one was found.
    pub system_bundle: Option<PathBuf>,
}

/// The system bundle plus `SSL_CERT_FILE` plus `extra` (each file: one or more PEM certificates).
/// An unreadable or empty extra file is an error: an operator who names a CA expects it used.
pub fn trusted_roots(extra: &[PathBuf]) -> Result<TrustedRoots, RpcError> {
    let mut store = RootCertStore::empty();
    let system_bundle = SYSTEM_BUNDLES
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .map(Path::to_path_buf);
    if let Some(bundle) = &system_bundle {
        // A system bundle may hold a certificate rustls cannot use; the others still count.
        if let Ok(certs) = read_certs(bundle) {
            store.add_parsable_certificates(certs);
        }
    }
    let env_file = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    for path in env_file.iter().chain(extra) {
        let certs = read_certs(path)?;
        for cert in certs {
            store.add(cert).map_err(|e| RpcError::CaCert {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        }
    }
    Ok(TrustedRoots {
        store,
        system_bundle,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, RpcError> {
    let err = |reason: String| RpcError::CaCert {
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// A client config over `roots`, with ring as the crypto provider.
pub fn client_config(roots: RootCertStore) -> Result<rustls::ClientConfig, RpcError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RpcError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
