//! TLS for the server (feature `tls`): a certificate chain and its private key, read from PEM
//! files once at start-up, made into a rustls acceptor. A new certificate takes a restart.
//!
//! The crypto provider is named explicitly (`ring`) instead of taken from the process default,
//! so that a build that also links another provider (through some other dependency) does not
//! make rustls refuse to pick one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// What [`serve_tls`](crate::serve_tls) needs: the server's certificate chain and private key.
/// Cheap to clone.
#[derive(Clone)]
pub struct TlsConfig {
    acceptor: TlsAcceptor,
}

impl fmt::Debug for TlsConfig {
    /// Says nothing of the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

/// Why a certificate or key could not be used; each names the file it is about.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What reading it answered.
        source: std::io::Error,
    },
    /// The certificate file holds no `CERTIFICATE` PEM block, or a malformed one.
    #[error("{} holds no PEM certificate ({reason})", path.display())]
    Certificate {
        /// The certificate file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The key file holds no private key PEM block (PKCS#8, PKCS#1 or SEC1), or a malformed one.
    #[error("{} holds no PEM private key ({reason})", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the pair: an unsupported key type, or a key that does not belong to the
    /// certificate.
    #[error("{} and {} do not make a usable certificate and key: {reason}", cert.display(), key.display())]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        reason: String,
    },
}

impl TlsConfig {
    /// Reads the certificate chain (the server's certificate first, then its intermediates)
    /// from `cert` and the private key from `key`, both PEM. Serves TLS 1.2 and 1.3, HTTP/1.1.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.to_owned(),
                source,
            })
        };
        let cert_pem = read(cert)?;
        let key_pem = read(key)?;
        Self::build(&cert_pem, cert, &key_pem, key)
    }

    /// As [`TlsConfig::from_pem_files`], from PEM text held in memory; errors name the
    /// certificate `<certificate>` and the key `<key>`.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        Self::build(
            cert_pem,
            Path::new("<certificate>"),
            key_pem,
            Path::new("<key>"),
        )
    }

    fn build(
        cert_pem: &[u8],
        cert_path: &Path,
        key_pem: &[u8],
        key_path: &Path,
    ) -> Result<Self, TlsError> {
        let certificate = |reason: String| TlsError::Certificate {
            path: cert_path.to_owned(),
            reason,
        };
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, pem::Error>>()
            .map_err(|e| certificate(e.to_string()))?;
        if chain.is_empty() {
            return Err(certificate("no CERTIFICATE block".to_owned()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Key {
            path: key_path.to_owned(),
            reason: match e {
                pem::Error::NoItemsFound => {
                    "no private key block: PKCS#8, PKCS#1 or SEC1".to_owned()
                }
                other => other.to_string(),
            },
        })?;
        let pair = |e: rustls::Error| TlsError::Pair {
            cert: cert_path.to_owned(),
            key: key_path.to_owned(),
            reason: e.to_string(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(pair)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(pair)?;
        // The server speaks HTTP/1.1 only; saying so lets clients that offer h2 fall back.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}
