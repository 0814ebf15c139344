//! UDP: one receive task per bound socket. Each datagram is one message (RFC 3261 §18.3);
//! a request that fails to parse is answered from its raw lines when that is possible, a
//! malformed response is dropped (RFC 4475).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use cpm_sip::{Limits, Message};
use tokio::net::UdpSocket;
use tracing::{debug, warn};

use crate::endpoint::{Event, Shared};
use crate::error_response::error_response_for_raw;
use crate::transport::{FlowId, Peer, Transport};
use crate::via::stamp_received;

/// The outcome of reading one datagram (UDP or in-memory).
// A valid message is the common case; boxing it would add an allocation per datagram.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Datagram {
    /// A valid message (a request already stamped with received/rport).
    Message(Message),
    /// Malformed: send this answer back to the source.
    Answer(Bytes),
    /// Nothing to do (keep-alive, malformed response, unanswerable request).
    Drop,
}

/// Parses one datagram from `src` (`None` for in-memory peers, which get no `received`).
pub(crate) fn read_datagram(data: Bytes, src: Option<SocketAddr>, limits: &Limits) -> Datagram {
    if data.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Datagram::Drop; // CRLF keep-alive or padding
    }
    match Message::parse_with(data.clone(), limits) {
        Ok(m) => match src {
            Some(src) => Datagram::Message(stamp_received(m, src, limits)),
            None => Datagram::Message(m),
        },
        Err(error) => {
            let (code, reason) = error.status();
            match error_response_for_raw(&data, code, &reason) {
                Some(resp) => {
                    debug!(?src, %error, code, "answering a malformed request");
                    Datagram::Answer(resp)
                }
                None => {
                    debug!(?src, %error, "dropping a malformed message");
                    Datagram::Drop
                }
            }
        }
    }
}

/// Receives on one UDP socket until shutdown.
pub(crate) async fn run_udp(sock: Arc<UdpSocket>, flow: FlowId, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 65_536];
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (n, src) = tokio::select! {
            r = sock.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    debug!(%e, "UDP receive error");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let data = Bytes::copy_from_slice(&buf[..n]);
        match read_datagram(data, Some(src), &shared.limits) {
            Datagram::Message(m) => {
                let peer = Peer {
                    transport: Transport::Udp,
                    addr: src,
                    flow: Some(flow),
                    name: None,
                };
                if shared.events.send(Event::Inbound(m, peer)).await.is_err() {
                    return;
                }
            }
            Datagram::Answer(resp) => {
                if let Err(e) = sock.send_to(&resp, src).await {
                    warn!(%e, %src, "UDP send failed");
                }
            }
            Datagram::Drop => {}
        }
    }
}
