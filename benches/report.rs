//! `ic report`'s cost on a large directory: 1,000 timelines of 1,000 events
//! each (signals, lifecycle, snapshots, notes, comms, an action item), read
//! and folded on every core (`journal::incidents`) and reported
//! (`core::report::build` and its Markdown). Goal: under 2 s.
//!
//! Run: `cargo bench --bench report`

use incident_commander::core::report;
use serde_json::json;
use std::fmt::Write;
use std::time::Instant;

const INCIDENTS: usize = 1_000;
const EVENTS: usize = 1_000;

fn timeline(k: usize) -> String {
    let t0 = 1_790_000_000i64 + k as i64 * 86_400 / 4;
    let ts = |s: i64| {
        chrono::DateTime::from_timestamp(t0 + s, 0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    };
    let mut out = String::with_capacity(EVENTS * 200);
    let mut line = |seq: usize, s: i64, kind: &str, data: serde_json::Value| {
        let e = json!({"seq": seq, "ts": ts(s), "kind": kind, "actor": "ann", "msg": kind, "data": data});
        let _ = writeln!(out, "{e}");
    };
    line(
        1,
        0,
        "incident_opened",
        json!({"title": format!("incident {k}"), "service": "shop"}),
    );
    line(
        2,
        5,
        "signal_fired",
        json!({"detector": if k.is_multiple_of(3) { "latency" } else { "error_rate" },
        "target": format!("/api/r{}", k % 7), "severity": "critical", "evidence": "x", "started": ts(0), "at": ts(5)}),
    );
    line(
        3,
        0,
        "lifecycle",
        json!({"stage": "impact_started", "at": ts(0)}),
    );
    line(4, 5, "lifecycle", json!({"stage": "detected", "at": ts(5)}));
    line(
        5,
        60,
        "lifecycle",
        json!({"stage": "acknowledged", "at": ts(60)}),
    );
    line(6, 61, "comms_update", json!({"text": "impact"}));
    line(
        7,
        62,
        "action_item",
        json!({"text": "fix", "owner": "bob", "due": "2020-01-01"}),
    );
    for seq in 8..EVENTS {
        let s = 60 + seq as i64;
        match seq % 4 {
            0 => line(
                seq,
                s,
                "metric_snapshot",
                json!({"targets": [{"target": "/api/r1", "rps": 20.0, "error_ratio": 0.05, "p95_ms": 120.0, "failed": 3}]}),
            ),
            1 => line(
                seq,
                s,
                "signal_updated",
                json!({"detector": "error_rate", "target": "/api/r1", "severity": "critical", "evidence": "5% errors", "started": ts(0), "at": ts(s)}),
            ),
            2 => line(
                seq,
                s,
                "note",
                json!({"text": "looking at the pool", "tags": []}),
            ),
            _ => line(seq, s, "comms_update", json!({"text": "still degraded"})),
        }
    }
    out
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("report: benchmark");
        return;
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    for k in 0..INCIDENTS {
        std::fs::write(dir.path().join(format!("{k:04}.jsonl")), timeline(k)).expect("write");
    }
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let incidents: Vec<_> = incident_commander::journal::incidents(dir.path())
            .into_iter()
            .filter_map(|(p, f)| Some((p, f.ok()?)))
            .collect();
        let r = report::build(&incidents, None, today, false);
        let md = report::markdown(&r);
        let took = start.elapsed().as_secs_f64();
        assert_eq!(r.incidents, INCIDENTS);
        std::hint::black_box(md);
        best = best.min(took);
    }
    println!(
        "report: {INCIDENTS} timelines of {EVENTS} events: {best:.2} s (best of 3; goal < 2 s) on {} threads",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}
