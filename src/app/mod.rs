//! The engine shared by the full-screen view, `ic watch` and the demo: one
//! `Msg` in, `update` decides, `Effect`s out. A responder's wishes arrive as
//! typed [`Intent`]s (the view turns keys into them; it keeps focus, cursors
//! and inputs itself, in `tui::view`), and what the view should show in
//! answer leaves as [`Notice`]s. Plain data and the clock passed in: the
//! runtime carries out effects — appending to the timeline *before* the screen shows
//! the change (the state only learns an event through `Msg::Appended`),
//! running confirmed commands, notifying — and feeds the results back.

mod comms;
pub mod grouping;
pub mod impact;
mod lifecycle;
mod regions;
pub mod run;
mod signals;
pub mod silences;
pub mod targets;
pub mod triage;

pub use comms::comms_draft;
use comms::update_reminder;
use lifecycle::{
    auto_tick, close, enter_step, next_phase, resolve, set_severity, step_event, undo_step,
};
pub use signals::settle;
use signals::{banner_text, choose_playbook, on_signal};

#[cfg(test)]
pub(crate) mod tests;

use crate::core::command::Values;
use crate::core::detect::Settings;
use crate::core::event::{Draft, Event, Kind, Phase, Severity, Stage};
use crate::core::grammar::{self, Command};
use crate::core::incident::{HypothesisStatus, Incident};
use crate::core::metrics::RouteView;
use crate::core::payload;
use crate::core::playbook::{self, Playbook};
use crate::core::sample::ProbeSample;
use crate::core::signal::{Signal, SignalState};
use crate::core::verify::{Check, Verdict};
use chrono::{DateTime, Utc};
use run::{RunPlan, RunRequest};
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
    /// What a responder asks for.
    Do(Intent),
    /// Once a second.
    Tick,
    /// A probe of an endpoint finished.
    Probe(TargetId, Box<ProbeSample>),
    /// Per-route views from a metrics source (source name, views, when).
    Views(String, Vec<RouteView>, DateTime<Utc>),
    /// Per-route figures over a metrics source's counter lifetimes (source
    /// name, views), from its first scrape: baselines for a cold start.
    Lifetime(String, Vec<RouteView>),
    /// A metrics source's past, one entry a minute, oldest first (source name,
    /// (minute's start, views with that minute's counts)): learnt as baselines,
    /// never judged.
    History(String, Vec<(DateTime<Utc>, Vec<RouteView>)>),
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
    /// The silences of the timeline directory's silence log (all of them,
    /// ended and to come: the engine decides which hold now).
    Silences(Vec<crate::core::silence::Silence>),
    /// How many open action items of the timeline dir's incidents are overdue.
    OverdueActions(usize),
    /// How the team connection stands (`team:` configured).
    Team(crate::core::team::TeamStatus),
    /// Who of the team is in now.
    Present(Vec<crate::core::team::Presence>),
    /// Who holds the paging lease now.
    Lease(crate::core::team::Lease),
    /// Another location's word on an endpoint (`team.location`).
    LocationSample(crate::core::team::LocationSample),
    /// The open incidents of the timeline directory, newest first.
    IncidentList(Vec<IncidentRow>),
    /// Events from the team were merged into a local timeline: look now.
    TeamMerged,
    /// An incident opened by another responder now has a local timeline here.
    TeamIncident(PathBuf),
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
    /// Remind the responder (bell, desktop): a status update falls due.
    Remind(String),
    /// Take over the stale incident in this file.
    ResumeStale(PathBuf),
    /// Close the stale incident in this file (quiet since the time).
    CloseStale(PathBuf, DateTime<Utc>),
    /// Share this location's word on an endpoint with the team.
    ShareSample(crate::core::team::LocationSample),
    /// List the open incidents of the timeline directory into the state.
    ListIncidents,
    /// Make the incident in this timeline the one on screen.
    Switch(PathBuf),
    /// Record `command_started`, then run the confirmed command.
    Run(Box<RunRequest>),
    /// Record a command's `command_finished` in the timeline its start is in.
    CommandEnded(Draft),
    /// Send a status update to the webhook (after it is in the timeline).
    SendComms(String),
    /// Write the postmortem next to the timeline.
    WritePostmortem,
    /// Page: send this signal to the notifiers (desktop, bell, webhook) — the
    /// one page of a burst, [`grouping::GROUP_WAIT`] after its first signal.
    Page(Signal),
    /// Append to the timeline directory's silence log (a signal a silence held).
    RecordSilenced(Draft),
    /// Tell the view (nothing to do without one).
    Ui(Notice),
    /// Leave.
    Quit,
}

/// What a responder asks the engine for: the view's keys and input lines
/// become these (text through `core::grammar`, as `ic event` reads it).
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// Text entered in an input line of this kind.
    Submit(InputKind, String),
    /// The responder started (`true`) or stopped writing a status update:
    /// the team's header shows who is typing.
    Typing(bool),
    /// List the open incidents of the timeline directory (the team's are
    /// copied there) to switch to one.
    ListIncidents,
    /// Make the incident in this timeline the one on screen.
    Switch(PathBuf),
    /// Set the severity.
    Severity(Severity),
    /// Tick this step of the playbook in use, or — when it has a command —
    /// ask for the command's confirmation.
    Step {
        /// The phase it is in.
        phase: Phase,
        /// Its id.
        id: String,
    },
    /// A command the responder has confirmed (read in full, `y`).
    Run(Box<RunPlan>),
    /// Move to the next phase; `again`: asked twice in a row, overriding open
    /// required steps.
    NextPhase {
        /// The second ask in a row.
        again: bool,
    },
    /// Resolve; `again` overrides exit criteria not met.
    Resolve {
        /// The second ask in a row.
        again: bool,
    },
    /// Close; `again` overrides what is missing.
    Close {
        /// The second ask in a row.
        again: bool,
    },
    /// A person has the incident.
    Acknowledge,
    /// Record a metric snapshot.
    Snapshot,
    /// Record the triage summary the view shows (`T`).
    RecordTriage,
    /// Un-tick a step done or skipped earlier (recorded as undone).
    Undo {
        /// Its phase.
        phase: Phase,
        /// Its id.
        id: String,
    },
    /// Make this target the incident's primary target.
    PrimaryTarget(String),
    /// Switch to the playbook proposed for a later signal.
    SwitchPlaybook,
    /// Write the postmortem.
    Postmortem,
    /// The responder's selected row (the primary target while the incident has none).
    Select(Option<String>),
    /// Forget the message and any refusal waiting for a second ask.
    Dismiss,
    /// Leave (the view has asked whatever needed asking).
    Quit,
    /// The answer to the question about a stale open incident.
    Stale(StaleAnswer),
}

/// What to do with an open incident quiet for `incidents.stale_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaleAnswer {
    /// Take it over.
    Resume,
    /// Close it (quiet since its last event).
    Close,
    /// Leave it open; new signals open a new incident.
    Leave,
}

/// What the view should show in answer to what happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A signal opened an incident: its playbook is what matters now.
    OpenedBySignal,
    /// The incident is in this phase now (a new incident: detect).
    Phase(Phase),
    /// A step's command waits for confirmation.
    ConfirmRun(Box<RunPlan>),
    /// A step was recorded done (the cursor moves on).
    StepRecorded,
    /// Text that was not written, to correct rather than retype.
    Refused(InputKind, String),
    /// An open incident has gone quiet: ask what to do with it.
    Stale,
    /// The open incidents are listed (`State::incident_list`): pick one.
    IncidentList,
}

/// One open incident, as the incident picker lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRow {
    /// Its timeline.
    pub path: PathBuf,
    /// Its short id.
    pub short_id: String,
    /// Title.
    pub title: String,
    /// Severity, when set.
    pub severity: Option<Severity>,
    /// Incident lead, when assigned.
    pub lead: Option<String>,
    /// When it opened.
    pub opened: Option<DateTime<Utc>>,
}

/// A refusal that a second ask in a row overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    /// Moving on with required steps open.
    NextPhase,
    /// Resolving with the exit criteria not met.
    Resolve,
    /// Closing with something missing.
    Close,
}

use crate::core::grammar::InputKind;

/// Most errors kept for the errors list.
pub const MAX_ERRORS: usize = 100;

/// The open incident as the screen knows it: the events on disk and their fold.
#[derive(Debug, Clone, Default)]
pub struct IncidentView {
    /// Events, in file order.
    pub events: Vec<Event>,
    /// The fold.
    pub state: Incident,
}

/// The app's whole state.
#[derive(Debug)]
pub struct State {
    /// Service name.
    pub service: String,
    /// The environment the service runs in (`prod`, `staging`), when configured:
    /// the header's `env:` badge.
    pub environment: Option<String>,
    /// Who is at the keyboard.
    pub actor: String,
    /// Detection settings.
    pub settings: Settings,
    /// Probe endpoints and metric routes.
    pub targets: Vec<Target>,
    /// The row the responder has selected (its target's name), as the view reports it.
    pub selected: Option<String>,
    /// The open incident, once an event of it is on disk.
    pub incident: Option<IncidentView>,
    /// Timeline file of the open incident.
    pub timeline_path: Option<PathBuf>,
    /// Playbooks available.
    pub playbooks: Vec<Playbook>,
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
    /// A refusal waiting for a second ask in a row.
    pub pending_override: Option<Override>,
    /// Steps this engine ticked for a `done_by:` action (their events may not be back yet).
    pub auto_ticked: std::collections::BTreeSet<(Phase, String)>,
    /// The status-update due time already reminded of.
    pub reminded_for: Option<DateTime<Utc>>,
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
    /// Sources that are down, with why.
    pub sources_down: BTreeMap<String, String>,
    /// The latest time seen.
    pub now: DateTime<Utc>,
    /// Where the timeline dir is (shown in the header for the demo).
    pub timeline_dir: PathBuf,
    /// Events written by us that are not yet on disk (disk full, …), for the header.
    pub unsaved: usize,
    /// Open action items past their due date in the timeline dir's incidents, for the header.
    pub overdue_actions: usize,
    /// The team connection, when `team:` is configured.
    pub team: Option<crate::core::team::TeamStatus>,
    /// Who of the team is in (live presence records).
    pub present: Vec<crate::core::team::Presence>,
    /// The responder is writing a status update (told to the team).
    pub typing: bool,
    /// The paging lease, once the team has said who holds it.
    pub lease: Option<crate::core::team::Lease>,
    /// Signals fired while another `ic` held the paging lease, still firing
    /// (by detector and target): taken up if the lease comes here.
    pub deferred: BTreeMap<(String, String), Signal>,
    /// Signals this `ic` recorded firing (by detector and target): it also
    /// records how they go on, lease or not, so none stays firing for ever.
    pub recorded_here: std::collections::BTreeSet<(String, String)>,
    /// Where this `ic`'s probes run (`team.location`): `down` is then a
    /// verdict across locations (see `regions`).
    pub location: Option<String>,
    /// Every location's latest word on each endpoint.
    pub regions: crate::core::team::Regions,
    /// Locations heard from within this long count for a quorum.
    pub quorum_window: chrono::Duration,
    /// Endpoints down by the team's verdict now.
    pub quorum_down: std::collections::BTreeSet<String>,
    /// Endpoints this location's own detector holds down: since, evidence.
    pub local_down: BTreeMap<String, (DateTime<Utc>, String)>,
    /// The last "regional" note said per endpoint (said again only when it changes).
    pub regional_said: BTreeMap<String, String>,
    /// The open incidents last listed for the picker.
    pub incident_list: Vec<IncidentRow>,
    /// Set in a drill (`ic drill`): the incident it opens is marked so, with these answers.
    pub drill: Option<crate::core::payload::Drill>,
    /// When the last metric snapshot was taken.
    pub last_snapshot: Option<DateTime<Utc>>,
    /// Signals (detector, target) the open incident recorded as firing before this
    /// process took it over (a restart, a join): the fresh detectors' first fire of
    /// one of them goes on silently.
    pub resumed: std::collections::BTreeSet<(String, String)>,
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
    /// The service-down signal while most targets fail (see [`grouping`]).
    pub service_down: Option<Signal>,
    /// The onset of each firing signal, by (detector, target).
    pub onsets: BTreeMap<(String, String), DateTime<Utc>>,
    /// The page waiting for the rest of its burst: (since, the signals).
    pub pending_page: Option<(DateTime<Utc>, Vec<Signal>)>,
    /// The silence log's silences (`ic silence add`), as last read.
    pub silences: Vec<crate::core::silence::Silence>,
    /// The config's `maintenance:` windows.
    pub maintenance: Vec<crate::core::silence::Window>,
    /// Signals a silence holds, by (detector, target).
    pub held: BTreeMap<(String, String), silences::Held>,
    /// Silences already warned of as ending: (id, end).
    pub silence_warned: std::collections::BTreeSet<(String, DateTime<Utc>)>,
    /// Silences the open incident records: (`silence_added` or `silence_expired`, id).
    pub silence_marks: std::collections::BTreeSet<(Kind, String)>,
}

/// How long the team may be unreachable (or the lease unsaid) before this
/// `ic` pages on its own.
pub const OFFLINE_GRACE: chrono::Duration = chrono::Duration::seconds(20);

impl State {
    /// How `endpoint` looks from each location (`eu ✔ us ✘ ap ?`), with
    /// `team.location` set and word from another location heard.
    pub fn location_marks(&self, endpoint: &str) -> Option<String> {
        self.location.as_ref()?;
        let v = self.regions.verdict(endpoint, self.now, self.quorum_window);
        (v.heard.len() + v.unknown.len() > 1).then(|| v.marks())
    }

    /// Whether this `ic` opens incidents, writes the tool's signal records
    /// and pages: always without a team; with one, when it holds the paging
    /// lease, or while the team cannot say (offline, or not yet known) —
    /// a responder cut off from the team still gets paged.
    pub fn pages(&self) -> bool {
        let held_for = |since: Option<DateTime<Utc>>, grace: chrono::Duration| {
            since.is_none_or(|t| self.now - t >= grace)
        };
        match (&self.team, &self.lease) {
            (None, _) => true,
            // A blip of the server is not the team gone: the pager goes on
            // paging, the others start only after the grace.
            (Some(t), l) if !t.online => {
                l.as_ref().is_some_and(|l| l.ours) || held_for(t.offline_since, OFFLINE_GRACE)
            }
            // Online, the lease not said yet (it is within a second, unless its task cannot).
            (Some(t), None) => held_for(t.online_since, OFFLINE_GRACE),
            (_, Some(l)) => l.ours || l.holder.is_none(),
        }
    }

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
            environment: None,
            actor: actor.to_string(),
            settings,
            targets,
            selected: None,
            incident: None,
            timeline_path: None,
            playbooks,
            checks: HashMap::new(),
            banner: None,
            message: None,
            errors: Vec::new(),
            errors_dropped: 0,
            pending_override: None,
            auto_ticked: Default::default(),
            reminded_for: None,
            auto_open: true,
            running: None,
            outputs: HashMap::new(),
            dirty: true,
            quit: false,
            sources_down: BTreeMap::new(),
            now,
            timeline_dir,
            unsaved: 0,
            overdue_actions: 0,
            team: None,
            present: Vec::new(),
            typing: false,
            lease: None,
            deferred: BTreeMap::new(),
            recorded_here: Default::default(),
            location: None,
            regions: Default::default(),
            quorum_window: chrono::Duration::seconds(30),
            quorum_down: Default::default(),
            local_down: BTreeMap::new(),
            regional_said: BTreeMap::new(),
            incident_list: Vec::new(),
            drill: None,
            last_snapshot: None,
            resumed: std::collections::BTreeSet::new(),
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
            service_down: None,
            pending_page: None,
            onsets: BTreeMap::new(),
            silences: Vec::new(),
            maintenance: Vec::new(),
            held: BTreeMap::new(),
            silence_warned: Default::default(),
            silence_marks: Default::default(),
            stale: None,
            stale_after: chrono::Duration::hours(1),
            interactive: false,
        }
    }

    /// Whether an incident is open.
    pub fn incident_open(&self) -> bool {
        self.incident.as_ref().is_some_and(|i| i.state.is_open())
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
        self.selected
            .clone()
            .map(|t| (t, "the selected row".to_string()))
    }

    /// Drops what belonged to the incident on screen before another is
    /// switched to (a playbook choice under way, a proposal, the banner, a
    /// refusal waiting to be overridden).
    pub fn forget_incident(&mut self) {
        self.choosing = None;
        self.proposed_playbook = None;
        self.banner = None;
        self.banner_of = None;
        self.pending_override = None;
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
                .map_or(name.contains(' '), |t| t.kind() == SourceKind::Metrics);
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

    /// The steps of `phase` that apply at the current severity.
    pub fn steps_of(&self, phase: Phase) -> Vec<&playbook::Step> {
        let sev = self
            .incident
            .as_ref()
            .and_then(|i| i.state.current_severity());
        self.playbook()
            .map(|p| {
                p.phases
                    .of(phase)
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

    /// A step's title as the responder reads it (its text, shortened), not its id.
    pub fn step_title(&self, id: &str) -> String {
        let text = self
            .playbook()
            .and_then(|p| p.step(id))
            .map_or(id, |(_, s)| s.text.as_str());
        crate::core::text::ellipsis(text, 48)
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
        Msg::Do(intent) => on_intent(state, intent, &mut fx),
        Msg::Tick => on_tick(state, now, &mut fx),
        Msg::Probe(id, sample) => {
            let settings = state.settings;
            let (name, signals) = match state.targets.iter_mut().find(|t| t.id == id) {
                Some(t) => (t.name.clone(), t.on_probe(&sample, now, &settings)),
                None => (String::new(), Vec::new()),
            };
            let signals = if regions::enabled(state) && !name.is_empty() {
                regions::on_local_probe(state, &name, signals, &mut fx)
            } else {
                signals
            };
            for s in signals {
                on_signal(state, s, &mut fx);
            }
        }
        Msg::Views(source, views, at) => on_views(state, source, views, at, &mut fx),
        Msg::Lifetime(source, views) => {
            for v in views {
                let idx = route_target(state, &source, &v.route);
                let settings = state.settings;
                state.targets[idx].seed_lifetime(&v, &settings);
            }
        }
        Msg::History(source, minutes) => {
            let settings = state.settings;
            // One lookup per route, not per route and minute.
            let mut index: std::collections::HashMap<String, usize> = Default::default();
            for (at, views) in minutes {
                for v in views {
                    let idx = match index.get(&v.route) {
                        Some(i) => *i,
                        None => {
                            let i = route_target(state, &source, &v.route);
                            index.insert(v.route.clone(), i);
                            i
                        }
                    };
                    state.targets[idx].learn(&v, at, &settings);
                }
            }
        }
        Msg::SourceDown(source, why) => {
            state.sources_down.insert(source, why);
        }
        Msg::SourceUp(source) => {
            state.sources_down.remove(&source);
        }
        Msg::Signal(s) => on_signal(state, s, &mut fx),
        Msg::Silences(list) => state.silences = list,
        Msg::OverdueActions(n) => {
            if n > 0 && n != state.overdue_actions {
                state.say(format!(
                    "{n} overdue action item{} from past incidents: `ic actions --overdue` lists them",
                    if n == 1 { "" } else { "s" }
                ));
            }
            state.overdue_actions = n;
        }
        Msg::Team(status) => {
            let was = state.team.as_ref().map(|t| t.online);
            if was == Some(true) && !status.online {
                state.say("team: the server is unreachable; everything goes on here and is sent when it is back");
            } else if was == Some(false) && status.online {
                state.say("team: connected again");
            }
            state.team = Some(status);
            signals::take_up_deferred(state, &mut fx);
        }
        Msg::Present(people) => state.present = people,
        Msg::LocationSample(sample) => regions::on_remote(state, sample, &mut fx),
        Msg::IncidentList(rows) => {
            if rows.is_empty() {
                state.say("no open incident in the timeline directory");
            } else {
                fx.push(Effect::Ui(Notice::IncidentList));
            }
            state.incident_list = rows;
        }
        Msg::Lease(lease) => {
            let was = state.lease.as_ref().is_some_and(|l| l.ours);
            if lease.ours && !was && state.lease.is_some() {
                state.say("team: this ic now opens incidents and pages for the service");
            } else if !lease.ours && was {
                state.say(format!(
                    "team: {} now opens incidents and pages; this ic detects and shows",
                    lease.holder.as_deref().unwrap_or("another ic")
                ));
            }
            state.lease = Some(lease);
            signals::take_up_deferred(state, &mut fx);
        }
        // The runtime follows the timeline on these; the engine learns the events from it.
        Msg::TeamMerged | Msg::TeamIncident(_) => {}
        Msg::Appended(e) => on_appended(state, e, &mut fx),
        Msg::AppendFailed(why) => {
            state.unsaved = state.unsaved.max(1);
            state.say(format!("NOT SAVED (kept in memory, retrying): {why}"));
        }
        Msg::CommandDone(done) => on_command_done(state, *done, &mut fx),
        Msg::CommandNotRun(step, why) => {
            state.running = None;
            state.say(format!(
                "command for “{}” not run: {why}",
                state.step_title(&step)
            ));
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

/// The index of a metrics source's route target, created on first sight.
fn route_target(state: &mut State, source: &str, route: &str) -> usize {
    let found = state.targets.iter().position(
        |t| matches!(&t.id, TargetId::Route { source: s, route: r } if s == source && r == route),
    );
    found.unwrap_or_else(|| {
        state.targets.push(Target::route(source, route));
        state.targets.len() - 1
    })
}

/// Per-route views from a metrics source: new routes become targets, a
/// route missing from the exposition had no traffic.
fn on_views(
    state: &mut State,
    source: String,
    views: Vec<RouteView>,
    at: DateTime<Utc>,
    fx: &mut Vec<Effect>,
) {
    state.sources_down.remove(&source);
    let mut signals = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for v in views {
        let idx = route_target(state, &source, &v.route);
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
        on_signal(state, s, fx);
    }
}

/// A confirmed command ended: its record, and its step done when it succeeded.
fn on_command_done(state: &mut State, done: CommandDone, fx: &mut Vec<Effect>) {
    let CommandDone {
        step,
        summary,
        succeeded,
        finished,
    } = done;
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
            "command for “{}”: {summary} — the step stays open (Enter runs it again)",
            state.step_title(&step)
        ));
    } else {
        state.say(format!(
            "command for “{}”: {summary}",
            state.step_title(&step)
        ));
        if state.incident_open()
            && let Some((phase, _)) = state.playbook().and_then(|p| p.step(&step))
        {
            let verify = state.checks.get(&step).and_then(|c| c.1.clone());
            fx.push(step_event(state, phase, &step, true, verify.as_ref()));
        }
    }
}

fn on_appended(state: &mut State, e: Event, fx: &mut Vec<Effect>) {
    let ts = e.ts;
    let ours_resolved = e.kind == Kind::SignalResolved && e.actor == "ic";
    let resolution = e.kind == Kind::Lifecycle
        && matches!(e.payload(), Ok(crate::core::payload::Payload::Lifecycle(l))
            if l.stage == Some(crate::core::event::Stage::Resolved));
    if e.kind == Kind::IncidentOpened {
        state.silence_marks.clear();
    }
    silences::on_appended(state, &e);
    let view = state.incident.get_or_insert_with(IncidentView::default);
    view.state.apply(&e);
    let kind = e.kind;
    view.events.push(e);
    match kind {
        Kind::PhaseEntered => {
            if let Some(p) = view.state.phase {
                fx.push(Effect::Ui(Notice::Phase(p)));
            }
        }
        Kind::IncidentOpened => {
            fx.push(Effect::Ui(Notice::Phase(Phase::Detect)));
            state.checks.clear();
            state.auto_ticked.clear();
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
        // A drill resolved: its scorecard, at once (saved beside the timeline on quit).
        Kind::Lifecycle if resolution && view.state.drill.is_some() => {
            let cadence = crate::core::drill::cadence(&view.state, &state.playbooks);
            if let Some(card) = crate::core::drill::score(&view.state, cadence) {
                let said = crate::core::drill::summary(&card);
                state.say(format!(
                    "drill scorecard: {said} (saved beside the timeline on quit)"
                ));
            }
        }
        _ => {}
    }
    // A signal ended: what it did to its target is measured while the data is here.
    // With a team, the pager's ic measures (every ic reads the same resolution).
    if ours_resolved
        && state.pages()
        && let Some(d) = impact::measure(state)
    {
        fx.push(Effect::Append(d));
    }
    // Steps that tick themselves are ticked by one ic of the team: the pager's.
    if state.pages() {
        auto_tick(state, fx);
    }
}

fn on_tick(state: &mut State, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
    let mut signals = Vec::new();
    for t in &mut state.targets {
        t.tick(now, &state.settings);
        signals.extend(t.poll(now, &state.settings));
    }
    if regions::enabled(state) {
        // A `down` of this location (a resolution due by time) is its word, judged with the others'.
        let (down, rest): (Vec<Signal>, Vec<Signal>) = signals
            .into_iter()
            .partition(|s| s.kind == crate::core::signal::DetectorKind::Down);
        for s in down {
            let target = s.target.clone();
            let left = regions::on_local_probe(state, &target, vec![s], fx);
            debug_assert!(left.is_empty());
        }
        signals = rest;
        regions::on_tick(state, fx);
    }
    for s in signals {
        on_signal(state, s, fx);
    }
    signals::take_up_deferred(state, fx);
    silences::on_tick(state, fx);
    grouping::page_due(state, false, fx);
    // A metric snapshot a minute while an incident is open: the postmortem
    // counts the impact. With a team, the pager's ic writes them.
    if state.incident_open()
        && state.pages()
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
    update_reminder(state, now, fx);
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
        Some(Override::Resolve | Override::Close) if !state.incident_open() => true,
        Some(Override::Resolve) => {
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

fn on_intent(state: &mut State, intent: Intent, fx: &mut Vec<Effect>) {
    // A refusal waits for the very next ask: anything else in between drops it.
    let pending = match intent {
        Intent::Select(_) | Intent::Typing(_) | Intent::ListIncidents => state.pending_override,
        _ => state.pending_override.take(),
    };
    let again = |asked: bool, o: Override| asked && pending == Some(o);
    match intent {
        Intent::Submit(kind, text) => submit(state, kind, text.trim(), fx),
        Intent::Typing(on) => state.typing = on,
        Intent::ListIncidents => fx.push(Effect::ListIncidents),
        Intent::Switch(path) => {
            if state.timeline_path.as_deref() == Some(path.as_path()) && state.incident_open() {
                state.say("that incident is the one on screen");
            } else {
                fx.push(Effect::Switch(path));
            }
        }
        Intent::Severity(sev) => set_severity(state, sev, fx),
        Intent::Step { phase, id } => enter_step(state, phase, &id, fx),
        Intent::Run(plan) => confirm_run(state, *plan, fx),
        Intent::NextPhase { again: a } => next_phase(state, again(a, Override::NextPhase), fx),
        Intent::Resolve { again: a } => resolve(state, again(a, Override::Resolve), fx),
        Intent::Close { again: a } => close(state, again(a, Override::Close), fx),
        Intent::Acknowledge => acknowledge(state, fx),
        Intent::Snapshot => match snapshot(state, &state.actor) {
            Some(d) => {
                state.say(format!(
                    "snapshot recorded: {} (f filters the timeline to snapshots)",
                    d.msg
                ));
                fx.push(Effect::Append(d));
            }
            None => state.say("no traffic in the last minute: nothing to snapshot"),
        },
        Intent::RecordTriage => record_triage(state, fx),
        Intent::Undo { phase, id } => undo_step(state, phase, &id, fx),
        Intent::PrimaryTarget(name) => fx.push(Effect::Append(Draft::typed(
            Kind::TargetSelected,
            &state.actor,
            format!("primary target: {name}"),
            &payload::TargetSelected { target: name },
        ))),
        Intent::SwitchPlaybook => match state.proposed_playbook.take() {
            Some(id) => fx.push(Effect::Append(Draft::typed(
                Kind::PlaybookSelected,
                &state.actor,
                format!("playbook {id} (switched by {})", state.actor),
                &payload::PlaybookSelected { playbook: id },
            ))),
            None => state.say("no other playbook is proposed"),
        },
        Intent::Postmortem => fx.push(Effect::WritePostmortem),
        Intent::Select(name) => state.selected = name,
        Intent::Dismiss => state.message = None,
        Intent::Quit => {
            state.quit = true;
            fx.push(Effect::Quit);
        }
        Intent::Stale(answer) => {
            let Some((path, last)) = state.stale.take() else {
                return;
            };
            match answer {
                StaleAnswer::Resume => fx.push(Effect::ResumeStale(path)),
                StaleAnswer::Close => fx.push(Effect::CloseStale(path, last)),
                StaleAnswer::Leave => state.say(format!(
                    "left {} open; new signals open a new incident (ic event -t FILE -k close closes it)",
                    path.display()
                )),
            }
        }
    }
}

fn acknowledge(state: &mut State, fx: &mut Vec<Effect>) {
    match state
        .incident
        .as_ref()
        .and_then(|i| i.state.lifecycle.get(Stage::Acknowledged.as_str()))
    {
        Some(at) => state.say(format!(
            "already acknowledged at {}",
            at.format("%H:%M:%S UTC")
        )),
        None => fx.push(Effect::Append(Command::Acknowledge.draft(
            &state.actor,
            state.now,
            None,
        ))),
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
        fx.push(Effect::Ui(Notice::Refused(kind, text.to_string())));
        state.say(format!(
            "not written: {} bytes is more than a timeline line may hold ({INPUT_LIMIT} bytes); shorten it",
            text.len()
        ));
        return;
    }
    let command = match grammar::parse(kind, text, crate::clock::local_date(state.now)) {
        Ok(c) => c,
        Err(e) => {
            // Kept in the input so it can be corrected, not retyped.
            fx.push(Effect::Ui(Notice::Refused(kind, text.to_string())));
            state.say(format!("not written: {e}"));
            return;
        }
    };
    if let Command::ActionDone { item, note } = &command {
        action_done(state, item, note, fx);
        return;
    }
    ensure_open(state, fx, "incident");
    let next = state
        .incident
        .as_ref()
        .map_or_else(|| "h1".to_string(), |i| i.state.next_hypothesis_id());
    let mut draft = command.draft(&state.actor, state.now, Some(&next));
    // A role someone else holds is handed over: said so, for everyone to see.
    if let Command::Role { role, person } = &command
        && let Some(held) = state
            .incident
            .as_ref()
            .and_then(|i| i.state.roles.get(role))
            .filter(|h| !h.is_empty() && *h != person)
    {
        draft.msg = if person.is_empty() {
            format!("{role}: {held} → nobody")
        } else {
            format!("{role}: {held} → {person}")
        };
    }
    fx.push(Effect::Append(draft));
    if let Command::StatusUpdate { text } = command {
        fx.push(Effect::SendComms(text));
    }
}

/// The action item `name` (its id or short id) of the open incident done:
/// recorded with its whole id; one of another incident, an unknown id or an
/// item already done is said, not written.
fn action_done(state: &mut State, name: &str, note: &str, fx: &mut Vec<Effect>) {
    let items = state
        .incident
        .as_ref()
        .filter(|_| state.incident_open())
        .map(|i| i.state.action_items.as_slice())
        .unwrap_or_default();
    let Some(item) = items.iter().find(|a| a.is_named(name)) else {
        fx.push(Effect::Ui(Notice::Refused(
            InputKind::ActionDone,
            format!("{name} {note}"),
        )));
        state.say(format!(
            "no action item `{}` in this incident: `ic actions` lists every incident's, `ic event -k action-done ID` closes one of a past incident",
            crate::core::text::escape(name)
        ));
        return;
    };
    if let Some(done) = &item.done {
        state.say(format!(
            "action item {} is already done ({} by {})",
            item.short_id().unwrap_or_default(),
            done.at.format("%Y-%m-%d %H:%M"),
            crate::core::text::escape(&done.actor)
        ));
        return;
    }
    let Some(id) = item
        .id
        .as_deref()
        .and_then(|i| crate::core::event::EventId::parse(i).ok())
    else {
        state.say("that action item has no id (written by an older version): it cannot be closed");
        return;
    };
    let note = if note.is_empty() {
        format!("done: {}", item.text)
    } else {
        note.to_string()
    };
    fx.push(Effect::Append(Draft::action_done(&state.actor, &id, &note)));
}

/// `y` in the command dialog: the request the runtime records and runs.
fn confirm_run(state: &mut State, dialog: RunPlan, fx: &mut Vec<Effect>) {
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
            "running `{}` (step “{}”, confirmed by {actor})",
            one_line(&command),
            state.step_title(&dialog.step)
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

/// Records the triage summary (once per minute at most: `T` pressed twice
/// does not write it twice).
fn record_triage(state: &mut State, fx: &mut Vec<Effect>) {
    if !state.incident_open() {
        return;
    }
    let summary = triage::summary(state);
    let last = state.incident.as_ref().and_then(|i| {
        i.state
            .notes
            .iter()
            .rev()
            .find(|n| n.tags.iter().any(|t| t == "triage"))
            .map(|n| n.at)
    });
    if last.is_some_and(|at| (state.now - at).num_seconds() < 60) {
        return;
    }
    // Written by ic (it composed it), so recording it is not anyone's acknowledgement.
    let text = format!("{} (shown to {})", summary.text(), state.actor);
    fx.push(Effect::Append(Draft::note("ic", &text, &["triage"])));
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
