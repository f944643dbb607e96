//! Hostile and hand-edited timelines against the "true numbers" of issue #14:
//! `impact_measured` rows with absurd, wrong-typed or enormous fields, targets
//! that try to forge a postmortem line, `also` lists that loop between targets,
//! thousands of rows, lifecycle corrections far away in time, and a stale
//! incident whose last event is dated in the future. Nothing may panic, hang,
//! print an absurd figure or forge a line.

use chrono::{DateTime, Duration, TimeZone, Utc};
use incident_commander::core::event::{Draft, Event, Kind, Stage, format_ts};
use incident_commander::core::incident::Incident;
use incident_commander::core::postmortem;
use incident_commander::journal;
use serde_json::{Value, json};
use std::time::Instant;

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
}

fn events(drafts: Vec<(i64, Draft)>) -> Vec<Event> {
    drafts
        .into_iter()
        .enumerate()
        .map(|(i, (at, d))| d.into_event(i as u64 + 1, t(at)))
        .collect()
}

fn fired(target: &str, at: i64) -> Draft {
    Draft::new(
        Kind::SignalFired,
        "ic",
        "fired",
        json!({"detector": "error_rate", "target": target, "evidence": "x", "started": format_ts(t(at - 10))}),
    )
}

fn resolved(target: &str, ended: i64) -> Draft {
    Draft::new(
        Kind::SignalResolved,
        "ic",
        "resolved",
        json!({"detector": "error_rate", "target": target, "evidence": "quiet", "ended": format_ts(t(ended))}),
    )
}

fn measured(rows: Value) -> Draft {
    Draft::new(
        Kind::ImpactMeasured,
        "ic",
        "impact",
        json!({"run": "r1", "targets": rows}),
    )
}

fn base() -> Vec<(i64, Draft)> {
    vec![
        (0, Draft::opened("ic", "Payments 5xx", "shop")),
        (0, fired("payments", 0)),
    ]
}

#[test]
fn wrong_typed_and_absurd_measurement_fields_give_sane_figures() {
    let mut d = base();
    d.push((
        60,
        measured(json!([
            {"target": "a", "requests": -5, "failed": "NaN", "peak_error_ratio": "NaN",
             "p95_before_ms": -40.0, "p95_during_ms": "inf", "started": 7, "ended": "yesterday"},
            {"target": "b", "requests": 10, "failed": 1000, "peak_error_ratio": 7.5,
             "p95_before_ms": 1e308, "started": format_ts(t(100)), "ended": format_ts(t(50))},
            {"target": "c", "requests": 1.5, "failed": 0.5, "peak_error_ratio": -0.5},
            {"target": 17, "requests": 1},
            {"requests": 1},
            "not an object",
            null,
        ])),
    ));
    let events = events(d);
    let imp = Incident::fold(&events).impact();
    for row in &imp.targets {
        assert!(
            row.failed <= row.requests,
            "{}: {} failed of {} requests",
            row.target,
            row.failed,
            row.requests
        );
        if let Some(r) = row.peak_error_ratio {
            assert!((0.0..=1.0).contains(&r), "{}: ratio {r}", row.target);
        }
        for v in [row.p95_before_ms, row.p95_during_ms, row.p95_after_ms]
            .into_iter()
            .flatten()
        {
            assert!(v.is_finite() && v >= 0.0, "{}: p95 {v}", row.target);
        }
        if let (Some(s), Some(e)) = (row.started, row.ended) {
            assert!(e >= s, "{}: ended {e} before started {s}", row.target);
        }
    }
    let md = postmortem::markdown(&events);
    assert!(!md.contains("-40 ms"), "{md}");
    assert!(!md.contains("NaN") && !md.contains("inf ms"), "{md}");
    let json = postmortem::json(&events);
    assert!(json["impact"]["failed_requests"].as_u64().is_some());
}

#[test]
fn huge_counts_saturate_instead_of_wrapping() {
    let mut d = base();
    for (i, run) in ["r1", "r2", "r3"].iter().enumerate() {
        let start = format_ts(t(i as i64 * 1000));
        let end = format_ts(t(i as i64 * 1000 + 10));
        d.push((
            60 + i as i64,
            Draft::new(
                Kind::ImpactMeasured,
                "ic",
                "impact",
                json!({"run": run, "targets": [{"target": "payments", "requests": u64::MAX, "failed": u64::MAX - 1,
                    "started": start, "ended": end}]}),
            ),
        ));
    }
    let imp = Incident::fold(&events(d)).impact();
    assert_eq!(imp.targets[0].requests, u64::MAX);
    assert_eq!(imp.failed_requests, Some(u64::MAX));
}

#[test]
fn hostile_target_names_stay_one_escaped_table_row() {
    let hostile = "pay|ments\n| forged | row |\r\u{202e}gnp.exe\u{1b}[31m";
    let mut d = vec![
        (0, Draft::opened("ic", "x", "shop")),
        (0, fired(hostile, 0)),
    ];
    d.push((
        30,
        measured(
            json!([{"target": hostile, "also": [hostile, "b|c\nd"], "requests": 10, "failed": 1,
            "started": format_ts(t(-10)), "ended": format_ts(t(20))}]),
        ),
    ));
    d.push((40, resolved(hostile, 20)));
    let md = postmortem::markdown(&events(d));
    assert!(!md.contains('\u{202e}') && !md.contains('\u{1b}') && !md.contains('\r'));
    assert!(!md.lines().any(|l| l.starts_with("| forged")), "{md}");
    // Affected targets, the per-target table, the signals table: each one line,
    // with only its own columns' separators unescaped.
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.contains("gnp.exe") && l.starts_with('|'))
        .collect();
    assert_eq!(rows.len(), 3, "{md}");
    // Prose naming it (the pre-filled facts) keeps it on one line too.
    let prose = md
        .lines()
        .filter(|l| l.contains("gnp.exe") && !l.starts_with('|'))
        .count();
    assert_eq!(prose, 1, "{md}");
    for row in rows {
        let seps = row.replace("\\|", "").matches('|').count();
        assert!([3, 7, 8].contains(&seps), "{seps} separators: {row}");
    }
}

#[test]
fn also_lists_that_loop_between_targets_count_each_target_once() {
    let mut d = vec![
        (0, Draft::opened("ic", "x", "shop")),
        (0, fired("a", 0)),
        (1, fired("b", 1)),
    ];
    d.push((
        30,
        measured(json!([
            {"target": "a", "also": ["b", "a"], "requests": 10, "failed": 1},
            {"target": "b", "also": ["a"], "requests": 20, "failed": 2},
        ])),
    ));
    let imp = Incident::fold(&events(d)).impact();
    assert_eq!(
        imp.affected.iter().collect::<Vec<_>>(),
        vec!["a", "b"],
        "a measured target is counted under its own name"
    );
    assert_eq!(imp.failed_requests, Some(3));
}

#[test]
fn an_enormous_also_list_and_thousands_of_rows_fold_quickly() {
    // One line under the 1-MiB limit: ~100k aliases; plus 3,000 targets and signals.
    let also: Vec<String> = (0..100_000).map(|i| format!("{i:x}")).collect();
    let mut d = base();
    d.push((
        10,
        measured(json!([{"target": "payments", "also": also, "requests": 10, "failed": 1}])),
    ));
    let rows: Vec<Value> = (0..3000)
        .map(|i| json!({"target": format!("t{i}"), "also": [format!("p{i}"), "payments"], "requests": 5, "failed": 1}))
        .collect();
    d.push((20, measured(json!(rows))));
    for i in 0..3000 {
        d.push((30, fired(&format!("p{i}"), 30)));
    }
    let events = events(d);
    let line = serde_json::to_string(&events[2]).unwrap();
    assert!(line.len() < journal::MAX_LINE, "{} bytes", line.len());
    let started = Instant::now();
    let inc = Incident::fold(&events);
    let imp = inc.impact();
    let _ = postmortem::markdown(&events);
    let _ = postmortem::json(&events);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(imp.failed_requests, Some(3001));
    assert!(imp.affected.contains("t0") && imp.affected.contains("t2999"));
}

#[test]
fn lifecycle_corrections_far_away_never_give_negative_or_absurd_spans() {
    let mut d = base();
    d.push((50, resolved("payments", 40)));
    let far = [
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
    ];
    for (i, at) in far.iter().enumerate() {
        for stage in [
            "impact_started",
            "mitigated",
            "impact_ended",
            "resolved",
            "acknowledged",
        ] {
            let mut d = d.clone();
            d.push((
                60 + i as i64,
                Draft::new(
                    Kind::Lifecycle,
                    "ann",
                    "fix",
                    json!({"stage": stage, "at": at}),
                ),
            ));
            let events = events(d);
            let f = Incident::fold(&events).figures();
            for span in [
                f.time_to_detect,
                f.time_to_acknowledge,
                f.time_to_mitigate,
                f.duration_of_impact,
                f.time_to_resolve,
            ]
            .into_iter()
            .flatten()
            {
                assert!(span >= Duration::zero(), "{stage} at {at}: {span}");
            }
            let md = postmortem::markdown(&events);
            assert!(md.contains("## Lifecycle"), "{md}");
            let json = postmortem::json(&events);
            for (k, v) in json["figures_s"].as_object().unwrap() {
                assert!(
                    v.is_null() || v.as_i64().is_some_and(|s| s >= 0),
                    "{stage} at {at}: {k} = {v}"
                );
            }
        }
    }
}

#[test]
fn a_signal_resolved_without_ever_firing_is_not_an_incident_of_its_own() {
    let d = vec![
        (0, Draft::opened("ic", "x", "shop")),
        (10, resolved("ghost", 5)),
    ];
    let events = events(d);
    let inc = Incident::fold(&events);
    assert_eq!(inc.firing().count(), 0);
    let f = inc.figures();
    if let Some(d) = f.duration_of_impact {
        assert!(d >= Duration::zero());
    }
    assert!(inc.stage(Stage::ImpactEnded) <= inc.stage(Stage::Resolved).or(Some(t(10))));
    let md = postmortem::markdown(&events);
    assert!(md.contains("| error_rate | ghost |"), "{md}");
}

#[test]
fn an_incident_whose_last_event_is_dated_in_the_future_is_stale_not_fresh_forever() {
    let dir = tempfile::tempdir().unwrap();
    let now = incident_commander::clock::now();
    let mut j = journal::Journal::create(dir.path(), now - Duration::days(3), "old").unwrap();
    j.append(Draft::opened("ic", "old", "shop"), now - Duration::days(3))
        .unwrap();
    let path = j.path().to_path_buf();
    drop(j);
    // A hand-edited (or wrong-clock) line from the year 9999 after three quiet days.
    let line = json!({"seq": 2, "ts": "9999-01-01T00:00:00.000Z", "kind": "note", "actor": "ann",
        "msg": "from the future", "data": {}});
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!("{line}\n"));
    std::fs::write(&path, text).unwrap();
    let (found, last) = journal::newest_open_with_last(dir.path(), "shop").unwrap();
    assert_eq!(found, path);
    assert!(
        last <= now + journal::FUTURE_SLACK,
        "the quiet is measured from a real event, not {last}"
    );
    let stale_before = now - Duration::hours(1);
    let opened = journal::open_or_join(
        dir.path(),
        "shop",
        now,
        stale_before,
        "new",
        Draft::opened("ic", "new", "shop"),
    )
    .unwrap();
    assert!(
        matches!(opened, journal::Opening::Created(..)),
        "a stale incident is not joined because of a line from the future"
    );

    // Every event from the future (the opening too): nothing real, so stale.
    let other = tempfile::tempdir().unwrap();
    let far = Utc.with_ymd_and_hms(9999, 1, 1, 0, 0, 0).unwrap();
    let mut j = journal::Journal::create(other.path(), far, "future").unwrap();
    let at = |s: &str| {
        json!({"seq": 1, "ts": s, "kind": "incident_opened", "actor": "ic", "msg": "opened",
            "data": {"title": "future", "service": "shop"}})
    };
    std::fs::write(j.path(), format!("{}\n", at("9999-01-01T00:00:00.000Z"))).unwrap();
    let path = j.path().to_path_buf();
    let _ = j.take_torn();
    drop(j);
    let (found, last) = journal::newest_open_with_last(other.path(), "shop").unwrap();
    assert_eq!(found, path);
    assert!(last < stale_before, "{last}");
}
