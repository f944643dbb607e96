//! Typed event payloads: one struct per kind the fold reads, behind the same
//! JSON `data` object a timeline line has always carried. Pure.
//!
//! Reading is as tolerant as reading by key always was: a field that is
//! missing, `null` or of the wrong type reads as its default (`""`, `0`,
//! `None`, `false`, empty), each field on its own, so one bad field never
//! loses the others; fields this version does not know are ignored (a newer
//! `ic` may add some). Writing produces exactly the keys and values the
//! `json!` writers did (serde_json's map keeps keys sorted either way).

use crate::core::event::{Draft, Event, Kind, Phase, Severity, Stage, format_ts};
use crate::core::signal::SeverityHint;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;

/// Per-field readers that never fail: a value of the wrong shape reads as the default.
mod lenient {
    use super::*;
    use serde::Deserializer;

    /// A string, or `""`.
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(opt_text(d)?.unwrap_or_default())
    }

    /// A drill's object, or `None` (anything but an object).
    pub fn drill<'de, D: Deserializer<'de>>(d: D) -> Result<Option<super::Drill>, D::Error> {
        Ok(match Value::deserialize(d)? {
            v @ Value::Object(_) => serde_json::from_value(v).ok(),
            _ => None,
        })
    }

    /// A string, or `None`.
    pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Some(s),
            _ => None,
        })
    }

    /// An unsigned integer that fits a `u64`, or `None`.
    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(Value::deserialize(d)?.as_u64())
    }

    /// An integer that fits an `i64`, or `None`.
    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(Value::deserialize(d)?.as_i64())
    }

    /// A number, or `None`.
    pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(Value::deserialize(d)?.as_f64())
    }

    /// A boolean, or `None`.
    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Ok(Value::deserialize(d)?.as_bool())
    }

    /// `true` only when it says `true`.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(Value::deserialize(d)?.as_bool() == Some(true))
    }

    /// The strings of an array (other elements skipped), or empty.
    pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        })
    }

    /// Any value but `null`.
    pub fn value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
        Ok(Some(Value::deserialize(d)?).filter(|v| !v.is_null()))
    }

    /// An RFC 3339 time, or `None`.
    pub fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(opt_text(d)?
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc)))
    }

    /// A severity as [`Severity::parse`] reads it (`SEV-2`, `sev2`, `2`), or `None`.
    pub fn severity<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Severity>, D::Error> {
        Ok(opt_text(d)?.as_deref().and_then(Severity::parse))
    }

    /// A stage as [`Stage::parse`] reads it, or `None`.
    pub fn stage<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Stage>, D::Error> {
        Ok(opt_text(d)?.as_deref().and_then(Stage::parse))
    }

    /// A value of `T` in its own serde form, or `None`.
    pub fn any<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Ok(T::deserialize(Value::deserialize(d)?).ok())
    }

    /// A value of `T` in its own serde form, or `T`'s default.
    pub fn or_default<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(
        d: D,
    ) -> Result<T, D::Error> {
        Ok(any(d)?.unwrap_or_default())
    }

    /// The rows of an array, each read leniently (an element that is no
    /// object is a row of defaults), or no rows.
    pub fn rows<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::Object(_) => T::deserialize(v).unwrap_or_default(),
                    _ => T::default(),
                })
                .collect(),
            _ => Vec::new(),
        })
    }
}

/// Writes an optional time as the timeline does (RFC 3339 UTC, milliseconds).
fn ser_time<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_ts(*t)),
        None => s.serialize_none(),
    }
}

/// `incident_opened`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Opened {
    /// Title.
    #[serde(deserialize_with = "lenient::text")]
    pub title: String,
    /// Service.
    #[serde(deserialize_with = "lenient::text")]
    pub service: String,
    /// Set when the incident is a drill (`ic drill`), with its expected answers.
    #[serde(
        deserialize_with = "lenient::drill",
        skip_serializing_if = "Option::is_none"
    )]
    pub drill: Option<Drill>,
}

/// A drill: the scenario rehearsed and what a team should find.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Drill {
    /// The scenario's name.
    #[serde(deserialize_with = "lenient::text")]
    pub scenario: String,
    /// The playbook that fits it.
    #[serde(deserialize_with = "lenient::opt_text")]
    pub playbook: Option<String>,
    /// Words the confirmed hypothesis should hold (the cause).
    #[serde(deserialize_with = "lenient::opt_text")]
    pub cause: Option<String>,
}

/// `incident_closed` (the fold reads none of it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Closed {
    /// Closed before the exit criteria held.
    #[serde(
        rename = "override",
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub forced: Option<bool>,
    /// What was missing when it was closed anyway.
    #[serde(
        deserialize_with = "lenient::any",
        skip_serializing_if = "Option::is_none"
    )]
    pub missing: Option<Vec<String>>,
    /// Closed as stale.
    #[serde(
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub stale: Option<bool>,
}

/// `signal_fired`, `signal_updated`, `signal_resolved`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SignalData {
    /// Detector kind (`error_rate`, …).
    #[serde(deserialize_with = "lenient::text")]
    pub detector: String,
    /// Endpoint or route.
    #[serde(deserialize_with = "lenient::text")]
    pub target: String,
    /// The detector's own severity.
    #[serde(deserialize_with = "lenient::any")]
    pub severity: Option<SeverityHint>,
    /// What it saw.
    #[serde(deserialize_with = "lenient::text")]
    pub evidence: String,
    /// Estimated start of the anomaly.
    #[serde(deserialize_with = "lenient::time", serialize_with = "ser_time")]
    pub started: Option<DateTime<Utc>>,
    /// When the detector said it.
    #[serde(deserialize_with = "lenient::time", serialize_with = "ser_time")]
    pub at: Option<DateTime<Utc>>,
    /// Estimated end (resolved signals; older files have none).
    #[serde(
        deserialize_with = "lenient::time",
        serialize_with = "ser_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub ended: Option<DateTime<Utc>>,
}

/// `severity_set`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SeveritySet {
    /// The severity (`None`: not SEV-1..4).
    #[serde(deserialize_with = "lenient::severity")]
    pub severity: Option<Severity>,
    /// Why.
    #[serde(deserialize_with = "lenient::text")]
    pub reason: String,
}

/// `role_assigned`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoleAssigned {
    /// The role.
    #[serde(deserialize_with = "lenient::text")]
    pub role: String,
    /// Who (empty: the role is freed).
    #[serde(deserialize_with = "lenient::text")]
    pub person: String,
}

/// `phase_entered`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhaseEntered {
    /// The phase (`None`: not a known one).
    #[serde(deserialize_with = "lenient::any")]
    pub phase: Option<Phase>,
    /// Entered with required steps open.
    #[serde(rename = "override", deserialize_with = "lenient::flag")]
    pub forced: bool,
    /// The required steps left open.
    #[serde(deserialize_with = "lenient::strings")]
    pub open_steps: Vec<String>,
}

/// `playbook_selected`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlaybookSelected {
    /// The playbook's id.
    #[serde(deserialize_with = "lenient::text")]
    pub playbook: String,
}

/// `step_done`, `step_skipped`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepData {
    /// The playbook in use.
    #[serde(deserialize_with = "lenient::opt_text")]
    pub playbook: Option<String>,
    /// The step's phase.
    #[serde(deserialize_with = "lenient::text")]
    pub phase: String,
    /// The step's id.
    #[serde(deserialize_with = "lenient::text")]
    pub step: String,
    /// The verify result, when the step checked itself.
    #[serde(deserialize_with = "lenient::value")]
    pub verify: Option<Value>,
    /// Why it was skipped.
    #[serde(
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason: Option<String>,
}

/// `note`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoteData {
    /// Tags (`went_well`, `went_poorly`, …).
    #[serde(deserialize_with = "lenient::strings")]
    pub tags: Vec<String>,
}

/// `hypothesis_added`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HypothesisAdded {
    /// Its id (`None`: the fold numbers it).
    #[serde(
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// The claim (`None`: the event's message).
    #[serde(
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub text: Option<String>,
}

/// `evidence_added`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvidenceAdded {
    /// The hypothesis' id.
    #[serde(deserialize_with = "lenient::text")]
    pub hypothesis: String,
    /// For (`None` reads as for) or against.
    #[serde(deserialize_with = "lenient::opt_bool")]
    pub supports: Option<bool>,
    /// What was seen (`None`: the event's message).
    #[serde(deserialize_with = "lenient::opt_text")]
    pub text: Option<String>,
}

/// `hypothesis_confirmed`, `hypothesis_ruled_out`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Verdict {
    /// The hypothesis' id.
    #[serde(deserialize_with = "lenient::text")]
    pub hypothesis: String,
}

/// `command_started`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommandStarted {
    /// The step.
    #[serde(deserialize_with = "lenient::opt_text")]
    pub step: Option<String>,
    /// The step's phase.
    #[serde(deserialize_with = "lenient::any")]
    pub phase: Option<Phase>,
    /// The playbook in use.
    #[serde(deserialize_with = "lenient::opt_text")]
    pub playbook: Option<String>,
    /// The command as handed to `sh -c` (redacted).
    #[serde(deserialize_with = "lenient::text")]
    pub command: String,
    /// Its environment (redacted).
    #[serde(deserialize_with = "lenient::or_default")]
    pub env: BTreeMap<String, String>,
    /// The target it ran against.
    #[serde(deserialize_with = "lenient::opt_text")]
    pub target: Option<String>,
    /// Who confirmed it.
    #[serde(deserialize_with = "lenient::opt_text")]
    pub confirmed_by: Option<String>,
    /// When.
    #[serde(deserialize_with = "lenient::time", serialize_with = "ser_time")]
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Its timeout.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub timeout_ms: Option<u64>,
}

/// `command_finished` (and an older version's `command_run`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommandFinished {
    /// The `seq` of its `command_started`.
    #[serde(
        deserialize_with = "lenient::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub run: Option<u64>,
    /// The step.
    #[serde(
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub step: Option<String>,
    /// The command (redacted).
    #[serde(deserialize_with = "lenient::text")]
    pub command: String,
    /// Who confirmed it.
    #[serde(deserialize_with = "lenient::opt_text")]
    pub confirmed_by: Option<String>,
    /// Exit code, if it exited.
    #[serde(deserialize_with = "lenient::opt_i64")]
    pub exit_code: Option<i64>,
    /// The signal that ended it.
    #[serde(deserialize_with = "lenient::opt_i64")]
    pub signal: Option<i64>,
    /// How long it ran.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub duration_ms: Option<u64>,
    /// Output excerpt (redacted, capped).
    #[serde(deserialize_with = "lenient::text")]
    pub output: String,
    /// Output was cut to the cap.
    #[serde(deserialize_with = "lenient::flag")]
    pub truncated: bool,
    /// The timeout stopped it.
    #[serde(deserialize_with = "lenient::flag")]
    pub timed_out: bool,
    /// The cancel switch stopped it.
    #[serde(deserialize_with = "lenient::flag")]
    pub cancelled: bool,
    /// Processes it left behind were ended.
    #[serde(deserialize_with = "lenient::flag")]
    pub leftovers_ended: bool,
    /// How it ended in words, when it did not run (`could not start: …`).
    #[serde(
        deserialize_with = "lenient::text",
        skip_serializing_if = "String::is_empty"
    )]
    pub why: String,
}

/// `target_selected`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetSelected {
    /// The primary target.
    #[serde(deserialize_with = "lenient::text")]
    pub target: String,
}

/// `comms_update`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommsUpdate {
    /// What was sent (`None`: the event's message).
    #[serde(deserialize_with = "lenient::opt_text")]
    pub text: Option<String>,
}

/// One target's row in a `metric_snapshot`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SnapshotTarget {
    /// Endpoint or route.
    #[serde(deserialize_with = "lenient::text")]
    pub target: String,
    /// Requests per second.
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub rps: Option<f64>,
    /// Error ratio.
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub error_ratio: Option<f64>,
    /// p95 latency.
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub p95_ms: Option<f64>,
    /// Failed requests in the last minute.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub failed: Option<u64>,
}

/// `metric_snapshot`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricSnapshot {
    /// One row per target.
    #[serde(deserialize_with = "lenient::rows")]
    pub targets: Vec<SnapshotTarget>,
}

/// One target's row in an `impact_measured`, as written (the fold makes the
/// numbers sane).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImpactRow {
    /// The target.
    #[serde(deserialize_with = "lenient::text")]
    pub target: String,
    /// Other names of the same target.
    #[serde(deserialize_with = "lenient::strings")]
    pub also: Vec<String>,
    /// Requests in the impact.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub requests: Option<u64>,
    /// Failed requests in the impact.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub failed: Option<u64>,
    /// Worst 30-s error ratio.
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub peak_error_ratio: Option<f64>,
    /// p95 before the impact.
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub p95_before_ms: Option<f64>,
    /// p95 during the impact.
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub p95_during_ms: Option<f64>,
    /// p95 after the impact.
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub p95_after_ms: Option<f64>,
    /// The target's impact start.
    #[serde(deserialize_with = "lenient::time", serialize_with = "ser_time")]
    pub started: Option<DateTime<Utc>>,
    /// The target's impact end.
    #[serde(deserialize_with = "lenient::time", serialize_with = "ser_time")]
    pub ended: Option<DateTime<Utc>>,
    /// The onset is the first data `ic` had.
    #[serde(deserialize_with = "lenient::flag")]
    pub began_before_ic: bool,
}

/// `impact_measured`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImpactMeasured {
    /// The writing process's run.
    #[serde(deserialize_with = "lenient::text")]
    pub run: String,
    /// One row per affected target.
    #[serde(deserialize_with = "lenient::rows")]
    pub targets: Vec<ImpactRow>,
}

/// `change_marker`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChangeMarker {
    /// deploy, config, flag, …
    #[serde(deserialize_with = "lenient::text")]
    pub change: String,
    /// The version, if any.
    #[serde(deserialize_with = "lenient::opt_text")]
    pub version: Option<String>,
}

/// `action_item`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActionItemData {
    /// What (`None`: the event's message).
    #[serde(deserialize_with = "lenient::opt_text")]
    pub text: Option<String>,
    /// Who owns it.
    #[serde(deserialize_with = "lenient::text")]
    pub owner: String,
    /// By when.
    #[serde(deserialize_with = "lenient::opt_text")]
    pub due: Option<String>,
    /// `P1`…`P3`, if set.
    #[serde(
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub priority: Option<String>,
}

/// `action_done`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActionDone {
    /// The action item event's `id`.
    #[serde(deserialize_with = "lenient::text")]
    pub item: String,
}

/// `lifecycle`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lifecycle {
    /// The stage (`None`: not a known one).
    #[serde(deserialize_with = "lenient::stage")]
    pub stage: Option<Stage>,
    /// When (`None`: not an RFC 3339 time).
    #[serde(deserialize_with = "lenient::time", serialize_with = "ser_time")]
    pub at: Option<DateTime<Utc>>,
    /// Resolved before the exit criteria held.
    #[serde(
        rename = "override",
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub forced: Option<bool>,
}

/// `root_cause`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RootCause {
    /// The technical cause.
    #[serde(deserialize_with = "lenient::text")]
    pub technical: String,
    /// The process cause.
    #[serde(deserialize_with = "lenient::text")]
    pub process: String,
}

/// `silence_added`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SilenceAdded {
    /// Its id when copied from the silence log into an incident (in the log
    /// itself empty: the id is `s<seq>`).
    #[serde(
        deserialize_with = "lenient::text",
        skip_serializing_if = "String::is_empty"
    )]
    pub silence: String,
    /// The target pattern (`*`: every target).
    #[serde(deserialize_with = "lenient::text")]
    pub target: String,
    /// The service it silences (empty: every service of the directory).
    #[serde(
        deserialize_with = "lenient::text",
        skip_serializing_if = "String::is_empty"
    )]
    pub service: String,
    /// When it starts (default: the event's time).
    #[serde(deserialize_with = "lenient::time", serialize_with = "ser_time")]
    pub starts: Option<DateTime<Utc>>,
    /// When it ends.
    #[serde(deserialize_with = "lenient::time", serialize_with = "ser_time")]
    pub ends: Option<DateTime<Utc>>,
    /// Why.
    #[serde(deserialize_with = "lenient::text")]
    pub reason: String,
}

/// `silence_expired`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SilenceExpired {
    /// The silence's id (`s3`, `m1`).
    #[serde(deserialize_with = "lenient::text")]
    pub silence: String,
}

/// `signal_silenced`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SignalSilenced {
    /// The silence that held it.
    #[serde(deserialize_with = "lenient::text")]
    pub silence: String,
    /// `fired` or `resolved`.
    #[serde(deserialize_with = "lenient::text")]
    pub state: String,
    /// The signal.
    #[serde(deserialize_with = "lenient::any")]
    pub signal: Option<SignalData>,
}

/// An event's payload, typed by its kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// `incident_opened`.
    Opened(Opened),
    /// `incident_closed`.
    Closed(Closed),
    /// `signal_fired`, `signal_updated`, `signal_resolved`.
    Signal(SignalData),
    /// `severity_set`.
    Severity(SeveritySet),
    /// `role_assigned`.
    Role(RoleAssigned),
    /// `phase_entered`.
    Phase(PhaseEntered),
    /// `playbook_selected`.
    Playbook(PlaybookSelected),
    /// `step_done`, `step_skipped`.
    Step(StepData),
    /// `note`.
    Note(NoteData),
    /// `hypothesis_added`.
    HypothesisAdded(HypothesisAdded),
    /// `evidence_added`.
    Evidence(EvidenceAdded),
    /// `hypothesis_confirmed`, `hypothesis_ruled_out`.
    Verdict(Verdict),
    /// `command_started`.
    CommandStarted(CommandStarted),
    /// `command_finished`, `command_run`.
    CommandFinished(CommandFinished),
    /// `target_selected`.
    TargetSelected(TargetSelected),
    /// `comms_update`.
    Comms(CommsUpdate),
    /// `metric_snapshot`.
    MetricSnapshot(MetricSnapshot),
    /// `impact_measured`.
    ImpactMeasured(ImpactMeasured),
    /// `change_marker`.
    Change(ChangeMarker),
    /// `action_item`.
    ActionItem(ActionItemData),
    /// `action_done`.
    ActionDone(ActionDone),
    /// `lifecycle`.
    Lifecycle(Lifecycle),
    /// `root_cause`.
    RootCause(RootCause),
    /// `silence_added`.
    SilenceAdded(SilenceAdded),
    /// `silence_expired`.
    SilenceExpired(SilenceExpired),
    /// `signal_silenced`.
    SignalSilenced(SignalSilenced),
    /// A kind this version does not know: the data as it is.
    Unknown(Value),
}

/// Reads `data` as a `T`: an object field by field, `null` (no data) as the
/// defaults; anything else is an error.
fn read<T: DeserializeOwned + Default>(data: &Value) -> Result<T, String> {
    match data {
        Value::Object(_) => T::deserialize(data).map_err(|e| format!("unreadable `data`: {e}")),
        Value::Null => Ok(T::default()),
        Value::Bool(_) => Err("`data` is a boolean, not an object".into()),
        Value::Number(_) => Err("`data` is a number, not an object".into()),
        Value::String(_) => Err("`data` is a string, not an object".into()),
        Value::Array(_) => Err("`data` is an array, not an object".into()),
    }
}

impl Payload {
    /// The payload of an event of `kind` carrying `data`; `Err` when `data`
    /// is not an object (nor absent).
    pub fn read(kind: Kind, data: &Value) -> Result<Payload, String> {
        Ok(match kind {
            Kind::IncidentOpened => Payload::Opened(read(data)?),
            Kind::IncidentClosed => Payload::Closed(read(data)?),
            Kind::SignalFired | Kind::SignalUpdated | Kind::SignalResolved | Kind::SignalBlip => {
                Payload::Signal(read(data)?)
            }
            Kind::SeveritySet => Payload::Severity(read(data)?),
            Kind::RoleAssigned => Payload::Role(read(data)?),
            Kind::PhaseEntered => Payload::Phase(read(data)?),
            Kind::PlaybookSelected => Payload::Playbook(read(data)?),
            Kind::StepDone | Kind::StepSkipped | Kind::StepUndone => Payload::Step(read(data)?),
            Kind::Note => Payload::Note(read(data)?),
            Kind::HypothesisAdded => Payload::HypothesisAdded(read(data)?),
            Kind::EvidenceAdded => Payload::Evidence(read(data)?),
            Kind::HypothesisConfirmed | Kind::HypothesisRuledOut => Payload::Verdict(read(data)?),
            Kind::CommandStarted => Payload::CommandStarted(read(data)?),
            Kind::CommandRun | Kind::CommandFinished => Payload::CommandFinished(read(data)?),
            Kind::TargetSelected => Payload::TargetSelected(read(data)?),
            Kind::CommsUpdate => Payload::Comms(read(data)?),
            Kind::MetricSnapshot => Payload::MetricSnapshot(read(data)?),
            Kind::ImpactMeasured => Payload::ImpactMeasured(read(data)?),
            Kind::ChangeMarker => Payload::Change(read(data)?),
            Kind::ActionItem => Payload::ActionItem(read(data)?),
            Kind::ActionDone => Payload::ActionDone(read(data)?),
            Kind::Lifecycle => Payload::Lifecycle(read(data)?),
            Kind::RootCause => Payload::RootCause(read(data)?),
            Kind::SilenceAdded => Payload::SilenceAdded(read(data)?),
            Kind::SilenceExpired => Payload::SilenceExpired(read(data)?),
            Kind::SignalSilenced => Payload::SignalSilenced(read(data)?),
            Kind::Unknown => Payload::Unknown(data.clone()),
        })
    }

    /// The payload of `kind` with every field at its default (what an event
    /// without data reads as).
    pub fn empty(kind: Kind) -> Payload {
        Payload::read(kind, &Value::Null).unwrap_or(Payload::Unknown(Value::Null))
    }

    /// The payload as event `data`.
    pub fn to_value(&self) -> Value {
        match self {
            Payload::Opened(p) => to_data(p),
            Payload::Closed(p) => to_data(p),
            Payload::Signal(p) => to_data(p),
            Payload::Severity(p) => to_data(p),
            Payload::Role(p) => to_data(p),
            Payload::Phase(p) => to_data(p),
            Payload::Playbook(p) => to_data(p),
            Payload::Step(p) => to_data(p),
            Payload::Note(p) => to_data(p),
            Payload::HypothesisAdded(p) => to_data(p),
            Payload::Evidence(p) => to_data(p),
            Payload::Verdict(p) => to_data(p),
            Payload::CommandStarted(p) => to_data(p),
            Payload::CommandFinished(p) => to_data(p),
            Payload::TargetSelected(p) => to_data(p),
            Payload::Comms(p) => to_data(p),
            Payload::MetricSnapshot(p) => to_data(p),
            Payload::ImpactMeasured(p) => to_data(p),
            Payload::Change(p) => to_data(p),
            Payload::ActionItem(p) => to_data(p),
            Payload::ActionDone(p) => to_data(p),
            Payload::Lifecycle(p) => to_data(p),
            Payload::RootCause(p) => to_data(p),
            Payload::SilenceAdded(p) => to_data(p),
            Payload::SilenceExpired(p) => to_data(p),
            Payload::SignalSilenced(p) => to_data(p),
            Payload::Unknown(v) => v.clone(),
        }
    }
}

/// A payload struct as event `data` (plain data: serializing it cannot fail;
/// `null`, no data, if it ever did).
pub fn to_data<T: Serialize>(payload: &T) -> Value {
    serde_json::to_value(payload).unwrap_or(Value::Null)
}

impl Event {
    /// The event's payload, typed by its kind; `Err` when `data` is not an
    /// object. Fields of the wrong type read as their defaults.
    pub fn payload(&self) -> Result<Payload, String> {
        Payload::read(self.kind, &self.data)
    }
}

impl Draft {
    /// The draft's payload, typed by its kind (as [`Event::payload`]).
    pub fn payload(&self) -> Result<Payload, String> {
        Payload::read(self.kind, &self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_800_000_000_000 + ms).unwrap()
    }

    fn every_payload() -> Vec<(Kind, Payload)> {
        vec![
            (
                Kind::IncidentOpened,
                Payload::Opened(Opened {
                    title: "Payments 5xx".into(),
                    service: "shop".into(),
                    drill: Some(Drill {
                        scenario: "payments-pool-exhaustion".into(),
                        playbook: Some("db-pool".into()),
                        cause: None,
                    }),
                }),
            ),
            (
                Kind::IncidentClosed,
                Payload::Closed(Closed {
                    forced: Some(true),
                    missing: Some(vec!["no root cause".into()]),
                    stale: None,
                }),
            ),
            (
                Kind::SignalResolved,
                Payload::Signal(SignalData {
                    detector: "error_rate".into(),
                    target: "payments".into(),
                    severity: Some(SeverityHint::Critical),
                    evidence: "15% errors".into(),
                    started: Some(t(-30_000)),
                    at: Some(t(1)),
                    ended: Some(t(-5)),
                }),
            ),
            (
                Kind::SeveritySet,
                Payload::Severity(SeveritySet {
                    severity: Some(Severity::Sev2),
                    reason: "checkout".into(),
                }),
            ),
            (
                Kind::RoleAssigned,
                Payload::Role(RoleAssigned {
                    role: "incident-lead".into(),
                    person: "ann".into(),
                }),
            ),
            (
                Kind::PhaseEntered,
                Payload::Phase(PhaseEntered {
                    phase: Some(Phase::Mitigate),
                    forced: true,
                    open_steps: vec!["scope".into()],
                }),
            ),
            (
                Kind::PlaybookSelected,
                Payload::Playbook(PlaybookSelected {
                    playbook: "http-5xx-spike".into(),
                }),
            ),
            (
                Kind::StepSkipped,
                Payload::Step(StepData {
                    playbook: Some("p".into()),
                    phase: "triage".into(),
                    step: "scope".into(),
                    verify: Some(json!({"passed": true, "value": 0.1, "text": "ok"})),
                    reason: Some("obvious".into()),
                }),
            ),
            (
                Kind::Note,
                Payload::Note(NoteData {
                    tags: vec!["went_well".into()],
                }),
            ),
            (
                Kind::HypothesisAdded,
                Payload::HypothesisAdded(HypothesisAdded {
                    id: Some("h1".into()),
                    text: Some("pool".into()),
                }),
            ),
            (
                Kind::EvidenceAdded,
                Payload::Evidence(EvidenceAdded {
                    hypothesis: "h1".into(),
                    supports: Some(false),
                    text: Some("idle".into()),
                }),
            ),
            (
                Kind::HypothesisRuledOut,
                Payload::Verdict(Verdict {
                    hypothesis: "h2".into(),
                }),
            ),
            (
                Kind::CommandStarted,
                Payload::CommandStarted(CommandStarted {
                    step: Some("restart".into()),
                    phase: Some(Phase::Mitigate),
                    playbook: None,
                    command: "kubectl rollout restart".into(),
                    env: [("IC_TARGET".to_string(), "x".to_string())].into(),
                    target: Some("x".into()),
                    confirmed_by: Some("bob".into()),
                    confirmed_at: Some(t(7)),
                    timeout_ms: Some(60_000),
                }),
            ),
            (
                Kind::CommandFinished,
                Payload::CommandFinished(CommandFinished {
                    run: Some(12),
                    step: Some("restart".into()),
                    command: "kubectl".into(),
                    confirmed_by: Some("bob".into()),
                    exit_code: Some(-1),
                    signal: Some(9),
                    duration_ms: Some(3000),
                    output: "done".into(),
                    truncated: true,
                    timed_out: false,
                    cancelled: true,
                    leftovers_ended: false,
                    why: "why".into(),
                }),
            ),
            (
                Kind::TargetSelected,
                Payload::TargetSelected(TargetSelected {
                    target: "shop /api/orders".into(),
                }),
            ),
            (
                Kind::CommsUpdate,
                Payload::Comms(CommsUpdate {
                    text: Some("rolling back".into()),
                }),
            ),
            (
                Kind::MetricSnapshot,
                Payload::MetricSnapshot(MetricSnapshot {
                    targets: vec![SnapshotTarget {
                        target: "payments".into(),
                        rps: Some(12.5),
                        error_ratio: Some(0.15),
                        p95_ms: None,
                        failed: Some(180),
                    }],
                }),
            ),
            (
                Kind::ImpactMeasured,
                Payload::ImpactMeasured(ImpactMeasured {
                    run: "r1".into(),
                    targets: vec![ImpactRow {
                        target: "shop /api/payments".into(),
                        also: vec!["payments".into()],
                        requests: Some(1200),
                        failed: Some(150),
                        peak_error_ratio: Some(0.16),
                        p95_before_ms: Some(90.0),
                        p95_during_ms: Some(240.0),
                        p95_after_ms: None,
                        started: Some(t(0)),
                        ended: None,
                        began_before_ic: true,
                    }],
                }),
            ),
            (
                Kind::ChangeMarker,
                Payload::Change(ChangeMarker {
                    change: "deploy".into(),
                    version: Some("v42".into()),
                }),
            ),
            (
                Kind::ActionItem,
                Payload::ActionItem(ActionItemData {
                    text: Some("alert".into()),
                    owner: "bob".into(),
                    due: None,
                    priority: Some("P1".into()),
                }),
            ),
            (
                Kind::ActionDone,
                Payload::ActionDone(ActionDone {
                    item: "0190c2a4-0000-7000-8000-000000000001".into(),
                }),
            ),
            (
                Kind::Lifecycle,
                Payload::Lifecycle(Lifecycle {
                    stage: Some(Stage::ImpactStarted),
                    at: Some(t(-300_000)),
                    forced: Some(false),
                }),
            ),
            (
                Kind::RootCause,
                Payload::RootCause(RootCause {
                    technical: "pool size".into(),
                    process: "no load test".into(),
                }),
            ),
            (Kind::Unknown, Payload::Unknown(json!({"x": [1, 2]}))),
        ]
    }

    #[test]
    fn every_payload_round_trips_through_a_line() {
        for (kind, p) in every_payload() {
            let data = p.to_value();
            assert!(data.is_object(), "{kind}: {data}");
            let e = crate::core::event::Draft::new(kind, "ann", "m", data).into_event(3, t(0));
            let back = Event::parse_line(&e.to_line()).unwrap();
            assert_eq!(back.payload().unwrap(), p, "{kind}");
        }
    }

    #[test]
    fn writes_exactly_the_data_the_json_writers_did() {
        use crate::core::signal::{DetectorKind, Signal, SignalState};
        let ts = |ms| format_ts(t(ms));
        let mut signal = Signal {
            kind: DetectorKind::ErrorRate,
            target: "payments".into(),
            state: SignalState::Fired,
            severity: SeverityHint::Critical,
            evidence: "15%".into(),
            started: t(-30_000),
            at: t(0),
            class: None,
            ended: None,
        };
        let fired = json!({"detector": "error_rate", "target": "payments", "severity": "critical",
            "evidence": "15%", "started": ts(-30_000), "at": ts(0)});
        assert_eq!(Draft::signal(&signal).data, fired);
        signal.ended = Some(t(-5));
        let mut resolved = fired.clone();
        resolved["ended"] = json!(ts(-5));
        assert_eq!(Draft::signal(&signal).data, resolved);
        let cases = [
            (
                Draft::opened("a", "T", "").data,
                json!({"title": "T", "service": ""}),
            ),
            (
                Draft::note("a", "n", &["went_well"]).data,
                json!({"tags": ["went_well"]}),
            ),
            (Draft::note("a", "n", &[]).data, json!({"tags": []})),
            (
                Draft::severity("a", Severity::Sev1, "").data,
                json!({"severity": "SEV-1", "reason": ""}),
            ),
            (
                Draft::lifecycle("a", Stage::ImpactEnded, t(5)).data,
                json!({"stage": "impact_ended", "at": ts(5)}),
            ),
            (
                Draft::change("a", "deploy", "w", None).data,
                json!({"change": "deploy", "version": null}),
            ),
            (
                Draft::action_item("a", "x", "", None, None).data,
                json!({"text": "x", "owner": "", "due": null}),
            ),
            (
                to_data(&PhaseEntered {
                    phase: Some(Phase::Learn),
                    forced: false,
                    open_steps: vec![],
                }),
                json!({"phase": "learn", "override": false, "open_steps": []}),
            ),
            (
                to_data(&StepData {
                    playbook: None,
                    phase: "detect".into(),
                    step: "s".into(),
                    verify: None,
                    reason: None,
                }),
                json!({"playbook": null, "phase": "detect", "step": "s", "verify": null}),
            ),
            (
                to_data(&CommandStarted {
                    step: Some("s".into()),
                    phase: Some(Phase::Mitigate),
                    playbook: None,
                    command: "c".into(),
                    env: BTreeMap::new(),
                    target: None,
                    confirmed_by: Some("a".into()),
                    confirmed_at: Some(t(1)),
                    timeout_ms: Some(5),
                }),
                json!({"step": "s", "phase": "mitigate", "playbook": null, "command": "c",
                    "env": {}, "target": null, "confirmed_by": "a", "confirmed_at": ts(1),
                    "timeout_ms": 5}),
            ),
            (
                to_data(&CommandFinished {
                    command: "c".into(),
                    confirmed_by: Some("a".into()),
                    duration_ms: Some(7),
                    ..CommandFinished::default()
                }),
                json!({"command": "c", "confirmed_by": "a", "exit_code": null, "signal": null,
                    "duration_ms": 7, "output": "", "truncated": false, "timed_out": false,
                    "cancelled": false, "leftovers_ended": false}),
            ),
            (
                to_data(&SnapshotTarget {
                    target: "t".into(),
                    rps: Some(2.0),
                    error_ratio: Some(0.0),
                    p95_ms: None,
                    failed: Some(0),
                }),
                json!({"target": "t", "rps": 2.0, "error_ratio": 0.0, "p95_ms": null, "failed": 0}),
            ),
            (
                to_data(&ImpactRow {
                    target: "t".into(),
                    requests: Some(3),
                    failed: Some(1),
                    started: Some(t(0)),
                    ..ImpactRow::default()
                }),
                json!({"target": "t", "also": [], "requests": 3, "failed": 1,
                    "peak_error_ratio": null, "p95_before_ms": null, "p95_during_ms": null,
                    "p95_after_ms": null, "started": ts(0), "ended": null, "began_before_ic": false}),
            ),
            (
                to_data(&Closed {
                    forced: Some(true),
                    missing: None,
                    stale: Some(true),
                }),
                json!({"override": true, "stale": true}),
            ),
            (
                to_data(&Closed {
                    forced: Some(false),
                    missing: Some(vec![]),
                    stale: None,
                }),
                json!({"override": false, "missing": []}),
            ),
            (
                to_data(&HypothesisAdded {
                    id: None,
                    text: Some("x".into()),
                }),
                json!({"text": "x"}),
            ),
        ];
        for (typed, was) in cases {
            assert_eq!(typed.to_string(), was.to_string());
        }
    }

    #[test]
    fn every_kind_has_a_payload_and_no_data_reads_as_defaults() {
        for k in Kind::ALL {
            let p = Payload::empty(k);
            assert!(!matches!(p, Payload::Unknown(_)), "{k}");
            assert_eq!(Payload::read(k, &json!({})).unwrap(), p, "{k}");
        }
    }

    /// Whether `new` says what `old` did: the keys both have hold the same
    /// values (times as instants: older files write no milliseconds).
    fn same(old: &Value, new: &Value) -> bool {
        let instant = |v: &Value| {
            v.as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        };
        match (old, new) {
            (Value::Object(a), Value::Object(b)) => {
                a.iter().all(|(k, v)| b.get(k).is_none_or(|w| same(v, w)))
            }
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(v, w)| same(v, w))
            }
            _ => old == new || instant(old).is_some_and(|t| Some(t) == instant(new)),
        }
    }

    #[test]
    fn old_lines_from_the_golden_timeline_read() {
        let golden = include_str!("../../tests/golden/incident.jsonl");
        let mut kinds = std::collections::BTreeSet::new();
        for line in golden.lines().filter(|l| !l.trim().is_empty()) {
            let e = Event::parse_line(line).unwrap();
            let p = e.payload().unwrap();
            kinds.insert(e.kind);
            // What the typed payload writes back is what was read, for the keys it knows.
            assert!(
                same(&e.data, &p.to_value()),
                "{}: {} writes {}",
                e.kind,
                e.data,
                p.to_value()
            );
        }
        assert!(kinds.len() > 5, "{kinds:?}");
        let line = r#"{"seq":2,"ts":"2026-01-01T00:00:00.000Z","kind":"signal_fired","actor":"ic","msg":"m","data":{"detector":"error_rate","target":"payments","severity":"critical","evidence":"15%","started":"2025-12-31T23:59:30.000Z","at":"2026-01-01T00:00:00.000Z"}}"#;
        let Payload::Signal(s) = Event::parse_line(line).unwrap().payload().unwrap() else {
            panic!("not a signal");
        };
        assert_eq!(s.detector, "error_rate");
        assert_eq!(s.severity, Some(SeverityHint::Critical));
        assert_eq!(s.ended, None, "older files have no `ended`");
        assert_eq!(
            s.started,
            Some(Utc.with_ymd_and_hms(2025, 12, 31, 23, 59, 30).unwrap())
        );
    }

    #[test]
    fn hostile_payloads_read_as_defaults_or_errors_never_panics() {
        // Past u64 and i64: read as floats, which no integer field takes.
        let huge: Value =
            serde_json::from_str(r#"[18446744073709551616, -9223372036854775809, 1e308]"#).unwrap();
        let junk = json!({
            "detector": 7, "target": ["a"], "evidence": {"x": {"y": [null]}},
            "started": "yesterday", "at": 1e308, "ended": -1,
            "severity": "SEV-9", "reason": false, "phase": "later", "override": "yes",
            "open_steps": [1, "a", null], "run": -5, "exit_code": 1e300,
            "duration_ms": -3, "signal": "9", "targets": [1, "x", {"target": 5, "requests": -1,
                "failed": 1.5, "also": "a", "peak_error_ratio": "NaN"}, [["deep"]]],
            "tags": "went_well", "supports": "no", "stage": 3, "env": {"A": 1},
            "timeout_ms": 18_446_744_073_709_551_615u64, "verify": null,
            "big": huge.clone(), "requests": huge[0].clone(),
        });
        for k in Kind::ALL {
            let p = Payload::read(k, &junk).unwrap();
            // Reading again what it writes never fails either.
            Payload::read(k, &p.to_value()).unwrap();
        }
        let Payload::ImpactMeasured(m) = Payload::read(Kind::ImpactMeasured, &junk).unwrap() else {
            panic!()
        };
        assert_eq!(m.run, "");
        assert_eq!(m.targets.len(), 4);
        assert_eq!(
            m.targets[2],
            ImpactRow::default(),
            "every field of the wrong type"
        );
        let Payload::Phase(p) = Payload::read(Kind::PhaseEntered, &junk).unwrap() else {
            panic!()
        };
        assert_eq!(
            (p.phase, p.forced, p.open_steps),
            (None, false, vec!["a".to_string()])
        );
        let Payload::CommandFinished(c) = Payload::read(Kind::CommandFinished, &junk).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (c.run, c.exit_code, c.duration_ms, c.signal),
            (None, None, None, None)
        );
        let past =
            json!({"run": huge[0], "exit_code": huge[1], "duration_ms": huge[2], "why": huge});
        let Payload::CommandFinished(c) = Payload::read(Kind::CommandFinished, &past).unwrap()
        else {
            panic!()
        };
        assert_eq!((c.run, c.exit_code, c.duration_ms), (None, None, None));
        assert_eq!(c.why, "");
        let Payload::CommandStarted(c) = Payload::read(Kind::CommandStarted, &junk).unwrap() else {
            panic!()
        };
        assert_eq!(c.timeout_ms, Some(u64::MAX));
        assert!(c.env.is_empty());
        for bad in [json!(5), json!("x"), json!([1, 2]), json!(true)] {
            for k in Kind::ALL {
                assert!(
                    Payload::read(k, &bad).is_err() || k == Kind::Unknown,
                    "{k} {bad}"
                );
            }
        }
        // Nested as deep as a line may be.
        let deep = format!("{}1{}", "[".repeat(120), "]".repeat(120));
        let deep: Value =
            serde_json::from_str(&format!(r#"{{"targets":{deep},"tags":{deep}}}"#)).unwrap();
        for k in Kind::ALL {
            Payload::read(k, &deep).unwrap();
        }
    }
}
