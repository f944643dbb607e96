//! Keys, mouse and paste, handled: what changes on screen only (focus,
//! cursors, modes, input lines, the dialog's scroll) stays in the view; what
//! the responder asks of the incident leaves as the engine's messages
//! (`Msg::Do(Intent)`). The keymap table resolves normal-mode keys, with the
//! conditions it holds.

use super::confirm::Dialog;
use super::editor::Edit;
use super::input::{Input, Key, Mouse};
use super::keymap::{self, Action, Resolved};
use super::view::{Confirm, Mode, Pane, View};
use crate::app::{INPUT_LIMIT, Intent, Msg, StaleAnswer, State, comms_draft, triage};
use crate::core::event::{Kind, Phase, Severity};
use crate::core::grammar::{ChangeKind, InputKind};

/// Handles one input against the engine's current state; the messages the
/// engine must hear, in order.
pub fn handle(view: &mut View, engine: &State, input: Input) -> Vec<Msg> {
    view.dirty = true;
    let mut out = Vec::new();
    match input {
        Input::Key(key) => on_key(view, engine, key, &mut out),
        Input::Mouse(m) => on_mouse(view, engine, m),
        Input::Paste(text) => paste(view, &text, &mut out),
        Input::Resize(w, h) => {
            view.size = (w, h);
            if let Mode::Confirm(Confirm::Run(d)) = &mut view.mode {
                d.resized((w, h));
            }
        }
    }
    if let Some(sel) = view.selection_changed(engine) {
        out.push(Msg::Do(Intent::Select(sel)));
    }
    out
}

fn paste(view: &mut View, text: &str, out: &mut Vec<Msg>) {
    let Mode::Input(editor) = &mut view.mode else {
        return;
    };
    // Bounded: an entry never holds more than a timeline line may.
    let dropped = editor.paste(text);
    if dropped > 0 {
        out.push(Msg::Info(format!(
            "the paste was cut to fit: an entry holds at most {INPUT_LIMIT} bytes ({dropped} of the paste dropped)"
        )));
    }
}

fn on_mouse(view: &mut View, engine: &State, m: Mouse) {
    match m {
        Mouse::Click { column, row } => {
            let inside = |a: (u16, u16, u16, u16)| {
                column >= a.0 && column < a.0 + a.2 && row >= a.1 && row < a.1 + a.3
            };
            if inside(view.areas.endpoints) {
                view.focus = Pane::Endpoints;
                let row = (row - view.areas.endpoints.1) as usize + view.offsets.endpoints.get();
                if row < engine.targets.len() {
                    view.selected = row;
                }
            } else if inside(view.areas.playbook) {
                view.focus = Pane::Playbook;
                let row = (row - view.areas.playbook.1) as usize;
                view.step_cursor = row.saturating_sub(1);
            } else if inside(view.areas.timeline) {
                view.focus = Pane::Timeline;
            }
        }
        Mouse::ScrollUp => move_cursor(view, engine, -1),
        Mouse::ScrollDown => move_cursor(view, engine, 1),
    }
}

fn move_cursor(view: &mut View, engine: &State, d: i64) {
    let step = |v: usize, max: usize| -> usize {
        (v as i64 + d).clamp(0, max.saturating_sub(1) as i64) as usize
    };
    match view.focus {
        Pane::Endpoints => view.selected = step(view.selected, engine.targets.len()),
        // Past the last step, Down reads on (the triage answers, the ledger);
        // Up comes back through them first.
        Pane::Playbook => {
            let n = view.visible_steps(engine).len();
            let last = view.step_cursor + 1 >= n;
            if d > 0 && last {
                view.read_on = (view.read_on + 1).min(view.offsets.below_steps.get());
            } else if d < 0 && view.read_on > 0 {
                view.read_on -= 1;
            } else {
                view.read_on = 0;
                view.step_cursor = step(view.step_cursor, n);
            }
        }
        Pane::Timeline => {
            // Rows count from the newest (0): down moves toward it.
            let n = super::timeline::listed_indices(engine, view.filter).len();
            view.scroll = (view.scroll as i64 - d).clamp(0, n.saturating_sub(1) as i64) as usize;
        }
    }
}

fn on_key(view: &mut View, engine: &State, key: Key, out: &mut Vec<Msg>) {
    let mode = std::mem::replace(&mut view.mode, Mode::Normal);
    match mode {
        Mode::Errors | Mode::Event(_) => {}
        Mode::Help(filter) => on_help_key(view, filter, key),
        Mode::Palette(query, cursor) => on_palette_key(view, engine, query, cursor, key, out),
        // Closing the summary records what it showed; a key other than the
        // overlay's own does what it does on the screen below, so the summary
        // shown when an incident opens never eats the responder's first key.
        Mode::Triage => {
            ask(out, Intent::RecordTriage);
            match key {
                Key::Char('u') => view.edit(InputKind::Comms, &triage::summary(engine).text()),
                Key::Esc | Key::Char('T') => {}
                _ => on_normal_key(view, engine, key, out),
            }
        }
        Mode::Input(mut editor) => {
            let history = view.history_of(editor.kind);
            match editor.key(key, &history) {
                Edit::Cancel => {}
                Edit::Submit(text) => {
                    view.remember(editor.kind, &text);
                    out.push(Msg::Do(Intent::Submit(editor.kind, text)));
                }
                Edit::TooLong => {
                    out.push(Msg::Info(format!(
                        "an entry holds at most {INPUT_LIMIT} bytes: that key would go past it"
                    )));
                    view.mode = Mode::Input(editor);
                }
                Edit::Changed => view.mode = Mode::Input(editor),
            }
        }
        Mode::Severity(cur) => {
            let pick = |i: usize| Msg::Do(Intent::Severity(Severity::ALL[i.min(3)]));
            match key {
                Key::Esc => {}
                Key::Up | Key::Char('k') => view.mode = Mode::Severity(cur.saturating_sub(1)),
                Key::Down | Key::Char('j') => view.mode = Mode::Severity((cur + 1).min(3)),
                Key::Char(c @ '1'..='4') => out.push(pick((c as u8 - b'1') as usize)),
                Key::Enter => out.push(pick(cur)),
                _ => view.mode = Mode::Severity(cur),
            }
        }
        Mode::Incidents(cur) => {
            let last = engine.incident_list.len().saturating_sub(1);
            match key {
                Key::Esc => {}
                Key::Up | Key::Char('k') => view.mode = Mode::Incidents(cur.saturating_sub(1)),
                Key::Down | Key::Char('j') => view.mode = Mode::Incidents((cur + 1).min(last)),
                Key::Enter => {
                    if let Some(row) = engine.incident_list.get(cur) {
                        out.push(Msg::Do(Intent::Switch(row.path.clone())));
                    }
                }
                _ => view.mode = Mode::Incidents(cur),
            }
        }
        Mode::Confirm(Confirm::Run(dialog)) => on_dialog_key(view, *dialog, key, out),
        Mode::Confirm(Confirm::Stale) => {
            let answer = match key {
                Key::Char('r' | 'y') => StaleAnswer::Resume,
                Key::Char('c') => StaleAnswer::Close,
                _ => StaleAnswer::Leave,
            };
            out.push(Msg::Do(Intent::Stale(answer)));
        }
        Mode::Confirm(_) => {
            if matches!(key, Key::Char('y') | Key::Char('Y')) {
                out.push(Msg::Do(Intent::Quit));
            } else {
                out.push(Msg::Info("cancelled".into()));
            }
        }
        Mode::Normal => on_normal_key(view, engine, key, out),
    }
}

/// Typing filters the help; Esc, Enter (or `?` with nothing typed) closes it.
fn on_help_key(view: &mut View, mut filter: String, key: Key) {
    match key {
        Key::Esc | Key::Enter | Key::F(1) => return,
        Key::Char('?') if filter.is_empty() => return,
        Key::Char(c) if !crate::core::text::is_unsafe(c) && filter.len() < 64 => filter.push(c),
        Key::Backspace => {
            filter.pop();
        }
        Key::Ctrl('u') => filter.clear(),
        _ => {}
    }
    view.mode = Mode::Help(filter);
}

/// Typing filters the palette, ↑↓ pick, Enter runs the action (checked
/// against where it applies, as its key would be), Esc closes.
fn on_palette_key(
    view: &mut View,
    engine: &State,
    mut query: String,
    mut cursor: usize,
    key: Key,
    out: &mut Vec<Msg>,
) {
    let entries = keymap::palette(&query);
    match key {
        Key::Esc => return,
        Key::Enter => {
            if let Some(e) = entries.get(cursor) {
                view.last_action = None;
                if allowed(engine, e.when) {
                    on_action(view, engine, e.action, false, out);
                } else {
                    out.push(Msg::Info(format!(
                        "{}: no incident is open (a signal, a note or a severity opens one)",
                        e.name
                    )));
                }
            }
            return;
        }
        Key::Up | Key::Ctrl('p') | Key::BackTab => cursor = cursor.saturating_sub(1),
        Key::Down | Key::Ctrl('n') | Key::Tab => {
            cursor = (cursor + 1).min(entries.len().saturating_sub(1));
        }
        Key::Backspace => {
            query.pop();
            cursor = 0;
        }
        Key::Ctrl('u') => {
            query.clear();
            cursor = 0;
        }
        Key::Char(c) if !crate::core::text::is_unsafe(c) && query.len() < 64 => {
            query.push(c);
            cursor = 0;
        }
        _ => {}
    }
    view.mode = Mode::Palette(query, cursor);
}

/// Whether an action that applies `when` may run now.
fn allowed(engine: &State, when: keymap::When) -> bool {
    match when {
        keymap::When::Always => true,
        keymap::When::Incident => engine.incident_open(),
        keymap::When::Timeline => engine.incident_open() || engine.timeline_path.is_some(),
    }
}

fn on_dialog_key(view: &mut View, mut dialog: Dialog, key: Key, out: &mut Vec<Msg>) {
    let page = dialog.page(view.size) as i64;
    let scroll = match key {
        Key::Down | Key::Char('j') => Some(1),
        Key::Up | Key::Char('k') => Some(-1),
        Key::PageDown | Key::Char(' ') => Some(page),
        Key::PageUp => Some(-page),
        _ => None,
    };
    if let Some(d) = scroll {
        dialog.notice = None;
        dialog.scroll_by(d, view.size);
        view.mode = Mode::Confirm(Confirm::Run(Box::new(dialog)));
        return;
    }
    match key {
        Key::Char('y') | Key::Char('Y') => {
            if let Some(why) = dialog.why_not(view.size) {
                dialog.notice = Some(why);
                view.mode = Mode::Confirm(Confirm::Run(Box::new(dialog)));
            } else {
                out.push(Msg::Do(Intent::Run(Box::new(dialog.plan))));
            }
        }
        Key::Char('n') | Key::Char('N') | Key::Esc | Key::Char('q') => {
            out.push(Msg::Info("cancelled: the command did not run".into()));
        }
        _ => {
            dialog.notice =
                Some("y runs the command · n or Esc cancels · ↑↓ PgUp PgDn scroll".into());
            view.mode = Mode::Confirm(Confirm::Run(Box::new(dialog)));
        }
    }
}

fn on_normal_key(view: &mut View, engine: &State, key: Key, out: &mut Vec<Msg>) {
    if key == Key::Esc {
        view.last_action = None;
        out.push(Msg::Do(Intent::Dismiss));
        return;
    }
    let ctx = keymap::Context {
        incident_open: engine.incident_open(),
        has_timeline: engine.timeline_path.is_some(),
    };
    let action = match keymap::resolve(key, ctx) {
        None => return,
        Some(Resolved::Do(action)) => action,
        Some(Resolved::NeedsIncident(_)) => {
            out.push(Msg::Info(
                "no incident is open: a signal, a note or a severity opens one".into(),
            ));
            return;
        }
    };
    let again = view.last_action.replace(action) == Some(action);
    on_action(view, engine, action, again, out);
}

fn on_action(view: &mut View, engine: &State, action: Action, again: bool, out: &mut Vec<Msg>) {
    match action {
        Action::Help => view.mode = Mode::Help(String::new()),
        Action::Palette => view.mode = Mode::Palette(String::new(), 0),
        Action::Triage => view.mode = Mode::Triage,
        Action::Undo => match view.visible_steps(engine).get(view.step_cursor) {
            Some(step) if view.focus == Pane::Playbook => ask(
                out,
                Intent::Undo {
                    phase: view.phase_tab,
                    id: step.id.clone(),
                },
            ),
            _ => out.push(Msg::Info(
                "select a ticked step in the playbook pane (Tab) to un-tick it".into(),
            )),
        },
        Action::Errors => view.mode = Mode::Errors,
        Action::Quit => {
            view.mode = if engine.running.is_some() {
                Mode::Confirm(Confirm::QuitWhileRunning)
            } else if engine.unsaved > 0 {
                Mode::Confirm(Confirm::QuitUnsaved)
            } else if engine.incident_open() {
                Mode::Confirm(Confirm::Quit)
            } else {
                ask(out, Intent::Quit);
                Mode::Normal
            }
        }
        Action::FocusNext | Action::FocusPrev => {
            let order = [Pane::Endpoints, Pane::Playbook, Pane::Timeline];
            let i = order.iter().position(|p| *p == view.focus).unwrap_or(0);
            let d = if action == Action::FocusNext { 1 } else { 2 };
            view.focus = order[(i + d) % 3];
        }
        Action::Up => move_cursor(view, engine, -1),
        Action::Down => move_cursor(view, engine, 1),
        Action::Left | Action::Right => {
            let i = Phase::ALL
                .iter()
                .position(|p| *p == view.phase_tab)
                .unwrap_or(0);
            let j = if action == Action::Right {
                (i + 1).min(4)
            } else {
                i.saturating_sub(1)
            };
            view.phase_tab = Phase::ALL[j];
            view.step_cursor = 0;
            view.read_on = 0;
        }
        Action::Enter => match view.focus {
            Pane::Playbook => match view.visible_steps(engine).get(view.step_cursor) {
                Some(step) => ask(
                    out,
                    Intent::Step {
                        phase: view.phase_tab,
                        id: step.id.clone(),
                    },
                ),
                None => out.push(Msg::Info("no step here".into())),
            },
            Pane::Endpoints => view.focus = Pane::Playbook,
            Pane::Timeline => match super::timeline::selected_index(engine, view) {
                Some(i) => view.mode = Mode::Event(i),
                None => out.push(Msg::Info("nothing to open: the timeline is empty".into())),
            },
        },
        Action::Note => view.edit(InputKind::Note, ""),
        Action::Hypothesis => view.edit(InputKind::Hypothesis, ""),
        Action::Change => view.edit(InputKind::Change(ChangeKind::Deploy), ""),
        Action::Role => view.edit(InputKind::Role, ""),
        Action::ActionItem => view.edit(InputKind::ActionItem, ""),
        Action::ActionDone => view.edit(InputKind::ActionDone, &newest_open_item(engine)),
        Action::Comms => view.edit(InputKind::Comms, &comms_draft(engine)),
        Action::Severity => view.mode = Mode::Severity(1),
        Action::Incidents => out.push(Msg::Do(Intent::ListIncidents)),
        Action::Sort => view.sort = (view.sort + 1) % 3,
        Action::Filter => {
            let kinds = [
                None,
                Some(Kind::SignalFired),
                Some(Kind::Note),
                Some(Kind::StepDone),
                Some(Kind::CommandStarted),
                Some(Kind::CommsUpdate),
                Some(Kind::MetricSnapshot),
            ];
            let i = kinds.iter().position(|k| *k == view.filter).unwrap_or(0);
            view.filter = kinds[(i + 1) % kinds.len()];
        }
        Action::Snapshot => ask(out, Intent::Snapshot),
        Action::PrimaryTarget => match view.selected_target(engine) {
            Some(t) => ask(out, Intent::PrimaryTarget(t.name.clone())),
            None => out.push(Msg::Info("no row is selected".into())),
        },
        Action::NextPhase => ask(out, Intent::NextPhase { again }),
        Action::Resolve => ask(out, Intent::Resolve { again }),
        Action::Close => ask(out, Intent::Close { again }),
        Action::Acknowledge => ask(out, Intent::Acknowledge),
        Action::SwitchPlaybook => ask(out, Intent::SwitchPlaybook),
        Action::Postmortem => ask(out, Intent::Postmortem),
    }
}

fn ask(out: &mut Vec<Msg>, intent: Intent) {
    out.push(Msg::Do(intent));
}

/// `D`'s pre-fill: the short id of the incident's newest open action item, and a space.
fn newest_open_item(engine: &crate::app::State) -> String {
    engine
        .incident
        .as_ref()
        .and_then(|i| {
            i.state
                .action_items
                .iter()
                .rev()
                .find(|a| a.done.is_none())
                .and_then(|a| a.short_id())
        })
        .map(|id| format!("{id} "))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Effect, update};
    use crate::core::event::Draft;
    use crate::tui::editor::Editor;

    use crate::app::tests::{engine, t0};

    /// Keys through the view; what the engine answers comes back as notices;
    /// what it appends is written at once (as the runtime would).
    fn press(v: &mut View, e: &mut State, keys: &[Key]) -> Vec<Effect> {
        let mut all = Vec::new();
        for k in keys {
            for m in handle(v, e, Input::Key(*k)) {
                for fx in update(e, m, t0()) {
                    match &fx {
                        Effect::Ui(n) => v.notice(e, n.clone()),
                        Effect::Open(t) if !e.incident_open() => {
                            let n = e.incident.as_ref().map_or(0, |i| i.events.len()) as u64;
                            let ev = Draft::opened("ic", t, "shop").into_event(n + 1, t0());
                            update(e, Msg::Appended(ev), t0());
                        }
                        _ => {}
                    }
                    all.push(fx);
                }
            }
        }
        all
    }

    fn typed(text: &str) -> Vec<Key> {
        text.chars().map(Key::Char).collect()
    }

    #[test]
    fn incident_only_keys_are_refused_by_the_table_with_no_effect() {
        let (mut v, mut e) = (View::new(), engine());
        for k in ['p', 'R', 'A', 'u', 'P'] {
            let fx = press(&mut v, &mut e, &[Key::Char(k)]);
            assert!(
                fx.iter()
                    .all(|f| !matches!(f, Effect::Append(_) | Effect::Open(_))),
                "{k}: {fx:?}"
            );
            let said = e.message.as_deref().unwrap_or_default();
            assert!(said.contains("no incident is open"), "{k}: {said}");
            assert_eq!(v.mode, Mode::Normal);
        }
    }

    #[test]
    fn a_line_the_grammar_refuses_stays_in_the_input_to_be_corrected() {
        let (mut v, mut e) = (View::new(), engine());
        press(&mut v, &mut e, &[Key::Char('s'), Key::Char('2')]);
        assert!(e.incident_open());
        let mut script = vec![Key::Char('a')];
        script.extend(typed("fix the pool due:next-week"));
        script.push(Key::Enter);
        let fx = press(&mut v, &mut e, &script);
        assert!(!fx.iter().any(|f| matches!(f, Effect::Append(_))), "{fx:?}");
        assert_eq!(
            v.mode,
            Mode::Input(Box::new(Editor::new(
                InputKind::ActionItem,
                "fix the pool due:next-week"
            )))
        );
    }

    #[test]
    fn e_lists_the_errors_and_any_key_closes_the_list() {
        let (mut v, mut e) = (View::new(), engine());
        update(&mut e, Msg::TaskFailed("scraper stopped".into()), t0());
        press(&mut v, &mut e, &[Key::Char('E')]);
        assert_eq!(v.mode, Mode::Errors);
        press(&mut v, &mut e, &[Key::Esc]);
        assert_eq!(v.mode, Mode::Normal);
    }

    #[test]
    fn a_second_press_in_a_row_overrides_and_a_key_between_does_not() {
        let (mut v, mut e) = (View::new(), engine());
        press(&mut v, &mut e, &[Key::Char('s'), Key::Char('3')]);
        let resolved = |fx: &[Effect]| {
            fx.iter()
                .any(|f| matches!(f, Effect::Append(d) if d.msg.starts_with("resolved")))
        };
        assert!(!resolved(&press(&mut v, &mut e, &[Key::Char('R')])));
        assert!(!resolved(&press(
            &mut v,
            &mut e,
            &[Key::Char('j'), Key::Char('R')]
        )));
        assert!(resolved(&press(&mut v, &mut e, &[Key::Char('R')])));
    }

    #[test]
    fn the_engine_hears_of_the_selected_row() {
        let (mut v, mut e) = (View::new(), engine());
        press(&mut v, &mut e, &[Key::Char('j')]);
        assert_eq!(e.selected.as_deref(), Some("payments"));
        assert_eq!(
            e.primary_target().map(|t| t.1),
            Some("the selected row".to_string())
        );
    }
}
