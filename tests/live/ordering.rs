//! Detection order, live (issue #17 goal 11): outside the simulator, `ic`
//! detects an error fault and a latency fault before the fastest rules a
//! team would write, evaluated by a real Prometheus and delivered through a
//! real Alertmanager.
//!
//! The demo API (`ic demo --serve`) is scraped by Prometheus every second and
//! its rules are evaluated every second (faster than the simulator's fastest
//! anchor, 5 s / 5 s). The rules are the simulator's two fastest anchors for
//! these faults, made stronger: `prometheus-5s-1m-for-1m` (the 1 m 5xx ratio
//! of payments over 1%, `for: 1m`) and `prometheus-latency` with `for: 1m`
//! instead of 2 m, over a 1 m rate instead of 5 m, against a static line at 2×
//! the calm p95 Prometheus itself measured before the faults (a team that
//! knows its normal; the anchor's own baseline, an average of the last hour,
//! would soak up the fault on a fresh Prometheus and never fire).
//!
//! `ic watch` scrapes the same API and polls the same Alertmanager, so one
//! JSON stream orders everything: for each fault, ic's own signal must come
//! before the Alertmanager alert of its rule, and within a bound of the
//! instant the fault was injected. Both faults run at once, on two routes.
//!
//! Wall time: 30 s of baseline (ic's cold-start latency baseline is the first
//! 30 s of readings), then about 65 s until Prometheus's `for: 1m` rules fire.

use crate::support::http;
use crate::support::proc::{self, Lines};
use crate::support::prometheus::Prometheus;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Calm traffic before the faults: ic's cold-start latency baseline is the first 30 s.
const BASELINE: Duration = Duration::from_secs(32);
/// Generated traffic: payments and search get 30% each (18 req/s).
const RPS: &str = "60";
/// 30% of payments answer 500.
const ERROR_FAULT: &str = r#"{"route": "/api/payments", "error_rate": 0.3, "status": 500}"#;
/// Search gets 4× slower.
const LATENCY_FAULT: &str = r#"{"route": "/api/search", "latency_factor": 4}"#;
/// How soon after its fault ic must have paged (5 s of it are `detect.min_duration`).
const IC_WITHIN: [f64; 2] = [15.0, 30.0];

/// The anchors, with the latency line at `line` seconds.
fn rules(line: f64) -> String {
    format!(
        "groups:\n\
         \x20 - name: anchors\n\
         \x20   interval: 1s\n\
         \x20   rules:\n\
         \x20     - alert: PaymentsErrorRatio\n\
         \x20       expr: sum(rate(http_requests_total{{route=\"/api/payments\",status=~\"5..\"}}[1m])) / sum(rate(http_requests_total{{route=\"/api/payments\"}}[1m])) > 0.01\n\
         \x20       for: 1m\n\
         \x20     - alert: SearchLatencyP95\n\
         \x20       expr: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{route=\"/api/search\"}}[1m]))) > {line}\n\
         \x20       for: 1m\n"
    )
}

/// Posts a fault; the instant midway between sending and the answer.
fn inject(port: u16, body: &str) -> DateTime<Utc> {
    let before = incident_commander::clock::now();
    let (status, answer) =
        http::request(port, "POST", "/_demo/fault", body).expect("fault control");
    let after = incident_commander::clock::now();
    assert_eq!(status, 200, "POST /_demo/fault: {answer}");
    before + (after - before) / 2
}

/// The first fired signal of `kind` on `target` in watch's JSON lines: its `at`.
fn fired(out: &Lines, kind: &str, target: &str) -> Option<DateTime<Utc>> {
    out.json().into_iter().find_map(|(_, v)| {
        (v["type"] == "signal"
            && v["state"] == "fired"
            && v["kind"] == kind
            && v["target"] == target)
            .then(|| at(&v["at"]))
            .flatten()
    })
}

fn at(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn secs(d: chrono::TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

#[test]
fn ic_pages_before_prometheus_alerts_on_an_error_and_a_latency_fault() {
    let Some(am) = crate::support::start_alertmanager() else {
        return;
    };
    let mut demo = proc::ic()
        .args([
            "demo",
            "--serve",
            "--scenario",
            "calm",
            "--port",
            "0",
            "--rps",
            RPS,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ic demo --serve");
    let demo_out = Lines::collect(demo.stdout.take().expect("stdout"));
    let first = demo_out
        .wait_for(Duration::from_secs(15), |_| true)
        .expect("ic demo --serve printed its address");
    let port: u16 = first
        .strip_prefix("listening on http://127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));

    let config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
         alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{}']}}]}}]}}\n\
         rule_files: [rules.yml]\n\
         scrape_configs:\n\
         \x20 - {{job_name: demo, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}\n",
        am.port
    );
    let Some(prom) = Prometheus::start(&config, &[("rules.yml", "groups: []\n")]) else {
        proc::terminate(&mut demo, Duration::from_secs(10));
        return;
    };

    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("ic.yaml");
    std::fs::write(
        &cfg,
        format!(
            "service: shop\nnotify: {{desktop: false, bell: false}}\n\
             metrics:\n\
             \x20 - {{name: shop, url: \"http://127.0.0.1:{port}/metrics\", interval: 1s}}\n\
             alertmanager: {{url: \"http://127.0.0.1:{}\", interval: 500ms}}\n",
            am.port
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
    out.wait_for(Duration::from_secs(20), |l| {
        l.contains("\"metrics_target\":\"shop\"") && l.contains("\"/api/search\"")
    })
    .expect("watch scraped the demo's routes");
    std::thread::sleep(BASELINE);

    // The latency line: 2× the calm p95 Prometheus measured.
    let calm = prom
        .scalar(
            "histogram_quantile(0.95, sum by (le) (increase(http_request_duration_seconds_bucket{route=\"/api/search\"}[30s])))",
        )
        .filter(|p| p.is_finite() && *p > 0.0)
        .expect("Prometheus measured the calm p95 of search");
    prom.rewrite_and_reload("rules.yml", &rules(2.0 * calm));
    let deadline = Instant::now() + Duration::from_secs(10);
    while prom.api("rules")["groups"][0]["rules"]
        .as_array()
        .is_none_or(|r| r.len() != 2)
    {
        assert!(
            Instant::now() < deadline,
            "Prometheus did not load the rules"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let quiet: Vec<_> = out
        .json()
        .into_iter()
        .filter(|(_, v)| v["type"] == "signal")
        .map(|(_, v)| v)
        .collect();
    assert!(quiet.is_empty(), "signals before any fault: {quiet:?}");

    let t0 = [inject(port, ERROR_FAULT), inject(port, LATENCY_FAULT)];
    let wants = [
        ("error_rate", "shop /api/payments", "PaymentsErrorRatio"),
        ("latency", "shop /api/search", "SearchLatencyP95"),
    ];
    // Both Prometheus alerts must arrive (`for: 1m` after their rule first held).
    let deadline = Instant::now() + Duration::from_secs(100);
    let seen = loop {
        let seen: Vec<_> = wants
            .iter()
            .map(|(kind, target, alert)| (fired(&out, kind, target), fired(&out, "alert", alert)))
            .collect();
        if seen.iter().all(|(_, a)| a.is_some()) || Instant::now() > deadline {
            break seen;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let pending = prom.api("alerts");
    let status = proc::terminate(&mut watch, Duration::from_secs(10));
    proc::terminate(&mut demo, Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "ic watch: {status:?}; stderr: {:?}",
        err.all()
    );

    let mut wrong = Vec::new();
    let mut line = Vec::new();
    for (i, ((kind, target, alert), (ours, theirs))) in wants.iter().zip(&seen).enumerate() {
        let (Some(ours), Some(theirs)) = (ours, theirs) else {
            wrong.push(format!(
                "{kind} on {target}: ic {ours:?}, Alertmanager's {alert} {theirs:?} (Prometheus: {pending})"
            ));
            continue;
        };
        let (ic_after, prom_after) = (secs(*ours - t0[i]), secs(*theirs - t0[i]));
        line.push(format!(
            "{kind}: ic {ic_after:+.1} s, {alert} {prom_after:+.1} s"
        ));
        if ours >= theirs {
            wrong.push(format!(
                "{kind} on {target}: ic paged {ic_after:.1} s after the fault, not before {alert} ({prom_after:.1} s)"
            ));
        }
        if ic_after > IC_WITHIN[i] {
            wrong.push(format!(
                "{kind} on {target}: ic paged {ic_after:.1} s after the fault (allowed {} s)",
                IC_WITHIN[i]
            ));
        }
    }
    eprintln!("ordering: {}", line.join("; "));
    assert!(wrong.is_empty(), "{wrong:#?}");
}
