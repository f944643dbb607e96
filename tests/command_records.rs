//! Adversary tests for the audit records of confirmed commands
//! (`runtime::run_command`, `runner::run`): every run has its
//! `command_started` and `command_finished` in the incident's timeline, and
//! "ended" means its process group is gone.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use incident_commander::app::Msg;
use incident_commander::app::targets::{SourceKind, Target};
use incident_commander::config::Notify;
use incident_commander::core::detect::Settings;
use incident_commander::core::event::{Draft, Kind};
use incident_commander::core::playbook::Playbook;
use incident_commander::journal::{self, Journal};
use incident_commander::runner::{self, Confirmed, RunOptions};
use incident_commander::runtime::Runtime;
use incident_commander::tui::Screen;
use incident_commander::tui::view::Pane;
use std::path::Path;
use std::time::Duration;
use tokio::sync::watch;

/// The view's key for a plain press of `code`, as the terminal reports it.
fn press(code: KeyCode) -> incident_commander::tui::input::Key {
    incident_commander::tui::input::key(KeyEvent::new(code, KeyModifiers::NONE))
        .expect("a key the engine knows")
}

/// Whether `pid` is a live process (not gone, not a zombie waiting for its reaper).
fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|r| r.split_whitespace().next());
    !matches!(state, Some("Z") | Some("X") | None)
}

/// A command that leaves a child behind (`cmd &`, a port-forward, a tail -f)
/// returns as soon as the shell exits: `command_finished` says it ended and
/// the timeout no longer applies, while its process group lives on — after
/// the record, after `ic` quits, for as long as the child likes. The group is
/// killed on timeout and cancel, but not when the shell exits by itself.
#[tokio::test]
async fn a_command_s_process_group_is_gone_when_its_end_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        cwd: Some(dir.path().to_path_buf()),
        timeout: Duration::from_secs(5),
        ..RunOptions::default()
    };
    let (_tx, rx) = watch::channel(false);
    let o = runner::run(
        "sleep 47.5 >/dev/null 2>&1 & echo $!",
        Confirmed::by("test"),
        &opts,
        rx,
    )
    .await
    .unwrap();
    assert_eq!(o.exit_code, Some(0), "{o:?}");
    let pid: i32 = o.output.trim().parse().expect("the child's pid");
    std::thread::sleep(Duration::from_millis(200));
    let survived = alive(pid);
    if survived {
        // The test's own child: cleaned up by its pid.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert!(
        !survived,
        "the run is over ({}), yet its child {pid} still runs in the command's process group",
        o.summary()
    );
}

const PLAYBOOK: &str = "id: slow\ntitle: Slow\nphases:\n  detect:\n    - {id: slow, text: A slow step, run: \"sleep 2; echo done\"}\n";

fn events_of(path: &Path) -> Vec<incident_commander::core::event::Event> {
    journal::read(path).unwrap().events
}

/// A teammate closes the incident (`ic event -k close`, or the responder
/// presses R R) while a confirmed command runs. The runtime drops the journal
/// when it learns of the close; the command's end then opens a *new*
/// incident, titled "incident", and is written there — its `run` naming a
/// `seq` of another file — while the timeline that holds its start never gets
/// its end: the postmortem says "no recorded end" for a command that finished.
#[tokio::test]
async fn a_command_s_end_is_written_where_its_start_is_even_after_a_close() {
    let dir = tempfile::tempdir().unwrap();
    let timelines = dir.path().join("incidents");
    let pb = Playbook::parse(&dir.path().join("slow.yaml"), PLAYBOOK).unwrap();
    let mut state = incident_commander::app::State::new(
        "shop",
        "ann",
        Settings::default(),
        vec![Target::new("payments", SourceKind::Probe, None)],
        vec![pb],
        timelines.clone(),
        incident_commander::clock::now(),
    );
    let notify = Notify {
        desktop: false,
        bell: false,
        ..Notify::default()
    };
    state.interactive = true;
    let mut sc = Screen::new(Runtime::new(state, &notify, Vec::new(), Vec::new(), false));
    sc.view.size = (160, 45);
    sc.view.focus = Pane::Playbook;
    sc.key(press(KeyCode::Enter));
    // A frame shows the dialog (only drawn rows count as read), then y.
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 45)).unwrap();
    term.draw(|f| {
        sc.draw(
            f,
            incident_commander::tui::theme::Theme::of(
                incident_commander::tui::theme::ThemeName::Mono,
            ),
        )
    })
    .unwrap();
    sc.key(press(KeyCode::Char('y')));
    let mut rt = sc.rt;
    assert_eq!(
        rt.state.running.as_deref(),
        Some("slow"),
        "{:?}",
        rt.state.message
    );
    let file = rt
        .state
        .timeline_path
        .clone()
        .expect("the incident's timeline");
    let started = events_of(&file)
        .into_iter()
        .find(|e| e.kind == Kind::CommandStarted)
        .expect("command_started is on disk");

    // Another process closes the incident; the view learns it on its next tick.
    Journal::open(&file)
        .unwrap()
        .append(
            Draft::new(
                Kind::IncidentClosed,
                "bob",
                "resolved",
                serde_json::Value::Null,
            ),
            incident_commander::clock::now(),
        )
        .unwrap();
    rt.handle(Msg::Tick);

    // The command ends.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while rt.state.running.is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the command never ended"
        );
        if let Ok(Some(batch)) = tokio::time::timeout(Duration::from_secs(1), rt.next_batch()).await
        {
            rt.handle_all(batch);
        }
    }
    let _ = rt.stop().await;

    let finished: Vec<_> = events_of(&file)
        .into_iter()
        .filter(|e| e.kind == Kind::CommandFinished)
        .collect();
    let files = journal::timelines(&timelines);
    assert!(
        finished.iter().any(|e| e.data["run"] == started.seq),
        "the timeline with the start ({}) has no command_finished; the timelines now: {files:#?}",
        file.display()
    );
    assert_eq!(
        files.len(),
        1,
        "a command's end opened another incident: {files:#?}"
    );
}

/// The disk is full (nothing fed back as written): a signal resolves, then
/// fires again. The resolve waits in memory, so the incident on disk still
/// says "firing"; the new alert is then taken for a restart's resume and
/// dropped — no `signal_fired`, no notification — and when room returns the
/// timeline reads "resolved" while the endpoint is failing again.
#[test]
fn a_signal_that_fires_again_while_its_resolve_is_unsaved_is_recorded_and_notified() {
    use incident_commander::core::sample::FailureClass;
    use incident_commander::core::signal::{DetectorKind, SeverityHint, Signal, SignalState};
    let t0 = incident_commander::clock::now();
    let mut state = incident_commander::app::State::new(
        "shop",
        "ann",
        Settings::default(),
        vec![Target::new("payments", SourceKind::Probe, None)],
        incident_commander::core::playbook::bundled(),
        "/var/lib/ic/incidents".into(),
        t0,
    );
    let signal = |state: SignalState, s: i64| Signal {
        kind: DetectorKind::Down,
        target: "payments".into(),
        state,
        severity: SeverityHint::Critical,
        evidence: "3 probes failed".into(),
        started: t0,
        at: t0 + chrono::Duration::seconds(s),
        class: Some(FailureClass::Http5xx),
        ended: None,
    };
    // The first alert opens the incident, and its events are on disk.
    let fx =
        incident_commander::app::update(&mut state, Msg::Signal(signal(SignalState::Fired, 0)), t0);
    let mut seq = 0;
    for e in fx {
        let draft = match e {
            incident_commander::app::Effect::Open(title) => Draft::opened("ic", &title, "shop"),
            incident_commander::app::Effect::Append(d) => d,
            _ => continue,
        };
        seq += 1;
        incident_commander::app::update(&mut state, Msg::Appended(draft.into_event(seq, t0)), t0);
    }
    assert!(state.incident_open());
    // Now nothing can be written: the resolve stays pending.
    let at = t0 + chrono::Duration::seconds(30);
    let fx = incident_commander::app::update(
        &mut state,
        Msg::Signal(signal(SignalState::Resolved, 30)),
        at,
    );
    assert!(fx.iter().any(|e| matches!(e, incident_commander::app::Effect::Append(d) if d.kind == Kind::SignalResolved)));
    incident_commander::app::update(&mut state, Msg::AppendFailed("disk full".into()), at);
    // It fails again a minute later.
    let at = t0 + chrono::Duration::seconds(90);
    let fx = incident_commander::app::update(
        &mut state,
        Msg::Signal(signal(SignalState::Fired, 90)),
        at,
    );
    assert!(
        fx.iter().any(|e| matches!(e, incident_commander::app::Effect::Append(d) if d.kind == Kind::SignalFired)),
        "the second alert is not recorded: {fx:?}"
    );
    assert!(
        fx.iter()
            .any(|e| matches!(e, incident_commander::app::Effect::Notify(..))),
        "the second alert is not notified: {fx:?}"
    );
}

/// One `metric_snapshot` line dated in 9999 (a teammate's clock, a hand edit)
/// is "reported by readers and never stamped on later events" — but the view
/// takes the latest snapshot time from it and waits for `now` to pass it: it
/// never records another snapshot, and the postmortem's impact figures stop.
#[test]
fn a_snapshot_dated_in_the_future_does_not_stop_the_snapshots() {
    use incident_commander::core::metrics::RouteView;
    let t0 = incident_commander::clock::now();
    let mut state = incident_commander::app::State::new(
        "shop",
        "ann",
        Settings::default(),
        Vec::new(),
        incident_commander::core::playbook::bundled(),
        "/var/lib/ic/incidents".into(),
        t0,
    );
    let far = chrono::DateTime::parse_from_rfc3339("9999-12-31T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    for (seq, draft, at) in [
        (1, Draft::opened("ann", "payments", "shop"), t0),
        (
            2,
            Draft::new(
                Kind::MetricSnapshot,
                "bob",
                "metric snapshot",
                serde_json::json!({"targets": []}),
            ),
            far,
        ),
    ] {
        incident_commander::app::update(&mut state, Msg::Appended(draft.into_event(seq, at)), t0);
    }
    let mut snapshots = 0;
    for s in 1..=180 {
        let at = t0 + chrono::Duration::seconds(s);
        let view = RouteView {
            route: "/api/payments".into(),
            requests: 20.0,
            errors_5xx: 5.0,
            errors_4xx: 0.0,
            rate: Some(20.0),
            span: None,
            p50: Some(0.05),
            p95: Some(0.1),
            p99: Some(0.2),
            by_label: Vec::new(),
        };
        incident_commander::app::update(&mut state, Msg::Views("shop".into(), vec![view], at), at);
        let fx = incident_commander::app::update(&mut state, Msg::Tick, at);
        snapshots += fx
            .iter()
            .filter(|e| matches!(e, incident_commander::app::Effect::Append(d) if d.kind == Kind::MetricSnapshot))
            .count();
    }
    assert!(
        snapshots >= 2,
        "{snapshots} snapshots in three minutes of traffic"
    );
}
