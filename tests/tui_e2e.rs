//! End to end in a real terminal: `ic demo` in tmux at 160×45 — see the
//! endpoints, wait for the scripted alert, open help, add a note, tick a step,
//! move phases (with a recorded override), run the mitigation (which really
//! clears the demo's fault), watch the recovery verify itself, resolve, write
//! the postmortem, quit — asserting
//! on the screen, the timeline file and the postmortem, and that the terminal
//! left the alternate screen; and quitting mid-incident leaves clean lines
//! naming paths that exist. Skips without tmux unless `IC_REQUIRE_TMUX=1`.

mod support;

use std::path::Path;
use support::tmux::{self, Session};

#[test]
fn a_demo_incident_worked_end_to_end_in_tmux() {
    if !tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let timelines = dir.path().join("incidents");
    let s = Session::demo("e2e", dir.path(), &timelines);

    s.wait("the endpoints", 15, |t| {
        t.contains("Endpoints (") && t.contains("payments")
    });
    s.close_triage();
    s.wait("the alert", 25, |t| {
        t.contains(" ALERT ") && t.contains("phase: detect")
    });
    s.keys(&["?"]);
    s.wait("help", 5, |t| {
        t.contains(" Help ") && t.contains("next phase")
    });
    s.keys(&["Escape"]);
    // Closed before the next key (Escape and a letter at once read as Alt+letter).
    s.wait("help closed", 5, |t| !t.contains(" Help "));
    s.keys(&["n"]);
    s.type_text("pool waits at 100%");
    s.keys(&["Enter"]);
    s.wait("the note in the timeline", 5, |t| {
        t.contains("note responder") || t.contains("pool waits at 100%")
    });
    // The playbook has the focus after the incident opened: tick the first detect step.
    s.keys(&["Enter"]);
    s.wait("a ticked step", 5, |t| t.contains("[x]"));
    s.keys(&["p"]);
    s.wait("triage", 5, |t| t.contains("phase: triage"));
    s.keys(&["p"]);
    s.wait("a refusal", 5, |t| t.contains("press p again"));
    s.keys(&["p"]);
    s.wait("mitigate", 5, |t| t.contains("phase: mitigate"));
    s.keys(&["Enter"]);
    s.wait("the confirmation", 5, |t| {
        t.contains("Run this command?") && t.contains("y runs it")
    });
    s.keys(&["y"]);
    s.wait("the command's result", 15, |t| {
        t.contains("command for “Clear the demo fault") && t.contains("exit 0")
    });
    // The fault is gone: the resolve step's check turns green by itself.
    s.keys(&["Right"]);
    s.wait("the recovery verified", 40, |t| {
        t.contains("✔ error rate of") && t.contains("held for 5s")
    });
    s.keys(&["R"]);
    s.wait("the resolve refusal", 5, |t| t.contains("press R again"));
    s.keys(&["R"]);
    // Resolved is not closed: the learn phase stays, and ic says what is missing.
    s.wait("the resolution", 5, |t| {
        t.contains("resolved; open for the learn phase: C closes it")
    });
    s.keys(&["C"]);
    s.wait("the close refusal", 5, |t| {
        t.contains("not closed: no root cause") && t.contains("press C again")
    });
    s.keys(&["C"]);
    s.wait("the incident closed", 5, |t| t.contains("no incident open"));
    s.keys(&["P"]);
    s.wait("the postmortem", 5, |t| t.contains("postmortem written to"));
    s.keys(&["q"]);
    let after = s.wait("ic to exit", 10, |t| t.contains("IC-EXIT="));
    assert!(after.contains("IC-EXIT=0"), "{after}");
    assert!(
        !after.contains("Endpoints ("),
        "the alternate screen is gone:\n{after}"
    );
    assert!(after.contains("demo timelines kept in"), "{after}");

    let files = incident_commander::journal::timelines(&timelines);
    assert_eq!(files.len(), 1, "{files:?}");
    let replay = incident_commander::journal::read(&files[0]).unwrap();
    assert!(replay.problems.is_empty(), "{:?}", replay.problems);
    let kinds: Vec<&str> = replay.events.iter().map(|e| e.kind.as_str()).collect();
    for k in [
        "incident_opened",
        "signal_fired",
        "playbook_selected",
        "note",
        "step_done",
        "phase_entered",
        "command_started",
        "command_finished",
        "lifecycle",
        "incident_closed",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert!(
        replay
            .events
            .iter()
            .any(|e| e.kind.as_str() == "phase_entered" && e.data["override"] == true)
    );
    // The start is on disk before the end, and the end names its start.
    let started = replay
        .events
        .iter()
        .find(|e| e.kind.as_str() == "command_started")
        .unwrap();
    let finished = replay
        .events
        .iter()
        .find(|e| e.kind.as_str() == "command_finished")
        .unwrap();
    assert!(started.seq < finished.seq);
    assert_eq!(finished.data["run"], started.seq);
    assert_eq!(started.data["confirmed_by"], finished.data["confirmed_by"]);
    let pm = files[0].with_extension("postmortem.md");
    assert!(Path::new(&pm).is_file(), "{}", pm.display());
    let text = std::fs::read_to_string(&pm).unwrap();
    assert!(text.contains("# Postmortem:"), "{text}");
    assert!(
        text.contains("curl -fsS -X DELETE"),
        "the command is in the postmortem"
    );
}

#[test]
fn events_appended_by_another_process_appear_and_a_close_is_honoured() {
    if !tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let timelines = dir.path().join("incidents");
    let s = Session::demo("follow", dir.path(), &timelines);
    s.wait("the incident", 25, |t| t.contains("phase: detect"));
    s.close_triage();
    let timeline = incident_commander::journal::timelines(&timelines)
        .into_iter()
        .next()
        .expect("the incident's timeline");
    let event = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ic"))
            .args(["event", "-t", timeline.to_str().unwrap(), "-a", "bob"])
            .args(args)
            .env("IC_LOG", "off")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // A teammate notes something from another shell: the timeline pane shows it.
    event(&["deploy 4f2a rolled back by hand"]);
    s.wait("the other shell's note", 5, |t| {
        t.contains("note bob: deploy 4f2a rolled back")
    });
    // And closes the incident: the view follows.
    event(&["-k", "close", "handled on the bridge"]);
    s.wait("the incident closed", 5, |t| t.contains("no incident open"));
    s.keys(&["q"]);
    s.wait("ic to exit", 10, |t| t.contains("IC-EXIT=0"));
}

#[test]
fn quitting_mid_incident_prints_clean_lines_naming_paths_that_exist() {
    if !tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let timelines = dir.path().join("incidents");
    let s = Session::demo("exit", dir.path(), &timelines);
    s.wait("the incident", 25, |t| t.contains("phase: detect"));
    // A postmortem written during the incident is named on exit too.
    s.keys(&["P"]);
    s.wait("the postmortem", 5, |t| t.contains("postmortem written to"));
    s.keys(&["q"]);
    s.wait("the quit question", 5, |t| {
        t.contains("An incident is open. Quit?")
    });
    s.keys(&["y"]);
    let after = s.wait("ic to exit", 10, |t| t.contains("IC-EXIT="));
    assert!(after.contains("IC-EXIT=0"), "{after}");
    // The pane shows only what ic printed after leaving the alternate screen,
    // from its first row: one line each, none written over another.
    let printed: Vec<&str> = after
        .lines()
        .take_while(|l| !l.starts_with("IC-EXIT="))
        .collect();
    let prefixes = [
        "demo timelines kept in ",
        "timeline: ",
        "postmortem written to ",
        "render the postmortem: ic postmortem ",
    ];
    assert_eq!(printed.len(), prefixes.len(), "{after}");
    let files = incident_commander::journal::timelines(&timelines);
    assert_eq!(files.len(), 1, "{files:?}");
    for (line, prefix) in printed.iter().zip(prefixes) {
        let path = line
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("`{line}` should start with `{prefix}`:\n{after}"));
        assert!(
            prefixes.iter().all(|p| !path.contains(p.trim())),
            "two lines in one: {line}"
        );
        assert!(Path::new(path).exists(), "{path} does not exist:\n{after}");
    }
    assert_eq!(printed[0].strip_prefix(prefixes[0]), timelines.to_str());
    assert_eq!(printed[1].strip_prefix(prefixes[1]), files[0].to_str());
    assert!(
        Path::new(printed[2].strip_prefix(prefixes[2]).unwrap()).is_file(),
        "{after}"
    );
    // The command it gives works as printed.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ic"))
        .args(["postmortem", printed[3].strip_prefix(prefixes[3]).unwrap()])
        .env("IC_LOG", "off")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("# Postmortem:"));
}
