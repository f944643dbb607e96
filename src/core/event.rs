//! Timeline events: the schema of one line of a timeline file (`seq`, `ts`,
//! `kind`, `actor`, `msg`, `data`), the kinds, the severities and lifecycle
//! stages they mention, and constructors for each kind's payload so every
//! writer produces the same shape. Pure: parsing and building only.

use crate::core::payload::{self, to_data};
use crate::core::signal::{Signal, SignalState};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique, increasing within a file (assigned under the journal's lock).
    pub seq: u64,
    /// When it was written, RFC 3339 UTC with milliseconds.
    #[serde(serialize_with = "ts_ser", deserialize_with = "ts_de")]
    pub ts: DateTime<Utc>,
    /// What happened.
    pub kind: Kind,
    /// Who did it: a person's name, or `ic` for the tool itself.
    pub actor: String,
    /// One human-readable line.
    pub msg: String,
    /// The kind's payload.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
    /// Unique across machines and files (a time-ordered UUID v7); events
    /// written by older versions have none, and one whose `id` is not an id
    /// (a number, quotes, too long) is kept without it rather than lost.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_id"
    )]
    pub id: Option<EventId>,
}

/// An event's global identity: the same event copied to another responder's
/// file keeps it, so copies are recognised as one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EventId(String);

/// Longest id accepted from a file (a UUID is 36 characters).
const MAX_ID: usize = 64;

impl EventId {
    /// A UUID v7 from a time and 10 random bytes (the caller brings both, so
    /// the core stays free of clocks and entropy).
    pub fn v7(at: DateTime<Utc>, random: [u8; 10]) -> EventId {
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        EventId(
            uuid::Builder::from_unix_timestamp_millis(millis, &random)
                .into_uuid()
                .hyphenated()
                .to_string(),
        )
    }

    /// Checks an id read from outside: 1 to 64 printable ASCII characters
    /// other than space and quotes (ids from other tools or versions need
    /// not be UUIDs).
    pub fn parse(s: &str) -> Result<EventId, String> {
        if s.is_empty() || s.len() > MAX_ID {
            return Err(format!(
                "`id` must be 1 to {MAX_ID} characters, not {}",
                s.len()
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !c.is_ascii_graphic() || matches!(c, '"' | '\\' | '\''))
        {
            return Err(format!(
                "`id` holds {c:?}: only printable ASCII without quotes"
            ));
        }
        Ok(EventId(s.to_string()))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EventId, D::Error> {
        let s = String::deserialize(d)?;
        EventId::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<EventId>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => EventId::parse(&s).ok(),
        _ => None,
    })
}

fn ts_ser<S: Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_ts(*ts))
}

fn ts_de<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| serde::de::Error::custom(format!("`{s}` is not an RFC 3339 time: {e}")))
}

/// RFC 3339 UTC with milliseconds: `2026-11-22T03:04:05.678Z`.
pub fn format_ts(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An incident began (data: `title`, `service`).
    IncidentOpened,
    /// The incident is over (data: `override` when closed before the exit criteria held).
    IncidentClosed,
    /// A detector fired (data: the signal).
    SignalFired,
    /// A firing detector has new numbers.
    SignalUpdated,
    /// A detector resolved.
    SignalResolved,
    /// A detector fired and the fault healed within `detect.min_duration`:
    /// recorded, never paged (data: the signal). Older versions read it as unknown.
    SignalBlip,
    /// Severity set or changed (data: `severity`, `reason`).
    SeveritySet,
    /// A role given to a person (data: `role`, `person`).
    RoleAssigned,
    /// The response moved to a phase (data: `phase`, `override`, `open_steps`).
    PhaseEntered,
    /// A playbook chosen for the incident (data: `playbook`).
    PlaybookSelected,
    /// A playbook step done (data: `playbook`, `phase`, `step`, `verify`).
    StepDone,
    /// A playbook step skipped (same data, plus `reason`).
    StepSkipped,
    /// A step done or skipped earlier, undone: open again (same data).
    StepUndone,
    /// A free note (data: `tags`, e.g. `went_well`, `went_poorly`).
    Note,
    /// A hypothesis for the ledger (data: `id`, `text`).
    HypothesisAdded,
    /// Evidence for or against a hypothesis (data: `hypothesis`, `supports`, `text`).
    EvidenceAdded,
    /// A hypothesis confirmed (data: `hypothesis`).
    HypothesisConfirmed,
    /// A hypothesis ruled out (data: `hypothesis`).
    HypothesisRuledOut,
    /// A playbook command ran (written by older versions; data: `command`, `exit_code`, `duration_ms`, `output`, …).
    CommandRun,
    /// A confirmed command is about to start (data: `step`, `phase`, `playbook`, `command` as
    /// handed to `sh -c`, `env`, `target`, `confirmed_by`, `confirmed_at`, `timeout_ms`).
    CommandStarted,
    /// A confirmed command ended (data: `run`, the `seq` of its `command_started`; `step`,
    /// `command`, `confirmed_by`, `exit_code`, `signal`, `duration_ms`, `output`, `truncated`,
    /// `timed_out`, `cancelled`, `why`).
    CommandFinished,
    /// A responder chose the incident's primary target (data: `target`).
    TargetSelected,
    /// A status update sent to stakeholders (data: `text`).
    CommsUpdate,
    /// The numbers at a moment (data: `targets`: [{`target`, `rps`, `error_ratio`, `p95_ms`, `failed`}]).
    MetricSnapshot,
    /// What the incident did to each affected target so far, measured from the
    /// data (data: `run`, the writing process's start; `targets`: [{`target`,
    /// `also`, `requests`, `failed`, `peak_error_ratio`, `p95_before_ms`,
    /// `p95_during_ms`, `p95_after_ms`, `started`, `ended`}]). The latest one of a
    /// run counts; runs (an `ic` restart) add up.
    ImpactMeasured,
    /// A deploy, config change or feature flag (data: `change`, `version`).
    ChangeMarker,
    /// Follow-up work (data: `text`, `owner`, `due`, `priority`).
    ActionItem,
    /// An action item done (data: `item`, the action item event's `id`); it
    /// counts only in the item's own timeline.
    ActionDone,
    /// A lifecycle timestamp (data: `stage`, `at`); a later one corrects an earlier one.
    Lifecycle,
    /// The cause, for the postmortem (data: `technical`, `process`).
    RootCause,
    /// A silence: signals of the targets it covers are recorded, never paged
    /// (data: `silence`, `target`, `starts`, `ends`, `reason`). In the timeline
    /// directory's silence log, and copied into an incident it bears on.
    SilenceAdded,
    /// A silence ended before its time, or (in an incident) ran out (data: `silence`).
    SilenceExpired,
    /// A signal held back by a silence (data: `silence`, `state`, `signal`).
    SignalSilenced,
    /// A kind this version does not know (written by a newer `ic`).
    #[serde(other)]
    Unknown,
}

impl Kind {
    /// Every kind this version writes.
    pub const ALL: [Kind; 33] = [
        Kind::IncidentOpened,
        Kind::IncidentClosed,
        Kind::SignalFired,
        Kind::SignalUpdated,
        Kind::SignalResolved,
        Kind::SignalBlip,
        Kind::SeveritySet,
        Kind::RoleAssigned,
        Kind::PhaseEntered,
        Kind::PlaybookSelected,
        Kind::StepDone,
        Kind::StepSkipped,
        Kind::StepUndone,
        Kind::Note,
        Kind::HypothesisAdded,
        Kind::EvidenceAdded,
        Kind::HypothesisConfirmed,
        Kind::HypothesisRuledOut,
        Kind::CommandRun,
        Kind::CommandStarted,
        Kind::CommandFinished,
        Kind::TargetSelected,
        Kind::CommsUpdate,
        Kind::MetricSnapshot,
        Kind::ImpactMeasured,
        Kind::ChangeMarker,
        Kind::ActionItem,
        Kind::ActionDone,
        Kind::Lifecycle,
        Kind::RootCause,
        Kind::SilenceAdded,
        Kind::SilenceExpired,
        Kind::SignalSilenced,
    ];

    /// The snake_case name written to the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IncidentOpened => "incident_opened",
            Kind::IncidentClosed => "incident_closed",
            Kind::SignalFired => "signal_fired",
            Kind::SignalUpdated => "signal_updated",
            Kind::SignalResolved => "signal_resolved",
            Kind::SignalBlip => "signal_blip",
            Kind::SeveritySet => "severity_set",
            Kind::RoleAssigned => "role_assigned",
            Kind::PhaseEntered => "phase_entered",
            Kind::PlaybookSelected => "playbook_selected",
            Kind::StepDone => "step_done",
            Kind::StepSkipped => "step_skipped",
            Kind::StepUndone => "step_undone",
            Kind::Note => "note",
            Kind::HypothesisAdded => "hypothesis_added",
            Kind::EvidenceAdded => "evidence_added",
            Kind::HypothesisConfirmed => "hypothesis_confirmed",
            Kind::HypothesisRuledOut => "hypothesis_ruled_out",
            Kind::CommandRun => "command_run",
            Kind::CommandStarted => "command_started",
            Kind::CommandFinished => "command_finished",
            Kind::TargetSelected => "target_selected",
            Kind::CommsUpdate => "comms_update",
            Kind::MetricSnapshot => "metric_snapshot",
            Kind::ImpactMeasured => "impact_measured",
            Kind::ChangeMarker => "change_marker",
            Kind::ActionItem => "action_item",
            Kind::ActionDone => "action_done",
            Kind::Lifecycle => "lifecycle",
            Kind::RootCause => "root_cause",
            Kind::SilenceAdded => "silence_added",
            Kind::SilenceExpired => "silence_expired",
            Kind::SignalSilenced => "signal_silenced",
            Kind::Unknown => "unknown",
        }
    }

    /// Parses a snake_case name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action item's priority, P1 (most urgent) to P3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Priority {
    /// Do first: due within [`Priority::P1_WITHIN_DAYS`] of the incident.
    P1,
    /// Planned work.
    P2,
    /// When there is time.
    P3,
}

impl Priority {
    /// Days within which a P1 item is due after its incident: the window the
    /// postmortem and `ic actions` hold P1 items to.
    pub const P1_WITHIN_DAYS: i64 = 30;

    /// `P1`, `P2`, `P3`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
        }
    }

    /// `p1`…`p3` in any case.
    pub fn parse(s: &str) -> Option<Priority> {
        match s.to_ascii_uppercase().as_str() {
            "P1" => Some(Priority::P1),
            "P2" => Some(Priority::P2),
            "P3" => Some(Priority::P3),
            _ => None,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Incident severity, SEV-1 (worst) to SEV-4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    /// Core functionality down.
    #[serde(rename = "SEV-1")]
    Sev1,
    /// Major degradation.
    #[serde(rename = "SEV-2")]
    Sev2,
    /// Minor degradation.
    #[serde(rename = "SEV-3")]
    Sev3,
    /// Little or no customer impact.
    #[serde(rename = "SEV-4")]
    Sev4,
}

impl Severity {
    /// All four, worst first.
    pub const ALL: [Severity; 4] = [
        Severity::Sev1,
        Severity::Sev2,
        Severity::Sev3,
        Severity::Sev4,
    ];

    /// `SEV-1` … `SEV-4`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Sev1 => "SEV-1",
            Severity::Sev2 => "SEV-2",
            Severity::Sev3 => "SEV-3",
            Severity::Sev4 => "SEV-4",
        }
    }

    /// Parses `SEV-2`, `sev2`, `2`.
    pub fn parse(s: &str) -> Option<Severity> {
        let t = s.trim().to_ascii_uppercase().replace(['-', ' '], "");
        match t.trim_start_matches("SEV") {
            "1" => Some(Severity::Sev1),
            "2" => Some(Severity::Sev2),
            "3" => Some(Severity::Sev3),
            "4" => Some(Severity::Sev4),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The response phases, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Confirm what the alert says.
    Detect,
    /// Scope and severity.
    Triage,
    /// Stop the bleeding.
    Mitigate,
    /// Confirm recovery.
    Resolve,
    /// Learn from it.
    Learn,
}

impl Phase {
    /// All five, in order.
    pub const ALL: [Phase; 5] = [
        Phase::Detect,
        Phase::Triage,
        Phase::Mitigate,
        Phase::Resolve,
        Phase::Learn,
    ];

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Detect => "detect",
            Phase::Triage => "triage",
            Phase::Mitigate => "mitigate",
            Phase::Resolve => "resolve",
            Phase::Learn => "learn",
        }
    }

    /// The phase after this one, if any.
    pub fn next(self) -> Option<Phase> {
        let i = Phase::ALL.iter().position(|p| *p == self)?;
        Phase::ALL.get(i + 1).copied()
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The lifecycle timestamps an incident's figures are computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Customers started to be hurt.
    ImpactStarted,
    /// We knew.
    Detected,
    /// A person took it.
    Acknowledged,
    /// The bleeding stopped (from the data: the impact ended after a mitigation).
    Mitigated,
    /// The data went back under the line and held.
    ImpactEnded,
    /// A responder declared it over (exit criteria); not yet closed.
    Resolved,
}

impl Stage {
    /// All six, in order.
    pub const ALL: [Stage; 6] = [
        Stage::ImpactStarted,
        Stage::Detected,
        Stage::Acknowledged,
        Stage::Mitigated,
        Stage::ImpactEnded,
        Stage::Resolved,
    ];

    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::ImpactStarted => "impact_started",
            Stage::Detected => "detected",
            Stage::Acknowledged => "acknowledged",
            Stage::Mitigated => "mitigated",
            Stage::ImpactEnded => "impact_ended",
            Stage::Resolved => "resolved",
        }
    }

    /// Parses a snake_case name (also with dashes or spaces).
    pub fn parse(s: &str) -> Option<Stage> {
        let t = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Stage::ALL.into_iter().find(|k| k.as_str() == t)
    }
}

/// An event before the journal gives it a `seq` and a `ts`.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// What happened.
    pub kind: Kind,
    /// Who did it.
    pub actor: String,
    /// One line.
    pub msg: String,
    /// Payload.
    pub data: Value,
    /// When it happened, when that is not the moment it is written (an event kept
    /// in memory while the disk was full is written later with its own time).
    pub at: Option<DateTime<Utc>>,
    /// Its global identity when it already has one (an event copied from
    /// another responder); the journal gives a new event one.
    pub id: Option<EventId>,
}

impl Draft {
    /// A draft of any kind.
    pub fn new(kind: Kind, actor: &str, msg: impl Into<String>, data: Value) -> Draft {
        Draft {
            kind,
            actor: actor.to_string(),
            msg: msg.into(),
            data,
            at: None,
            id: None,
        }
    }

    /// A draft whose `data` is a typed payload (see `core::payload`).
    pub fn typed<T: Serialize>(
        kind: Kind,
        actor: &str,
        msg: impl Into<String>,
        payload: &T,
    ) -> Draft {
        Draft::new(kind, actor, msg, to_data(payload))
    }

    /// The event this draft becomes with `seq` at `ts`.
    pub fn into_event(self, seq: u64, ts: DateTime<Utc>) -> Event {
        Event {
            seq,
            ts,
            kind: self.kind,
            actor: self.actor,
            msg: self.msg,
            data: self.data,
            id: self.id,
        }
    }

    /// An incident opened.
    pub fn opened(actor: &str, title: &str, service: &str) -> Draft {
        Draft::typed(
            Kind::IncidentOpened,
            actor,
            format!("incident opened: {title}"),
            &payload::Opened {
                title: title.to_string(),
                service: service.to_string(),
                drill: None,
            },
        )
    }

    /// A drill's incident opened (`ic drill`), carrying what it should find.
    pub fn opened_drill(actor: &str, title: &str, service: &str, drill: &payload::Drill) -> Draft {
        Draft::typed(
            Kind::IncidentOpened,
            actor,
            format!("drill opened: {title}"),
            &payload::Opened {
                title: title.to_string(),
                service: service.to_string(),
                drill: Some(drill.clone()),
            },
        )
    }

    /// A detector signal, by its state.
    pub fn signal(signal: &Signal) -> Draft {
        let kind = match signal.state {
            SignalState::Fired => Kind::SignalFired,
            SignalState::Updated | SignalState::Flapping => Kind::SignalUpdated,
            SignalState::Resolved => Kind::SignalResolved,
            SignalState::Blip => Kind::SignalBlip,
        };
        let data = payload::SignalData {
            detector: signal.kind.as_str().to_string(),
            target: signal.target.clone(),
            severity: Some(signal.severity),
            evidence: signal.evidence.clone(),
            started: Some(signal.started),
            at: Some(signal.at),
            ended: signal.ended,
        };
        Draft::typed(kind, "ic", signal.headline(), &data)
    }

    /// A note, with optional tags (`went_well`, `went_poorly`, …).
    pub fn note(actor: &str, text: &str, tags: &[&str]) -> Draft {
        let tags = tags.iter().map(|t| t.to_string()).collect();
        Draft::typed(Kind::Note, actor, text, &payload::NoteData { tags })
    }

    /// Severity set.
    pub fn severity(actor: &str, severity: Severity, reason: &str) -> Draft {
        Draft::typed(
            Kind::SeveritySet,
            actor,
            format!("severity {severity}{}", suffix(reason)),
            &payload::SeveritySet {
                severity: Some(severity),
                reason: reason.to_string(),
            },
        )
    }

    /// A lifecycle timestamp (a correction when one of that stage exists).
    pub fn lifecycle(actor: &str, stage: Stage, at: DateTime<Utc>) -> Draft {
        Draft::typed(
            Kind::Lifecycle,
            actor,
            format!("{} at {}", stage.as_str().replace('_', " "), format_ts(at)),
            &payload::Lifecycle {
                stage: Some(stage),
                at: Some(at),
                forced: None,
            },
        )
    }

    /// A change marker: `change` is deploy, config, flag, …
    pub fn change(actor: &str, change: &str, what: &str, version: Option<&str>) -> Draft {
        Draft::typed(
            Kind::ChangeMarker,
            actor,
            what,
            &payload::ChangeMarker {
                change: change.to_string(),
                version: version.map(str::to_string),
            },
        )
    }

    /// An action item.
    pub fn action_item(
        actor: &str,
        text: &str,
        owner: &str,
        due: Option<&str>,
        priority: Option<Priority>,
    ) -> Draft {
        Draft::typed(
            Kind::ActionItem,
            actor,
            text,
            &payload::ActionItemData {
                text: Some(text.to_string()),
                owner: owner.to_string(),
                due: due.map(str::to_string),
                priority: priority.map(|p| p.as_str().to_string()),
            },
        )
    }

    /// The action item whose event id is `item` done, with what was done.
    pub fn action_done(actor: &str, item: &EventId, note: &str) -> Draft {
        Draft::typed(
            Kind::ActionDone,
            actor,
            note,
            &payload::ActionDone {
                item: item.as_str().to_string(),
            },
        )
    }
}

fn suffix(reason: &str) -> String {
    if reason.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", reason.trim())
    }
}

/// Longest timeline line, in bytes: writers refuse a longer event, readers skip a longer line.
pub const MAX_LINE: usize = 1024 * 1024;

impl Draft {
    /// Whether the event fits one timeline line (see [`MAX_LINE`]) whatever
    /// `seq` and time it gets; `Err` carries its length.
    pub fn fits_a_line(&self) -> Result<(), usize> {
        let mut widest = self.clone();
        widest.id = Some(
            widest
                .id
                .unwrap_or_else(|| EventId::v7(DateTime::<Utc>::UNIX_EPOCH, [0; 10])),
        );
        let bytes = widest
            .into_event(u64::MAX, chrono::DateTime::<Utc>::MAX_UTC)
            .to_line()
            .len();
        if bytes > MAX_LINE { Err(bytes) } else { Ok(()) }
    }
}

/// Why a line is not an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LineError(pub String);

impl Event {
    /// What the event says, apart from its place in a file (`seq`): copies of
    /// one event (a retried write that had landed, a merge) share it; an edited
    /// or forged copy carrying the same `id` does not. Taken from the line as
    /// written, so an event in memory and the same event read back from its
    /// file (time in milliseconds, numbers as printed) agree.
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut placeless = self.clone();
        placeless.seq = 0;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        placeless.to_line().hash(&mut h);
        h.finish()
    }

    /// Parses one line of a timeline file.
    pub fn parse_line(line: &str) -> Result<Event, LineError> {
        let event: Event = serde_json::from_str(line.trim_end_matches(['\n', '\r']))
            .map_err(|e| LineError(format!("not a timeline event: {e}")))?;
        if event.seq == 0 {
            return Err(LineError("`seq` is 0: sequence numbers start at 1".into()));
        }
        Ok(event)
    }

    /// The event as one line of JSON (no trailing newline). serde escapes the
    /// control characters; bidi overrides and line separators (which it writes
    /// raw) are escaped too (`\u202e`, see `core::text`), so the file shows
    /// no text reordered or split in an editor, `jq` or a terminal.
    pub fn to_line(&self) -> String {
        let line = serde_json::to_string(self).unwrap_or_else(|e| {
            // Serializing plain data cannot fail; keep a valid line if it ever does.
            format!(
                "{{\"seq\":{},\"ts\":\"{}\",\"kind\":\"note\",\"actor\":\"ic\",\"msg\":\"unserializable event: {}\"}}",
                self.seq,
                format_ts(self.ts),
                e.to_string().replace('"', "'")
            )
        });
        match crate::core::text::escape(&line) {
            std::borrow::Cow::Borrowed(_) => line,
            std::borrow::Cow::Owned(safe) => safe,
        }
    }

    /// A string field of `data`.
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.data.get(key).and_then(Value::as_str)
    }

    /// A time field of `data` (RFC 3339).
    pub fn time_field(&self, key: &str) -> Option<DateTime<Utc>> {
        self.str_field(key)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn a_line_round_trips_with_millisecond_utc_times() {
        let ts = Utc.with_ymd_and_hms(2026, 11, 22, 3, 4, 5).unwrap()
            + chrono::Duration::milliseconds(678);
        let e = Draft::note("ann", "checked the pool", &["went_well"]).into_event(7, ts);
        let line = e.to_line();
        assert!(
            line.starts_with(
                r#"{"seq":7,"ts":"2026-11-22T03:04:05.678Z","kind":"note","actor":"ann","msg":"checked the pool","data":{"tags":["went_well"]}}"#
            ),
            "{line}"
        );
        assert_eq!(Event::parse_line(&line).unwrap(), e);
    }

    #[test]
    fn an_event_and_its_line_read_back_have_one_fingerprint_and_an_edit_another() {
        // Sub-millisecond time and a float, as the runtime's events have them.
        let ts = Utc.with_ymd_and_hms(2026, 11, 22, 3, 4, 5).unwrap()
            + chrono::Duration::nanoseconds(678_901_234);
        let mut e = Draft::new(
            Kind::MetricSnapshot,
            "ic",
            "snapshot",
            json!({"targets": [{"target": "x", "rps": 23.8, "error_ratio": 0.0281}]}),
        )
        .into_event(7, ts);
        e.id = Some(EventId::v7(ts, [3; 10]));
        let back = Event::parse_line(&e.to_line()).unwrap();
        assert_eq!(back.fingerprint(), e.fingerprint());
        let mut moved = back.clone();
        moved.seq = 99;
        assert_eq!(
            moved.fingerprint(),
            e.fingerprint(),
            "seq is a place, not content"
        );
        let mut edited = back;
        edited.msg = "other".into();
        assert_ne!(edited.fingerprint(), e.fingerprint());
    }

    #[test]
    fn ids_from_a_file_are_checked_and_a_line_without_one_reads() {
        let base = r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","kind":"note","actor":"a","msg":"m""#;
        assert_eq!(Event::parse_line(&format!("{base}}}")).unwrap().id, None);
        let ok = Event::parse_line(&format!(r#"{base},"id":"01J9ZX-any.tool:id_9"}}"#)).unwrap();
        assert_eq!(ok.id.unwrap().as_str(), "01J9ZX-any.tool:id_9");
        // Not an id: the event is kept without one (never lost for its id).
        let long = "a".repeat(65);
        for bad in [
            "\"\"",
            "\" \"",
            "\"a b\"",
            r#""x\u001b[2J""#,
            r#""q\"uote""#,
            r#""\u202e""#,
            "7",
            "null",
            "{}",
        ] {
            let e = Event::parse_line(&format!(r#"{base},"id":{bad}}}"#)).unwrap();
            assert_eq!(e.id, None, "{bad}");
            assert_eq!(e.msg, "m");
        }
        let e = Event::parse_line(&format!(r#"{base},"id":"{long}"}}"#)).unwrap();
        assert_eq!(e.id, None);
        assert!(EventId::parse("a b").is_err());
        assert!(EventId::parse(&long).is_err());
    }

    #[test]
    fn a_v7_id_carries_its_time_and_sorts_by_it() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 22, 3, 4, 5).unwrap();
        let a = EventId::v7(t0, [0xff; 10]);
        let b = EventId::v7(t0 + chrono::Duration::milliseconds(1), [0; 10]);
        assert!(a < b, "{a} < {b}");
        assert_eq!(EventId::parse(a.as_str()).unwrap(), a);
        let pre_epoch = EventId::v7(DateTime::<Utc>::MIN_UTC, [1; 10]);
        assert_eq!(pre_epoch.as_str().len(), 36);
    }

    #[test]
    fn every_kind_has_a_name_that_parses_back() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            let v: Kind = serde_json::from_value(json!(k.as_str())).unwrap();
            assert_eq!(v, k);
        }
        let v: Kind = serde_json::from_value(json!("from_the_future")).unwrap();
        assert_eq!(v, Kind::Unknown);
    }

    #[test]
    fn bad_lines_say_why() {
        assert!(Event::parse_line("{not json").is_err());
        let e =
            Event::parse_line(r#"{"seq":1,"ts":"yesterday","kind":"note","actor":"a","msg":"m"}"#)
                .unwrap_err();
        assert!(e.0.contains("RFC 3339"), "{e}");
        let e = Event::parse_line(
            r#"{"seq":0,"ts":"2026-01-01T00:00:00Z","kind":"note","actor":"a","msg":"m"}"#,
        )
        .unwrap_err();
        assert!(e.0.contains("start at 1"), "{e}");
    }

    #[test]
    fn severities_and_stages_parse_loosely() {
        assert_eq!(Severity::parse("sev2"), Some(Severity::Sev2));
        assert_eq!(Severity::parse("SEV-1"), Some(Severity::Sev1));
        assert_eq!(Severity::parse("4"), Some(Severity::Sev4));
        assert_eq!(Severity::parse("SEV-5"), None);
        assert_eq!(Stage::parse("impact-started"), Some(Stage::ImpactStarted));
        assert_eq!(Phase::Resolve.next(), Some(Phase::Learn));
        assert_eq!(Phase::Learn.next(), None);
    }
}
