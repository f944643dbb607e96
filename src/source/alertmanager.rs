//! Firing alerts from Alertmanager's `/api/v2/alerts` (active, not silenced,
//! not inhibited, narrowed by label matchers from config), as signals of their own.

use crate::config::AlertmanagerSource;
use crate::core::sample::FailureClass;
use crate::source::scrape::{self, ScrapeError};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One firing alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// `alertname` label.
    pub name: String,
    /// All labels.
    pub labels: BTreeMap<String, String>,
    /// `summary` (or `description`) annotation.
    pub summary: Option<String>,
    /// When it started firing.
    pub starts_at: Option<DateTime<Utc>>,
    /// Alertmanager's fingerprint (stable per label set).
    pub fingerprint: String,
}

#[derive(Debug, Deserialize)]
struct ApiAlert {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default, rename = "startsAt")]
    starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    fingerprint: String,
}

/// A client of one Alertmanager.
#[derive(Debug, Clone)]
pub struct AlertmanagerClient {
    client: reqwest::Client,
    url: url::Url,
    shown: String,
    bearer: Option<String>,
}

impl AlertmanagerClient {
    /// A client for the configured Alertmanager.
    pub fn new(src: &AlertmanagerSource) -> Result<AlertmanagerClient, ScrapeError> {
        let mut url = src
            .url
            .expose()
            .join("./api/v2/alerts")
            .map_err(|e| ScrapeError {
                class: FailureClass::Connect,
                message: format!("bad Alertmanager URL {}: {e}", src.url),
            })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("active", "true")
                .append_pair("silenced", "false")
                .append_pair("inhibited", "false");
            for (label, value) in &src.matchers {
                let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
                q.append_pair("filter", &format!("{label}=\"{escaped}\""));
            }
        }
        Ok(AlertmanagerClient {
            client: scrape::client(src.timeout.get())?,
            url,
            shown: format!("{}/api/v2/alerts", src.url.display().trim_end_matches('/')),
            bearer: src.bearer_token.as_ref().map(|t| t.expose().to_string()),
        })
    }

    /// The alerts firing now.
    pub async fn firing(&self) -> Result<Vec<Alert>, ScrapeError> {
        let mut req = self.client.get(self.url.clone());
        if let Some(t) = &self.bearer {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| ScrapeError {
            class: if e.is_timeout() {
                FailureClass::Timeout
            } else {
                FailureClass::Connect
            },
            message: format!("{}: {e}", self.shown),
        })?;
        let status = resp.status().as_u16();
        if status != 200 {
            let class = match status {
                401 | 403 => FailureClass::Auth,
                500..=599 => FailureClass::Http5xx,
                _ => FailureClass::Http4xx,
            };
            let body = resp.text().await.unwrap_or_default();
            return Err(ScrapeError {
                class,
                message: format!(
                    "{}: HTTP {status}: {}",
                    self.shown,
                    body.chars().take(200).collect::<String>()
                ),
            });
        }
        let alerts: Vec<ApiAlert> = resp.json().await.map_err(|e| ScrapeError {
            class: FailureClass::BodyMismatch,
            message: format!("{}: not an Alertmanager v2 answer: {e}", self.shown),
        })?;
        Ok(alerts
            .into_iter()
            .map(|a| Alert {
                name: a
                    .labels
                    .get("alertname")
                    .cloned()
                    .unwrap_or_else(|| "(unnamed)".into()),
                summary: a
                    .annotations
                    .get("summary")
                    .or_else(|| a.annotations.get("description"))
                    .cloned(),
                labels: a.labels,
                starts_at: a.starts_at,
                fingerprint: a.fingerprint,
            })
            .collect())
    }
}

/// Turns successive lists of firing alerts into signals: `Fired` for an alert
/// not seen before, `Resolved` for one that stopped firing.
#[derive(Debug, Default)]
pub struct AlertTracker {
    firing: std::collections::HashMap<String, Alert>,
}

impl AlertTracker {
    /// The signals between the previous list and `now_firing`, observed at `at`.
    pub fn update(
        &mut self,
        now_firing: Vec<Alert>,
        at: DateTime<Utc>,
    ) -> Vec<crate::core::signal::Signal> {
        use crate::core::signal::{DetectorKind, SeverityHint, Signal, SignalState};
        let signal = |a: &Alert, state| {
            let severity = match a.labels.get("severity").map(String::as_str) {
                Some("critical" | "page") => SeverityHint::Critical,
                Some("warning") => SeverityHint::Warning,
                _ => SeverityHint::Info,
            };
            let mut evidence = a
                .summary
                .clone()
                .unwrap_or_else(|| "firing in Alertmanager".into());
            if let Some(service) = a.labels.get("service") {
                evidence.push_str(&format!(" [service={service}]"));
            }
            Signal {
                kind: DetectorKind::Alert,
                target: a.name.clone(),
                state,
                severity,
                evidence,
                started: a.starts_at.unwrap_or(at),
                at,
                class: None,
                ended: (state == SignalState::Resolved).then_some(at),
            }
        };
        let mut out = Vec::new();
        let current: std::collections::HashMap<String, Alert> = now_firing
            .into_iter()
            .map(|a| (a.fingerprint.clone(), a))
            .collect();
        for (fp, a) in &current {
            if !self.firing.contains_key(fp) {
                out.push(signal(a, SignalState::Fired));
            }
        }
        for (fp, a) in &self.firing {
            if !current.contains_key(fp) {
                out.push(signal(a, SignalState::Resolved));
            }
        }
        self.firing = current;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::signal::{SeverityHint, SignalState};

    fn alert(name: &str, fp: &str) -> Alert {
        Alert {
            name: name.into(),
            labels: [("severity".to_string(), "page".to_string())].into(),
            summary: Some("5xx above 5%".into()),
            starts_at: None,
            fingerprint: fp.into(),
        }
    }

    #[test]
    fn new_alerts_fire_and_vanished_ones_resolve() {
        let mut t = AlertTracker::default();
        let now = crate::clock::now();
        let s = t.update(vec![alert("HighErrorRate", "a1")], now);
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].state, s[0].severity),
            (SignalState::Fired, SeverityHint::Critical)
        );
        assert!(
            t.update(vec![alert("HighErrorRate", "a1")], now).is_empty(),
            "still firing: no news"
        );
        let s = t.update(vec![], now);
        assert_eq!((s.len(), s[0].state), (1, SignalState::Resolved));
    }
}
