//! `cpm serve`: binds the SIP endpoint (UDP and TCP on one address, optionally TLS) and
//! answers with [`BasicUas`] until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use cpm_node::uas::BasicUas;
use cpm_node::{Endpoint, EndpointConfig, Transport};
use tracing::{info, warn};

/// Arguments of `cpm serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address for SIP over UDP and TCP (both bound on it), e.g. `0.0.0.0:5060` or
    /// `[::1]:5060`.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5060")]
    sip: SocketAddr,

    /// Address for SIP over TLS (`sips:`), e.g. `127.0.0.1:5061`. Without --cert/--key a
    /// self-signed certificate for the address is generated (for tests only).
    #[arg(long, value_name = "ADDR")]
    tls: Option<SocketAddr>,

    /// PEM certificate chain for --tls.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "key"])]
    cert: Option<PathBuf>,

    /// PEM private key for --tls.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "cert"])]
    key: Option<PathBuf>,

    /// Host written in Via sent-by instead of the bound IP (a DNS name or public address;
    /// needed when binding 0.0.0.0 or ::).
    #[arg(long, value_name = "HOST")]
    advertise: Option<String>,

    /// Seconds a TCP/TLS connection may stay without traffic before it is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    idle_timeout: u64,
}

pub(crate) fn run(args: ServeArgs, _data: &Path) -> anyhow::Result<ExitCode> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))?;
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

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = EndpointConfig {
        udp: vec![args.sip],
        tcp: vec![args.sip],
        advertise: args.advertise.clone(),
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        ..EndpointConfig::default()
    };
    if let Some(tls) = args.tls {
        let server = match (&args.cert, &args.key) {
            (Some(cert), Some(key)) => cpm_node::load_server_config(cert, key)
                .context("cannot load the TLS certificate and key")?,
            (None, None) => {
                let mut names = vec![tls.ip().to_string(), "localhost".to_string()];
                names.extend(args.advertise.clone());
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
    let endpoint = Endpoint::start(config, BasicUas::new())
        .await
        .with_context(|| format!("cannot bind SIP on {}", args.sip))?;
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
