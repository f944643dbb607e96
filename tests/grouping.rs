//! Grouping end to end: the demo API goes fully down under a running
//! `ic watch` whose notifications go to a webhook on 127.0.0.1. Every
//! target's signal is printed, and the webhook gets one POST: the
//! `service_down` signal naming every target — not a page per target.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::http;
use support::proc::{self, Lines};

/// A webhook receiver: every request body, in arrival order.
fn receiver() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(&stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length.min(1 << 20)];
            let _ = reader.read_exact(&mut body);
            seen.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(String::from_utf8_lossy(&body).into_owned());
            let _ = (&stream).write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        }
    });
    (port, bodies)
}

#[test]
fn a_full_outage_pages_once_with_every_target_named() {
    let (mut demo, port) = proc::demo_serve("calm", "40");
    let base = format!("http://127.0.0.1:{port}");
    let (hook, bodies) = receiver();
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("ic.yaml");
    std::fs::write(
        &cfg,
        format!(
            "service: shop\n\
             notify: {{desktop: false, bell: false, webhook: {{url: \"http://127.0.0.1:{hook}/hook\"}}}}\n\
             poll: {{interval: 1s, timeout: 1500ms}}\n\
             endpoints:\n\
             \x20 - {{name: payments, url: \"{base}/api/payments\", expect: {{status: [200]}}}}\n\
             \x20 - {{name: orders, url: \"{base}/api/orders\", method: POST, expect: {{status: [201]}}}}\n\
             \x20 - {{name: health, url: \"{base}/healthz\", expect: {{status: [200]}}}}\n"
        ),
    )
    .expect("write ic.yaml");
    let mut watch = proc::ic()
        .arg("--config")
        .arg(&cfg)
        .args(["watch", "--json", "--timeline-dir"])
        .arg(dir.path().join("incidents"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ic watch");
    let out = Lines::collect(watch.stdout.take().expect("stdout"));
    let err = Lines::collect(watch.stderr.take().expect("stderr"));
    out.wait_for(Duration::from_secs(15), |l| {
        l.contains("\"name\":\"health\"")
    })
    .expect("watch probed the health check");
    std::thread::sleep(Duration::from_secs(3));
    let (status, answer) = http::request(
        port,
        "POST",
        "/_demo/fault",
        r#"{"route": "*", "outage": true}"#,
    )
    .expect("fault control");
    assert_eq!(status, 200, "{answer}");
    let fired = |name: &str| {
        let want = format!("\"target\":\"{name}\"");
        out.wait_for(Duration::from_secs(15), |l| {
            l.contains("\"type\":\"signal\"")
                && l.contains("\"state\":\"fired\"")
                && l.contains(&want)
        })
    };
    for name in ["payments", "orders", "health", "shop (service)"] {
        assert!(
            fired(name).is_some(),
            "{name} did not fire: {:?}",
            err.all()
        );
    }
    // One POST, after the burst has gathered; nothing more for 6 s.
    let deadline = Instant::now() + Duration::from_secs(10);
    while bodies.lock().unwrap_or_else(|p| p.into_inner()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(6));
    let _ = http::request(port, "DELETE", "/_demo/fault", "");
    proc::terminate(&mut watch, Duration::from_secs(10));
    proc::terminate(&mut demo, Duration::from_secs(10));
    let got = bodies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(got.len(), 1, "one page for the outage: {got:?}");
    let page = &got[0];
    assert!(page.contains("service_down"), "{page}");
    assert!(page.contains("3 of 3 targets failing"), "{page}");
    for name in ["payments", "orders", "health"] {
        assert!(page.contains(name), "{name} not named: {page}");
    }
}
