//! The full-screen view under process faults, in tmux against `ic demo`:
//! SIGTERM, SIGINT and SIGHUP restore the terminal and exit 0; a resize storm leaves
//! the app responsive; SIGKILL loses nothing the screen showed; and a timeline
//! that cannot be written (a file-size limit) shows NOT SAVED, keeps the events
//! in memory and writes them once there is room again.

mod support;

use incident_commander::journal;
use std::process::Command;
use support::tmux::{self, Session};

fn kill(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn sigterm_sigint_and_sighup_restore_the_terminal_and_exit_0() {
    if !tmux::available() {
        return;
    }
    for signal in ["-TERM", "-INT", "-HUP"] {
        let dir = tempfile::tempdir().unwrap();
        let s = Session::demo(
            &format!("sig{}", &signal[1..]),
            dir.path(),
            &dir.path().join("tl"),
        );
        s.wait("the view", 15, |t| t.contains("Endpoints ("));
        kill(s.ic_pid(), signal);
        let after = s.wait("ic to exit", 10, |t| t.contains("IC-EXIT="));
        assert!(after.contains("IC-EXIT=0"), "{signal}: {after}");
        assert!(
            !after.contains("Endpoints ("),
            "{signal}: the alternate screen is gone:\n{after}"
        );
    }
}

#[test]
fn a_resize_storm_leaves_the_view_responsive() {
    if !tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = Session::demo("resize", dir.path(), &dir.path().join("tl"));
    s.wait("the view", 15, |t| t.contains("Endpoints ("));
    for i in 0..60u16 {
        s.resize(60 + (i * 7) % 140, 15 + (i * 3) % 40);
    }
    s.resize(80, 24);
    s.keys(&["?"]);
    s.wait("help after the storm", 10, |t| t.contains(" Help "));
    s.keys(&["Escape"]);
    // Wait for the help to close: an Escape and a key sent at once read as Alt-key.
    s.wait("help closed", 10, |t| !t.contains(" Help "));
    s.keys(&["q"]);
    // The demo may have opened its incident by now: then quitting asks first.
    let t = s.wait("ic to exit or ask", 10, |t| {
        t.contains("IC-EXIT") || t.contains("Quit?")
    });
    if !t.contains("IC-EXIT") {
        s.keys(&["y"]);
    }
    s.wait("ic to exit", 10, |t| t.contains("IC-EXIT"));
}

#[test]
fn sigkill_loses_nothing_the_screen_showed() {
    if !tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tl = dir.path().join("tl");
    let s = Session::demo("kill", dir.path(), &tl);
    s.close_triage();
    s.wait("the alert", 25, |t| {
        t.contains(" ALERT ") && t.contains("phase: detect")
    });
    for i in 0..5 {
        s.keys(&["n"]);
        s.type_text(&format!("note number {i}"));
        s.keys(&["Enter"]);
    }
    let shown = s.wait("the last note on screen", 10, |t| {
        t.contains("note number 4")
    });
    kill(s.ic_pid(), "-KILL");
    s.wait("ic to be gone", 10, |t| {
        tmux::unwrapped(t).contains("IC-EXIT=")
    });
    let files = journal::timelines(&tl);
    assert_eq!(files.len(), 1);
    let replay = journal::read(&files[0]).unwrap();
    for i in 0..5 {
        let note = format!("note number {i}");
        if shown.contains(&note) {
            assert!(
                replay.events.iter().any(|e| e.msg == note),
                "{note} was shown but is not in the file"
            );
        }
    }
    assert!(
        replay.problems.iter().all(|p| p.message.contains("torn")),
        "{:?}",
        replay.problems
    );
}

#[test]
fn an_unwritable_timeline_shows_not_saved_and_catches_up() {
    if !tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tl = dir.path().join("tl");
    // 6 KiB of timeline at most (12 blocks of 512 bytes under a POSIX sh): enough to
    // open the incident, not for many notes.
    let shell = format!(
        "sh -c 'ulimit -S -f 12 && exec env IC_LOG=off {} demo --scenario {} --timeline-dir {} --rps 60'",
        env!("CARGO_BIN_EXE_ic"),
        tmux::fast_scenario(dir.path()).display(),
        tl.display()
    );
    let s = Session::start("fsize", 160, 45, &shell);
    s.close_triage();
    s.wait("the alert", 25, |t| {
        t.contains(" ALERT ") && t.contains("phase: detect")
    });
    let pid = s.ic_pid();
    let long = "x".repeat(1500);
    for i in 0..8 {
        s.keys(&["n"]);
        s.paste(&format!("note {i} {long}"));
        s.keys(&["Enter"]);
    }
    s.wait("NOT SAVED", 15, |t| t.contains("NOT SAVED"));
    // Room again: the view writes what it kept, in order, and says so no more.
    let ok = Command::new("prlimit")
        .args([&format!("--pid={pid}"), "--fsize=unlimited:unlimited"])
        .status()
        .unwrap();
    assert!(ok.success());
    s.wait("everything saved", 15, |t| !t.contains("NOT SAVED"));
    let files = journal::timelines(&tl);
    let replay = journal::read(&files[0]).unwrap();
    for i in 0..8 {
        let prefix = format!("note {i} ");
        assert!(
            replay.events.iter().any(|e| e.msg.starts_with(&prefix)),
            "note {i} missing after the limit was lifted"
        );
    }
    let seqs: Vec<u64> = replay.events.iter().map(|e| e.seq).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(seqs, sorted, "unique, increasing seq");
    s.keys(&["q"]);
    s.keys(&["y"]);
}
