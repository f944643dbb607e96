//! The full-screen view rendered into ratatui's `TestBackend` at 80×24 and
//! 160×45 after injected messages and keys: text snapshots (insta) of the
//! panes, overlays and modes, direct checks of colour-critical cells (the
//! severity badge, the ALERT banner), and app-level checks that every
//! incident change goes out as a timeline append first.

use chrono::{DateTime, Duration, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use incident_commander::app::targets::{SourceKind, Target, TargetId};
use incident_commander::app::{self, Effect, Msg, State};
use incident_commander::core::detect::Settings;
use incident_commander::core::event::{Draft, Event, Kind};
use incident_commander::core::grammar::InputKind;
use incident_commander::core::metrics::RouteView;
use incident_commander::core::playbook;
use incident_commander::core::sample::{FailureClass, Phases, ProbeSample};
use incident_commander::core::signal::{DetectorKind, SeverityHint, Signal, SignalState};
use incident_commander::tui::input::Input;
use incident_commander::tui::theme::{Theme, ThemeName};
use incident_commander::tui::view::{Confirm, Mode, Pane, View};
use incident_commander::tui::{self, keys};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

/// The view's key for a plain press of `code`, as the terminal reports it.
fn press(code: KeyCode) -> incident_commander::tui::input::Key {
    incident_commander::tui::input::key(KeyEvent::new(code, KeyModifiers::NONE))
        .expect("a key the engine knows")
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 0).unwrap()
}

fn sample(at: DateTime<Utc>, ok: bool) -> ProbeSample {
    ProbeSample {
        at,
        status: Some(if ok { 200 } else { 503 }),
        latency: std::time::Duration::from_millis(if ok { 40 } else { 5 }),
        phases: Phases::default(),
        bytes: 100,
        cert_days_left: Some(45.0),
        retry_after: None,
        class: if ok {
            FailureClass::Ok
        } else {
            FailureClass::Http5xx
        },
        error: (!ok).then(|| "status 503".to_string()),
        warnings: Vec::new(),
        lateness: std::time::Duration::ZERO,
        exemplar: None,
        redirects: Vec::new(),
    }
}

/// The runtime's part, done by hand: appends become events fed back in.
struct Harness {
    state: State,
    view: View,
    seq: u64,
    effects: Vec<Effect>,
}

impl Harness {
    fn new() -> Harness {
        let targets = vec![
            Target::new("payments", SourceKind::Probe, None),
            Target::new("search", SourceKind::Probe, None),
        ];
        let state = State::new(
            "shop",
            "ann",
            Settings::default(),
            targets,
            playbook::bundled(),
            "/var/lib/ic/incidents".into(),
            t0(),
        );
        Harness {
            view: View::of(&state),
            state,
            seq: 0,
            effects: Vec::new(),
        }
    }

    fn send(&mut self, msg: Msg, at: DateTime<Utc>) {
        let fx = app::update(&mut self.state, msg, at);
        self.carry_out(fx, at);
        if let Some(sel) = self.view.selection_changed(&self.state) {
            app::update(&mut self.state, Msg::Do(app::Intent::Select(sel)), at);
        }
    }

    fn carry_out(&mut self, fx: Vec<Effect>, at: DateTime<Utc>) {
        for e in fx {
            self.effects.push(e.clone());
            let draft = match e {
                Effect::Ui(n) => {
                    self.view.notice(&self.state, n);
                    continue;
                }
                Effect::Open(title) if !self.state.incident_open() => {
                    Draft::opened("ic", &title, "shop")
                }
                Effect::Append(d) => d,
                _ => continue,
            };
            self.seq += 1;
            let event: Event = draft.into_event(self.seq, at);
            self.state.timeline_path =
                Some("/var/lib/ic/incidents/20261122T030000Z-x.jsonl".into());
            let more = app::update(&mut self.state, Msg::Appended(event), at);
            self.carry_out(more, at);
        }
    }

    fn key(&mut self, code: KeyCode, at: DateTime<Utc>) {
        self.input(Input::Key(press(code)), at);
    }

    /// Terminal input through the view, and what it asks of the engine.
    fn input(&mut self, input: Input, at: DateTime<Utc>) {
        // The runtime's clock moves on whether or not the key reaches the engine.
        self.state.now = self.state.now.max(at);
        let msgs = keys::handle(&mut self.view, &self.state, input);
        for m in msgs {
            self.send(m, at);
        }
    }

    fn text(&mut self, s: &str, at: DateTime<Utc>) {
        for c in s.chars() {
            self.key(KeyCode::Char(c), at);
        }
    }

    /// Two minutes of traffic: payments starts failing at 60 s, search stays fine,
    /// and a metrics route shows the same from /metrics.
    fn incident() -> Harness {
        let mut h = Harness::new();
        for s in 0..120 {
            let at = t0() + Duration::seconds(s);
            if s % 2 == 0 {
                h.send(
                    Msg::Probe(
                        TargetId::Probe("payments".into()),
                        Box::new(sample(at, s < 60)),
                    ),
                    at,
                );
                h.send(
                    Msg::Probe(TargetId::Probe("search".into()), Box::new(sample(at, true))),
                    at,
                );
            }
            let bad = if s >= 60 { 6.0 } else { 0.0 };
            let view = RouteView {
                route: "/api/payments".into(),
                requests: 20.0,
                errors_5xx: bad,
                errors_4xx: 0.0,
                rate: Some(20.0),
                span: None,
                p50: Some(0.045),
                p95: Some(0.120),
                p99: Some(0.200),
                by_label: Vec::new(),
            };
            h.send(Msg::Views("shop".into(), vec![view], at), at);
            h.send(Msg::Tick, at);
        }
        // The triage summary shows when a signal opens the incident; closing
        // it records it.
        assert_eq!(h.view.mode, Mode::Triage, "the summary shows on opening");
        h.key(KeyCode::Esc, at(119));
        h
    }

    /// The newest event of the open incident.
    fn last_event(&self) -> Event {
        self.state
            .incident
            .as_ref()
            .and_then(|i| i.events.last())
            .expect("an incident with events")
            .clone()
    }

    fn render(&mut self, w: u16, hgt: u16) -> (String, ratatui::buffer::Buffer) {
        self.render_in(Theme::of(ThemeName::Default), w, hgt)
    }

    fn render_in(&mut self, th: Theme, w: u16, hgt: u16) -> (String, ratatui::buffer::Buffer) {
        let mut term = Terminal::new(TestBackend::new(w, hgt)).unwrap();
        term.draw(|f| tui::draw(f, &self.state, &mut self.view, th))
            .unwrap();
        let buf = term.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..hgt {
            let line: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
            out.push_str(line.trim_end());
            out.push('\n');
        }
        (out, buf)
    }
}

fn at(s: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(s)
}

#[test]
fn a_calm_start_at_both_sizes() {
    let mut h = Harness::new();
    for s in 0..20 {
        if s % 2 == 0 {
            h.send(
                Msg::Probe(
                    TargetId::Probe("payments".into()),
                    Box::new(sample(at(s), true)),
                ),
                at(s),
            );
        }
        h.send(Msg::Tick, at(s));
    }
    insta::assert_snapshot!("calm_80x24", h.render(80, 24).0);
    insta::assert_snapshot!("calm_160x45", h.render(160, 45).0);
}

#[test]
fn an_incident_opens_itself_and_shows_everywhere() {
    let mut h = Harness::incident();
    assert!(h.state.incident_open(), "a signal opened the incident");
    // Every incident change went out as an append; the opening came first.
    let first = h
        .effects
        .iter()
        .position(|e| matches!(e, Effect::Open(_)))
        .unwrap();
    let fired = h
        .effects
        .iter()
        .position(|e| matches!(e, Effect::Append(d) if d.kind == Kind::SignalFired))
        .unwrap();
    assert!(first < fired);
    // Written, then notified.
    let notified = h
        .effects
        .iter()
        .position(|e| matches!(e, Effect::Notify(..)))
        .unwrap();
    assert!(fired < notified);
    let events = &h.state.incident.as_ref().unwrap().events;
    // A metric snapshot once a minute while open, for the postmortem's impact.
    let snapshots: Vec<_> = events
        .iter()
        .filter(|e| e.kind == Kind::MetricSnapshot && e.actor == "ic")
        .collect();
    assert_eq!(snapshots.len(), 1, "one minute of the incident so far");
    assert!(
        snapshots[0].msg.contains("worst payments"),
        "{}",
        snapshots[0].msg
    );
    assert!(
        events
            .iter()
            .any(|e| e.kind == Kind::PlaybookSelected && e.msg.contains("http-5xx-spike"))
    );
    h.key(KeyCode::Char('s'), at(121));
    h.key(KeyCode::Char('2'), at(121));
    let (text, buf) = h.render(160, 45);
    insta::assert_snapshot!("incident_160x45", text);
    // The severity badge in its colour, the banner in red with the word ALERT.
    // The header is searched from the top, the footer's banner from the bottom.
    let find = |needle: &str, from_bottom: bool| -> (u16, u16) {
        let rows: Vec<u16> = if from_bottom {
            (0..45).rev().collect()
        } else {
            (0..45).collect()
        };
        for y in rows {
            let line: String = (0..160).map(|x| buf[(x, y)].symbol().to_string()).collect();
            if let Some(i) = line.find(needle) {
                return (line[..i].chars().count() as u16, y);
            }
        }
        panic!("{needle} not on screen:\n{text}");
    };
    let (x, y) = find("SEV-2", false);
    assert_eq!(buf[(x, y)].bg, Color::LightRed);
    let (x, y) = find("ALERT", true);
    assert_eq!(y, 43, "the banner is the footer's first line");
    assert_eq!(buf[(x, y)].bg, Color::Red);
    insta::assert_snapshot!("incident_80x24", h.render(80, 24).0);
}

#[test]
fn overlays_and_modes() {
    let mut h = Harness::incident();
    h.key(KeyCode::Char('?'), at(121));
    insta::assert_snapshot!("help_80x24", h.render(80, 24).0);
    h.key(KeyCode::Esc, at(121));
    h.key(KeyCode::Char('s'), at(121));
    insta::assert_snapshot!("severity_160x45", h.render(160, 45).0);
    h.key(KeyCode::Esc, at(121));
    h.key(KeyCode::Char('n'), at(121));
    h.text("pool waits at 100%", at(121));
    insta::assert_snapshot!("note_input_80x24", h.render(80, 24).0);
    h.key(KeyCode::Enter, at(122));
    let last = &h.last_event();
    assert_eq!(
        (last.kind, last.msg.as_str()),
        (Kind::Note, "pool waits at 100%")
    );
    h.key(KeyCode::Char('q'), at(123));
    insta::assert_snapshot!("quit_confirm_80x24", h.render(80, 24).0);
    h.key(KeyCode::Char('n'), at(123));
    assert!(!h.state.quit, "n keeps the app running");
}

#[test]
fn the_palette_the_triage_summary_an_open_event_and_scrolled_steps_at_both_sizes() {
    let mut h = Harness::incident();
    // The palette: `sev` finds the severity picker first; Enter opens it.
    h.key(KeyCode::Char(':'), at(121));
    h.text("sev", at(121));
    insta::assert_snapshot!("palette_80x24", h.render(80, 24).0);
    insta::assert_snapshot!("palette_160x45", h.render(160, 45).0);
    h.key(KeyCode::Enter, at(121));
    assert!(
        matches!(h.view.mode, Mode::Severity(_)),
        "{:?}",
        h.view.mode
    );
    h.key(KeyCode::Esc, at(121));
    // Help filters as you type.
    h.key(KeyCode::Char('?'), at(121));
    h.text("phase", at(121));
    let (help, _) = h.render(160, 45);
    assert!(
        help.contains("next phase") && !help.contains("  severity"),
        "{help}"
    );
    insta::assert_snapshot!("help_filtered_160x45", help);
    h.key(KeyCode::Esc, at(121));
    // A scrape whose 5xx concentrate on one label value: "who" names it.
    let view = RouteView {
        route: "/api/payments".into(),
        requests: 20.0,
        errors_5xx: 6.0,
        rate: Some(20.0),
        span: None,
        by_label: vec![incident_commander::core::metrics::LabelShare {
            label: "method".into(),
            value: "POST".into(),
            share: 1.0,
            traffic: 0.4,
        }],
        ..RouteView::default()
    };
    h.send(Msg::Views("shop".into(), vec![view], at(121)), at(121));
    // The triage summary answers from the data.
    h.key(KeyCode::Char('T'), at(122));
    let (big, _) = h.render(160, 45);
    for want in [
        "which",
        "2 of 3 watched",
        "how bad",
        "trend",
        "who",
        "since",
        "changed before",
        "likely class",
    ] {
        assert!(big.contains(want), "{want}: {big}");
    }
    insta::assert_snapshot!("triage_80x24", h.render(80, 24).0);
    insta::assert_snapshot!("triage_160x45", big);
    h.key(KeyCode::Esc, at(122));
    // A timeline row opens in full.
    h.view.focus = Pane::Timeline;
    h.key(KeyCode::Up, at(123));
    h.key(KeyCode::Enter, at(123));
    assert!(matches!(h.view.mode, Mode::Event(_)), "{:?}", h.view.mode);
    insta::assert_snapshot!("event_80x24", h.render(80, 24).0);
    insta::assert_snapshot!("event_160x45", h.render(160, 45).0);
    h.key(KeyCode::Esc, at(123));
    // The 5xx playbook's triage tab at 80×24: the last step scrolls into view.
    h.view.focus = Pane::Playbook;
    h.view.phase_tab = incident_commander::core::event::Phase::Triage;
    let n = h.view.visible_steps(&h.state).len();
    for _ in 0..n {
        h.key(KeyCode::Down, at(124));
    }
    let last = h.view.visible_steps(&h.state)[n - 1].text.clone();
    let (small, _) = h.render(80, 24);
    let words: String = last
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(small.contains(&words), "{words}: {small}");
    assert!(small.contains("more ↑"), "{small}");
    insta::assert_snapshot!("steps_scrolled_80x24", small);
    h.key(KeyCode::Enter, at(125));
    let ticked = h.last_event();
    assert_eq!(ticked.kind, Kind::StepDone, "{ticked:?}");
    // Un-ticked: recorded, and open again.
    h.key(KeyCode::Char('U'), at(126));
    let undone = h.last_event();
    assert_eq!(undone.kind, Kind::StepUndone, "{undone:?}");
    // Down past the last step reads on: the answers under the steps come into view.
    for _ in 0..40 {
        h.key(KeyCode::Down, at(127));
    }
    let (small, _) = h.render(80, 24);
    assert!(small.contains("likely class"), "the last answer: {small}");
    assert!(!small.contains("more ↓"), "nothing left below: {small}");
    // Up comes back through them to the steps.
    for _ in 0..40 {
        h.key(KeyCode::Up, at(127));
    }
    assert_eq!(h.view.step_cursor, 0);
    assert!(h.render(80, 24).0.contains("more ↓"));
}

#[test]
fn a_step_an_action_fulfils_ticks_itself_once_its_phase_begins() {
    let mut h = Harness::incident();
    h.key(KeyCode::Char('s'), at(121));
    h.key(KeyCode::Char('2'), at(121));
    let ticked = |h: &Harness| {
        h.state
            .incident
            .as_ref()
            .unwrap()
            .events
            .iter()
            .filter(|e| e.kind == Kind::StepDone && e.data["step"] == "set-severity")
            .count()
    };
    assert_eq!(ticked(&h), 0, "a triage step: not before triage begins");
    // Into triage (detect's required steps are open: p twice overrides).
    h.key(KeyCode::Char('p'), at(122));
    h.key(KeyCode::Char('p'), at(122));
    assert_eq!(ticked(&h), 1, "ticked itself on entering triage");
    let e = h
        .state
        .incident
        .as_ref()
        .unwrap()
        .events
        .iter()
        .find(|e| e.kind == Kind::StepDone && e.data["step"] == "set-severity")
        .unwrap()
        .clone();
    assert!(
        e.msg.contains("ticked itself: a severity is set"),
        "{}",
        e.msg
    );
    // Un-ticked by hand, it stays open: the engine does not tick it again.
    h.view.focus = Pane::Playbook;
    h.view.phase_tab = incident_commander::core::event::Phase::Triage;
    h.view.step_cursor = h
        .view
        .visible_steps(&h.state)
        .iter()
        .position(|s| s.id == "set-severity")
        .unwrap();
    h.key(KeyCode::Char('U'), at(123));
    h.key(KeyCode::Char('s'), at(124));
    h.key(KeyCode::Char('1'), at(124));
    assert_eq!(ticked(&h), 1);
    assert_eq!(
        h.state.step_state(
            incident_commander::core::event::Phase::Triage,
            "set-severity"
        ),
        None
    );
}

#[test]
fn phases_refuse_with_open_steps_and_record_an_override() {
    let mut h = Harness::incident();
    h.key(KeyCode::Char('p'), at(130));
    assert!(
        h.state
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("press p again")
    );
    assert_eq!(
        h.state.incident.as_ref().unwrap().state.phase,
        Some(incident_commander::core::event::Phase::Detect)
    );
    h.key(KeyCode::Char('p'), at(131));
    let last = h.last_event();
    assert_eq!(last.kind, Kind::PhaseEntered);
    assert_eq!(last.data["override"], true);
    // Resolving while a signal fires is refused, then overridden and recorded.
    h.key(KeyCode::Char('R'), at(132));
    assert!(
        h.state
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("still firing")
    );
    h.key(KeyCode::Char('R'), at(133));
    // Resolved is not closed: the incident moves to learn and stays open.
    assert!(h.state.incident_open());
    let events = &h.state.incident.as_ref().unwrap().events;
    let resolved = events
        .iter()
        .rev()
        .find(|e| e.kind == Kind::Lifecycle)
        .unwrap();
    assert_eq!(resolved.data["stage"], "resolved");
    assert_eq!(resolved.data["override"], true);
    assert_eq!(
        h.state.incident.as_ref().unwrap().state.phase,
        Some(incident_commander::core::event::Phase::Learn)
    );
    // Closing asks once (no root cause, no action items), then closes, recorded.
    h.key(KeyCode::Char('C'), at(134));
    assert!(h.state.incident_open());
    assert!(
        h.state
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("not closed: no root cause")
    );
    h.key(KeyCode::Char('C'), at(135));
    assert!(!h.state.incident_open());
    let last = h.last_event();
    assert_eq!(
        (last.kind, last.data["override"].clone()),
        (Kind::IncidentClosed, serde_json::json!(true))
    );
}

#[test]
fn a_step_with_a_command_asks_first_and_the_comms_update_is_prefilled() {
    let mut h = Harness::incident();
    h.view.focus = Pane::Playbook;
    h.view.phase_tab = incident_commander::core::event::Phase::Mitigate;
    let idx = h
        .view
        .visible_steps(&h.state)
        .iter()
        .position(|s| s.run.is_some())
        .expect("a mitigation with a command");
    h.view.step_cursor = idx;
    h.key(KeyCode::Enter, at(140));
    assert!(
        matches!(h.view.mode, Mode::Confirm(Confirm::Run { .. })),
        "{:?}",
        h.view.mode
    );
    insta::assert_snapshot!("run_confirm_80x24", h.render(80, 24).0);
    h.key(KeyCode::Char('n'), at(140));
    assert!(
        !h.effects.iter().any(|e| matches!(e, Effect::Run(..))),
        "no means no"
    );
    h.key(KeyCode::Enter, at(141));
    // y before any frame showed the dialog does nothing; after one, it runs.
    h.key(KeyCode::Char('y'), at(141));
    assert!(!h.effects.iter().any(|e| matches!(e, Effect::Run(..))));
    h.render(80, 24);
    h.key(KeyCode::Char('y'), at(141));
    assert!(h.effects.iter().any(|e| matches!(e, Effect::Run(..))));
    h.key(KeyCode::Char('u'), at(142));
    match &h.view.mode {
        Mode::Input(editor) if editor.kind == InputKind::Comms => {
            let text = editor.text();
            assert!(text.contains("What changed"), "{text}");
            assert!(text.contains("payments"), "{text}");
        }
        m => panic!("{m:?}"),
    }
}

#[test]
fn auto_open_off_alerts_without_opening_and_comms_go_to_the_webhook_after_the_timeline() {
    let mut h = Harness::new();
    h.state.auto_open = false;
    for s in 0..20 {
        if s % 2 == 0 {
            h.send(
                Msg::Probe(
                    TargetId::Probe("payments".into()),
                    Box::new(sample(at(s), s < 6)),
                ),
                at(s),
            );
        }
        h.send(Msg::Tick, at(s));
    }
    assert!(h.state.banner.is_some(), "the alert still shows");
    assert!(!h.state.incident_open(), "auto_open: false");
    assert!(!h.effects.iter().any(|e| matches!(e, Effect::Open(_))));
    // A status update opens an incident (any incident action does), is written, then sent.
    h.key(KeyCode::Char('n'), at(21));
    h.text("looking", at(21));
    h.key(KeyCode::Enter, at(21));
    assert!(h.state.incident_open());
    h.key(KeyCode::Char('u'), at(22));
    h.key(KeyCode::Enter, at(22));
    let append = h
        .effects
        .iter()
        .position(|e| matches!(e, Effect::Append(d) if d.kind == Kind::CommsUpdate))
        .expect("the update is appended");
    let send = h
        .effects
        .iter()
        .position(|e| matches!(e, Effect::SendComms(_)))
        .expect("and sent");
    assert!(append < send);
}

#[test]
fn text_from_the_network_cannot_drive_the_terminal() {
    let mut h = Harness::new();
    let hostile = "/api/\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31mred\r\u{8}";
    for s in 0..3 {
        let view = RouteView {
            route: hostile.into(),
            requests: 10.0,
            errors_5xx: 0.0,
            errors_4xx: 0.0,
            rate: Some(10.0),
            span: None,
            p50: Some(0.01),
            p95: Some(0.02),
            p99: Some(0.03),
            by_label: Vec::new(),
        };
        h.send(Msg::Views("shop\u{1b}[H".into(), vec![view], at(s)), at(s));
        h.send(Msg::Tick, at(s));
    }
    // A bidi override and a newline: ratatui drops control characters but
    // would pass the override on to the terminal.
    let view = RouteView {
        route: "\u{202e}/x\nRESOLVED".into(),
        requests: 10.0,
        rate: Some(10.0),
        span: None,
        ..RouteView::default()
    };
    h.send(Msg::Views("api".into(), vec![view], at(3)), at(3));
    h.send(Msg::Tick, at(3));
    for (w, hgt) in [(80, 24), (160, 45)] {
        let (text, buf) = h.render(w, hgt);
        assert!(text.contains("/api/"), "{text}");
        assert!(text.contains("shop\\u001b[H"), "escaped: {text}");
        assert!(text.contains("api \\u202e/x\\nRESOL"), "escaped: {text}");
        for cell in buf.content() {
            assert!(
                !cell
                    .symbol()
                    .chars()
                    .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
                "a control character or bidi override reached the screen: {:?}\n{text}",
                cell.symbol()
            );
        }
    }
}

/// The attacker's finding: `{target}` came from the alphabetically first signal.
/// It is the one that opened the incident, or the row a responder makes primary
/// with `t`; the dialog says which and why.
#[test]
fn the_target_of_a_command_is_the_incident_primary_target() {
    let mut h = Harness::new();
    h.state.targets.push(Target::new(
        "shop /v1/redirect-pct",
        SourceKind::Metrics,
        None,
    ));
    h.state
        .targets
        .push(Target::new("shop /v1/json-echo", SourceKind::Metrics, None));
    let fire = |target: &str, at: DateTime<Utc>| Signal {
        kind: DetectorKind::ErrorRate,
        target: target.into(),
        state: SignalState::Fired,
        severity: SeverityHint::Critical,
        evidence: "5% errors".into(),
        started: at,
        at,
        class: Some(FailureClass::Http5xx),
        ended: None,
    };
    h.send(Msg::Signal(fire("shop /v1/redirect-pct", at(10))), at(10));
    h.send(Msg::Signal(fire("shop /v1/json-echo", at(11))), at(11));
    h.input(Input::Resize(160, 45), at(12));
    assert_eq!(h.view.mode, Mode::Triage, "the summary shows on opening");
    h.key(KeyCode::Esc, at(12));
    let target = h.state.primary_target().unwrap();
    assert_eq!(
        target.0, "shop /v1/redirect-pct",
        "not the alphabetically first"
    );
    assert_eq!(target.1, "the signal that opened the incident");
    let v = h.state.command_values();
    assert_eq!(
        (v.get("target"), v.get("route")),
        ("v1-redirect-pct", "/v1/redirect-pct")
    );

    // Open a step with a command: the dialog names the target and why.
    h.view.focus = Pane::Playbook;
    h.view.phase_tab = incident_commander::core::event::Phase::Mitigate;
    h.view.step_cursor = h
        .view
        .visible_steps(&h.state)
        .iter()
        .position(|s| s.run.as_deref().is_some_and(|r| r.contains("{target}")))
        .expect("a mitigation using {target}");
    h.key(KeyCode::Enter, at(13));
    let screen = h.render(160, 45).0;
    assert!(
        screen.contains("target  shop /v1/redirect-pct  (the signal that opened the incident)"),
        "{screen}"
    );
    assert!(screen.contains("IC_TARGET = 'v1-redirect-pct'"), "{screen}");
    h.key(KeyCode::Char('y'), at(14));
    let run = h
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Run(r) => Some(r.clone()),
            _ => None,
        })
        .expect("y ran it");
    assert!(
        run.env
            .contains(&("IC_TARGET".into(), "v1-redirect-pct".into()))
    );
    assert_eq!(run.started.data["target"], "shop /v1/redirect-pct");
    assert_eq!(run.started.kind, Kind::CommandStarted);
    h.send(Msg::CommandNotRun(run.step.clone(), "test".into()), at(15));

    // The responder makes another row primary: recorded, and the dialog follows.
    h.view.focus = Pane::Endpoints;
    let row = h
        .view
        .order(&h.state)
        .iter()
        .position(|i| h.state.targets[*i].name == "shop /v1/json-echo")
        .unwrap();
    h.view.selected = row;
    h.key(KeyCode::Char('t'), at(16));
    let last = h.last_event();
    assert_eq!(
        (last.kind, last.actor.as_str()),
        (Kind::TargetSelected, "ann")
    );
    let target = h.state.primary_target().unwrap();
    assert_eq!(target.0, "shop /v1/json-echo");
    assert!(
        target.1.starts_with("chosen by ann at 03:00:16"),
        "{}",
        target.1
    );
}

/// A paste bigger than a timeline line may hold is cut with a word, never
/// acknowledged and then skipped by every reader.
#[test]
fn a_paste_over_the_line_limit_is_cut_and_what_is_written_can_be_read() {
    let mut h = Harness::incident();
    h.key(KeyCode::Char('n'), at(130));
    let huge = "z".repeat(incident_commander::core::event::MAX_LINE + 5000);
    h.input(Input::Paste(huge), at(130));
    let msg = h.state.message.clone().unwrap_or_default();
    assert!(msg.contains("the paste was cut to fit"), "{msg}");
    h.key(KeyCode::Enter, at(131));
    let note = h
        .effects
        .iter()
        .rev()
        .find_map(|e| match e {
            Effect::Append(d) if d.kind == Kind::Note => Some(d.clone()),
            _ => None,
        })
        .expect("the cut note is written");
    assert!(note.fits_a_line().is_ok(), "it fits a line readers accept");
}

/// Kinds of the events on the incident's timeline, with their actors.
fn written(h: &Harness) -> Vec<(Kind, String)> {
    h.state
        .incident
        .as_ref()
        .map(|i| i.events.iter().map(|e| (e.kind, e.actor.clone())).collect())
        .unwrap_or_default()
}

#[test]
fn a_burst_of_signals_is_one_incident_one_playbook_one_notification() {
    let mut h = Harness::new();
    // Both endpoints and a route fail in the same seconds: a full outage.
    for s in 0..12 {
        let at = at(s);
        let ok = s < 4;
        h.send(
            Msg::Probe(TargetId::Probe("payments".into()), Box::new(sample(at, ok))),
            at,
        );
        h.send(
            Msg::Probe(TargetId::Probe("search".into()), Box::new(sample(at, ok))),
            at,
        );
        let view = RouteView {
            route: "/api/payments".into(),
            requests: 20.0,
            errors_5xx: if ok { 0.0 } else { 20.0 },
            errors_4xx: 0.0,
            rate: Some(20.0),
            span: None,
            p50: Some(0.045),
            p95: Some(0.120),
            p99: Some(0.200),
            by_label: Vec::new(),
        };
        h.send(Msg::Views("shop".into(), vec![view], at), at);
        h.send(Msg::Tick, at);
    }
    let kinds = written(&h);
    let count = |k: Kind| kinds.iter().filter(|(x, _)| *x == k).count();
    assert_eq!(count(Kind::IncidentOpened), 1, "{kinds:?}");
    assert!(count(Kind::SignalFired) >= 3, "{kinds:?}");
    assert_eq!(count(Kind::PlaybookSelected), 1, "{kinds:?}");
    let sent = h
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::Notify(_, true) | Effect::Page(_)))
        .count();
    let reported = h
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::Notify(s, _) if s.state == SignalState::Fired))
        .count();
    assert_eq!(sent, 1, "one notification for the burst");
    assert_eq!(reported, count(Kind::SignalFired), "every signal reported");
}

#[test]
fn a_later_stronger_signal_proposes_its_playbook_and_b_switches() {
    let mut h = Harness::incident();
    assert_eq!(
        h.state.playbook().map(|p| p.id.as_str()),
        Some("http-5xx-spike")
    );
    let surge = Signal {
        kind: DetectorKind::TrafficSurge,
        target: "shop /api/orders".into(),
        state: SignalState::Fired,
        severity: SeverityHint::Warning,
        evidence: "traffic 10× baseline".into(),
        started: at(110),
        at: at(121),
        class: None,
        ended: None,
    };
    h.send(Msg::Signal(surge), at(121));
    let said = h.state.message.clone().unwrap_or_default();
    assert!(
        said.contains("retry-storm") && said.contains("press b"),
        "{said}"
    );
    // The responder decides: nothing switched until b.
    assert_eq!(
        h.state.playbook().map(|p| p.id.as_str()),
        Some("http-5xx-spike")
    );
    h.key(KeyCode::Char('b'), at(122));
    assert_eq!(
        h.state.playbook().map(|p| p.id.as_str()),
        Some("retry-storm")
    );
    let last = written(&h).last().cloned().unwrap();
    assert_eq!(last, (Kind::PlaybookSelected, "ann".to_string()));
}

#[test]
fn acknowledge_records_who_once_and_refusals_clear_with_their_cause() {
    let mut h = Harness::incident();
    h.key(KeyCode::Char('A'), at(121));
    let inc = &h.state.incident.as_ref().unwrap().state;
    assert_eq!(
        inc.stage(incident_commander::core::event::Stage::Acknowledged),
        Some(at(121))
    );
    assert_eq!(written(&h).last().unwrap().1, "ann");
    h.key(KeyCode::Char('A'), at(122));
    assert!(
        h.state
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("already acknowledged")
    );
    // R refused while payments fires; the refusal goes once nothing fires.
    h.key(KeyCode::Char('R'), at(123));
    assert!(
        h.state
            .message
            .as_deref()
            .unwrap_or_default()
            .starts_with("not resolved: still firing")
    );
    for t in &mut h.state.targets {
        t.firing.clear();
    }
    h.send(Msg::Tick, at(124));
    assert_eq!(h.state.message, None);
    assert_eq!(h.state.pending_override, None);
}

#[test]
fn a_background_error_stays_listed_after_later_messages_and_e_shows_it() {
    let mut h = Harness::new();
    h.send(
        Msg::TaskFailed("scrape of shop stopped: task panicked".into()),
        t0(),
    );
    // A later message takes the footer's one slot; the error is still counted and listed.
    h.send(Msg::Info("snapshot written".into()), t0());
    let (screen, _) = h.render(160, 45);
    assert!(screen.contains("1 error (E)"), "{screen}");
    assert!(!screen.contains("task panicked"), "{screen}");
    h.key(KeyCode::Char('E'), t0());
    let (screen, _) = h.render(160, 45);
    assert!(screen.contains(" Errors "), "{screen}");
    assert!(
        screen.contains("03:00:00 scrape of shop stopped: task panicked"),
        "{screen}"
    );
    h.key(KeyCode::Esc, t0());
    let (screen, _) = h.render(80, 24);
    assert!(!screen.contains(" Errors "), "{screen}");
    // Bounded: the oldest go, and the count says how many there were.
    for i in 0..150 {
        h.send(Msg::TaskFailed(format!("failure {i}")), t0());
    }
    assert_eq!(h.state.errors.len(), incident_commander::app::MAX_ERRORS);
    let (screen, _) = h.render(160, 45);
    assert!(screen.contains("151 errors (E)"), "{screen}");
}

/// Where `needle` first shows in `buf`'s rows `rows`: (column, row).
fn find_in(
    buf: &ratatui::buffer::Buffer,
    needle: &str,
    rows: std::ops::Range<u16>,
) -> Option<(u16, u16)> {
    let w = buf.area.width;
    rows.into_iter().find_map(|y| {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
        line.find(needle)
            .map(|i| (line[..i].chars().count() as u16, y))
    })
}

#[test]
fn the_header_shows_the_environment_badge_next_to_the_service() {
    let mut h = Harness::incident();
    h.state.environment = Some("prod".into());
    for (w, hgt) in [(80, 24), (160, 45)] {
        let (text, buf) = h.render(w, hgt);
        let header: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
        insta::assert_snapshot!(format!("header_env_prod_{w}x{hgt}"), header);
        // Production stands out: white on red, right after the service.
        let (x, y) = find_in(&buf, "env: prod", 0..1).expect("the badge");
        assert_eq!(buf[(x, y)].bg, Color::Red, "{text}");
        assert!(text.starts_with(" shop   env: prod "), "{text}");
        // The phase and the clock still fit: the title gives way.
        let top = text.lines().next().unwrap();
        assert!(
            top.contains("phase: detect") && top.ends_with(" UTC"),
            "{top}"
        );
    }
    // Another environment is named, but not in red.
    h.state.environment = Some("staging".into());
    let (text, buf) = h.render(80, 24);
    let (x, y) = find_in(&buf, "env: staging", 0..1).expect("the badge");
    assert_eq!(buf[(x, y)].bg, Color::Reset, "{text}");
    // None configured: no badge.
    h.state.environment = None;
    let (text, _) = h.render(80, 24);
    assert!(!text.contains("env:"), "{text}");
}

#[test]
fn every_theme_draws_the_same_text_and_its_own_colours() {
    let mut h = Harness::incident();
    h.state.environment = Some("prod".into());
    let (plain, _) = h.render(160, 45);
    // The header's badge, the footer's banner, an endpoint's state.
    let rows = |needle: &str| match needle {
        "ALERT" => 43..45,
        "env: prod" => 0..1,
        _ => 2..43,
    };
    let styled = |h: &mut Harness, name: ThemeName, needle: &str| {
        let (text, buf) = h.render_in(Theme::of(name), 160, 45);
        assert_eq!(
            text, plain,
            "{name}: the theme changes colours, never the text"
        );
        let (x, y) =
            find_in(&buf, needle, rows(needle)).unwrap_or_else(|| panic!("{needle}:\n{text}"));
        buf[(x, y)].style()
    };
    // The ALERT banner and the production badge: red by default, orange
    // (xterm 208) in the colour-blind palette, bright red in high contrast,
    // inverted without colour in mono.
    for needle in ["env: prod", "ALERT"] {
        assert_eq!(
            styled(&mut h, ThemeName::Colorblind, needle).bg,
            Some(Color::Indexed(208))
        );
        assert_eq!(
            styled(&mut h, ThemeName::HighContrast, needle).bg,
            Some(Color::LightRed)
        );
        let mono = styled(&mut h, ThemeName::Mono, needle);
        assert_eq!((mono.fg, mono.bg), (Some(Color::Reset), Some(Color::Reset)));
        assert!(
            mono.add_modifier
                .contains(ratatui::style::Modifier::REVERSED)
        );
    }
    // The failing endpoint's state: orange and underlined, never red, for colour-blind eyes.
    let down = styled(&mut h, ThemeName::Colorblind, "DOWN");
    assert_eq!(down.fg, Some(Color::Indexed(208)));
    assert!(
        down.add_modifier
            .contains(ratatui::style::Modifier::UNDERLINED)
    );
}

#[test]
fn a_silenced_target_shows_silenced_and_the_header_names_the_silence() {
    use incident_commander::core::silence::{Matcher, Origin, Silence};
    let mut h = Harness::new();
    h.send(
        Msg::Silences(vec![Silence {
            id: "s1".into(),
            matcher: Matcher::parse("payments").unwrap(),
            starts: t0(),
            ends: t0() + chrono::Duration::minutes(30),
            reason: "deploy 4.2".into(),
            origin: Origin::Added("ann".into()),
            service: None,
        }]),
        t0(),
    );
    for s in 0..12 {
        let at = at(s);
        h.send(
            Msg::Probe(
                TargetId::Probe("payments".into()),
                Box::new(sample(at, s < 4)),
            ),
            at,
        );
        h.send(Msg::Tick, at);
    }
    assert!(!h.state.incident_open(), "a silenced outage opens nothing");
    for (w, hgt) in [(80, 24), (160, 45)] {
        let (screen, _) = h.render(w, hgt);
        assert!(screen.contains("SILENCED"), "{screen}");
        assert!(
            screen.contains("silence s1 on payments until 03:30 (1 held)"),
            "{screen}"
        );
        assert!(!screen.contains("ALERT"), "{screen}");
    }
}

#[test]
fn overdue_action_items_of_past_incidents_show_in_the_header_and_are_said_once() {
    let mut h = Harness::new();
    h.send(Msg::OverdueActions(3), t0());
    let (screen, _) = h.render(160, 45);
    let header: String = screen.lines().take(2).collect::<Vec<_>>().join("\n");
    assert!(
        header.contains("3 overdue action items (ic actions)"),
        "{header}"
    );
    assert!(
        h.state
            .message
            .as_deref()
            .is_some_and(|m| m.contains("ic actions --overdue")),
        "{:?}",
        h.state.message
    );
    // The same count again says nothing new; none clears the header.
    h.send(Msg::Info("snapshot written".into()), t0());
    h.send(Msg::OverdueActions(3), t0());
    assert_eq!(h.state.message.as_deref(), Some("snapshot written"));
    h.send(Msg::OverdueActions(0), t0());
    let (screen, _) = h.render(80, 24);
    assert!(!screen.contains("overdue action"), "{screen}");
}

#[test]
fn d_fills_in_the_newest_open_action_item_whose_id_the_timeline_shows() {
    let mut h = Harness::incident();
    let mut d = Draft::action_item("ann", "pool alarm", "bob", None, None);
    d.id = Some(
        incident_commander::core::event::EventId::parse("0190c2a4-0000-7000-8000-00000000c0de")
            .unwrap(),
    );
    h.seq += 1;
    let event = d.into_event(h.seq, t0() + Duration::seconds(121));
    h.send(Msg::Appended(event), t0() + Duration::seconds(121));
    let (screen, _) = h.render(160, 45);
    assert!(screen.contains("[0000c0de] pool alarm"), "{screen}");
    h.key(KeyCode::Char('D'), t0() + Duration::seconds(122));
    let (screen, _) = h.render(160, 45);
    assert!(
        screen.contains("Action item done: ID what was done"),
        "{screen}"
    );
    assert!(
        matches!(&h.view.mode, Mode::Input(e) if e.text().starts_with("0000c0de ")),
        "{screen}"
    );
}

#[test]
fn the_team_header_names_who_is_in_who_types_and_a_teammates_running_command() {
    use incident_commander::core::team::{Presence, TeamStatus};
    let mut h = Harness::incident();
    let now = at(130);
    h.send(
        Msg::Do(app::Intent::Submit(
            InputKind::Role,
            "incident-lead ann".into(),
        )),
        now,
    );
    let id = h.state.incident.as_ref().and_then(|i| i.state.id.clone());
    let here = |name: &str, typing: bool| Presence {
        responder: name.into(),
        incident: id.as_ref().map(|i| i.to_string()),
        typing,
        location: None,
        at: now,
    };
    h.send(
        Msg::Team(TeamStatus {
            online: true,
            ..TeamStatus::default()
        }),
        now,
    );
    h.send(
        Msg::Present(vec![here("ann", false), here("bob", true)]),
        now,
    );
    // Bob's command, from his file: shown here, never run here.
    let started = Draft::new(
        Kind::CommandStarted,
        "bob",
        "running: kubectl rollout undo deploy/checkout",
        serde_json::json!({"command": "kubectl rollout undo deploy/checkout", "step": "rollback"}),
    );
    h.seq += 1;
    h.send(Msg::Appended(started.into_event(h.seq, now)), now);
    assert!(
        !h.effects.iter().any(|e| matches!(e, Effect::Run(_))),
        "nothing runs on another's machine"
    );
    let (screen, _) = h.render(160, 45);
    assert!(screen.contains("in: ann (lead) · bob ✎"), "{screen}");
    assert!(
        screen.contains("bob is running `kubectl rollout undo deploy/checkout`"),
        "{screen}"
    );
    // Too narrow for the names: how many are in.
    let (narrow, _) = h.render(80, 24);
    assert!(
        narrow.lines().nth(1).is_some_and(|l| l.contains("2 in")),
        "{narrow}"
    );
    // Offline: said so, with what waits to be sent.
    h.send(
        Msg::Team(TeamStatus {
            online: false,
            offline_since: Some(now),
            unsent: 4,
            ..TeamStatus::default()
        }),
        now,
    );
    let (screen, _) = h.render(160, 45);
    assert!(
        screen.contains(&format!(
            "team: offline since {}, 4 events to send",
            now.format("%H:%M")
        )),
        "{screen}"
    );
}
