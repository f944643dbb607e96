//! Helpers shared by the integration tests: free ports, a real Alertmanager,
//! a real Prometheus (`prometheus`),
//! the hostile HTTP server (`hostile`), a blocking HTTP client (`http`), tmux
//! sessions (`tmux`) and `ic` as a child process whose output lines are
//! collected as they come (`proc`).
#![allow(dead_code)] // each test crate uses its own subset

pub mod hostile;
pub mod http;
pub mod nats;
pub mod proc;
pub mod prometheus;
pub mod tmux;

use std::process::{Child, Command, Stdio};

/// A port nothing listens on right now (for servers and for "connection refused").
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// A running Alertmanager on 127.0.0.1, killed when dropped.
pub struct Alertmanager {
    child: Child,
    /// Its port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Debian's Alertmanager with an empty route; `None` (with a printed reason)
/// when it is not installed, unless `IC_REQUIRE_PROMETHEUS=1`, which makes that a failure.
pub fn start_alertmanager() -> Option<Alertmanager> {
    let bin = ["prometheus-alertmanager", "alertmanager"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok());
    let Some(bin) = bin else {
        assert_ne!(
            std::env::var("IC_REQUIRE_PROMETHEUS").as_deref(),
            Ok("1"),
            "IC_REQUIRE_PROMETHEUS=1 but Alertmanager is missing (apt-get install prometheus-alertmanager)"
        );
        eprintln!(
            "SKIPPED: Alertmanager is not installed (apt-get install prometheus-alertmanager)"
        );
        return None;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("am.yml");
    std::fs::write(&cfg, "route: {receiver: none}\nreceivers: [{name: none}]\n")
        .expect("write am.yml");
    let port = free_port();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start Alertmanager");
    Some(Alertmanager {
        child,
        port,
        _dir: dir,
    })
}
