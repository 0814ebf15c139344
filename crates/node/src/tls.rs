//! TLS configuration for SIP over TLS (RFC 3261 §26.2, `sips:`): rustls with the ring
//! provider, certificates from PEM files or a generated self-signed one.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// A server configuration from a PEM certificate chain and a PEM private key.
pub fn server_config_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> io::Result<Arc<rustls::ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut &cert_pem[..]).collect::<Result<_, _>>()?;
    if certs.is_empty() {
        return Err(invalid("no CERTIFICATE block in the certificate file"));
    }
    let key = rustls_pemfile::private_key(&mut &key_pem[..])?
        .ok_or_else(|| invalid("no private key block in the key file"))?;
    server_config(certs, key)
}

/// A server configuration from a PEM certificate chain file and a PEM private key file.
pub fn load_server_config(cert: &Path, key: &Path) -> io::Result<Arc<rustls::ServerConfig>> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
    };
    server_config_from_pem(&read(cert)?, &read(key)?)
}

fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> io::Result<Arc<rustls::ServerConfig>> {
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(invalid)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(invalid)?;
    Ok(Arc::new(cfg))
}

/// A self-signed certificate for `names` (DNS names or IP addresses): the server
/// configuration that presents it, and the certificate (DER) for clients to trust.
pub fn self_signed(
    names: &[String],
) -> io::Result<(Arc<rustls::ServerConfig>, CertificateDer<'static>)> {
    let ck = rcgen::generate_simple_self_signed(names.to_vec()).map_err(invalid)?;
    let cert = ck.cert.der().clone();
    let key = PrivateKeyDer::try_from(ck.signing_key.serialize_der()).map_err(invalid)?;
    Ok((server_config(vec![cert.clone()], key)?, cert))
}

/// A client configuration that trusts exactly `roots` (a private CA or self-signed peers).
pub fn client_config_trusting(
    roots: &[CertificateDer<'static>],
) -> io::Result<Arc<rustls::ClientConfig>> {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).map_err(invalid)?;
    }
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(invalid)?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}
