//! Lint time of a large playbook: `Playbook::parse` (YAML, then every check
//! with its `FILE:LINE:COL` lookups, as `ic lint` and the start of `ic watch`
//! run it) on generated playbooks of 1, 2 and 4 MiB (the YAML cap), tens of
//! thousands of steps, every tenth with a `verify` and every tenth a `run`.
//! Linear: twice the size, about twice the time (it was quadratic: 74 s for
//! 60,000 steps).
//!
//! Run: `cargo bench --bench lint`

use incident_commander::core::playbook::Playbook;
use std::path::Path;
use std::time::Instant;

/// A playbook of about `bytes` bytes; returns it and its step count.
fn playbook(bytes: usize) -> (String, usize) {
    let mut text = String::from(
        "id: huge\ntitle: a playbook of tens of thousands of steps\nphases:\n  detect:\n",
    );
    let mut steps = 0;
    loop {
        let line = match steps % 10 {
            0 => format!(
                "    - {{id: step-{steps}, text: \"Check the pool {steps}\", verify: \"error_rate({{target}}) < 1% over 5m\"}}\n"
            ),
            5 => format!(
                "    - {{id: step-{steps}, text: \"Restart {steps}\", run: \"kubectl rollout restart deploy/{{target}}\"}}\n"
            ),
            _ => format!("    - {{id: step-{steps}, text: \"Step {steps} of the procedure\"}}\n"),
        };
        if text.len() + line.len() > bytes {
            return (text, steps);
        }
        text.push_str(&line);
        steps += 1;
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("lint: benchmark");
        return;
    }
    let file = Path::new("huge.yaml");
    for mib in [1, 2, 4] {
        // Just under the 4 MiB cap for the largest.
        let (text, steps) = playbook(mib * 1024 * 1024 - 1024);
        let mut best = f64::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            if let Err(e) = Playbook::parse(file, &text) {
                eprintln!("{e}");
                std::process::exit(2);
            }
            best = best.min(started.elapsed().as_secs_f64());
        }
        println!(
            "lint: playbook of {:.1} MiB, {steps} steps: {:.0} ms (best of 3), {:.1} µs per step",
            text.len() as f64 / (1024.0 * 1024.0),
            best * 1000.0,
            best * 1e6 / steps as f64
        );
    }
}
