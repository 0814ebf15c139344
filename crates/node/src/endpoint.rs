//! The SIP [`Endpoint`]: its configuration, the [`Role`] interface, the [`EndpointHandle`]
//! roles send through, and start-up (binding every socket, spawning the tasks).
//!
//! Threads of control: one receive task per UDP socket, one task per TCP/TLS listener and
//! per connection, and the driver task (`driver.rs`). Transport tasks parse and frame, then
//! pass messages to the driver over a bounded channel; the driver owns the transaction layer
//! of `cpm-sip`, the connection pool and the role, and queues outgoing bytes to the
//! transports. Roles never block the driver: they answer at once or later through a cloned
//! [`EndpointHandle`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cpm_sip::transaction::{Timer, TransactionKey};
use cpm_sip::{Limits, Message, Method};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::driver::{Driver, UdpSock};
use crate::memory::{MemoryDatagram, MemoryHub};
use crate::stream::run_listener;
use crate::transport::{FlowId, Peer, Target, Transport};
use crate::udp::run_udp;

/// Largest request sent over UDP when the path MTU is unknown (RFC 3261 §18.1.1); larger
/// ones go over TCP.
pub const UDP_MAX_REQUEST: usize = 1300;

/// What an endpoint listens on and how it behaves. Build with `Default` and set fields.
#[derive(Clone)]
pub struct EndpointConfig {
    /// UDP sockets to bind (port 0: ephemeral).
    pub udp: Vec<SocketAddr>,
    /// TCP listeners to bind.
    pub tcp: Vec<SocketAddr>,
    /// TLS listeners to bind (need [`EndpointConfig::tls_server`]).
    pub tls: Vec<SocketAddr>,
    /// The certificate TLS listeners present.
    pub tls_server: Option<Arc<rustls::ServerConfig>>,
    /// How outbound TLS connections verify servers (needed to send over TLS).
    pub tls_client: Option<Arc<rustls::ClientConfig>>,
    /// Join an in-process hub under this name (the Via sent-by of memory requests).
    pub memory: Option<(MemoryHub, String)>,
    /// Host written in Via sent-by instead of the bound IP (a name or the public address).
    pub advertise: Option<String>,
    /// Parser limits (message size, header count, line length).
    pub limits: Limits,
    /// A connection with no traffic either way for this long is closed.
    pub idle_timeout: Duration,
    /// Bound on TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// Send a CRLFCRLF keep-alive ping (RFC 5626 §4.4.1) on connections this endpoint opened
    /// after this long without sending anything; `None`: never.
    pub keepalive_interval: Option<Duration>,
    /// Transaction timers (T1, T2, T4, Timer C …) and behaviour.
    pub transactions: cpm_sip::transaction::Config,
    /// Receive and send buffer asked for each UDP socket, bytes (the kernel caps it at
    /// `net.core.rmem_max` / `wmem_max`). Bursts of datagrams wait here while the endpoint
    /// is busy; the Linux default (~200 KiB) holds only a few hundred SIP messages.
    pub udp_buffer: usize,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            udp: Vec::new(),
            tcp: Vec::new(),
            tls: Vec::new(),
            tls_server: None,
            tls_client: None,
            memory: None,
            advertise: None,
            limits: Limits::default(),
            idle_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(5),
            keepalive_interval: None,
            transactions: cpm_sip::transaction::Config::default(),
            udp_buffer: 4 << 20,
        }
    }
}

impl std::fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("udp", &self.udp)
            .field("tcp", &self.tcp)
            .field("tls", &self.tls)
            .field("memory", &self.memory.as_ref().map(|m| &m.1))
            .field("advertise", &self.advertise)
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

/// A message handed to a role, with where it came from and its transaction.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The message (a request's top Via already carries `received`/`rport`).
    pub message: Message,
    /// Where it came from; responses to a request go back to this peer.
    pub peer: Peer,
    /// The transaction: the new server transaction of a request, the client transaction a
    /// response belongs to, the INVITE server transaction an ACK matched (RFC 6026); `None`
    /// for an ACK to a 2xx that matched nothing and for a stray response.
    pub transaction: Option<TransactionKey>,
    /// For a CANCEL: the INVITE server transaction it cancels, when it is still alive.
    pub cancels: Option<TransactionKey>,
}

/// Why a request this endpoint sent got no final response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A transaction timer fired: B or F (no final response), C (an INVITE in Proceeding
    /// for too long: CANCEL it), Abandon.
    Timeout(Timer),
    /// It could not be sent (connect or TLS failure, unknown memory peer …).
    Transport(String),
    /// The transaction layer refused it (no RFC 3261 branch, duplicate branch …).
    Refused(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout(t) => write!(f, "timeout (Timer {t:?})"),
            Failure::Transport(e) => write!(f, "transport error: {e}"),
            Failure::Refused(e) => write!(f, "refused: {e}"),
        }
    }
}

/// A network role's view of its endpoint. Called on the endpoint's driver task: do not
/// block; answer now or keep the [`EndpointHandle`] and answer later.
pub trait Role: Send + 'static {
    /// A request arrived: a new server transaction (answer it with
    /// [`EndpointHandle::respond`]), or an ACK (never answered). Retransmissions are
    /// absorbed by the transaction layer and never reach the role.
    fn on_request(&mut self, request: Incoming, endpoint: &EndpointHandle);

    /// A response arrived: provisional or final for a request this endpoint sent, or stray
    /// (`transaction` is `None`; a proxy may forward it statelessly).
    fn on_response(&mut self, response: Incoming, endpoint: &EndpointHandle) {
        let _ = (response, endpoint);
    }

    /// A request sent with [`EndpointHandle::send_request`] failed; `request` is as sent.
    fn on_request_failed(
        &mut self,
        request: &Message,
        failure: &Failure,
        endpoint: &EndpointHandle,
    ) {
        let _ = endpoint;
        warn!(call_id = request.call_id(), %failure, "request failed");
    }

    /// A message sent outside a transaction (a stateless response, an ACK for a 2xx) could
    /// not be sent to `target`.
    fn on_send_error(&mut self, target: &Target, error: &str, endpoint: &EndpointHandle) {
        let _ = endpoint;
        warn!(%target, error, "send failed");
    }

    /// A value sent with [`EndpointHandle::notify`] (a timer that fired, the result of
    /// work done off the driver task) arrived back on the driver task.
    fn on_notify(&mut self, note: Box<dyn std::any::Any + Send>, endpoint: &EndpointHandle) {
        let _ = (note, endpoint);
    }
}

/// What a [`ChannelRole`] passes on.
#[derive(Debug)]
pub enum RoleEvent {
    /// A request arrived.
    Request(Incoming),
    /// A response arrived.
    Response(Incoming),
    /// A request this endpoint sent failed.
    RequestFailed(Message, Failure),
    /// A message sent outside a transaction could not be sent.
    SendError(Target, String),
}

/// A [`Role`] that forwards everything to a channel, for roles written as async tasks (and
/// for tests).
#[derive(Debug)]
pub struct ChannelRole(pub mpsc::UnboundedSender<RoleEvent>);

impl ChannelRole {
    /// The role and the receiving end of its channel.
    pub fn new() -> (ChannelRole, mpsc::UnboundedReceiver<RoleEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ChannelRole(tx), rx)
    }
}

impl Role for ChannelRole {
    fn on_request(&mut self, request: Incoming, _: &EndpointHandle) {
        let _ = self.0.send(RoleEvent::Request(request));
    }
    fn on_response(&mut self, response: Incoming, _: &EndpointHandle) {
        let _ = self.0.send(RoleEvent::Response(response));
    }
    fn on_request_failed(&mut self, request: &Message, failure: &Failure, _: &EndpointHandle) {
        let _ = self
            .0
            .send(RoleEvent::RequestFailed(request.clone(), failure.clone()));
    }
    fn on_send_error(&mut self, target: &Target, error: &str, _: &EndpointHandle) {
        let _ = self
            .0
            .send(RoleEvent::SendError(target.clone(), error.to_string()));
    }
}

/// The endpoint has shut down; nothing can be sent through it any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the SIP endpoint has shut down")]
pub struct EndpointClosed;

#[derive(Debug)]
pub(crate) enum Command {
    /// Start a client transaction (or, for an ACK, send statelessly).
    Request(Target, Message),
    /// Answer: within server transaction `.0` when given, else statelessly.
    Response(Option<TransactionKey>, Peer, Message),
    /// Hand a value to the role on the driver task ([`Role::on_notify`]).
    Notify(Box<dyn std::any::Any + Send>),
}

/// A cloneable way to send through an endpoint, from any task.
#[derive(Debug, Clone)]
pub struct EndpointHandle {
    cmd: mpsc::UnboundedSender<Command>,
    local: Arc<[(Transport, SocketAddr)]>,
    memory_name: Option<Arc<str>>,
    advertise: Option<Arc<str>>,
}

impl EndpointHandle {
    /// Sends a request to the next hop in a new client transaction (an ACK is sent on its
    /// own: it has no transaction). Its top Via must carry a fresh RFC 3261 branch; the
    /// endpoint rewrites that Via's transport and sent-by to the ones it sends from (RFC
    /// 3261 §18.1.1), keeping its parameters. Responses come to [`Role::on_response`],
    /// failures to [`Role::on_request_failed`].
    pub fn send_request(&self, target: Target, request: Message) -> Result<(), EndpointClosed> {
        self.cmd
            .send(Command::Request(target, request))
            .map_err(|_| EndpointClosed)
    }

    /// Sends a response statelessly to `to` (the peer its request came from): over the
    /// same connection for TCP/TLS, to `received`/`rport` for UDP (RFC 3261 §18.2.2,
    /// RFC 3581). Prefer [`EndpointHandle::respond`], which answers within the request's
    /// server transaction (so retransmitted requests get the answer again).
    pub fn send_response(&self, to: &Peer, response: Message) -> Result<(), EndpointClosed> {
        self.cmd
            .send(Command::Response(None, to.clone(), response))
            .map_err(|_| EndpointClosed)
    }

    /// Answers `request` with `response` within its server transaction (same routing as
    /// [`EndpointHandle::send_response`]). An ACK is never answered: doing so is a no-op.
    pub fn respond(&self, request: &Incoming, response: Message) -> Result<(), EndpointClosed> {
        if request.message.method() == Some(&Method::Ack) {
            warn!("a response to an ACK was not sent");
            return Ok(());
        }
        let key = request.transaction;
        self.cmd
            .send(Command::Response(key, request.peer.clone(), response))
            .map_err(|_| EndpointClosed)
    }

    /// True when the endpoint has shut down.
    pub fn is_closed(&self) -> bool {
        self.cmd.is_closed()
    }

    /// Hands `note` to the role's [`Role::on_notify`] on the driver task: how work done
    /// elsewhere (a blocking store write, a timer task) reports back to a role.
    pub fn notify(&self, note: Box<dyn std::any::Any + Send>) -> Result<(), EndpointClosed> {
        self.cmd
            .send(Command::Notify(note))
            .map_err(|_| EndpointClosed)
    }

    /// Every bound socket of the endpoint with its transport.
    pub fn local_addrs(&self) -> &[(Transport, SocketAddr)] {
        &self.local
    }

    /// The host written in Via sent-by instead of the bound IP, if configured.
    pub fn advertise(&self) -> Option<&str> {
        self.advertise.as_deref()
    }

    /// The endpoint's name on its memory hub, if it joined one.
    pub fn memory_name(&self) -> Option<&str> {
        self.memory_name.as_deref()
    }
}

/// What transport tasks report to the driver task.
// Inbound messages are the common case; boxing them would add an allocation per message.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Event {
    Inbound(Message, Peer),
    FlowUp {
        flow: FlowId,
        transport: Transport,
        remote: SocketAddr,
        tx: mpsc::Sender<Bytes>,
    },
    /// The connection (TLS: the handshake) is up; the transactions queued on it no longer
    /// need to hear about connect failures.
    FlowEstablished {
        flow: FlowId,
    },
    FlowDown {
        flow: FlowId,
        error: Option<String>,
    },
}

/// State shared by the driver and the transport tasks.
pub(crate) struct Shared {
    pub(crate) events: mpsc::Sender<Event>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) limits: Limits,
    pub(crate) idle_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) keepalive_interval: Option<Duration>,
    next_flow: AtomicU64,
}

impl Shared {
    pub(crate) fn next_flow(&self) -> FlowId {
        self.next_flow.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) async fn flow_down(&self, flow: FlowId, error: Option<String>) {
        let _ = self.events.send(Event::FlowDown { flow, error }).await;
    }
}

/// Binds a non-blocking UDP socket with `buffer` bytes of receive and send buffer asked for
/// (best effort: the kernel may grant less).
fn bind_udp(addr: SocketAddr, buffer: usize) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    if buffer > 0 {
        if let Err(e) = sock.set_recv_buffer_size(buffer) {
            warn!(%e, buffer, "cannot set the UDP receive buffer size");
        }
        if let Err(e) = sock.set_send_buffer_size(buffer) {
            warn!(%e, buffer, "cannot set the UDP send buffer size");
        }
    }
    sock.bind(&addr.into())?;
    sock.set_nonblocking(true)?;
    UdpSocket::from_std(sock.into())
}

/// A running SIP endpoint. Dropping it shuts it down; [`Endpoint::shutdown`] also waits.
pub struct Endpoint {
    handle: EndpointHandle,
    local: Vec<(Transport, SocketAddr)>,
    shutdown: watch::Sender<bool>,
    core: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Binds every configured socket and starts the endpoint with `role`.
    pub async fn start(config: EndpointConfig, role: impl Role) -> io::Result<Endpoint> {
        let (events_tx, events) = mpsc::channel(1024);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (cmd_tx, cmds) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: events_tx,
            shutdown: shutdown_rx,
            limits: config.limits.clone(),
            idle_timeout: config.idle_timeout,
            connect_timeout: config.connect_timeout,
            keepalive_interval: config.keepalive_interval,
            next_flow: AtomicU64::new(1),
        });
        let mut local = Vec::new();
        let mut udp = Vec::new();
        for addr in &config.udp {
            let sock = Arc::new(bind_udp(*addr, config.udp_buffer)?);
            let bound = sock.local_addr()?;
            local.push((Transport::Udp, bound));
            udp.push(UdpSock {
                flow: shared.next_flow(),
                sock,
                local: bound,
            });
        }
        let mut tcp = Vec::new();
        for addr in &config.tcp {
            let l = TcpListener::bind(addr).await?;
            local.push((Transport::Tcp, l.local_addr()?));
            tcp.push(l);
        }
        let mut tls = Vec::new();
        if !config.tls.is_empty() {
            let server = config.tls_server.clone().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "TLS listeners need a certificate (tls_server)",
                )
            })?;
            for addr in &config.tls {
                let l = TcpListener::bind(addr).await?;
                local.push((Transport::Tls, l.local_addr()?));
                tls.push((l, tokio_rustls::TlsAcceptor::from(server.clone())));
            }
        }
        let (mem_tx, mem_rx) = mpsc::unbounded_channel::<MemoryDatagram>();
        let memory = match &config.memory {
            Some((hub, name)) => {
                let name: Arc<str> = name.as_str().into();
                if !hub.register(name.clone(), mem_tx) {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("memory endpoint name {name:?} is taken"),
                    ));
                }
                Some((hub.clone(), name))
            }
            None => {
                drop(mem_tx);
                None
            }
        };
        for u in &udp {
            tokio::spawn(run_udp(u.sock.clone(), u.flow, shared.clone()));
        }
        for l in tcp {
            tokio::spawn(run_listener(l, None, shared.clone()));
        }
        for (l, acceptor) in tls {
            tokio::spawn(run_listener(l, Some(acceptor), shared.clone()));
        }
        info!(?local, memory = ?memory.as_ref().map(|m| &m.1), "SIP endpoint started");
        let handle = EndpointHandle {
            cmd: cmd_tx,
            local: local.clone().into(),
            memory_name: memory.as_ref().map(|m| m.1.clone()),
            advertise: config.advertise.as_deref().map(Arc::from),
        };
        let driver = Driver::new(
            shared.clone(),
            handle.clone(),
            Box::new(role),
            udp,
            local.clone(),
            &config,
            memory,
        );
        let task = tokio::spawn(driver.run(events, cmds, mem_rx));
        Ok(Endpoint {
            handle,
            local,
            shutdown: shutdown_tx,
            core: Some(task),
        })
    }

    /// A handle to send through this endpoint.
    pub fn handle(&self) -> EndpointHandle {
        self.handle.clone()
    }

    /// Every bound socket with its transport (ephemeral ports resolved).
    pub fn local_addrs(&self) -> &[(Transport, SocketAddr)] {
        &self.local
    }

    /// The first bound address of `transport`.
    pub fn local_addr(&self, transport: Transport) -> Option<SocketAddr> {
        self.local
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, a)| *a)
    }

    /// Stops every task of the endpoint (connections are closed) and waits for the core.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.core.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
