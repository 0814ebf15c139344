//! The in-memory transport: endpoints in one process register a name with a [`MemoryHub`]
//! and exchange serialized SIP messages through it. The receiver parses them exactly as it
//! parses a UDP datagram, so roles in one process and roles on different hosts run the same
//! code (design principle 1).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

/// One message on the in-memory transport: its bytes and the sending endpoint's name.
#[derive(Debug)]
pub(crate) struct MemoryDatagram {
    pub(crate) bytes: Bytes,
    pub(crate) from: Arc<str>,
}

/// A registry of in-process endpoints by name. Clones share the registry.
#[derive(Debug, Clone, Default)]
pub struct MemoryHub {
    inner: Arc<Mutex<HashMap<Arc<str>, mpsc::UnboundedSender<MemoryDatagram>>>>,
}

impl MemoryHub {
    /// An empty hub.
    pub fn new() -> MemoryHub {
        MemoryHub::default()
    }

    /// Registers `name`; false when the name is taken by a live endpoint.
    pub(crate) fn register(
        &self,
        name: Arc<str>,
        tx: mpsc::UnboundedSender<MemoryDatagram>,
    ) -> bool {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(&name).is_some_and(|old| !old.is_closed()) {
            return false;
        }
        map.insert(name, tx);
        true
    }

    /// Removes `name`.
    pub(crate) fn unregister(&self, name: &str) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(name);
    }

    /// Hands `bytes` to the endpoint called `to`; false when there is none.
    pub(crate) fn deliver(&self, to: &str, from: Arc<str>, bytes: Bytes) -> bool {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.get(to)
            .is_some_and(|tx| tx.send(MemoryDatagram { bytes, from }).is_ok())
    }

    /// The names of the registered endpoints, sorted.
    pub fn names(&self) -> Vec<String> {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<String> = map.keys().map(|k| k.to_string()).collect();
        v.sort();
        v
    }
}
