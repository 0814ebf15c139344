//! Counters of the SIP/IP Core: what it decided, by kind, for logs, metrics and tests.
//! Lock-free for the fixed counters; interworking routes are counted by rule name.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident: $doc:literal),* $(,)?) => {
        /// Counters of one core (see each field).
        #[derive(Debug, Default)]
        pub struct CoreStats {
            $(#[doc = $doc] pub $name: AtomicU64,)*
            routes: Mutex<BTreeMap<String, u64>>,
        }

        impl CoreStats {
            /// Every counter by name (`routed_<rule>` for interworking routes), sorted.
            pub fn snapshot(&self) -> Vec<(String, u64)> {
                let mut out = vec![$((stringify!($name).to_string(), self.$name.load(Ordering::Relaxed)),)*];
                let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
                out.extend(routes.iter().map(|(k, v)| (format!("routed_{k}"), *v)));
                out.sort();
                out
            }
        }
    };
}

counters! {
    requests: "Requests received (ACK and CANCEL included).",
    registers_ok: "REGISTERs answered 2xx.",
    registers_failed: "REGISTERs answered with an error other than 401.",
    challenges: "401/407 challenges sent.",
    auth_failures: "Wrong credentials presented.",
    pike_blocked: "Requests refused with 403 because their source is throttled.",
    forwarded: "Requests forwarded (each fork branch counts).",
    to_application_server: "Requests sent to an application server by a trigger.",
    to_contacts: "Requests forked to registered contacts (counted per request).",
    not_found: "404: no such user and no route.",
    unavailable: "480: the user has no registered device.",
    loops: "482: loops detected.",
    too_many_hops: "483: Max-Forwards exhausted.",
    unsupported_scheme: "416: unsupported URI scheme.",
    responses_forwarded: "Responses relayed upstream.",
    as_default_handling: "Application servers that did not answer (default handling applied).",
    third_party_registers: "Third-party REGISTERs sent to application servers.",
}

impl CoreStats {
    /// Adds one to a counter.
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one interworking routing decision by rule name.
    pub(crate) fn routed(&self, rule: &str) {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        *routes.entry(rule.to_string()).or_default() += 1;
    }

    /// The value of one counter by its snapshot name (0 when unknown).
    pub fn get(&self, name: &str) -> u64 {
        self.snapshot()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .unwrap_or(0)
    }
}
