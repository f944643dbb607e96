//! The view's own state: which pane has the keyboard, the modes (input line,
//! pickers, questions), cursors and scroll offsets, the sort and filter, the
//! screen's size and the areas the last frame drew (for the mouse). None of
//! it is the incident's: the engine (`app::State`) holds that, and hears of
//! the view only through intents — the selected row among them.

use super::confirm::Dialog;
use super::editor::Editor;
use super::keymap::Action;
use crate::app::{Notice, State};
use crate::core::event::{Kind, Phase};
use crate::core::grammar::InputKind;
use crate::core::playbook;
use std::cell::{Cell, RefCell};

/// Which pane has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    /// The endpoints table.
    Endpoints,
    /// The playbook's steps.
    Playbook,
    /// The timeline.
    Timeline,
}

/// What is being confirmed.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    /// Run a step's command (the dialog shows all of it first).
    Run(Box<Dialog>),
    /// Quit with an incident open.
    Quit,
    /// Quit while a command runs (it is stopped and recorded).
    QuitWhileRunning,
    /// Quit with events not yet on disk (they are printed on exit, not written).
    QuitUnsaved,
    /// An open incident has been quiet for `incidents.stale_after`: resume it,
    /// close it, or leave it (new signals open a new incident).
    Stale,
}

/// The interaction mode.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Keys go to the keymap.
    Normal,
    /// The help overlay, with what has been typed to filter it.
    Help(String),
    /// The command palette: the query typed and the highlighted entry.
    Palette(String, usize),
    /// The triage summary.
    Triage,
    /// One timeline event in full (its index in the incident's events).
    Event(usize),
    /// The list of errors background work reported.
    Errors,
    /// An entry being typed.
    Input(Box<Editor>),
    /// The severity picker, with its cursor.
    Severity(usize),
    /// The incident picker, with its cursor (`State::incident_list`).
    Incidents(usize),
    /// A y/n question.
    Confirm(Confirm),
}

/// Screen areas the last frame drew (for the mouse): (x, y, width, height).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Areas {
    /// The endpoints table body.
    pub endpoints: (u16, u16, u16, u16),
    /// The playbook pane.
    pub playbook: (u16, u16, u16, u16),
    /// The timeline pane.
    pub timeline: (u16, u16, u16, u16),
}

/// The view's state.
#[derive(Debug)]
pub struct View {
    /// Index into the endpoints in display order.
    pub selected: usize,
    /// Sort order (0: worst first, 1: name, 2: rps).
    pub sort: u8,
    /// Focused pane.
    pub focus: Pane,
    /// Mode.
    pub mode: Mode,
    /// Phase tab shown.
    pub phase_tab: Phase,
    /// Cursor in the step list.
    pub step_cursor: usize,
    /// Rows read on past the last step (the triage answers, the ledger).
    pub read_on: usize,
    /// Timeline filter.
    pub filter: Option<Kind>,
    /// The selected timeline row, counted from the newest (0) of those listed.
    pub scroll: usize,
    /// Areas of the last frame.
    pub areas: Areas,
    /// The terminal's size (columns, rows); (0, 0) until known.
    pub size: (u16, u16),
    /// Set when the screen must be redrawn for a change of the view's own.
    pub dirty: bool,
    /// The last action of normal mode: the same one again is a second ask in a row.
    pub(super) last_action: Option<Action>,
    /// The selection the engine was last told.
    told: Option<Option<String>>,
    /// The display order, computed at most once a second (see [`View::order`]).
    order_cache: OrderCache,
    /// Entries saved this session, newest last, for the editor's history.
    history: Vec<(InputKind, String)>,
    /// Where each list's window started in the last frame (see `scroll::follow`).
    pub offsets: Offsets,
}

/// The first row each scrolling list showed in the last frame.
#[derive(Debug, Default)]
pub struct Offsets {
    /// The endpoints table.
    pub endpoints: Cell<usize>,
    /// The playbook pane, in screen rows.
    pub playbook: Cell<usize>,
    /// The timeline.
    pub timeline: Cell<usize>,
    /// How many rows the playbook pane held under its last step (how far Down reads on).
    pub below_steps: Cell<usize>,
}

impl Default for View {
    fn default() -> View {
        View::new()
    }
}

impl View {
    /// A fresh view: endpoints focused, the detect tab shown.
    pub fn new() -> View {
        View {
            selected: 0,
            sort: 0,
            focus: Pane::Endpoints,
            mode: Mode::Normal,
            phase_tab: Phase::Detect,
            step_cursor: 0,
            read_on: 0,
            filter: None,
            scroll: 0,
            areas: Areas::default(),
            size: (0, 0),
            dirty: true,
            last_action: None,
            told: None,
            order_cache: OrderCache::default(),
            history: Vec::new(),
            offsets: Offsets::default(),
        }
    }

    /// A view of an engine that may already hold an incident (resumed, replayed).
    pub fn of(engine: &State) -> View {
        let mut v = View::new();
        if let Some(p) = engine.incident.as_ref().and_then(|i| i.state.phase) {
            v.phase_tab = p;
        }
        v
    }

    /// Target indices in display order, sorted at most once a second: with
    /// thousands of targets, sorting by their rows on every call (several per
    /// frame) took a whole core.
    pub fn order(&self, engine: &State) -> Vec<usize> {
        let key = (self.sort, engine.targets.len(), engine.now.timestamp());
        self.order_cache.get(key, || sorted(engine, self.sort))
    }

    /// The selected target.
    pub fn selected_target<'a>(
        &self,
        engine: &'a State,
    ) -> Option<&'a crate::app::targets::Target> {
        self.order(engine)
            .get(self.selected)
            .and_then(|i| engine.targets.get(*i))
    }

    /// The steps of the shown phase that apply at the current severity.
    pub fn visible_steps<'a>(&self, engine: &'a State) -> Vec<&'a playbook::Step> {
        engine.steps_of(self.phase_tab)
    }

    /// The selected row's name when the engine has not heard of it yet (the
    /// rows re-sort as their health changes, so this is asked after every change).
    pub fn selection_changed(&mut self, engine: &State) -> Option<Option<String>> {
        let now = self.selected_target(engine).map(|t| t.name.clone());
        if self.told.as_ref() == Some(&now) {
            return None;
        }
        self.told = Some(now.clone());
        Some(now)
    }

    /// Opens the editor for `kind`, holding `text`.
    pub fn edit(&mut self, kind: InputKind, text: &str) {
        self.mode = Mode::Input(Box::new(Editor::new(kind, text)));
    }

    /// Earlier entries of `kind` this session, newest first.
    pub fn history_of(&self, kind: InputKind) -> Vec<String> {
        let same = |k: &InputKind| std::mem::discriminant(k) == std::mem::discriminant(&kind);
        let mut seen = Vec::new();
        for (_, text) in self.history.iter().rev().filter(|(k, _)| same(k)) {
            if !seen.contains(text) {
                seen.push(text.clone());
            }
        }
        seen
    }

    /// Remembers a saved entry for the history (bounded).
    pub fn remember(&mut self, kind: InputKind, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        self.history.push((kind, text.to_string()));
        if self.history.len() > 500 {
            self.history.remove(0);
        }
    }

    /// What the engine's notice changes on screen.
    pub fn notice(&mut self, engine: &State, n: Notice) {
        self.dirty = true;
        match n {
            Notice::OpenedBySignal => {
                self.focus = Pane::Playbook;
                if self.mode == Mode::Normal {
                    self.mode = Mode::Triage;
                }
            }
            Notice::Phase(p) => {
                self.phase_tab = p;
                self.step_cursor = 0;
                self.read_on = 0;
            }
            Notice::ConfirmRun(plan) => {
                let dialog = Dialog::new(*plan, self.size);
                self.mode = Mode::Confirm(Confirm::Run(Box::new(dialog)));
            }
            Notice::StepRecorded => {
                let n = self.visible_steps(engine).len();
                self.step_cursor = (self.step_cursor + 1).min(n.saturating_sub(1));
            }
            Notice::Refused(kind, text) => {
                self.mode = Mode::Input(Box::new(Editor::new(kind, &text)))
            }
            Notice::Stale => self.mode = Mode::Confirm(Confirm::Stale),
            Notice::IncidentList => self.mode = Mode::Incidents(0),
        }
    }
}

fn sorted(engine: &State, sort: u8) -> Vec<usize> {
    let targets = &engine.targets;
    let mut idx: Vec<usize> = (0..targets.len()).collect();
    let rows: Vec<_> = targets.iter().map(|t| t.row(engine.now)).collect();
    match sort {
        1 => idx.sort_by(|a, b| targets[*a].name.cmp(&targets[*b].name)),
        2 => idx.sort_by(|a, b| rows[*b].rps.total_cmp(&rows[*a].rps)),
        _ => idx.sort_by(|a, b| {
            rows[*b]
                .health
                .cmp(&rows[*a].health)
                .then(rows[*b].err.total_cmp(&rows[*a].err))
                .then(targets[*a].name.cmp(&targets[*b].name))
        }),
    }
    idx
}

/// The display order of the targets, kept: sorting needs every target's
/// row, so it is computed at most once a second (and again when the sort or
/// the number of targets changes), not once per call, per frame.
#[derive(Debug, Default)]
struct OrderCache {
    /// (sort, targets, Unix second) the order was computed for.
    key: Cell<Option<(u8, usize, i64)>>,
    order: RefCell<Vec<usize>>,
}

impl OrderCache {
    /// The order for `key`, computing it with `compute` when it is not the one kept.
    fn get(&self, key: (u8, usize, i64), compute: impl FnOnce() -> Vec<usize>) -> Vec<usize> {
        if self.key.get() != Some(key) {
            *self.order.borrow_mut() = compute();
            self.key.set(Some(key));
        }
        self.order.borrow().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_computed_once_per_key() {
        let cache = OrderCache::default();
        let computed = Cell::new(0);
        let compute = |v: Vec<usize>| {
            computed.set(computed.get() + 1);
            v
        };
        assert_eq!(cache.get((0, 2, 10), || compute(vec![1, 0])), [1, 0]);
        assert_eq!(cache.get((0, 2, 10), || compute(vec![0, 1])), [1, 0]);
        assert_eq!(computed.get(), 1);
        // A new second, another sort, another target: computed again.
        assert_eq!(cache.get((0, 2, 11), || compute(vec![0, 1])), [0, 1]);
        assert_eq!(cache.get((1, 2, 11), || compute(vec![1, 0])), [1, 0]);
        assert_eq!(cache.get((1, 3, 11), || compute(vec![2, 1, 0])), [2, 1, 0]);
        assert_eq!(computed.get(), 4);
    }
}
