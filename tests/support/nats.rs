//! A real `nats-server` with JetStream on 127.0.0.1: started on a free port
//! with its own store directory, stopped and started again on the same port
//! and store (an outage), killed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running (or stopped) nats-server.
pub struct Nats {
    child: Option<Child>,
    /// Its client port.
    pub port: u16,
    args: Vec<String>,
    store: tempfile::TempDir,
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The nats-server binary, or `None` (with a printed reason) when it is not
/// installed, unless `IC_REQUIRE_NATS=1`, which makes that a failure.
pub fn binary() -> Option<PathBuf> {
    let found = [
        "nats-server",
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
    ]
    .into_iter()
    .find(|b| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert_ne!(
            std::env::var("IC_REQUIRE_NATS").as_deref(),
            Ok("1"),
            "IC_REQUIRE_NATS=1 but nats-server is missing (apt-get install nats-server)"
        );
        eprintln!("SKIPPED: nats-server is not installed (apt-get install nats-server)");
    }
    found.map(PathBuf::from)
}

impl Nats {
    /// Starts nats-server -js on a free port with `extra` arguments (auth, TLS).
    pub fn start(extra: &[&str]) -> Option<Nats> {
        binary()?;
        let mut n = Nats {
            child: None,
            port: super::free_port(),
            args: extra.iter().map(|s| s.to_string()).collect(),
            store: tempfile::tempdir().expect("temp dir"),
        };
        n.resume();
        Some(n)
    }

    /// The URL clients use.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (an outage); its store stays.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and store, and waits until it takes
    /// connections (10 s at most).
    pub fn resume(&mut self) {
        let bin = binary().expect("nats-server");
        let child = Command::new(bin)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.store.path())
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nats-server did not listen on {} within 10 s", self.port);
    }
}
