//! `ic drill` as a person runs it, in tmux at 80×24: the drill's incident
//! opens marked a drill; the responder sends the first status update,
//! acknowledges, sets SEV-2, confirms the cause and resolves; the view shows
//! the scorecard at once; on quit it is printed and saved beside the
//! timeline; and its figures are the timeline's own (checked against `ic
//! report --drills`), while the plain report leaves the drill out.

mod support;

use serde_json::Value;
use std::path::Path;
use support::proc;
use support::tmux::{self, Session};

fn report(dir: &Path, drills: bool) -> Value {
    let mut c = proc::ic();
    c.args(["report", "--format", "json", "--dir"]).arg(dir);
    if drills {
        c.arg("--drills");
    }
    let o = c.output().expect("run ic report");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON")
}

#[test]
fn a_drill_run_by_hand_is_scored_shown_saved_and_reported_apart() {
    if !tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let timelines = dir.path().join("incidents");
    let scenario = dir.path().join("drill.yaml");
    std::fs::write(
        &scenario,
        "name: pool-drill\ndrill: {playbook: demo-payments-pool, cause: pool}\nfaults:\n  - {name: pool, route: /api/payments, start: 1s, error_rate: 40%, status: [500]}\n",
    )
    .unwrap();
    let shell = format!(
        "IC_LOG=off {} drill --scenario {} --timeline-dir {} --rps 60",
        env!("CARGO_BIN_EXE_ic"),
        scenario.display(),
        timelines.display()
    );
    let s = Session::start("drill", 80, 24, &shell);
    s.wait("the triage summary", 30, |t| {
        t.contains("Triage summary at")
    });
    // `u` makes the summary the first status update; Enter sends it.
    s.keys(&["u"]);
    s.wait("the update editor", 5, |t| {
        t.contains("Status update (Enter sends")
    });
    s.keys(&["Enter"]);
    s.wait("the update sent", 5, |t| {
        !t.contains("Status update (Enter sends")
    });
    s.keys(&["A"]);
    s.wait("acknowledged", 5, |t| t.contains("acked"));
    s.keys(&["s"]);
    s.wait("the severity picker", 5, |t| t.contains("SEV-2  "));
    s.keys(&["2"]);
    s.wait("SEV-2 set", 5, |t| {
        t.lines().next().is_some_and(|l| l.contains("SEV-2"))
    });
    s.keys(&["h"]);
    s.type_text("connection pool exhausted");
    s.keys(&["Enter"]);
    s.wait("the hypothesis", 5, |t| t.contains("h1 connection pool"));
    s.keys(&["h"]);
    s.type_text("!h1");
    s.keys(&["Enter"]);
    s.wait("h1 confirmed", 5, |t| t.contains("✔ h1"));
    // Still firing: R is refused, R again resolves anyway (recorded).
    s.keys(&["R"]);
    s.wait("the refusal", 5, |t| t.contains("again to resolve anyway"));
    s.keys(&["R"]);
    s.wait("the scorecard in the footer", 5, |t| {
        t.contains("drill scorecard: ack ")
    });
    s.keys(&["q"]);
    s.wait("the quit question", 5, |t| t.contains("Quit?"));
    s.keys(&["y"]);
    let after = s.wait("the printed scorecard", 15, |t| t.contains("IC-EXIT="));
    assert!(after.contains("## Drill scorecard"), "{after}");
    assert!(tmux::unwrapped(&after).contains("IC-EXIT=0"), "{after}");

    let saved: Vec<_> = std::fs::read_dir(&timelines)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".scorecard.md"))
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let card = std::fs::read_to_string(&saved[0]).unwrap();
    assert!(card.contains("Scenario pool-drill."), "{card}");
    assert!(
        card.contains("| Cause found | yes (expected: pool) |"),
        "{card}"
    );
    assert!(
        card.contains("| Playbook | right (expected demo-payments-pool) |"),
        "{card}"
    );
    assert!(
        card.contains("| Status updates | 1 sent, on cadence (every 30m 00s) |"),
        "{card}"
    );

    // The timeline says it is a drill; the report keeps it apart, with the same figures.
    let timeline = saved[0]
        .to_string_lossy()
        .replace(".scorecard.md", ".jsonl");
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(&timeline)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["data"]["drill"]["scenario"], "pool-drill", "{first}");
    assert_eq!(report(&timelines, false)["incidents"], 0);
    let drills = report(&timelines, true);
    assert_eq!(drills["incidents"], 1);
    let d = &drills["drills"][0];
    assert_eq!(d["cause"], serde_json::json!(["pool", true]), "{d}");
    let ack = d["to_acknowledge_s"].as_i64().expect("acknowledged");
    assert!(ack < 60, "{d}");
    assert!(
        card.contains(&format!("| Time to acknowledge | {ack}s |")),
        "{card}\n{d}"
    );
    assert!(d["to_severity_s"].as_i64().is_some_and(|s| s >= ack), "{d}");
    assert_eq!(
        (&d["on_cadence"], &d["cadence_s"]),
        (&Value::from(true), &Value::from(1800)),
        "{d}"
    );
    // The postmortem of the drill ends with the same scorecard.
    let o = proc::ic().args(["postmortem", &timeline]).output().unwrap();
    let pm = String::from_utf8_lossy(&o.stdout);
    assert!(pm.contains("## Drill scorecard"), "{pm}");
    assert!(
        pm.contains("| Status updates | 1 sent, on cadence (every 30m 00s) |"),
        "{pm}"
    );
}
