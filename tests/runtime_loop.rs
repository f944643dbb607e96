//! The real runtime loop (`runtime::Runtime`) over injected ports: a manual
//! clock, a notifier that records, and a scripted command runner, with the
//! timeline in a private temporary directory. No terminal, no sleeps: the
//! test says what time it is and what arrives, and asserts what the runtime
//! did — what is on disk, what was notified, what was run.

use incident_commander::app::targets::{SourceKind, Target, TargetId};
use incident_commander::app::{Msg, State};
use incident_commander::core::detect::Settings;
use incident_commander::core::event::Kind;
use incident_commander::core::playbook::Playbook;
use incident_commander::core::sample::{FailureClass, Phases, ProbeSample};
use incident_commander::core::signal::Signal;
use incident_commander::journal;
use incident_commander::runner::{CommandOutcome, RunOptions};
use incident_commander::runtime::Runtime;
use incident_commander::runtime::ports::{
    CommandRunner, ManualClock, Notifications, Ports, RunFuture,
};
use incident_commander::tui::Screen;
use incident_commander::tui::input::Key;
use incident_commander::tui::view::Pane;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

type Log = Arc<Mutex<Vec<String>>>;

/// Records every notification and status update.
struct Recording(Log);

impl Notifications for Recording {
    fn signal(&mut self, s: &Signal) {
        self.0
            .lock()
            .unwrap()
            .push(format!("signal {}", s.headline()));
    }
    fn comms(&mut self, text: &str) {
        self.0.lock().unwrap().push(format!("comms {text}"));
    }
    fn reminder(&mut self, text: &str) {
        self.0.lock().unwrap().push(format!("reminder {text}"));
    }
}

/// Answers every command with exit 0 and records what it was asked to run.
struct Scripted(Log);

impl CommandRunner for Scripted {
    fn run(
        &self,
        command: String,
        confirmed_by: String,
        opts: RunOptions,
        _cancel: watch::Receiver<bool>,
    ) -> RunFuture {
        let target = opts
            .env
            .iter()
            .find(|(k, _)| k == "IC_TARGET")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .push(format!("{confirmed_by}: {command} with IC_TARGET={target}"));
        Box::pin(async move {
            Ok(CommandOutcome {
                command,
                confirmed_by,
                exit_code: Some(0),
                signal: None,
                duration: Duration::from_millis(1200),
                output: "rolled back to v41".into(),
                truncated: false,
                timed_out: false,
                cancelled: false,
                leftovers_ended: false,
            })
        })
    }
}

const PLAYBOOK: &str = "id: rollback\ntitle: Roll back\napplies_when: {signals: [down, error_rate], targets: [\"*\"]}\nphases:\n  detect:\n    - {id: undo, text: Roll back payments, run: \"kubectl rollout undo deploy/{target}\"}\n";

fn sample(at: chrono::DateTime<chrono::Utc>, ok: bool) -> ProbeSample {
    ProbeSample {
        at,
        status: Some(if ok { 200 } else { 503 }),
        latency: Duration::from_millis(if ok { 40 } else { 5 }),
        phases: Phases::default(),
        bytes: 100,
        cert_days_left: None,
        retry_after: None,
        class: if ok {
            FailureClass::Ok
        } else {
            FailureClass::Http5xx
        },
        error: (!ok).then(|| "status 503".to_string()),
        warnings: Vec::new(),
        lateness: Duration::ZERO,
        exemplar: None,
        redirects: Vec::new(),
    }
}

#[tokio::test]
async fn an_outage_opens_one_incident_notifies_once_and_a_confirmed_command_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let timelines = dir.path().join("incidents");
    // Sub-millisecond, like the real clock: the file keeps milliseconds.
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-11-22T03:00:00.123456789Z")
        .unwrap()
        .to_utc();
    let clock = Arc::new(ManualClock::new(t0));
    let (notes, runs): (Log, Log) = Default::default();
    let pb = Playbook::parse(std::path::Path::new("rollback.yaml"), PLAYBOOK).unwrap();
    let mut state = State::new(
        "shop",
        "ann",
        Settings::default(),
        vec![Target::new("payments", SourceKind::Probe, None)],
        vec![pb],
        timelines.clone(),
        t0,
    );
    state.interactive = true;
    let ports = Ports {
        clock: clock.clone(),
        notifier: Box::new(Recording(notes.clone())),
        runner: Arc::new(Scripted(runs.clone())),
    };
    let mut rt = Runtime::with_ports(state, ports, Vec::new(), Vec::new(), false);

    // A minute of good probes, then every probe fails.
    for s in 0..120 {
        let at = t0 + chrono::Duration::seconds(s);
        clock.set(at);
        rt.handle(Msg::Probe(
            TargetId::Probe("payments".into()),
            Box::new(sample(at, s < 60)),
        ));
        rt.handle(Msg::Tick);
    }
    let file = rt.timeline().expect("an incident timeline").to_path_buf();
    assert!(file.starts_with(&timelines), "{}", file.display());
    let events = journal::read(&file).unwrap().events;
    let count = |k: Kind| events.iter().filter(|e| e.kind == k).count();
    assert_eq!(count(Kind::IncidentOpened), 1);
    assert!(count(Kind::SignalFired) >= 1, "{events:#?}");
    assert_eq!(count(Kind::PlaybookSelected), 1);
    // Times come from the injected clock, and every event has a global id.
    let fired = events.iter().find(|e| e.kind == Kind::SignalFired).unwrap();
    assert!(
        fired.ts > t0 + chrono::Duration::seconds(60),
        "{}",
        fired.ts
    );
    assert!(
        fired.ts < t0 + chrono::Duration::seconds(120),
        "{}",
        fired.ts
    );
    assert!(events.iter().all(|e| e.id.is_some()));
    // One notification for the burst, through the injected notifier.
    let sent = notes.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("payments"), "{sent:?}");

    // The responder runs the playbook's command: Enter shows it, a frame
    // draws it (only rows drawn count as read), y confirms.
    let mut sc = Screen::new(rt);
    sc.view.size = (160, 45);
    sc.view.focus = Pane::Playbook;
    sc.key(Key::Enter);
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
    sc.key(Key::Char('y'));
    let mut rt = sc.rt;
    assert_eq!(
        rt.state.running.as_deref(),
        Some("undo"),
        "{:?}",
        rt.state.message
    );
    // The loop waits for the runner's answer like any other message.
    let batch = tokio::time::timeout(Duration::from_secs(10), rt.next_batch())
        .await
        .expect("the command's end arrives")
        .expect("the channel is open");
    for m in batch {
        rt.handle(m);
    }
    assert_eq!(rt.state.running, None);
    assert_eq!(
        runs.lock().unwrap().clone(),
        // The placeholder reaches `sh` as a quoted variable, its value in the environment.
        [r#"ann: kubectl rollout undo deploy/"${IC_TARGET}" with IC_TARGET=payments"#]
    );
    let events = journal::read(&file).unwrap().events;
    let started = events
        .iter()
        .find(|e| e.kind == Kind::CommandStarted)
        .expect("command_started on disk");
    let finished = events
        .iter()
        .find(|e| e.kind == Kind::CommandFinished)
        .expect("command_finished on disk");
    assert_eq!(finished.data["run"], started.seq);
    assert_eq!(finished.data["exit_code"], 0);
    assert_eq!(finished.data["output"], "rolled back to v41");

    // A status update goes to the injected notifier too.
    let mut sc = Screen::new(rt);
    sc.key(Key::Char('u'));
    sc.key(Key::Enter);
    let mut rt = sc.rt;
    let sent = notes.lock().unwrap().clone();
    assert!(sent.iter().any(|n| n.starts_with("comms ")), "{sent:?}");
    // A second copy of an event lands in the file (a retried write that had
    // landed, a teammate's merge): the state learns it once; a new event from
    // another writer is learnt.
    let before = rt.state.incident.as_ref().unwrap().events.len();
    let events = journal::read(&file).unwrap().events;
    let last = events.last().unwrap().clone();
    let mut copy = last.clone();
    copy.seq = last.seq + 1;
    let mut fresh = incident_commander::core::event::Draft::note("bob", "from bob", &[])
        .into_event(last.seq + 2, last.ts);
    fresh.id = Some(incident_commander::core::event::EventId::v7(
        last.ts, [9; 10],
    ));
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        writeln!(f, "{}\n{}", copy.to_line(), fresh.to_line()).unwrap();
    }
    rt.handle(Msg::Tick);
    let learnt = &rt.state.incident.as_ref().unwrap().events;
    assert_eq!(learnt.len(), before + 1, "{:?}", learnt.last());
    assert_eq!(learnt.last().unwrap().msg, "from bob");
    assert!(rt.state.errors.is_empty(), "{:?}", rt.state.errors);
    // A line that takes an event's id but says something else (a hand edit, a
    // forgery): not learnt, and the responder is told, in the errors list.
    let mut forged = fresh.clone();
    forged.seq = last.seq + 3;
    forged.msg = "nobody rolled back".into();
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        writeln!(f, "{}", forged.to_line()).unwrap();
    }
    rt.handle(Msg::Tick);
    let learnt = &rt.state.incident.as_ref().unwrap().events;
    assert_eq!(learnt.len(), before + 1);
    assert!(
        rt.state
            .errors
            .iter()
            .any(|(_, e)| e.contains("edited or forged")),
        "{:?}",
        rt.state.errors
    );

    let unsaved = rt.stop().await;
    assert!(unsaved.is_empty());
}
