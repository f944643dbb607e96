//! Records detection into an incident timeline: when a signal fires and no
//! incident is open, opens one (or resumes the newest open one in the timeline
//! directory), then appends every signal and, while the incident is open, a
//! metric snapshot a minute so the postmortem can count the impact. Shared by
//! `ic watch` and the full-screen view.

use crate::core::event::{Draft, Event, Kind};
use crate::core::signal::{Signal, SignalState};
use crate::journal::{self, Journal, JournalError};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// How often a metric snapshot is written while an incident is open.
pub const SNAPSHOT_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// One target's numbers over the last snapshot interval.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRow {
    /// Endpoint or route.
    pub target: String,
    /// Requests (or probes) per second.
    pub rps: f64,
    /// Failed share.
    pub error_ratio: f64,
    /// p95 in milliseconds, when known.
    pub p95_ms: Option<f64>,
    /// Failed requests (or probes) in the interval.
    pub failed: u64,
}

/// Opens incidents on signals and keeps their timeline.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    service: String,
    enabled: bool,
    journal: Option<Journal>,
    last_snapshot: Option<DateTime<Utc>>,
}

impl Recorder {
    /// A recorder writing to `dir` for `service`; `enabled: false` never opens incidents.
    /// Resumes the newest open incident in `dir`, if any.
    pub fn new(dir: &Path, service: &str, enabled: bool) -> Recorder {
        let journal = if enabled {
            journal::newest_open(dir).and_then(|p| Journal::open(&p).ok())
        } else {
            None
        };
        Recorder {
            dir: dir.to_path_buf(),
            service: service.to_string(),
            enabled,
            journal,
            last_snapshot: None,
        }
    }

    /// The open incident's timeline file.
    pub fn path(&self) -> Option<&Path> {
        self.journal.as_ref().map(Journal::path)
    }

    /// Whether an incident is open.
    pub fn is_open(&self) -> bool {
        self.journal.is_some()
    }

    /// Records `signal`; opens an incident first when it fired and none is open.
    /// Returns the events written (the opening, if any, then the signal).
    pub fn record(
        &mut self,
        signal: &Signal,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>, JournalError> {
        let mut written = Vec::new();
        if self.journal.is_none() {
            if !self.enabled || signal.state != SignalState::Fired {
                return Ok(written);
            }
            let title = format!("{} on {}", signal.kind.as_str(), signal.target);
            let mut j = Journal::create(&self.dir, now, &title)?;
            written.push(j.append(Draft::opened("ic", &title, &self.service), now)?);
            self.journal = Some(j);
        }
        if let Some(j) = self.journal.as_mut() {
            written.push(j.append(Draft::signal(signal), now)?);
            // Someone may have closed the incident from another process.
            if written.iter().any(|e| e.kind == Kind::IncidentClosed) {
                self.journal = None;
            }
        }
        Ok(written)
    }

    /// Whether a snapshot is due at `now`.
    pub fn snapshot_due(&self, now: DateTime<Utc>) -> bool {
        self.journal.is_some() && self.last_snapshot.is_none_or(|t| now - t >= SNAPSHOT_EVERY)
    }

    /// Writes a metric snapshot of `rows`.
    pub fn snapshot(
        &mut self,
        rows: &[SnapshotRow],
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Event>, JournalError> {
        let Some(j) = self.journal.as_mut() else {
            return Ok(None);
        };
        self.last_snapshot = Some(now);
        if rows.is_empty() {
            return Ok(None);
        }
        let targets: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({"target": r.target, "rps": round(r.rps), "error_ratio": round(r.error_ratio),
                       "p95_ms": r.p95_ms.map(round), "failed": r.failed})
            })
            .collect();
        let worst = rows
            .iter()
            .max_by(|a, b| a.error_ratio.total_cmp(&b.error_ratio))
            .map(|r| {
                format!(
                    "; worst {} at {:.1}% errors",
                    r.target,
                    r.error_ratio * 100.0
                )
            })
            .unwrap_or_default();
        let failed: u64 = rows.iter().map(|r| r.failed).sum();
        let msg = format!(
            "metric snapshot: {} targets, {failed} failed{worst}",
            rows.len()
        );
        j.append(
            Draft::new(
                Kind::MetricSnapshot,
                actor,
                msg,
                json!({"targets": targets}),
            ),
            now,
        )
        .map(Some)
    }
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::incident::Incident;
    use crate::core::signal::{DetectorKind, SeverityHint};
    use chrono::TimeZone;

    fn sig(state: SignalState, at: i64) -> Signal {
        let t = Utc.timestamp_opt(1_800_000_000 + at, 0).unwrap();
        Signal {
            kind: DetectorKind::ErrorRate,
            target: "shop /api/payments".into(),
            state,
            severity: SeverityHint::Critical,
            evidence: "15% errors".into(),
            started: t,
            at: t,
            class: None,
        }
    }

    #[test]
    fn a_fired_signal_opens_an_incident_and_later_ones_join_it() {
        let dir = tempfile::tempdir().unwrap();
        let now = |s: i64| Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap();
        let mut r = Recorder::new(dir.path(), "shop", true);
        assert!(
            r.record(&sig(SignalState::Resolved, 0), now(0))
                .unwrap()
                .is_empty()
        );
        let w = r.record(&sig(SignalState::Fired, 1), now(1)).unwrap();
        assert_eq!(
            w.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [Kind::IncidentOpened, Kind::SignalFired]
        );
        assert!(r.snapshot_due(now(2)));
        let row = SnapshotRow {
            target: "shop /api/payments".into(),
            rps: 20.0,
            error_ratio: 0.15,
            p95_ms: Some(80.0),
            failed: 180,
        };
        r.snapshot(&[row], "ic", now(2)).unwrap();
        assert!(!r.snapshot_due(now(30)));
        r.record(&sig(SignalState::Resolved, 90), now(90)).unwrap();
        let path = r.path().unwrap().to_path_buf();
        // A second recorder (a restart) resumes the same incident.
        let mut again = Recorder::new(dir.path(), "shop", true);
        assert_eq!(again.path(), Some(path.as_path()));
        again
            .record(&sig(SignalState::Fired, 100), now(100))
            .unwrap();
        let replay = journal::read(&path).unwrap();
        let inc = Incident::fold(&replay.events);
        assert_eq!(inc.title, "error_rate on shop /api/payments");
        assert_eq!(inc.impact().failed_requests, Some(180));
        assert_eq!(replay.events.len(), 5);

        let mut off = Recorder::new(dir.path(), "shop", false);
        assert!(
            off.record(&sig(SignalState::Fired, 1), now(1))
                .unwrap()
                .is_empty()
        );
    }
}
