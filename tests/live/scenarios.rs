//! Every bundled demo scenario, headless (`ic demo --headless --json`), judged
//! against the demo's own ground truth: the `{"type": "demo"}` line gives each
//! fault's absolute start, and each scenario asserts the time to its first
//! alert, exactly one incident file, the playbook chosen, and (for the retry
//! storm and the outage) no flapping and one notification; `calm` must stay
//! silent. All six processes run at once and are polled together, each with its
//! own deadline, and each is stopped as soon as its verdict is decided.
//!
//! Wall time: about 90 s. The longest are `search-latency-regression` (its
//! fault starts at 20 s and ramps for a minute: the alert may come up to 60 s
//! after the start) and `partner-retry-storm` (watched until 70 s after its
//! start, 40 s past the end of its ramp, so that a flapping signal has time to
//! fire twice).

use crate::support::proc::{self, Lines};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// What one scenario must show.
struct Spec {
    scenario: &'static str,
    /// The first alert must fire within this long of the fault's start.
    alert_within: Option<Duration>,
    /// The signal kind that must fire (any kind when `None`).
    kind: Option<&'static str>,
    /// The playbook chosen must be one of these (any, when empty).
    playbooks: &'static [&'static str],
    /// Watch this long after the fault's start before the verdict (for flapping).
    observe: Duration,
    /// No signal may fire twice.
    no_flapping: bool,
    /// Exactly one `playbook_selected` event and one notification (bell).
    one_of_each: bool,
}

const SPECS: [Spec; 6] = [
    Spec {
        scenario: "payments-pool-exhaustion",
        alert_within: Some(Duration::from_secs(30)),
        kind: None,
        playbooks: &["http-5xx-spike", "demo-payments-pool"],
        observe: Duration::ZERO,
        no_flapping: false,
        one_of_each: false,
    },
    Spec {
        scenario: "search-latency-regression",
        alert_within: Some(Duration::from_secs(60)),
        kind: None,
        playbooks: &["latency-regression"],
        observe: Duration::ZERO,
        no_flapping: false,
        one_of_each: false,
    },
    Spec {
        scenario: "schema-drift",
        alert_within: Some(Duration::from_secs(15)),
        kind: None,
        playbooks: &["schema-drift"],
        observe: Duration::ZERO,
        no_flapping: false,
        one_of_each: false,
    },
    Spec {
        scenario: "partner-retry-storm",
        // No time target in the issue; the ramp reaches 10x at 30 s.
        alert_within: Some(Duration::from_secs(60)),
        kind: Some("traffic_surge"),
        playbooks: &["retry-storm"],
        observe: Duration::from_secs(70),
        no_flapping: true,
        one_of_each: false,
    },
    Spec {
        scenario: "full-outage",
        alert_within: Some(Duration::from_secs(10)),
        kind: None,
        // Any one playbook: the issue names none for a total outage.
        playbooks: &[],
        observe: Duration::ZERO,
        no_flapping: false,
        one_of_each: true,
    },
    Spec {
        scenario: "calm",
        alert_within: None,
        kind: None,
        playbooks: &[],
        // Calm has no fault: measured from the API's start.
        observe: Duration::from_secs(60),
        no_flapping: false,
        one_of_each: false,
    },
];

/// After the first alert, how long to wait for the incident, its playbook and any
/// second incident or second playbook (correlated signals arrive within seconds).
const SETTLE: Duration = Duration::from_secs(12);

/// Output is read a little after ic wrote it: the slack on "no alert by the deadline".
const SLACK: Duration = Duration::from_secs(3);

struct Run {
    spec: &'static Spec,
    child: Child,
    dir: tempfile::TempDir,
    out: Lines,
    err: Lines,
    verdict: Option<Result<String, String>>,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ts(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn secs(d: chrono::TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

/// What the run has shown so far.
struct Seen {
    /// When the demo line was read, and the first fault's start (API start for calm),
    /// on ic's clock and as seconds after the demo line.
    truth: Option<(Instant, DateTime<Utc>, f64)>,
    /// Fired signals: (kind, target, at), with the instant each line was read.
    fired: Vec<(Instant, String, String, DateTime<Utc>)>,
    /// Every signal line, for the failure message.
    signals: Vec<String>,
}

fn seen(out: &Lines) -> Seen {
    let mut s = Seen {
        truth: None,
        fired: Vec::new(),
        signals: Vec::new(),
    };
    for (read, v) in out.json() {
        match v["type"].as_str() {
            Some("demo") if s.truth.is_none() => {
                let first = v["faults"].as_array().and_then(|f| f.first()).cloned();
                let (start, start_s) = match first {
                    Some(f) => (ts(&f["start"]), f["start_s"].as_f64().unwrap_or(0.0)),
                    None => (ts(&v["started"]), 0.0),
                };
                if let Some(start) = start {
                    s.truth = Some((read, start, start_s));
                }
            }
            Some("signal") => {
                s.signals.push(format!(
                    "{} {} {} at {} (since {})",
                    v["state"].as_str().unwrap_or("?"),
                    v["kind"].as_str().unwrap_or("?"),
                    v["target"].as_str().unwrap_or("?"),
                    v["at"].as_str().unwrap_or("?"),
                    v["started"].as_str().unwrap_or("?"),
                ));
                if v["state"] == "fired"
                    && let Some(at) = ts(&v["at"])
                {
                    s.fired.push((
                        read,
                        v["kind"].as_str().unwrap_or("").to_string(),
                        v["target"].as_str().unwrap_or("").to_string(),
                        at,
                    ));
                }
            }
            _ => {}
        }
    }
    s
}

/// The verdict once it is decided: `Ok(figures)`, `Err(why)`, or `None` to keep watching.
fn judge(run: &Run, now: Instant) -> Option<Result<String, String>> {
    let spec = run.spec;
    let s = seen(&run.out);
    let Some((read, fault_start, start_s)) = s.truth else {
        return (now > run_started(run) + Duration::from_secs(20))
            .then(|| Err("no {\"type\": \"demo\"} line within 20 s".into()));
    };
    let fault_at = read + Duration::from_secs_f64(start_s);
    let signals = || s.signals.join("; ");
    if let Some((_, kind, target, at)) = s.fired.iter().find(|f| f.3 < fault_start) {
        return Some(Err(format!(
            "{kind} {target} fired at {at}, {:.1} s before the fault started; signals: {}",
            secs(fault_start - *at),
            signals()
        )));
    }
    let Some(limit) = spec.alert_within else {
        // calm: nothing may fire, no incident may open.
        if let Some((_, kind, target, at)) = s.fired.first() {
            return Some(Err(format!("{kind} {target} fired at {at} in calm")));
        }
        if !proc::timelines(run.dir.path()).is_empty() {
            return Some(Err("an incident file appeared in calm".into()));
        }
        return (now > fault_at + spec.observe)
            .then(|| Ok(format!("no signal in {} s", spec.observe.as_secs())));
    };
    let first = s.fired.iter().find(|f| spec.kind.is_none_or(|k| f.1 == k));
    let Some((first_read, kind, target, at)) = first else {
        return (now > fault_at + limit + SLACK).then(|| {
            Err(format!(
                "no {}alert within {} s of the fault's start ({fault_start}); signals: [{}]",
                spec.kind.map_or(String::new(), |k| format!("{k} ")),
                limit.as_secs(),
                signals()
            ))
        });
    };
    let ttd = secs(*at - fault_start);
    if ttd > limit.as_secs_f64() {
        return Some(Err(format!(
            "first {kind} alert ({target}) {ttd:.1} s after the fault's start, limit {} s; signals: [{}]",
            limit.as_secs(),
            signals()
        )));
    }
    if spec.no_flapping {
        let mut keys: Vec<(&str, &str)> = s
            .fired
            .iter()
            .map(|f| (f.1.as_str(), f.2.as_str()))
            .collect();
        keys.sort();
        if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
            return Some(Err(format!(
                "{} {} fired twice (flapping); signals: [{}]",
                w[0].0,
                w[0].1,
                signals()
            )));
        }
    }
    let settled = now > *first_read + SETTLE && now > fault_at + spec.observe;
    if !settled {
        return None;
    }
    let files = proc::timelines(run.dir.path());
    let events = proc::events(run.dir.path());
    let chosen: Vec<String> = events
        .iter()
        .filter(|e| e["kind"] == "playbook_selected")
        .map(|e| e["data"]["playbook"].as_str().unwrap_or("?").to_string())
        .collect();
    let bells = run.err.bells.load(Ordering::Relaxed);
    let figures = format!(
        "first alert {kind} {target} {ttd:.1} s after the fault's start; {} incident file(s); playbooks selected {chosen:?}; {bells} notification(s)",
        files.len()
    );
    let mut wrong = Vec::new();
    if files.len() != 1 {
        wrong.push(format!("{} incident files, want 1", files.len()));
    }
    match chosen.first() {
        None => wrong.push("no playbook_selected event".into()),
        Some(p) if !spec.playbooks.is_empty() && !spec.playbooks.contains(&p.as_str()) => {
            wrong.push(format!("playbook {p}, want one of {:?}", spec.playbooks));
        }
        Some(_) => {}
    }
    if spec.one_of_each {
        if chosen.len() != 1 {
            wrong.push(format!("{} playbooks selected, want 1", chosen.len()));
        }
        if bells != 1 {
            wrong.push(format!("{bells} notifications (bells), want 1"));
        }
    }
    Some(if wrong.is_empty() {
        Ok(figures)
    } else {
        Err(format!(
            "{}; {figures}; signals: [{}]",
            wrong.join("; "),
            signals()
        ))
    })
}

fn run_started(run: &Run) -> Instant {
    run.out.all().first().map_or_else(Instant::now, |(t, _)| *t)
}

fn start(spec: &'static Spec) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    // A safety net: the process ends by itself even if this test is killed.
    let duration = format!("{}s", 40 + spec.observe.as_secs() + 60);
    let mut child = proc::ic()
        .args(["demo", "--headless", "--json", "--port", "0", "--scenario"])
        .arg(spec.scenario)
        .arg("--timeline-dir")
        .arg(dir.path())
        .args(["--duration", &duration])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ic demo");
    let out = Lines::collect(child.stdout.take().expect("stdout"));
    let err = Lines::collect(child.stderr.take().expect("stderr"));
    Run {
        spec,
        child,
        dir,
        out,
        err,
        verdict: None,
    }
}

fn tail(dir: &Path) -> String {
    proc::timelines(dir)
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn every_demo_scenario_alerts_once_with_the_right_playbook() {
    let mut runs: Vec<Run> = SPECS.iter().map(start).collect();
    // The longest possible wait: the latest fault start (20 s) plus the longest
    // alert limit (60 s) and settling, plus startup slack.
    let deadline = Instant::now() + Duration::from_secs(20 + 60 + 12 + 30);
    while runs.iter().any(|r| r.verdict.is_none()) {
        let now = Instant::now();
        for run in runs.iter_mut().filter(|r| r.verdict.is_none()) {
            let exited = run.child.try_wait().ok().flatten();
            let mut verdict = judge(run, now);
            if verdict.is_none()
                && let Some(status) = exited
            {
                let err: Vec<String> = run.err.all().into_iter().map(|(_, l)| l).collect();
                verdict = Some(Err(format!(
                    "ic exited early ({status}); stderr: {}",
                    err.join(" | ")
                )));
            }
            if verdict.is_none() && now > deadline {
                verdict = Some(Err("undecided at the test's deadline".into()));
            }
            if verdict.is_some() {
                proc::terminate(&mut run.child, Duration::from_secs(10));
                run.verdict = verdict;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let report: Vec<String> = runs
        .iter()
        .map(|r| match &r.verdict {
            Some(Ok(f)) => format!("ok   {}: {f}", r.spec.scenario),
            Some(Err(e)) => format!(
                "FAIL {}: {e} (timelines: {})",
                r.spec.scenario,
                tail(r.dir.path())
            ),
            None => format!("?    {}", r.spec.scenario),
        })
        .collect();
    assert!(
        runs.iter().all(|r| matches!(r.verdict, Some(Ok(_)))),
        "\n{}",
        report.join("\n")
    );
    eprintln!("{}", report.join("\n"));
}

#[test]
fn headless_json_starts_with_the_ground_truth_and_stops_at_its_duration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let began = Instant::now();
    let out = proc::ic()
        .args(["demo", "--json", "--duration", "3s", "--port", "0"])
        .args(["--scenario", "payments-pool-exhaustion", "--timeline-dir"])
        .arg(dir.path())
        .output()
        .expect("run ic demo");
    assert!(
        began.elapsed() < Duration::from_secs(15),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let demo = &lines[0];
    assert_eq!(demo["type"], "demo", "{demo}");
    assert_eq!(demo["scenario"], "payments-pool-exhaustion");
    assert_eq!(demo["timeline_dir"], dir.path().display().to_string());
    assert!(
        demo["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:")),
        "{demo}"
    );
    let started = ts(&demo["started"]).expect("started");
    let fault = &demo["faults"][0];
    assert_eq!(fault["name"], "pool-exhaustion");
    assert_eq!(fault["route"], "/api/payments");
    assert_eq!(fault["end"], Value::Null);
    // The scenario's `start: 10s`, from the API's start.
    assert_eq!(
        ts(&fault["start"]).expect("fault start") - started,
        chrono::TimeDelta::seconds(10)
    );
    // Then watch's JSON lines: every demo probe passes its body checks on a
    // healthy answer (two rounds in 3 s; the routes' rare baseline 500s aside).
    for name in ["payments", "orders", "search", "users", "health"] {
        let probes: Vec<&Value> = lines.iter().filter(|l| l["name"] == name).collect();
        assert!(
            probes.iter().any(|p| p["class"] == "ok"),
            "{name}: {probes:?}"
        );
    }
    assert!(
        lines.iter().any(|l| l["metrics_target"] == "shop"),
        "{text}"
    );
}
