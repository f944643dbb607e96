//! Incident state as a fold over timeline events: phase, severity and its
//! history, roles, checklist progress, the assumption ledger, action items,
//! lifecycle timestamps and the figures derived from them (time to detect,
//! acknowledge, mitigate, resolve; impact). Resuming after a crash is folding
//! the file again. Pure.

use crate::core::event::{Event, Kind, Phase, Priority, Severity, Stage};
use crate::core::payload::{self, Payload};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Actors that are the tool, not a person (their actions do not acknowledge).
pub const TOOL_ACTORS: [&str; 2] = ["ic", "ic watch"];

/// Whether `actor` is a tool or automation rather than a person: `ic` itself,
/// CI (`ci`, `ci:deploy`, `github-actions`), bots (`deploy[bot]`, `bot:x`).
/// Their events never count as an acknowledgement.
pub fn is_automation(actor: &str) -> bool {
    let a = actor.trim().to_ascii_lowercase();
    TOOL_ACTORS.contains(&a.as_str())
        || a.starts_with("ic ")
        || a == "ci"
        || a.starts_with("ci:")
        || a.starts_with("ci/")
        || a.starts_with("bot:")
        || a.ends_with("[bot]")
        || a == "github-actions"
        || a == "gitlab-ci"
        || a == "jenkins"
}

/// A severity decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeverityChange {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// To what.
    pub severity: Severity,
    /// Why.
    pub reason: String,
}

/// A playbook step's record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// Done (true) or skipped.
    pub done: bool,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// The verify result, when the step checked itself.
    pub verify: Option<Value>,
}

/// Where a hypothesis stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HypothesisStatus {
    /// Not decided.
    Open,
    /// Confirmed.
    Confirmed,
    /// Ruled out.
    RuledOut,
}

/// One piece of evidence in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// For (true) or against.
    pub supports: bool,
    /// What was seen.
    pub text: String,
    /// Who saw it.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A hypothesis in the assumption ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hypothesis {
    /// Short id (`h1`, …).
    pub id: String,
    /// The claim.
    pub text: String,
    /// Who raised it.
    pub actor: String,
    /// Where it stands.
    pub status: HypothesisStatus,
    /// Evidence for and against.
    pub evidence: Vec<Evidence>,
    /// When it was raised.
    pub raised: DateTime<Utc>,
    /// When it was confirmed or ruled out (the latest verdict).
    pub decided: Option<DateTime<Utc>>,
}

/// Follow-up work.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionItem {
    /// Its event's id (`None` for an item written by a version before ids):
    /// what `ic event -k action-done` names.
    pub id: Option<String>,
    /// What.
    pub text: String,
    /// Who owns it.
    pub owner: String,
    /// By when (free text, usually a date).
    pub due: Option<String>,
    /// `P1`…`P3`, if set (anything else written by hand is dropped).
    pub priority: Option<Priority>,
    /// When it was recorded.
    pub created: DateTime<Utc>,
    /// When it was done, by whom and what they said (`None`: still open).
    pub done: Option<Entry>,
}

/// The short id of event id `id`: its last 8 hex digits (a UUID v7's random
/// part), lower case; `None` without any.
pub fn short_id(id: &str) -> Option<String> {
    let hex: String = id.chars().filter(char::is_ascii_hexdigit).collect();
    let tail = hex.get(hex.len().saturating_sub(8)..).unwrap_or(&hex);
    (!tail.is_empty()).then(|| tail.to_ascii_lowercase())
}

impl ActionItem {
    /// The short id people type: the last 8 hex digits of the event id (its
    /// random part), or `None` without an id.
    pub fn short_id(&self) -> Option<String> {
        short_id(self.id.as_deref()?)
    }

    /// Whether `name` names it: its whole id, or its short id.
    pub fn is_named(&self, name: &str) -> bool {
        let name = name.trim();
        !name.is_empty()
            && (self.id.as_deref() == Some(name)
                || self
                    .short_id()
                    .is_some_and(|s| s.eq_ignore_ascii_case(name)))
    }

    /// The due date, when `due` is one (`YYYY-MM-DD`).
    pub fn due_date(&self) -> Option<chrono::NaiveDate> {
        self.due.as_deref().and_then(crate::core::grammar::due_date)
    }

    /// Open with its due date before `today`.
    pub fn is_overdue(&self, today: chrono::NaiveDate) -> bool {
        self.done.is_none() && self.due_date().is_some_and(|d| d < today)
    }
}

/// What a detector said about one target during the incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalRecord {
    /// Detector kind (`error_rate`, …).
    pub detector: String,
    /// Endpoint or route.
    pub target: String,
    /// First time it fired.
    pub first_fired: DateTime<Utc>,
    /// Estimated start of the anomaly.
    pub started: Option<DateTime<Utc>>,
    /// Latest evidence.
    pub evidence: String,
    /// Still firing.
    pub firing: bool,
    /// When it last resolved.
    pub resolved: Option<DateTime<Utc>>,
    /// The estimated end of the anomaly when it last resolved (the last bad
    /// second; its resolution comes later, after the data held).
    pub ended: Option<DateTime<Utc>>,
    /// How many times it fired (more than once: it flapped or came back).
    pub episodes: u32,
}

/// A timestamped line of text (notes, comms) with who wrote it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What.
    pub text: String,
    /// Tags (notes: `went_well`, `went_poorly`, …; changes: the change kind).
    pub tags: Vec<String>,
}

/// A command a playbook step ran, from its `command_started` and
/// `command_finished` events (or an older version's single `command_run`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandRecord {
    /// The `seq` of its `command_started` event.
    pub run: Option<u64>,
    /// The step it belonged to.
    pub step: Option<String>,
    /// When it was confirmed and recorded, just before it started.
    pub started: Option<DateTime<Utc>>,
    /// When it ended; `None` while it runs, or when `ic` stopped before
    /// recording its end (killed): see `unfinished`.
    pub ended: Option<DateTime<Utc>>,
    /// Who confirmed it.
    pub actor: String,
    /// The command as handed to `sh -c` (redacted).
    pub command: String,
    /// Exit code, if it exited.
    pub exit_code: Option<i64>,
    /// How long it ran.
    pub duration_ms: Option<u64>,
    /// How it ended, in words: `exit 0`, `timed out`, `cancelled`, `killed by signal 9`.
    pub outcome: String,
    /// Output excerpt (redacted, capped).
    pub output: String,
}

impl CommandRecord {
    /// Whether it started and no end was recorded.
    pub fn unfinished(&self) -> bool {
        self.started.is_some() && self.ended.is_none()
    }
}

/// One target's numbers in a metric snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotRow {
    /// When.
    pub at: DateTime<Utc>,
    /// Endpoint or route.
    pub target: String,
    /// Error ratio then.
    pub error_ratio: Option<f64>,
    /// Failed requests since the previous snapshot.
    pub failed: Option<u64>,
    /// Requests per second then.
    pub rps: Option<f64>,
    /// p95 latency then, milliseconds.
    pub p95_ms: Option<f64>,
}

/// Time spans derived from the lifecycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Detected − impact start.
    pub time_to_detect: Option<Duration>,
    /// Acknowledged − detected.
    pub time_to_acknowledge: Option<Duration>,
    /// Mitigated − impact start.
    pub time_to_mitigate: Option<Duration>,
    /// Impact ended − impact start.
    pub duration_of_impact: Option<Duration>,
    /// Resolved − impact start.
    pub time_to_resolve: Option<Duration>,
}

/// What the incident did to one target, measured from the data by the `ic`
/// that watched it (an `impact_measured` event).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TargetImpact {
    /// The target: a metrics route when one serves the same URL as a probe.
    pub target: String,
    /// Other names of the same target (the probe of the route's URL).
    pub also: Vec<String>,
    /// Requests between impact start and end.
    pub requests: u64,
    /// Failed requests (5xx, or failed probes for a probe-only target) in that span.
    pub failed: u64,
    /// Worst error ratio over a 30-s window in that span.
    pub peak_error_ratio: Option<f64>,
    /// p95 in the minutes before the impact, in the impact, and after it (ms).
    pub p95_before_ms: Option<f64>,
    /// p95 during the impact (the median of its 30-s p95s).
    pub p95_during_ms: Option<f64>,
    /// p95 after the impact ended.
    pub p95_after_ms: Option<f64>,
    /// The target's impact start (earliest onset of its signals).
    pub started: Option<DateTime<Utc>>,
    /// The target's impact end (`None` while still firing).
    pub ended: Option<DateTime<Utc>>,
    /// The onset is the first data `ic` had: the impact began before `ic` started.
    pub began_before_ic: bool,
    /// When it was measured (the event's time).
    pub measured_at: Option<DateTime<Utc>>,
}

/// Who and what was hurt.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Impact {
    /// Failed requests of the affected targets between impact start and end
    /// (from counter deltas; older timelines: metric snapshots).
    pub failed_requests: Option<u64>,
    /// Targets whose own signal fired (a probe and the route of its URL are one).
    pub affected: BTreeSet<String>,
    /// Worst 30-s error ratio of an affected target.
    pub peak_error_ratio: Option<f64>,
    /// Per affected target.
    pub targets: Vec<TargetImpact>,
}

/// The state of one incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Incident {
    /// Its global identity: the id of its `incident_opened` event (the
    /// subject it is shared under with the team).
    #[serde(skip)]
    pub id: Option<crate::core::event::EventId>,
    /// Title.
    pub title: String,
    /// Set when it is a drill, with what the drill expects found.
    pub drill: Option<payload::Drill>,
    /// Service.
    pub service: String,
    /// When the incident was opened.
    pub opened: Option<DateTime<Utc>>,
    /// When it was closed.
    pub closed: Option<DateTime<Utc>>,
    /// Current phase.
    pub phase: Option<Phase>,
    /// Every phase entered: (phase, when, by whom, overridden open steps).
    pub phases: Vec<(Phase, DateTime<Utc>, String, bool)>,
    /// Severity history, oldest first.
    pub severity: Vec<SeverityChange>,
    /// Role → person.
    pub roles: BTreeMap<String, String>,
    /// The playbook in use.
    pub playbook: Option<String>,
    /// (phase, step id) → record; the latest decision counts.
    pub steps: BTreeMap<(String, String), StepRecord>,
    /// The assumption ledger.
    pub hypotheses: Vec<Hypothesis>,
    /// Action items.
    pub action_items: Vec<ActionItem>,
    /// Lifecycle timestamps set explicitly (the latest event of a stage wins).
    pub lifecycle: BTreeMap<&'static str, DateTime<Utc>>,
    /// (detector, target) → what it said.
    pub signals: BTreeMap<(String, String), SignalRecord>,
    /// Blips seen while it was open (faults healed within `detect.min_duration`,
    /// never paged): (when, detector, target), in file order.
    pub blips: Vec<(DateTime<Utc>, String, String)>,
    /// Silences in force while it was open, their ends and the signals they
    /// held, in file order (tag: the silence's id).
    pub silences: Vec<Entry>,
    /// Commands run (or running), in the order they started.
    pub commands: Vec<CommandRecord>,
    /// The target `{target}` means: the first signal's, or the one a responder chose.
    pub primary_target: Option<String>,
    /// Who chose the primary target, and when (`None`: the first signal's).
    pub primary_target_by: Option<(String, DateTime<Utc>)>,
    /// Status updates sent.
    pub comms: Vec<Entry>,
    /// Notes.
    pub notes: Vec<Entry>,
    /// Deploys, config changes, flags.
    pub changes: Vec<Entry>,
    /// Root cause: (technical, process).
    pub root_cause: Option<(String, String)>,
    /// Per-target numbers from metric snapshots.
    pub snapshots: Vec<SnapshotRow>,
    /// (run, target) → the latest impact measured by that run of `ic`.
    pub measured: BTreeMap<(String, String), TargetImpact>,
    /// First action by a person after opening.
    pub first_human_action: Option<DateTime<Utc>>,
    /// Events whose payload could not be read (seq, why).
    pub problems: Vec<(u64, String)>,
}

impl Incident {
    /// Folds `events` (file order) into a state.
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> Incident {
        let mut state = Incident::default();
        for e in events {
            state.apply(e);
        }
        state
    }

    /// Applies one event: notes a person's first deliberate action, then
    /// hands the event to what its kind changes.
    pub fn apply(&mut self, e: &Event) {
        if self.opened.is_some()
            && self.first_human_action.is_none()
            && deliberate(e.kind)
            && !is_automation(&e.actor)
        {
            self.first_human_action = Some(e.ts);
        }
        if e.kind == Kind::Unknown {
            return;
        }
        // Data that is no object reads as data without fields, as it always has:
        // each kind then notes what it misses.
        let payload = e.payload().unwrap_or_else(|_| Payload::empty(e.kind));
        match payload {
            Payload::Opened(p) => self.apply_opened(e, p),
            Payload::Closed(_) => self.closed = Some(e.ts),
            Payload::Signal(p) => self.apply_signal(e, p),
            Payload::Severity(p) => self.apply_severity(e, p),
            Payload::Role(p) => self.apply_role(e, p),
            Payload::Phase(p) => self.apply_phase(e, p),
            Payload::Playbook(p) => self.playbook = Some(p.playbook),
            Payload::Step(p) => self.apply_step(e, p),
            Payload::Note(p) => self.notes.push(Entry {
                at: e.ts,
                actor: e.actor.clone(),
                text: e.msg.clone(),
                tags: p.tags,
            }),
            Payload::HypothesisAdded(p) => self.apply_hypothesis_added(e, p),
            Payload::Evidence(p) => self.apply_evidence(e, p),
            Payload::Verdict(p) => self.apply_verdict(e, p),
            Payload::CommandFinished(p) => self.apply_command_finished(e, p),
            Payload::CommandStarted(p) => self.apply_command_started(e, p),
            Payload::TargetSelected(p) => self.apply_target_selected(e, p),
            Payload::Comms(p) => self.comms.push(Entry {
                at: e.ts,
                actor: e.actor.clone(),
                text: p.text.unwrap_or_else(|| e.msg.clone()),
                tags: Vec::new(),
            }),
            Payload::MetricSnapshot(p) => self.apply_metric_snapshot(e, p),
            Payload::ImpactMeasured(p) => self.apply_impact_measured(e, p),
            Payload::Change(p) => self.changes.push(Entry {
                at: e.ts,
                actor: e.actor.clone(),
                text: e.msg.clone(),
                tags: [p.change, p.version.unwrap_or_default()]
                    .into_iter()
                    .filter(|t| !t.is_empty())
                    .collect(),
            }),
            Payload::ActionItem(p) => self.action_items.push(ActionItem {
                id: e.id.as_ref().map(|i| i.as_str().to_string()),
                text: p.text.unwrap_or_else(|| e.msg.clone()),
                owner: p.owner,
                due: p.due,
                priority: p.priority.as_deref().and_then(Priority::parse),
                created: e.ts,
                done: None,
            }),
            Payload::ActionDone(p) => {
                // Only an item of this timeline, and the first `done` counts.
                if let Some(item) = self
                    .action_items
                    .iter_mut()
                    .find(|a| a.id.as_deref() == Some(p.item.as_str()) && a.done.is_none())
                {
                    item.done = Some(Entry {
                        at: e.ts,
                        actor: e.actor.clone(),
                        text: e.msg.clone(),
                        tags: Vec::new(),
                    });
                }
            }
            Payload::Lifecycle(p) => self.apply_lifecycle(e, p),
            Payload::RootCause(p) => self.root_cause = Some((p.technical, p.process)),
            Payload::SilenceAdded(payload::SilenceAdded { silence, .. })
            | Payload::SilenceExpired(payload::SilenceExpired { silence })
            | Payload::SignalSilenced(payload::SignalSilenced { silence, .. }) => {
                self.silences.push(Entry {
                    at: e.ts,
                    actor: e.actor.clone(),
                    text: e.msg.clone(),
                    tags: vec![silence]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect(),
                });
            }
            Payload::Unknown(_) => {}
        }
    }

    /// `incident_opened`: the first one sets the title, service and start;
    /// a later one changes nothing.
    fn apply_opened(&mut self, e: &Event, p: payload::Opened) {
        if self.opened.is_none() {
            self.opened = Some(e.ts);
            self.id = e.id.clone();
            self.title = p.title;
            self.service = p.service;
            self.drill = p.drill;
            self.phase.get_or_insert(Phase::Detect);
        }
    }

    /// `signal_fired`, `signal_updated`, `signal_resolved`: the record of the
    /// (detector, target) pair; the first signal fired names the primary target.
    fn apply_signal(&mut self, e: &Event, p: payload::SignalData) {
        let key = (p.detector, p.target);
        if key.0.is_empty() || key.1.is_empty() {
            self.problems
                .push((e.seq, "signal without `detector` and `target`".into()));
            return;
        }
        // A blip is on record, and is no signal: nothing fired.
        if e.kind == Kind::SignalBlip {
            self.blips.push((e.ts, key.0, key.1));
            return;
        }
        let rec = self
            .signals
            .entry(key.clone())
            .or_insert_with(|| SignalRecord {
                detector: key.0.clone(),
                target: key.1.clone(),
                first_fired: e.ts,
                started: None,
                evidence: String::new(),
                firing: false,
                resolved: None,
                ended: None,
                episodes: 0,
            });
        rec.evidence = p.evidence;
        if e.kind == Kind::SignalFired {
            rec.episodes += 1;
        }
        if self.primary_target.is_none() && e.kind == Kind::SignalFired {
            self.primary_target = Some(key.1.clone());
        }
        // The earliest onset of any episode (an update may refine it).
        if let Some(started) = p.started {
            rec.started = Some(rec.started.map_or(started, |s| s.min(started)));
        }
        rec.firing = e.kind != Kind::SignalResolved;
        if e.kind == Kind::SignalResolved {
            rec.resolved = Some(e.ts);
            // Older files have no `ended`: the resolution is the best there is.
            rec.ended = Some(p.ended.unwrap_or(e.ts).min(e.ts));
        }
    }

    /// `severity_set`: a new entry in the severity history.
    fn apply_severity(&mut self, e: &Event, p: payload::SeveritySet) {
        match p.severity {
            Some(sev) => self.severity.push(SeverityChange {
                at: e.ts,
                actor: e.actor.clone(),
                severity: sev,
                reason: p.reason,
            }),
            None => self
                .problems
                .push((e.seq, "severity_set without a SEV-1..4 `severity`".into())),
        }
    }

    /// `role_assigned`: gives a role to a person, or frees it (no person).
    fn apply_role(&mut self, e: &Event, p: payload::RoleAssigned) {
        let (role, person) = (p.role, p.person);
        if role.is_empty() {
            self.problems
                .push((e.seq, "role_assigned without `role`".into()));
        } else if person.is_empty() {
            self.roles.remove(&role);
        } else {
            self.roles.insert(role, person);
        }
    }

    /// `phase_entered`: the current phase, and the phase history.
    fn apply_phase(&mut self, e: &Event, p: payload::PhaseEntered) {
        match p.phase {
            Some(phase) => {
                self.phase = Some(phase);
                self.phases.push((phase, e.ts, e.actor.clone(), p.forced));
            }
            None => self
                .problems
                .push((e.seq, "phase_entered without a known `phase`".into())),
        }
    }

    /// `step_done`, `step_skipped`: the step's record (the latest decision
    /// counts); `step_undone` opens the step again.
    fn apply_step(&mut self, e: &Event, p: payload::StepData) {
        if p.step.is_empty() {
            self.problems
                .push((e.seq, "step event without `step`".into()));
            return;
        }
        if e.kind == Kind::StepUndone {
            self.steps.remove(&(p.phase, p.step));
            return;
        }
        self.steps.insert(
            (p.phase, p.step),
            StepRecord {
                done: e.kind == Kind::StepDone,
                at: e.ts,
                actor: e.actor.clone(),
                verify: p.verify,
            },
        );
    }

    /// `hypothesis_added`: a new open hypothesis in the ledger (`h<n>` when
    /// the event gives no id). Two writers may claim the same id (the view
    /// and `ic event`, or two responders, at the same moment): the later one
    /// gets the next free id, and the clash is noted as a problem.
    fn apply_hypothesis_added(&mut self, e: &Event, p: payload::HypothesisAdded) {
        let id = match p.id {
            Some(id) if !id.is_empty() && !self.hypotheses.iter().any(|h| h.id == id) => id,
            Some(id) if !id.is_empty() => {
                let fresh = self.next_hypothesis_id();
                self.problems.push((
                    e.seq,
                    format!(
                        "a second hypothesis claims `{id}`: this one is `{fresh}` in the ledger"
                    ),
                ));
                fresh
            }
            _ => self.next_hypothesis_id(),
        };
        self.hypotheses.push(Hypothesis {
            id,
            text: p.text.unwrap_or_else(|| e.msg.clone()),
            actor: e.actor.clone(),
            status: HypothesisStatus::Open,
            evidence: Vec::new(),
            raised: e.ts,
            decided: None,
        });
    }

    /// The id a new hypothesis gets: `h<n>`, the first not taken from the
    /// ledger's length on.
    pub fn next_hypothesis_id(&self) -> String {
        let mut n = self.hypotheses.len() + 1;
        while self.hypotheses.iter().any(|h| h.id == format!("h{n}")) {
            n += 1;
        }
        format!("h{n}")
    }

    /// The hypothesis `id` an event names, or `None` and a problem noted.
    fn hypothesis_named(&mut self, e: &Event, id: &str) -> Option<&mut Hypothesis> {
        let found = self.hypotheses.iter().position(|h| h.id == id);
        if found.is_none() {
            self.problems
                .push((e.seq, format!("no hypothesis `{id}` in the ledger")));
        }
        self.hypotheses.get_mut(found?)
    }

    /// `evidence_added`: the hypothesis the event names gains evidence.
    fn apply_evidence(&mut self, e: &Event, p: payload::EvidenceAdded) {
        // For or against must be said as such: `"no"` or `0` is not silently "for".
        if e.data
            .get("supports")
            .is_some_and(|v| !v.is_boolean() && !v.is_null())
        {
            self.problems.push((
                e.seq,
                format!(
                    "evidence for `{}` says neither for nor against (`supports` is not true or false): not counted",
                    p.hypothesis
                ),
            ));
            return;
        }
        if let Some(h) = self.hypothesis_named(e, &p.hypothesis) {
            h.evidence.push(Evidence {
                supports: p.supports.unwrap_or(true),
                text: p.text.unwrap_or_else(|| e.msg.clone()),
                actor: e.actor.clone(),
                at: e.ts,
            });
        }
    }

    /// `hypothesis_confirmed`, `hypothesis_ruled_out`: the hypothesis the
    /// event names gains a verdict.
    fn apply_verdict(&mut self, e: &Event, p: payload::Verdict) {
        if let Some(h) = self.hypothesis_named(e, &p.hypothesis) {
            h.status = if e.kind == Kind::HypothesisConfirmed {
                HypothesisStatus::Confirmed
            } else {
                HypothesisStatus::RuledOut
            };
            h.decided = Some(e.ts);
        }
    }

    /// `command_finished` (or an older version's single `command_run`): the
    /// end of the command its `run` names.
    fn apply_command_finished(&mut self, e: &Event, p: payload::CommandFinished) {
        let outcome = command_outcome(&p);
        let rec = self.command_to_finish(e, &p);
        rec.ended = Some(e.ts);
        rec.exit_code = p.exit_code;
        rec.duration_ms = p.duration_ms;
        rec.outcome = outcome;
        rec.output = p.output;
    }

    /// The still-running command started as `run`, or else a new record for
    /// the command `e` describes (a `command_finished` whose start is missing
    /// is also noted as a problem).
    fn command_to_finish(&mut self, e: &Event, p: &payload::CommandFinished) -> &mut CommandRecord {
        let run = p.run;
        let known = run.and_then(|r| {
            self.commands
                .iter()
                .position(|c| c.run == Some(r) && c.ended.is_none())
        });
        let i = match known {
            Some(i) => i,
            None => {
                if e.kind == Kind::CommandFinished && run.is_some() {
                    self.problems
                        .push((e.seq, "command_finished without its command_started".into()));
                }
                self.commands.push(CommandRecord {
                    run,
                    step: p.step.clone(),
                    started: None,
                    ended: None,
                    actor: p.confirmed_by.clone().unwrap_or_else(|| e.actor.clone()),
                    command: p.command.clone(),
                    exit_code: None,
                    duration_ms: None,
                    outcome: String::new(),
                    output: String::new(),
                });
                self.commands.len() - 1
            }
        };
        &mut self.commands[i]
    }

    /// `command_started`: a running command, its run named by the event's `seq`.
    fn apply_command_started(&mut self, e: &Event, p: payload::CommandStarted) {
        self.commands.push(CommandRecord {
            run: Some(e.seq),
            step: p.step,
            started: Some(e.ts),
            ended: None,
            actor: p.confirmed_by.unwrap_or_else(|| e.actor.clone()),
            command: p.command,
            exit_code: None,
            duration_ms: None,
            outcome: String::new(),
            output: String::new(),
        });
    }

    /// `target_selected`: the primary target a responder chose, and who chose it.
    fn apply_target_selected(&mut self, e: &Event, p: payload::TargetSelected) {
        if p.target.is_empty() {
            self.problems
                .push((e.seq, "target_selected without `target`".into()));
        } else {
            self.primary_target = Some(p.target);
            self.primary_target_by = Some((e.actor.clone(), e.ts));
        }
    }

    /// `metric_snapshot`: one row per target it lists.
    fn apply_metric_snapshot(&mut self, e: &Event, p: payload::MetricSnapshot) {
        for t in p.targets {
            self.snapshots.push(SnapshotRow {
                at: e.ts,
                target: t.target,
                error_ratio: t.error_ratio,
                failed: t.failed,
                rps: t.rps,
                p95_ms: t.p95_ms,
            });
        }
    }

    /// `impact_measured`: each target's row replaces the earlier measure by
    /// the same run of `ic`; a row without a target is noted as a problem.
    fn apply_impact_measured(&mut self, e: &Event, p: payload::ImpactMeasured) {
        for t in p.targets {
            let Some(row) = measured_row(t, e.ts) else {
                self.problems
                    .push((e.seq, "impact_measured row without `target`".into()));
                continue;
            };
            self.measured
                .insert((p.run.clone(), row.target.clone()), row);
        }
    }

    /// `lifecycle`: a stage's time set by hand (the latest event of a stage wins).
    fn apply_lifecycle(&mut self, e: &Event, p: payload::Lifecycle) {
        match (p.stage, p.at) {
            // A person takes an incident: the tool, CI or a bot never does.
            (Some(Stage::Acknowledged), Some(_)) if is_automation(&e.actor) => {
                self.problems.push((
                    e.seq,
                    format!(
                        "`{}` is the tool or automation: its acknowledgement does not count",
                        e.actor
                    ),
                ));
            }
            (Some(stage), Some(at)) => {
                self.lifecycle.insert(stage.as_str(), at);
            }
            _ => self.problems.push((
                e.seq,
                "lifecycle needs a known `stage` and an RFC 3339 `at`".into(),
            )),
        }
    }

    /// Whether the incident is open.
    pub fn is_open(&self) -> bool {
        self.opened.is_some() && self.closed.is_none()
    }

    /// The current severity.
    pub fn current_severity(&self) -> Option<Severity> {
        self.severity.last().map(|s| s.severity)
    }

    /// A lifecycle timestamp: set explicitly (the latest `lifecycle` event of
    /// the stage: a person's correction), or derived from the data —
    /// - impact started: the earliest estimated onset of a signal;
    /// - detected: the first signal (or the opening);
    /// - acknowledged: the first deliberate action of a person (never `ic`, CI or a bot);
    /// - impact ended: once no signal fires, the latest estimated end of one;
    /// - mitigated: the impact's end (the mitigation before it is `mitigation()`);
    /// - resolved: a responder's declaration (older files: the closing).
    pub fn stage(&self, stage: Stage) -> Option<DateTime<Utc>> {
        if let Some(t) = self.lifecycle.get(stage.as_str()) {
            return Some(*t);
        }
        match stage {
            Stage::ImpactStarted => self
                .signals
                .values()
                .filter_map(|s| s.started.or(Some(s.first_fired)))
                .min()
                .or_else(|| self.stage(Stage::Detected)),
            Stage::Detected => self
                .signals
                .values()
                .map(|s| s.first_fired)
                .min()
                .or(self.opened),
            Stage::Acknowledged => self.first_human_action,
            Stage::ImpactEnded | Stage::Mitigated => {
                if self.signals.is_empty() || self.signals.values().any(|s| s.firing) {
                    return None;
                }
                let end = self.signals.values().filter_map(|s| s.ended).max()?;
                // A correction of the start after the derived end is not an impact of minus length.
                Some(end.max(self.stage(Stage::ImpactStarted).unwrap_or(end)))
            }
            Stage::Resolved => self.closed,
        }
    }

    /// What most likely ended the impact: the last command that succeeded, or
    /// else the last change marker, between impact start and impact end; with when.
    pub fn mitigation(&self) -> Option<(DateTime<Utc>, String)> {
        let from = self.stage(Stage::ImpactStarted)?;
        let to = self.stage(Stage::ImpactEnded)?;
        let inside = |t: DateTime<Utc>| t >= from && t <= to;
        let command = self
            .commands
            .iter()
            .filter(|c| c.exit_code == Some(0))
            .filter_map(|c| Some((c.started.or(c.ended)?, c)))
            .filter(|(t, _)| inside(*t))
            .max_by_key(|(t, _)| *t)
            .map(|(t, c)| {
                let step = c
                    .step
                    .as_deref()
                    .map(|s| format!("step `{s}`: "))
                    .unwrap_or_default();
                (
                    t,
                    format!(
                        "{step}`{}` by {} ({})",
                        one_line(&c.command),
                        c.actor,
                        c.outcome
                    ),
                )
            });
        command.or_else(|| {
            self.changes
                .iter()
                .filter(|c| inside(c.at))
                .max_by_key(|c| c.at)
                .map(|c| (c.at, format!("{} by {}", c.text, c.actor)))
        })
    }

    /// What is still missing before the incident should be closed (resolved,
    /// action items, root cause); empty when nothing is.
    pub fn missing_before_close(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.stage(Stage::Resolved).is_none() {
            missing.push("it is not resolved (R)");
        }
        if self.root_cause.is_none() {
            missing.push("no root cause (ic event -k root-cause)");
        }
        if self.action_items.is_empty() {
            missing.push("no action items (ic event -k action)");
        }
        missing
    }

    /// Time to detect, acknowledge, mitigate and resolve, and how long the impact lasted.
    pub fn figures(&self) -> Figures {
        let span = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| match (a, b) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            _ => None,
        };
        let impact = self.stage(Stage::ImpactStarted);
        let detected = self.stage(Stage::Detected);
        Figures {
            time_to_detect: span(impact, detected),
            time_to_acknowledge: span(detected, self.stage(Stage::Acknowledged)),
            time_to_mitigate: span(impact, self.stage(Stage::Mitigated)),
            duration_of_impact: span(impact, self.stage(Stage::ImpactEnded)),
            time_to_resolve: span(impact, self.stage(Stage::Resolved)),
        }
    }

    /// Per affected target, what it lost: the latest measurement of each run of
    /// `ic`, runs added up; affected targets are those whose own signal fired,
    /// a probe folded into the route of its URL. Timelines without measurements
    /// (older versions) count failures from metric snapshots.
    pub fn impact(&self) -> Impact {
        // Runs of `ic` one after another (a restart) add up; runs watching at the
        // same time (two responders) measured the same requests: the larger counts.
        let mut by_target: BTreeMap<&str, Vec<&TargetImpact>> = BTreeMap::new();
        for row in self.measured.values() {
            by_target.entry(row.target.as_str()).or_default().push(row);
        }
        let mut runs: Vec<&TargetImpact> = Vec::new();
        for rows in by_target.values_mut() {
            rows.sort_by_key(|r| r.started);
            let mut kept: Vec<&TargetImpact> = Vec::new();
            for row in rows.iter() {
                match kept.last_mut() {
                    Some(prev)
                        if row.started.is_some()
                            && row.started < prev.ended.or(prev.measured_at) =>
                    {
                        if row.requests > prev.requests {
                            *prev = row;
                        }
                    }
                    _ => kept.push(row),
                }
            }
            runs.extend(kept);
        }
        let mut targets: BTreeMap<String, TargetImpact> = BTreeMap::new();
        let mut also_seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for row in runs {
            let t = targets
                .entry(row.target.clone())
                .or_insert_with(|| TargetImpact {
                    target: row.target.clone(),
                    ..TargetImpact::default()
                });
            // Counts from a file anyone may edit: never an overflow.
            t.requests = t.requests.saturating_add(row.requests);
            t.failed = t.failed.saturating_add(row.failed);
            t.peak_error_ratio = max_opt(t.peak_error_ratio, row.peak_error_ratio);
            // A set beside the list: a hostile row's 100,000 aliases are not compared pairwise.
            let known = also_seen.entry(row.target.clone()).or_default();
            for a in &row.also {
                if known.insert(a.clone()) {
                    t.also.push(a.clone());
                }
            }
            t.started = min_opt(t.started, row.started);
            t.ended = max_opt(t.ended, row.ended);
            t.began_before_ic |= row.began_before_ic;
            // Latency figures: the earliest run's "before", the latest's "during" and "after".
            t.p95_before_ms = t.p95_before_ms.or(row.p95_before_ms);
            t.p95_during_ms = row.p95_during_ms.or(t.p95_during_ms);
            t.p95_after_ms = row.p95_after_ms.or(t.p95_after_ms);
        }
        // A measured target is counted under its own name (`also` lists that name each
        // other are no cycle); another name under the first target listing it. One map,
        // not a scan of every list per signal.
        let mut alias_of: BTreeMap<&str, &str> = BTreeMap::new();
        for t in targets.values() {
            for a in &t.also {
                if !targets.contains_key(a) {
                    alias_of.entry(a.as_str()).or_insert(t.target.as_str());
                }
            }
        }
        let canonical =
            |name: &str| -> String { alias_of.get(name).map_or(name, |t| *t).to_string() };
        let affected: BTreeSet<String> = self
            .signals
            .values()
            .map(|s| canonical(&s.target))
            .collect();
        if !targets.is_empty() {
            let rows: Vec<TargetImpact> = targets.into_values().collect();
            return Impact {
                failed_requests: Some(rows.iter().fold(0u64, |n, t| n.saturating_add(t.failed))),
                peak_error_ratio: rows
                    .iter()
                    .filter_map(|t| t.peak_error_ratio)
                    .reduce(f64::max),
                affected,
                targets: rows,
            };
        }
        let from = self.stage(Stage::ImpactStarted);
        let to = self
            .stage(Stage::ImpactEnded)
            .or(self.stage(Stage::Resolved));
        let inside = |t: &DateTime<Utc>| from.is_none_or(|f| *t >= f) && to.is_none_or(|e| *t <= e);
        let mut failed = None;
        let mut peak: Option<f64> = None;
        for row in self
            .snapshots
            .iter()
            .filter(|s| inside(&s.at) && affected.contains(&s.target))
        {
            if let Some(n) = row.failed {
                let f = failed.get_or_insert(0u64);
                *f = f.saturating_add(n);
            }
            if let Some(r) = row.error_ratio {
                peak = Some(peak.map_or(r, |p| p.max(r)));
            }
        }
        Impact {
            failed_requests: failed,
            affected,
            peak_error_ratio: peak,
            targets: Vec::new(),
        }
    }

    /// Signals still firing.
    pub fn firing(&self) -> impl Iterator<Item = &SignalRecord> {
        self.signals.values().filter(|s| s.firing)
    }

    /// The last time any signal fired or resolved (for exit criteria: quiet since).
    pub fn last_signal_change(&self) -> Option<DateTime<Utc>> {
        self.signals
            .values()
            .map(|s| s.resolved.unwrap_or(s.first_fired).max(s.first_fired))
            .max()
    }
}

/// Whether an event of `kind` is a deliberate act in the response (a step, a
/// note, a severity, a command…), as opposed to a record of the world (signals,
/// snapshots, change markers from a pipeline).
fn deliberate(kind: Kind) -> bool {
    !matches!(
        kind,
        Kind::IncidentOpened
            | Kind::SignalFired
            | Kind::SignalUpdated
            | Kind::SignalResolved
            | Kind::SignalBlip
            | Kind::SignalSilenced
            | Kind::SilenceAdded
            | Kind::SilenceExpired
            | Kind::MetricSnapshot
            | Kind::ImpactMeasured
            | Kind::ChangeMarker
            | Kind::CommandFinished
            | Kind::Unknown
    )
}

fn one_line(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    let mut out: String = first.chars().take(80).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

fn min_opt<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt<T: PartialOrd + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b > a { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// How a command ended, in words: the event's own `why`, else `timed out`,
/// `cancelled`, `exit N`, `killed by signal N` or `ended without an exit status`.
fn command_outcome(p: &payload::CommandFinished) -> String {
    if !p.why.is_empty() {
        p.why.clone()
    } else if p.timed_out {
        "timed out".into()
    } else if p.cancelled {
        "cancelled".into()
    } else if let Some(code) = p.exit_code {
        format!("exit {code}")
    } else if let Some(sig) = p.signal {
        format!("killed by signal {sig}")
    } else {
        "ended without an exit status".into()
    }
}

/// One row `t` of an `impact_measured` event measured at `at`, its numbers
/// made sane; `None` when it names no target.
fn measured_row(t: payload::ImpactRow, at: DateTime<Utc>) -> Option<TargetImpact> {
    // A measure is finite and not negative (a hand-edited row may say anything).
    let num = |v: Option<f64>| v.filter(|v| v.is_finite() && *v >= 0.0);
    let target = t.target;
    if target.is_empty() {
        return None;
    }
    let requests = t.requests.unwrap_or(0);
    let started = t.started;
    // Each alias once, never the target itself (a cycle back to it).
    let mut seen = BTreeSet::new();
    let also = t
        .also
        .into_iter()
        .filter(|a| *a != target && seen.insert(a.clone()))
        .collect();
    Some(TargetImpact {
        target,
        also,
        requests,
        // Never more failures than requests, nor an end before the start.
        failed: t.failed.unwrap_or(0).min(requests),
        peak_error_ratio: num(t.peak_error_ratio).map(|r| r.clamp(0.0, 1.0)),
        p95_before_ms: num(t.p95_before_ms),
        p95_during_ms: num(t.p95_during_ms),
        p95_after_ms: num(t.p95_after_ms),
        started,
        ended: t.ended.map(|e| started.map_or(e, |s| e.max(s))),
        began_before_ic: t.began_before_ic,
        measured_at: Some(at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::{Draft, format_ts};
    use crate::core::signal::{DetectorKind, SeverityHint, Signal, SignalState};
    use chrono::TimeZone;
    use serde_json::json;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    fn signal(state: SignalState, at: i64) -> Draft {
        Draft::signal(&Signal {
            kind: DetectorKind::ErrorRate,
            target: "payments".into(),
            state,
            severity: SeverityHint::Critical,
            evidence: "15% errors over 10s".into(),
            started: t(-30),
            at: t(at),
            class: None,
            ended: None,
        })
    }

    /// One event of every kind, in a plausible order.
    /// The id of the story's action item.
    fn story_item() -> crate::core::event::EventId {
        crate::core::event::EventId::parse("0190c2a4-0000-7000-8000-0000000000a1")
            .expect("a valid id")
    }

    fn story() -> Vec<Event> {
        let drafts = vec![
            (0, Draft::opened("ic", "Payments 5xx", "shop")),
            (0, signal(SignalState::Fired, 0)),
            (
                40,
                Draft::signal(&Signal {
                    kind: DetectorKind::Down,
                    target: "orders".into(),
                    state: SignalState::Blip,
                    severity: SeverityHint::Critical,
                    evidence: "2 of the last 3 probes got no answer — healed within 5s".into(),
                    started: t(35),
                    at: t(40),
                    class: None,
                    ended: None,
                }),
            ),
            (
                60,
                Draft::severity("ann", Severity::Sev2, "checkout failing"),
            ),
            (
                61,
                Draft::new(
                    Kind::RoleAssigned,
                    "ann",
                    "ann leads",
                    json!({"role": "incident-lead", "person": "ann"}),
                ),
            ),
            (
                62,
                Draft::new(
                    Kind::PlaybookSelected,
                    "ic",
                    "playbook",
                    json!({"playbook": "http-5xx-spike"}),
                ),
            ),
            (
                70,
                Draft::new(
                    Kind::StepDone,
                    "ann",
                    "confirmed",
                    json!({"playbook": "http-5xx-spike", "phase": "detect", "step": "confirm", "verify": {"passed": true, "value": 0.15}}),
                ),
            ),
            (
                80,
                Draft::new(
                    Kind::PhaseEntered,
                    "ann",
                    "triage",
                    json!({"phase": "triage"}),
                ),
            ),
            (
                90,
                Draft::new(
                    Kind::HypothesisAdded,
                    "bob",
                    "pool exhausted",
                    json!({"id": "h1", "text": "DB pool exhausted"}),
                ),
            ),
            (
                95,
                Draft::new(
                    Kind::EvidenceAdded,
                    "bob",
                    "waits",
                    json!({"hypothesis": "h1", "supports": true, "text": "pool waits at 100%"}),
                ),
            ),
            (
                96,
                Draft::new(
                    Kind::EvidenceAdded,
                    "bob",
                    "cpu",
                    json!({"hypothesis": "h1", "supports": false, "text": "DB CPU normal"}),
                ),
            ),
            (
                100,
                Draft::new(
                    Kind::HypothesisConfirmed,
                    "bob",
                    "confirmed",
                    json!({"hypothesis": "h1"}),
                ),
            ),
            (
                101,
                Draft::new(Kind::HypothesisAdded, "bob", "bad deploy", json!({})),
            ),
            (
                102,
                Draft::new(
                    Kind::HypothesisRuledOut,
                    "bob",
                    "no deploy",
                    json!({"hypothesis": "h2"}),
                ),
            ),
            (
                103,
                Draft::change("ci", "deploy", "payments v42", Some("v42")),
            ),
            (
                110,
                Draft::new(
                    Kind::MetricSnapshot,
                    "ann",
                    "snapshot",
                    json!({"targets": [{"target": "payments", "error_ratio": 0.15, "failed": 180}]}),
                ),
            ),
            (
                120,
                Draft::new(
                    Kind::StepSkipped,
                    "ann",
                    "skip",
                    json!({"phase": "triage", "step": "scope", "reason": "obvious"}),
                ),
            ),
            (
                130,
                Draft::new(
                    Kind::PhaseEntered,
                    "ann",
                    "mitigate",
                    json!({"phase": "mitigate", "override": true}),
                ),
            ),
            (
                140,
                Draft::new(
                    Kind::CommandRun,
                    "ann",
                    "rollback",
                    json!({"command": "kubectl rollout undo deploy/payments", "exit_code": 0, "duration_ms": 1200, "output": "rolled back"}),
                ),
            ),
            (
                150,
                Draft::new(
                    Kind::CommsUpdate,
                    "cat",
                    "update",
                    json!({"text": "Payments failing; rolling back"}),
                ),
            ),
            (
                160,
                Draft::note("ann", "rollback was quick", &["went_well"]),
            ),
            (170, signal(SignalState::Resolved, 170)),
            (
                171,
                Draft::new(
                    Kind::ImpactMeasured,
                    "ic",
                    "impact",
                    json!({"run": "r1", "targets": [{"target": "shop /api/payments", "also": ["payments"], "requests": 1200, "failed": 150, "peak_error_ratio": 0.16, "p95_before_ms": 90.0, "p95_during_ms": 240.0, "started": "2026-01-01T00:00:00Z"}]}),
                ),
            ),
            (
                175,
                Draft::new(
                    Kind::PhaseEntered,
                    "ann",
                    "resolve",
                    json!({"phase": "resolve"}),
                ),
            ),
            (
                180,
                Draft::new(
                    Kind::MetricSnapshot,
                    "ic",
                    "snapshot",
                    json!({"targets": [{"target": "payments", "error_ratio": 0.001, "failed": 2}]}),
                ),
            ),
            (200, Draft::lifecycle("ann", Stage::Mitigated, t(165))),
            (210, {
                let mut d = Draft::action_item(
                    "ann",
                    "Alert on pool saturation",
                    "bob",
                    Some("2026-12-01"),
                    Some(Priority::P1),
                );
                d.id = Some(story_item());
                d
            }),
            (212, Draft::action_done("bob", &story_item(), "alarm live")),
            (
                215,
                Draft::new(
                    Kind::StepDone,
                    "ann",
                    "ticked by mistake",
                    json!({"phase": "learn", "step": "timeline"}),
                ),
            ),
            (
                216,
                Draft::new(
                    Kind::StepUndone,
                    "ann",
                    "undone",
                    json!({"phase": "learn", "step": "timeline"}),
                ),
            ),
            (
                220,
                Draft::new(
                    Kind::RootCause,
                    "ann",
                    "root cause",
                    json!({"technical": "pool size 10 under load", "process": "no load test"}),
                ),
            ),
            (
                221,
                Draft::new(
                    Kind::SilenceAdded,
                    "ic",
                    "silence: s1 search until …",
                    json!({"silence": "s1", "target": "search", "reason": "deploy"}),
                ),
            ),
            (
                222,
                Draft::new(
                    Kind::SignalSilenced,
                    "ic",
                    "silenced by s1",
                    json!({"silence": "s1", "state": "fired", "signal": {"target": "search"}}),
                ),
            ),
            (
                223,
                Draft::new(
                    Kind::SilenceExpired,
                    "ic",
                    "silence s1 ended",
                    json!({"silence": "s1"}),
                ),
            ),
            (
                1000,
                Draft::new(Kind::IncidentClosed, "ann", "closed", Value::Null),
            ),
        ];
        // A responder picks another primary target; a command starts (the seq of its
        // `command_started` links the end to it) and a second one never ends.
        let n = drafts.len() as u64;
        let mut drafts = drafts;
        drafts.extend([
            (
                1001,
                Draft::new(
                    Kind::TargetSelected,
                    "bob",
                    "primary target",
                    json!({"target": "shop /api/orders"}),
                ),
            ),
            (
                1002,
                Draft::new(
                    Kind::CommandStarted,
                    "bob",
                    "running",
                    json!({"step": "restart", "command": "kubectl rollout restart deploy/\"${IC_TARGET}\"", "confirmed_by": "bob"}),
                ),
            ),
            (
                1003,
                Draft::new(
                    Kind::CommandStarted,
                    "bob",
                    "running",
                    json!({"step": "scale", "command": "kubectl scale", "confirmed_by": "bob"}),
                ),
            ),
            (
                1005,
                Draft::new(
                    Kind::CommandFinished,
                    "bob",
                    "ran",
                    json!({"run": n + 2, "step": "restart", "exit_code": null, "cancelled": true, "duration_ms": 3000}),
                ),
            ),
        ]);
        drafts
            .into_iter()
            .enumerate()
            .map(|(i, (at, d))| d.into_event(i as u64 + 1, t(at)))
            .collect()
    }

    #[test]
    fn an_action_item_is_done_only_by_its_own_id_once_and_after_it_was_written() {
        use crate::core::event::EventId;
        let id = EventId::parse("0190c2a4-0000-7000-8000-00000000beef").unwrap();
        let other = EventId::parse("0190c2a4-0000-7000-8000-00000000f00d").unwrap();
        let mut item = Draft::action_item(
            "ann",
            "pool alarm",
            "bob",
            Some("2026-11-20"),
            Some(Priority::P1),
        );
        item.id = Some(id.clone());
        let mut odd = Draft::action_item("ann", "odd", "", Some("soon"), None);
        odd.data["priority"] = json!("P9");
        let s = Incident::fold(&events(vec![
            (0, Draft::opened("ann", "x", "shop")),
            (1, Draft::action_done("cat", &id, "too early")),
            (2, item),
            (3, odd),
            (4, Draft::action_done("cat", &other, "not ours")),
            (5, Draft::action_done("dan", &id, "alarm live")),
            (6, Draft::action_done("eve", &id, "again")),
        ]));
        let a = &s.action_items[0];
        assert_eq!(a.priority, Some(Priority::P1));
        assert_eq!(a.short_id().as_deref(), Some("0000beef"));
        assert!(a.is_named("0000BEEF") && a.is_named(id.as_str()) && !a.is_named(""));
        let done = a.done.as_ref().unwrap();
        assert_eq!(
            (done.actor.as_str(), done.text.as_str(), done.at),
            ("dan", "alarm live", t(5))
        );
        assert!(!a.is_overdue(chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()));
        let b = &s.action_items[1];
        assert_eq!((b.priority, b.due_date(), b.short_id()), (None, None, None));
        assert!(b.done.is_none() && !b.is_overdue(chrono::NaiveDate::MAX));
    }

    fn events(drafts: Vec<(i64, Draft)>) -> Vec<Event> {
        drafts
            .into_iter()
            .enumerate()
            .map(|(i, (at, d))| d.into_event(i as u64 + 1, t(at)))
            .collect()
    }

    fn resolved_at(at: i64, ended: i64) -> Draft {
        Draft::signal(&Signal {
            kind: DetectorKind::ErrorRate,
            target: "payments".into(),
            state: SignalState::Resolved,
            severity: SeverityHint::Info,
            evidence: "quiet".into(),
            started: t(-30),
            at: t(at),
            class: None,
            ended: Some(t(ended)),
        })
    }

    fn measured(run: &str, started: i64, ended: Option<i64>, requests: u64, failed: u64) -> Draft {
        let ts = |s: i64| format_ts(t(s));
        Draft::new(
            Kind::ImpactMeasured,
            "ic",
            "impact",
            json!({"run": run, "targets": [{"target": "shop /api/payments", "also": ["payments"],
                "requests": requests, "failed": failed, "peak_error_ratio": failed as f64 / requests as f64,
                "started": ts(started), "ended": ended.map(ts)}]}),
        )
    }

    #[test]
    fn impact_ends_when_the_data_does_and_names_the_mitigation() {
        let run = |exit: i64| {
            Draft::new(
                Kind::CommandFinished,
                "ann",
                "rollback",
                json!({"step": "rollback", "command": "kubectl rollout undo", "exit_code": exit, "confirmed_by": "ann"}),
            )
        };
        let s = Incident::fold(&events(vec![
            (0, Draft::opened("ic", "Payments 5xx", "shop")),
            (0, signal(SignalState::Fired, 0)),
            (
                20,
                Draft::change("ci", "deploy", "payments v42", Some("v42")),
            ),
            (25, Draft::note("ann", "looking", &[])),
            (30, run(1)),
            (60, run(0)),
            // The data went back under the line at 95; the detector said so at 125.
            (125, resolved_at(125, 95)),
        ]));
        assert_eq!(s.stage(Stage::ImpactEnded), Some(t(95)));
        assert_eq!(s.stage(Stage::Mitigated), Some(t(95)));
        let f = s.figures();
        assert_eq!(f.duration_of_impact, Some(Duration::seconds(125)));
        assert_eq!(f.time_to_mitigate, Some(Duration::seconds(125)));
        assert_eq!(s.stage(Stage::Resolved), None, "only a person resolves");
        let (at, what) = s.mitigation().unwrap();
        assert_eq!(at, t(60));
        assert!(
            what.contains("rollback") && what.contains("exit 0"),
            "{what}"
        );
        // A deploy pipeline's change marker and a CI actor never acknowledge.
        assert_eq!(s.stage(Stage::Acknowledged), Some(t(25)), "ann's note");
        let quiet = Incident::fold(&events(vec![
            (0, Draft::opened("ic", "x", "shop")),
            (0, signal(SignalState::Fired, 0)),
            (5, Draft::note("ci:deploy", "deploying", &[])),
            (6, Draft::note("renovate[bot]", "bump", &[])),
            (7, Draft::note("ic watch", "auto", &[])),
        ]));
        assert_eq!(quiet.stage(Stage::Acknowledged), None);
        assert_eq!(quiet.stage(Stage::ImpactEnded), None, "still firing");
        assert_eq!(
            quiet.missing_before_close(),
            vec![
                "it is not resolved (R)",
                "no root cause (ic event -k root-cause)",
                "no action items (ic event -k action)"
            ]
        );
    }

    #[test]
    fn measurements_of_runs_in_turn_add_up_and_of_runs_at_once_do_not() {
        let base = vec![
            (0, Draft::opened("ic", "Payments 5xx", "shop")),
            (0, signal(SignalState::Fired, 0)),
        ];
        // Run a: updated twice (the latest counts), crashed; run b took over.
        let mut seq = base.clone();
        seq.push((60, measured("a", -30, None, 100, 10)));
        seq.push((120, measured("a", -30, None, 200, 20)));
        seq.push((200, measured("b", 130, Some(300), 300, 30)));
        let imp = Incident::fold(&events(seq)).impact();
        assert_eq!(imp.failed_requests, Some(50));
        assert_eq!(imp.targets[0].requests, 500);
        assert_eq!(imp.targets[0].started, Some(t(-30)));
        assert_eq!(imp.targets[0].ended, Some(t(300)));
        assert_eq!(
            imp.affected.iter().collect::<Vec<_>>(),
            vec!["shop /api/payments"],
            "the probe `payments` is the route"
        );
        // Two processes watching at once measured the same requests.
        let mut both = base;
        both.push((120, measured("a", -30, Some(100), 200, 20)));
        both.push((121, measured("b", -28, Some(100), 190, 19)));
        let imp = Incident::fold(&events(both)).impact();
        assert_eq!(imp.failed_requests, Some(20));
    }

    #[test]
    fn fields_of_the_wrong_type_read_as_defaults_and_the_others_still_count() {
        let ev = |kind, data: Value| Draft::new(kind, "ann", "the msg", data);
        let s = Incident::fold(&events(vec![
            (
                0,
                ev(Kind::IncidentOpened, json!({"title": 5, "service": "shop"})),
            ),
            (
                1,
                ev(
                    Kind::ActionItem,
                    json!({"text": 7, "owner": "bob", "due": ["x"]}),
                ),
            ),
            (2, ev(Kind::CommsUpdate, json!({"text": null}))),
            (3, ev(Kind::SignalFired, json!("not an object"))),
            (4, ev(Kind::RoleAssigned, json!([1, 2]))),
            (
                5,
                ev(
                    Kind::PhaseEntered,
                    json!({"phase": "mitigate", "override": "yes"}),
                ),
            ),
            (
                6,
                ev(
                    Kind::ImpactMeasured,
                    json!({"run": 5, "targets": [7, {"target": "t", "requests": -1,
                        "failed": 9, "also": ["t", "u", "u", 3], "peak_error_ratio": -1}]}),
                ),
            ),
            (
                7,
                ev(
                    Kind::MetricSnapshot,
                    json!({"targets": [null, {"target": "t", "failed": 1.5, "error_ratio": 2}]}),
                ),
            ),
            (
                8,
                ev(
                    Kind::CommandFinished,
                    json!({"exit_code": "0", "signal": 9, "run": 1e20}),
                ),
            ),
            (9, ev(Kind::Note, json!({"tags": ["a", 1, null, "b"]}))),
            (
                10,
                ev(
                    Kind::ChangeMarker,
                    json!({"change": "deploy", "version": 42}),
                ),
            ),
            (11, ev(Kind::Unknown, json!({"anything": [1, {"x": null}]}))),
        ]));
        assert_eq!((s.title.as_str(), s.service.as_str()), ("", "shop"));
        let a = &s.action_items[0];
        assert_eq!(s.action_items.len(), 1);
        assert_eq!(
            (
                a.text.as_str(),
                a.owner.as_str(),
                &a.due,
                a.priority,
                &a.done
            ),
            ("the msg", "bob", &None, None, &None)
        );
        assert_eq!(s.comms[0].text, "the msg");
        assert_eq!(s.phase, Some(Phase::Mitigate));
        assert!(!s.phases[0].3, "only `true` overrides");
        let row = &s.measured[&(String::new(), "t".to_string())];
        assert_eq!(
            (row.requests, row.failed, row.peak_error_ratio),
            (0, 0, None)
        );
        assert_eq!(row.also, vec!["u"]);
        assert_eq!(s.snapshots.len(), 2);
        assert_eq!(s.snapshots[0].target, "");
        assert_eq!(
            (s.snapshots[1].failed, s.snapshots[1].error_ratio),
            (None, Some(2.0))
        );
        assert_eq!(s.commands[0].run, None);
        assert_eq!(s.commands[0].exit_code, None);
        assert_eq!(s.commands[0].outcome, "killed by signal 9");
        assert_eq!(s.notes[0].tags, vec!["a", "b"]);
        assert_eq!(s.changes[0].tags, vec!["deploy"]);
        let seqs: Vec<u64> = s.problems.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, vec![4, 5, 7], "{:?}", s.problems);
    }

    #[test]
    fn every_kind_folds_into_the_state() {
        let events = story();
        let kinds: BTreeSet<Kind> = events.iter().map(|e| e.kind).collect();
        for k in Kind::ALL {
            assert!(
                kinds.contains(&k) || k == Kind::SignalUpdated,
                "story lacks {k}"
            );
        }
        let s = Incident::fold(&events);
        assert_eq!(
            (s.title.as_str(), s.service.as_str()),
            ("Payments 5xx", "shop")
        );
        assert!(!s.is_open());
        assert_eq!(s.current_severity(), Some(Severity::Sev2));
        assert_eq!(s.roles["incident-lead"], "ann");
        // A blip is on record, and no signal.
        assert_eq!(
            s.blips,
            vec![(t(40), "down".to_string(), "orders".to_string())]
        );
        assert!(
            !s.signals
                .contains_key(&("down".to_string(), "orders".to_string()))
        );
        // Silences are on record; the signal one held is no signal of the incident.
        let silences: Vec<(&str, &[String])> = s
            .silences
            .iter()
            .map(|e| (e.text.as_str(), e.tags.as_slice()))
            .collect();
        assert_eq!(silences.len(), 3, "{silences:?}");
        assert!(silences.iter().all(|(_, tags)| *tags == ["s1".to_string()]));
        assert!(!s.signals.keys().any(|(_, target)| target == "search"));
        assert_eq!(s.playbook.as_deref(), Some("http-5xx-spike"));
        assert_eq!(s.phase, Some(Phase::Resolve));
        assert!(
            s.phases
                .iter()
                .any(|(p, _, _, forced)| *p == Phase::Mitigate && *forced)
        );
        let confirm = &s.steps[&("detect".into(), "confirm".into())];
        assert!(confirm.done && confirm.verify.is_some());
        assert!(!s.steps[&("triage".into(), "scope".into())].done);
        assert!(
            !s.steps.contains_key(&("learn".into(), "timeline".into())),
            "undone: open again"
        );
        assert_eq!(s.hypotheses[0].status, HypothesisStatus::Confirmed);
        assert_eq!(s.hypotheses[0].evidence.len(), 2);
        assert!(!s.hypotheses[0].evidence[1].supports);
        assert_eq!(s.hypotheses[1].id, "h2");
        assert_eq!(s.hypotheses[1].status, HypothesisStatus::RuledOut);
        assert_eq!(s.changes[0].tags, vec!["deploy", "v42"]);
        assert_eq!(s.commands[0].exit_code, Some(0));
        assert_eq!(s.commands[0].outcome, "exit 0");
        assert!(!s.commands[0].unfinished());
        let restart = &s.commands[1];
        assert_eq!(restart.step.as_deref(), Some("restart"));
        assert_eq!(
            (restart.started, restart.ended),
            (Some(t(1002)), Some(t(1005)))
        );
        assert_eq!(restart.outcome, "cancelled");
        assert!(s.commands[2].unfinished(), "{:?}", s.commands[2]);
        assert_eq!(s.commands.len(), 3);
        assert_eq!(s.primary_target.as_deref(), Some("shop /api/orders"));
        assert_eq!(s.primary_target_by, Some(("bob".to_string(), t(1001))));
        assert_eq!(s.comms.len(), 1);
        assert_eq!(s.notes[0].tags, vec!["went_well"]);
        assert_eq!(s.action_items[0].owner, "bob");
        assert_eq!(
            s.action_items[0].done.as_ref().map(|d| d.text.as_str()),
            Some("alarm live")
        );
        assert_eq!(s.root_cause.as_ref().unwrap().1, "no load test");
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        assert_eq!(s.firing().count(), 0);
    }

    #[test]
    fn figures_come_from_the_lifecycle_with_corrections() {
        let s = Incident::fold(&story());
        // Impact began at the signal's estimated start (-30 s), detected at 0, a person
        // acted at 60, mitigation was backdated to 165, closed at 1000.
        assert_eq!(s.stage(Stage::ImpactStarted), Some(t(-30)));
        let f = s.figures();
        assert_eq!(f.time_to_detect, Some(Duration::seconds(30)));
        assert_eq!(f.time_to_acknowledge, Some(Duration::seconds(60)));
        assert_eq!(f.time_to_mitigate, Some(Duration::seconds(195)));
        assert_eq!(f.time_to_resolve, Some(Duration::seconds(1030)));
        let imp = s.impact();
        // Measured by `ic` from counter deltas; the probe `payments` is the route's alias.
        assert_eq!(imp.failed_requests, Some(150));
        assert_eq!(
            imp.affected.iter().collect::<Vec<_>>(),
            vec!["shop /api/payments"]
        );
        assert_eq!(imp.peak_error_ratio, Some(0.16));
        assert_eq!(imp.targets.len(), 1);
        assert_eq!(imp.targets[0].p95_during_ms, Some(240.0));
        // Without measurements (an older file), snapshots inside the impact count.
        let old: Vec<Event> = story()
            .into_iter()
            .filter(|e| e.kind != Kind::ImpactMeasured)
            .collect();
        let imp = Incident::fold(&old).impact();
        assert_eq!(
            imp.failed_requests,
            Some(180),
            "the snapshot after the end is out"
        );
        assert_eq!(imp.affected.iter().collect::<Vec<_>>(), vec!["payments"]);
        assert_eq!(imp.peak_error_ratio, Some(0.15));

        // A later correction of impact start wins.
        let mut events = story();
        let n = events.len() as u64;
        events.push(
            Draft::lifecycle("ann", Stage::ImpactStarted, t(-300)).into_event(n + 1, t(2000)),
        );
        let s = Incident::fold(&events);
        assert_eq!(s.figures().time_to_detect, Some(Duration::seconds(300)));
    }

    #[test]
    fn replay_is_the_same_state_however_often_and_bad_payloads_are_noted() {
        let events = story();
        assert_eq!(Incident::fold(&events), Incident::fold(&events));
        let mut half = Incident::fold(&events[..10]);
        for e in &events[10..] {
            half.apply(e);
        }
        assert_eq!(half, Incident::fold(&events));

        let bad = [
            Draft::new(Kind::SeveritySet, "a", "x", json!({"severity": "SEV-9"}))
                .into_event(1, t(0)),
            Draft::new(Kind::EvidenceAdded, "a", "x", json!({"hypothesis": "h7"}))
                .into_event(2, t(1)),
            Draft::new(Kind::Lifecycle, "a", "x", json!({"stage": "later"})).into_event(3, t(2)),
        ];
        let s = Incident::fold(&bad);
        assert_eq!(s.problems.len(), 3, "{:?}", s.problems);
    }

    #[test]
    fn an_acknowledgement_by_the_tool_or_a_bot_does_not_count() {
        let evs = events(vec![
            (0, Draft::opened("ic", "x", "shop")),
            (
                5,
                Draft::lifecycle("deploy[bot]", Stage::Acknowledged, t(5)),
            ),
            (6, Draft::lifecycle("ic", Stage::Acknowledged, t(6))),
        ]);
        let inc = Incident::fold(&evs);
        assert_eq!(inc.stage(Stage::Acknowledged), None);
        assert_eq!(inc.problems.len(), 2, "{:?}", inc.problems);
        let evs = events(vec![
            (0, Draft::opened("ic", "x", "shop")),
            (7, Draft::lifecycle("ann", Stage::Acknowledged, t(7))),
        ]);
        assert_eq!(Incident::fold(&evs).stage(Stage::Acknowledged), Some(t(7)));
    }

    #[test]
    fn two_writers_claiming_one_hypothesis_id_get_two_ids_and_a_problem() {
        let hyp = |id: Option<&str>, text: &str| {
            let mut data = json!({"text": text});
            if let Some(id) = id {
                data["id"] = json!(id);
            }
            Draft::new(Kind::HypothesisAdded, "a", text, data)
        };
        let evs = events(vec![
            (0, Draft::opened("ic", "x", "shop")),
            // `ic event` (no id: the fold numbers it h1), then the view, which
            // had not read it yet, also writes h1; then a custom h3.
            (1, hyp(None, "pool")),
            (2, hyp(Some("h1"), "dns")),
            (3, hyp(Some("h3"), "cert")),
            (4, hyp(None, "disk")),
        ]);
        let inc = Incident::fold(&evs);
        let ids: Vec<&str> = inc.hypotheses.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["h1", "h2", "h3", "h4"]);
        assert_eq!(inc.problems.len(), 1, "{:?}", inc.problems);
        assert!(inc.problems[0].1.contains("`h1`"), "{:?}", inc.problems);
        assert_eq!(inc.next_hypothesis_id(), "h5");
    }

    #[test]
    fn evidence_that_is_neither_for_nor_against_is_not_counted_for() {
        let ev = |supports: serde_json::Value| {
            Draft::new(
                Kind::EvidenceAdded,
                "a",
                "seen",
                json!({"hypothesis": "h1", "supports": supports}),
            )
        };
        let evs = events(vec![
            (0, Draft::opened("ic", "x", "shop")),
            (1, Draft::new(Kind::HypothesisAdded, "a", "pool", json!({}))),
            (2, ev(json!("no"))),
            (3, ev(json!(0))),
            (4, ev(json!(false))),
            (5, ev(serde_json::Value::Null)),
        ]);
        let inc = Incident::fold(&evs);
        let h = &inc.hypotheses[0];
        assert_eq!(
            h.evidence.iter().map(|e| e.supports).collect::<Vec<_>>(),
            [false, true]
        );
        assert_eq!(inc.problems.len(), 2, "{:?}", inc.problems);
    }
}
