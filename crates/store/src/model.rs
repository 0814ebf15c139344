//! The records the store keeps and hands back: users with their credentials and aliases,
//! and location-service bindings with the operations of one REGISTER. Plain data, no I/O;
//! times are unix seconds supplied by the caller.

use std::fmt;

use cpm_sip::digest::{self, Algorithm};

/// One digest credential: HA1 = H(username ":" realm ":" password) for one algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The digest algorithm HA1 was computed with.
    pub algorithm: Algorithm,
    /// The realm HA1 was computed for (usually the domain).
    pub realm: String,
    /// Lower-case hex HA1.
    pub ha1: String,
}

impl Credential {
    /// Computes the credential for one algorithm from a password (which is not kept).
    pub fn from_password(
        algorithm: Algorithm,
        username: &str,
        realm: &str,
        password: &str,
    ) -> Self {
        Credential {
            algorithm,
            realm: realm.to_owned(),
            ha1: digest::ha1(algorithm, username, realm, password),
        }
    }

    /// MD5 and SHA-256 credentials from a password: what `cpm user add` stores.
    pub fn all_from_password(username: &str, realm: &str, password: &str) -> Vec<Credential> {
        [Algorithm::Md5, Algorithm::Sha256]
            .into_iter()
            .map(|a| Credential::from_password(a, username, realm, password))
            .collect()
    }
}

/// A user to create with [`Store::add_user`](crate::Store::add_user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// User part of the AOR (case-sensitive).
    pub username: String,
    /// Domain of the AOR (stored lower-case).
    pub domain: String,
    /// Display name, if any.
    pub display_name: Option<String>,
    /// E.164 aliases, normalised on insert.
    pub aliases: Vec<String>,
    /// Digest credentials, at most one per algorithm.
    pub credentials: Vec<Credential>,
    /// Whether the user may register and send.
    pub enabled: bool,
    /// Creation time, unix seconds.
    pub created_at: i64,
}

impl NewUser {
    /// An enabled user with no display name, aliases or credentials.
    pub fn new(username: impl Into<String>, domain: impl Into<String>, created_at: i64) -> Self {
        NewUser {
            username: username.into(),
            domain: domain.into(),
            display_name: None,
            aliases: Vec::new(),
            credentials: Vec::new(),
            enabled: true,
            created_at,
        }
    }

    /// Sets the display name.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Adds an E.164 alias.
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.aliases.push(alias.into());
        self
    }

    /// Replaces the credentials with MD5 and SHA-256 HA1s of `password` in `realm`.
    pub fn password(mut self, realm: &str, password: &str) -> Self {
        self.credentials = Credential::all_from_password(&self.username, realm, password);
        self
    }

    /// Sets the enabled flag.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Canonical address of record, `sip:NAME@domain`.
    pub aor: String,
    /// User part of the AOR.
    pub username: String,
    /// Domain of the AOR, lower-case.
    pub domain: String,
    /// Display name, if any.
    pub display_name: Option<String>,
    /// Normalised E.164 aliases, sorted.
    pub aliases: Vec<String>,
    /// Digest credentials, MD5 first.
    pub credentials: Vec<Credential>,
    /// Whether the user may register and send.
    pub enabled: bool,
    /// Creation time, unix seconds.
    pub created_at: i64,
}

impl User {
    /// The credential for `algorithm`, if one is stored.
    pub fn credential(&self, algorithm: Algorithm) -> Option<&Credential> {
        self.credentials.iter().find(|c| c.algorithm == algorithm)
    }
}

/// What identifies a binding within an AOR.
///
/// RFC 5626 §6: with `+sip.instance` and `reg-id` the flow is the key; RFC 5627: with only
/// `+sip.instance` the instance is; otherwise the Contact URI (RFC 3261 §10.3 step 7). The
/// store compares Contact URIs as strings: the registrar passes them in one canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BindingKey {
    /// `+sip.instance` (and `reg-id` for an outbound flow).
    Instance {
        /// The `+sip.instance` value as received (for example `"<urn:uuid:…>"`).
        instance: String,
        /// The RFC 5626 `reg-id`, if any.
        reg_id: Option<u32>,
    },
    /// The Contact URI.
    Contact(String),
}

impl BindingKey {
    /// The key as stored: `instance:<id>[;reg-id=N]` or `contact:<uri>`.
    pub fn encode(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for BindingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindingKey::Instance {
                instance,
                reg_id: Some(r),
            } => write!(f, "instance:{instance};reg-id={r}"),
            BindingKey::Instance {
                instance,
                reg_id: None,
            } => write!(f, "instance:{instance}"),
            BindingKey::Contact(uri) => write!(f, "contact:{uri}"),
        }
    }
}

/// One registered contact of an AOR (a location-service entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Canonical AOR the contact is bound to.
    pub aor: String,
    /// The Contact URI (without the `<>` and header parameters).
    pub contact: String,
    /// `+sip.instance` (RFC 5626/5627), as received.
    pub instance: Option<String>,
    /// `reg-id` (RFC 5626); only part of the key together with `instance`.
    pub reg_id: Option<u32>,
    /// q-value in thousandths (`q=0.5` is 500), 0..=1000; `None` when the Contact had none.
    pub q: Option<u16>,
    /// When the binding expires, unix seconds.
    pub expires_at: i64,
    /// Call-ID of the REGISTER that last wrote the binding.
    pub call_id: String,
    /// CSeq number of that REGISTER.
    pub cseq: u32,
    /// Path header values (RFC 3327), in order, each as received.
    pub path: Vec<String>,
    /// Where the REGISTER came from: transport and source address (for example
    /// `udp:192.0.2.1:5060`), used to reach the contact over the same flow.
    pub received: Option<String>,
    /// The User-Agent header of the REGISTER.
    pub user_agent: Option<String>,
    /// When the binding was last written, unix seconds (set by the store to `now`).
    pub updated_at: i64,
}

impl Binding {
    /// A binding with no instance, q, Path, source or User-Agent; `updated_at` is set on write.
    pub fn new(
        aor: impl Into<String>,
        contact: impl Into<String>,
        expires_at: i64,
        call_id: impl Into<String>,
        cseq: u32,
    ) -> Self {
        Binding {
            aor: aor.into(),
            contact: contact.into(),
            instance: None,
            reg_id: None,
            q: None,
            expires_at,
            call_id: call_id.into(),
            cseq,
            path: Vec::new(),
            received: None,
            user_agent: None,
            updated_at: 0,
        }
    }

    /// The key this binding is stored under.
    pub fn key(&self) -> BindingKey {
        match &self.instance {
            Some(instance) => BindingKey::Instance {
                instance: instance.clone(),
                reg_id: self.reg_id,
            },
            None => BindingKey::Contact(self.contact.clone()),
        }
    }

    /// Seconds left at `now` (0 once expired): the `expires` to put in a 200 OK Contact.
    pub fn expires_in(&self, now: i64) -> u64 {
        u64::try_from(self.expires_at.saturating_sub(now)).unwrap_or(0)
    }

    /// Whether the binding is still live at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at > now
    }
}

/// One change requested by a REGISTER, applied by
/// [`Store::apply_register`](crate::Store::apply_register).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingOp {
    /// Add or refresh a binding (Contact with a non-zero expiry).
    Upsert(Binding),
    /// Remove one binding (Contact with expires 0).
    Remove {
        /// Which binding.
        key: BindingKey,
        /// The request's Call-ID.
        call_id: String,
        /// The request's CSeq number.
        cseq: u32,
    },
    /// Remove every binding of the AOR (`Contact: *` with `Expires: 0`, RFC 3261 §10.3 step 6).
    RemoveAll {
        /// The request's Call-ID.
        call_id: String,
        /// The request's CSeq number.
        cseq: u32,
    },
}

/// What one REGISTER changed, for the 200 OK and for registration-event notifications.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterOutcome {
    /// Bindings that did not exist (or had expired) before.
    pub created: Vec<Binding>,
    /// Bindings that replaced a live one, as now stored.
    pub refreshed: Vec<Binding>,
    /// Bindings removed, as they were stored.
    pub removed: Vec<Binding>,
    /// All live bindings of the AOR afterwards: the Contact list of the 200 OK.
    pub bindings: Vec<Binding>,
}
