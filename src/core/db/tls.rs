//! TLS with rustls, following libpq's `sslmode`: which certificates are checked, and how.

use super::config::{DbConfig, RootCerts, SslMode};
use crate::core::error::{Error, ErrorCode, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How the server's certificate is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CertCheck {
    /// Encrypt, but accept any certificate (libpq's `prefer` and `require`).
    None,
    /// Check the chain, not the host name (`verify-ca`).
    Chain,
    /// Check the chain and the host name (`verify-full`).
    Full,
}

fn cert_check(cfg: &DbConfig) -> CertCheck {
    match cfg.sslmode {
        SslMode::Disable | SslMode::Prefer => CertCheck::None,
        // libpq: with a root certificate given, `require` behaves like `verify-ca`.
        SslMode::Require if cfg.sslrootcert.is_some() => CertCheck::Chain,
        SslMode::Require => CertCheck::None,
        SslMode::VerifyCa => CertCheck::Chain,
        SslMode::VerifyFull => CertCheck::Full,
    }
}

/// The TLS connector for these settings. Reads `sslrootcert` now, so a bad file fails before
/// any connection is tried.
pub fn make_connector(cfg: &DbConfig) -> Result<MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorCode::DbTls, format!("TLS setup failed: {e}")))?;
    let config = match cert_check(cfg) {
        CertCheck::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate { provider }))
            .with_no_client_auth(),
        check => {
            let roots = Arc::new(load_roots(
                cfg.sslrootcert.as_ref().unwrap_or(&RootCerts::System),
            )?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| Error::new(ErrorCode::DbTls, format!("TLS setup failed: {e}")))?;
            if check == CertCheck::Full {
                builder.with_webpki_verifier(webpki).with_no_client_auth()
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly { inner: webpki }))
                    .with_no_client_auth()
            }
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

fn load_roots(source: &RootCerts) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match source {
        RootCerts::File(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                Error::invalid_config(format!("cannot read sslrootcert {}: {e}", path.display()))
            })?;
            let mut any = false;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(|e| {
                    Error::invalid_config(format!(
                        "sslrootcert {} is not valid PEM: {e}",
                        path.display()
                    ))
                })?;
                store.add(cert).map_err(|e| {
                    Error::invalid_config(format!(
                        "sslrootcert {} holds a certificate rustls rejects: {e}",
                        path.display()
                    ))
                })?;
                any = true;
            }
            if !any {
                return Err(Error::invalid_config(format!(
                    "sslrootcert {} holds no PEM certificate",
                    path.display()
                )));
            }
        }
        RootCerts::System => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = store.add(cert);
            }
            if store.is_empty() {
                return Err(Error::new(
                    ErrorCode::DbTls,
                    "sslmode verify-ca/verify-full needs trusted roots: no system certificates were found; set sslrootcert",
                ));
            }
        }
    }
    Ok(store)
}

/// Accepts any certificate while still checking the handshake signatures, like libpq's
/// `sslmode=require`: the link is encrypted, the peer is not authenticated.
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the host name is not compared.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
