//! How fast an event reaches another responder over a real nats-server on
//! 127.0.0.1: responder A appends to its timeline (what the view and
//! `ic event` do), A's team sync publishes it, B's merges it into B's file.
//! Measured from A's fsynced append to the event being readable in B's file
//! (the screen follows the file on the merge), p50 / p99 / max over 300
//! events, one every 20 ms.
//!
//! Run: `cargo bench --bench team` (needs nats-server on the PATH).

use incident_commander::config::Config;
use incident_commander::core::event::Draft;
use incident_commander::journal::{self, Journal};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn team_config(port: u16, name: &str) -> Option<incident_commander::config::Team> {
    let text = format!(
        "service: bench\nendpoints: [{{name: a, url: 'http://127.0.0.1:1/'}}]\nteam: {{nats: 'nats://127.0.0.1:{port}', responder: {name}}}\n"
    );
    Config::parse(Path::new("bench.yaml"), &text, |_| None)
        .ok()?
        .team
}

fn holds(path: &Path, text: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.contains(text))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("team: benchmark");
        return;
    }
    let Some(store) = tempfile::tempdir().ok() else {
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(14333);
    let server = Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut server) = server else {
        eprintln!("team: nats-server is not installed; nothing measured");
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (Some(a_cfg), Some(b_cfg)) = (team_config(port, "alice"), team_config(port, "bob")) else {
        let _ = server.kill();
        return;
    };
    let (Some(a_dir), Some(b_dir)) = (tempfile::tempdir().ok(), tempfile::tempdir().ok()) else {
        let _ = server.kill();
        return;
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(_) => return,
    };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    for (cfg, dir, name) in [(a_cfg, a_dir.path(), "alice"), (b_cfg, b_dir.path(), "bob")] {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        rt.spawn(async move { while rx.recv().await.is_some() {} });
        rt.spawn(incident_commander::team::sync::run(
            cfg,
            "bench".into(),
            name.into(),
            dir.to_path_buf(),
            tx,
            stop.clone(),
        ));
    }
    let now = incident_commander::clock::now();
    let Ok(mut a) = Journal::create(a_dir.path(), now, "propagation") else {
        return;
    };
    if a.append(Draft::opened("alice", "propagation", "bench"), now)
        .is_err()
    {
        return;
    }
    // B has the incident once its file exists.
    let deadline = Instant::now() + Duration::from_secs(15);
    let b_file = loop {
        if let Some(p) = journal::timelines(b_dir.path()).into_iter().next() {
            break Some(p);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let Some(b_file) = b_file else {
        eprintln!("team: the incident never reached the second responder");
        let _ = server.kill();
        return;
    };
    let mut took = Vec::new();
    for i in 0..300 {
        let text = format!("note number {i} from alice");
        let sent = Instant::now();
        if a.append(
            Draft::note("alice", &text, &[]),
            incident_commander::clock::now(),
        )
        .is_err()
        {
            break;
        }
        let deadline = sent + Duration::from_secs(5);
        while !holds(&b_file, &text) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(500));
        }
        took.push(sent.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = stop_tx.send(true);
    let _ = server.kill();
    let _ = server.wait();
    took.sort();
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    if took.is_empty() {
        return;
    }
    println!(
        "team: propagation alice -> bob over nats-server on 127.0.0.1, {} events: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        took.len(),
        at(0.50).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        took[took.len() - 1].as_secs_f64() * 1000.0
    );
}
