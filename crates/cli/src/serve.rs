//! `cpm serve`: opens the store in the data directory, binds the SIP endpoint (UDP and TCP
//! on one address, optionally TLS) and runs the SIP/IP Core role on it until Ctrl-C or
//! SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use cpm_node::sipcore::{CoreRole, CoreSettings};
use cpm_node::{Endpoint, EndpointConfig, Transport};
use tracing::{info, warn};

use crate::config::{self, SecretSource, SipSection};

/// Arguments of `cpm serve`. Each flag overrides the matching key of the `--config` file.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address for SIP over UDP and TCP (both bound on it), e.g. `0.0.0.0:5060` or
    /// `[::1]:5060` [config: sip.listen; default 127.0.0.1:5060].
    #[arg(long, value_name = "ADDR")]
    sip: Option<SocketAddr>,

    /// Address for SIP over TLS (`sips:`), e.g. `127.0.0.1:5061`. Without --cert/--key a
    /// self-signed certificate for the address is generated (for tests only) [config: sip.tls].
    #[arg(long, value_name = "ADDR")]
    tls: Option<SocketAddr>,

    /// PEM certificate chain for TLS [config: sip.cert].
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,

    /// PEM private key for TLS [config: sip.key].
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,

    /// Host written in Via sent-by instead of the bound IP (a DNS name or public address;
    /// needed when binding 0.0.0.0 or ::) [config: sip.advertise].
    #[arg(long, value_name = "HOST")]
    advertise: Option<String>,

    /// Seconds a TCP/TLS connection may stay without traffic before it is closed
    /// [config: sip.idle_timeout_secs; default 300].
    #[arg(long, value_name = "SECONDS")]
    idle_timeout: Option<u64>,

    /// A domain the core serves (repeatable). Replaces the default `localhost`; added after
    /// the file's core.domains when it has them.
    #[arg(long, value_name = "DOMAIN")]
    domain: Vec<String>,
}

pub(crate) fn run(
    args: ServeArgs,
    data: &Path,
    config_path: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    init_logging();
    let (sip, settings) = load_config(args, data, config_path)?;
    let store = cpm_store::open(&cpm_store::StoreConfig::Sqlite {
        data_dir: data.to_path_buf(),
    })
    .with_context(|| format!("cannot open the store in {}", data.display()))?;
    let role = CoreRole::new(settings, store);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(sip, role))?;
    Ok(ExitCode::SUCCESS)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// The endpoint and core settings: `--config` file (embedded defaults otherwise) with the
/// command-line flags on top; the shared secret from the file or `DATA/secret`.
fn load_config(
    args: ServeArgs,
    data: &Path,
    config_path: Option<&Path>,
) -> anyhow::Result<(SipSection, CoreSettings)> {
    let overrides = config::Overrides {
        domains: args.domain,
        sip: args.sip,
        tls: args.tls,
        cert: args.cert,
        key: args.key,
        advertise: args.advertise,
        idle_timeout_secs: args.idle_timeout,
    };
    let mut config = config::load(config_path, &overrides)?;
    match config.resolve_secret(data)? {
        SecretSource::Generated(p) => info!(path = %p.display(), "generated a new shared secret"),
        SecretSource::DataDir(p) => info!(path = %p.display(), "shared secret read"),
        SecretSource::File => info!("shared secret from the configuration file"),
    }
    let core = config.core_settings();
    info!(
        config = config_path.map_or("embedded defaults".into(), |p| p.display().to_string()),
        domains = ?core.domains,
        realm = %core.registrar.realm,
        triggers = core.triggers.len(),
        routes = core.routes.len(),
        trusted = core.trusted.len(),
        "configuration loaded"
    );
    Ok((config.file.sip, core))
}

async fn serve(sip: SipSection, role: CoreRole) -> anyhow::Result<()> {
    let advertise = sip.advertise.map(|a| a.into_inner());
    let mut config = EndpointConfig {
        udp: vec![sip.listen],
        tcp: vec![sip.listen],
        advertise: advertise.clone(),
        idle_timeout: Duration::from_secs((*sip.idle_timeout_secs.get_ref()).max(1)),
        ..EndpointConfig::default()
    };
    if let Some(tls) = sip.tls {
        let cert = sip.cert.map(|c| c.into_inner());
        let key = sip.key.map(|k| k.into_inner());
        let server = match (&cert, &key) {
            (Some(cert), Some(key)) => cpm_node::load_server_config(cert, key)
                .context("cannot load the TLS certificate and key")?,
            (None, None) => {
                let mut names = vec![tls.ip().to_string(), "localhost".to_string()];
                names.extend(advertise.clone());
                warn!(
                    ?names,
                    "no --cert/--key: using a generated self-signed certificate"
                );
                cpm_node::self_signed(&names)
                    .context("cannot generate a self-signed certificate")?
                    .0
            }
            _ => bail!("--cert and --key go together"),
        };
        config.tls = vec![tls];
        config.tls_server = Some(server);
    }
    let endpoint = Endpoint::start(config, role)
        .await
        .with_context(|| format!("cannot bind SIP on {}", sip.listen))?;
    for (t, addr) in endpoint.local_addrs() {
        info!(transport = %t, %addr, "listening");
    }
    if endpoint.local_addr(Transport::Tls).is_none() {
        info!("TLS disabled (use --tls ADDR)");
    }
    let signal = shutdown_signal().await?;
    info!(signal, "shutting down");
    endpoint.shutdown().await;
    info!("stopped");
    Ok(())
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM; returns which one arrived.
async fn shutdown_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => { r.context("cannot watch Ctrl-C")?; Ok("SIGINT") }
            _ = term.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot watch Ctrl-C")?;
        Ok("Ctrl-C")
    }
}
