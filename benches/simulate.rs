//! Simulated-week run time: `assets/scenarios/sim-noise-week.yaml` (7 days
//! plus a 1 h warm-up, two routes at 20 and 10 req/s, probes every 2 s)
//! through `ic` and the three anchor strategies.
//!
//! Run: `cargo bench --bench simulate`

use incident_commander::sim;
use std::path::Path;
use std::time::Instant;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("simulate: benchmark");
        return;
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/sim-noise-week.yaml");
    let scenario = match incident_commander::files::load_scenario(&file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut best = f64::MAX;
    let mut simulated = 0;
    for seed in 1..=3 {
        let started = Instant::now();
        let report = sim::run(&scenario, &scenario.traffic, seed);
        best = best.min(started.elapsed().as_secs_f64());
        simulated = report.warm_up_s + report.duration_s;
    }
    let requests: f64 =
        scenario.traffic.iter().map(|t| t.rps.get()).sum::<f64>() * simulated as f64;
    println!(
        "simulate: sim-noise-week, {simulated} simulated seconds, ~{:.1} M requests, 4 strategies",
        requests / 1e6
    );
    println!(
        "  {best:.2} s wall (best of 3 seeds) = {:.0}× real time",
        simulated as f64 / best
    );
}
