//! What an incident did to each affected target, measured from the live data
//! the app holds (the routes' per-second counts, the probes' windows, the
//! charts' history): requests and failed requests between the target's impact
//! start and end, the worst 30-s error ratio, p95 before / during / after.
//! A probe and the metrics route serving the same URL are one target (the
//! route's counts are the real traffic; the probe's are our own requests).
//! The result is the `impact_measured` event the postmortem reads.

use super::State;
use super::targets::{Feed, Target};
use crate::core::event::{Draft, Kind};
use crate::core::incident::SignalRecord;
use crate::core::payload::{ImpactMeasured, ImpactRow};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

/// A probe whose URL a metrics target's route serves (same origin and path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// The probe's endpoint name.
    pub probe: String,
    /// The metrics target scraped from the same origin.
    pub source: String,
    /// The probe URL's path (without the query).
    pub path: String,
}

/// The aliases of `probes` (name, URL) among `scrapes` (name, URL): a probe
/// and a metrics target on the same origin.
pub fn aliases(probes: &[(String, url::Url)], scrapes: &[(String, String)]) -> Vec<Alias> {
    let mut out = Vec::new();
    for (probe, url) in probes {
        for (source, scrape_url) in scrapes {
            let Ok(m) = url::Url::parse(scrape_url) else {
                continue;
            };
            if m.origin() == url.origin() {
                out.push(Alias {
                    probe: probe.clone(),
                    source: source.clone(),
                    path: url.path().to_string(),
                });
            }
        }
    }
    out
}

/// Whether a route label (`/api/users/{id}`, `/api/users/:id`, `/api/search`)
/// names the URL path `path`.
pub fn route_matches(route: &str, path: &str) -> bool {
    let route = route.split('?').next().unwrap_or(route);
    if route == path {
        return true;
    }
    let (r, p): (Vec<&str>, Vec<&str>) = (route.split('/').collect(), path.split('/').collect());
    r.len() == p.len()
        && r.iter().zip(&p).all(|(a, b)| {
            a == b
                || (!b.is_empty()
                    && (a.starts_with(':') || (a.starts_with('{') && a.ends_with('}'))))
        })
}

/// How many segments of a route label are placeholders (`:id`, `{id}`); 0 for an
/// exact path.
fn placeholders(route: &str) -> usize {
    route
        .split('?')
        .next()
        .unwrap_or(route)
        .split('/')
        .filter(|a| a.starts_with(':') || (a.starts_with('{') && a.ends_with('}')))
        .count()
}

/// The name the target `name` is counted under, with its other names: a probe
/// with a metrics route for its URL becomes that route.
pub fn canonical(state: &State, name: &str) -> (String, Vec<String>) {
    // The most specific matching route: the exact path before any template, then the
    // fewest placeholders (a `/{x}/{y}` listed first does not take `/api/payments`).
    let route_of = |alias: &Alias| {
        state
            .targets
            .iter()
            .filter(|t| t.id.source() == Some(alias.source.as_str()))
            .filter_map(|t| {
                let route = t.id.route()?;
                route_matches(route, &alias.path).then(|| (placeholders(route), t))
            })
            .min_by_key(|(n, _)| *n)
            .map(|(_, t)| t.name.clone())
    };
    let route = state
        .aliases
        .iter()
        .filter(|a| a.probe == name)
        .find_map(route_of)
        .unwrap_or_else(|| name.to_string());
    let also: Vec<String> = state
        .aliases
        .iter()
        .filter(|a| route_of(a).as_deref() == Some(route.as_str()) && a.probe != route)
        .map(|a| a.probe.clone())
        .collect();
    (route, also)
}

/// The target `verify` checks and the impact measure for the incident's
/// primary target `name`: its route when a probe has one.
pub fn measured_target(state: &State, name: &str) -> String {
    canonical(state, name).0
}

/// The `impact_measured` event for the open incident at `state.now`, or `None`
/// when no signal has fired in it.
pub fn measure(state: &State) -> Option<Draft> {
    let rows = rows(state);
    if rows.is_empty() {
        return None;
    }
    let failed: u64 = rows
        .iter()
        .filter_map(|r| r.failed)
        .fold(0u64, u64::saturating_add);
    Some(Draft::typed(
        Kind::ImpactMeasured,
        "ic",
        format!(
            "impact so far: {failed} failed requests on {} target{}",
            rows.len(),
            if rows.len() == 1 { "" } else { "s" }
        ),
        &ImpactMeasured {
            run: state.run.clone(),
            targets: rows,
        },
    ))
}

/// The open incident's impact so far, one row per affected target (the
/// signals grouped by the target they are counted under); empty when no
/// signal has fired.
pub fn rows(state: &State) -> Vec<ImpactRow> {
    let Some(incident) = state.incident.as_ref().map(|i| &i.state) else {
        return Vec::new();
    };
    let mut groups: BTreeMap<String, (Vec<String>, Vec<&SignalRecord>)> = BTreeMap::new();
    for rec in incident.signals.values() {
        let (name, also) = canonical(state, &rec.target);
        let g = groups.entry(name).or_default();
        for a in also {
            if !g.0.contains(&a) {
                g.0.push(a);
            }
        }
        g.1.push(rec);
    }
    groups
        .iter()
        .filter_map(|(name, (also, signals))| row(state, name, also, signals))
        .collect()
}

fn row(state: &State, name: &str, also: &[String], signals: &[&SignalRecord]) -> Option<ImpactRow> {
    let target = state.targets.iter().find(|t| t.name == name)?;
    let now = state.now.timestamp();
    let started = signals
        .iter()
        .map(|s| s.started.unwrap_or(s.first_fired))
        .min()?
        .timestamp();
    let firing = signals.iter().any(|s| s.firing);
    let ended = if firing {
        None
    } else {
        signals
            .iter()
            .filter_map(|s| s.ended)
            .max()
            .map(|t| t.timestamp().max(started))
    };
    let to = ended.unwrap_or(now).min(now);
    let (requests, failed) = counts(target, started, to);
    let peak = peak_ratio(target, started, to);
    let p95 = |from: i64, to: i64| p95_ms(target, from, to);
    let began_before_ic = target.first_seen.is_some_and(|f| started <= f + 1);
    Some(ImpactRow {
        target: name.to_string(),
        also: also.to_vec(),
        requests: Some(requests),
        failed: Some(failed),
        peak_error_ratio: peak.map(|r| (r * 10_000.0).round() / 10_000.0),
        p95_before_ms: p95(started - 300, started - 1),
        p95_during_ms: p95(started, to),
        p95_after_ms: ended.and_then(|e| p95(e + 1, now)),
        started: Some(ts(started)),
        ended: ended.map(ts),
        began_before_ic,
    })
}

fn ts(second: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(second, 0).single().unwrap_or_default()
}

/// (requests, failed) of `t` in the seconds `from..=to`.
fn counts(t: &Target, from: i64, to: i64) -> (u64, u64) {
    let secs = (to - from + 1).max(1);
    match &t.feed {
        Feed::Probe(p) => {
            let s = p.window.stats(Duration::from_secs(secs as u64), ts(to));
            (s.total, (s.error_ratio * s.total as f64).round() as u64)
        }
        Feed::Route(r) => {
            let c = r.detectors.series().window(to, secs);
            (c.total, c.errors)
        }
    }
}

/// Least requests behind a 30-s window for its ratio to count towards the peak.
const PEAK_MIN_REQUESTS: u64 = 10;
/// How many 30-s windows the peak looks at, at most (a long incident is sampled).
const PEAK_WINDOWS: i64 = 2000;

/// The worst error ratio over a 30-s window inside `from..=to`.
fn peak_ratio(t: &Target, from: i64, to: i64) -> Option<f64> {
    let last_start = (to - 29).max(from);
    let step = ((last_start - from) / PEAK_WINDOWS).max(1);
    let mut best: Option<f64> = None;
    let mut s = from;
    while s <= last_start {
        let end = (s + 29).min(to);
        let (n, failed) = counts(t, s, end);
        if n >= PEAK_MIN_REQUESTS || (n > 0 && end - s < 29) {
            let r = failed as f64 / n as f64;
            best = Some(best.map_or(r, |b: f64| b.max(r)));
        }
        s += step;
    }
    best.or_else(|| {
        let (n, failed) = counts(t, from, to);
        (n > 0).then(|| failed as f64 / n as f64)
    })
}

/// The median of the chart's 30-s p95 points in `from..=to`, in ms.
fn p95_ms(t: &Target, from: i64, to: i64) -> Option<f64> {
    if to < from {
        return None;
    }
    let mut v: Vec<f64> = t
        .history
        .iter()
        .filter(|p| p.t >= from && p.t <= to)
        .filter_map(|p| p.p95)
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v[v.len() / 2];
    Some((mid * 1000.0 * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::targets::SourceKind;

    #[test]
    fn route_labels_match_paths_with_templates() {
        assert!(route_matches("/api/payments", "/api/payments"));
        assert!(route_matches("/api/users/{id}", "/api/users/7"));
        assert!(route_matches("/api/users/:id", "/api/users/7"));
        assert!(route_matches("/api/search?q=", "/api/search"));
        assert!(!route_matches("/api/users/{id}", "/api/users/"));
        assert!(!route_matches("/api/users/{id}", "/api/users/7/orders"));
        assert!(!route_matches("/api/orders", "/api/payments"));
    }

    #[test]
    fn a_template_route_listed_first_does_not_take_the_probe_from_its_exact_route() {
        let targets = vec![
            Target::new("payments", SourceKind::Probe, None),
            Target::new("shop /{x}/{y}", SourceKind::Metrics, None),
            Target::new("shop /:a/:b", SourceKind::Metrics, None),
            Target::new("shop /api/payments", SourceKind::Metrics, None),
        ];
        let mut state = State::new(
            "shop",
            "ann",
            crate::core::detect::Settings::default(),
            targets,
            Vec::new(),
            std::path::PathBuf::from("/nonexistent"),
            Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
        );
        state.aliases = vec![Alias {
            probe: "payments".into(),
            source: "shop".into(),
            path: "/api/payments".into(),
        }];
        assert_eq!(
            canonical(&state, "payments"),
            (
                "shop /api/payments".to_string(),
                vec!["payments".to_string()]
            )
        );
        assert_eq!(
            canonical(&state, "shop /api/payments"),
            (
                "shop /api/payments".to_string(),
                vec!["payments".to_string()]
            )
        );
    }

    #[test]
    fn only_same_origin_targets_alias() {
        let probes = vec![
            (
                "payments".to_string(),
                url::Url::parse("http://127.0.0.1:8080/api/payments?x=1").unwrap(),
            ),
            (
                "other".to_string(),
                url::Url::parse("http://127.0.0.1:9090/api/payments").unwrap(),
            ),
        ];
        let scrapes = vec![(
            "shop".to_string(),
            "http://127.0.0.1:8080/metrics".to_string(),
        )];
        let a = aliases(&probes, &scrapes);
        assert_eq!(
            a,
            vec![Alias {
                probe: "payments".into(),
                source: "shop".into(),
                path: "/api/payments".into()
            }]
        );
    }
}
