//! # cpm-cpim: CPIM messages and IMDN notifications
//!
//! Owns: the `message/cpim` wrapper of RFC 3862 (header block with namespaces, the
//! encapsulated MIME headers, the content) and the IMDN of RFC 5438 (the `imdn.` CPIM
//! headers and `message/imdn+xml` documents: delivery, display and processing
//! notifications with every status value).
//!
//! Must not import: tokio, sockets, clocks, the store. Callers pass times in as text
//! (`DateTime` is RFC 3339) — this crate never reads the clock.
//!
//! XML is read and written with `quick-xml` (namespace-aware reader, writer), pinned in the
//! workspace because it breaks its API between minor versions.

mod cpim;
mod imdn;

pub use cpim::{CpimError, CpimMessage, IMDN_NS};
pub use imdn::{Disposition, DispositionRequest, Imdn, ImdnError, NotificationKind, Status};
