//! Cold start, live: a responder starts `ic watch` while search is already
//! four times slower than usual. The first scrape's cumulative histograms say
//! what the route's latency was over the exporter's lifetime, so `ic` judges
//! the regression against that — not against its own first 30 s, which are
//! the regression (it never fired before).

mod support;

use std::process::Stdio;
use std::time::Duration;
use support::http;
use support::proc::{self, Lines};

#[test]
fn ic_started_during_a_latency_regression_pages_it_against_the_lifetime_baseline() {
    let (mut demo, port) = proc::demo_serve("calm", "80");
    // The service's past: 15 s of calm traffic (its lifetime counters).
    std::thread::sleep(Duration::from_secs(15));
    let (status, answer) = http::request(
        port,
        "POST",
        "/_demo/fault",
        r#"{"route": "/api/search", "latency_factor": 4}"#,
    )
    .expect("fault control");
    assert_eq!(status, 200, "{answer}");
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("ic.yaml");
    std::fs::write(
        &cfg,
        format!(
            "service: shop\nnotify: {{desktop: false, bell: false}}\n\
             metrics:\n  - {{name: shop, url: \"http://127.0.0.1:{port}/metrics\", interval: 1s}}\n"
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
    let fired = out.wait_for(Duration::from_secs(30), |l| {
        l.contains("\"type\":\"signal\"")
            && l.contains("\"kind\":\"latency\"")
            && l.contains("\"state\":\"fired\"")
    });
    let _ = http::request(port, "DELETE", "/_demo/fault", "");
    proc::terminate(&mut watch, Duration::from_secs(10));
    proc::terminate(&mut demo, Duration::from_secs(10));
    let signals: Vec<String> = out
        .all()
        .into_iter()
        .map(|(_, l)| l)
        .filter(|l| l.contains("\"type\":\"signal\""))
        .collect();
    let fired = fired.unwrap_or_else(|| panic!("no latency alert within 30 s: {signals:?}"));
    assert!(fired.contains("shop /api/search"), "{fired}");
    assert!(fired.contains("lifetime baseline"), "{fired}");
    // Only the slow route.
    assert!(
        signals
            .iter()
            .all(|l| l.contains("/api/search") || !l.contains("\"state\":\"fired\"")),
        "{signals:?}"
    );
}
