//! Timeline journal figures: appends per second (lock + tail scan + one write +
//! fsync, on the file system of the temp dir), and replaying a 100k-event
//! timeline (read + parse + fold into incident state).
//!
//! Run: `cargo bench --bench journal` (`TMPDIR` chooses the disk measured).

use chrono::{TimeZone, Utc};
use incident_commander::core::event::{Draft, Kind, Stage};
use incident_commander::core::incident::Incident;
use incident_commander::journal::{self, Journal};
use serde_json::json;
use std::io::Write;
use std::time::Instant;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("journal: benchmark");
        return;
    }
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("no temp dir: {e}");
            std::process::exit(2);
        }
    };
    let t0 = Utc
        .timestamp_opt(1_800_000_000, 0)
        .single()
        .unwrap_or_default();

    // Appends with fsync.
    let path = dir.path().join("appends.jsonl");
    let Ok(mut j) = Journal::open(&path) else {
        std::process::exit(2)
    };
    let n = 2000;
    let started = Instant::now();
    for i in 0..n {
        let _ = j.append(Draft::note("bench", &format!("note {i}"), &[]), t0);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "journal: {n} appends with fsync in {secs:.2} s = {:.0} appends/s ({:.2} ms each) on {}",
        n as f64 / secs,
        secs * 1000.0 / n as f64,
        dir.path().display()
    );

    // Replay of 100k events of mixed kinds.
    let path = dir.path().join("replay.jsonl");
    let Ok(mut f) = std::fs::File::create(&path) else {
        std::process::exit(2)
    };
    let total = 100_000u64;
    for seq in 1..=total {
        let ts = t0 + chrono::Duration::milliseconds(seq as i64 * 100);
        let d = match seq % 5 {
            0 => Draft::new(
                Kind::MetricSnapshot,
                "ic",
                "snapshot",
                json!({"targets": [{"target": "shop /api/payments", "rps": 20.0, "error_ratio": 0.12, "failed": 144}]}),
            ),
            1 => Draft::new(
                Kind::SignalUpdated,
                "ic",
                "STILL error_rate",
                json!({"detector": "error_rate", "target": "shop /api/payments", "evidence": "15% errors over 30s", "started": "2027-01-15T08:00:00.000Z"}),
            ),
            2 => Draft::note("ann", "looking at the pool graphs", &[]),
            3 => Draft::new(
                Kind::StepDone,
                "ann",
                "step",
                json!({"phase": "triage", "step": format!("s{}", seq % 50)}),
            ),
            _ => Draft::lifecycle("ann", Stage::Acknowledged, ts),
        };
        let d = if seq == 1 {
            Draft::opened("ic", "bench", "shop")
        } else {
            d
        };
        let _ = writeln!(f, "{}", d.into_event(seq, ts).to_line());
    }
    drop(f);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mut best = f64::MAX;
    let mut events = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let Ok(replay) = journal::read(&path) else {
            std::process::exit(2)
        };
        let state = Incident::fold(&replay.events);
        std::hint::black_box(&state);
        events = replay.events.len();
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!(
        "journal: replay of {events} events ({:.1} MB): read + parse + fold in {:.0} ms (best of 5)",
        size as f64 / 1e6,
        best * 1000.0
    );
}
