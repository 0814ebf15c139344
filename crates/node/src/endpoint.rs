//! The SIP [`Endpoint`]: owns the transports of one SIP element, runs one core task that
//! routes every message in and out (and, once `cpm-sip`'s transaction layer lands, drives it
//! with real time), and hands incoming requests and responses to a [`Role`].
//!
//! Threads of control: one receive task per UDP socket, one task per TCP/TLS listener and
//! per connection, and the core task. Transport tasks parse and frame, then pass messages
//! to the core over a bounded channel; the core owns the connection pool and the role and
//! queues outgoing bytes to the transports. Roles never block the core: they answer at once
//! or later through a cloned [`EndpointHandle`].

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cpm_sip::{Limits, Message, Via};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, trace, warn};

use crate::memory::{MemoryDatagram, MemoryHub};
use crate::stream::{QUEUE, run_listener, run_outbound};
use crate::transport::{FlowId, Peer, Target, Transport};
use crate::udp::{Datagram, read_datagram, run_udp};
use crate::via::{ip_of_host, response_addr, stamp_sent_by};

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

/// A message handed to a role, with where it came from.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The message (a request's top Via already carries `received`/`rport`).
    pub message: Message,
    /// Where it came from; responses to a request go back to this peer.
    pub peer: Peer,
}

/// A network role's view of its endpoint. Called on the endpoint's core task: do not block;
/// answer now or keep the [`EndpointHandle`] and answer later.
pub trait Role: Send + 'static {
    /// A request arrived. Answer it with [`EndpointHandle::respond`] (never an ACK).
    fn on_request(&mut self, request: Incoming, endpoint: &EndpointHandle);

    /// A response arrived (to a request this endpoint sent).
    fn on_response(&mut self, response: Incoming, endpoint: &EndpointHandle) {
        let _ = (response, endpoint);
    }

    /// A message could not be sent to `target` (connect failure, unknown memory peer …).
    fn on_send_error(&mut self, target: &Target, error: &str, endpoint: &EndpointHandle) {
        let _ = (endpoint,);
        warn!(%target, error, "send failed");
    }
}

/// What a [`ChannelRole`] passes on.
#[derive(Debug)]
pub enum RoleEvent {
    /// A request arrived.
    Request(Incoming),
    /// A response arrived.
    Response(Incoming),
    /// Sending to a target failed.
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
enum Command {
    Request(Target, Message),
    Response(Peer, Message),
}

/// A cloneable way to send through an endpoint, from any task.
#[derive(Debug, Clone)]
pub struct EndpointHandle {
    cmd: mpsc::UnboundedSender<Command>,
}

impl EndpointHandle {
    /// Sends a request to the next hop. Its top Via must carry the branch; the endpoint
    /// rewrites that Via's transport and sent-by to the ones it sends from (RFC 3261
    /// §18.1.1), keeping its parameters.
    pub fn send_request(&self, target: Target, request: Message) -> Result<(), EndpointClosed> {
        self.cmd
            .send(Command::Request(target, request))
            .map_err(|_| EndpointClosed)
    }

    /// Sends a response to `to` (the peer its request came from): over the same connection
    /// for TCP/TLS, to `received`/`rport` for UDP (RFC 3261 §18.2.2, RFC 3581).
    pub fn send_response(&self, to: &Peer, response: Message) -> Result<(), EndpointClosed> {
        self.cmd
            .send(Command::Response(to.clone(), response))
            .map_err(|_| EndpointClosed)
    }

    /// Answers `request` with `response`.
    pub fn respond(&self, request: &Incoming, response: Message) -> Result<(), EndpointClosed> {
        self.send_response(&request.peer, response)
    }

    /// True when the endpoint has shut down.
    pub fn is_closed(&self) -> bool {
        self.cmd.is_closed()
    }
}

/// What transport tasks report to the core task.
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
    FlowDown {
        flow: FlowId,
        error: Option<String>,
    },
}

/// State shared by the core and the transport tasks.
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

struct UdpSock {
    flow: FlowId,
    sock: Arc<UdpSocket>,
    local: SocketAddr,
}

struct FlowEntry {
    transport: Transport,
    remote: SocketAddr,
    tx: mpsc::Sender<Bytes>,
    /// Set for outbound connections: the target to tell the role about on failure.
    target: Option<Target>,
}

struct Core {
    shared: Arc<Shared>,
    handle: EndpointHandle,
    role: Box<dyn Role>,
    udp: Vec<UdpSock>,
    listeners: Vec<(Transport, SocketAddr)>,
    advertise: Option<String>,
    flows: HashMap<FlowId, FlowEntry>,
    pool: HashMap<(Transport, SocketAddr), FlowId>,
    tls_client: Option<tokio_rustls::TlsConnector>,
    memory: Option<(MemoryHub, Arc<str>)>,
}

impl Endpoint {
    /// Binds every configured socket and starts the endpoint with `role`.
    pub async fn start(config: EndpointConfig, role: impl Role) -> io::Result<Endpoint> {
        let (events_tx, mut events) = mpsc::channel(1024);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (cmd_tx, mut cmds) = mpsc::unbounded_channel();
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
            let sock = Arc::new(UdpSocket::bind(addr).await?);
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
        let (mem_tx, mut mem_rx) = mpsc::unbounded_channel::<MemoryDatagram>();
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
        let handle = EndpointHandle { cmd: cmd_tx };
        let mut core = Core {
            shared: shared.clone(),
            handle: handle.clone(),
            role: Box::new(role),
            udp,
            listeners: local.clone(),
            advertise: config.advertise.clone(),
            flows: HashMap::new(),
            pool: HashMap::new(),
            tls_client: config
                .tls_client
                .clone()
                .map(tokio_rustls::TlsConnector::from),
            memory,
        };
        let mut shutdown = shared.shutdown.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(ev) = events.recv() => core.on_event(ev).await,
                    Some(cmd) = cmds.recv() => core.on_command(cmd).await,
                    Some(d) = mem_rx.recv() => core.on_memory(d).await,
                    _ = shutdown.changed() => break,
                }
            }
            if let Some((hub, name)) = &core.memory {
                hub.unregister(name);
            }
            debug!("SIP endpoint core stopped");
        });
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

impl Core {
    async fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Inbound(message, peer) => self.deliver(Incoming { message, peer }),
            Event::FlowUp {
                flow,
                transport,
                remote,
                tx,
            } => {
                self.pool.insert((transport, remote), flow);
                self.flows.insert(
                    flow,
                    FlowEntry {
                        transport,
                        remote,
                        tx,
                        target: None,
                    },
                );
            }
            Event::FlowDown { flow, error } => {
                if let Some(f) = self.flows.remove(&flow) {
                    if self.pool.get(&(f.transport, f.remote)) == Some(&flow) {
                        self.pool.remove(&(f.transport, f.remote));
                    }
                    if let (Some(target), Some(error)) = (f.target, error) {
                        self.role.on_send_error(&target, &error, &self.handle);
                    }
                }
            }
        }
    }

    fn deliver(&mut self, incoming: Incoming) {
        let m = &incoming.message;
        debug!(peer = %incoming.peer, start = m.start_line(), call_id = m.call_id(), "received");
        trace!(peer = %incoming.peer, "<<<\n{}", String::from_utf8_lossy(m.as_bytes()));
        if m.is_request() {
            self.role.on_request(incoming, &self.handle);
        } else if self.via_is_ours(&m.top_via()) {
            self.role.on_response(incoming, &self.handle);
        } else {
            // RFC 3261 §18.1.2: a response whose top Via is not ours is discarded.
            debug!(
                via = m.top_via().as_str(),
                "response for another sent-by dropped"
            );
        }
    }

    /// True when a top Via's sent-by is one this endpoint stamps.
    fn via_is_ours(&self, via: &Via<'_>) -> bool {
        let host = via.host();
        if let Some((_, name)) = &self.memory {
            if host.eq_ignore_ascii_case(name) {
                return true;
            }
        }
        if self.listeners.is_empty() {
            return true; // a client-only endpoint stamps a placeholder sent-by
        }
        self.listeners.iter().any(|(t, a)| {
            let port = via
                .port()
                .unwrap_or(if *t == Transport::Tls { 5061 } else { 5060 });
            let host_ok = ip_of_host(host) == Some(a.ip())
                || self
                    .advertise
                    .as_deref()
                    .is_some_and(|h| host.eq_ignore_ascii_case(&bracket(h)));
            host_ok && port == a.port()
        })
    }

    async fn on_memory(&mut self, d: MemoryDatagram) {
        match read_datagram(d.bytes, None, &self.shared.limits) {
            Datagram::Message(message) => {
                let peer = Peer {
                    transport: Transport::Memory,
                    addr: SocketAddr::from(([0, 0, 0, 0], 0)),
                    flow: None,
                    name: Some(d.from.clone()),
                };
                self.deliver(Incoming { message, peer });
            }
            Datagram::Answer(bytes) => self.send_memory(&d.from, bytes),
            Datagram::Drop => {}
        }
    }

    fn send_memory(&mut self, to: &Arc<str>, bytes: Bytes) {
        trace!(%to, "MEM >>>\n{}", String::from_utf8_lossy(&bytes));
        let Some((hub, me)) = &self.memory else {
            let error = "this endpoint is not on a memory hub";
            self.role
                .on_send_error(&Target::Memory(to.clone()), error, &self.handle);
            return;
        };
        if !hub.deliver(to, me.clone(), bytes) {
            self.role.on_send_error(
                &Target::Memory(to.clone()),
                "no such memory endpoint",
                &self.handle,
            );
        }
    }

    async fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Request(target, msg) => self.send_request(target, msg).await,
            Command::Response(peer, msg) => self.send_response(peer, msg).await,
        }
    }

    /// The sent-by for requests leaving over `transport` towards `to`.
    fn sent_by(&self, transport: Transport, to: Option<SocketAddr>) -> String {
        if transport == Transport::Memory {
            return self
                .memory
                .as_ref()
                .map(|m| m.1.to_string())
                .unwrap_or_else(|| "memory.invalid".into());
        }
        let v6 = to.is_some_and(|a| a.is_ipv6());
        let family = |a: &SocketAddr| a.is_ipv6() == v6;
        let local = self
            .listeners
            .iter()
            .find(|(t, a)| *t == transport && family(a))
            .or_else(|| self.listeners.iter().find(|(_, a)| family(a)))
            .or_else(|| self.listeners.first())
            .map(|(_, a)| *a);
        match (&self.advertise, local) {
            (Some(host), Some(a)) => format!("{}:{}", bracket(host), a.port()),
            (Some(host), None) => bracket(host),
            (None, Some(a)) => a.to_string(),
            (None, None) => "invalid.invalid".into(),
        }
    }

    async fn send_request(&mut self, target: Target, msg: Message) {
        if !msg.is_request() {
            warn!("send_request called with a response; dropped");
            return;
        }
        match &target {
            Target::Memory(name) => {
                let bytes = stamp_sent_by(
                    &msg,
                    Transport::Memory,
                    &self.sent_by(Transport::Memory, None),
                );
                self.send_memory(&name.clone(), bytes);
            }
            Target::Net(transport, addr) => {
                let mut transport = *transport;
                let mut bytes =
                    stamp_sent_by(&msg, transport, &self.sent_by(transport, Some(*addr)));
                if transport == Transport::Udp && bytes.len() > UDP_MAX_REQUEST {
                    // RFC 3261 §18.1.1: a large request goes over a congestion-controlled
                    // transport instead.
                    debug!(len = bytes.len(), %addr, "request too large for UDP; using TCP");
                    transport = Transport::Tcp;
                    bytes = stamp_sent_by(&msg, transport, &self.sent_by(transport, Some(*addr)));
                }
                self.send_net(transport, *addr, None, bytes, Some(&target))
                    .await;
            }
            Target::TlsNamed(addr, _) => {
                let bytes = stamp_sent_by(
                    &msg,
                    Transport::Tls,
                    &self.sent_by(Transport::Tls, Some(*addr)),
                );
                self.send_net(Transport::Tls, *addr, None, bytes, Some(&target))
                    .await;
            }
        }
    }

    async fn send_response(&mut self, peer: Peer, msg: Message) {
        if msg.is_request() {
            warn!("send_response called with a request; dropped");
            return;
        }
        let bytes = Bytes::copy_from_slice(msg.as_bytes());
        match peer.transport {
            Transport::Memory => {
                let to = peer
                    .name
                    .clone()
                    .unwrap_or_else(|| msg.top_via().host().into());
                self.send_memory(&to, bytes);
            }
            Transport::Udp => {
                let dest = response_addr(&msg.top_via(), Transport::Udp).unwrap_or(peer.addr);
                self.send_net(Transport::Udp, dest, peer.flow, bytes, None)
                    .await;
            }
            t => {
                // Same connection when it is still open (RFC 3261 §18.2.2), else a new one
                // to received/port.
                if let Some(f) = peer.flow.and_then(|f| self.flows.get(&f)) {
                    match f.tx.try_send(bytes.clone()) {
                        Ok(()) => return,
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            warn!(%peer, "connection queue full; response dropped");
                            return;
                        }
                        // Closing right now: fall through to a new connection.
                        Err(mpsc::error::TrySendError::Closed(_)) => {}
                    }
                }
                let dest = response_addr(&msg.top_via(), t).unwrap_or(peer.addr);
                self.send_net(t, dest, None, bytes, None).await;
            }
        }
    }

    /// Sends bytes over the network: UDP from the socket `via_flow` (else one of the right
    /// family), TCP/TLS over a pooled connection or a new one.
    async fn send_net(
        &mut self,
        transport: Transport,
        dest: SocketAddr,
        via_flow: Option<FlowId>,
        mut bytes: Bytes,
        target: Option<&Target>,
    ) {
        trace!(%dest, %transport, ">>>\n{}", String::from_utf8_lossy(&bytes));
        if transport == Transport::Udp {
            let sock = self
                .udp
                .iter()
                .find(|u| Some(u.flow) == via_flow)
                .or_else(|| {
                    self.udp
                        .iter()
                        .find(|u| u.local.is_ipv6() == dest.is_ipv6())
                });
            let Some(u) = sock else {
                let t = target.cloned().unwrap_or(Target::Net(transport, dest));
                self.role
                    .on_send_error(&t, "no UDP socket of that address family", &self.handle);
                return;
            };
            if let Err(e) = u.sock.send_to(&bytes, dest).await {
                let t = target.cloned().unwrap_or(Target::Net(transport, dest));
                self.role.on_send_error(&t, &e.to_string(), &self.handle);
            }
            return;
        }
        if let Some(f) = self
            .pool
            .get(&(transport, dest))
            .and_then(|f| self.flows.get(f))
        {
            match f.tx.try_send(bytes) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    warn!(%dest, %transport, "connection queue full; message dropped");
                    return;
                }
                // The connection is closing (its FlowDown is still queued): open a new one.
                Err(mpsc::error::TrySendError::Closed(b)) => bytes = b,
            }
        }
        let tls = if transport == Transport::Tls {
            let Some(connector) = self.tls_client.clone() else {
                let t = target.cloned().unwrap_or(Target::Net(transport, dest));
                self.role
                    .on_send_error(&t, "no TLS client configuration", &self.handle);
                return;
            };
            let name = match target {
                Some(Target::TlsNamed(_, host)) => {
                    match rustls::pki_types::ServerName::try_from(host.to_string()) {
                        Ok(n) => n,
                        Err(e) => {
                            let t = target.cloned().unwrap_or(Target::Net(transport, dest));
                            let error = format!("bad TLS server name {host:?}: {e}");
                            self.role.on_send_error(&t, &error, &self.handle);
                            return;
                        }
                    }
                }
                _ => rustls::pki_types::ServerName::IpAddress(dest.ip().into()),
            };
            Some((connector, name))
        } else {
            None
        };
        let flow = self.shared.next_flow();
        let (tx, rx) = mpsc::channel(QUEUE);
        let _ = tx.try_send(bytes);
        self.pool.insert((transport, dest), flow);
        self.flows.insert(
            flow,
            FlowEntry {
                transport,
                remote: dest,
                tx,
                target: Some(target.cloned().unwrap_or(Target::Net(transport, dest))),
            },
        );
        tokio::spawn(run_outbound(
            flow,
            transport,
            dest,
            tls,
            self.shared.clone(),
            rx,
        ));
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}
