//! The engine shared by the full-screen view: one `Msg` in, `update` decides,
//! `Effect`s out. Plain data and the clock passed in: the runtime (`tui`)
//! carries out effects — appending to the timeline *before* the screen shows
//! the change (the state only learns an event through `Msg::Appended`),
//! running confirmed commands, notifying — and feeds the results back.

pub mod confirm;
pub mod impact;
pub mod input;
pub mod keymap;
pub mod targets;

#[cfg(test)]
mod tests;

use crate::core::command::Values;
use crate::core::detect::Settings;
use crate::core::event::{Draft, Event, Kind, Phase, Severity, Stage};
use crate::core::grammar::{self, ChangeKind, Command};
use crate::core::incident::{HypothesisStatus, Incident};
use crate::core::metrics::RouteView;
use crate::core::payload;
use crate::core::playbook::{self, Playbook};
use crate::core::sample::ProbeSample;
use crate::core::signal::{Signal, SignalState};
use crate::core::verify::{Check, Verdict};
use chrono::{DateTime, Utc};
use confirm::{Dialog, RunRequest};
use input::{Key, Mouse};
use keymap::{Action, Resolved};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use targets::{SourceKind, Target, TargetId};

/// Most bytes an input line holds: its event must fit one timeline line.
pub const INPUT_LIMIT: usize = crate::core::event::MAX_LINE - 4096;

/// How often a metric snapshot is written while an incident is open.
pub const SNAPSHOT_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// How long the signals that open an incident are gathered before its
/// playbook and primary target are chosen from the dominant failure class (a
/// full outage fires a dozen signals within a second or two).
pub const CHOOSE_AFTER: chrono::Duration = chrono::Duration::seconds(3);

/// Signals firing within this long of the incident's last notification join it
/// quietly: one notification per burst, every signal still on the timeline.
pub const NOTIFY_QUIET: chrono::Duration = chrono::Duration::seconds(60);

/// The signals gathered while an incident's playbook is being chosen.
#[derive(Debug, Clone)]
pub struct Choosing {
    /// When the first of them fired.
    pub since: DateTime<Utc>,
    /// What fired, with the detector's severity.
    pub situations: Vec<(playbook::Situation, crate::core::signal::SeverityHint)>,
}

/// Everything that can happen to the app.
#[derive(Debug)]
pub enum Msg {
    /// A key.
    Key(Key),
    /// A mouse event.
    Mouse(Mouse),
    /// Pasted text.
    Paste(String),
    /// The terminal is this size now (columns, rows).
    Resize(u16, u16),
    /// Once a second.
    Tick,
    /// A probe of an endpoint finished.
    Probe(TargetId, Box<ProbeSample>),
    /// Per-route views from a metrics source (source name, views, when).
    Views(String, Vec<RouteView>, DateTime<Utc>),
    /// A source could not be read (name, why).
    SourceDown(String, String),
    /// A source answered again (name).
    SourceUp(String),
    /// An Alertmanager signal.
    Signal(Signal),
    /// An event is on disk.
    Appended(Event),
    /// An event could not be written (it is kept and retried).
    AppendFailed(String),
    /// A confirmed command ended.
    CommandDone(Box<CommandDone>),
    /// A confirmed command was not started: (step id, why).
    CommandNotRun(String, String),
    /// Something to tell the responder.
    Info(String),
    /// Something failed that the responder must know of (a background task
    /// stopped, the terminal's input died, an incident could not be resumed):
    /// kept in the errors list (`E`), not only the footer.
    TaskFailed(String),
}

/// How a confirmed command ended, for the state and the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandDone {
    /// The step it belonged to.
    pub step: String,
    /// One line: `exit 0 in 1.2 s`.
    pub summary: String,
    /// Whether it exited 0 on its own.
    pub succeeded: bool,
    /// The `command_finished` event to record.
    pub finished: Draft,
}

/// What the runtime should do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Open an incident timeline titled so (then the queued appends go to it).
    Open(String),
    /// Append to the open incident's timeline.
    Append(Draft),
    /// Report a signal (`ic watch` prints every one) and, with `true`, also
    /// send it to the notifiers (`false`: it joins a burst already notified).
    Notify(Signal, bool),
    /// Take over the stale incident in this file.
    ResumeStale(PathBuf),
    /// Close the stale incident in this file (quiet since the time).
    CloseStale(PathBuf, DateTime<Utc>),
    /// Record `command_started`, then run the confirmed command.
    Run(Box<RunRequest>),
    /// Record a command's `command_finished` in the timeline its start is in.
    CommandEnded(Draft),
    /// Send a status update to the webhook (after it is in the timeline).
    SendComms(String),
    /// Write the postmortem next to the timeline.
    WritePostmortem,
    /// Leave.
    Quit,
}

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

pub use crate::core::grammar::InputKind;

/// Most errors kept for the errors list.
pub const MAX_ERRORS: usize = 100;

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
    /// The help overlay.
    Help,
    /// The list of errors background work reported.
    Errors,
    /// A line of input.
    Input(InputKind, String),
    /// The severity picker, with its cursor.
    Severity(usize),
    /// A y/n question.
    Confirm(Confirm),
}

/// The open incident as the screen knows it: the events on disk and their fold.
#[derive(Debug, Clone, Default)]
pub struct IncidentView {
    /// Events, in file order.
    pub events: Vec<Event>,
    /// The fold.
    pub state: Incident,
}

/// Screen areas the last frame drew (for the mouse).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Areas {
    /// The endpoints table body: (x, y, width, height).
    pub endpoints: (u16, u16, u16, u16),
    /// The playbook pane.
    pub playbook: (u16, u16, u16, u16),
    /// The timeline pane.
    pub timeline: (u16, u16, u16, u16),
}

/// The app's whole state.
#[derive(Debug)]
pub struct State {
    /// Service name.
    pub service: String,
    /// Who is at the keyboard.
    pub actor: String,
    /// Detection settings.
    pub settings: Settings,
    /// Probe endpoints and metric routes.
    pub targets: Vec<Target>,
    /// Index into the sorted view.
    pub selected: usize,
    /// Sort order (0: worst first, 1: name, 2: rps).
    pub sort: u8,
    /// Focused pane.
    pub focus: Pane,
    /// Mode.
    pub mode: Mode,
    /// The open incident, once an event of it is on disk.
    pub incident: Option<IncidentView>,
    /// Timeline file of the open incident.
    pub timeline_path: Option<PathBuf>,
    /// Playbooks available.
    pub playbooks: Vec<Playbook>,
    /// Phase tab shown.
    pub phase_tab: Phase,
    /// Cursor in the step list.
    pub step_cursor: usize,
    /// Live checks of `verify` steps, by step id.
    pub checks: HashMap<String, (Check, Option<Verdict>)>,
    /// The alert banner and when it appeared.
    pub banner: Option<(String, DateTime<Utc>)>,
    /// A status message (refusals, results).
    pub message: Option<String>,
    /// Errors background work reported, oldest first (at most [`MAX_ERRORS`];
    /// `E` lists them): they stay until the session ends, unlike `message`.
    pub errors: Vec<(DateTime<Utc>, String)>,
    /// Errors dropped from `errors` because it was full.
    pub errors_dropped: usize,
    /// An action pressed once while refused: pressing it again overrides.
    pub pending_override: Option<Action>,
    /// Timeline filter.
    pub filter: Option<Kind>,
    /// Timeline scroll from the bottom.
    pub scroll: usize,
    /// Open incidents automatically when a signal fires.
    pub auto_open: bool,
    /// A command is running for this step.
    pub running: Option<String>,
    /// The last output of each step's command (first lines, redacted).
    pub outputs: HashMap<String, String>,
    /// Set when the screen must be redrawn.
    pub dirty: bool,
    /// Set when the app should end.
    pub quit: bool,
    /// Areas of the last frame.
    pub areas: Areas,
    /// Sources that are down, with why.
    pub sources_down: BTreeMap<String, String>,
    /// The latest time seen.
    pub now: DateTime<Utc>,
    /// Where the timeline dir is (shown in the header for the demo).
    pub timeline_dir: PathBuf,
    /// Events written by us that are not yet on disk (disk full, …), for the header.
    pub unsaved: usize,
    /// When the last metric snapshot was taken.
    pub last_snapshot: Option<DateTime<Utc>>,
    /// The terminal's size (columns, rows); (0, 0) until known.
    pub size: (u16, u16),
    /// Signals (detector, target) the open incident recorded as firing before this
    /// process took it over (a restart, a join): the fresh detectors' first fire of
    /// one of them goes on silently.
    pub resumed: std::collections::BTreeSet<(String, String)>,
    /// The display order, computed at most once a second (see `order`).
    order_cache: targets::OrderCache,
    /// Probes whose URL a metrics route serves (one target for the impact).
    pub aliases: Vec<impact::Alias>,
    /// This process's run id in `impact_measured` events (its start time).
    pub run: String,
    /// Signals gathered while the new incident's playbook is chosen.
    pub choosing: Option<Choosing>,
    /// When the last "fired" notification went out.
    pub last_notified: Option<DateTime<Utc>>,
    /// An open incident quiet for `stale_after` that was not resumed: (file, last event).
    pub stale: Option<(PathBuf, DateTime<Utc>)>,
    /// `incidents.stale_after`.
    pub stale_after: chrono::Duration,
    /// A person is at a terminal (the view): questions become dialogs.
    pub interactive: bool,
    /// The signal behind the ALERT banner: (detector, target, evidence).
    pub banner_of: Option<(String, String, String)>,
    /// A playbook a later signal fits better (`b` switches to it).
    pub proposed_playbook: Option<String>,
}

impl State {
    /// A fresh state.
    pub fn new(
        service: &str,
        actor: &str,
        settings: Settings,
        targets: Vec<Target>,
        playbooks: Vec<Playbook>,
        timeline_dir: PathBuf,
        now: DateTime<Utc>,
    ) -> State {
        State {
            service: service.to_string(),
            actor: actor.to_string(),
            settings,
            targets,
            selected: 0,
            sort: 0,
            focus: Pane::Endpoints,
            mode: Mode::Normal,
            incident: None,
            timeline_path: None,
            playbooks,
            phase_tab: Phase::Detect,
            step_cursor: 0,
            checks: HashMap::new(),
            banner: None,
            message: None,
            errors: Vec::new(),
            errors_dropped: 0,
            pending_override: None,
            filter: None,
            scroll: 0,
            auto_open: true,
            running: None,
            outputs: HashMap::new(),
            dirty: true,
            quit: false,
            areas: Areas::default(),
            sources_down: BTreeMap::new(),
            now,
            timeline_dir,
            unsaved: 0,
            last_snapshot: None,
            size: (0, 0),
            resumed: std::collections::BTreeSet::new(),
            order_cache: targets::OrderCache::default(),
            aliases: Vec::new(),
            run: format!(
                "{}/{}",
                now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                std::process::id()
            ),
            choosing: None,
            last_notified: None,
            banner_of: None,
            proposed_playbook: None,
            stale: None,
            stale_after: chrono::Duration::hours(1),
            interactive: false,
        }
    }

    /// Whether an incident is open.
    pub fn incident_open(&self) -> bool {
        self.incident.as_ref().is_some_and(|i| i.state.is_open())
    }

    /// Target indices in display order, sorted at most once a second: with
    /// thousands of targets, sorting by their rows on every call (several per
    /// frame) took a whole core.
    pub fn order(&self) -> Vec<usize> {
        let key = (self.sort, self.targets.len(), self.now.timestamp());
        self.order_cache.get(key, || self.sorted())
    }

    fn sorted(&self) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.targets.len()).collect();
        let rows: Vec<_> = self.targets.iter().map(|t| t.row(self.now)).collect();
        match self.sort {
            1 => idx.sort_by(|a, b| self.targets[*a].name.cmp(&self.targets[*b].name)),
            2 => idx.sort_by(|a, b| rows[*b].rps.total_cmp(&rows[*a].rps)),
            _ => idx.sort_by(|a, b| {
                rows[*b]
                    .health
                    .cmp(&rows[*a].health)
                    .then(rows[*b].err.total_cmp(&rows[*a].err))
                    .then(self.targets[*a].name.cmp(&self.targets[*b].name))
            }),
        }
        idx
    }

    /// The selected target.
    pub fn selected_target(&self) -> Option<&Target> {
        self.order()
            .get(self.selected)
            .and_then(|i| self.targets.get(*i))
    }

    /// The playbook in use: the incident's, else the best match for what is firing.
    pub fn playbook(&self) -> Option<&Playbook> {
        let chosen = self
            .incident
            .as_ref()
            .and_then(|i| i.state.playbook.as_deref());
        if let Some(id) = chosen
            && let Some(p) = self.playbooks.iter().find(|p| p.id == id)
        {
            return Some(p);
        }
        let firing: Vec<_> = self.targets.iter().flat_map(Target::situations).collect();
        playbook::rank(&self.playbooks, &firing).into_iter().next()
    }

    /// The incident's primary target — the one `{target}` means and checks
    /// verify — with why: the signal that opened the incident, the one a
    /// responder chose (`t`), or, with no incident signal yet, the selected row.
    pub fn primary_target(&self) -> Option<(String, String)> {
        let inc = self.incident.as_ref().map(|i| &i.state);
        if let Some(t) = inc.and_then(|i| i.primary_target.clone()) {
            let why = match inc.and_then(|i| i.primary_target_by.as_ref()) {
                Some((who, at)) => format!("chosen by {who} at {}", at.format("%H:%M:%S UTC")),
                None => "the signal that opened the incident".to_string(),
            };
            return Some((t, why));
        }
        self.selected_target()
            .map(|t| (t.name.clone(), "the selected row".to_string()))
    }

    /// Notes every signal the open incident records as firing as resumed (after
    /// a restart or on joining another process's incident).
    pub fn mark_resumed(&mut self) {
        self.resumed = self
            .incident
            .iter()
            .flat_map(|i| i.state.signals.iter())
            .filter(|(_, r)| r.firing)
            .map(|(k, _)| k.clone())
            .collect();
    }

    /// The placeholders' values for a command of the playbook in use.
    pub fn command_values(&self) -> Values {
        let mut v = Values::default();
        if let Some((name, _)) = self.primary_target() {
            let is_route = self
                .targets
                .iter()
                .find(|t| t.name == name)
                .map_or(name.contains(' '), |t| t.source == SourceKind::Metrics);
            v.set_target(&name, is_route);
        }
        v.set("service", self.service.clone());
        v.set(
            "severity",
            self.incident
                .as_ref()
                .and_then(|i| i.state.current_severity())
                .map_or("unset".into(), |s| s.to_string()),
        );
        v.set(
            "incident",
            self.timeline_path
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string()),
        );
        v.set(
            "playbook",
            self.playbook().map_or(String::new(), |p| p.id.clone()),
        );
        v
    }

    /// The steps of the shown phase that apply at the current severity.
    pub fn visible_steps(&self) -> Vec<&playbook::Step> {
        let sev = self
            .incident
            .as_ref()
            .and_then(|i| i.state.current_severity());
        self.playbook()
            .map(|p| {
                p.phases
                    .of(self.phase_tab)
                    .iter()
                    .filter(|s| s.applies(sev))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a step is done or skipped in the incident.
    pub fn step_state(&self, phase: Phase, id: &str) -> Option<bool> {
        self.incident.as_ref().and_then(|i| {
            i.state
                .steps
                .get(&(phase.as_str().to_string(), id.to_string()))
                .map(|r| r.done)
        })
    }

    fn say(&mut self, text: impl Into<String>) {
        self.message = Some(text.into());
    }
}

/// Applies one message at `now`; returns what the runtime must do.
pub fn update(state: &mut State, msg: Msg, now: DateTime<Utc>) -> Vec<Effect> {
    state.now = now;
    state.dirty = true;
    let mut fx = Vec::new();
    match msg {
        Msg::Key(key) => on_key(state, key, &mut fx),
        Msg::Mouse(m) => on_mouse(state, m),
        Msg::Paste(text) => {
            if let Mode::Input(_, buf) = &mut state.mode {
                // Bounded: an input never holds more than a timeline line may.
                let room = INPUT_LIMIT.saturating_sub(buf.len());
                let clean = text.replace(['\n', '\r'], " ");
                if clean.len() > room {
                    let mut cut = room;
                    while !clean.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    buf.push_str(&clean[..cut]);
                    state.message = Some(format!(
                        "the paste was cut to fit: an entry holds at most {INPUT_LIMIT} bytes ({} of the paste dropped)",
                        clean.len() - cut
                    ));
                } else {
                    buf.push_str(&clean);
                }
            }
        }
        Msg::Resize(w, h) => {
            state.size = (w, h);
            if let Mode::Confirm(Confirm::Run(d)) = &mut state.mode {
                d.resized((w, h));
            }
        }
        Msg::Tick => on_tick(state, now, &mut fx),
        Msg::Probe(id, sample) => {
            let signals = match state.targets.iter_mut().find(|t| t.id == id) {
                Some(t) => t.on_probe(&sample, now),
                None => Vec::new(),
            };
            for s in signals {
                on_signal(state, s, &mut fx);
            }
        }
        Msg::Views(source, views, at) => {
            state.sources_down.remove(&source);
            let mut signals = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for v in views {
                let id = TargetId::Route {
                    source: source.clone(),
                    route: v.route.clone(),
                };
                let idx = match state.targets.iter().position(|t| t.id == id) {
                    Some(i) => i,
                    None => {
                        state.targets.push(Target::route(&source, &v.route));
                        state.targets.len() - 1
                    }
                };
                seen.insert(idx);
                signals.extend(state.targets[idx].on_view(v, at, &state.settings));
            }
            // A route that vanished from the exposition had no traffic at all.
            for (i, t) in state.targets.iter_mut().enumerate() {
                if t.id.source() == Some(source.as_str()) && !seen.contains(&i) {
                    signals.extend(t.on_silence(at, &state.settings));
                }
            }
            for s in signals {
                on_signal(state, s, &mut fx);
            }
        }
        Msg::SourceDown(source, why) => {
            state.sources_down.insert(source, why);
        }
        Msg::SourceUp(source) => {
            state.sources_down.remove(&source);
        }
        Msg::Signal(s) => on_signal(state, s, &mut fx),
        Msg::Appended(e) => on_appended(state, e, &mut fx),
        Msg::AppendFailed(why) => {
            state.unsaved = state.unsaved.max(1);
            state.say(format!("NOT SAVED (kept in memory, retrying): {why}"));
        }
        Msg::CommandDone(done) => {
            let CommandDone {
                step,
                summary,
                succeeded,
                finished,
            } = *done;
            state.running = None;
            let output = match finished.payload() {
                Ok(payload::Payload::CommandFinished(p)) => p.output,
                _ => String::new(),
            };
            state
                .outputs
                .insert(step.clone(), format!("{summary}: {}", output.trim()));
            fx.push(Effect::CommandEnded(finished));
            if !succeeded {
                state.say(format!(
                    "command for `{step}`: {summary} — the step stays open (Enter runs it again)"
                ));
            } else {
                state.say(format!("command for `{step}`: {summary}"));
                if state.incident_open()
                    && let Some((phase, _)) = state.playbook().and_then(|p| p.step(&step))
                {
                    let verify = state.checks.get(&step).and_then(|c| c.1.clone());
                    fx.push(step_event(state, phase, &step, true, verify.as_ref()));
                }
            }
        }
        Msg::CommandNotRun(step, why) => {
            state.running = None;
            state.say(format!("command for `{step}` not run: {why}"));
        }
        Msg::Info(text) => state.say(text),
        Msg::TaskFailed(why) => {
            state.say(format!("ERROR: {why} (E lists errors)"));
            if state.errors.len() >= MAX_ERRORS {
                state.errors.remove(0);
                state.errors_dropped += 1;
            }
            state.errors.push((now, why));
        }
    }
    fx
}

fn on_signal(state: &mut State, s: Signal, fx: &mut Vec<Effect>) {
    // After a restart, detectors start afresh and fire again for what the open
    // incident already records as firing: that is the same signal going on, so
    // it is resumed silently — no second signal_fired, no second notification.
    let live = state
        .targets
        .iter()
        .find(|t| t.name == s.target)
        .is_some_and(|t| t.firing.contains(&s.kind));
    let key = (s.kind.as_str().to_string(), s.target.clone());
    let recorded_firing = state.incident_open()
        && state
            .incident
            .as_ref()
            .is_some_and(|i| i.state.signals.get(&key).is_some_and(|r| r.firing));
    if s.state == SignalState::Fired && recorded_firing && !live && state.resumed.remove(&key) {
        tracing::info!(
            detector = s.kind.as_str(),
            target = %s.target,
            "resumed a signal the open incident already records as firing"
        );
        if let Some(t) = state.targets.iter_mut().find(|t| t.name == s.target) {
            t.firing.insert(s.kind);
        }
        return;
    }
    if let Some(t) = state.targets.iter_mut().find(|t| t.name == s.target) {
        match s.state {
            SignalState::Fired | SignalState::Updated => {
                t.firing.insert(s.kind);
            }
            SignalState::Resolved => {
                t.firing.remove(&s.kind);
            }
        }
    }
    if s.state == SignalState::Fired {
        state.banner_of = Some((
            s.kind.as_str().to_string(),
            s.target.clone(),
            s.evidence.clone(),
        ));
        state.banner = Some((banner_text(state), state.now));
    }
    // Written first, then sent: what a notification says is already on disk.
    // Correlated signals (this service, while the incident is open or being
    // opened) join the one incident.
    let fired = s.state == SignalState::Fired;
    if state.incident_open() || state.choosing.is_some() {
        fx.push(Effect::Append(Draft::signal(&s)));
        if fired {
            match &mut state.choosing {
                Some(c) => c.situations.push((playbook::Situation::of(&s), s.severity)),
                None => propose_playbook(state, &s),
            }
        }
    } else if fired && state.auto_open {
        fx.push(Effect::Open(format!("{} on {}", s.kind.as_str(), s.target)));
        fx.push(Effect::Append(Draft::signal(&s)));
        state.choosing = Some(Choosing {
            since: state.now,
            situations: vec![(playbook::Situation::of(&s), s.severity)],
        });
        state.focus = Pane::Playbook;
    }
    // One notification per burst: a signal firing within a minute of the last
    // one joins quietly; a resolution is news once nothing fires any more.
    let notify = match s.state {
        SignalState::Fired => {
            let joins = state.incident_open() || state.choosing.is_some();
            let quiet = joins
                && state
                    .last_notified
                    .is_some_and(|t| state.now - t < NOTIFY_QUIET);
            if !quiet {
                state.last_notified = Some(state.now);
            }
            !quiet
        }
        SignalState::Updated => true,
        SignalState::Resolved => state.targets.iter().all(|t| t.firing.is_empty()),
    };
    fx.push(Effect::Notify(s, notify));
}

/// Decides what is still pending before the engine stops: a new incident's
/// playbook and primary target, whose gathering time has not run out.
pub fn settle(state: &mut State) -> Vec<Effect> {
    let mut fx = Vec::new();
    if state.choosing.is_some() && state.incident_open() {
        choose_playbook(state, &mut fx);
    }
    fx
}

/// The ALERT banner with live numbers: the signal that raised it and what its
/// target shows now.
fn banner_text(state: &State) -> String {
    let Some((kind, target, evidence)) = &state.banner_of else {
        return String::new();
    };
    let name = impact::measured_target(state, target);
    let live = state.targets.iter().find(|t| t.name == name).map(|t| {
        let r = t.row(state.now);
        let p95 = r
            .p95
            .map(|p| format!(", p95 {:.0} ms", p * 1000.0))
            .unwrap_or_default();
        format!("now {:.1}% errors, {:.1} req/s{p95}", r.err * 100.0, r.rps)
    });
    // The live numbers first: at 80 columns the evidence is what gets cut.
    match live {
        Some(live) => format!("ALERT {kind} {target}: {live} · fired on {evidence}"),
        None => format!("ALERT {kind} {target}: {evidence}"),
    }
}

/// Chooses the new incident's playbook and primary target once, from the
/// signals gathered since it opened: the dominant failure class (most
/// signals; critical first on a tie) decides.
fn choose_playbook(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(c) = state.choosing.take() else {
        return;
    };
    let key = |s: &playbook::Situation| {
        s.class
            .map_or_else(|| s.detector.as_str().to_string(), |c| c.to_string())
    };
    let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (sit, sev) in &c.situations {
        let e = tally.entry(key(sit)).or_default();
        e.0 += 1;
        e.1 += usize::from(*sev == crate::core::signal::SeverityHint::Critical);
    }
    let dominant = tally
        .iter()
        .max_by_key(|(_, (n, critical))| (*n, *critical))
        .map(|(k, _)| k.clone())
        .unwrap_or_default();
    let situations: Vec<playbook::Situation> = c
        .situations
        .iter()
        .filter(|(s, _)| key(s) == dominant)
        .map(|(s, _)| s.clone())
        .collect();
    let chosen = state
        .incident
        .as_ref()
        .is_some_and(|i| i.state.playbook.is_some());
    if let Some(p) = playbook::rank(&state.playbooks, &situations)
        .first()
        .filter(|_| !chosen)
    {
        let why = if c.situations.len() > 1 {
            format!(
                " (from {} signals; dominant: {dominant})",
                c.situations.len()
            )
        } else {
            String::new()
        };
        fx.push(Effect::Append(Draft::typed(
            Kind::PlaybookSelected,
            "ic",
            format!("playbook {}{why}", p.id),
            &payload::PlaybookSelected {
                playbook: p.id.clone(),
            },
        )));
    }
    // The primary target: the first signal's when it is of the dominant class,
    // else the first critical one of that class — as the target it is counted
    // under (a probe's route when it has one).
    let first = state
        .incident
        .as_ref()
        .and_then(|i| i.state.primary_target.clone());
    let of_dominant: Vec<&(playbook::Situation, crate::core::signal::SeverityHint)> = c
        .situations
        .iter()
        .filter(|(s, _)| key(s) == dominant)
        .collect();
    let primary = of_dominant
        .iter()
        .find(|(s, _)| Some(&s.target) == first.as_ref())
        .or_else(|| {
            of_dominant
                .iter()
                .find(|(_, sev)| *sev == crate::core::signal::SeverityHint::Critical)
        })
        .or(of_dominant.first())
        .map(|(s, _)| impact::canonical(state, &s.target).0);
    if let Some(target) = primary
        && first.as_ref().is_some_and(|f| *f != target)
        && state
            .incident
            .as_ref()
            .is_some_and(|i| i.state.primary_target_by.is_none())
    {
        fx.push(Effect::Append(Draft::typed(
            Kind::TargetSelected,
            "ic",
            format!("primary target: {target} (the dominant failure class: {dominant})"),
            &payload::TargetSelected {
                target: target.to_string(),
            },
        )));
    }
}

/// A signal firing after the playbook was chosen: when the playbook in use
/// does not cover it (or it is critical) and another playbook fits it better,
/// propose that one — the responder decides (`b` switches).
fn propose_playbook(state: &mut State, s: &Signal) {
    let sit = playbook::Situation::of(s);
    let Some((best, best_fit)) = playbook::rank(&state.playbooks, std::slice::from_ref(&sit))
        .first()
        .map(|p| (p.id.clone(), playbook::fit(p, &sit)))
    else {
        return;
    };
    let Some(current) = state.playbook() else {
        return;
    };
    let current_fit = playbook::fit(current, &sit);
    let uncovered = current_fit <= 1;
    let critical = s.severity == crate::core::signal::SeverityHint::Critical;
    if current.id != best && best_fit > current_fit && (uncovered || critical) {
        state.say(format!(
            "the new {} signal on {} fits playbook `{best}` better than `{}`: press b to switch",
            s.kind.as_str(),
            s.target,
            current.id
        ));
        state.proposed_playbook = Some(best);
    }
}

fn on_appended(state: &mut State, e: Event, fx: &mut Vec<Effect>) {
    let ts = e.ts;
    let ours_resolved = e.kind == Kind::SignalResolved && e.actor == "ic";
    let view = state.incident.get_or_insert_with(IncidentView::default);
    view.state.apply(&e);
    let kind = e.kind;
    view.events.push(e);
    match kind {
        Kind::PhaseEntered => {
            if let Some(p) = view.state.phase {
                state.phase_tab = p;
                state.step_cursor = 0;
            }
        }
        Kind::IncidentOpened => {
            state.phase_tab = Phase::Detect;
            state.checks.clear();
        }
        Kind::IncidentClosed => {
            state.banner = None;
            state.banner_of = None;
            state.choosing = None;
            state.proposed_playbook = None;
            state.last_notified = None;
        }
        // A snapshot dated far ahead (another clock, a hand edit) must not stop ours.
        Kind::MetricSnapshot if ts <= state.now + chrono::Duration::hours(1) => {
            state.last_snapshot = Some(state.last_snapshot.map_or(ts, |t| t.max(ts)));
        }
        _ => {}
    }
    // A signal ended: what it did to its target is measured while the data is here.
    if ours_resolved && let Some(d) = impact::measure(state) {
        fx.push(Effect::Append(d));
    }
}

fn on_tick(state: &mut State, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
    for t in &mut state.targets {
        t.tick(now, &state.settings);
    }
    // A metric snapshot a minute while an incident is open: the postmortem counts the impact.
    if state.incident_open()
        && state
            .last_snapshot
            .is_none_or(|t| now - t >= SNAPSHOT_EVERY)
    {
        state.last_snapshot = Some(now);
        if let Some(d) = snapshot(state, "ic") {
            fx.push(Effect::Append(d));
        }
        // While something fires, the impact so far (a crash loses at most a minute of it).
        if state
            .incident
            .as_ref()
            .is_some_and(|i| i.state.firing().next().is_some())
            && let Some(d) = impact::measure(state)
        {
            fx.push(Effect::Append(d));
        }
    }
    if state
        .choosing
        .as_ref()
        .is_some_and(|c| now - c.since >= CHOOSE_AFTER && state.incident_open())
    {
        choose_playbook(state, fx);
    }
    if state.banner.is_some() && state.banner_of.is_some() {
        let text = banner_text(state);
        if let Some(b) = &mut state.banner {
            b.0 = text;
        }
    }
    // A refusal that talks about a state that is gone is cleared with it: the
    // incident closed, or the signals it named stopped firing.
    let gone = match state.pending_override {
        Some(Action::Resolve | Action::Close) if !state.incident_open() => true,
        Some(Action::Resolve) => {
            state
                .message
                .as_deref()
                .is_some_and(|m| m.starts_with("not resolved: still firing"))
                && state.targets.iter().all(|t| t.firing.is_empty())
        }
        _ => false,
    };
    if gone {
        state.pending_override = None;
        state.message = None;
    }
    if state
        .banner
        .as_ref()
        .is_some_and(|(_, at)| now - *at > chrono::Duration::seconds(60))
        && !state.targets.iter().any(|t| !t.firing.is_empty())
    {
        state.banner = None;
        state.banner_of = None;
    }
    // Live verify checks of the steps on screen, on the incident's primary
    // target (its metrics route when the probe has one).
    let target = state
        .primary_target()
        .map(|t| impact::measured_target(state, &t.0))
        .unwrap_or_default();
    let steps: Vec<(String, String)> = state
        .playbook()
        .map(|p| {
            p.phases
                .all()
                .filter_map(|(_, s)| s.verify.clone().map(|v| (s.id.clone(), v)))
                .collect()
        })
        .unwrap_or_default();
    let mut checks = std::mem::take(&mut state.checks);
    for (id, text) in steps {
        let entry = checks.entry(id).or_insert_with(|| {
            (
                Check::new(crate::core::verify::parse(&text).unwrap_or_else(|_| {
                    // Validated on load; an unparsable one never passes.
                    crate::core::verify::Expr {
                        measure: crate::core::verify::Measure::ErrorRate,
                        target: String::new(),
                        op: crate::core::verify::Op::Lt,
                        value: -1.0,
                        over: std::time::Duration::from_secs(60),
                        hold: None,
                        text,
                    }
                })),
                None,
            )
        });
        entry.1 = Some(entry.0.evaluate(&*state, &target, now));
    }
    state.checks = checks;
    let _ = fx;
}

fn on_mouse(state: &mut State, m: Mouse) {
    match m {
        Mouse::Click { column, row } => {
            let inside = |a: (u16, u16, u16, u16)| {
                column >= a.0 && column < a.0 + a.2 && row >= a.1 && row < a.1 + a.3
            };
            if inside(state.areas.endpoints) {
                state.focus = Pane::Endpoints;
                let row = (row - state.areas.endpoints.1) as usize;
                if row < state.targets.len() {
                    state.selected = row;
                }
            } else if inside(state.areas.playbook) {
                state.focus = Pane::Playbook;
                let row = (row - state.areas.playbook.1) as usize;
                state.step_cursor = row.saturating_sub(1);
            } else if inside(state.areas.timeline) {
                state.focus = Pane::Timeline;
            }
        }
        Mouse::ScrollUp => move_cursor(state, -1),
        Mouse::ScrollDown => move_cursor(state, 1),
    }
}

fn move_cursor(state: &mut State, d: i64) {
    let step = |v: usize, max: usize| -> usize {
        (v as i64 + d).clamp(0, max.saturating_sub(1) as i64) as usize
    };
    match state.focus {
        Pane::Endpoints => state.selected = step(state.selected, state.targets.len()),
        Pane::Playbook => {
            let n = state.visible_steps().len();
            state.step_cursor = step(state.step_cursor, n);
        }
        Pane::Timeline => {
            state.scroll = (state.scroll as i64 - d).max(0) as usize;
        }
    }
}

fn on_key(state: &mut State, key: Key, fx: &mut Vec<Effect>) {
    match state.mode.clone() {
        Mode::Help | Mode::Errors => {
            state.mode = Mode::Normal;
        }
        Mode::Input(kind, mut buf) => match key {
            Key::Esc => state.mode = Mode::Normal,
            Key::Enter => {
                state.mode = Mode::Normal;
                submit(state, kind, buf.trim(), fx);
            }
            Key::Backspace => {
                buf.pop();
                state.mode = Mode::Input(kind, buf);
            }
            Key::Char(c) => {
                if buf.len() + c.len_utf8() <= INPUT_LIMIT {
                    buf.push(c);
                }
                state.mode = Mode::Input(kind, buf);
            }
            _ => {}
        },
        Mode::Severity(cur) => match key {
            Key::Esc => state.mode = Mode::Normal,
            Key::Up | Key::Char('k') => state.mode = Mode::Severity(cur.saturating_sub(1)),
            Key::Down | Key::Char('j') => state.mode = Mode::Severity((cur + 1).min(3)),
            Key::Char(c @ '1'..='4') => {
                state.mode = Mode::Normal;
                set_severity(state, Severity::ALL[(c as u8 - b'1') as usize], fx);
            }
            Key::Enter => {
                state.mode = Mode::Normal;
                set_severity(state, Severity::ALL[cur.min(3)], fx);
            }
            _ => {}
        },
        Mode::Confirm(Confirm::Run(mut dialog)) => {
            let page = dialog.page(state.size) as i64;
            let scroll = match key {
                Key::Down | Key::Char('j') => Some(1),
                Key::Up | Key::Char('k') => Some(-1),
                Key::PageDown | Key::Char(' ') => Some(page),
                Key::PageUp => Some(-page),
                _ => None,
            };
            if let Some(d) = scroll {
                dialog.notice = None;
                dialog.scroll_by(d, state.size);
                state.mode = Mode::Confirm(Confirm::Run(dialog));
                return;
            }
            match key {
                Key::Char('y') | Key::Char('Y') => {
                    if let Some(why) = dialog.why_not(state.size) {
                        dialog.notice = Some(why);
                        state.mode = Mode::Confirm(Confirm::Run(dialog));
                    } else {
                        state.mode = Mode::Normal;
                        confirm_run(state, *dialog, fx);
                    }
                }
                Key::Char('n') | Key::Char('N') | Key::Esc | Key::Char('q') => {
                    state.mode = Mode::Normal;
                    state.say("cancelled: the command did not run");
                }
                _ => {
                    dialog.notice =
                        Some("y runs the command · n or Esc cancels · ↑↓ PgUp PgDn scroll".into());
                    state.mode = Mode::Confirm(Confirm::Run(dialog));
                }
            }
        }
        Mode::Confirm(Confirm::Stale) => {
            state.mode = Mode::Normal;
            let Some((path, last)) = state.stale.take() else {
                return;
            };
            match key {
                Key::Char('r' | 'y') => fx.push(Effect::ResumeStale(path)),
                Key::Char('c') => fx.push(Effect::CloseStale(path, last)),
                _ => state.say(format!(
                    "left {} open; new signals open a new incident (ic event -t FILE -k close closes it)",
                    path.display()
                )),
            }
        }
        Mode::Confirm(what) => {
            state.mode = Mode::Normal;
            let yes = matches!(key, Key::Char('y') | Key::Char('Y'));
            match (what, yes) {
                (Confirm::Quit | Confirm::QuitWhileRunning | Confirm::QuitUnsaved, true) => {
                    state.quit = true;
                    fx.push(Effect::Quit);
                }
                (_, _) => state.say("cancelled"),
            }
        }
        Mode::Normal => {
            if key == Key::Esc {
                state.message = None;
                state.pending_override = None;
                return;
            }
            let ctx = keymap::Context {
                incident_open: state.incident_open(),
                has_timeline: state.timeline_path.is_some(),
            };
            let action = match keymap::resolve(key, ctx) {
                None => return,
                Some(Resolved::Do(action)) => action,
                Some(Resolved::NeedsIncident(_)) => {
                    state.say("no incident is open: a signal, a note or a severity opens one");
                    return;
                }
            };
            let repeat = state.pending_override == Some(action);
            state.pending_override = None;
            on_action(state, action, repeat, fx);
        }
    }
}

fn on_action(state: &mut State, action: Action, repeat: bool, fx: &mut Vec<Effect>) {
    let open = state.incident_open();
    match action {
        Action::Help => state.mode = Mode::Help,
        Action::Errors => state.mode = Mode::Errors,
        Action::Quit => {
            if state.running.is_some() {
                state.mode = Mode::Confirm(Confirm::QuitWhileRunning);
            } else if state.unsaved > 0 {
                state.mode = Mode::Confirm(Confirm::QuitUnsaved);
            } else if open {
                state.mode = Mode::Confirm(Confirm::Quit);
            } else {
                state.quit = true;
                fx.push(Effect::Quit);
            }
        }
        Action::FocusNext | Action::FocusPrev => {
            let order = [Pane::Endpoints, Pane::Playbook, Pane::Timeline];
            let i = order.iter().position(|p| *p == state.focus).unwrap_or(0);
            let d = if action == Action::FocusNext { 1 } else { 2 };
            state.focus = order[(i + d) % 3];
        }
        Action::Up => move_cursor(state, -1),
        Action::Down => move_cursor(state, 1),
        Action::Left | Action::Right => {
            let i = Phase::ALL
                .iter()
                .position(|p| *p == state.phase_tab)
                .unwrap_or(0);
            let j = if action == Action::Right {
                (i + 1).min(4)
            } else {
                i.saturating_sub(1)
            };
            state.phase_tab = Phase::ALL[j];
            state.step_cursor = 0;
        }
        Action::Enter => {
            if state.focus == Pane::Playbook {
                enter_step(state, fx);
            } else if state.focus == Pane::Endpoints {
                state.focus = Pane::Playbook;
            }
        }
        Action::Note => state.mode = Mode::Input(InputKind::Note, String::new()),
        Action::Hypothesis => state.mode = Mode::Input(InputKind::Hypothesis, String::new()),
        Action::Change => {
            state.mode = Mode::Input(InputKind::Change(ChangeKind::Deploy), String::new())
        }
        Action::Severity => state.mode = Mode::Severity(1),
        Action::Sort => state.sort = (state.sort + 1) % 3,
        Action::Filter => {
            let kinds = [
                None,
                Some(Kind::SignalFired),
                Some(Kind::Note),
                Some(Kind::StepDone),
                Some(Kind::CommandStarted),
                Some(Kind::CommsUpdate),
            ];
            let i = kinds.iter().position(|k| *k == state.filter).unwrap_or(0);
            state.filter = kinds[(i + 1) % kinds.len()];
        }
        Action::Role => state.mode = Mode::Input(InputKind::Role, String::new()),
        Action::ActionItem => state.mode = Mode::Input(InputKind::ActionItem, String::new()),
        Action::Comms => {
            let text = comms_draft(state);
            state.mode = Mode::Input(InputKind::Comms, text);
        }
        Action::Snapshot => match snapshot(state, &state.actor) {
            Some(d) => fx.push(Effect::Append(d)),
            None => state.say("no traffic in the last minute: nothing to snapshot"),
        },
        Action::PrimaryTarget => match state.selected_target().map(|t| t.name.clone()) {
            Some(name) => fx.push(Effect::Append(Draft::typed(
                Kind::TargetSelected,
                &state.actor,
                format!("primary target: {name}"),
                &payload::TargetSelected { target: name },
            ))),
            None => state.say("no row is selected"),
        },
        Action::NextPhase => next_phase(state, repeat, fx),
        Action::Resolve => resolve(state, repeat, fx),
        Action::Close => close(state, repeat, fx),
        Action::Acknowledge => {
            let who = state.actor.clone();
            match state
                .incident
                .as_ref()
                .and_then(|i| i.state.lifecycle.get(Stage::Acknowledged.as_str()))
            {
                Some(at) => state.say(format!(
                    "already acknowledged at {}",
                    at.format("%H:%M:%S UTC")
                )),
                None => fx.push(Effect::Append(
                    Command::Acknowledge.draft(&who, state.now, None),
                )),
            }
        }
        Action::SwitchPlaybook => match state.proposed_playbook.take() {
            Some(id) => fx.push(Effect::Append(Draft::typed(
                Kind::PlaybookSelected,
                &state.actor,
                format!("playbook {id} (switched by {})", state.actor),
                &payload::PlaybookSelected { playbook: id },
            ))),
            None => state.say("no other playbook is proposed"),
        },
        Action::Postmortem => fx.push(Effect::WritePostmortem),
    }
}

/// A metric snapshot of every target that saw traffic in the last minute, or
/// `None` when none did.
fn snapshot(state: &State, actor: &str) -> Option<Draft> {
    let round = |x: f64| (x * 10_000.0).round() / 10_000.0;
    let rows: Vec<(&str, targets::Row)> = state
        .targets
        .iter()
        .map(|t| (t.name.as_str(), t.row(state.now)))
        .filter(|(_, r)| r.rps > 0.0)
        .collect();
    if rows.is_empty() {
        return None;
    }
    let failed: u64 = rows.iter().map(|(_, r)| r.failed_last_minute).sum();
    let worst = rows
        .iter()
        .max_by(|a, b| a.1.err.total_cmp(&b.1.err))
        .map(|(name, r)| format!("; worst {name} at {:.1}% errors", r.err * 100.0))
        .unwrap_or_default();
    let targets: Vec<payload::SnapshotTarget> = rows
        .iter()
        .map(|(name, r)| payload::SnapshotTarget {
            target: name.to_string(),
            rps: Some(round(r.rps)),
            error_ratio: Some(round(r.err)),
            p95_ms: r.p95.map(|s| round(s * 1000.0)),
            failed: Some(r.failed_last_minute),
        })
        .collect();
    Some(Draft::typed(
        Kind::MetricSnapshot,
        actor,
        format!(
            "metric snapshot: {} targets, {failed} failed{worst}",
            rows.len()
        ),
        &payload::MetricSnapshot { targets },
    ))
}

fn ensure_open(state: &mut State, fx: &mut Vec<Effect>, why: &str) {
    if !state.incident_open() && !fx.iter().any(|f| matches!(f, Effect::Open(_))) {
        let title = match state.primary_target() {
            Some((t, _)) => format!("{why} on {t}"),
            None => why.to_string(),
        };
        fx.push(Effect::Open(title));
    }
}

fn submit(state: &mut State, kind: InputKind, text: &str, fx: &mut Vec<Effect>) {
    if text.is_empty() {
        state.say("nothing written (empty)");
        return;
    }
    // One limit for writers and readers: refused here, never acknowledged then skipped.
    if text.len() > INPUT_LIMIT {
        state.mode = Mode::Input(kind, text.to_string());
        state.say(format!(
            "not written: {} bytes is more than a timeline line may hold ({INPUT_LIMIT} bytes); shorten it",
            text.len()
        ));
        return;
    }
    let command = match grammar::parse(kind, text) {
        Ok(c) => c,
        Err(e) => {
            // Kept in the input so it can be corrected, not retyped.
            state.mode = Mode::Input(kind, text.to_string());
            state.say(format!("not written: {e}"));
            return;
        }
    };
    ensure_open(state, fx, "incident");
    let next = format!(
        "h{}",
        state
            .incident
            .as_ref()
            .map_or(0, |i| i.state.hypotheses.len())
            + 1
    );
    let draft = command.draft(&state.actor, state.now, Some(&next));
    fx.push(Effect::Append(draft));
    if let Command::StatusUpdate { text } = command {
        fx.push(Effect::SendComms(text));
    }
}

/// `y` in the command dialog: the request the runtime records and runs.
fn confirm_run(state: &mut State, dialog: Dialog, fx: &mut Vec<Effect>) {
    ensure_open(state, fx, "incident");
    let actor = state.actor.clone();
    let env = dialog.values.env();
    let playbook = state.playbook().map(|p| p.id.clone());
    let target = dialog.target.as_ref().map(|t| t.0.clone());
    let command = dialog.command.text.clone();
    let started = Draft::typed(
        Kind::CommandStarted,
        &actor,
        format!(
            "running `{}` (step {}, confirmed by {actor})",
            one_line(&command),
            dialog.step
        ),
        &payload::CommandStarted {
            step: Some(dialog.step.clone()),
            phase: Some(dialog.phase),
            playbook,
            command: command.clone(),
            env: env.iter().cloned().collect::<BTreeMap<String, String>>(),
            target,
            confirmed_by: Some(actor.clone()),
            confirmed_at: Some(state.now),
            timeout_ms: Some(u64::try_from(dialog.timeout.as_millis()).unwrap_or(u64::MAX)),
        },
    );
    state.running = Some(dialog.step.clone());
    state.say(format!("running `{}` …", one_line(&command)));
    fx.push(Effect::Run(Box::new(RunRequest {
        step: dialog.step,
        phase: dialog.phase,
        command,
        env,
        timeout: dialog.timeout,
        confirmed_by: actor,
        confirmed_at: state.now,
        started,
    })));
}

/// A command's first line, with ` …` when it has more.
fn one_line(command: &str) -> String {
    let mut lines = command.lines();
    let first = lines.next().unwrap_or_default();
    if lines.next().is_some() {
        format!("{first} …")
    } else {
        first.to_string()
    }
}

fn set_severity(state: &mut State, sev: Severity, fx: &mut Vec<Effect>) {
    ensure_open(state, fx, "incident");
    let draft = Command::Severity {
        severity: sev,
        reason: String::new(),
    }
    .draft(&state.actor, state.now, None);
    fx.push(Effect::Append(draft));
}

fn step_event(
    state: &State,
    phase: Phase,
    id: &str,
    done: bool,
    verify: Option<&Verdict>,
) -> Effect {
    let kind = if done {
        Kind::StepDone
    } else {
        Kind::StepSkipped
    };
    let text = state
        .playbook()
        .and_then(|p| p.step(id))
        .map(|(_, s)| s.text.clone())
        .unwrap_or_else(|| id.to_string());
    Effect::Append(Draft::typed(
        kind,
        &state.actor,
        text,
        &payload::StepData {
            playbook: state.playbook().map(|p| p.id.clone()),
            phase: phase.as_str().to_string(),
            step: id.to_string(),
            verify: verify.map(|v| json!({"passed": v.passed, "value": v.value, "text": v.text})),
            reason: None,
        },
    ))
}

fn enter_step(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(step) = state
        .visible_steps()
        .get(state.step_cursor)
        .map(|s| (*s).clone())
    else {
        state.say("no step here");
        return;
    };
    let phase = state.phase_tab;
    if state.step_state(phase, &step.id) == Some(true) {
        state.say(format!("`{}` is already done", step.id));
        return;
    }
    if let Some(command) = step.command() {
        if let Some(r) = &state.running {
            state.say(format!("a command is already running (step `{r}`)"));
            return;
        }
        match command {
            Ok(command) => {
                let timeout = step
                    .timeout
                    .map_or(std::time::Duration::from_secs(60), |t| t.get());
                let dialog = Dialog::new(
                    step.id.clone(),
                    phase,
                    command,
                    state.command_values(),
                    state.primary_target(),
                    timeout,
                    state.size,
                );
                state.mode = Mode::Confirm(Confirm::Run(Box::new(dialog)));
            }
            Err(e) => state.say(format!("cannot build the command: {e}")),
        }
        return;
    }
    ensure_open(state, fx, "incident");
    let verdict = state.checks.get(&step.id).and_then(|c| c.1.clone());
    if let Some(v) = &verdict
        && v.passed != Some(true)
    {
        state.say(format!(
            "recorded; note the check does not pass yet: {}",
            v.text
        ));
    }
    fx.push(step_event(state, phase, &step.id, true, verdict.as_ref()));
    state.step_cursor = (state.step_cursor + 1).min(state.visible_steps().len().saturating_sub(1));
}

/// Required steps of `phase` still open.
fn open_required(state: &State, phase: Phase) -> Vec<String> {
    let sev = state
        .incident
        .as_ref()
        .and_then(|i| i.state.current_severity());
    state
        .playbook()
        .map(|p| {
            p.phases
                .of(phase)
                .iter()
                .filter(|s| {
                    s.required && s.applies(sev) && state.step_state(phase, &s.id).is_none()
                })
                .map(|s| s.id.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn next_phase(state: &mut State, repeat: bool, fx: &mut Vec<Effect>) {
    let current = state
        .incident
        .as_ref()
        .and_then(|i| i.state.phase)
        .unwrap_or(Phase::Detect);
    let Some(next) = current.next() else {
        state.say("already in the last phase (learn): R resolves");
        return;
    };
    let open = open_required(state, current);
    if !open.is_empty() && !repeat {
        state.pending_override = Some(Action::NextPhase);
        state.say(format!(
            "{} required step(s) open in {current}: {} — press p again to move on anyway (recorded)",
            open.len(),
            open.join(", ")
        ));
        return;
    }
    fx.push(Effect::Append(Draft::typed(
        Kind::PhaseEntered,
        &state.actor,
        format!(
            "phase {next}{}",
            if open.is_empty() {
                ""
            } else {
                " (override: required steps open)"
            }
        ),
        &payload::PhaseEntered {
            phase: Some(next),
            forced: !open.is_empty(),
            open_steps: open,
        },
    )));
}

fn resolve(state: &mut State, repeat: bool, fx: &mut Vec<Effect>) {
    if let Some(step) = &state.running {
        state.say(format!(
            "not resolved: the command of step `{step}` is still running — wait for its end, or quit (which stops it and records how it ended)"
        ));
        return;
    }
    let quiet_for = state
        .playbook()
        .and_then(|p| p.exit_criteria.as_ref())
        .map_or(std::time::Duration::from_secs(900), |e| e.quiet_for.get());
    let firing: Vec<String> = state
        .targets
        .iter()
        .filter(|t| !t.firing.is_empty())
        .map(|t| t.name.clone())
        .collect();
    let quiet_since = state
        .incident
        .as_ref()
        .and_then(|i| i.state.last_signal_change());
    let quiet = quiet_since.map_or(chrono::Duration::zero(), |t| state.now - t);
    let met = firing.is_empty() && quiet.to_std().unwrap_or_default() >= quiet_for;
    if !met && !repeat {
        state.pending_override = Some(Action::Resolve);
        let why = if firing.is_empty() {
            format!(
                "quiet for {} of the {} the exit criteria ask",
                crate::core::units::format_duration(quiet.to_std().unwrap_or_default()),
                crate::core::units::format_duration(quiet_for)
            )
        } else {
            format!("still firing: {}", firing.join(", "))
        };
        state.say(format!(
            "not resolved: {why} — press R again to resolve anyway (recorded)"
        ));
        return;
    }
    let actor = state.actor.clone();
    let mut resolved = Draft::lifecycle(&actor, Stage::Resolved, state.now);
    resolved.msg = if met {
        "resolved: exit criteria met".to_string()
    } else {
        "resolved (override: exit criteria not met)".to_string()
    };
    resolved.data = payload::to_data(&payload::Lifecycle {
        stage: Some(Stage::Resolved),
        at: Some(state.now),
        forced: Some(!met),
    });
    if let Some(d) = impact::measure(state) {
        fx.push(Effect::Append(d));
    }
    fx.push(Effect::Append(resolved));
    let phase = state.incident.as_ref().and_then(|i| i.state.phase);
    if phase != Some(Phase::Learn) {
        fx.push(Effect::Append(Draft::typed(
            Kind::PhaseEntered,
            &actor,
            "phase learn",
            &payload::PhaseEntered {
                phase: Some(Phase::Learn),
                forced: false,
                open_steps: Vec::new(),
            },
        )));
    }
    let missing: Vec<&str> = state
        .incident
        .as_ref()
        .map(|i| i.state.missing_before_close())
        .unwrap_or_default()
        .into_iter()
        .filter(|m| !m.starts_with("it is not resolved"))
        .collect();
    state.say(if missing.is_empty() {
        "resolved; open for the learn phase: C closes it".to_string()
    } else {
        format!(
            "resolved; open for the learn phase: C closes it (still missing: {})",
            missing.join(", ")
        )
    });
}

/// Closes the incident; asks once when something is still missing (not
/// resolved, no root cause, no action items).
fn close(state: &mut State, repeat: bool, fx: &mut Vec<Effect>) {
    if let Some(step) = &state.running {
        state.say(format!(
            "not closed: the command of step `{step}` is still running — wait for its end"
        ));
        return;
    }
    let missing = state
        .incident
        .as_ref()
        .map(|i| i.state.missing_before_close())
        .unwrap_or_default();
    if !missing.is_empty() && !repeat {
        state.pending_override = Some(Action::Close);
        state.say(format!(
            "not closed: {} — press C again to close anyway (recorded)",
            missing.join(", ")
        ));
        return;
    }
    fx.push(Effect::Append(Draft::typed(
        Kind::IncidentClosed,
        &state.actor,
        if missing.is_empty() {
            "closed".to_string()
        } else {
            format!("closed (override: {})", missing.join(", "))
        },
        &payload::Closed {
            forced: Some(!missing.is_empty()),
            missing: Some(missing.iter().map(|m| m.to_string()).collect()),
            stale: None,
        },
    )));
}

/// The comms template filled from the data and the timeline.
pub fn comms_draft(state: &State) -> String {
    let inc = state.incident.as_ref().map(|i| &i.state);
    let what_changed = inc
        .and_then(|i| i.signals.values().next())
        .map(|s| {
            format!(
                "{} on {} since {}",
                s.detector,
                s.target,
                s.started.unwrap_or(s.first_fired).format("%H:%M UTC")
            )
        })
        .unwrap_or_else(|| "—".into());
    let impact = state
        .targets
        .iter()
        .filter(|t| !t.firing.is_empty())
        .map(|t| {
            let r = t.row(state.now);
            format!("{} {:.1}% errors", t.name, r.err * 100.0)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let update_every = state
        .playbook()
        .zip(inc.and_then(|i| i.current_severity()))
        .and_then(|(p, s)| p.severity.get(&s).and_then(|g| g.update_every))
        .map_or(std::time::Duration::from_secs(1800), |d| d.get());
    let next = state.now + chrono::Duration::from_std(update_every).unwrap_or_default();
    let template = state
        .playbook()
        .and_then(|p| p.comms.as_ref())
        .map(|c| c.template.clone())
        .unwrap_or_else(|| "What changed: {what_changed}\nImpact: {impact}\nWorkaround: {workaround}\nNext update: {next_update}".into());
    let vars = BTreeMap::from([
        ("what_changed", what_changed),
        (
            "impact",
            if impact.is_empty() {
                "recovering".into()
            } else {
                impact
            },
        ),
        ("workaround", "none yet".to_string()),
        ("next_update", next.format("%H:%M UTC").to_string()),
        ("service", state.service.clone()),
        (
            "severity",
            inc.and_then(|i| i.current_severity())
                .map_or("unset".into(), |s| s.to_string()),
        ),
        ("title", inc.map_or(String::new(), |i| i.title.clone())),
        (
            "status",
            if state.incident_open() {
                "investigating".into()
            } else {
                "resolved".into()
            },
        ),
    ]);
    playbook::render_comms(&template, &vars)
        .unwrap_or(template)
        .replace('\n', " | ")
}

impl crate::core::verify::LiveData for State {
    fn measure(
        &self,
        target: &str,
        measure: &crate::core::verify::Measure,
        window: std::time::Duration,
    ) -> Option<f64> {
        // The target by its name; else a route named by its path alone
        // (`/api/payments`); else a name that ends the text (`in payments`).
        let t = self
            .targets
            .iter()
            .find(|t| t.name == target)
            .or_else(|| self.targets.iter().find(|t| t.id.route() == Some(target)))
            .or_else(|| {
                self.targets
                    .iter()
                    .find(|t| t.name.ends_with(target) || target.ends_with(&t.name))
            })?;
        t.measure(measure, window, self.now)
    }
}

/// The ledger's lines for the playbook pane's footer.
pub fn ledger_lines(state: &State) -> Vec<String> {
    state
        .incident
        .as_ref()
        .map(|i| {
            i.state
                .hypotheses
                .iter()
                .map(|h| {
                    let mark = match h.status {
                        HypothesisStatus::Open => "?",
                        HypothesisStatus::Confirmed => "✔",
                        HypothesisStatus::RuledOut => "✘",
                    };
                    let (f, a) = (
                        h.evidence.iter().filter(|e| e.supports).count(),
                        h.evidence.iter().filter(|e| !e.supports).count(),
                    );
                    format!("{mark} {} {} (+{f} −{a})", h.id, h.text)
                })
                .collect()
        })
        .unwrap_or_default()
}
