//! Detector evaluation cost per target per tick: one target with six hours of
//! 20 req/s history, evaluated once per simulated second.
//!
//! Run: `cargo bench --bench detect`

use incident_commander::core::detect::{CountSeries, Counts, ErrorRateDetector, Thresholds};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("detect: benchmark");
        return;
    }
    let th = Thresholds {
        slo: 0.999,
        error_rate: 0.01,
    };
    let t0 = 1_800_000_000i64;
    let mut series = CountSeries::default();
    let mut det = ErrorRateDetector::default();
    let warm = 6 * 3600;
    for t in 0..warm {
        series.add(
            t0 + t,
            Counts {
                total: 20,
                errors: u64::from(t % 500 == 0),
            },
        );
    }
    let ticks = 200_000i64;
    let started = Instant::now();
    let mut signals = 0;
    for t in warm..warm + ticks {
        series.add(
            t0 + t,
            Counts {
                total: 20,
                errors: u64::from(t % 500 == 0),
            },
        );
        if black_box(det.evaluate("api", &series, t0 + t, th)).is_some() {
            signals += 1;
        }
    }
    let per = started.elapsed().as_nanos() as f64 / ticks as f64;
    println!("detect: error-rate detector, one target, 6 h of 20 req/s history");
    println!(
        "  {per:.0} ns per tick (add one second + evaluate), {signals} signals over {ticks} ticks"
    );
}
