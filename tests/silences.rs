//! Silences end to end: `ic silence add` beside a running `ic watch` on the
//! demo API under a real fault — the held signals are printed and recorded in
//! the silence log, no incident opens and nothing pages; `ic silence expire`
//! lets the still-failing route through within seconds, and the incident it
//! opens records the silences. And what an attacker or a slip of the hand can
//! give `ic silence`: refused with a reason, never a panic, and the silence
//! log is never taken for an incident.

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;
use support::http;
use support::proc::{self, Lines};

fn silence(cfg: &Path, dir: &Path, args: &[&str]) -> Output {
    proc::ic()
        .arg("--config")
        .arg(cfg)
        .arg("silence")
        .args(args)
        .arg("--timeline-dir")
        .arg(dir)
        .output()
        .expect("run ic silence")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn lines_of(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The lines of `out` that are ic's own news (not every probe and scrape).
fn news(out: &Lines) -> Vec<String> {
    out.all()
        .into_iter()
        .map(|(_, l)| l)
        .filter(|l| l.contains("\"type\""))
        .collect()
}

#[test]
fn a_silenced_outage_pages_no_one_until_the_silence_is_expired() {
    let (mut demo, port) = proc::demo_serve("calm", "40");
    let base = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("temp dir");
    let timelines = dir.path().join("incidents");
    let cfg = dir.path().join("ic.yaml");
    std::fs::write(
        &cfg,
        format!(
            "service: shop\nnotify: {{desktop: false, bell: false}}\n\
             poll: {{interval: 1s, timeout: 1500ms}}\n\
             endpoints:\n\
             \x20 - {{name: payments, url: \"{base}/api/payments\", expect: {{status: [200]}}}}\n\
             metrics:\n\
             \x20 - {{name: shop, url: \"{base}/metrics\", interval: 1s}}\n"
        ),
    )
    .expect("write ic.yaml");
    // Before the deploy: the probe and every route of the shop.
    for (what, id) in [("payments", "s1"), ("shop /api/*", "s2")] {
        let o = silence(
            &cfg,
            &timelines,
            &["add", what, "--for", "10m", "--reason", "deploy 4.2"],
        );
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            text(&o).starts_with(&format!("{id} silences {what} from ")),
            "{}",
            text(&o)
        );
    }
    let mut watch = proc::ic()
        .arg("--config")
        .arg(&cfg)
        .args(["watch", "--json", "--timeline-dir"])
        .arg(&timelines)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ic watch");
    let out = Lines::collect(watch.stdout.take().expect("stdout"));
    let err = Lines::collect(watch.stderr.take().expect("stderr"));
    out.wait_for(Duration::from_secs(20), |l| l.contains("\"/api/payments\""))
        .expect("watch scraped the demo's routes");
    std::thread::sleep(Duration::from_secs(4));

    // The deploy breaks payments: every request fails.
    let (status, answer) = http::request(
        port,
        "POST",
        "/_demo/fault",
        r#"{"route": "/api/payments", "error_rate": 1.0, "status": 500}"#,
    )
    .expect("fault control");
    assert_eq!(status, 200, "{answer}");
    let held = |l: &str| l.contains("\"type\":\"silenced\"") && l.contains("\"state\":\"fired\"");
    out.wait_for(Duration::from_secs(15), |l| {
        held(l) && l.contains("\"silence\":\"s1\"")
    })
    .unwrap_or_else(|| panic!("the probe's signal was not held: {:?}", news(&out)));
    out.wait_for(Duration::from_secs(10), |l| {
        held(l) && l.contains("\"silence\":\"s2\"")
    })
    .unwrap_or_else(|| panic!("the route's signal was not held: {:?}", news(&out)));
    std::thread::sleep(Duration::from_secs(2));
    let paged = |out: &Lines| {
        out.json()
            .into_iter()
            .filter(|(_, v)| {
                v["type"] == "incident" || (v["type"] == "signal" && v["state"] == "fired")
            })
            .count()
    };
    assert_eq!(
        paged(&out),
        0,
        "a silenced outage opened or paged: {:?}",
        news(&out)
    );
    assert!(
        proc::timelines(&timelines).is_empty(),
        "no incident timeline"
    );
    // Recorded in the silence log, and counted by `ic silence list`.
    let log = lines_of(&timelines.join("silences.jsonl"));
    assert!(
        log.iter()
            .any(|e| e["kind"] == "signal_silenced" && e["data"]["signal"]["target"] == "payments"),
        "{log:?}"
    );
    let list = silence(&cfg, &timelines, &["list", "--json"]);
    let listed: Vec<Value> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(listed.len(), 2, "{}", text(&list));
    assert!(
        listed
            .iter()
            .all(|s| s["in_force"] == true && s["held"].as_u64() >= Some(1)),
        "{listed:?}"
    );

    // The deploy is over but payments still fail: ending the silences pages at once.
    for id in ["s1", "s2"] {
        let o = silence(&cfg, &timelines, &["expire", id]);
        assert!(o.status.success(), "{}", text(&o));
    }
    out.wait_for(Duration::from_secs(5), |l| {
        l.contains("\"type\":\"incident\"") && l.contains("opened")
    })
    .unwrap_or_else(|| {
        panic!(
            "no incident after the silences ended: {:?} {:?}",
            news(&out),
            err.all()
        )
    });
    out.wait_for(Duration::from_secs(3), |l| {
        l.contains("\"type\":\"signal\"")
            && l.contains("\"state\":\"fired\"")
            && l.contains("held by silence")
    })
    .unwrap_or_else(|| panic!("the held signal did not page: {:?}", news(&out)));
    let _ = http::request(port, "DELETE", "/_demo/fault", "");
    let status = proc::terminate(&mut watch, Duration::from_secs(10));
    proc::terminate(&mut demo, Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "ic watch: {status:?}; {:?}",
        err.all()
    );
    let events = proc::events(&timelines);
    for id in ["s1", "s2"] {
        assert!(
            events
                .iter()
                .any(|e| e["kind"] == "silence_added" && e["data"]["silence"] == id),
            "the incident does not record {id}: {events:?}"
        );
    }
}

#[test]
fn ic_silence_refuses_what_would_hide_an_outage_or_forge_a_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let timelines = dir.path().join("incidents");
    let cfg = dir.path().join("ic.yaml");
    std::fs::write(
        &cfg,
        "service: shop\nendpoints:\n  - {name: payments, url: \"http://127.0.0.1:9/\"}\nmaintenance:\n  - {name: vacuum, weekly: {days: [sun], from: \"02:00\", until: \"03:00\"}}\n",
    )
    .expect("write ic.yaml");
    for (args, says) in [
        (
            vec!["add", "payments", "--for", "30m", "--reason", " "],
            "needs a reason",
        ),
        (
            vec!["add", "payments", "--for", "8d", "--reason", "r"],
            "at most 7 days",
        ),
        (
            vec!["add", "pay\u{1b}[2Jments", "--for", "30m", "--reason", "r"],
            "control character",
        ),
        (
            vec![
                "add",
                "payments",
                "--for",
                "30m",
                "--reason",
                "line\nforged",
            ],
            "control character",
        ),
        (
            vec![
                "add", "payments", "--for", "30m", "--reason", "r", "--from", "soon",
            ],
            "RFC 3339",
        ),
        (
            vec![
                "add",
                "payments",
                "--for",
                "1m",
                "--reason",
                "r",
                "--from",
                "2020-01-01T00:00:00Z",
            ],
            "ended already",
        ),
        (vec!["expire", "s9"], "no silence `s9`"),
        (vec!["expire", "m1"], "maintenance window"),
    ] {
        let o = silence(&cfg, &timelines, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{args:?}: {}", text(&o));
    }
    // A name that is no target is written (it may be an alert's) but warned about.
    let o = silence(
        &cfg,
        &timelines,
        &["add", "paymnets", "--for", "30m", "--reason", "r"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("is not the name of a target"),
        "{}",
        text(&o)
    );
    let list = silence(&cfg, &timelines, &["list"]);
    let shown = text(&list);
    assert!(
        shown.contains("s1") && shown.contains("paymnets"),
        "{shown}"
    );
    assert!(
        shown.contains("m1") && shown.contains("every sun 02:00–03:00 UTC"),
        "{shown}"
    );

    // The silence log is no incident: `ic event` finds none open.
    let o = proc::ic()
        .arg("--config")
        .arg(&cfg)
        .args(["event", "--timeline-dir"])
        .arg(&timelines)
        .arg("a note")
        .output()
        .expect("ic event");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no open incident"), "{}", text(&o));

    // Hand-edited lines: garbage, a forged silence without an end, one of 30 days.
    let log = timelines.join("silences.jsonl");
    let mut body = std::fs::read_to_string(&log).expect("the log");
    body.push_str("not json\n");
    body.push_str(r#"{"seq":90,"ts":"2026-12-03T10:00:00.000Z","kind":"silence_added","actor":"x","msg":"m","data":{"target":"*","reason":"r"}}"#);
    body.push('\n');
    body.push_str(r#"{"seq":91,"ts":"2026-12-03T10:00:00.000Z","kind":"silence_added","actor":"x","msg":"m","data":{"target":"*","reason":"r","ends":"2027-01-03T10:00:00Z"}}"#);
    body.push('\n');
    std::fs::write(&log, body).expect("edit the log");
    let list = silence(&cfg, &timelines, &["list", "--all"]);
    assert!(list.status.success(), "{}", text(&list));
    let shown = text(&list);
    assert!(!shown.contains("s90") && !shown.contains("s91"), "{shown}");
    assert!(
        shown.contains("without `ends`") && shown.contains("more than 7 days"),
        "{shown}"
    );

    // A symlinked log is refused, not followed.
    let other = dir.path().join("elsewhere.jsonl");
    std::fs::write(&other, "").expect("write");
    std::fs::remove_file(&log).expect("rm");
    std::os::unix::fs::symlink(&other, &log).expect("symlink");
    let o = silence(
        &cfg,
        &timelines,
        &["add", "payments", "--for", "30m", "--reason", "r"],
    );
    assert!(!o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&other).unwrap_or_default(),
        "",
        "written through the link"
    );
}
