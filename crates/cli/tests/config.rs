//! `cpm config check|sample` and `cpm serve --config` as processes: the shipped sample
//! parses, the printed effective configuration parses again, unknown keys and bad values are
//! rejected naming the file, line and key, and `serve` applies the file and generates its
//! secret once.

mod common;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cpm.sample.toml")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `text` to DIR/NAME and runs `cpm config check` on it.
fn check(dir: &Path, name: &str, text: &str) -> (Output, String) {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let out = common::cpm(dir, &["config", "check", file.to_str().unwrap()]);
    let err = stderr(&out);
    (out, err)
}

#[test]
fn the_sample_parses_and_its_effective_form_round_trips() {
    let dir = common::temp_dir("config-sample");
    let out = common::cpm(&dir, &["config", "check", sample().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let effective = stdout(&out);
    for want in [
        "domains = [\"cpm.test\"]",
        "realm = \"cpm.test\"",
        "\"tls:iwf.cpm.test\"",
        "[[core.trigger]]",
        "server = \"sip:pf@127.0.0.1:5070\"",
        "\"terminating-unregistered\"",
        "[[core.route]]",
        "number_prefix = \"+46\"",
        "domain = \"*.mail.example.org\"",
        "core.secret is not set",
    ] {
        assert!(effective.contains(want), "missing {want:?} in\n{effective}");
    }
    // What check prints is itself a valid configuration with the same meaning.
    let (again, err) = check(&dir, "effective.toml", &effective);
    assert_eq!(again.status.code(), Some(0), "{err}");
    let strip = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&stdout(&again)), strip(&effective));

    // `config sample` prints the same file.
    let out = common::cpm(&dir, &["config", "sample"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), std::fs::read_to_string(sample()).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn embedded_defaults_and_the_global_config_flag() {
    let dir = common::temp_dir("config-defaults");
    let out = common::cpm(&dir, &["config", "check"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("from embedded defaults"), "{text}");
    assert!(text.contains("listen = \"127.0.0.1:5060\""), "{text}");
    assert!(text.contains("domains = [\"localhost\"]"), "{text}");
    assert!(text.contains("min_expires = 60"), "{text}");
    assert!(!text.contains("[[core.trigger]]"), "{text}");

    // --config before or after the subcommand; a positional FILE wins over it.
    let file = dir.join("a.toml");
    std::fs::write(
        &file,
        "[core]\ndomains = [\"a.test\"]\nsecret = \"0123456789abcdef\"\n",
    )
    .unwrap();
    let out = common::cpm(
        &dir,
        &["config", "check", "--config", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("domains = [\"a.test\"]"), "{text}");
    assert!(
        text.contains("core.secret is set in the file (not shown)"),
        "{text}"
    );
    assert!(
        !text.contains("0123456789abcdef"),
        "the secret is never printed"
    );
    let out = common::cpm(
        &dir,
        &[
            "--config",
            file.to_str().unwrap(),
            "config",
            "check",
            sample().to_str().unwrap(),
        ],
    );
    assert!(stdout(&out).contains("domains = [\"cpm.test\"]"));

    let out = common::cpm(
        &dir,
        &[
            "config",
            "check",
            dir.join("missing.toml").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read the configuration file"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_keys_are_rejected_naming_key_and_line() {
    let dir = common::temp_dir("config-unknown");
    let (out, err) = check(
        &dir,
        "typo.toml",
        "# comment\n[core]\ndomains = [\"cpm.test\"]\n\n[core.registrar]\nmin_expires = 30\nmax_expire = 100\n",
    );
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty());
    let first = err.lines().next().unwrap();
    assert!(
        first.starts_with("error: ") && first.contains("typo.toml:7:1: unknown key `max_expire`"),
        "{err}"
    );
    assert!(
        first.contains("`max_expires`"),
        "lists the allowed keys: {err}"
    );
    assert!(
        err.contains(" 7 | max_expire = 100"),
        "quotes the line: {err}"
    );

    let (out, err) = check(&dir, "top.toml", "[sips]\nlisten = \"127.0.0.1:5060\"\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("top.toml:1:2: unknown key `sips`"), "{err}");

    let (out, err) = check(
        &dir,
        "trig.toml",
        "[[core.trigger]]\npriority = 1\nsession_cases = [\"originating\"]\nserver = \"sip:pf@x\"\nsever = 1\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("trig.toml:5:1: unknown key `sever`"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_values_get_a_clear_error() {
    let dir = common::temp_dir("config-bad");
    let cases: &[(&str, &str)] = &[
        (
            "[core]\ntrusted = [\"127.0.0.1/32\", \"iwf.example.com\"]\n",
            "bad.toml:2:28: bad trusted peer \"iwf.example.com\": not an IP address",
        ),
        (
            "[core]\ntrusted = [\"10.0.0.0/33\"]\n",
            "bad.toml:2:12: bad trusted peer \"10.0.0.0/33\": prefix length must be 0..=32",
        ),
        (
            "[[core.trigger]]\npriority = 1\nsession_cases = [\"originating\", \"terminating\"]\nserver = \"sip:pf@cpm.test\"\n",
            "bad.toml:3:33: unknown variant `terminating`, expected one of `originating`, `terminating-registered`, `terminating-unregistered`",
        ),
        (
            "[[core.trigger]]\npriority = 1\nsession_cases = []\nserver = \"sip:pf@cpm.test\"\n",
            "bad.toml:3:17: session_cases must name at least one of",
        ),
        (
            "[[core.trigger]]\npriority = 1\nsession_cases = [\"originating\"]\n",
            "missing key `server`",
        ),
        (
            "[[core.trigger]]\npriority = 1\nsession_cases = [\"originating\"]\nserver = \"sip:pf@cpm.test\"\ndefault_handling = \"retry\"\n",
            "bad.toml:5:20: unknown variant `retry`, expected `continue` or `terminate`",
        ),
        (
            "[[core.trigger]]\npriority = 1\nmethods = [\"message\"]\nsession_cases = [\"originating\"]\nserver = \"sip:pf@cpm.test\"\n",
            "bad.toml:3:12: method \"message\" must be a SIP method in upper case",
        ),
        (
            "[[core.route]]\nname = \"sms\"\ntarget = \"mailto:x@y\"\n",
            "bad.toml:3:10: route target \"mailto:x@y\" must be a sip: or sips: URI",
        ),
        (
            "[core]\ndomains = [\"cpm.test\", \"CPM.test\"]\n",
            "bad.toml:2:24: domain \"cpm.test\" is listed twice in core.domains",
        ),
        (
            "[core]\ndomains = []\n",
            "bad.toml:2:11: core.domains must name at least one domain",
        ),
        (
            "[core]\nsecret = \"short\"\n",
            "bad.toml:2:10: core.secret must be at least 16 bytes",
        ),
        (
            "[sip]\nlisten = \"localhost:5060\"\n",
            "bad.toml:2:10: invalid socket address syntax",
        ),
        (
            "[sip]\ncert = \"c.pem\"\nkey = \"k.pem\"\n",
            "bad.toml:2:8: sip.cert and sip.key need sip.tls",
        ),
        (
            "[core.registrar]\nmin_expires = \"60\"\n",
            "bad.toml:2:15: invalid type: string \"60\", expected u32",
        ),
        ("[core]\ndomains = [\"cpm.test\"\n", "bad.toml:2:"),
    ];
    for (text, want) in cases {
        let (out, err) = check(&dir, "bad.toml", text);
        assert_eq!(out.status.code(), Some(1), "{text}\n{err}");
        assert!(err.contains(want), "for\n{text}\nwant {want:?}\ngot {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_applies_the_file_and_keeps_one_secret() {
    let data = common::temp_dir("config-serve");
    let file = data.join("cpm.toml");
    std::fs::write(&file, "[core]\ndomains = [\"cpm.test\"]\n").unwrap();

    // A bad file stops `serve` before it binds anything.
    let bad = data.join("bad.toml");
    std::fs::write(&bad, "[core]\nauthenticate = \"yes\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cpm"))
        .arg("--data")
        .arg(&data)
        .args([
            "--config",
            bad.to_str().unwrap(),
            "serve",
            "--sip",
            "127.0.0.1:1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad.toml:2:16: invalid type"),
        "{}",
        stderr(&out)
    );
    let out = common::cpm(
        &data,
        &["serve", "--sip", "127.0.0.1:1", "--domain", "bad domain"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("command line --domain: invalid domain \"bad domain\""),
        "{}",
        stderr(&out)
    );
    assert!(
        !data.join("secret").exists(),
        "nothing written for a bad configuration"
    );

    let secret_of = |server: common::Server| {
        // The server is up (it accepted TCP); it answers UDP too.
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let req = "OPTIONS sip:cpm.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bKcfg\r\n\
             Max-Forwards: 70\r\nFrom: <sip:t@cpm.test>;tag=1\r\nTo: <sip:cpm.test>\r\n\
             Call-ID: cfg\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        sock.send_to(req.as_bytes(), ("127.0.0.1", server.port))
            .unwrap();
        let mut buf = [0u8; 4096];
        let (n, _) = sock.recv_from(&mut buf).expect("an answer");
        assert!(buf[..n].starts_with(b"SIP/2.0 "));
        let secret = std::fs::read(server.data.join("secret")).unwrap();
        // Keep the data directory: `Server` removes it on drop.
        let mut server = server;
        let _ = server.child.kill();
        let _ = server.child.wait();
        server.data = std::env::temp_dir().join("cpm-test-nonexistent-keep");
        secret
    };
    let cfg = file.to_str().unwrap().to_string();
    let first = secret_of(common::serve(data.clone(), &["--config", &cfg]));
    assert_eq!(first.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data.join("secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let second = secret_of(common::serve(
        data.clone(),
        &["--config", &cfg, "--domain", "b.test"],
    ));
    assert_eq!(
        first, second,
        "the secret is generated once and then reused"
    );
    let _ = std::fs::remove_dir_all(&data);
}
