//! `cpm user add|list|remove|passwd`: user administration on the store in the data
//! directory. Passwords are never stored: MD5 and SHA-256 HA1s in the registrar's realm are.
//!
//! Exit status: 0 on success, 1 when the store refuses (duplicate user or alias, no such
//! user, invalid name), 2 on a usage error (bad E.164 alias, missing password) or when the
//! configuration or the store cannot be read.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use cpm_store::{StoreConfig, StoreError, User};

use crate::config::{self, Config};

/// `cpm user …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user `sip:NAME@DOMAIN` with a password and optional E.164 aliases.
    ///
    /// DOMAIN is --domain, or the part after `@` in NAME, or the first of `core.domains`
    /// (`localhost` without a configuration file). The password is stored as MD5 and SHA-256
    /// digest HA1s in the registrar's realm (`core.realm`, by default the first domain).
    Add(AddArgs),
    /// List users: address of record, aliases, enabled, credential algorithms and realm.
    List(ListArgs),
    /// Delete a user with their aliases, credentials and registrations.
    Remove(RemoveArgs),
    /// Replace a user's password.
    Passwd(PasswdArgs),
}

/// How the password is given.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub(crate) struct PasswordArgs {
    /// The password (visible in the process list and shell history: prefer --password-stdin).
    #[arg(long, value_name = "PW")]
    password: Option<String>,

    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

/// Arguments of `cpm user add`.
#[derive(Debug, clap::Args)]
pub(crate) struct AddArgs {
    /// User name (the user part of the AOR), or NAME@DOMAIN.
    #[arg(value_name = "NAME")]
    name: String,

    #[command(flatten)]
    password: PasswordArgs,

    /// Domain of the AOR (default: the first configured domain).
    #[arg(long, value_name = "DOMAIN")]
    domain: Option<String>,

    /// An E.164 alias such as +15551230001 (separators - . ( ) and spaces are dropped);
    /// repeat for several.
    #[arg(long = "tel", value_name = "+E164", value_parser = parse_e164)]
    tel: Vec<String>,

    /// Display name.
    #[arg(long, value_name = "NAME")]
    display_name: Option<String>,

    /// Create the user disabled (cannot register or send until enabled).
    #[arg(long)]
    disabled: bool,
}

/// Arguments of `cpm user list`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// Print JSON (an array of users) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `cpm user remove`.
#[derive(Debug, clap::Args)]
pub(crate) struct RemoveArgs {
    /// NAME (in the default domain), NAME@DOMAIN or sip:NAME@DOMAIN.
    #[arg(value_name = "NAME[@DOMAIN]")]
    user: String,
}

/// Arguments of `cpm user passwd`.
#[derive(Debug, clap::Args)]
pub(crate) struct PasswdArgs {
    /// NAME (in the default domain), NAME@DOMAIN or sip:NAME@DOMAIN.
    #[arg(value_name = "NAME[@DOMAIN]")]
    user: String,

    #[command(flatten)]
    password: PasswordArgs,
}

fn parse_e164(s: &str) -> Result<String, String> {
    cpm_store::normalize_alias(s).map_err(|e| match e {
        StoreError::InvalidAlias { reason, .. } => {
            format!("not an E.164 number: {reason} (for example +15551230001)")
        }
        other => other.to_string(),
    })
}

/// A failure to report with exit status 1 (the request was understood and refused).
struct Refused(String);

/// Runs one `cpm user` command.
pub(crate) fn run(
    cmd: UserCommand,
    data: &Path,
    config_path: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let config = config::load(config_path, &config::Overrides::default())?;
    let result = match cmd {
        UserCommand::Add(args) => add(args, data, &config),
        UserCommand::List(args) => list(args, data),
        UserCommand::Remove(args) => remove(args, data, &config),
        UserCommand::Passwd(args) => passwd(args, data, &config),
    };
    match result {
        Ok(Ok(())) => Ok(ExitCode::SUCCESS),
        Ok(Err(Refused(msg))) => {
            eprintln!("error: {msg}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e),
    }
}

type Outcome = anyhow::Result<Result<(), Refused>>;

fn open(data: &Path) -> anyhow::Result<std::sync::Arc<dyn cpm_store::Store>> {
    cpm_store::open(&StoreConfig::Sqlite {
        data_dir: data.to_path_buf(),
    })
    .with_context(|| format!("cannot open the store in {}", data.display()))
}

/// Maps a store error: the caller's mistakes are refusals (exit 1), the rest is a failure.
fn refuse(e: StoreError) -> anyhow::Result<Refused> {
    match e {
        StoreError::NotFound { what } => Ok(Refused(match what.strip_prefix("user ") {
            Some(aor) => format!("no such user {aor}"),
            None => format!("{what} not found"),
        })),
        e if e.is_client_error() => Ok(Refused(e.to_string())),
        e => Err(e.into()),
    }
}

fn read_password(p: PasswordArgs) -> anyhow::Result<String> {
    let pw = match p.password {
        Some(pw) => pw,
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprint!("password: ");
            }
            let mut line = String::new();
            stdin
                .lock()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            line.trim_end_matches(['\n', '\r']).to_string()
        }
    };
    if pw.is_empty() {
        bail!("the password is empty");
    }
    Ok(pw)
}

/// Splits `NAME`, `NAME@DOMAIN` or `sip:NAME@DOMAIN` into a user name and an optional domain.
fn split_user(s: &str) -> (&str, Option<&str>) {
    let s = match s.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("sip:") => &s[4..],
        _ => s,
    };
    match s.rsplit_once('@') {
        Some((user, domain)) => (user, Some(domain)),
        None => (s, None),
    }
}

/// The canonical AOR of `NAME[@DOMAIN]`, in the default domain when none is given.
fn aor_arg(s: &str, config: &Config) -> Result<(String, String, String), Refused> {
    let (user, domain) = split_user(s);
    let domain = domain.map_or_else(|| config.default_domain(), str::to_string);
    let aor = cpm_store::aor_of(user, &domain).map_err(|e| Refused(e.to_string()))?;
    let (aor, user, domain) = cpm_store::parse_aor(&aor).map_err(|e| Refused(e.to_string()))?;
    Ok((aor, user, domain))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn add(args: AddArgs, data: &Path, config: &Config) -> Outcome {
    let (user, at_domain) = split_user(&args.name);
    let domain = match (at_domain, &args.domain) {
        (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b) => {
            bail!("NAME says domain {a} but --domain says {b}: give one")
        }
        (Some(d), _) => d.to_string(),
        (None, Some(d)) => d.clone(),
        (None, None) => config.default_domain(),
    };
    let (username, domain) = match cpm_store::normalize_user(user, &domain) {
        Ok(v) => v,
        Err(e) => return refuse(e).map(Err),
    };
    let password = read_password(args.password)?;
    let (realm, warning) = config.realm_for(&domain);
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    let mut new = cpm_store::NewUser::new(username, domain, now())
        .password(&realm, &password)
        .enabled(!args.disabled);
    if let Some(n) = args.display_name {
        new = new.display_name(n);
    }
    for t in args.tel {
        new = new.alias(t);
    }
    let store = open(data)?;
    match store.add_user(&new) {
        Ok(u) => {
            let aliases = if u.aliases.is_empty() {
                String::new()
            } else {
                format!(" with aliases {}", u.aliases.join(", "))
            };
            println!("added {}{aliases} (realm {realm})", u.aor);
            Ok(Ok(()))
        }
        Err(e) => refuse(e).map(Err),
    }
}

fn list(args: ListArgs, data: &Path) -> Outcome {
    let store = open(data)?;
    let users = store.list_users().context("cannot list users")?;
    if args.json {
        let json: Vec<_> = users.iter().map(user_json).collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(Ok(()));
    }
    if users.is_empty() {
        eprintln!("no users (add one with `cpm user add NAME --password-stdin`)");
        return Ok(Ok(()));
    }
    let rows: Vec<[String; 5]> = users
        .iter()
        .map(|u| {
            [
                u.aor.clone(),
                if u.aliases.is_empty() {
                    "-".into()
                } else {
                    u.aliases.join(",")
                },
                if u.enabled { "yes" } else { "no" }.into(),
                credentials_summary(u),
                u.display_name.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["AOR", "ALIASES", "ENABLED", "CREDENTIALS", "DISPLAY NAME"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_string()
    };
    println!("{}", line(header));
    for r in &rows {
        println!("{}", line(r.each_ref().map(String::as_str)));
    }
    Ok(Ok(()))
}

/// `MD5,SHA-256 (realm cpm.test)`, or `none`.
fn credentials_summary(u: &User) -> String {
    if u.credentials.is_empty() {
        return "none".into();
    }
    let algs: Vec<_> = u.credentials.iter().map(|c| c.algorithm.name()).collect();
    let mut realms: Vec<_> = u.credentials.iter().map(|c| c.realm.as_str()).collect();
    realms.dedup();
    format!("{} (realm {})", algs.join(","), realms.join(","))
}

fn user_json(u: &User) -> serde_json::Value {
    serde_json::json!({
        "aor": u.aor,
        "username": u.username,
        "domain": u.domain,
        "display_name": u.display_name,
        "aliases": u.aliases,
        "enabled": u.enabled,
        "credentials": u.credentials.iter().map(|c| serde_json::json!({
            "algorithm": c.algorithm.name(),
            "realm": c.realm,
        })).collect::<Vec<_>>(),
        "created_at": u.created_at,
    })
}

fn remove(args: RemoveArgs, data: &Path, config: &Config) -> Outcome {
    let (aor, _, _) = match aor_arg(&args.user, config) {
        Ok(v) => v,
        Err(r) => return Ok(Err(r)),
    };
    let store = open(data)?;
    match store.remove_user(&aor) {
        Ok(u) => {
            println!("removed {}", u.aor);
            Ok(Ok(()))
        }
        Err(e) => refuse(e).map(Err),
    }
}

fn passwd(args: PasswdArgs, data: &Path, config: &Config) -> Outcome {
    let (aor, _, domain) = match aor_arg(&args.user, config) {
        Ok(v) => v,
        Err(r) => return Ok(Err(r)),
    };
    let store = open(data)?;
    // Look the user up before reading the password, so a typo fails fast.
    match store.user(&aor).context("cannot look up the user")? {
        Some(_) => {}
        None => return Ok(Err(Refused(format!("no such user {aor}")))),
    }
    let password = read_password(args.password)?;
    let (realm, warning) = config.realm_for(&domain);
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    match store.set_password(&aor, &realm, &password) {
        Ok(()) => {
            println!("password of {aor} changed (realm {realm})");
            Ok(Ok(()))
        }
        Err(e) => refuse(e).map(Err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_arguments() {
        assert_eq!(split_user("alice"), ("alice", None));
        assert_eq!(split_user("alice@cpm.test"), ("alice", Some("cpm.test")));
        assert_eq!(
            split_user("SIP:alice@cpm.test"),
            ("alice", Some("cpm.test"))
        );
        assert_eq!(parse_e164("+1 (555) 123-0001").unwrap(), "+15551230001");
        assert!(
            parse_e164("5551230001")
                .unwrap_err()
                .contains("must start with '+'")
        );
    }
}
