//! Shared by the process tests: free ports that are never handed out twice in one test
//! binary, and a `cpm` child process that is killed (and its data directory removed) on drop.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port free for both UDP and TCP on 127.0.0.1, never the same one twice in this process
/// (tests run in parallel: two servers handed the same port would see each other's traffic).
pub(crate) fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if !given.contains(&port) && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free port");
}

/// A fresh, empty data directory under the system temp dir.
pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("cpm-test-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `cpm` process.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) port: u16,
    pub(crate) data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Runs `cpm --data DATA <args>` to completion (for `cpm user add` and the like).
pub(crate) fn cpm(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cpm"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("run cpm")
}

/// Starts `cpm --data DATA serve --sip 127.0.0.1:PORT <extra>` and waits until its TCP
/// port accepts connections; panics if it exits first or takes longer than 15 s.
pub(crate) fn serve(data: PathBuf, extra: &[&str]) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_cpm"))
        .arg("--data")
        .arg(&data)
        .args(["serve", "--sip", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env(
            "RUST_LOG",
            std::env::var("CPM_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start cpm serve");
    let mut server = Server { child, port, data };
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("cpm serve exited before listening: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "cpm serve did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}
