//! Confirmed commands end to end in a real terminal (issue #13, part 1): the
//! full-screen view at 80×24 on a `/metrics` target whose failing route label
//! is shell code. The label never runs (the dialog shows it and refuses); a
//! plain route made primary with `t` does; the dialog shows every line of a long
//! command and refuses `y` until all of it was on screen; `command_started`
//! is on disk before the command runs and `command_finished` after; quitting
//! while a command runs asks, ends its process group and records it; after a
//! SIGKILL the start is on disk and the next start says the end is unknown.
//! Skips without tmux unless `IC_REQUIRE_TMUX=1`.

mod support;

use incident_commander::core::event::Event;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::tmux::{self, Session};

/// The failing route's label, as the exposition carries it (escaped) and as it reads.
const LABEL: &str = "/pay$(touch${IFS}pwned-view)`touch pwned-tick`'\"";

/// A plain route.
const PLAIN: &str = "/pay-ok";

/// A `/metrics` whose route LABEL fails half its requests from the start and
/// PLAIN half of its from the eighth scrape on, and a healthy `/healthz`.
fn serve() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let scrapes = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let scrapes = scrapes.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let body = if head.starts_with("GET /metrics") {
                    let k = scrapes.fetch_add(1, Ordering::SeqCst) + 1;
                    let label = LABEL.replace('\\', "\\\\").replace('"', "\\\"");
                    // A plain route that starts failing later (its signal comes second).
                    let late = k.saturating_sub(8);
                    format!(
                        "# TYPE http_requests_total counter\n\
                         http_requests_total{{route=\"{label}\",status=\"500\"}} {}\n\
                         http_requests_total{{route=\"{label}\",status=\"200\"}} {}\n\
                         http_requests_total{{route=\"{PLAIN}\",status=\"500\"}} {}\n\
                         http_requests_total{{route=\"{PLAIN}\",status=\"200\"}} {}\n",
                        k * 40,
                        k * 40,
                        late * 40,
                        k * 40 + late * 40
                    )
                } else {
                    "ok".to_string()
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

fn setup(dir: &Path, port: u16, sleep: &str) -> PathBuf {
    let long: String = (1..=30)
        .map(|i| format!("        echo line {i}\n"))
        .collect();
    std::fs::create_dir(dir.join("playbooks")).unwrap();
    std::fs::write(
        dir.join("playbooks/audit.yaml"),
        format!(
            "id: audit\ntitle: Audit\napplies_when: {{signals: [error_rate]}}\nphases:\n  detect:\n    \
             - {{id: show, text: Show the target, run: \"echo '{{target}}' > shown.txt; echo \\\"{{route}}\\\" >> shown.txt\"}}\n    \
             - id: long\n      text: A long command\n      run: |\n{long}        touch long-ran\n    \
             - {{id: slow, text: A slow one, run: \"sleep {sleep}; touch slept\"}}\n"
        ),
    )
    .unwrap();
    let config = dir.join("ic.yaml");
    std::fs::write(
        &config,
        format!(
            "service: shop\ntimeline_dir: ./incidents\nplaybooks: ./playbooks\n\
             endpoints:\n  - {{name: health, url: \"http://127.0.0.1:{port}/healthz\", interval: 1s}}\n\
             metrics:\n  - {{name: evil, url: \"http://127.0.0.1:{port}/metrics\", interval: 1s}}\n"
        ),
    )
    .unwrap();
    config
}

fn view(tag: &str, dir: &Path) -> Session {
    let shell = format!(
        "cd {} && IC_LOG=off {} --config ic.yaml",
        dir.display(),
        env!("CARGO_BIN_EXE_ic")
    );
    Session::start(tag, 80, 24, &shell)
}

fn events(dir: &Path) -> Vec<Event> {
    incident_commander::journal::timelines(&dir.join("incidents"))
        .first()
        .map(|f| incident_commander::journal::read(f).unwrap().events)
        .unwrap_or_default()
}

/// Polls the timeline until `pred` holds.
fn wait_events(dir: &Path, what: &str, pred: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let e = events(dir);
        if pred(&e) {
            return e;
        }
        assert!(Instant::now() < deadline, "waited for {what}: {e:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn of<'a>(events: &'a [Event], kind: &str, step: &str) -> Option<&'a Event> {
    events
        .iter()
        .find(|e| e.kind.as_str() == kind && e.data["step"] == step)
}

fn pwned(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains("pwned"))
}

/// How many `sleep SECS` processes run (the shell around one is not counted).
fn sleepers(secs: &str) -> usize {
    std::process::Command::new("pgrep")
        .args(["-f", &format!("^sleep {}$", secs.replace('.', "\\."))])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
        .unwrap_or(0)
}

#[test]
fn the_dialog_shows_all_of_it_and_every_run_is_recorded_before_and_after() {
    if !tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), serve(), "37.25");
    let s = view("cmd-dialog", dir.path());
    s.close_triage();
    s.wait("the alert on the hostile route", 25, |t| {
        t.contains(" ALERT ") && t.contains("Playbook: Audit")
    });

    // Step 1: the primary target is the hostile route. The dialog shows its value,
    // escaped, and refuses: a value from outside with shell syntax reaches no command.
    s.keys(&["Enter"]);
    let dialog = s.wait("the dialog", 5, |t| {
        t.contains("Run this command?") && t.contains("IC_ROUTE") && t.contains("cannot run")
    });
    assert!(dialog.contains("'\"${IC_TARGET}\"'"), "{dialog}");
    assert!(dialog.contains("(the signal"), "{dialog}");
    assert!(
        dialog.contains(r#"IC_ROUTE = '/pay$(touch${IFS}pwned-view)`touch pwned-tick`\'"'"#),
        "{dialog}"
    );
    assert!(
        dialog.contains("✘ not run: {target} comes from outside"),
        "{dialog}"
    );
    s.keys(&["y"]);
    s.wait("y refused", 5, |t| t.contains("not run: {target} comes"));
    s.keys(&["Escape"]);
    assert!(!pwned(dir.path()) && !dir.path().join("shown.txt").exists());
    assert!(of(&events(dir.path()), "command_started", "show").is_none());

    // The plain route fails too; the responder makes it the primary target (t).
    wait_events(dir.path(), "the second alert", |e| {
        e.iter()
            .any(|e| e.kind.as_str() == "signal_fired" && e.data["target"] == "evil /pay-ok")
    });
    s.keys(&["Tab", "Tab", "j", "t"]);
    wait_events(dir.path(), "the target chosen", |e| {
        e.iter().any(|e| e.kind.as_str() == "target_selected")
    });
    s.keys(&["Tab", "Enter"]);
    let dialog = s.wait("the dialog for the plain route", 5, |t| {
        t.contains("Run this command?") && t.contains("y runs it")
    });
    assert!(dialog.contains("evil /pay-ok  (chosen by"), "{dialog}");
    s.keys(&["y"]);
    s.wait("the first command's end", 10, |t| {
        t.contains("“Show the target”: exit 0")
    });
    let shown = std::fs::read_to_string(dir.path().join("shown.txt")).unwrap();
    assert_eq!(shown, "pay-ok\n/pay-ok\n");
    let e = events(dir.path());
    let (started, finished) = (
        of(&e, "command_started", "show").unwrap(),
        of(&e, "command_finished", "show").unwrap(),
    );
    assert!(started.seq < finished.seq);
    assert_eq!(finished.data["run"], started.seq);
    assert_eq!(started.data["env"]["IC_ROUTE"], PLAIN);
    assert_eq!(started.data["target"], format!("evil {PLAIN}").as_str());
    assert!(started.data["confirmed_at"].is_string());

    // Step 2: 32 lines at 80×24. y is refused until the last line was on screen.
    s.keys(&["j", "Enter"]);
    s.wait("the long dialog", 5, |t| t.contains("32 lines"));
    s.keys(&["y"]);
    s.wait("the refusal", 5, |t| {
        t.contains("y refused: read the whole command")
    });
    assert!(!dir.path().join("long-ran").exists());
    assert!(of(&events(dir.path()), "command_started", "long").is_none());
    // A page per key, each after the dialog has drawn the last one (a key never
    // scrolls past the first row not yet on screen).
    for _ in 0..10 {
        let before = s.screen();
        if before.contains("touch long-ran") && before.contains("y runs it") {
            break;
        }
        s.keys(&["Space"]);
        s.wait("the dialog to scroll a page", 5, |t| t != before);
    }
    s.wait("the end of the command, read", 5, |t| {
        t.contains("touch long-ran") && t.contains("y runs it")
    });
    s.keys(&["y"]);
    s.wait("the long command's end", 10, |t| {
        t.contains("“A long command”: exit 0")
    });
    assert!(dir.path().join("long-ran").exists());

    // Step 3: quitting while a command runs asks, ends its group and records it.
    s.keys(&["j", "Enter"]);
    s.wait("the slow dialog", 5, |t| t.contains("sleep 37.25"));
    s.keys(&["y"]);
    wait_events(dir.path(), "the slow command's start", |e| {
        of(e, "command_started", "slow").is_some()
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while sleepers("37.25") != 1 {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    s.keys(&["q"]);
    s.wait("the question", 5, |t| t.contains("A command is running"));
    s.keys(&["y"]);
    s.wait("ic to exit", 15, |t| t.contains("IC-EXIT=0"));
    let e = events(dir.path());
    let end = of(&e, "command_finished", "slow").expect("the end is recorded");
    assert_eq!(end.data["cancelled"], true, "{end:?}");
    assert_eq!(sleepers("37.25"), 0, "its process group was ended");
    assert!(!dir.path().join("slept").exists());
}

#[test]
fn a_sigkill_during_a_command_leaves_its_start_and_the_next_start_says_so() {
    if !tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), serve(), "38.5");
    let s = view("cmd-kill", dir.path());
    s.close_triage();
    s.wait("the alert", 25, |t| {
        t.contains(" ALERT ") && t.contains("Playbook: Audit")
    });
    s.keys(&["j", "j", "Enter"]);
    s.wait("the slow dialog", 5, |t| t.contains("sleep 38.5"));
    s.keys(&["y"]);
    wait_events(dir.path(), "the start", |e| {
        of(e, "command_started", "slow").is_some()
    });
    let pid = s.ic_pid();
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    s.wait("ic to die", 10, |t| {
        tmux::unwrapped(t).contains("IC-EXIT=137")
    });
    // The orphaned command is the test's to clean up.
    let _ = std::process::Command::new("pkill")
        .args(["-f", "^sleep 38\\.5$"])
        .status();
    let e = events(dir.path());
    assert!(of(&e, "command_started", "slow").is_some());
    assert!(of(&e, "command_finished", "slow").is_none());
    drop(s);
    let again = view("cmd-kill-2", dir.path());
    again.wait("the report", 15, |t| t.contains("no recorded end for"));
    again.keys(&["q"]);
    again.wait("the quit question", 5, |t| t.contains("Quit?"));
    again.keys(&["y"]);
    again.wait("exit", 10, |t| t.contains("IC-EXIT=0"));
    let pm = std::process::Command::new(env!("CARGO_BIN_EXE_ic"))
        .args(["postmortem", "--timeline-dir"])
        .arg(dir.path().join("incidents"))
        .env("IC_LOG", "off")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&pm.stdout);
    assert!(text.contains("**no recorded end**"), "{text}");
}

#[test]
fn sigterm_while_a_command_runs_ends_its_group_and_records_it() {
    if !tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), serve(), "39.75");
    let s = view("cmd-term", dir.path());
    s.close_triage();
    s.wait("the alert", 25, |t| {
        t.contains(" ALERT ") && t.contains("Playbook: Audit")
    });
    s.keys(&["j", "j", "Enter"]);
    s.wait("the slow dialog", 5, |t| t.contains("sleep 39.75"));
    s.keys(&["y"]);
    wait_events(dir.path(), "the start", |e| {
        of(e, "command_started", "slow").is_some()
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while sleepers("39.75") != 1 {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &s.ic_pid().to_string()])
        .status();
    s.wait("ic to exit", 15, |t| t.contains("IC-EXIT=0"));
    let e = events(dir.path());
    let end = of(&e, "command_finished", "slow").expect("the end is recorded");
    assert_eq!(end.data["cancelled"], true, "{end:?}");
    assert_eq!(sleepers("39.75"), 0, "its process group was ended");
}
