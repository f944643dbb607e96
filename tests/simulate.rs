//! `ic simulate` end to end: every suite file in `assets/scenarios/sim-*.yaml`
//! meets its `expect:` on seeds 1–30 (fewer for the day-long files in debug
//! builds) and `ic` is never slower than the fastest anchor on it — except the
//! gaps listed, with what was measured, in [`KNOWN_EXPECT_GAPS`] and
//! [`KNOWN_SLOWER_THAN_AN_ANCHOR`]; runs are deterministic per seed, and
//! mistakes are reported with positions.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn ic() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ic"))
}

fn suite_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/scenarios")
        .join(format!("{name}.yaml"))
}

/// Runs a suite file with `--json`; returns (exit code, report).
fn simulate(name: &str, extra: &[&str]) -> (i32, Value) {
    let out = ic()
        .arg("simulate")
        .arg(suite_file(name))
        .arg("--json")
        .args(extra)
        .output()
        .expect("run ic");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn strategy<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["strategies"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no strategy {name} in {report}"))
}

/// Checks `ic`'s figures on one file: each incident fault detected within `detect_s`
/// and reset within 60 s of its end, no false alerts; the anchors all reported.
fn check(name: &str, detect_s: Option<u64>) -> Value {
    let (code, report) = simulate(name, &[]);
    let ic = strategy(&report, "ic");
    assert_eq!(
        report["ic_misses"],
        serde_json::json!([]),
        "{name}: {}",
        report["ic_misses"]
    );
    assert_eq!(code, 0, "{name}");
    assert_eq!(ic["false_alerts"], 0, "{name}: {ic}");
    assert_eq!(ic["warm_up_alerts"], 0, "{name}: {ic}");
    for fault in ic["faults"].as_array().unwrap() {
        if fault["incident"] == false {
            assert_eq!(fault["alerts"], 0, "{name}: {fault}");
            continue;
        }
        let detected = fault["detected_after_s"].as_u64();
        if let Some(limit) = detect_s {
            assert!(
                detected.is_some_and(|d| d <= limit),
                "{name}: {} detected after {detected:?} s (target {limit} s)",
                fault["name"]
            );
        }
        if !fault["end_s"].is_null() {
            let reset = fault["reset_after_s"].as_u64();
            assert!(
                reset.is_some_and(|r| r <= 60),
                "{name}: {} reset after {reset:?} s",
                fault["name"]
            );
        }
    }
    for anchor in ["prometheus-for-5m", "sre-burn-rate", "gatus-3-checks"] {
        let s = strategy(&report, anchor);
        assert_eq!(
            s["faults"].as_array().map(Vec::len),
            ic["faults"].as_array().map(Vec::len),
            "{name}: {anchor} scores the same faults"
        );
    }
    report
}

#[test]
fn outage_is_detected_within_5_seconds() {
    let report = check("sim-outage", Some(5));
    // The anchors, as configured in the wild, take minutes.
    let prom = &strategy(&report, "prometheus-for-5m")["faults"][0];
    assert!(prom["detected_after_s"].as_u64().unwrap() >= 300, "{prom}");
    let gatus = &strategy(&report, "gatus-3-checks")["faults"][0];
    assert!(
        gatus["detected_after_s"].as_u64().unwrap() >= 120,
        "{gatus}"
    );
}

#[test]
fn a_15_percent_step_is_detected_within_10_seconds() {
    check("sim-step-15", Some(10));
}

#[test]
fn a_5_percent_step_is_detected_within_a_minute() {
    check("sim-step-5", Some(60));
}

#[test]
fn a_2_percent_step_is_detected_within_5_minutes() {
    check("sim-step-2", Some(300));
}

#[test]
fn a_doubled_p95_is_detected_within_a_minute() {
    let report = check("sim-latency-2x", Some(60));
    // Error-ratio rules cannot see latency.
    let prom = &strategy(&report, "prometheus-for-5m")["faults"][0];
    assert!(prom["detected_after_s"].is_null(), "{prom}");
}

#[test]
fn traffic_to_zero_is_detected_within_15_seconds() {
    check("sim-traffic-drop", Some(15));
}

/// Why `ic` is later than `prometheus-5s-1m-for-1m` on small steps at low traffic
/// (`KNOWN_SLOWER_THAN_AN_ANCHOR`): that rule's speed there is its line at two errors in
/// a minute, so on the same route with 5xx at 0.6% (60% of the line) it pages on every
/// seed, while `ic` stays silent. A rule quiet at 60% of the line cannot fire sooner.
#[test]
fn the_fastest_rule_on_small_steps_pages_on_a_sub_threshold_shift_and_ic_does_not() {
    for seed in 1..=10 {
        let (code, report) = simulate("sim-low-traffic-shift", &["--seed", &seed.to_string()]);
        assert_eq!(code, 0, "seed {seed}: {}", report["ic_misses"]);
        assert_eq!(strategy(&report, "ic")["false_alerts"], 0, "seed {seed}");
        let fast = strategy(&report, "prometheus-5s-1m-for-1m")["false_alerts"]
            .as_u64()
            .unwrap();
        assert!(fast >= 5, "seed {seed}: the 1m rule paged {fast} times");
    }
}

#[test]
fn every_spike_is_detected_within_a_minute() {
    let report = check("sim-spikes", Some(60));
    assert_eq!(
        strategy(&report, "ic")["faults"].as_array().unwrap().len(),
        12
    );
}

#[test]
fn a_three_second_blip_never_pages_and_an_outage_still_pages_within_5_seconds() {
    for seed in 1..=30 {
        let (code, report) = simulate("sim-blip", &["--seed", &seed.to_string()]);
        assert_eq!(code, 0, "seed {seed}: {}", report["ic_misses"]);
        let ic = strategy(&report, "ic");
        assert_eq!(ic["false_alerts"], 0, "seed {seed}: {ic}");
        let faults = ic["faults"].as_array().unwrap();
        for blip in &faults[..2] {
            assert_eq!(blip["alerts"], 0, "seed {seed}: {blip}");
        }
        let outage = &faults[2];
        assert!(
            outage["detected_after_s"].as_u64().is_some_and(|d| d <= 5),
            "seed {seed}: {outage}"
        );
    }
}

#[test]
fn a_flapping_route_pages_once_and_stays_open_while_it_flaps() {
    let mut once = 0;
    for seed in 1..=30 {
        // Its `expect:` (one page, no resolution) is the suite's: see KNOWN_EXPECT_GAPS.
        let (_, report) = simulate("sim-flapping", &["--seed", &seed.to_string()]);
        let ic = strategy(&report, "ic");
        let log = ic["alert_log"].as_array().unwrap();
        let fired = |rule: &str| {
            log.iter()
                .filter(|e| e["firing"] == true && e["rule"] == rule)
                .count()
        };
        // Ten episodes: at most two error-rate pages (a detector whose windows
        // merge the first episodes resolves them as one long one), and no
        // resolution while the route flaps unless it was such a long one.
        assert!(
            (1..=2).contains(&fired("error_rate")),
            "seed {seed}: {log:?}"
        );
        once += usize::from(fired("error_rate") == 1);
        let first = &ic["faults"][0];
        assert!(
            first["detected_after_s"].as_u64().is_some_and(|d| d <= 15),
            "seed {seed}: {first}"
        );
        // Resolved 90 s (the error-rate reset × 3) after the last episode's
        // last bad second (its end: 1160 s), not before.
        let last = log
            .iter()
            .rev()
            .find(|e| e["firing"] == false && e["rule"] == "error_rate")
            .and_then(|e| e["t"].as_i64())
            .unwrap();
        assert!(
            (1245..=1260).contains(&last),
            "seed {seed}: resolved at {last}"
        );
    }
    assert!(once >= 25, "one page on {once} of 30 seeds");
}

/// `ic` reading a simulated exporter's `/metrics` every 5 s through `ic watch`'s parser:
/// scrape gaps (whose next scrape carries the gap at once), restarts (one inside a fault)
/// and new series page no one, every fault is caught once, and the onsets are true. Before
/// the counts of a scrape were spread over the seconds it covers, each gap ended in a
/// surge page on every route (5 false alerts on seed 1) and a traffic drop's onset was
/// put 289 s early, back through the silent seconds between scrapes.
#[test]
fn scrape_gaps_restarts_and_new_series_page_no_one_and_onsets_stay_true() {
    for seed in 1..=4 {
        let (code, report) = simulate("sim-scrape-trouble", &["--seed", &seed.to_string()]);
        assert_eq!(code, 0, "seed {seed}: {}", report["ic_misses"]);
        let ic = strategy(&report, "ic");
        assert_eq!(ic["false_alerts"], 0, "seed {seed}: {ic}");
        let log = ic["alert_log"].as_array().unwrap();
        assert!(
            !log.iter().any(|e| e["rule"] == "traffic_surge"),
            "seed {seed}: {log:?}"
        );
        for fault in ic["faults"].as_array().unwrap() {
            let onset = fault["onset_error_s"].as_i64();
            assert!(onset.is_some_and(|e| e.abs() <= 10), "seed {seed}: {fault}");
        }
        // The restart at 65m, inside orders-5xx (60m-70m), resolves nothing.
        let orders: Vec<(i64, bool)> = log
            .iter()
            .filter(|e| e["route"] == 0 && e["rule"] == "error_rate")
            .map(|e| (e["t"].as_i64().unwrap(), e["firing"] == true))
            .collect();
        assert_eq!(orders.len(), 2, "seed {seed}: {orders:?}");
        assert!(
            orders[0].1 && !orders[1].1 && orders[1].0 >= 4200,
            "seed {seed}: {orders:?}"
        );
    }
}

#[test]
fn a_week_of_noise_never_pages() {
    let report = check("sim-noise-week", None);
    assert_eq!(report["duration_s"], 7 * 86_400);
    assert_eq!(strategy(&report, "ic")["alerts"], 0);
}

#[test]
fn one_failure_on_a_quiet_route_is_not_an_incident() {
    let report = check("sim-low-traffic", None);
    assert_eq!(strategy(&report, "ic")["alerts"], 0);
}

#[test]
fn the_same_seed_gives_the_same_report_and_another_seed_another() {
    let (_, a) = simulate("sim-step-5", &["--seed", "7"]);
    let (_, b) = simulate("sim-step-5", &["--seed", "7"]);
    let (_, c) = simulate("sim-step-5", &["--seed", "8"]);
    assert_eq!(a, b);
    assert_eq!(a["seed"], 7);
    assert_ne!(
        a["strategies"][0]["alert_log"],
        c["strategies"][0]["alert_log"]
    );
}

#[test]
fn the_table_shows_every_strategy_and_the_verdict() {
    let out = ic()
        .arg("simulate")
        .arg(suite_file("sim-step-15"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for s in [
        "ic",
        "prometheus-for-5m",
        "sre-burn-rate",
        "gatus-3-checks",
        "step-15 [10m00s–25m00s]",
        "false alerts",
        "ic meets every target",
    ] {
        assert!(text.contains(s), "missing {s:?} in\n{text}");
    }
}

#[test]
fn a_bundled_demo_scenario_simulates_on_the_demo_routes() {
    let out = ic()
        .args(["simulate", "payments-pool-exhaustion", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["routes"].as_array().unwrap().len(), 5);
    let ic = strategy(&report, "ic");
    assert!(
        ic["faults"][0]["detected_after_s"].as_u64().unwrap() <= 60,
        "{ic}"
    );
}

#[test]
fn a_missed_target_exits_1_and_says_what_was_missed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("too-strict.yaml");
    std::fs::write(
        &file,
        "warm_up: 15m\nduration: 20m\ntraffic: [{route: /a, rps: 20/s, error_rate: 0.1%}]\n\
         faults: [{name: tiny, route: /a, start: 5m, end: 15m, error_rate: 2%, detect_within: 1s}]\n",
    )
    .unwrap();
    let out = ic().arg("simulate").arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("MISSED: tiny: detected after"), "{text}");
}

#[test]
fn mistakes_in_a_scenario_are_usage_errors_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "traffic:\n  - {route: /a, rps: 20/week}\nfaults: [{name: x, route: /a, outage: true}]\n",
    )
    .unwrap();
    let out = ic().arg("simulate").arg(&file).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.yaml:2:"), "{err}");
    assert!(err.contains("unknown unit `/week`"), "{err}");

    std::fs::write(
        &file,
        "traffic: [{route: /a, rps: 20}]\nfaults: [{name: x, route: /b, outage: true}]\n",
    )
    .unwrap();
    let out = ic().arg("simulate").arg(&file).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("unknown route `/b`"), "{err}");
}

#[test]
fn lint_accepts_every_suite_file() {
    let out = ic()
        .arg("lint")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What `ic simulate` cannot run within its memory bound (256 MB) is refused,
/// by `ic lint` and `ic simulate` alike, with the position and a hint: more
/// than 1,000 routes (20,000 took 644 MB), more than 1e9 requests a second on
/// a route, a fault repeating faster than the one-second step, more than
/// 10,000 fault occurrences.
#[test]
fn a_scenario_past_the_memory_bound_is_refused_with_a_position() {
    let dir = tempfile::tempdir().unwrap();
    let routes: String = (0..1_001)
        .map(|i| format!("  - {{route: /r{i}, rps: 1/s}}\n"))
        .collect();
    let cases = [
        (
            format!("traffic:\n{routes}faults: [{{name: x, route: /r1, outage: true}}]\n"),
            "1002:6",
            "1001 routes, more than the 1000",
        ),
        (
            "traffic:\n  - {route: /a, rps: 1/s}\n  - {route: /b, rps: 2000000000/s}\nfaults: [{name: x, route: /a, outage: true}]\n".to_string(),
            "3:17",
            "rps 2000000000/s is more than 1e9/s",
        ),
        (
            "traffic: [{route: /a, rps: 1/s}]\nfaults:\n  - {name: x, route: /a, outage: true}\n  - {name: spiky, route: /a, error_rate: 5%, repeat: {every: 500ms, lasts: 200ms}}\n".to_string(),
            "4:6",
            "repeats every 500ms",
        ),
        (
            "duration: 30d\ntraffic: [{route: /a, rps: 1/s}]\nfaults:\n  - {name: spiky, route: /a, error_rate: 5%, repeat: {every: 2m, lasts: 1m}}\n".to_string(),
            "4:6",
            "21600 fault occurrences",
        ),
    ];
    for (i, (text, at, needle)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("big-{i}.yaml"));
        std::fs::write(&file, text).unwrap();
        for cmd in ["lint", "simulate"] {
            let out = ic().arg(cmd).arg(&file).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd} {needle}: {err}");
            assert!(
                err.contains(&format!("big-{i}.yaml:{at}: ")) && err.contains(needle),
                "{cmd}: {err}"
            );
            assert!(err.contains("hint: "), "{err}");
        }
    }
}

/// The simulator's memory does not grow with the request rate: a route at
/// 1e9 requests a second (which took 7.6 GB, and more the longer it ran) is
/// simulated in tens of MB, with the fault on it detected. Run under a 2 GB
/// address-space limit so that a regression fails here instead of exhausting
/// the machine.
#[test]
fn a_billion_requests_a_second_take_no_more_memory_than_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fast.yaml");
    std::fs::write(
        &file,
        "warm_up: 2m\nduration: 2m\ntraffic: [{route: /a, rps: 1000000000/s}]\nfaults: [{name: step, route: /a, start: 30s, error_rate: 10%, detect_within: 30s}]\n",
    )
    .unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 2000000 && exec /usr/bin/time -f 'peak-kb=%M' {} simulate {} --json",
            env!("CARGO_BIN_EXE_ic"),
            file.display()
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let kb: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("peak-kb="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak in {err}"));
    eprintln!("1e9 requests/s for 4 simulated minutes: peak {kb} KB");
    assert!(kb < 64 * 1024, "peak {kb} KB");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ic_misses"], serde_json::json!([]), "{report}");
}

/// Every shipped suite file, the seeds it runs on here (1..=N) and which of the
/// [`PARTS`] tests runs it, balanced so that each stays under ~30 s in a debug build.
/// The noise week takes 35 s a seed in debug: its seed 1 is [`a_week_of_noise_never_pages`]
/// (`cargo run --release -- simulate FILE --seed N` runs any seed of any file in seconds).
const SUITE: &[(&str, u64, usize)] = &[
    ("sim-spikes", 30, 0),
    ("sim-office-hours", 2, 0),
    ("sim-blip", 30, 0),
    ("sim-flapping", 30, 0),
    ("sim-step-2", 30, 1),
    ("sim-hung-504", 30, 1),
    ("sim-latency-creep", 30, 2),
    ("sim-subthreshold-shift", 30, 2),
    ("sim-low-traffic-step", 30, 3),
    ("sim-low-traffic-shift", 30, 1),
    ("sim-ramp-slow", 30, 3),
    ("sim-probe-vs-traffic", 30, 4),
    ("sim-step-5", 30, 4),
    ("sim-retry-storm", 30, 4),
    ("sim-cold-start", 30, 5),
    ("sim-cold-start-lifetime", 30, 3),
    ("sim-ramp-4", 30, 5),
    ("sim-traffic-drop", 30, 5),
    ("sim-diurnal-day", 3, 6),
    ("sim-low-traffic", 30, 6),
    ("sim-latency-2x", 30, 6),
    ("sim-tail-only", 30, 7),
    ("sim-step-15", 30, 7),
    ("sim-outage", 30, 7),
    ("sim-step-2-slow", 30, 7),
    ("sim-noise-week", 0, 7),
    // Run on seeds 1-4 by its own test (2.5 s a seed in a debug build).
    ("sim-scrape-trouble", 0, 7),
];

/// How many tests share the suite.
const PARTS: usize = 8;

/// Suite files whose `expect:` today's `ic` does not meet on every seed it runs on here,
/// and what was measured (`ic simulate FILE --json --seed N`). The goals stand in
/// the files; detector work removes entries (the suite fails on a listed gap that closed).
/// The entries marked "before issue #17" failed the same way before this suite ran every
/// seed (the same figures from the previous commit's binary).
const KNOWN_EXPECT_GAPS: &[(&str, &str)] = &[
    (
        "sim-cold-start",
        "14 of 30 seeds: the orders outage (10 req/s) resets 1m02s-1m24s after its end (target 60 s; seed 12 payments too, 1m27s): the error rate resolves once surely under 1%, which at 10 req/s and 0.1% noise takes 40-84 s of answers. Before: 30 of 30 seeds, a latency alert learnt from the outage's 2 ms refusals that never resolved (a mostly failing route's latency is no longer learnt or judged)",
    ),
    (
        "sim-flapping",
        "seed 29: the detector's windows merge the first episodes into one long one, which resolves; episode 2 pages again 2m10s in (prometheus-5s-1m-for-1m: 7 s): 2 pages, 1 resolution",
    ),
    (
        "sim-hung-504",
        "seed 29: reset 1m52s after the end (target 1m30s: the last 504s surface 30 s after it); seed 8: ic 10 s, sre-burn-rate-ticket 7 s",
    ),
    (
        "sim-low-traffic-step",
        "28 of 30 seeds: ic 2m57s-11m26s, later than prometheus-5s-1m-for-1m (1m02s-7m22s); over the 6 min target on some",
    ),
    (
        "sim-outage",
        "seed 25: reset 1m01s after the end (target 60 s); before issue #17",
    ),
    (
        "sim-ramp-slow",
        "30 of 30 seeds: ic 10m28s-13m57s, target 10 min; later than prometheus-5s-1m-for-1m or sre-burn-rate-ticket (5m27s-10m07s)",
    ),
    (
        "sim-spikes",
        "seeds 12, 15 and 17: a spike resets 1m03s-1m05s after its end (target 60 s); before issue #17",
    ),
    (
        "sim-step-2-slow",
        "seeds 9 and 17: detected after 10m10s and 10m40s (target 10 min); before issue #17 15 of 30 seeds missed it",
    ),
    (
        "sim-subthreshold-shift",
        "seed 17: one false `down` (3 failing probes in a row at 0.6% failures, 1321 s in)",
    ),
];

/// Suite files where `ic` detects some fault later than the fastest anchor that stayed quiet
/// outside the faults (or misses one it detects), and what was measured. The suite fails on
/// any other file where that happens, and on a listed one where it no longer does.
const KNOWN_SLOWER_THAN_AN_ANCHOR: &[(&str, &str)] = &[
    (
        "sim-flapping",
        "seed 29: episode 2 paged again after 2m10s, prometheus-5s-1m-for-1m 7 s",
    ),
    (
        "sim-low-traffic-step",
        "28 of 30 seeds: ic 2m57s-11m26s, prometheus-5s-1m-for-1m 1m02s-7m22s; that rule pages 6-25 times in 6 h on the same route at 60% of the line (sim-low-traffic-shift), ic never",
    ),
    (
        "sim-ramp-4",
        "29 of 30 seeds: ic 9m14s-14m02s, prometheus-5s-1m-for-1m or sre-burn-rate-ticket 7s-12m37s",
    ),
    (
        "sim-ramp-slow",
        "30 of 30 seeds: ic 10m28s-13m57s, prometheus-5s-1m-for-1m or sre-burn-rate-ticket 5m27s-10m07s",
    ),
    (
        "sim-step-2",
        "17 of 30 seeds: ic 31s-3m18s, prometheus-5s-1m-for-1m or sre-burn-rate-ticket 7s-1m47s",
    ),
    (
        "sim-step-2-slow",
        "30 of 30 seeds: ic 2m19s-10m40s, prometheus-5s-1m-for-1m 1m02s-3m42s",
    ),
    (
        "sim-step-5",
        "seeds 8 and 17: ic 9-20 s, sre-burn-rate-ticket 7 s (its 6 h ratio sits at 1x the budget: the first errors tip it)",
    ),
    (
        "sim-hung-504",
        "seed 8: ic 10 s, sre-burn-rate-ticket 7 s (its 6 h ratio sits at 1x the budget)",
    ),
];

/// Runs `file` on seeds 1..=`seeds`: the seeds whose `expect:` failed (with the misses),
/// and those where `ic` was slower than the fastest anchor (with the faults).
fn suite_run(file: &str, seeds: u64) -> (Vec<String>, Vec<String>) {
    let (mut misses, mut slower) = (Vec::new(), Vec::new());
    for seed in 1..=seeds {
        let (code, report) = simulate(file, &["--seed", &seed.to_string()]);
        let missed = report["ic_misses"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            code != 0,
            !missed.is_empty(),
            "{file} seed {seed}: exit {code}"
        );
        if !missed.is_empty() {
            misses.push(format!("seed {seed}: {missed:?}"));
        }
        let behind: Vec<String> = report["versus_anchors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["ic_slower"] == true)
            .map(|v| {
                format!(
                    "{}: ic {} s, {} {} s",
                    v["name"], v["ic_after_s"], v["fastest_anchor"], v["fastest_anchor_after_s"]
                )
            })
            .collect();
        if !behind.is_empty() {
            slower.push(format!("seed {seed}: {behind:?}"));
        }
    }
    (misses, slower)
}

/// Holds part `part` of the suite to its expectations and to the anchors.
fn suite_part(part: usize) {
    let listed = |list: &[(&str, &str)], file: &str| list.iter().any(|(f, _)| *f == file);
    for (file, seeds, _) in SUITE.iter().filter(|(_, _, p)| *p == part) {
        if *seeds == 0 {
            continue;
        }
        let (misses, slower) = suite_run(file, *seeds);
        if listed(KNOWN_EXPECT_GAPS, file) {
            assert!(
                !misses.is_empty(),
                "{file} now meets its expect: on seeds 1-{seeds}: remove it from KNOWN_EXPECT_GAPS"
            );
        } else {
            assert!(misses.is_empty(), "{file}: expect: not met: {misses:#?}");
        }
        if listed(KNOWN_SLOWER_THAN_AN_ANCHOR, file) {
            assert!(
                !slower.is_empty(),
                "{file}: ic is no longer slower than an anchor on seeds 1-{seeds}: remove it from KNOWN_SLOWER_THAN_AN_ANCHOR"
            );
        } else {
            assert!(
                slower.is_empty(),
                "{file}: ic slower than the fastest anchor: {slower:#?}"
            );
        }
    }
}

#[test]
fn suite_part_1_meets_expect_and_ic_is_never_slower_than_the_fastest_anchor() {
    suite_part(0);
}

#[test]
fn suite_part_2_meets_expect_and_ic_is_never_slower_than_the_fastest_anchor() {
    suite_part(1);
}

#[test]
fn suite_part_3_meets_expect_and_ic_is_never_slower_than_the_fastest_anchor() {
    suite_part(2);
}

#[test]
fn suite_part_4_meets_expect_and_ic_is_never_slower_than_the_fastest_anchor() {
    suite_part(3);
}

#[test]
fn suite_part_5_meets_expect_and_ic_is_never_slower_than_the_fastest_anchor() {
    suite_part(4);
}

#[test]
fn suite_part_6_meets_expect_and_ic_is_never_slower_than_the_fastest_anchor() {
    suite_part(5);
}

#[test]
fn suite_part_7_meets_expect_and_ic_is_never_slower_than_the_fastest_anchor() {
    suite_part(6);
}

#[test]
fn suite_part_8_meets_expect_and_ic_is_never_slower_than_the_fastest_anchor() {
    suite_part(7);
}

/// No shipped file escapes the suite, and every gap names a shipped file and says why.
#[test]
fn every_shipped_file_is_in_the_suite_and_every_gap_is_explained() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios");
    let mut shipped: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".yaml")?;
            stem.starts_with("sim-").then(|| stem.to_string())
        })
        .collect();
    shipped.sort();
    let mut suite: Vec<String> = SUITE.iter().map(|(f, _, _)| f.to_string()).collect();
    suite.sort();
    assert_eq!(
        shipped, suite,
        "SUITE must list every assets/scenarios/sim-*.yaml"
    );
    assert!(SUITE.iter().all(|(_, _, p)| *p < PARTS));
    for (file, reason) in KNOWN_EXPECT_GAPS.iter().chain(KNOWN_SLOWER_THAN_AN_ANCHOR) {
        assert!(suite.iter().any(|f| f == file), "{file} is not shipped");
        assert!(reason.len() > 20, "{file}: say what was measured");
    }
}

/// Every anchor is reported, each fault gets a verdict against the fastest one, and the
/// table shows it.
#[test]
fn the_report_names_the_fastest_anchor_per_fault() {
    let (_, report) = simulate("sim-step-15", &[]);
    let names: Vec<&str> = report["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    for anchor in [
        "prometheus-for-5m",
        "sre-burn-rate",
        "gatus-3-checks",
        "prometheus-5s-for-5m",
        "prometheus-5s-1m-for-1m",
        "sre-burn-rate-ticket",
        "prometheus-latency",
        "prometheus-4xx",
        "prometheus-traffic",
    ] {
        assert!(names.contains(&anchor), "{anchor} missing from {names:?}");
    }
    let v = &report["versus_anchors"][0];
    assert_eq!(v["name"], "step-15");
    assert_eq!(v["ic_slower"], false, "{v}");
    let (ours, anchor) = (
        v["ic_after_s"].as_u64(),
        v["fastest_anchor_after_s"].as_u64(),
    );
    assert!(ours.is_some() && anchor.is_some() && ours <= anchor, "{v}");
    // The latency anchor sees a p99 ×4 that the error-ratio rules cannot.
    let (_, report) = simulate("sim-tail-only", &[]);
    assert_eq!(
        report["versus_anchors"][0]["fastest_anchor"], "prometheus-latency",
        "{}",
        report["versus_anchors"]
    );
    let out = ic()
        .arg("simulate")
        .arg(suite_file("sim-step-15"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("fastest anchor") && text.contains("ic vs anchor"),
        "{text}"
    );
}
