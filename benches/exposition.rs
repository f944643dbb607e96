//! Exposition parsing throughput on a ~50 MB exposition with histograms, our
//! parser side by side with the `prometheus-parse` crate on the same input.
//!
//! Run: `cargo bench --bench exposition` (`IC_BENCH_MB` sets the size).

use incident_commander::core::exposition::{self, Format};
use std::fmt::Write;
use std::time::{Duration, Instant};

/// A realistic exposition: request counters and latency histograms for many
/// routes × instances × statuses, with HELP/TYPE lines, about `mb` megabytes.
fn generate(mb: usize) -> String {
    let mut s = String::with_capacity(mb * 1_100_000);
    let les = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
    ];
    let mut block = 0;
    while s.len() < mb * 1_000_000 {
        let _ = writeln!(
            s,
            "# HELP http_requests_total Total HTTP requests.\n# TYPE http_requests_total counter"
        );
        for route in 0..50 {
            for status in ["200", "201", "404", "500", "503"] {
                let _ = writeln!(
                    s,
                    "http_requests_total{{method=\"GET\",route=\"/api/v1/resource{route}/item\",status=\"{status}\",instance=\"10.0.{block}.{route}:8080\"}} {}",
                    route * 7919 + block * 31 + status.len()
                );
            }
        }
        let _ = writeln!(
            s,
            "# HELP http_request_duration_seconds Latency.\n# TYPE http_request_duration_seconds histogram"
        );
        for route in 0..50 {
            let mut c = 0;
            for le in les {
                c += route + 3;
                let _ = writeln!(
                    s,
                    "http_request_duration_seconds_bucket{{route=\"/api/v1/resource{route}/item\",instance=\"10.0.{block}.{route}:8080\",le=\"{le}\"}} {c}"
                );
            }
            let _ = writeln!(
                s,
                "http_request_duration_seconds_sum{{route=\"/api/v1/resource{route}/item\",instance=\"10.0.{block}.{route}:8080\"}} {}.25",
                c / 10
            );
            let _ = writeln!(
                s,
                "http_request_duration_seconds_count{{route=\"/api/v1/resource{route}/item\",instance=\"10.0.{block}.{route}:8080\"}} {c}"
            );
        }
        block += 1;
    }
    s
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let out = f();
        best = best.min(t.elapsed());
        last = Some(out);
    }
    (best, last.expect("at least one run"))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("exposition: benchmark");
        return;
    }
    let mb: usize = std::env::var("IC_BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let text = generate(mb);
    let size = text.len() as f64;

    let (ours, samples) = best_of(5, || {
        let e = exposition::parse(&text, Format::Text);
        assert!(e.errors.is_empty());
        e.samples.len()
    });
    let (theirs, their_samples) = best_of(2, || {
        let lines = text.lines().map(|l| Ok(l.to_string()));
        prometheus_parse::Scrape::parse(lines)
            .map(|s| s.samples.len())
            .unwrap_or(0)
    });

    let mbps = |d: Duration| size / d.as_secs_f64() / 1e6;
    println!("exposition: {:.1} MB, {samples} samples", size / 1e6);
    println!(
        "  incident-commander  {:>8.1} MB/s  {:>6.1} ns/sample",
        mbps(ours),
        ours.as_nanos() as f64 / samples as f64
    );
    println!(
        "  prometheus-parse    {:>8.1} MB/s  {:>6.1} ns/sample  ({their_samples} samples)",
        mbps(theirs),
        theirs.as_nanos() as f64 / their_samples.max(1) as f64
    );
    println!(
        "  speed-up            {:>8.1}x",
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
    if let Ok(path) = std::env::var("IC_BENCH_WRITE") {
        std::fs::write(&path, &text).expect("write the generated exposition");
        println!("  wrote {path}");
    }
}
