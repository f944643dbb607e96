//! `ic report` against a directory whose answers are known: ten incidents
//! written with chosen detection, acknowledgement, mitigation and resolution
//! times, severities, failure classes and targets, status updates, phases,
//! dead ends, feedback notes and action items — and the report's medians,
//! p90s, worst cases, recurrences and overdue counts must be exactly those.
//! Plus `--since`, Markdown, a hostile timeline, and an unreadable one.

mod support;

use serde_json::{Value, json};
use std::path::Path;
use support::proc;

const T0: i64 = 1_790_000_000; // 2026-09-21T14:13:20Z

fn ts(s: i64) -> String {
    chrono::DateTime::from_timestamp(s, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// One incident opened at `open` (Unix s): (kind, at, data) lines after it.
fn incident(dir: &Path, name: &str, open: i64, title: &str, lines: &[(&str, i64, Value)]) {
    let mut out = format!(
        "{}\n",
        json!({"seq": 1, "ts": ts(open), "kind": "incident_opened", "actor": "ic", "msg": title,
               "data": {"title": title, "service": "shop"}})
    );
    for (i, (kind, at, data)) in lines.iter().enumerate() {
        let mut e = json!({"seq": i + 2, "ts": ts(*at), "kind": kind, "actor": "ann",
                           "msg": data["text"].as_str().unwrap_or(kind), "data": data});
        if *kind == "action_item" {
            e["id"] = json!(format!(
                "0190c2a4-0000-7000-8000-{:012x}",
                open % 1_000_000 + i as i64
            ));
        }
        out.push_str(&format!("{e}\n"));
    }
    std::fs::write(dir.join(name), out).unwrap();
}

fn stage(stage: &str, at: i64) -> (&'static str, i64, Value) {
    ("lifecycle", at, json!({"stage": stage, "at": ts(at)}))
}

fn signal(detector: &str, target: &str, at: i64) -> (&'static str, i64, Value) {
    (
        "signal_fired",
        at,
        json!({"detector": detector, "target": target, "severity": "critical",
               "evidence": "x", "started": ts(at), "at": ts(at)}),
    )
}

/// Ten incidents, k = 1..=10, opened a day apart from T0 (the last four in
/// the next month): MTTD 10k s, MTTA 5k s, MTTM 100k s, MTTR 200k s;
/// SEV-2 for odd k, SEV-3 for even; error_rate on `orders` for k ≤ 6, else
/// latency on `search`; the first status update 30k s after detection; triage
/// to mitigation 60 s; k ruled-out hypotheses on k = 1 and 2; a feedback note
/// on k = 3; an action item due 2020 (overdue) on k = 4, one done on k = 5.
fn write_ten(dir: &Path) {
    for k in 1..=10i64 {
        let open = T0 + (k - 1) * 86_400 + if k >= 7 { 30 * 86_400 } else { 0 };
        let impact = open + 60;
        let detected = impact + 10 * k;
        let (detector, target) = if k <= 6 {
            ("error_rate", "orders")
        } else {
            ("latency", "search")
        };
        let mut lines = vec![
            signal(detector, target, detected),
            stage("impact_started", impact),
            stage("detected", detected),
            stage("acknowledged", detected + 5 * k),
            stage("mitigated", impact + 100 * k),
            stage("resolved", impact + 200 * k),
            (
                "severity_set",
                detected + 1,
                json!({"severity": if k % 2 == 1 { "SEV-2" } else { "SEV-3" }, "reason": "x"}),
            ),
            ("comms_update", detected + 30 * k, json!({"text": "impact"})),
            ("phase_entered", detected + 2, json!({"phase": "triage"})),
            ("phase_entered", detected + 62, json!({"phase": "mitigate"})),
        ];
        if k <= 2 {
            for h in 0..k {
                let id = format!("h{h}");
                lines.push((
                    "hypothesis_added",
                    detected + 3,
                    json!({"id": id, "text": "maybe"}),
                ));
                lines.push((
                    "hypothesis_ruled_out",
                    detected + 4,
                    json!({"hypothesis": id}),
                ));
            }
        }
        if k == 3 {
            lines.push((
                "note",
                detected + 9,
                json!({"text": "pager too quiet", "tags": ["feedback"]}),
            ));
        }
        if k == 4 {
            lines.push((
                "action_item",
                detected + 9,
                json!({"text": "alarm", "owner": "bob", "due": "2020-01-01"}),
            ));
        }
        if k == 5 {
            lines.push((
                "action_item",
                detected + 9,
                json!({"text": "pool", "owner": "cat", "due": "2999-01-01"}),
            ));
        }
        incident(
            dir,
            &format!("{k:02}.jsonl"),
            open,
            &format!("incident {k}"),
            &lines,
        );
    }
    // k = 5's item done, in its own timeline.
    let path = dir.join("05.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let item: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["kind"] == "action_item")
        .unwrap();
    let done = json!({"seq": 99, "ts": ts(T0 + 20 * 86_400), "kind": "action_done", "actor": "cat",
                      "msg": "done", "data": {"item": item["id"]}});
    std::fs::write(&path, format!("{text}{done}\n")).unwrap();
}

fn report(dir: &Path, extra: &[&str]) -> (Value, String) {
    let o = proc::ic()
        .args(["report", "--format", "json", "--dir"])
        .arg(dir)
        .args(extra)
        .output()
        .expect("run ic report");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = serde_json::from_slice(&o.stdout).expect("JSON");
    (v, String::from_utf8_lossy(&o.stderr).into_owned())
}

fn stat(v: &Value) -> (u64, f64, f64, f64) {
    (
        v["n"].as_u64().unwrap(),
        v["median_s"].as_f64().unwrap(),
        v["p90_s"].as_f64().unwrap(),
        v["worst_s"].as_f64().unwrap(),
    )
}

#[test]
fn the_report_on_ten_known_incidents_gives_exactly_their_figures() {
    let tmp = tempfile::tempdir().unwrap();
    write_ten(tmp.path());
    let (r, _) = report(tmp.path(), &[]);
    assert_eq!(r["incidents"], 10);
    assert_eq!(r["by_severity"], json!({"SEV-2": 5, "SEV-3": 5}));
    assert_eq!(r["by_class"], json!({"error_rate": 6, "latency": 4}));
    // 10k for k = 1..10: median (50 + 60) / 2, p90 the 9th, worst the 10th.
    assert_eq!(stat(&r["times"]["mttd"]), (10, 55.0, 90.0, 100.0));
    assert_eq!(stat(&r["times"]["mtta"]), (10, 27.5, 45.0, 50.0));
    assert_eq!(stat(&r["times"]["mttm"]), (10, 550.0, 900.0, 1000.0));
    assert_eq!(stat(&r["times"]["mttr"]), (10, 1100.0, 1800.0, 2000.0));
    let months = r["months"].as_array().unwrap();
    assert_eq!(months.len(), 2);
    assert_eq!(
        (months[0]["month"].as_str(), months[0]["incidents"].as_u64()),
        (Some("2026-09"), Some(6))
    );
    // k = 1..6: MTTD 10..60, median 35.
    assert_eq!(stat(&months[0]["times"]["mttd"]).1, 35.0);
    assert_eq!(stat(&months[1]["times"]["mttd"]), (4, 85.0, 100.0, 100.0));
    let s = &r["response"];
    assert_eq!(
        stat(&s["detection_to_first_update"]),
        (10, 165.0, 270.0, 300.0)
    );
    assert_eq!(stat(&s["triage_to_mitigation"]), (10, 60.0, 60.0, 60.0));
    assert_eq!(s["dead_ends"], 3);
    assert_eq!(s["dead_ends_per_incident"], 0.3);
    // error_rate: 6 incidents, 5 repeats; latency: 4, 3 repeats. Targets the same.
    assert_eq!(
        (
            s["recurring_class"].as_u64(),
            s["recurring_target"].as_u64()
        ),
        (Some(8), Some(8))
    );
    let feedback = s["feedback"].as_array().unwrap();
    assert_eq!(feedback.len(), 1);
    assert_eq!(feedback[0][0], "incident 3");
    assert_eq!(feedback[0][3], "pager too quiet");
    let a = &r["actions"];
    assert_eq!(
        (
            a["open"].as_u64(),
            a["overdue"].as_u64(),
            a["done"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(a["by_owner"]["bob"], json!([1, 1, 0]));
    assert_eq!(a["by_owner"]["cat"], json!([0, 0, 1]));
    assert_eq!(a["oldest_overdue"][0][3], "alarm");

    // --since a date: the last four only; recurrence still sees the earlier six.
    let (r, _) = report(tmp.path(), &["--since", "2026-10-01"]);
    assert_eq!(r["incidents"], 4);
    assert_eq!(stat(&r["times"]["mttd"]), (4, 85.0, 100.0, 100.0));
    assert_eq!(r["response"]["recurring_class"], 3);

    // Markdown says the same.
    let o = proc::ic()
        .args(["report", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.contains("| MTTD (impact → detected) | 10 | 55s | 1m 30s | 1m 40s |"),
        "{md}"
    );
    assert!(
        md.contains("- **Recurring failure class** (an earlier incident had it): 8 of 10 (80%)"),
        "{md}"
    );
    assert!(md.contains("| 2026-10 | 4 |"), "{md}");
}

#[test]
fn the_html_report_holds_the_trend_of_mttd_and_mttr_per_month() {
    let tmp = tempfile::tempdir().unwrap();
    write_ten(tmp.path());
    let o = proc::ic()
        .args(["report", "--format", "html", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let html = String::from_utf8_lossy(&o.stdout);
    assert!(html.contains("<title>Incident report</title>"), "{html}");
    assert_eq!(html.matches("<svg").count(), 2, "MTTD and MTTR: {html}");
    assert!(html.contains("MTTD per month (median)") && html.contains("MTTR per month (median)"));
    // Two months: a point each (MTTD medians 35 s and 85 s), labelled by month.
    let mttd = &html[html.find("MTTD per month").unwrap()..];
    let mttd = &mttd[..mttd.find("</svg>").unwrap()];
    assert_eq!(mttd.matches("<circle").count(), 2, "{mttd}");
    assert!(mttd.contains(">2026-09</text>"), "{mttd}");
    assert!(
        !html.contains("<img") && !html.contains("<script"),
        "{html}"
    );
}

#[test]
fn a_hostile_or_unreadable_timeline_costs_only_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_ten(dir);
    // Escapes and pipes in a title, a resolution before its impact, garbage lines.
    incident(
        dir,
        "evil.jsonl",
        T0,
        "evil \u{1b}[2J | <img src=x onerror=alert(1)> ![t](http://evil.example/p.png) title\n# forged heading",
        &[
            stage("impact_started", T0 + 100),
            stage("resolved", T0 + 50),
            (
                "note",
                T0 + 1,
                json!({"text": "x\u{202e}y", "tags": ["feedback"]}),
            ),
        ],
    );
    std::fs::write(dir.join("garbage.jsonl"), "not json\n{\"seq\": \"x\"}\n").unwrap();
    let (r, _) = report(dir, &[]);
    assert_eq!(
        r["times"]["mttr"]["n"], 10,
        "a resolution before the impact is no figure"
    );
    let o = proc::ic()
        .args(["report", "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(!md.contains('\u{1b}') && !md.contains('\u{202e}'), "{md:?}");
    assert!(!md.lines().any(|l| l.starts_with("# forged")), "{md}");
    // The HTML page holds no tag of theirs.
    let o = proc::ic()
        .args(["report", "--format", "html", "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&o.stdout);
    assert!(html.contains("evil"), "{html}");
    for tag in html
        .split('<')
        .skip(1)
        .filter_map(|t| t.split_once('>').map(|(tag, _)| tag))
    {
        let name = tag.split_whitespace().next().unwrap_or("");
        assert!(
            !["script", "img", "a", "iframe"].contains(&name),
            "<{tag}> in\n{html}"
        );
    }
    // A bad --since is a usage error naming the forms.
    let o = proc::ic()
        .args(["report", "--since", "last-week", "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("90d"), "{o:?}");
}
