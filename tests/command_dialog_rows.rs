//! Adversary tests for the command dialog (`tui::confirm`, drawn by
//! `tui::overlay`): "y is refused until every row has been on screen" and
//! "every line wrapped, never cut". Each test reads the dialog the way a
//! responder does — draw a frame, look, press ↓ — into ratatui's
//! `TestBackend`, and checks that whatever `y` accepts was really drawn.

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use incident_commander::app::run::RunPlan;
use incident_commander::app::targets::{SourceKind, Target};
use incident_commander::app::{self, Effect, State};
use incident_commander::core::command::{Command, Values};
use incident_commander::core::detect::Settings;
use incident_commander::core::event::Phase;
use incident_commander::core::playbook;
use incident_commander::tui::confirm::{Dialog, Row};
use incident_commander::tui::input::Input;
use incident_commander::tui::view::{Confirm, Mode, View};
use incident_commander::tui::{self, keys, theme::Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Duration;

/// The view's key for a plain press of `code`, as the terminal reports it.
fn press(code: KeyCode) -> incident_commander::tui::input::Key {
    incident_commander::tui::input::key(KeyEvent::new(code, KeyModifiers::NONE))
        .expect("a key the engine knows")
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 0).unwrap()
}

/// The engine and the view.
struct Ui {
    engine: State,
    view: View,
}

/// A view on a `size` screen with a dialog open for `template`, `{target}` a route.
fn with_dialog(size: (u16, u16), template: &str, route: &str) -> Ui {
    let engine = State::new(
        "shop",
        "ann",
        Settings::default(),
        vec![Target::new("payments", SourceKind::Probe, None)],
        playbook::bundled(),
        "/var/lib/ic/incidents".into(),
        t0(),
    );
    let mut view = View::new();
    view.size = size;
    let name = format!("shop {route}");
    let mut v = Values::default();
    v.set_target(&name, true).set("service", "shop");
    let d = Dialog::new(
        RunPlan {
            step: "rollback".into(),
            title: "Roll back the last deploy".into(),
            phase: Phase::Mitigate,
            command: Command::parse(template).unwrap(),
            values: v,
            target: Some((name, "the signal that opened the incident".into())),
            timeout: Duration::from_secs(60),
        },
        size,
    );
    view.mode = Mode::Confirm(Confirm::Run(Box::new(d)));
    Ui { engine, view }
}

fn dialog(s: &Ui) -> &Dialog {
    match &s.view.mode {
        Mode::Confirm(Confirm::Run(d)) => d,
        m => panic!("no dialog: {m:?}"),
    }
}

/// A key through the view, and what the engine does with what it asks.
fn key(s: &mut Ui, code: KeyCode) -> Vec<Effect> {
    keys::handle(&mut s.view, &s.engine, Input::Key(press(code)))
        .into_iter()
        .flat_map(|m| app::update(&mut s.engine, m, t0()))
        .collect()
}

/// One frame as the terminal shows it, a string per screen row.
fn draw(s: &mut Ui) -> Vec<String> {
    let (w, h) = s.view.size;
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| {
        tui::draw(
            f,
            &s.engine,
            &mut s.view,
            Theme::of(incident_commander::tui::theme::ThemeName::Mono),
        )
    })
    .unwrap();
    let buf = term.backend().buffer().clone();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect())
        .collect()
}

fn text(row: &Row) -> String {
    row.iter().map(|(t, _)| t.as_str()).collect()
}

/// Reads the dialog to its end the honest way — a frame, then ↓ — until `y`
/// would be accepted (or 500 presses); returns every screen row drawn.
fn read_to_the_end(s: &mut Ui) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..500 {
        seen.extend(draw(s));
        if dialog(s).may_run() {
            break;
        }
        key(s, KeyCode::Down);
    }
    seen
}

/// The dialog's body rows that `y` counts as read but no frame ever showed
/// whole; none when `y` is never accepted (a screen too small to show it).
fn never_shown(s: &mut Ui) -> Vec<String> {
    let drawn = read_to_the_end(s);
    if !dialog(s).may_run() {
        return Vec::new();
    }
    dialog(s)
        .rows(s.view.size)
        .iter()
        .map(text)
        .filter(|row| !drawn.iter().any(|line| line.contains(row.trim_end())))
        .collect()
}

const FIVE_LINES: &str =
    "echo one\necho two\necho three\nkubectl -n {service} rollout undo deploy/{target}\necho five";

/// On a screen three rows high the box has room for its summary only: no body
/// row is ever drawn, yet each ↓ marks one "seen" and `y` is then accepted.
#[test]
fn on_a_screen_too_low_for_the_body_y_is_not_accepted_unread() {
    let mut failures = Vec::new();
    for size in [(60, 3), (80, 2), (40, 1)] {
        let mut s = with_dialog(size, FIVE_LINES, "/api/payments");
        let missing = never_shown(&mut s);
        if !missing.is_empty() {
            failures.push(format!(
                "at {}×{}, y is accepted though these rows were never on screen: {missing:#?}",
                size.0, size.1
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Rows are wrapped to at least "indent + 12" characters, wider than the box
/// on a narrow screen: the view cuts what does not fit. At 20 columns the
/// target row loses two characters a row; at 16 the command's own text does.
#[test]
fn on_a_narrow_screen_no_row_is_cut() {
    let long_route = "/api/v1/payments/refunds-and-chargebacks";
    let mut failures = Vec::new();
    for size in [(20, 40), (16, 40), (12, 40)] {
        let mut s = with_dialog(size, FIVE_LINES, long_route);
        let missing = never_shown(&mut s);
        if !missing.is_empty() {
            failures.push(format!(
                "at {}×{}, y is accepted though these rows were cut on screen: {missing:#?}",
                size.0, size.1
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The dialog marks rows "seen" when it is opened or scrolled, not when a frame
/// shows them. The view draws at most every 33 ms and handles a whole batch of
/// keys in between, so `Enter y` (or `Space Space … y`) typed or sent in one go
/// runs a command whose rows never reached the terminal.
#[test]
fn y_is_refused_until_a_frame_has_shown_the_rows() {
    let mut s = with_dialog((80, 24), FIVE_LINES, "/api/payments");
    // No frame drawn yet: nothing of the dialog has been on screen.
    let fx = key(&mut s, KeyCode::Char('y'));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Run(..))),
        "y ran the command before the dialog was ever drawn"
    );

    // A long command, paged through without a frame in between.
    let long: String = (1..=60).map(|i| format!("echo line {i}\n")).collect();
    let mut s = with_dialog((80, 24), &long, "/api/payments");
    draw(&mut s);
    for _ in 0..10 {
        key(&mut s, KeyCode::PageDown);
    }
    let fx = key(&mut s, KeyCode::Char('y'));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Run(..))),
        "y ran a 61-line command of which one page was ever drawn"
    );
}

/// The reading harness itself: at the usual sizes every row is drawn whole
/// before `y` is accepted (this one passes, so the failures above are the dialog's).
#[test]
fn control_at_usual_sizes_every_row_is_drawn_before_y() {
    let long: String = (1..=60).map(|i| format!("echo line {i}\n")).collect();
    for size in [(80, 24), (160, 45), (40, 12)] {
        for template in [FIVE_LINES, long.as_str()] {
            let mut s = with_dialog(size, template, "/api/v1/payments/refunds-and-chargebacks");
            let missing = never_shown(&mut s);
            assert!(missing.is_empty(), "{size:?}: {missing:#?}");
            assert!(
                dialog(&s).may_run(),
                "{size:?}: y is accepted once all was read"
            );
        }
    }
}
