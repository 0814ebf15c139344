//! TCP and TLS: listeners, outbound connections, and the per-connection task that frames
//! the byte stream with [`StreamFramer`], answers keep-alive pings (RFC 5626 §3.5.1),
//! answers framed-but-malformed requests with 400, closes on lost framing or when idle, and
//! writes what the endpoint queues for the connection.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use cpm_sip::{Frame, StreamFramer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tracing::{debug, info, warn};

use crate::endpoint::{Event, Shared};
use crate::error_response::error_response_for_raw;
use crate::transport::{FlowId, Peer, Transport};
use crate::via::stamp_received;

/// How many messages may wait for one connection's writer.
pub(crate) const QUEUE: usize = 256;

/// Accepts TCP (or, with `tls`, TLS) connections until shutdown.
pub(crate) async fn run_listener(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
) {
    let transport = if tls.is_some() {
        Transport::Tls
    } else {
        Transport::Tcp
    };
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (tcp, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off a little instead of spinning.
                    warn!(%e, %transport, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let flow = shared.next_flow();
            let (tx, rx) = mpsc::channel(QUEUE);
            debug!(flow, %remote, %transport, "connection accepted");
            if shared
                .events
                .send(Event::FlowUp {
                    flow,
                    transport,
                    remote,
                    tx,
                })
                .await
                .is_err()
            {
                return;
            }
            match tls {
                None => run_connection(tcp, flow, transport, remote, shared, rx, None).await,
                Some(acceptor) => {
                    let hs = tokio::time::timeout(shared.connect_timeout, acceptor.accept(tcp));
                    match hs.await {
                        Ok(Ok(s)) => {
                            run_connection(s, flow, transport, remote, shared, rx, None).await
                        }
                        Ok(Err(e)) => {
                            info!(%remote, %e, "TLS handshake failed");
                            shared.flow_down(flow, Some(e.to_string())).await;
                        }
                        Err(_) => {
                            info!(%remote, "TLS handshake timed out");
                            shared
                                .flow_down(flow, Some("TLS handshake timed out".into()))
                                .await;
                        }
                    }
                }
            }
        });
    }
}

/// Connects to `remote` (TLS when `tls` is given, with `server_name`), then runs the
/// connection; messages queued on `rx` meanwhile are written once connected.
pub(crate) async fn run_outbound(
    flow: FlowId,
    transport: Transport,
    remote: SocketAddr,
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Bytes>,
) {
    let connect = async {
        let tcp = TcpStream::connect(remote).await?;
        let _ = tcp.set_nodelay(true);
        Ok::<_, std::io::Error>(tcp)
    };
    let tcp = match tokio::time::timeout(shared.connect_timeout, connect).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => {
            info!(%remote, %e, "connect failed");
            return shared
                .flow_down(flow, Some(format!("connect to {remote}: {e}")))
                .await;
        }
        Err(_) => {
            info!(%remote, "connect timed out");
            return shared
                .flow_down(flow, Some(format!("connect to {remote} timed out")))
                .await;
        }
    };
    debug!(flow, %remote, %transport, "connected");
    let keepalive = shared.keepalive_interval;
    match tls {
        None => run_connection(tcp, flow, transport, remote, shared, rx, keepalive).await,
        Some((connector, name)) => {
            let hs = tokio::time::timeout(shared.connect_timeout, connector.connect(name, tcp));
            match hs.await {
                Ok(Ok(s)) => {
                    run_connection(s, flow, transport, remote, shared, rx, keepalive).await
                }
                Ok(Err(e)) => {
                    info!(%remote, %e, "TLS handshake failed");
                    shared
                        .flow_down(flow, Some(format!("TLS to {remote}: {e}")))
                        .await;
                }
                Err(_) => {
                    shared
                        .flow_down(flow, Some(format!("TLS to {remote} timed out")))
                        .await;
                }
            }
        }
    }
}

/// Why a connection ended (for the log).
#[derive(Debug)]
enum Close {
    PeerClosed,
    Idle,
    Framing(String),
    Io(std::io::Error),
    Endpoint,
}

/// Reads, frames and writes one connection until it closes, then reports it down. With
/// `keepalive`, a CRLFCRLF ping is sent after that long without writing (RFC 5626 §4.4.1).
pub(crate) async fn run_connection<S>(
    stream: S,
    flow: FlowId,
    transport: Transport,
    remote: SocketAddr,
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Bytes>,
    keepalive: Option<std::time::Duration>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let _ = shared.events.send(Event::FlowEstablished { flow }).await;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut framer = StreamFramer::new(shared.limits.clone());
    let mut buf = vec![0u8; 16 * 1024];
    let mut shutdown = shared.shutdown.clone();
    let idle = shared.idle_timeout;
    let mut deadline = Instant::now() + idle;
    let far = std::time::Duration::from_secs(86_400 * 365);
    let mut ping_at = Instant::now() + keepalive.unwrap_or(far);
    let peer = Peer {
        transport,
        addr: remote,
        flow: Some(flow),
        name: None,
    };
    let why = 'conn: loop {
        tokio::select! {
            r = rd.read(&mut buf) => {
                let n = match r {
                    Ok(0) => break Close::PeerClosed,
                    Ok(n) => n,
                    Err(e) => break Close::Io(e),
                };
                deadline = Instant::now() + idle;
                framer.push(&buf[..n]);
                loop {
                    match framer.next_frame() {
                        Ok(None) => break,
                        Ok(Some(Frame::Message(m))) => {
                            let m = stamp_received(m, remote, &shared.limits);
                            if shared.events.send(Event::Inbound(m, peer.clone())).await.is_err() {
                                break 'conn Close::Endpoint;
                            }
                        }
                        Ok(Some(Frame::Invalid { error, bytes })) => {
                            let (code, reason) = error.status();
                            debug!(flow, %remote, %error, "malformed message on stream");
                            if let Some(resp) = error_response_for_raw(&bytes, code, &reason) {
                                if let Err(e) = wr.write_all(&resp).await {
                                    break 'conn Close::Io(e);
                                }
                            }
                        }
                        Ok(Some(Frame::Ping)) => {
                            if let Err(e) = wr.write_all(b"\r\n").await {
                                break 'conn Close::Io(e);
                            }
                        }
                        Ok(Some(Frame::Pong)) => {}
                        Err(e) => {
                            // Framing is lost (oversize, bad Content-Length): answer the
                            // request from its raw lines when they are all there (513, 400),
                            // then close (RFC 3261 §18.3, §21.5.14).
                            let (code, reason) = e.0.status();
                            if let Some(resp) = error_response_for_raw(framer.pending(), code, &reason) {
                                let _ = wr.write_all(&resp).await;
                            }
                            break 'conn Close::Framing(e.to_string());
                        }
                    }
                }
            }
            m = rx.recv() => {
                let Some(bytes) = m else { break Close::Endpoint };
                if let Err(e) = wr.write_all(&bytes).await {
                    break Close::Io(e);
                }
                deadline = Instant::now() + idle;
                ping_at = Instant::now() + keepalive.unwrap_or(far);
            }
            _ = sleep_until(ping_at), if keepalive.is_some() => {
                if let Err(e) = wr.write_all(b"\r\n\r\n").await {
                    break Close::Io(e);
                }
                ping_at = Instant::now() + keepalive.unwrap_or(far);
            }
            _ = sleep_until(deadline) => break Close::Idle,
            _ = shutdown.changed() => break Close::Endpoint,
        }
    };
    match &why {
        Close::Framing(e) => info!(flow, %remote, %transport, "closing connection: {e}"),
        Close::Io(e) => info!(flow, %remote, %transport, "connection error: {e}"),
        other => debug!(flow, %remote, %transport, "connection closed: {other:?}"),
    }
    let _ = wr.shutdown().await;
    shared.flow_down(flow, None).await;
}
