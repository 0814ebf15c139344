//! `cpm sip parse`: one SIP message in, its structure as JSON out (or the fault and the
//! status a server would answer with).

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use cpm_sip::{ContactKind, Message, NameAddr, Uri, Via};
use serde_json::{Value, json};

/// Arguments of `cpm sip parse`.
#[derive(Debug, clap::Args)]
pub(crate) struct ParseArgs {
    /// The file holding the message (one datagram's worth of bytes); `-` or nothing reads
    /// standard input.
    #[arg(value_name = "FILE|-")]
    file: Option<PathBuf>,
}

pub(crate) fn run(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let bytes = match &args.file {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?
        }
        _ => {
            let mut b = Vec::new();
            std::io::stdin()
                .read_to_end(&mut b)
                .context("cannot read standard input")?;
            b
        }
    };
    match Message::parse(bytes.clone()) {
        Ok(m) => {
            println!("{}", serde_json::to_string_pretty(&describe(&m))?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let is_response = bytes
                .iter()
                .skip_while(|b| matches!(b, b'\r' | b'\n'))
                .take(4)
                .map(u8::to_ascii_uppercase)
                .eq(b"SIP/".iter().copied());
            let answer = if is_response {
                "a malformed response is dropped, not answered".to_string()
            } else {
                let (code, reason) = e.status();
                format!("a server answers {code} {reason}")
            };
            eprintln!("error: {e}; {answer}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The message's structure as JSON.
pub(crate) fn describe(m: &Message) -> Value {
    let mut v = json!({
        "kind": if m.is_request() { "request" } else { "response" },
        "start_line": m.start_line(),
    });
    let o = v.as_object_mut().expect("object");
    if let Some(method) = m.method() {
        o.insert("method".into(), json!(method.as_str()));
    }
    if let Some(uri) = m.request_uri() {
        o.insert("request_uri".into(), uri_json(&uri));
    }
    if let Some(code) = m.status() {
        o.insert("status".into(), json!(code));
        o.insert("reason".into(), json!(m.reason()));
    }
    let headers: Vec<Value> = m
        .headers()
        .map(|h| json!({"name": h.raw_name, "value": h.value}))
        .collect();
    o.insert("headers".into(), json!(headers));
    o.insert("via".into(), m.vias().map(|v| via_json(&v)).collect());
    o.insert("from".into(), name_addr_json(&m.from()));
    o.insert("to".into(), name_addr_json(&m.to()));
    o.insert("call_id".into(), json!(m.call_id()));
    o.insert(
        "cseq".into(),
        json!({"seq": m.cseq(), "method": m.cseq_method().as_str()}),
    );
    o.insert("max_forwards".into(), json!(m.max_forwards()));
    o.insert(
        "routes".into(),
        m.routes().map(|r| name_addr_json(&r)).collect(),
    );
    o.insert(
        "record_routes".into(),
        m.record_routes().map(|r| name_addr_json(&r)).collect(),
    );
    o.insert(
        "contacts".into(),
        match m.contact_kind() {
            ContactKind::Star => json!("*"),
            _ => m.contacts().map(|c| name_addr_json(&c)).collect(),
        },
    );
    o.insert("expires".into(), json!(m.expires()));
    o.insert("content_type".into(), json!(m.content_type()));
    o.insert("content_length".into(), json!(m.content_length()));
    o.insert("body_length".into(), json!(m.body_bytes().len()));
    o.insert("trailing_octets".into(), json!(m.trailing_octets()));
    v
}

fn params_json<'a>(params: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> Value {
    params
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect()
}

fn uri_json(u: &Uri<'_>) -> Value {
    let mut v = json!({
        "uri": u.as_str(),
        "scheme": u.scheme_str(),
    });
    let o = v.as_object_mut().expect("object");
    if u.is_sip() {
        o.insert("user".into(), json!(u.user()));
        o.insert("host".into(), json!(u.host()));
        o.insert("port".into(), json!(u.port()));
        o.insert("params".into(), params_json(u.params()));
        o.insert("headers".into(), json!(u.headers()));
    } else {
        o.insert("rest".into(), json!(u.rest()));
        if let Some(n) = u.phone_number() {
            o.insert("number".into(), json!(n));
        }
    }
    v
}

fn via_json(v: &Via<'_>) -> Value {
    json!({
        "value": v.as_str(),
        "transport": v.transport(),
        "host": v.host(),
        "port": v.port(),
        "branch": v.branch(),
        "received": v.received(),
        "rport": match v.rport() {
            None => Value::Null,
            Some(None) => json!(true),
            Some(Some(p)) => json!(p),
        },
        "params": params_json(v.params()),
    })
}

fn name_addr_json(n: &NameAddr<'_>) -> Value {
    json!({
        "value": n.as_str(),
        "display_name": n.display_name(),
        "uri": uri_json(&n.uri()),
        "tag": n.tag(),
        "params": params_json(n.params()),
    })
}
