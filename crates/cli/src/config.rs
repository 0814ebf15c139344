//! The TOML configuration of `cpm` (`--config FILE`), its embedded defaults, command-line
//! overrides, validation with errors that name the file, line and key, and the mapping onto
//! [`CoreSettings`] for the SIP/IP Core.
//!
//! Order of precedence: command-line flags, then the file, then the embedded defaults (the
//! defaults of `cpm-core` and `cpm-node`, so there is one source of truth). The reference is
//! `docs/configuration.md`; `docs/cpm.sample.toml` is a commented example (`cpm config
//! sample` prints it).
//!
//! Use: [`load`] (parse, apply [`Overrides`], validate), then [`Config::resolve_secret`]
//! (read or create `DATA/secret` when the file gives no secret), then
//! [`Config::core_settings`].

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write as _;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use cpm_core::RegistrarConfig;
use cpm_core::routing::{Match, Rule};
use cpm_core::triggers::{DefaultHandling, SessionCase, Trigger};
use cpm_node::sipcore::{CoreSettings, PikeSettings, TrustedPeer};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The commented sample configuration, printed by `cpm config sample`.
pub(crate) const SAMPLE: &str = include_str!("../../../docs/cpm.sample.toml");

/// Name of the generated secret in the data directory.
pub(crate) const SECRET_FILE: &str = "secret";

/// Shortest accepted `core.secret`, bytes.
const MIN_SECRET_LEN: usize = 16;

// ---------------------------------------------------------------------------------------
// The file, as written (also what `cpm config check` prints, with defaults filled in).
// ---------------------------------------------------------------------------------------

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct File {
    /// `[sip]`: the SIP endpoint.
    pub(crate) sip: SipSection,
    /// `[core]`: the SIP/IP Core.
    pub(crate) core: CoreSection,
}

/// `[sip]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct SipSection {
    /// Address for SIP over UDP and TCP (both bound on it).
    pub(crate) listen: SocketAddr,
    /// Address for SIP over TLS, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tls: Option<SocketAddr>,
    /// PEM certificate chain for `tls` (relative paths are relative to the config file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cert: Option<Spanned<PathBuf>>,
    /// PEM private key for `tls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<Spanned<PathBuf>>,
    /// Host written in Via sent-by instead of the bound address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) advertise: Option<Spanned<String>>,
    /// Seconds a TCP/TLS connection may stay without traffic.
    pub(crate) idle_timeout_secs: Spanned<u64>,
}

impl Default for SipSection {
    fn default() -> Self {
        SipSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            tls: None,
            cert: None,
            key: None,
            advertise: None,
            idle_timeout_secs: unspanned(300),
        }
    }
}

/// `[core]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct CoreSection {
    /// Domains served; the first is the default domain of `cpm user add`.
    pub(crate) domains: Spanned<Vec<Spanned<String>>>,
    /// Digest realm; the first domain when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) realm: Option<Spanned<String>>,
    /// Key for nonces and Route tokens; `DATA/secret` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) secret: Option<Spanned<String>>,
    /// Challenge requests from untrusted sources.
    pub(crate) authenticate: bool,
    /// Record-Route dialog-creating requests.
    pub(crate) record_route: bool,
    /// Trusted peers: `ADDR[/BITS]`, `tls:NAME`, `memory:NAME`.
    pub(crate) trusted: Vec<Spanned<String>>,
    /// Milliseconds an application server gets before default handling applies.
    pub(crate) as_timeout_ms: Spanned<u64>,
    /// `[core.registrar]`.
    pub(crate) registrar: RegistrarSection,
    /// `[core.pike]`.
    pub(crate) pike: PikeSection,
    /// `[[core.trigger]]`.
    #[serde(rename = "trigger", skip_serializing_if = "Vec::is_empty")]
    pub(crate) triggers: Vec<TriggerSection>,
    /// `[[core.route]]`.
    #[serde(rename = "route", skip_serializing_if = "Vec::is_empty")]
    pub(crate) routes: Vec<RouteSection>,
}

impl Default for CoreSection {
    fn default() -> Self {
        let d = CoreSettings::default();
        CoreSection {
            domains: unspanned(d.domains.into_iter().map(unspanned).collect()),
            realm: None,
            secret: None,
            authenticate: d.authenticate,
            record_route: d.record_route,
            trusted: Vec::new(),
            as_timeout_ms: unspanned(u64::try_from(d.as_timeout.as_millis()).unwrap_or(u64::MAX)),
            registrar: RegistrarSection::default(),
            pike: PikeSection::default(),
            triggers: Vec::new(),
            routes: Vec::new(),
        }
    }
}

/// `[core.registrar]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RegistrarSection {
    /// Shortest accepted registration, seconds.
    pub(crate) min_expires: Spanned<u32>,
    /// Longest granted registration, seconds.
    pub(crate) max_expires: Spanned<u32>,
    /// Registration time when the request names none, seconds.
    pub(crate) default_expires: Spanned<u32>,
    /// How long a nonce stays fresh, seconds.
    pub(crate) nonce_lifetime: Spanned<u64>,
    /// Digest algorithms challenged with, most preferred first.
    pub(crate) digest_algorithms: Spanned<Vec<String>>,
}

impl Default for RegistrarSection {
    fn default() -> Self {
        let d = RegistrarConfig::default();
        RegistrarSection {
            min_expires: unspanned(d.min_expires),
            max_expires: unspanned(d.max_expires),
            default_expires: unspanned(d.default_expires),
            nonce_lifetime: unspanned(d.nonce_lifetime),
            digest_algorithms: unspanned(vec!["SHA-256".into(), "MD5".into()]),
        }
    }
}

/// `[core.pike]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct PikeSection {
    /// Authentication failures tolerated within the window.
    pub(crate) max_failures: Spanned<u32>,
    /// The counting window, seconds.
    pub(crate) window_secs: Spanned<u64>,
    /// How long a blocked source stays blocked, seconds.
    pub(crate) block_secs: Spanned<u64>,
}

impl Default for PikeSection {
    fn default() -> Self {
        let d = PikeSettings::default();
        PikeSection {
            max_failures: unspanned(d.max_failures),
            window_secs: unspanned(d.window.as_secs()),
            block_secs: unspanned(d.block_for.as_secs()),
        }
    }
}

/// One `[[core.trigger]]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TriggerSection {
    /// Lower runs first; unique.
    pub(crate) priority: Spanned<u32>,
    /// Methods (upper case); empty or absent: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) methods: Vec<Spanned<String>>,
    /// The service identifier the request must ask for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) icsi: Option<Spanned<String>>,
    /// Session cases it applies to.
    pub(crate) session_cases: Spanned<Vec<SessionCaseName>>,
    /// The application server's SIP URI.
    pub(crate) server: Spanned<String>,
    /// When the server does not answer.
    #[serde(default)]
    pub(crate) default_handling: DefaultHandlingName,
}

/// A session case as written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum SessionCaseName {
    /// Requests from a served user.
    Originating,
    /// Requests to a served user with a registered device.
    TerminatingRegistered,
    /// Requests to a served user with no registered device.
    TerminatingUnregistered,
}

impl From<SessionCaseName> for SessionCase {
    fn from(c: SessionCaseName) -> SessionCase {
        match c {
            SessionCaseName::Originating => SessionCase::Originating,
            SessionCaseName::TerminatingRegistered => SessionCase::TerminatingRegistered,
            SessionCaseName::TerminatingUnregistered => SessionCase::TerminatingUnregistered,
        }
    }
}

/// A default handling as written in the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum DefaultHandlingName {
    /// Carry on without the server.
    #[default]
    Continue,
    /// Fail the request.
    Terminate,
}

impl From<DefaultHandlingName> for DefaultHandling {
    fn from(d: DefaultHandlingName) -> DefaultHandling {
        match d {
            DefaultHandlingName::Continue => DefaultHandling::Continue,
            DefaultHandlingName::Terminate => DefaultHandling::Terminate,
        }
    }
}

/// One `[[core.route]]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteSection {
    /// A name for logs and metrics.
    pub(crate) name: Spanned<String>,
    /// URI scheme to match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scheme: Option<Spanned<String>>,
    /// Domain to match: exact or `*.suffix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) domain: Option<Spanned<String>>,
    /// E.164 prefix including `+`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) number_prefix: Option<Spanned<String>>,
    /// The target element's SIP URI.
    pub(crate) target: Spanned<String>,
}

/// A value that did not come from the file (a default or a command-line flag).
fn unspanned<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// A configuration that parsed but is wrong, or did not parse: names the file, and the line,
/// column and source line when the fault is in the file.
#[derive(Debug)]
pub(crate) struct ConfigError {
    /// The file, or `command line` for a bad flag.
    pub(crate) origin: String,
    /// 1-based line and column, and the text of that line.
    pub(crate) location: Option<(usize, usize, String)>,
    /// What is wrong.
    pub(crate) message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some((line, col, text)) => {
                write!(f, "{}:{line}:{col}: {}", self.origin, self.message)?;
                let gutter = line.to_string();
                let pad = " ".repeat(gutter.len());
                let caret_pad: String = text
                    .chars()
                    .take(col.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                write!(f, "\n {pad} |\n {gutter} | {text}\n {pad} | {caret_pad}^")
            }
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Builds [`ConfigError`]s for one source text.
struct Source<'a> {
    origin: String,
    text: &'a str,
}

impl Source<'_> {
    fn error(&self, span: Option<Range<usize>>, message: impl Into<String>) -> ConfigError {
        let location = span.filter(|s| !s.is_empty() || s.start > 0).map(|s| {
            let start = s.start.min(self.text.len());
            let before = &self.text[..start];
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let col = self.text[line_start..start].chars().count() + 1;
            let text = self.text[line_start..]
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            (line, col, text)
        });
        let origin = if location.is_some() {
            self.origin.clone()
        } else {
            format!("{} (a default or command-line value)", self.origin)
        };
        ConfigError {
            origin,
            location,
            message: message.into(),
        }
    }

    fn at<T>(&self, value: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        self.error(Some(value.span()), message)
    }
}

/// Rewrites serde's wording into the file's vocabulary.
fn parse_message(raw: &str) -> String {
    let msg = raw.trim_end();
    match msg.strip_prefix("unknown field ") {
        Some(rest) => {
            let rest = rest.replacen(", expected one of ", "; the keys allowed here are ", 1);
            let rest = rest.replacen(", expected ", "; the key allowed here is ", 1);
            format!("unknown key {rest}")
        }
        None => match msg.strip_prefix("missing field ") {
            Some(rest) => format!("missing key {rest}"),
            None => msg.to_string(),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------

/// Command-line values that take precedence over the file (`cpm serve` flags).
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    /// `--domain`: replace the embedded default domain (`localhost`), or, when the file lists
    /// `core.domains`, are added after them.
    pub(crate) domains: Vec<String>,
    /// `--sip`: `sip.listen`.
    pub(crate) sip: Option<SocketAddr>,
    /// `--tls`: `sip.tls`.
    pub(crate) tls: Option<SocketAddr>,
    /// `--cert`: `sip.cert`.
    pub(crate) cert: Option<PathBuf>,
    /// `--key`: `sip.key`.
    pub(crate) key: Option<PathBuf>,
    /// `--advertise`: `sip.advertise`.
    pub(crate) advertise: Option<String>,
    /// `--idle-timeout`: `sip.idle_timeout_secs`.
    pub(crate) idle_timeout_secs: Option<u64>,
}

/// Where the shared secret came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretSource {
    /// `core.secret` in the file.
    File,
    /// Read from `DATA/secret`.
    DataDir(PathBuf),
    /// Generated into `DATA/secret` just now.
    Generated(PathBuf),
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The config file, `None` for the embedded defaults.
    pub(crate) path: Option<PathBuf>,
    /// The effective values, as the file would say them (command-line overrides applied,
    /// defaults filled in, relative paths resolved).
    pub(crate) file: File,
    /// Whether `core.domains` came from the file (rather than the embedded default).
    domains_configured: bool,
    trusted: Vec<TrustedPeer>,
    triggers: Vec<Trigger>,
    routes: Vec<Rule>,
    secret: Option<(Vec<u8>, SecretSource)>,
}

/// Loads `path` (or the embedded defaults), applies `overrides` and validates the result.
///
/// Errors in the file or the overrides are a [`ConfigError`] (downcast to tell them from an
/// unreadable file).
pub(crate) fn load(path: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
    let (origin, text) = match path {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the configuration file {}", p.display()))?,
        ),
        None => ("embedded defaults".to_string(), String::new()),
    };
    let src = Source {
        origin,
        text: &text,
    };
    let mut file: File =
        toml::from_str(&text).map_err(|e| src.error(e.span(), parse_message(e.message())))?;
    let domains_configured = !file.core.domains.span().is_empty();
    apply_overrides(&mut file, overrides, domains_configured, path)?;
    let mut config = validate(&src, file)?;
    config.path = path.map(Path::to_path_buf);
    config.domains_configured = domains_configured;
    Ok(config)
}

fn apply_overrides(
    file: &mut File,
    o: &Overrides,
    domains_configured: bool,
    path: Option<&Path>,
) -> Result<(), ConfigError> {
    let flag_error = |flag: &str, message: String| ConfigError {
        origin: format!("command line {flag}"),
        location: None,
        message,
    };
    if !o.domains.is_empty() {
        let domains = file.core.domains.get_mut();
        if !domains_configured {
            domains.clear();
        }
        for d in &o.domains {
            let d = check_domain(d).map_err(|m| flag_error("--domain", m))?;
            if !domains.iter().any(|x| *x.get_ref() == d) {
                domains.push(unspanned(d));
            }
        }
    }
    // Paths in the file are relative to the file; paths on the command line to the
    // working directory.
    if let Some(dir) = path.and_then(Path::parent) {
        for p in [&mut file.sip.cert, &mut file.sip.key]
            .into_iter()
            .flatten()
        {
            if p.get_ref().is_relative() {
                let abs = dir.join(p.get_ref());
                *p.get_mut() = abs;
            }
        }
    }
    let s = &mut file.sip;
    if let Some(a) = o.sip {
        s.listen = a;
    }
    if let Some(a) = o.tls {
        s.tls = Some(a);
    }
    if let Some(c) = &o.cert {
        s.cert = Some(unspanned(c.clone()));
    }
    if let Some(k) = &o.key {
        s.key = Some(unspanned(k.clone()));
    }
    if let Some(a) = &o.advertise {
        s.advertise = Some(unspanned(a.clone()));
    }
    if let Some(t) = o.idle_timeout_secs {
        s.idle_timeout_secs = unspanned(t);
    }
    Ok(())
}

/// Checks a domain and returns it lower-cased.
fn check_domain(d: &str) -> Result<String, String> {
    cpm_store::normalize_user("x", d)
        .map(|(_, d)| d)
        .map_err(|e| match e {
            cpm_store::StoreError::InvalidAor { reason, .. } => {
                format!("invalid domain {d:?}: {reason}")
            }
            other => format!("invalid domain {d:?}: {other}"),
        })
}

/// Checks a `sip:`/`sips:` URI.
fn check_sip_uri(u: &str) -> Result<(), String> {
    let uri = cpm_sip::Uri::parse(u).map_err(|e| format!("{u:?} is not a valid URI: {e}"))?;
    if !uri.is_sip() {
        return Err(format!("{u:?} must be a sip: or sips: URI"));
    }
    if uri.host().is_empty() {
        return Err(format!("{u:?} has no host"));
    }
    Ok(())
}

fn validate(src: &Source<'_>, mut file: File) -> Result<Config, ConfigError> {
    // [sip]
    let s = &file.sip;
    if s.tls.is_none() {
        if let Some(c) = s.cert.as_ref().or(s.key.as_ref()) {
            return Err(src.at(
                c,
                "sip.cert and sip.key need sip.tls (the TLS listen address)",
            ));
        }
    }
    match (&s.cert, &s.key) {
        (Some(c), None) => return Err(src.at(c, "sip.cert needs sip.key as well")),
        (None, Some(k)) => return Err(src.at(k, "sip.key needs sip.cert as well")),
        _ => {}
    }
    if let Some(a) = &s.advertise {
        let a_str = a.get_ref();
        if a_str.is_empty() || a_str.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(src.at(
                a,
                format!("sip.advertise {a_str:?} must be a host name or address"),
            ));
        }
    }
    if *s.idle_timeout_secs.get_ref() == 0 {
        return Err(src.at(
            &s.idle_timeout_secs,
            "sip.idle_timeout_secs must be at least 1",
        ));
    }

    // [core]
    let c = &mut file.core;
    if c.domains.get_ref().is_empty() {
        return Err(src.at(&c.domains, "core.domains must name at least one domain"));
    }
    let mut seen = BTreeSet::new();
    for d in c.domains.get_mut() {
        let lower = check_domain(d.get_ref()).map_err(|m| src.at(d, m))?;
        if !seen.insert(lower.clone()) {
            return Err(src.at(
                d,
                format!("domain {lower:?} is listed twice in core.domains"),
            ));
        }
        *d.get_mut() = lower;
    }
    if let Some(r) = &c.realm {
        let v = r.get_ref();
        if v.is_empty()
            || v.chars()
                .any(|ch| ch == '"' || ch == '\\' || ch.is_control())
        {
            return Err(src.at(
                r,
                format!("core.realm {v:?} must be non-empty, without quotes, backslashes or control characters"),
            ));
        }
    }
    if let Some(sec) = &c.secret {
        if sec.get_ref().len() < MIN_SECRET_LEN {
            return Err(src.at(
                sec,
                format!("core.secret must be at least {MIN_SECRET_LEN} bytes (or leave it out: cpm then generates DATA/{SECRET_FILE})"),
            ));
        }
    }
    let trusted = c
        .trusted
        .iter()
        .map(|t| {
            if matches!(t.get_ref().as_str(), "tls:" | "memory:") {
                return Err(src.at(
                    t,
                    format!(
                        "trusted peer {:?} needs a name after the colon",
                        t.get_ref()
                    ),
                ));
            }
            TrustedPeer::parse(t.get_ref()).map_err(|m| src.at(t, format!("bad trusted peer {m}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if *c.as_timeout_ms.get_ref() == 0 {
        return Err(src.at(&c.as_timeout_ms, "core.as_timeout_ms must be at least 1"));
    }

    let r = &c.registrar;
    let (min, max, def) = (
        *r.min_expires.get_ref(),
        *r.max_expires.get_ref(),
        *r.default_expires.get_ref(),
    );
    if min > max {
        return Err(src.at(
            &r.min_expires,
            format!("core.registrar.min_expires ({min}) is above max_expires ({max})"),
        ));
    }
    if def < min || def > max {
        return Err(src.at(
            &r.default_expires,
            format!("core.registrar.default_expires ({def}) must lie between min_expires ({min}) and max_expires ({max})"),
        ));
    }
    if *r.nonce_lifetime.get_ref() == 0 {
        return Err(src.at(
            &r.nonce_lifetime,
            "core.registrar.nonce_lifetime must be at least 1 second",
        ));
    }
    let algs = r.digest_algorithms.get_ref();
    if algs.is_empty() {
        return Err(src.at(
            &r.digest_algorithms,
            "core.registrar.digest_algorithms needs at least one of \"SHA-256\", \"MD5\"",
        ));
    }
    for a in algs {
        if cpm_sip::digest::Algorithm::from_name(Some(a)).is_none() {
            return Err(src.at(
                &r.digest_algorithms,
                format!("core.registrar.digest_algorithms: unknown algorithm {a:?} (use \"SHA-256\" or \"MD5\")"),
            ));
        }
    }
    let p = &c.pike;
    if *p.max_failures.get_ref() == 0 {
        return Err(src.at(&p.max_failures, "core.pike.max_failures must be at least 1"));
    }
    if *p.window_secs.get_ref() == 0 {
        return Err(src.at(&p.window_secs, "core.pike.window_secs must be at least 1"));
    }

    let mut triggers = Vec::with_capacity(c.triggers.len());
    let mut priorities = BTreeSet::new();
    for t in &c.triggers {
        let prio = *t.priority.get_ref();
        if !priorities.insert(prio) {
            return Err(src.at(
                &t.priority,
                format!("two triggers have priority {prio}; priorities must be unique (a request returning from one server continues with the next higher priority)"),
            ));
        }
        for m in &t.methods {
            let v = m.get_ref();
            if !cpm_sip::is_token(v) || v.chars().any(|ch| ch.is_ascii_lowercase()) {
                return Err(src.at(
                    m,
                    format!("method {v:?} must be a SIP method in upper case (MESSAGE, INVITE …)"),
                ));
            }
        }
        if let Some(i) = &t.icsi {
            if i.get_ref().trim().is_empty() {
                return Err(src.at(
                    i,
                    "icsi must not be empty (leave it out to match any service)",
                ));
            }
        }
        if t.session_cases.get_ref().is_empty() {
            return Err(src.at(
                &t.session_cases,
                "session_cases must name at least one of \"originating\", \"terminating-registered\", \"terminating-unregistered\"",
            ));
        }
        check_sip_uri(t.server.get_ref())
            .map_err(|m| src.at(&t.server, format!("trigger server {m}")))?;
        triggers.push(Trigger {
            priority: prio,
            methods: t.methods.iter().map(|m| m.get_ref().clone()).collect(),
            icsi: t.icsi.as_ref().map(|i| i.get_ref().trim().to_string()),
            session_cases: t
                .session_cases
                .get_ref()
                .iter()
                .map(|&c| c.into())
                .collect(),
            server: t.server.get_ref().clone(),
            default_handling: t.default_handling.into(),
        });
    }

    let mut routes = Vec::with_capacity(c.routes.len());
    for r in &c.routes {
        if r.name.get_ref().trim().is_empty() {
            return Err(src.at(&r.name, "route name must not be empty"));
        }
        if let Some(s) = &r.scheme {
            let v = s.get_ref();
            let ok = v.chars().next().is_some_and(|ch| ch.is_ascii_alphabetic())
                && v.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '+' | '-' | '.'));
            if !ok {
                return Err(src.at(s, format!("route scheme {v:?} must be a URI scheme such as \"tel\", \"sip\" or \"mailto\" (without the colon)")));
            }
        }
        if let Some(d) = &r.domain {
            let v = d.get_ref();
            let host = v.strip_prefix("*.").unwrap_or(v);
            check_domain(host).map_err(|m| {
                src.at(
                    d,
                    format!("route domain: {m} (use example.com or *.example.com)"),
                )
            })?;
        }
        if let Some(n) = &r.number_prefix {
            let v = n.get_ref();
            let ok = v
                .strip_prefix('+')
                .is_some_and(|d| d.len() <= 15 && d.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return Err(src.at(n, format!("route number_prefix {v:?} must be '+' followed by up to 15 digits (\"+\" matches every E.164 number)")));
            }
        }
        check_sip_uri(r.target.get_ref())
            .map_err(|m| src.at(&r.target, format!("route target {m}")))?;
        routes.push(Rule {
            name: r.name.get_ref().trim().to_string(),
            matches: Match {
                scheme: r.scheme.as_ref().map(|s| s.get_ref().to_ascii_lowercase()),
                domain: r.domain.as_ref().map(|d| d.get_ref().to_ascii_lowercase()),
                number_prefix: r.number_prefix.as_ref().map(|n| n.get_ref().clone()),
            },
            target: r.target.get_ref().clone(),
        });
    }

    let secret = c
        .secret
        .as_ref()
        .map(|s| (s.get_ref().as_bytes().to_vec(), SecretSource::File));
    Ok(Config {
        path: None,
        file,
        domains_configured: false,
        trusted,
        triggers,
        routes,
        secret,
    })
}

// ---------------------------------------------------------------------------------------
// Using a configuration
// ---------------------------------------------------------------------------------------

impl Config {
    /// The served domains, lower-case, the default domain first.
    pub(crate) fn domains(&self) -> Vec<String> {
        self.file
            .core
            .domains
            .get_ref()
            .iter()
            .map(|d| d.get_ref().clone())
            .collect()
    }

    /// The default domain: the first of `core.domains`.
    pub(crate) fn default_domain(&self) -> String {
        self.file.core.domains.get_ref()[0].get_ref().clone()
    }

    /// The registrar's digest realm: `core.realm`, else the default domain.
    pub(crate) fn realm(&self) -> String {
        match &self.file.core.realm {
            Some(r) => r.get_ref().clone(),
            None => self.default_domain(),
        }
    }

    /// The realm to compute a user's HA1s in, and a warning when the domain is not served.
    ///
    /// Normally the registrar's realm. When neither the realm nor the domains are configured
    /// (embedded defaults), a user outside `localhost` gets their own domain as realm: that
    /// is the realm `cpm serve --domain THAT-DOMAIN` will use.
    pub(crate) fn realm_for(&self, domain: &str) -> (String, Option<String>) {
        let served = self.domains().iter().any(|d| d == domain);
        if served {
            return (self.realm(), None);
        }
        if self.file.core.realm.is_none() && !self.domains_configured {
            return (
                domain.to_string(),
                Some(format!(
                    "domain {domain} is not served by the embedded defaults; start the server with `cpm serve --domain {domain}`"
                )),
            );
        }
        let origin = self
            .path
            .as_ref()
            .map_or("the configuration".to_string(), |p| p.display().to_string());
        (
            self.realm(),
            Some(format!(
                "domain {domain} is not in core.domains of {origin}; add it there (or run `cpm serve --domain {domain}`) or the user cannot register"
            )),
        )
    }

    /// Where the secret comes from, once known.
    pub(crate) fn secret_source(&self) -> Option<&SecretSource> {
        self.secret.as_ref().map(|(_, s)| s)
    }

    /// When the file gives no `core.secret`: reads `DATA/secret`, or creates it with 32
    /// random bytes (mode 0600). Call before [`Config::core_settings`].
    pub(crate) fn resolve_secret(&mut self, data_dir: &Path) -> anyhow::Result<&SecretSource> {
        if self.secret.is_none() {
            self.secret = Some(read_or_create_secret(data_dir)?);
        }
        Ok(self.secret_source().expect("just set"))
    }

    /// Settings for the SIP/IP Core.
    ///
    /// # Panics
    /// When the file gives no secret and [`Config::resolve_secret`] was not called.
    pub(crate) fn core_settings(&self) -> CoreSettings {
        let c = &self.file.core;
        let domains = self.domains();
        let (secret, _) = self
            .secret
            .as_ref()
            .expect("Config::resolve_secret must run before Config::core_settings");
        CoreSettings {
            domains: domains.clone(),
            registrar: RegistrarConfig {
                domains,
                realm: self.realm(),
                min_expires: *c.registrar.min_expires.get_ref(),
                max_expires: *c.registrar.max_expires.get_ref(),
                default_expires: *c.registrar.default_expires.get_ref(),
                nonce_lifetime: *c.registrar.nonce_lifetime.get_ref(),
                algorithms: c
                    .registrar
                    .digest_algorithms
                    .get_ref()
                    .iter()
                    .filter_map(|a| cpm_sip::digest::Algorithm::from_name(Some(a)))
                    .collect(),
            },
            secret: secret.clone(),
            triggers: self.triggers.clone(),
            routes: self.routes.clone(),
            trusted: self.trusted.clone(),
            authenticate: c.authenticate,
            record_route: c.record_route,
            pike: PikeSettings {
                max_failures: *c.pike.max_failures.get_ref(),
                window: Duration::from_secs(*c.pike.window_secs.get_ref()),
                block_for: Duration::from_secs(*c.pike.block_secs.get_ref()),
            },
            as_timeout: Duration::from_millis(*c.as_timeout_ms.get_ref()),
        }
    }

    /// The effective configuration as TOML (`cpm config check`): defaults filled in, the
    /// realm made explicit, the secret left out (a comment says where it comes from).
    pub(crate) fn to_toml(&self) -> anyhow::Result<String> {
        let mut shown = self.file.clone();
        shown.core.realm = Some(unspanned(self.realm()));
        shown.core.secret = None;
        let body = toml::to_string_pretty(&shown).context("cannot print the configuration")?;
        let origin = self
            .path
            .as_ref()
            .map_or("embedded defaults".to_string(), |p| p.display().to_string());
        let secret = match self.secret_source() {
            Some(SecretSource::File) => "core.secret is set in the file (not shown)".to_string(),
            Some(SecretSource::DataDir(p) | SecretSource::Generated(p)) => {
                format!("core.secret comes from {}", p.display())
            }
            None => format!(
                "core.secret is not set: `cpm serve` reads DATA/{SECRET_FILE} or generates it"
            ),
        };
        Ok(format!(
            "# Effective configuration (from {origin}; defaults filled in).\n# {secret}.\n\n{body}"
        ))
    }
}

/// Reads `DATA/secret`, or creates it with 32 random bytes and mode 0600.
fn read_or_create_secret(data_dir: &Path) -> anyhow::Result<(Vec<u8>, SecretSource)> {
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() >= MIN_SECRET_LEN => {
            return Ok((bytes, SecretSource::DataDir(path)));
        }
        Ok(bytes) => anyhow::bail!(
            "{} holds {} bytes, fewer than {MIN_SECRET_LEN}: delete it to have cpm generate a new one",
            path.display(),
            bytes.len()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let mut bytes = vec![0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random bytes from the OS: {e}"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut f) => {
            f.write_all(&bytes)
                .and_then(|()| f.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok((bytes, SecretSource::Generated(path)))
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok((bytes, SecretSource::DataDir(path)))
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        let src = Source {
            origin: "test.toml".into(),
            text,
        };
        let file: File = toml::from_str(text)
            .map_err(|e| src.error(e.span(), parse_message(e.message())).to_string())?;
        validate(&src, file).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_match_the_library_defaults() {
        let mut c = parse("").unwrap();
        c.secret = Some((b"0123456789abcdef".to_vec(), SecretSource::File));
        let s = c.core_settings();
        let d = CoreSettings::default();
        assert_eq!(s.domains, d.domains);
        assert_eq!(s.registrar.realm, "localhost");
        assert_eq!(s.registrar.min_expires, d.registrar.min_expires);
        assert_eq!(s.registrar.max_expires, d.registrar.max_expires);
        assert_eq!(s.pike, d.pike);
        assert_eq!(s.as_timeout, d.as_timeout);
        assert_eq!(s.authenticate, d.authenticate);
        assert!(s.triggers.is_empty() && s.routes.is_empty() && s.trusted.is_empty());
        assert_eq!(c.file.sip.listen, "127.0.0.1:5060".parse().unwrap());
    }

    #[test]
    fn maps_every_section() {
        let mut c = parse(
            r#"
[core]
domains = ["CPM.test", "other.test"]
trusted = ["10.0.0.0/8", "tls:iwf.example.com", "memory:pf"]
as_timeout_ms = 1500
authenticate = false
[core.registrar]
min_expires = 30
default_expires = 600
[core.pike]
block_secs = 9
[[core.trigger]]
priority = 10
methods = ["MESSAGE"]
icsi = "urn:urn-7:3gpp-service.ims.icsi.oma.cpm.msg"
session_cases = ["originating", "terminating-unregistered"]
server = "sip:pf@cpm.test"
default_handling = "terminate"
[[core.route]]
name = "sms"
number_prefix = "+"
target = "sip:sms-iwf@cpm.test"
"#,
        )
        .unwrap();
        c.secret = Some((b"0123456789abcdef".to_vec(), SecretSource::File));
        let s = c.core_settings();
        assert_eq!(s.domains, ["cpm.test", "other.test"]);
        assert_eq!(s.registrar.realm, "cpm.test");
        assert_eq!(s.registrar.domains, s.domains);
        assert_eq!(
            (s.registrar.min_expires, s.registrar.default_expires),
            (30, 600)
        );
        assert_eq!(s.trusted.len(), 3);
        assert_eq!(s.trusted[1], TrustedPeer::TlsName("iwf.example.com".into()));
        assert_eq!(s.as_timeout, Duration::from_millis(1500));
        assert!(!s.authenticate);
        assert_eq!(s.pike.block_for, Duration::from_secs(9));
        assert_eq!(
            s.triggers,
            [Trigger {
                priority: 10,
                methods: vec!["MESSAGE".into()],
                icsi: Some("urn:urn-7:3gpp-service.ims.icsi.oma.cpm.msg".into()),
                session_cases: vec![
                    SessionCase::Originating,
                    SessionCase::TerminatingUnregistered
                ],
                server: "sip:pf@cpm.test".into(),
                default_handling: DefaultHandling::Terminate,
            }]
        );
        assert_eq!(s.routes[0].matches.number_prefix.as_deref(), Some("+"));
        assert_eq!(s.routes[0].target, "sip:sms-iwf@cpm.test");
    }

    #[test]
    fn digest_algorithms_are_ordered_and_checked() {
        let mut c =
            parse("[core.registrar]\ndigest_algorithms = [\"md5\", \"SHA-256\"]\n").unwrap();
        c.secret = Some((b"0123456789abcdef".to_vec(), SecretSource::File));
        assert_eq!(
            c.core_settings().registrar.algorithms,
            [
                cpm_sip::digest::Algorithm::Md5,
                cpm_sip::digest::Algorithm::Sha256
            ]
        );
        let e = parse("[core.registrar]\ndigest_algorithms = [\"SHA-512\"]\n").unwrap_err();
        assert!(e.starts_with("test.toml:2:"), "{e}");
        assert!(e.contains("unknown algorithm \"SHA-512\""), "{e}");
        assert!(parse("[core.registrar]\ndigest_algorithms = []\n").is_err());
    }

    #[test]
    fn errors_name_line_and_key() {
        let e = parse("[core]\ndomains = [\"a.test\"]\nrelam = \"x\"\n").unwrap_err();
        assert!(e.starts_with("test.toml:3:1: unknown key `relam`"), "{e}");
        assert!(e.contains("`realm`"), "lists the allowed keys: {e}");
        let e = parse("[core]\ntrusted = [\"127.0.0.1/40\"]\n").unwrap_err();
        assert!(e.starts_with("test.toml:2:12: bad trusted peer"), "{e}");
        assert!(e.contains("prefix length"), "{e}");
        let e = parse(
            "[[core.trigger]]\npriority = 1\nsession_cases = [\"orig\"]\nserver = \"sip:pf@x\"\n",
        )
        .unwrap_err();
        assert!(e.starts_with("test.toml:3:"), "{e}");
        assert!(
            e.contains("unknown variant `orig`") && e.contains("terminating-registered"),
            "{e}"
        );
        let e = parse("[core.registrar]\nmin_expires = 100\ndefault_expires = 50\n").unwrap_err();
        assert!(
            e.starts_with("test.toml:3:19: core.registrar.default_expires (50)"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_priorities_and_bad_uris_are_rejected() {
        let t = |p: u32, server: &str| {
            format!(
                "[[core.trigger]]\npriority = {p}\nsession_cases = [\"originating\"]\nserver = \"{server}\"\n"
            )
        };
        let e = parse(&(t(5, "sip:a@x") + &t(5, "sip:b@x"))).unwrap_err();
        assert!(
            e.starts_with("test.toml:6:12: two triggers have priority 5"),
            "{e}"
        );
        let e = parse(&t(1, "tel:+15551230001")).unwrap_err();
        assert!(e.contains("must be a sip: or sips: URI"), "{e}");
        let e =
            parse("[[core.route]]\nname = \"x\"\nnumber_prefix = \"46\"\ntarget = \"sip:x@y\"\n")
                .unwrap_err();
        assert!(e.starts_with("test.toml:3:17: route number_prefix"), "{e}");
    }

    #[test]
    fn overrides_replace_default_domains_and_extend_configured_ones() {
        let dir = std::env::temp_dir().join(format!("cpm-config-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let o = Overrides {
            domains: vec!["B.test".into()],
            ..Overrides::default()
        };
        let c = load(None, &o).unwrap();
        assert_eq!(c.domains(), ["b.test"]);
        let f = dir.join("c.toml");
        std::fs::write(&f, "[core]\ndomains = [\"a.test\"]\n[sip]\ntls = \"127.0.0.1:5061\"\ncert = \"c.pem\"\nkey = \"k.pem\"\n").unwrap();
        let c = load(Some(&f), &o).unwrap();
        assert_eq!(c.domains(), ["a.test", "b.test"]);
        assert_eq!(c.realm(), "a.test");
        assert_eq!(
            c.file.sip.cert.as_ref().unwrap().get_ref(),
            &dir.join("c.pem")
        );
        let bad = Overrides {
            domains: vec!["a b".into()],
            ..Overrides::default()
        };
        let e = load(None, &bad).unwrap_err().to_string();
        assert!(
            e.starts_with("command line --domain: invalid domain \"a b\""),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn secret_is_generated_once_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("cpm-secret-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (a, src) = read_or_create_secret(&dir).unwrap();
        assert_eq!(a.len(), 32);
        assert!(matches!(src, SecretSource::Generated(_)));
        let (b, src) = read_or_create_secret(&dir).unwrap();
        assert_eq!(a, b);
        assert!(matches!(src, SecretSource::DataDir(_)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(SECRET_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
