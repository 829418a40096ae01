//! TLS for the mock server (`terminus serve --tls`) and the recorder (`terminus record`): a certificate authority
//! generated on first use, leaf certificates minted per host name, and client configurations that trust it.
//!
//! The authority lives in memory only: its private key is never written anywhere (only its certificate is, for
//! clients to trust: `--ca-out`), so a CA left behind on disk can never be used to intercept anything later. A
//! run that needs the same trust again passes the new certificate again; that is the price of never storing a
//! key that every HTTPS client trusting it would accept.
//!
//! Leaves are minted on the handshake from the name the client asked for (SNI), only for names the caller's
//! policy allows, and kept (up to [`MOST_LEAVES`]) for the next handshake. A client that sends no name (an IP
//! address as host) gets the loopback leaf: `localhost`, `127.0.0.1`, `::1`. Everything cryptographic is
//! rustls and rcgen (ring provider); nothing here parses or builds X.509 or TLS by hand.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::crypto::ring::sign::any_supported_type;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The most leaf certificates kept at once; past it the cache starts again (minting one costs about a
/// millisecond, so this bounds memory, not work).
pub const MOST_LEAVES: usize = 256;

/// The names of the loopback leaf, for clients that connect to an address or to `localhost`.
pub const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// rcgen refused to build or sign a certificate.
    #[error("cannot build a certificate for {what}: {source}")]
    Certificate {
        /// The certificate being built.
        what: String,
        /// rcgen's reason.
        source: rcgen::Error,
    },
    /// rustls refused the configuration or a key.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// A CA file could not be read or holds no certificate.
    #[error("{path}: {message}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Which host names a leaf may be minted for.
pub type NamePolicy = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// A certificate authority generated in memory, with the leaves it has minted.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    certificate: CertificateDer<'static>,
    pem: String,
    leaves: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The issuer holds the private key: never formatted.
        f.debug_struct("Authority")
            .field("certificate_bytes", &self.certificate.len())
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// Generates a new authority (an ECDSA P-256 key and a self-signed CA certificate, valid from now for a year:
    /// rcgen's default window starts in 1975, which some clients reject as suspicious).
    pub fn generate() -> Result<Arc<Self>, TlsError> {
        let what = || "the terminus CA".to_owned();
        let fail = |source| TlsError::Certificate {
            what: what(),
            source,
        };
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        let mut name = DistinguishedName::new();
        name.push(
            DnType::CommonName,
            "terminus recorder CA (generated, key never stored)",
        );
        name.push(DnType::OrganizationName, "terminus");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut params);
        let key = KeyPair::generate().map_err(fail)?;
        let certificate = params.self_signed(&key).map_err(fail)?;
        Ok(Arc::new(Self {
            pem: certificate.pem(),
            certificate: certificate.der().clone(),
            issuer: Issuer::new(params, key),
            leaves: Mutex::new(HashMap::new()),
        }))
    }

    /// The CA certificate in PEM, for clients to trust.
    pub fn certificate_pem(&self) -> &str {
        &self.pem
    }

    /// The CA certificate in DER.
    pub fn certificate_der(&self) -> &CertificateDer<'static> {
        &self.certificate
    }

    /// Writes the CA certificate (never the key) to `path` in PEM, whole and never through a planted link.
    pub fn write_certificate(&self, path: &Path) -> Result<(), crate::file::FileError> {
        crate::file::write_new(path, self.pem.as_bytes())
    }

    /// A leaf for `names` (DNS names or IP addresses), signed by this authority, with its key, ready for rustls.
    pub fn leaf(&self, names: &[&str]) -> Result<Arc<CertifiedKey>, TlsError> {
        let what = || format!("the leaf for {}", names.join(", "));
        let fail = |source| TlsError::Certificate {
            what: what(),
            source,
        };
        let mut params = CertificateParams::new(
            names
                .iter()
                .map(|name| (*name).to_owned())
                .collect::<Vec<_>>(),
        )
        .map_err(fail)?;
        let mut name = DistinguishedName::new();
        name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("terminus"),
        );
        params.distinguished_name = name;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params);
        let key = KeyPair::generate().map_err(fail)?;
        let certificate = params.signed_by(&key, &self.issuer).map_err(fail)?;
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = any_supported_type(&private)?;
        Ok(Arc::new(CertifiedKey::new(
            vec![certificate.der().clone(), self.certificate.clone()],
            signing,
        )))
    }

    /// The leaf for one name, minted once and kept.
    fn leaf_for(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let mut leaves = self.leaves.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(leaf) = leaves.get(name) {
            return Some(Arc::clone(leaf));
        }
        let leaf = if name == LOOPBACK_NAMES[0] {
            self.leaf(&LOOPBACK_NAMES).ok()?
        } else {
            self.leaf(&[name]).ok()?
        };
        if leaves.len() >= MOST_LEAVES {
            leaves.clear();
        }
        leaves.insert(name.to_owned(), Arc::clone(&leaf));
        Some(leaf)
    }

    /// A server configuration (HTTP/1.1 by ALPN) presenting a leaf per requested name that `policy` allows, and
    /// the loopback leaf to clients that send no name. A name the policy refuses fails the handshake.
    pub fn server_config(self: &Arc<Self>, policy: NamePolicy) -> Arc<rustls::ServerConfig> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Minter {
                authority: Arc::clone(self),
                policy,
            }));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// Not before: an hour ago (clock skew); not after: a year on.
fn validity(params: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(365);
}

/// Mints leaves on the handshake.
struct Minter {
    authority: Arc<Authority>,
    policy: NamePolicy,
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minter").finish_non_exhaustive()
    }
}

impl ResolvesServerCert for Minter {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match hello.server_name() {
            None => self.authority.leaf_for(LOOPBACK_NAMES[0]),
            Some(name) if name == LOOPBACK_NAMES[0] => self.authority.leaf_for(name),
            Some(name) if (self.policy)(name) => {
                self.authority.leaf_for(&name.to_ascii_lowercase())
            }
            Some(_) => None,
        }
    }
}

/// The crypto provider every configuration here uses.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate of a PEM file (a CA bundle or one CA certificate).
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    use rustls_pki_types::pem::PemObject as _;
    let fail = |message: String| TlsError::CaFile {
        path: path.display().to_string(),
        message,
    };
    // A CA bundle is a few hundred KiB at most (the public web roots are about 250 KiB).
    let bytes = crate::file::read(path, 16 * 1024 * 1024).map_err(|error| TlsError::CaFile {
        path: path.display().to_string(),
        message: error.to_string(),
    })?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| fail(format!("not PEM certificates: {error}")))?;
    if certificates.is_empty() {
        return Err(fail("holds no PEM certificate".into()));
    }
    Ok(certificates)
}

/// Which roots a client configuration trusts.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// The public web roots (Mozilla's, from `webpki-roots`): for the real providers.
    pub public_roots: bool,
    /// Extra certificates (a `--ca-cert` file, a generated authority).
    pub extra: Vec<CertificateDer<'static>>,
}

impl Trust {
    /// Trusts the public web roots only: a client of a real provider, or of a plain-HTTP server.
    pub fn public_roots() -> Self {
        Self {
            public_roots: true,
            extra: Vec::new(),
        }
    }

    /// Trusts only the certificates in `path` when given, else the public roots.
    pub fn from_ca_file(path: Option<&Path>) -> Result<Self, TlsError> {
        Ok(match path {
            Some(path) => Self {
                public_roots: false,
                extra: read_certificates(path)?,
            },
            None => Self::public_roots(),
        })
    }

    /// A client configuration (HTTP/1.1 by ALPN) trusting these roots.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        self.rustls_config().map(Arc::new)
    }

    /// The same configuration, owned: what [`http_client`] hands reqwest (which takes it by value).
    pub fn rustls_config(&self) -> Result<rustls::ClientConfig, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        if self.public_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for certificate in &self.extra {
            roots.add(certificate.clone())?;
        }
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// The one way terminus builds a reqwest client: over a rustls configuration of our own (ring provider, the
/// roots `trust` names), never reqwest's default, which with `rustls-no-provider` panics for want of a provider.
/// It also never takes a proxy from the environment and never follows a redirect: every caller talks to one
/// server it was told about and must see that server's own answer. Callers add their timeouts.
pub fn http_client(trust: &Trust) -> Result<reqwest::ClientBuilder, TlsError> {
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(trust.rustls_config()?)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none()))
}

/// Opens a TLS connection to `address`, checking the certificate against `server_name`.
pub async fn connect(
    address: std::net::SocketAddr,
    server_name: &str,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let name = rustls_pki_types::ServerName::try_from(server_name.to_owned()).map_err(|error| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{server_name:?} is not a TLS server name: {error}"),
        )
    })?;
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_trusting_the_authority_completes_a_handshake_for_an_allowed_name_only() {
        let authority = Authority::generate().unwrap();
        let policy: NamePolicy = Arc::new(|name: &str| name.ends_with(".tencentcloudapi.com"));
        let acceptor = tokio_rustls::TlsAcceptor::from(authority.server_config(policy));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for _ in 0..3 {
                let (stream, _) = listener.accept().await.unwrap();
                let _ = acceptor.accept(stream).await;
            }
        });
        let trust = Trust {
            public_roots: false,
            extra: vec![authority.certificate_der().clone()],
        };
        let config = trust.client_config().unwrap();
        let deadline = std::time::Duration::from_secs(10);
        let allowed = tokio::time::timeout(
            deadline,
            connect(address, "cvm.tencentcloudapi.com", Arc::clone(&config)),
        )
        .await
        .unwrap();
        assert!(allowed.is_ok(), "{allowed:?}");
        let loopback =
            tokio::time::timeout(deadline, connect(address, "127.0.0.1", Arc::clone(&config)))
                .await
                .unwrap();
        assert!(loopback.is_ok(), "{loopback:?}");
        let refused = tokio::time::timeout(deadline, connect(address, "example.com", config))
            .await
            .unwrap();
        assert!(
            refused.is_err(),
            "a name outside the policy must not get a leaf"
        );
        tokio::time::timeout(deadline, server)
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn the_authority_never_formats_its_key() {
        let authority = Authority::generate().unwrap();
        let shown = format!("{authority:?}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
        assert!(
            authority
                .certificate_pem()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
    }
}
