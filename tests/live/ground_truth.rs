//! Ground truth, live: the demo API (`ic demo --serve`) is watched by `ic watch`
//! (a probe of `/api/payments`, one of `/api/orders`, and a scrape of
//! `/metrics`); a fault is injected through `POST /_demo/fault` at a recorded
//! instant t0 and cleared at t1, and the demo's own `/metrics` counters are read
//! at both. The postmortem (`ic postmortem --format json`) must agree with
//! them: impact start within 5 s of t0, impact end within 10 s of t1, failed
//! requests and requests of payments within 10% of the counters' deltas, and
//! exactly one affected target (the probe `payments` and the route
//! `shop /api/payments` are one target, listed and counted once).
//!
//! Wall time: about 30 s of baseline and fault, then the wait for the signal to
//! resolve (30–45 s after the fault ends today), so about 60–75 s.

use crate::support::http;
use crate::support::proc::{self, Lines};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Calm traffic before the fault, so the detectors have a baseline.
const BASELINE: Duration = Duration::from_secs(10);
/// How long the fault lasts.
const FAULT: Duration = Duration::from_secs(15);
/// The fault: 30% of payments answer 500.
const FAULT_BODY: &str = r#"{"route": "/api/payments", "error_rate": 0.3, "status": 500}"#;
/// Generated traffic: /api/payments gets 30% of it (18 req/s), so ~5 failures a second.
const RPS: &str = "60";

/// `http_requests_total` of `/api/payments` in an exposition: (all, 5xx).
fn payments_counters(exposition: &str) -> (f64, f64) {
    let mut all = 0.0;
    let mut failed = 0.0;
    for l in exposition.lines() {
        let Some(rest) = l.strip_prefix("http_requests_total{") else {
            continue;
        };
        if !rest.contains("route=\"/api/payments\"") {
            continue;
        }
        let Some(n) = l.rsplit(' ').next().and_then(|n| n.parse::<f64>().ok()) else {
            continue;
        };
        all += n;
        if rest.contains("status=\"5") {
            failed += n;
        }
    }
    (all, failed)
}

fn metrics(port: u16) -> (f64, f64) {
    let (status, body) = http::request(port, "GET", "/metrics", "").expect("GET /metrics");
    assert_eq!(status, 200, "{body}");
    payments_counters(&body)
}

/// Sends a control request and returns the instant midway between sending and the answer.
fn control(port: u16, method: &str, body: &str) -> DateTime<Utc> {
    let before = incident_commander::clock::now();
    let (status, answer) =
        http::request(port, method, "/_demo/fault", body).expect("fault control");
    let after = incident_commander::clock::now();
    assert_eq!(status, 200, "{method} /_demo/fault: {answer}");
    before + (after - before) / 2
}

fn ts(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn secs(d: chrono::TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

fn within(got: f64, want: f64, share: f64) -> bool {
    (got - want).abs() <= want * share
}

/// Signals seen on watch's JSON lines: (state, kind, target, at).
fn signals(out: &Lines) -> Vec<(String, String, String, String)> {
    out.json()
        .into_iter()
        .filter(|(_, v)| v["type"] == "signal")
        .map(|(_, v)| {
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            (s("state"), s("kind"), s("target"), s("at"))
        })
        .collect()
}

/// Whether every signal that fired has resolved since.
fn all_resolved(sig: &[(String, String, String, String)]) -> bool {
    let fired: Vec<_> = sig.iter().filter(|s| s.0 == "fired").collect();
    !fired.is_empty()
        && fired.iter().all(|f| {
            sig.iter()
                .any(|s| s.0 == "resolved" && s.1 == f.1 && s.2 == f.2)
        })
}

#[test]
fn the_postmortem_matches_the_demo_apis_own_counters_and_fault_times() {
    // The demo API, alone.
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
    let base = format!("http://127.0.0.1:{port}");

    let dir = tempfile::tempdir().expect("temp dir");
    let timelines = dir.path().join("incidents");
    let cfg = dir.path().join("ic.yaml");
    std::fs::write(
        &cfg,
        format!(
            "service: shop\nnotify: {{desktop: false, bell: false}}\n\
             detect: {{stable_for: 20s}}\n\
             poll: {{interval: 1s, timeout: 1500ms}}\n\
             endpoints:\n\
             \x20 - {{name: payments, url: \"{base}/api/payments\", expect: {{status: [200], json: {{/status: ok}}}}}}\n\
             \x20 - {{name: orders, url: \"{base}/api/orders\", method: POST, expect: {{status: [201]}}}}\n\
             metrics:\n\
             \x20 - {{name: shop, url: \"{base}/metrics\", interval: 1s}}\n"
        ),
    )
    .expect("write ic.yaml");
    let mut watch = proc::ic()
        .arg("--config")
        .arg(&cfg)
        .args(["watch", "--json", "--timeline-dir"])
        .arg(&timelines)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ic watch");
    let out = Lines::collect(watch.stdout.take().expect("stdout"));
    let err = Lines::collect(watch.stderr.take().expect("stderr"));

    // The baseline: until the scrape has rates, then BASELINE more.
    out.wait_for(Duration::from_secs(20), |l| {
        l.contains("\"metrics_target\":\"shop\"") && l.contains("\"/api/payments\"")
    })
    .expect("watch scraped the demo's routes");
    std::thread::sleep(BASELINE);
    let early: Vec<_> = signals(&out);
    assert!(
        early.is_empty(),
        "signals before any fault (calm baseline): {early:?}"
    );

    let m0 = metrics(port);
    let t0 = control(port, "POST", FAULT_BODY);
    std::thread::sleep(FAULT);
    let t1 = control(port, "DELETE", "");
    let m1 = metrics(port);
    let truth_requests = m1.0 - m0.0;
    let truth_failed = m1.1 - m0.1;
    assert!(
        truth_failed > 30.0,
        "the fault failed only {truth_failed} requests: too few to compare"
    );

    // Wait for every fired signal to resolve.
    let deadline = Instant::now() + Duration::from_secs(90);
    let resolved = loop {
        if all_resolved(&signals(&out)) {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let status = proc::terminate(&mut watch, Duration::from_secs(10));
    proc::terminate(&mut demo, Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "ic watch: {status:?}; stderr: {:?}",
        err.all()
    );
    let seen = signals(&out);
    assert!(
        resolved,
        "not every signal resolved within 90 s of the fault's end (t1 {t1}): {seen:?}"
    );

    let files = proc::timelines(&timelines);
    assert_eq!(files.len(), 1, "one incident: {files:?}; signals {seen:?}");
    let pm = proc::ic()
        .args(["postmortem", "--format", "json"])
        .arg(&files[0])
        .output()
        .expect("ic postmortem");
    assert!(
        pm.status.success(),
        "{}",
        String::from_utf8_lossy(&pm.stderr)
    );
    let pm: Value = serde_json::from_slice(&pm.stdout).expect("postmortem JSON");
    let life = &pm["lifecycle"];
    let impact = &pm["impact"];
    let mut wrong = Vec::new();

    match ts(&life["impact_started"]) {
        Some(s) if secs(s - t0).abs() <= 5.0 => {}
        Some(s) => wrong.push(format!(
            "impact_started {s} is {:+.1} s from the fault's start {t0} (allowed ±5 s)",
            secs(s - t0)
        )),
        None => wrong.push(format!(
            "lifecycle.impact_started is {} (the fault started {t0})",
            life["impact_started"]
        )),
    }
    match ts(&life["impact_ended"]) {
        Some(e) if secs(e - t1).abs() <= 10.0 => {}
        Some(e) => wrong.push(format!(
            "impact_ended {e} is {:+.1} s from the fault's end {t1} (allowed ±10 s)",
            secs(e - t1)
        )),
        None => wrong.push(format!(
            "lifecycle.impact_ended is {} (the fault ended {t1})",
            life["impact_ended"]
        )),
    }

    let targets = impact["targets"].as_array().cloned().unwrap_or_default();
    let names = |t: &Value| -> Vec<String> {
        let mut n = vec![t["target"].as_str().unwrap_or("").to_string()];
        n.extend(
            t["also"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(String::from)),
        );
        n
    };
    let is_payments = |n: &String| n == "payments" || n == "shop /api/payments";
    let payments: Vec<&Value> = targets
        .iter()
        .filter(|t| names(t).iter().any(is_payments))
        .collect();
    match payments.as_slice() {
        [p] => {
            let all = names(p);
            if !(all.iter().any(|n| n == "payments")
                && all.iter().any(|n| n == "shop /api/payments"))
            {
                wrong.push(format!(
                    "the payments target should name both the probe and the route (target + also): {all:?}"
                ));
            }
            let failed = p["failed"].as_f64().unwrap_or(-1.0);
            let requests = p["requests"].as_f64().unwrap_or(-1.0);
            if !within(failed, truth_failed, 0.10) {
                wrong.push(format!(
                    "payments failed: ic {failed}, the demo's 5xx counter {truth_failed} (allowed ±10%)"
                ));
            }
            // `requests` counts what was served over ic's impact window, which is
            // whole scrape samples and so a second or two longer or shorter than
            // the fault: compare with the demo's own rate over that same window.
            let window = match (ts(&life["impact_started"]), ts(&life["impact_ended"])) {
                (Some(s), Some(e)) => secs(e - s),
                _ => secs(t1 - t0),
            };
            let served = truth_requests / secs(t1 - t0) * window;
            if !within(requests, served, 0.10) {
                wrong.push(format!(
                    "payments requests: ic {requests} over its {window:.1} s window; the demo served \
                     {truth_requests} in the {:.1} s fault, {served:.0} at that rate over ic's window (allowed ±10%)",
                    secs(t1 - t0)
                ));
            }
        }
        [] => wrong.push(format!(
            "no impact.targets entry for payments: {}",
            impact["targets"]
        )),
        many => wrong.push(format!(
            "payments listed {} times in impact.targets (probe and route are one target): {many:?}",
            many.len()
        )),
    }
    // `affected`: the faulted route alone, once, under the name its targets entry uses.
    let affected: Vec<String> = impact["affected"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(String::from))
        .collect();
    let want = match payments.as_slice() {
        [p] => p["target"].as_str().map(String::from),
        _ => None,
    };
    let affected_ok = match (&want, affected.as_slice()) {
        (Some(w), [a]) => a == w,
        (None, [a]) => is_payments(a),
        _ => false,
    };
    if !affected_ok {
        wrong.push(format!(
            "impact.affected {affected:?}, want exactly the faulted route, once ({})",
            want.as_deref().unwrap_or("payments or shop /api/payments")
        ));
    }
    let total = impact["failed_requests"].as_f64().unwrap_or(-1.0);
    if !within(total, truth_failed, 0.10) {
        wrong.push(format!(
            "impact.failed_requests: ic {total}, the demo's 5xx counter {truth_failed} (allowed ±10%)"
        ));
    }
    // The figures side by side, for the record (`cargo test --test live ground -- --nocapture`).
    let figure = |v: &Value| v.as_f64().map_or("null".to_string(), |x| format!("{x}"));
    eprintln!(
        "ground truth: impact started {:+.1} s, impact ended {:+.1} s; failed {} vs {truth_failed}; requests {} vs {truth_requests}; affected {affected:?}",
        ts(&life["impact_started"]).map_or(f64::NAN, |s| secs(s - t0)),
        ts(&life["impact_ended"]).map_or(f64::NAN, |e| secs(e - t1)),
        figure(&impact["failed_requests"]),
        payments
            .first()
            .map_or("null".to_string(), |p| figure(&p["requests"])),
    );
    assert!(
        wrong.is_empty(),
        "\n{}\ntruth: fault {t0} .. {t1} ({:.1} s), payments {truth_requests} requests, {truth_failed} failed\n\
         lifecycle {life}\nimpact {impact}\nsignals {seen:?}",
        wrong.join("\n"),
        secs(t1 - t0)
    );
}
