//! Detector evaluation cost per target per tick: one route with six hours of
//! 20 req/s history, fed one second of counts and a p95 reading per simulated
//! second, through every route detector (error rate, latency, traffic drop,
//! 4xx surge).
//!
//! Run: `cargo bench --bench detect`

use incident_commander::core::detect::{Counts, RouteDetectors, Settings};
use std::hint::black_box;
use std::time::Instant;

fn second(t: i64) -> Counts {
    Counts {
        total: 20 + (t % 3) as u64,
        errors: u64::from(t % 500 == 0),
        client_errors: u64::from(t % 40 == 0),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("detect: benchmark");
        return;
    }
    let settings = Settings::default();
    let t0 = 1_800_000_000i64;
    let mut det = RouteDetectors::default();
    let mut out = Vec::new();
    let warm = 6 * 3600;
    let p95 = |t: i64| 0.05 + 0.001 * (t % 7) as f64;
    for t in 0..warm {
        det.observe(
            "api",
            t0 + t,
            second(t),
            Some((p95(t), 20)),
            &settings,
            &mut out,
        );
    }
    out.clear();
    let ticks = 200_000i64;
    let started = Instant::now();
    for t in warm..warm + ticks {
        det.observe(
            black_box("api"),
            t0 + t,
            second(t),
            Some((p95(t), 20)),
            &settings,
            &mut out,
        );
    }
    let per = started.elapsed().as_nanos() as f64 / ticks as f64;
    println!("detect: every route detector, one target, 6 h of 20 req/s history");
    println!(
        "  {per:.0} ns per tick (add one second + evaluate all), {} signals over {ticks} ticks",
        out.len()
    );
}
