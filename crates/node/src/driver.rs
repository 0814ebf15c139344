//! The driver task of an [`Endpoint`](crate::Endpoint): the one task that owns the
//! `cpm-sip` [`TransactionLayer`], the role, the connection pool and the sockets' send
//! sides. It feeds the layer with messages from the transport tasks, commands from
//! [`EndpointHandle`]s and real time (`sleep_until` on [`TransactionLayer::poll_timeout`]),
//! and after every input drains `poll_transmit` (to the transports) and `poll_event` (to the
//! role), as the layer's driving contract asks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use cpm_sip::transaction::{Event as TxEvent, Role as TxRole, TransactionKey, TransactionLayer};
use cpm_sip::{Message, Method, Via};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, trace, warn};

use crate::endpoint::{
    Command, EndpointConfig, EndpointHandle, Event, Failure, Incoming, Role, Shared,
    UDP_MAX_REQUEST,
};
use crate::memory::{MemoryDatagram, MemoryHub};
use crate::stream::{QUEUE, run_outbound};
use crate::transport::{FlowId, Peer, Target, Transport};
use crate::udp::{Datagram, read_datagram};
use crate::via::{ip_of_host, response_addr, stamp_sent_by};

/// One bound UDP socket.
pub(crate) struct UdpSock {
    pub(crate) flow: FlowId,
    pub(crate) sock: Arc<UdpSocket>,
    pub(crate) local: SocketAddr,
}

/// The peer handle the transaction layer carries for us (its `P`).
#[derive(Debug, Clone)]
pub(crate) enum Hop {
    /// Back to where a request came from; `dest` is where a new connection or a UDP
    /// datagram goes (RFC 3261 §18.2.2 with RFC 3581), `peer.flow` the connection to prefer.
    Back { peer: Peer, dest: SocketAddr },
    /// A next hop, with the transport finally chosen for it.
    To(Target, Transport),
}

struct FlowEntry {
    transport: Transport,
    remote: SocketAddr,
    tx: mpsc::Sender<Bytes>,
    /// Outbound connections: the target to tell the role about on failure.
    target: Option<Target>,
    /// Outbound connections still connecting: the transactions that queued messages on
    /// it, told when connecting fails. Emptied once established.
    keys: Vec<TransactionKey>,
    established: bool,
}

/// A client transaction's request, kept for [`Role::on_request_failed`].
struct ClientInfo {
    request: Message,
}

pub(crate) struct Driver {
    shared: Arc<Shared>,
    handle: EndpointHandle,
    role: Box<dyn Role>,
    layer: TransactionLayer<Hop>,
    clients: HashMap<TransactionKey, ClientInfo>,
    /// The peer of the response being handled (the layer's response events carry none).
    response_peer: Option<Peer>,
    udp: Vec<UdpSock>,
    listeners: Vec<(Transport, SocketAddr)>,
    advertise: Option<String>,
    flows: HashMap<FlowId, FlowEntry>,
    pool: HashMap<(Transport, SocketAddr), FlowId>,
    tls_client: Option<tokio_rustls::TlsConnector>,
    memory: Option<(MemoryHub, Arc<str>)>,
}

/// The driver's clock, as the layer's `std` instant (tokio's clock, so paused-time tests
/// work too).
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

impl Driver {
    pub(crate) fn new(
        shared: Arc<Shared>,
        handle: EndpointHandle,
        role: Box<dyn Role>,
        udp: Vec<UdpSock>,
        listeners: Vec<(Transport, SocketAddr)>,
        config: &EndpointConfig,
        memory: Option<(MemoryHub, Arc<str>)>,
    ) -> Driver {
        Driver {
            shared,
            handle,
            role,
            layer: TransactionLayer::new(config.transactions.clone()),
            clients: HashMap::new(),
            response_peer: None,
            udp,
            listeners,
            advertise: config.advertise.clone(),
            flows: HashMap::new(),
            pool: HashMap::new(),
            tls_client: config
                .tls_client
                .clone()
                .map(tokio_rustls::TlsConnector::from),
            memory,
        }
    }

    /// Runs until shutdown.
    pub(crate) async fn run(
        mut self,
        mut events: mpsc::Receiver<Event>,
        mut cmds: mpsc::UnboundedReceiver<Command>,
        mut mem_rx: mpsc::UnboundedReceiver<MemoryDatagram>,
    ) {
        let mut shutdown = self.shared.shutdown.clone();
        loop {
            let deadline = self.layer.poll_timeout();
            let wake = deadline.map(tokio::time::Instant::from_std);
            tokio::select! {
                Some(ev) = events.recv() => self.on_event(ev).await,
                Some(cmd) = cmds.recv() => self.on_command(cmd).await,
                Some(d) = mem_rx.recv() => self.on_memory(d).await,
                _ = sleep_until_opt(wake), if wake.is_some() => self.layer.handle_timeout(now()),
                _ = shutdown.changed() => break,
            }
            self.drain().await;
        }
        if let Some((hub, name)) = &self.memory {
            hub.unregister(name);
        }
        debug!(live = self.layer.len(), "SIP endpoint driver stopped");
    }

    /// Drains the layer's transmits and events until both are empty.
    async fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.layer.poll_transmit() {
                progressed = true;
                if t.retransmission {
                    trace!(key = ?t.key, "retransmission");
                }
                if let Err(error) = self.transmit(t.to.clone(), t.payload, t.key).await {
                    match t.key {
                        Some(key) => self.transport_error(key, error),
                        None => {
                            let target = hop_target(&t.to);
                            self.role.on_send_error(&target, &error, &self.handle);
                        }
                    }
                }
            }
            while let Some(ev) = self.layer.poll_event() {
                progressed = true;
                self.on_tx_event(ev);
            }
            if !progressed {
                break;
            }
        }
        self.response_peer = None;
    }

    fn transport_error(&mut self, key: TransactionKey, error: String) {
        debug!(%key, error, "transport error");
        if let Some(info) = self.clients.get(&key) {
            let failure = Failure::Transport(error);
            self.role
                .on_request_failed(&info.request, &failure, &self.handle);
            // Told once: the layer's TransportError event that follows is not repeated.
            self.clients.remove(&key);
        }
        let _ = self.layer.handle_transport_error(now(), key);
    }

    fn on_tx_event(&mut self, ev: TxEvent<Hop>) {
        match ev {
            TxEvent::Request {
                key,
                request,
                from,
                cancels,
                ..
            } => {
                let peer = hop_peer(from);
                self.deliver_request(request, peer, Some(key), cancels);
            }
            TxEvent::Ack {
                key, request, from, ..
            } => {
                let peer = hop_peer(from);
                self.deliver_request(request, peer, key, None);
            }
            TxEvent::Provisional { key, response } => self.deliver_response(response, Some(key)),
            TxEvent::Final { key, response } => {
                // A non-INVITE client transaction can no longer fail: its request copy is
                // not needed for the remaining Timer K.
                if response.cseq_method() != &Method::Invite {
                    self.clients.remove(&key);
                }
                self.deliver_response(response, Some(key));
            }
            TxEvent::StrayResponse { response } => self.deliver_response(response, None),
            TxEvent::Timeout { key, timer } => match self.clients.get(&key) {
                Some(info) if key.role() == TxRole::Client => {
                    let failure = Failure::Timeout(timer);
                    self.role
                        .on_request_failed(&info.request, &failure, &self.handle);
                }
                _ => debug!(%key, ?timer, "server transaction timed out"),
            },
            TxEvent::TransportError { key } => {
                if let Some(info) = self.clients.remove(&key) {
                    let failure = Failure::Transport("could not send".into());
                    self.role
                        .on_request_failed(&info.request, &failure, &self.handle);
                }
            }
            TxEvent::Terminated { key } => {
                self.clients.remove(&key);
            }
            other => trace!(?other, "transaction event"),
        }
    }

    fn deliver_request(
        &mut self,
        message: Message,
        peer: Peer,
        transaction: Option<TransactionKey>,
        cancels: Option<TransactionKey>,
    ) {
        self.role.on_request(
            Incoming {
                message,
                peer,
                transaction,
                cancels,
            },
            &self.handle,
        );
    }

    fn deliver_response(&mut self, message: Message, transaction: Option<TransactionKey>) {
        let peer = self.response_peer.clone().unwrap_or(Peer {
            transport: Transport::Memory,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            flow: None,
            name: None,
        });
        self.role.on_response(
            Incoming {
                message,
                peer,
                transaction,
                cancels: None,
            },
            &self.handle,
        );
    }

    async fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Inbound(message, peer) => self.inbound(message, peer),
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
                        keys: Vec::new(),
                        established: true,
                    },
                );
            }
            Event::FlowEstablished { flow } => {
                if let Some(f) = self.flows.get_mut(&flow) {
                    f.established = true;
                    f.keys = Vec::new();
                }
            }
            Event::FlowDown { flow, error } => {
                let Some(f) = self.flows.remove(&flow) else {
                    return;
                };
                if self.pool.get(&(f.transport, f.remote)) == Some(&flow) {
                    self.pool.remove(&(f.transport, f.remote));
                }
                let Some(error) = error else { return };
                if f.keys.is_empty() {
                    if let Some(target) = f.target {
                        self.role.on_send_error(&target, &error, &self.handle);
                    }
                }
                for key in f.keys {
                    self.transport_error(key, error.clone());
                }
            }
        }
    }

    /// A parsed message from a transport: into the transaction layer.
    fn inbound(&mut self, m: Message, peer: Peer) {
        debug!(%peer, start = m.start_line(), call_id = m.call_id(), "received");
        trace!(%peer, "<<<\n{}", String::from_utf8_lossy(m.as_bytes()));
        let reliable = peer.transport.is_reliable();
        if m.is_request() {
            let dest = response_addr(&m.top_via(), peer.transport).unwrap_or(peer.addr);
            let hop = Hop::Back { peer, dest };
            if let Err(e) = self.layer.handle_request(now(), m, hop, reliable) {
                warn!(%e, "transaction layer refused a request");
            }
        } else if self.via_is_ours(&m.top_via()) {
            self.response_peer = Some(peer);
            if let Err(e) = self.layer.handle_response(now(), m) {
                warn!(%e, "transaction layer refused a response");
            }
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
                self.inbound(message, peer);
            }
            Datagram::Answer(bytes) => {
                if let Err(error) = self.send_memory(&d.from, bytes) {
                    debug!(error, "answer to a malformed memory message not sent");
                }
            }
            Datagram::Drop => {}
        }
    }

    fn send_memory(&mut self, to: &Arc<str>, bytes: Bytes) -> Result<(), String> {
        trace!(%to, "MEM >>>\n{}", String::from_utf8_lossy(&bytes));
        let Some((hub, me)) = &self.memory else {
            return Err("this endpoint is not on a memory hub".into());
        };
        if hub.deliver(to, me.clone(), bytes) {
            Ok(())
        } else {
            Err(format!("no memory endpoint named {to:?}"))
        }
    }

    async fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Request(target, msg) => self.send_request(target, msg),
            Command::Response(key, peer, msg) => self.send_response(key, peer, msg),
            Command::Notify(note) => self.role.on_notify(note, &self.handle),
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

    /// Stamps our Via on a request, picks the final transport, and starts its client
    /// transaction (an ACK goes out on its own).
    fn send_request(&mut self, target: Target, msg: Message) {
        if !msg.is_request() {
            warn!("send_request called with a response; dropped");
            return;
        }
        let (mut transport, addr) = match &target {
            Target::Memory(_) => (Transport::Memory, None),
            Target::Net(t, a) => (*t, Some(*a)),
            Target::TlsNamed(a, _) => (Transport::Tls, Some(*a)),
        };
        let mut bytes = stamp_sent_by(&msg, transport, &self.sent_by(transport, addr));
        if transport == Transport::Udp && bytes.len() > UDP_MAX_REQUEST {
            // RFC 3261 §18.1.1: a large request goes over a congestion-controlled transport.
            debug!(
                len = bytes.len(),
                ?addr,
                "request too large for UDP; using TCP"
            );
            transport = Transport::Tcp;
            bytes = stamp_sent_by(&msg, transport, &self.sent_by(transport, addr));
        }
        let stamped = match Message::parse_with(bytes.clone(), &self.shared.limits) {
            Ok(m) => m,
            Err(e) => {
                let failure = Failure::Refused(format!("does not parse once stamped: {e}"));
                self.role.on_request_failed(&msg, &failure, &self.handle);
                return;
            }
        };
        let hop = Hop::To(target, transport);
        if stamped.method() == Some(&Method::Ack) {
            self.layer
                .send_stateless(bytes, hop, transport.is_reliable());
            return;
        }
        match self
            .layer
            .send_request(now(), stamped.clone(), hop, transport.is_reliable())
        {
            Ok(key) => {
                self.clients.insert(key, ClientInfo { request: stamped });
            }
            Err(e) => {
                let failure = Failure::Refused(e.to_string());
                self.role
                    .on_request_failed(&stamped, &failure, &self.handle);
            }
        }
    }

    fn send_response(&mut self, key: Option<TransactionKey>, peer: Peer, msg: Message) {
        if msg.is_request() {
            warn!("send_response called with a request; dropped");
            return;
        }
        if let Some(key) = key {
            match self.layer.send_response(now(), key, msg.clone()) {
                Ok(()) => return,
                // Gone (abandoned, or the TU answers twice): fall back to stateless.
                Err(e) => debug!(%key, %e, "response sent statelessly"),
            }
        }
        let dest = response_addr(&msg.top_via(), peer.transport).unwrap_or(peer.addr);
        let reliable = peer.transport.is_reliable();
        let payload = Bytes::copy_from_slice(msg.as_bytes());
        self.layer
            .send_stateless(payload, Hop::Back { peer, dest }, reliable);
    }

    /// Writes one message to where `hop` says.
    async fn transmit(
        &mut self,
        hop: Hop,
        bytes: Bytes,
        key: Option<TransactionKey>,
    ) -> Result<(), String> {
        match hop {
            Hop::Back { peer, dest } => match peer.transport {
                Transport::Memory => {
                    let to = peer.name.clone().unwrap_or_else(|| "".into());
                    self.send_memory(&to, bytes)
                }
                Transport::Udp => {
                    self.send_net(Transport::Udp, dest, peer.flow, bytes, None, key)
                        .await
                }
                t => {
                    // Same connection when it is still open (RFC 3261 §18.2.2), else a
                    // new one to received/port.
                    if let Some(f) = peer.flow.and_then(|f| self.flows.get(&f)) {
                        match f.tx.try_send(bytes.clone()) {
                            Ok(()) => return Ok(()),
                            Err(mpsc::error::TrySendError::Full(_)) => {
                                return Err(format!("connection to {} is congested", peer.addr));
                            }
                            Err(mpsc::error::TrySendError::Closed(_)) => {}
                        }
                    }
                    self.send_net(t, dest, None, bytes, None, key).await
                }
            },
            Hop::To(target, transport) => match &target {
                Target::Memory(name) => self.send_memory(&name.clone(), bytes),
                Target::Net(_, addr) | Target::TlsNamed(addr, _) => {
                    let addr = *addr;
                    self.send_net(transport, addr, None, bytes, Some(&target), key)
                        .await
                }
            },
        }
    }

    /// Sends bytes over the network: UDP from the socket `via_flow` (else one of the right
    /// family), TCP/TLS over a pooled connection or a new one. A connection that fails later
    /// reports to the transactions that queued on it.
    async fn send_net(
        &mut self,
        transport: Transport,
        dest: SocketAddr,
        via_flow: Option<FlowId>,
        mut bytes: Bytes,
        target: Option<&Target>,
        key: Option<TransactionKey>,
    ) -> Result<(), String> {
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
                })
                .ok_or_else(|| format!("no UDP socket for {dest}"))?;
            return sock
                .sock
                .send_to(&bytes, dest)
                .await
                .map(|_| ())
                .map_err(|e| format!("UDP to {dest}: {e}"));
        }
        if let Some(&flow) = self.pool.get(&(transport, dest)) {
            if let Some(f) = self.flows.get_mut(&flow) {
                match f.tx.try_send(bytes) {
                    Ok(()) => {
                        if let Some(k) = key {
                            if !f.established && !f.keys.contains(&k) {
                                f.keys.push(k);
                            }
                        }
                        return Ok(());
                    }
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        return Err(format!("connection to {dest} is congested"));
                    }
                    // Closing (its FlowDown is still queued): open a new one.
                    Err(mpsc::error::TrySendError::Closed(b)) => bytes = b,
                }
            }
        }
        let tls = if transport == Transport::Tls {
            let connector = self
                .tls_client
                .clone()
                .ok_or("no TLS client configuration")?;
            let name = match target {
                Some(Target::TlsNamed(_, host)) => {
                    rustls::pki_types::ServerName::try_from(host.to_string())
                        .map_err(|e| format!("bad TLS server name {host:?}: {e}"))?
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
                keys: key.into_iter().collect(),
                established: false,
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
        Ok(())
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn hop_peer(hop: Hop) -> Peer {
    match hop {
        Hop::Back { peer, .. } => peer,
        Hop::To(target, transport) => Peer {
            transport,
            addr: match &target {
                Target::Net(_, a) | Target::TlsNamed(a, _) => *a,
                Target::Memory(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
            },
            flow: None,
            name: match target {
                Target::Memory(n) => Some(n),
                _ => None,
            },
        },
    }
}

fn hop_target(hop: &Hop) -> Target {
    match hop {
        Hop::Back { peer, dest } => match &peer.name {
            Some(n) => Target::Memory(n.clone()),
            None => Target::Net(peer.transport, *dest),
        },
        Hop::To(target, _) => target.clone(),
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}
