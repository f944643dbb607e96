//! Cold start, live: a responder starts `ic watch` during an incident.
//! - Search is already four times slower than usual. The first scrape's
//!   cumulative histograms say what the route's latency was over the
//!   exporter's lifetime, so `ic` judges the regression against that — not
//!   against its own first 30 s, which are the regression (it never fired
//!   before).
//! - Orders stopped taking traffic just before. The first scrape's counters
//!   and `process_start_time_seconds` give its rate over the exporter's
//!   lifetime, and traffic under a tenth of it is a drop: paged in seconds
//!   (without the seed there is no baseline for an hour's first minutes).
//! - A route stopped taking traffic two minutes ago. A real Prometheus holds
//!   its last hour (backfilled by `promtool`); `ic` learns it through
//!   `query_range` before its first live query, so the drop pages at once
//!   (without that history there is no baseline, and it never could).

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::http;
use support::proc::{self, Lines};
use support::prometheus::Prometheus;

/// Injects `fault` into the demo API on `port`, then writes an `ic.yaml` that
/// scrapes its `/metrics` every second: the temp dir and the config's path.
fn fault_then_config(port: u16, fault: &str) -> (tempfile::TempDir, PathBuf) {
    let (status, answer) =
        http::request(port, "POST", "/_demo/fault", fault).expect("fault control");
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
    (dir, cfg)
}

/// Runs `ic --config cfg watch --json` with `extra` arguments until a `kind`
/// signal fires (at most `within`), then stops it: the fired line, or a
/// failure listing every signal seen; and every signal line.
fn watch_until_fired(
    cfg: &Path,
    extra: &[&str],
    kind: &str,
    within: Duration,
) -> (String, Vec<String>) {
    let mut watch = proc::ic()
        .arg("--config")
        .arg(cfg)
        .args(["watch", "--json"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ic watch");
    let out = Lines::collect(watch.stdout.take().expect("stdout"));
    let want = format!("\"kind\":\"{kind}\"");
    let fired = out.wait_for(within, |l| {
        l.contains("\"type\":\"signal\"") && l.contains(&want) && l.contains("\"state\":\"fired\"")
    });
    proc::terminate(&mut watch, Duration::from_secs(10));
    let signals: Vec<String> = out
        .all()
        .into_iter()
        .map(|(_, l)| l)
        .filter(|l| l.contains("\"type\":\"signal\""))
        .collect();
    let fired = fired.unwrap_or_else(|| panic!("no {kind} signal within {within:?}: {signals:?}"));
    (fired, signals)
}

#[test]
fn ic_started_after_a_route_stopped_pages_the_drop_against_its_lifetime_rate() {
    let (mut demo, port) = proc::demo_serve("calm", "1000");
    // The exporter's past: wait (bounded) until orders has counted 1,500 requests.
    let orders = || -> f64 {
        let (_, text) = http::request(port, "GET", "/metrics", "").unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with("http_requests_total{") && l.contains("/api/orders"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while orders() < 1500.0 {
        assert!(
            Instant::now() < deadline,
            "the demo never counted 1,500 orders"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_dir, cfg) = fault_then_config(port, r#"{"route": "/api/orders", "traffic_factor": 0}"#);
    let (fired, signals) = watch_until_fired(
        &cfg,
        &["--no-incident"],
        "traffic_drop",
        Duration::from_secs(25),
    );
    let _ = http::request(port, "DELETE", "/_demo/fault", "");
    proc::terminate(&mut demo, Duration::from_secs(10));
    assert!(fired.contains("shop /api/orders"), "{fired}");
    assert!(fired.contains("lifetime baseline"), "{fired}");
    // Only orders: the other routes' first seconds are no drop.
    assert!(
        signals
            .iter()
            .all(|l| l.contains("/api/orders") || !l.contains("\"state\":\"fired\"")),
        "{signals:?}"
    );
}

#[test]
fn ic_started_after_a_route_stopped_learns_prometheus_history_and_pages_the_drop() {
    let now = incident_commander::clock::now().timestamp();
    let (start, end) = (now - 3720, now - 120);
    // An hour of /api/orders at 20 req/s with 0.2% 5xx, then nothing.
    let mut past = String::from("# TYPE http_requests counter\n");
    for (status, per_second) in [("200", 19.96), ("500", 0.04)] {
        for t in (start..=end).step_by(15) {
            let total = per_second * (t - start) as f64;
            past.push_str(&format!(
                "http_requests_total{{route=\"/api/orders\",status=\"{status}\"}} {total:.2} {t}\n"
            ));
        }
    }
    past.push_str("# EOF\n");
    let Some(prom) = Prometheus::start_with_past(
        "global: {scrape_interval: 15s, evaluation_interval: 15s}\n",
        &[],
        Some(&past),
    ) else {
        return;
    };
    // The history is queryable (the route's last hour), and nothing is live now.
    let hour = prom.scalar("sum(increase(http_requests_total[1h] offset 2m))");
    assert!(
        hour.is_some_and(|v| v > 60_000.0),
        "backfill not visible: {hour:?}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("ic.yaml");
    std::fs::write(
        &cfg,
        format!(
            "service: shop\nnotify: {{desktop: false, bell: false}}\nprometheus: {{url: \"{}\", interval: 1s}}\n",
            prom.url
        ),
    )
    .expect("write ic.yaml");
    let started = Instant::now();
    let (fired, signals) = watch_until_fired(
        &cfg,
        &["--no-incident"],
        "traffic_drop",
        Duration::from_secs(25),
    );
    assert!(fired.contains("/api/orders"), "{fired}");
    assert!(fired.contains("baseline 20.0/s"), "{fired}");
    assert!(started.elapsed() < Duration::from_secs(25));
    // The past's 0.2% errors are learnt, not judged: the drop is the only page.
    assert!(
        signals
            .iter()
            .all(|l| l.contains("traffic_drop") || !l.contains("\"state\":\"fired\"")),
        "{signals:?}"
    );
}

#[test]
fn ic_started_during_a_latency_regression_pages_it_against_the_lifetime_baseline() {
    let (mut demo, port) = proc::demo_serve("calm", "80");
    // The service's past: 15 s of calm traffic (its lifetime counters).
    std::thread::sleep(Duration::from_secs(15));
    let (dir, cfg) = fault_then_config(port, r#"{"route": "/api/search", "latency_factor": 4}"#);
    let incidents = dir.path().join("incidents");
    let (fired, signals) = watch_until_fired(
        &cfg,
        &[
            "--timeline-dir",
            incidents.to_str().expect("a UTF-8 temp path"),
        ],
        "latency",
        Duration::from_secs(30),
    );
    let _ = http::request(port, "DELETE", "/_demo/fault", "");
    proc::terminate(&mut demo, Duration::from_secs(10));
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
