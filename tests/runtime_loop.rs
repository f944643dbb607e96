//! The real runtime loop (`runtime::Runtime`) over injected ports: a manual
//! clock, a notifier that records, a scripted command runner, and timelines
//! either in a private temporary directory (the real files) or in memory (to
//! fill the "disk", delete a file, or append as another responder). No
//! terminal, no sleeps: the test says what time it is and what arrives, and
//! asserts what the runtime did — what is stored, notified and run.

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
    Clock, CommandRunner, ManualClock, Notifications, Ports, RunFuture,
};
use incident_commander::runtime::timelines::{FileTimelines, MemoryTimelines};
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
        timelines: Box::new(FileTimelines::new(timelines.clone())),
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

fn t0() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-22T03:00:00.250Z")
        .unwrap()
        .to_utc()
}

/// A runtime over in-memory timelines, with the returned handle on the same store.
fn in_memory(
    clock: &Arc<ManualClock>,
    store: &MemoryTimelines,
    notes: &Log,
    runs: &Log,
    resume: bool,
) -> Runtime {
    in_memory_with(
        clock,
        store,
        notes,
        Arc::new(Scripted(runs.clone())),
        resume,
    )
}

fn in_memory_with(
    clock: &Arc<ManualClock>,
    store: &MemoryTimelines,
    notes: &Log,
    runner: Arc<dyn CommandRunner>,
    resume: bool,
) -> Runtime {
    let pb = Playbook::parse(std::path::Path::new("rollback.yaml"), PLAYBOOK).unwrap();
    let mut state = State::new(
        "shop",
        "ann",
        Settings::default(),
        vec![Target::new("payments", SourceKind::Probe, None)],
        vec![pb],
        "/nowhere/incidents".into(),
        clock.now(),
    );
    state.interactive = true;
    let ports = Ports {
        clock: clock.clone(),
        notifier: Box::new(Recording(notes.clone())),
        runner,
        timelines: Box::new(store.clone()),
    };
    Runtime::with_ports(state, ports, Vec::new(), Vec::new(), resume)
}

/// Good probes for `good` seconds from `from`, then failing ones until `until`.
fn probes(rt: &mut Runtime, clock: &ManualClock, from: i64, good: i64, until: i64) {
    for s in from..until {
        let at = t0() + chrono::Duration::seconds(s);
        clock.set(at);
        rt.handle(Msg::Probe(
            TargetId::Probe("payments".into()),
            Box::new(sample(at, s < from + good)),
        ));
        rt.handle(Msg::Tick);
    }
}

fn note(sc: &mut Screen, text: &str) {
    sc.key(Key::Char('n'));
    for c in text.chars() {
        sc.key(Key::Char(c));
    }
    sc.key(Key::Enter);
}

#[tokio::test]
async fn a_full_disk_keeps_every_event_in_order_refuses_commands_and_writes_them_when_room_is_back()
{
    let clock = Arc::new(ManualClock::new(t0()));
    let store = MemoryTimelines::new(std::path::Path::new("/nowhere/incidents"));
    let (notes, runs): (Log, Log) = Default::default();
    let rt = in_memory(&clock, &store, &notes, &runs, false);
    let mut sc = Screen::new(rt);
    probes(&mut sc.rt, &clock, 0, 60, 90);
    let path = sc.rt.timeline().expect("an incident is open").to_path_buf();
    assert_eq!(store.paths(), std::slice::from_ref(&path));
    let stored = store.events(&path).len();

    // The disk fills: notes are kept, in order, and counted as not saved.
    store.set_full(true);
    for n in ["one", "two", "three"] {
        note(&mut sc, n);
    }
    assert_eq!(
        store.events(&path).len(),
        stored,
        "nothing reached the store"
    );
    assert_eq!(sc.rt.state.unsaved, 3);
    assert_eq!(sc.rt.unsaved().len(), 3);
    assert!(
        sc.rt
            .state
            .message
            .as_deref()
            .is_some_and(|m| m.contains("disk is full")),
        "{:?}",
        sc.rt.state.message
    );
    // A command that could leave no record is not run.
    sc.view.focus = Pane::Playbook;
    sc.key(Key::Enter);
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 45)).unwrap();
    let theme =
        incident_commander::tui::theme::Theme::of(incident_commander::tui::theme::ThemeName::Mono);
    term.draw(|f| sc.draw(f, theme)).unwrap();
    sc.key(Key::Char('y'));
    assert!(
        runs.lock().unwrap().is_empty(),
        "{:?}",
        runs.lock().unwrap()
    );
    assert_eq!(sc.rt.state.running, None);

    // Room again: the next tick writes them, oldest first, each once.
    store.set_full(false);
    clock.advance(chrono::Duration::seconds(1));
    sc.rt.handle(Msg::Tick);
    assert_eq!(sc.rt.state.unsaved, 0);
    let events = store.events(&path);
    let notes_stored: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == Kind::Note && e.actor == "ann")
        .map(|e| e.msg.as_str())
        .collect();
    assert_eq!(notes_stored, ["one", "two", "three"]);
    let ids: std::collections::HashSet<_> = events.iter().map(|e| e.id.clone().unwrap()).collect();
    assert_eq!(
        ids.len(),
        events.len(),
        "every event once, each with its id"
    );
    assert!(
        events
            .windows(2)
            .all(|w| w[0].seq < w[1].seq && w[0].ts <= w[1].ts)
    );
    let learnt = &sc.rt.state.incident.as_ref().unwrap().events;
    assert_eq!(
        learnt.len(),
        events.len(),
        "the state learnt what is stored"
    );
    assert!(sc.rt.stop().await.is_empty());
}

#[tokio::test]
async fn an_open_incident_is_resumed_a_teammate_s_events_are_followed_and_a_deleted_timeline_goes_on()
 {
    let clock = Arc::new(ManualClock::new(t0()));
    let store = MemoryTimelines::new(std::path::Path::new("/nowhere/incidents"));
    let (notes, runs): (Log, Log) = Default::default();
    // Another process opened an incident for the service a minute ago.
    let path = std::path::Path::new("/nowhere/incidents/20261122T025900Z-payments.jsonl");
    let before = t0() - chrono::Duration::seconds(60);
    store
        .append(
            path,
            incident_commander::core::event::Draft::opened("ic", "payments", "shop"),
            before,
        )
        .unwrap();
    store
        .append(
            path,
            incident_commander::core::event::Draft::note("bob", "looking at the pool", &[]),
            before,
        )
        .unwrap();
    let rt = in_memory(&clock, &store, &notes, &runs, true);
    let mut sc = Screen::new(rt);
    assert_eq!(sc.rt.timeline(), Some(path));
    assert_eq!(sc.rt.state.incident.as_ref().unwrap().events.len(), 2);

    // Bob writes again: the tick learns it; a copy of it is learnt once.
    let bob = store
        .append(
            path,
            incident_commander::core::event::Draft::note("bob", "pool is at 100%", &[]),
            t0(),
        )
        .unwrap();
    let mut copy = bob.clone();
    copy.seq += 1;
    store.push_raw(path, copy);
    sc.rt.handle(Msg::Tick);
    let learnt = &sc.rt.state.incident.as_ref().unwrap().events;
    assert_eq!(learnt.len(), 3);
    assert_eq!(learnt.last().unwrap().msg, "pool is at 100%");

    // The timeline is deleted behind our back: the next event starts it again at
    // the same path, and the responder is told.
    store.remove(path);
    note(&mut sc, "restarting the pool");
    assert_eq!(store.events(path).len(), 1);
    assert_eq!(store.events(path)[0].msg, "restarting the pool");
    let said = sc.rt.state.message.clone().unwrap_or_default();
    assert!(said.contains("moved or deleted"), "{said}");
    assert!(
        notes.lock().unwrap().is_empty(),
        "a resumed incident pages no one"
    );
    assert!(sc.rt.stop().await.is_empty());
}

#[tokio::test]
async fn a_stale_open_incident_is_asked_about_and_closing_it_is_recorded_in_its_own_timeline() {
    let clock = Arc::new(ManualClock::new(t0()));
    let store = MemoryTimelines::new(std::path::Path::new("/nowhere/incidents"));
    let (notes, runs): (Log, Log) = Default::default();
    let path = std::path::Path::new("/nowhere/incidents/20261121T230000Z-old.jsonl");
    store
        .append(
            path,
            incident_commander::core::event::Draft::opened("ic", "old", "shop"),
            t0() - chrono::Duration::hours(4),
        )
        .unwrap();
    let rt = in_memory(&clock, &store, &notes, &runs, true);
    let mut sc = Screen::new(rt);
    assert!(
        sc.rt.timeline().is_none(),
        "a stale incident is not taken over silently"
    );
    assert_eq!(
        sc.rt.state.stale.as_ref().map(|(p, _)| p.as_path()),
        Some(path)
    );
    // The question is on screen; `c` closes it, in its own timeline.
    sc.key(Key::Char('c'));
    let events = store.events(path);
    assert_eq!(
        events.last().map(|e| e.kind),
        Some(Kind::IncidentClosed),
        "{events:#?}"
    );
    // A new outage opens a new incident, not the old one.
    probes(&mut sc.rt, &clock, 0, 60, 90);
    let new = sc.rt.timeline().expect("a new incident").to_path_buf();
    assert_ne!(new, path);
    assert_eq!(store.paths().len(), 2);
    // P writes the postmortem beside the new timeline.
    sc.key(Key::Char('P'));
    let pm = store
        .postmortem(&new)
        .expect("a postmortem beside the timeline");
    assert!(pm.contains("payments"), "{pm}");
    assert!(sc.rt.stop().await.is_empty());
}

/// A runner whose `sh` cannot start.
struct Unstartable;

impl CommandRunner for Unstartable {
    fn run(
        &self,
        _command: String,
        _confirmed_by: String,
        _opts: RunOptions,
        _cancel: watch::Receiver<bool>,
    ) -> RunFuture {
        Box::pin(async {
            Err(incident_commander::runner::RunError::Spawn {
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
                hint: "check PATH".into(),
            })
        })
    }
}

#[tokio::test]
async fn a_command_that_cannot_start_is_recorded_as_ended_with_why_and_its_step_stays_open() {
    let clock = Arc::new(ManualClock::new(t0()));
    let store = MemoryTimelines::new(std::path::Path::new("/nowhere/incidents"));
    let notes: Log = Default::default();
    let rt = in_memory_with(&clock, &store, &notes, Arc::new(Unstartable), false);
    let mut sc = Screen::new(rt);
    probes(&mut sc.rt, &clock, 0, 60, 90);
    let path = sc.rt.timeline().expect("an incident").to_path_buf();
    sc.view.focus = Pane::Playbook;
    sc.key(Key::Enter);
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 45)).unwrap();
    let theme =
        incident_commander::tui::theme::Theme::of(incident_commander::tui::theme::ThemeName::Mono);
    term.draw(|f| sc.draw(f, theme)).unwrap();
    sc.key(Key::Char('y'));
    let mut rt = sc.rt;
    let batch = tokio::time::timeout(Duration::from_secs(10), rt.next_batch())
        .await
        .expect("the runner's answer arrives")
        .expect("the channel is open");
    for m in batch {
        rt.handle(m);
    }
    let events = store.events(&path);
    let started = events
        .iter()
        .find(|e| e.kind == Kind::CommandStarted)
        .expect("started");
    let finished = events
        .iter()
        .find(|e| e.kind == Kind::CommandFinished)
        .expect("finished");
    assert_eq!(finished.data["run"], started.seq);
    assert_eq!(finished.data["step"], "undo");
    assert_eq!(finished.data["confirmed_by"], "ann");
    assert!(finished.data["exit_code"].is_null(), "{}", finished.data);
    let why = finished.data["why"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("could not start: cannot start `sh`"),
        "{why}"
    );
    assert!(finished.msg.contains("could not start"), "{}", finished.msg);
    // The fold reads it as a command that did not succeed: the step is not done.
    let inc = &rt.state.incident.as_ref().unwrap().state;
    assert!(
        inc.commands.iter().all(|c| !c.unfinished()),
        "its end is known"
    );
    assert_ne!(
        rt.state
            .step_state(incident_commander::core::event::Phase::Detect, "undo"),
        Some(true)
    );
    assert!(rt.stop().await.is_empty());
}

#[tokio::test]
async fn the_incident_picker_lists_the_open_incidents_and_switches_to_the_chosen_one() {
    use incident_commander::core::event::Draft;
    let dir = tempfile::tempdir().unwrap();
    let timelines = dir.path().join("incidents");
    let t0 = t0();
    // Two open incidents in the directory (one copied from the team), one closed.
    let mut mine = journal::Journal::create(&timelines, t0, "checkout slow").unwrap();
    mine.append(Draft::opened("ann", "checkout slow", "shop"), t0)
        .unwrap();
    let later = t0 + chrono::Duration::seconds(30);
    let mut theirs = journal::Journal::create(&timelines, later, "search down").unwrap();
    theirs
        .append(Draft::opened("ic", "search down", "shop"), later)
        .unwrap();
    theirs
        .append(Draft::note("bob", "search pods restarting", &[]), later)
        .unwrap();
    let mut done = journal::Journal::create(&timelines, t0, "old one").unwrap();
    done.append(Draft::opened("ann", "old one", "shop"), t0)
        .unwrap();
    done.append(
        Draft::new(
            Kind::IncidentClosed,
            "ann",
            "closed",
            serde_json::Value::Null,
        ),
        t0,
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(later + chrono::Duration::seconds(5)));
    let mut state = State::new(
        "shop",
        "ann",
        Settings::default(),
        vec![Target::new("payments", SourceKind::Probe, None)],
        Vec::new(),
        timelines.clone(),
        t0,
    );
    state.interactive = true;
    let ports = Ports {
        clock: clock.clone(),
        notifier: Box::new(Recording(Default::default())),
        runner: Arc::new(Scripted(Default::default())),
        timelines: Box::new(FileTimelines::new(timelines.clone())),
    };
    let rt = Runtime::with_ports(state, ports, Vec::new(), Vec::new(), true);
    let mut sc = Screen::new(rt);
    // The newest open one was resumed; I lists both open ones, newest first.
    assert_eq!(sc.rt.timeline(), Some(theirs.path()));
    sc.key(Key::Char('I'));
    let rows: Vec<String> = sc
        .rt
        .state
        .incident_list
        .iter()
        .map(|r| r.title.clone())
        .collect();
    assert_eq!(
        rows,
        vec!["search down".to_string(), "checkout slow".to_string()]
    );
    // Down, Enter: the other incident is the one on screen and appended to.
    sc.key(Key::Down);
    sc.key(Key::Enter);
    assert_eq!(sc.rt.timeline(), Some(mine.path()));
    let title = sc.rt.state.incident.as_ref().map(|i| i.state.title.clone());
    assert_eq!(title.as_deref(), Some("checkout slow"));
    note(&mut sc, "pool raised to 40");
    let events = journal::read(mine.path()).unwrap().events;
    assert!(
        events.iter().any(|e| e.msg == "pool raised to 40"),
        "{events:#?}"
    );
    assert!(
        !journal::read(theirs.path())
            .unwrap()
            .events
            .iter()
            .any(|e| e.msg == "pool raised to 40"),
        "nothing of it in the incident left"
    );
}
