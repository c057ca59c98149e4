//! The fake API server's TLS identity, made fresh at every start as an EKS cluster's is made at
//! creation: a `CN=kubernetes` CA and a server certificate it signs for the names a client
//! may use, served by rustls with the aws-lc-rs provider (the workspace's one provider).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// Names the server certificate covers: the loopback address the fake listens on and the
/// names the API server is known by inside a cluster.
const SERVER_NAMES: [&str; 4] = [
    "127.0.0.1",
    "localhost",
    "kubernetes",
    "kubernetes.default.svc",
];

/// Why the fake could not set up TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// Generating a key or certificate failed.
    #[error("cannot generate the fake API server's {what}")]
    Certificate {
        /// Which key or certificate.
        what: &'static str,
        #[source]
        source: rcgen::Error,
    },
    /// rustls refused the configuration.
    #[error("cannot configure TLS for the fake API server")]
    Config(#[from] rustls::Error),
}

/// The CA a client must trust and the server side of TLS.
pub(crate) struct ServerTls {
    pub(crate) ca_pem: String,
    config: Arc<ServerConfig>,
}

impl ServerTls {
    pub(crate) fn generate() -> Result<Self, TlsSetupError> {
        let failed = |what| move |source| TlsSetupError::Certificate { what, source };

        let ca_key = KeyPair::generate().map_err(failed("CA key"))?;
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name = common_name("kubernetes");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(failed("CA certificate"))?;
        let ca = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().map_err(failed("server key"))?;
        let mut server_params = CertificateParams::new(SERVER_NAMES.map(str::to_owned).to_vec())
            .map_err(failed("server certificate"))?;
        server_params.distinguished_name = common_name("kube-apiserver");
        server_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params
            .signed_by(&server_key, &ca)
            .map_err(failed("server certificate"))?;

        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        // Name the provider rather than rely on a process-wide default someone else installs.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![server_cert.der().clone()], key)?;
        // Clients offering h2 and http/1.1 (kubectl) settle on HTTP/1.1, the only one served.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];

        Ok(Self {
            ca_pem: ca_cert.pem(),
            config: Arc::new(config),
        })
    }

    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.config))
    }
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    #[test]
    fn ca_is_a_pem_certificate_and_differs_per_start() {
        let first = ServerTls::generate().unwrap();
        let second = ServerTls::generate().unwrap();
        assert!(first.ca_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(
            first
                .ca_pem
                .trim_end()
                .ends_with("-----END CERTIFICATE-----")
        );
        assert_ne!(first.ca_pem, second.ca_pem);
    }
}
