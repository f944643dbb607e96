//! Signals: what a detector (or Alertmanager) says about a target — fired,
//! updated or resolved — with the evidence a human can act on in one line.

use crate::core::sample::FailureClass;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which detector speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// Consecutive failed probes.
    Down,
    /// Error ratio above the threshold or burning the error budget.
    ErrorRate,
    /// Latency far above its baseline.
    Latency,
    /// Traffic far below its baseline, or gone.
    TrafficDrop,
    /// Traffic far above its baseline, sustained (a retry storm, a flood).
    TrafficSurge,
    /// A surge of 4xx answers.
    ClientErrors,
    /// A certificate close to expiry.
    Certificate,
    /// A firing Alertmanager alert.
    Alert,
    /// Most of the service's targets, its health check among them, failing
    /// at once: one signal for the whole service, with the list.
    ServiceDown,
}

impl DetectorKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DetectorKind::Down => "down",
            DetectorKind::ErrorRate => "error_rate",
            DetectorKind::Latency => "latency",
            DetectorKind::TrafficDrop => "traffic_drop",
            DetectorKind::TrafficSurge => "traffic_surge",
            DetectorKind::ClientErrors => "client_errors",
            DetectorKind::Certificate => "certificate",
            DetectorKind::Alert => "alert",
            DetectorKind::ServiceDown => "service_down",
        }
    }

    /// The failure class its signals stand for when the detector cannot tell
    /// better: 5xx for error rate, too slow for latency, TLS for certificates.
    /// Client errors have none: a 4xx count does not say 401 from 429.
    pub fn usual_class(self) -> Option<FailureClass> {
        match self {
            DetectorKind::ErrorRate => Some(FailureClass::Http5xx),
            DetectorKind::Latency => Some(FailureClass::TooSlow),
            DetectorKind::Certificate => Some(FailureClass::Tls),
            DetectorKind::Down
            | DetectorKind::ClientErrors
            | DetectorKind::TrafficDrop
            | DetectorKind::TrafficSurge
            | DetectorKind::Alert
            | DetectorKind::ServiceDown => None,
        }
    }
}

/// Where a signal is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalState {
    /// Newly detected.
    Fired,
    /// Still firing, with new numbers.
    Updated,
    /// Over, after a quiet period.
    Resolved,
    /// Fired and healed within `detect.min_duration`: recorded and shown, never paged.
    Blip,
    /// Fired again while held open after a short or repeated episode: the same
    /// signal going on (its evidence counts the flaps), not a new page.
    Flapping,
}

/// How bad the detector thinks it is (the responder sets the real severity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeverityHint {
    /// Page now.
    Critical,
    /// Look soon.
    Warning,
    /// For the record.
    Info,
}

/// One signal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    /// Detector.
    pub kind: DetectorKind,
    /// Endpoint, route or alert name.
    pub target: String,
    /// Fired, updated or resolved.
    pub state: SignalState,
    /// Detector's view of severity.
    pub severity: SeverityHint,
    /// The numbers and windows that triggered it, in words.
    pub evidence: String,
    /// Estimated onset of the anomaly (a change point in the data, not the
    /// first bucket over a line): what makes time-to-detect honest.
    pub started: DateTime<Utc>,
    /// On `Resolved`: the estimated end of the anomaly (the last bad second
    /// before the data went back under the line and held), which is what
    /// "impact ended" and "mitigated" are measured by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<DateTime<Utc>>,
    /// When this state was reached.
    pub at: DateTime<Utc>,
    /// The failure behind it, when known (a `down` signal: the last failed probe's class).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<FailureClass>,
}

impl Signal {
    /// One line a human can act on, e.g.
    /// `ALERT error_rate payments: 15% 5xx over 30s (threshold 1%) since 12:00:03Z`.
    pub fn headline(&self) -> String {
        let word = match self.state {
            SignalState::Fired => "ALERT",
            SignalState::Updated => "STILL",
            SignalState::Resolved => "RESOLVED",
            SignalState::Blip => "BLIP",
            SignalState::Flapping => "FLAPPING",
        };
        format!(
            "{word} {} {}: {} (since {})",
            self.kind.as_str(),
            self.target,
            self.evidence,
            self.started.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline())
    }
}
