//! The detection strategies a simulation compares: ours (`ic`, the real
//! detectors of `core::detect`) and faithful implementations of the rules
//! teams copy today:
//!
//! - `prometheus-for-5m`: `sum(rate(5xx[5m])) / sum(rate(all[5m])) > error_rate`
//!   with `for: 5m`, rules evaluated every 15 s over 15 s scrapes (Prometheus
//!   defaults), per route. As in Prometheus, an evaluation with no result
//!   (no traffic in the window) resets a pending alert and resolves a firing one.
//! - `sre-burn-rate`: the SRE workbook's multi-window multi-burn-rate page,
//!   `(1h > 14.4×budget and 5m > 14.4×budget) or (6h > 6×budget and 30m > 6×budget)`,
//!   no `for`, on the same scrapes and evaluation interval.
//! - `gatus-3-checks`: one check per route every 60 s; the alert triggers after 3
//!   consecutive failures and resolves after 2 consecutive successes (Gatus's
//!   default `failure-threshold` and `success-threshold`).

use super::world::{Probe, RouteSecond};
use crate::core::detect::lifecycle::Lifecycle;
use crate::core::detect::{
    Counts, DownDetector, Lifetime, RouteDetectors, Settings, view_figures, view_span,
};
use crate::core::exposition::Format;
use crate::core::metrics::{Mapping, RouteView, Snapshot};
use crate::core::sample::FailureClass;
use crate::core::signal::{DetectorKind, SignalState};
use crate::source::scrape;
use std::collections::VecDeque;

/// An alert starting or ending.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertEvent {
    /// Simulated second.
    pub t: i64,
    /// Route index.
    pub route: usize,
    /// Which rule or detector (one strategy may fire several per route).
    pub rule: &'static str,
    /// Fired (true) or resolved.
    pub firing: bool,
    /// Why, in words (our detectors' evidence; empty for the anchors' rules).
    pub evidence: String,
    /// `ic` only: the estimated onset, in simulated seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<i64>,
    /// `ic` only, on a resolution: the estimated last bad second, in simulated seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<i64>,
}

/// A detection strategy fed the simulated world.
pub trait Strategy {
    /// Name in reports.
    fn name(&self) -> &'static str;
    /// The probe schedule, (every, offset) in seconds, if the strategy probes.
    fn probe_schedule(&self) -> Option<(i64, i64)>;
    /// One second of every route's traffic.
    fn second(&mut self, t: i64, unix: i64, routes: &[RouteSecond], log: &mut Vec<AlertEvent>);
    /// One probe of `route`.
    fn probe(&mut self, t: i64, unix: i64, route: usize, result: Probe, log: &mut Vec<AlertEvent>);
    /// On a cold start, before the first second: each route's figures over the
    /// exporter's lifetime (the warm-up), as a first scrape of `/metrics` shows
    /// them. Rules evaluated by a Prometheus started then have no such past.
    fn lifetime(&mut self, _routes: &[Lifetime]) {}
    /// On a scenario with `scrape:`, one scrape of the exporter's `/metrics` (`text`): what
    /// `ic` reads instead of the seconds' counts. The anchors' Prometheus scrapes the same
    /// counters on its own cadence, told of gaps and restarts through the seconds.
    fn scrape(&mut self, _t: i64, _unix: i64, _text: &str, _log: &mut Vec<AlertEvent>) {}
}

/// `ic` reading the exporter as `ic watch` does: the previous scrape's snapshot and
/// when it was taken, and which routes it has seen (a route is a target from its first
/// series on, and silent whenever its series are missing).
struct Scraping {
    previous: Option<(Snapshot, i64)>,
    seen: Vec<bool>,
}

/// Ours: every route detector over per-second counts (or, with `scrape:`, over
/// the scrapes of `/metrics`), and `down` over probes, through the same
/// lifecycle as the engine (blips held back, flapping kept open), so a page
/// here is a page live.
pub struct Ic {
    settings: Settings,
    names: Vec<String>,
    routes: Vec<RouteDetectors>,
    down: Vec<DownDetector>,
    lifecycle: Vec<Lifecycle>,
    probe_every: i64,
    scraping: Option<Scraping>,
    buf: Vec<crate::core::signal::Signal>,
    out: Vec<crate::core::signal::Signal>,
}

impl Ic {
    /// `ic` over routes named `names`, probing every `probe_every` seconds.
    pub fn new(settings: Settings, names: Vec<String>, probe_every: i64) -> Self {
        Ic {
            settings,
            routes: vec![RouteDetectors::default(); names.len()],
            down: vec![DownDetector::default(); names.len()],
            lifecycle: vec![Lifecycle::default(); names.len()],
            scraping: None,
            names,
            probe_every: probe_every.max(1),
            buf: Vec::new(),
            out: Vec::new(),
        }
    }

    /// `ic` reading the routes from scrapes of `/metrics` (see [`Strategy::scrape`]), not
    /// from each second's counts.
    pub fn scraping(mut self) -> Self {
        self.scraping = Some(Scraping {
            previous: None,
            seen: vec![false; self.names.len()],
        });
        self
    }

    /// Passes the raw signals of `route` through its lifecycle, lets it run to
    /// `unix`, and logs the pages and their ends.
    fn drain(&mut self, t: i64, unix: i64, route: usize, log: &mut Vec<AlertEvent>) {
        let (detectors, down) = (&self.routes[route], &self.down[route]);
        let health = |kind, onset, from, to| match kind {
            DetectorKind::Down => down.health(from, to),
            _ => detectors.health(kind, onset, from, to),
        };
        let holds = self.settings.holds();
        let layer = &mut self.lifecycle[route];
        for raw in self.buf.drain(..) {
            layer.feed(raw, unix, holds, &health, &mut self.out);
        }
        layer.poll(unix, holds, &health, &mut self.out);
        let sim = |at: chrono::DateTime<chrono::Utc>| at.timestamp() - (unix - t);
        for sig in self.out.drain(..) {
            // Pages and their ends only: a blip pages no one, a flap is the open signal going on.
            let firing = match sig.state {
                SignalState::Fired => true,
                SignalState::Resolved => false,
                SignalState::Updated | SignalState::Blip | SignalState::Flapping => continue,
            };
            log.push(AlertEvent {
                t,
                route,
                rule: sig.kind.as_str(),
                firing,
                evidence: sig.evidence,
                started: Some(sim(sig.started)),
                ended: sig.ended.map(sim),
            });
        }
    }
}

impl Strategy for Ic {
    fn name(&self) -> &'static str {
        "ic"
    }
    fn probe_schedule(&self) -> Option<(i64, i64)> {
        Some((self.probe_every, 1))
    }
    fn second(&mut self, t: i64, unix: i64, routes: &[RouteSecond], log: &mut Vec<AlertEvent>) {
        if self.scraping.is_some() {
            // The counts come with the scrapes; the holds still run every second.
            for i in 0..routes.len() {
                self.drain(t, unix, i, log);
            }
            return;
        }
        for (i, r) in routes.iter().enumerate() {
            let counts = Counts {
                total: r.total,
                errors: r.errors,
                client_errors: r.client_errors,
            };
            self.routes[i].observe(
                &self.names[i],
                unix,
                counts,
                r.latency,
                &self.settings,
                &mut self.buf,
            );
            self.drain(t, unix, i, log);
        }
    }
    fn lifetime(&mut self, routes: &[Lifetime]) {
        if self.scraping.is_some() {
            // The first scrape tells it, as live.
            return;
        }
        for (detectors, life) in self.routes.iter_mut().zip(routes) {
            detectors.seed(life);
        }
    }
    fn scrape(&mut self, t: i64, unix: i64, text: &str, log: &mut Vec<AlertEvent>) {
        let (Some(mut scraping), Some(at)) = (
            self.scraping.take(),
            chrono::DateTime::from_timestamp(unix, 0),
        ) else {
            return;
        };
        let previous = scraping
            .previous
            .as_ref()
            .map(|(snap, when)| (snap, (unix - when) as f64));
        let (obs, snap) = scrape::read(text, Format::Text, &Mapping::default(), previous, at);
        scraping.previous = Some((snap, unix));
        let quantile = self.settings.latency_quantile;
        let index = |route: &str| self.names.iter().position(|n| n == route);
        for v in obs.lifetime.iter().flatten() {
            if let Some(i) = index(&v.route) {
                // As `ic watch`: the first scrape makes it a target.
                scraping.seen[i] = true;
                self.routes[i].seed(&Lifetime::of_view(v, quantile));
            }
        }
        let views = obs.routes.unwrap_or_default();
        // As `ic watch`: a route in the exposition is observed, a route seen before and
        // missing now had no traffic.
        let mut mine: Vec<Option<&RouteView>> = vec![None; self.names.len()];
        for v in &views {
            if let Some(i) = index(&v.route) {
                mine[i] = Some(v);
            }
        }
        for (i, view) in mine.into_iter().enumerate() {
            let (span, (counts, reading)) = match view {
                Some(v) => (view_span(v), view_figures(v, quantile)),
                None if scraping.seen[i] => (1, (Counts::default(), None)),
                None => continue,
            };
            scraping.seen[i] = true;
            self.routes[i].observe_over(
                &self.names[i],
                unix,
                span,
                counts,
                reading,
                &self.settings,
                &mut self.buf,
            );
            self.drain(t, unix, i, log);
        }
        self.scraping = Some(scraping);
    }
    fn probe(&mut self, t: i64, unix: i64, route: usize, result: Probe, log: &mut Vec<AlertEvent>) {
        let class = match result {
            Probe::Ok => FailureClass::Ok,
            Probe::Unreachable => FailureClass::Connect,
            Probe::Failed => FailureClass::Http5xx,
            Probe::RateLimited => FailureClass::RateLimited,
        };
        self.buf
            .extend(self.down[route].observe(&self.names[route], unix, class, "simulated"));
        self.drain(t, unix, route, log);
    }
}

const SCRAPE_EVERY: i64 = 15;
const EVAL_EVERY: i64 = 15;
/// Rule evaluation is not aligned with scrapes.
const EVAL_OFFSET: i64 = 7;

/// One route's counters as a Prometheus server scrapes them.
#[derive(Debug, Clone, Default)]
struct Scraped {
    total: u64,
    errors: u64,
    /// (scrape time, requests counter, 5xx counter).
    samples: VecDeque<(i64, u64, u64)>,
}

impl Scraped {
    fn second(&mut self, t: i64, r: &RouteSecond, keep: i64) {
        if r.restarted {
            // Reset-corrected as `rate()` sees it: what was counted since the last
            // scrape is lost.
            (self.total, self.errors) = self.samples.back().map_or((0, 0), |s| (s.1, s.2));
        }
        self.total += r.total;
        self.errors += r.errors;
        if t.rem_euclid(SCRAPE_EVERY) == 0 && !r.unscrapable {
            self.samples.push_back((t, self.total, self.errors));
            while self.samples.front().is_some_and(|(s, _, _)| *s <= t - keep) {
                self.samples.pop_front();
            }
        }
    }

    /// `rate(5xx[w]) / rate(all[w])` at `now`: the increase between the first and last
    /// samples in (now - w, now] (extrapolation cancels: both series share timestamps);
    /// `None` when the window has under two samples or no requests, as PromQL gives no result.
    fn ratio(&self, now: i64, w: i64) -> Option<f64> {
        let from = self.samples.partition_point(|(s, _, _)| *s <= now - w);
        let to = self.samples.partition_point(|(s, _, _)| *s <= now);
        if to < from + 2 {
            return None;
        }
        let (first, last) = (self.samples[from], self.samples[to - 1]);
        let total = last.1 - first.1;
        (total > 0).then(|| (last.2 - first.2) as f64 / total as f64)
    }
}

/// `prometheus-for-5m`.
pub struct PrometheusFor5m {
    threshold: f64,
    routes: Vec<(Scraped, Option<i64>, bool)>,
}

impl PrometheusFor5m {
    /// The rule at `threshold` (the error ratio) over `n` routes.
    pub fn new(threshold: f64, n: usize) -> Self {
        PrometheusFor5m {
            threshold,
            routes: vec![(Scraped::default(), None, false); n],
        }
    }
}

impl Strategy for PrometheusFor5m {
    fn name(&self) -> &'static str {
        "prometheus-for-5m"
    }
    fn probe_schedule(&self) -> Option<(i64, i64)> {
        None
    }
    fn second(&mut self, t: i64, _unix: i64, routes: &[RouteSecond], log: &mut Vec<AlertEvent>) {
        let evaluate = t.rem_euclid(EVAL_EVERY) == EVAL_OFFSET;
        for (i, r) in routes.iter().enumerate() {
            let (scraped, pending_since, firing) = &mut self.routes[i];
            scraped.second(t, r, 330);
            if !evaluate {
                continue;
            }
            let active = scraped.ratio(t, 300).is_some_and(|x| x > self.threshold);
            match (active, *firing) {
                (true, false) => {
                    let since = *pending_since.get_or_insert(t);
                    if t - since >= 300 {
                        *firing = true;
                        log.push(AlertEvent {
                            t,
                            route: i,
                            rule: "error-ratio-5m",
                            firing: true,
                            evidence: String::new(),
                            started: None,
                            ended: None,
                        });
                    }
                }
                (false, was_firing) => {
                    *pending_since = None;
                    if was_firing {
                        *firing = false;
                        log.push(AlertEvent {
                            t,
                            route: i,
                            rule: "error-ratio-5m",
                            firing: false,
                            evidence: String::new(),
                            started: None,
                            ended: None,
                        });
                    }
                }
                (true, true) => {}
            }
        }
    }
    fn probe(&mut self, _: i64, _: i64, _: usize, _: Probe, _: &mut Vec<AlertEvent>) {}
}

/// `sre-burn-rate`.
pub struct SreBurnRate {
    budget: f64,
    routes: Vec<(Scraped, bool)>,
}

impl SreBurnRate {
    /// The page rule for an objective `slo` (0.999) over `n` routes.
    pub fn new(slo: f64, n: usize) -> Self {
        SreBurnRate {
            budget: (1.0 - slo).max(1e-9),
            routes: vec![(Scraped::default(), false); n],
        }
    }
}

impl Strategy for SreBurnRate {
    fn name(&self) -> &'static str {
        "sre-burn-rate"
    }
    fn probe_schedule(&self) -> Option<(i64, i64)> {
        None
    }
    fn second(&mut self, t: i64, _unix: i64, routes: &[RouteSecond], log: &mut Vec<AlertEvent>) {
        let evaluate = t.rem_euclid(EVAL_EVERY) == EVAL_OFFSET;
        for (i, r) in routes.iter().enumerate() {
            let (scraped, firing) = &mut self.routes[i];
            scraped.second(t, r, 21_600 + 30);
            if !evaluate {
                continue;
            }
            let over = |w: i64, factor: f64| {
                scraped
                    .ratio(t, w)
                    .is_some_and(|x| x > factor * self.budget)
            };
            let page =
                (over(3600, 14.4) && over(300, 14.4)) || (over(21_600, 6.0) && over(1800, 6.0));
            if page != *firing {
                *firing = page;
                log.push(AlertEvent {
                    t,
                    route: i,
                    rule: "burn-rate-page",
                    firing: page,
                    evidence: String::new(),
                    started: None,
                    ended: None,
                });
            }
        }
    }
    fn probe(&mut self, _: i64, _: i64, _: usize, _: Probe, _: &mut Vec<AlertEvent>) {}
}

/// `gatus-3-checks`.
pub struct Gatus3Checks {
    /// (consecutive failures, consecutive successes, triggered) per route.
    routes: Vec<(u32, u32, bool)>,
}

impl Gatus3Checks {
    /// Checks over `n` routes.
    pub fn new(n: usize) -> Self {
        Gatus3Checks {
            routes: vec![(0, 0, false); n],
        }
    }
}

impl Strategy for Gatus3Checks {
    fn name(&self) -> &'static str {
        "gatus-3-checks"
    }
    fn probe_schedule(&self) -> Option<(i64, i64)> {
        Some((60, 30))
    }
    fn second(&mut self, _: i64, _: i64, _: &[RouteSecond], _: &mut Vec<AlertEvent>) {}
    fn probe(
        &mut self,
        t: i64,
        _unix: i64,
        route: usize,
        result: Probe,
        log: &mut Vec<AlertEvent>,
    ) {
        let (fails, oks, triggered) = &mut self.routes[route];
        if result == Probe::Ok {
            *fails = 0;
            *oks += 1;
            if *triggered && *oks >= 2 {
                *triggered = false;
                log.push(AlertEvent {
                    t,
                    route,
                    rule: "check",
                    firing: false,
                    evidence: String::new(),
                    started: None,
                    ended: None,
                });
            }
        } else {
            *oks = 0;
            *fails += 1;
            if !*triggered && *fails >= 3 {
                *triggered = true;
                log.push(AlertEvent {
                    t,
                    route,
                    rule: "check",
                    firing: true,
                    evidence: String::new(),
                    started: None,
                    ended: None,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(total: u64, errors: u64) -> RouteSecond {
        RouteSecond {
            total,
            errors,
            client_errors: 0,
            ..RouteSecond::default()
        }
    }

    #[test]
    fn prometheus_for_5m_waits_five_minutes_then_resolves_on_the_first_clean_evaluation() {
        let mut s = PrometheusFor5m::new(0.01, 1);
        let mut log = Vec::new();
        for t in 0..3000 {
            let errors = if (1000..1600).contains(&t) { 2 } else { 0 };
            s.second(t, t, &[second(20, errors)], &mut log);
        }
        assert_eq!(log.len(), 2, "{log:?}");
        // Pending from the first evaluation whose 5 m ratio is over 1% (10% errors need 45 s
        // of them to get there), firing 5 m after that.
        assert!((1330..=1360).contains(&log[0].t), "{log:?}");
        // Resolved once the 5 m window no longer holds enough errors.
        assert!(log[1].t > 1600 && log[1].t <= 1900, "{log:?}");
        assert!(!log[1].firing);
    }

    #[test]
    fn a_window_without_requests_has_no_result() {
        let mut s = Scraped::default();
        for t in 0..600 {
            s.second(t, &second(0, 0), 400);
        }
        assert_eq!(s.ratio(599, 300), None);
    }

    #[test]
    fn sre_burn_rate_pages_on_fast_burn_only_with_both_windows() {
        let mut s = SreBurnRate::new(0.999, 1);
        let mut log = Vec::new();
        for t in 0..4000 {
            // 100% errors for 2 minutes: the 5 m window is hot at once, the 1 h one too (2/60 > 1.44%).
            let errors = if (3600..3720).contains(&t) { 20 } else { 0 };
            s.second(t, t, &[second(20, errors)], &mut log);
        }
        assert!(log[0].firing && (3600..3640).contains(&log[0].t), "{log:?}");
    }

    #[test]
    fn gatus_triggers_after_three_failures_and_resolves_after_two_successes() {
        let mut g = Gatus3Checks::new(1);
        let mut log = Vec::new();
        let results = [
            Probe::Failed,
            Probe::Failed,
            Probe::Ok,
            Probe::Failed,
            Probe::Unreachable,
            Probe::Failed,
            Probe::Ok,
            Probe::Ok,
        ];
        for (i, r) in results.into_iter().enumerate() {
            g.probe(i as i64 * 60, 0, 0, r, &mut log);
        }
        let times: Vec<(i64, bool)> = log.iter().map(|e| (e.t, e.firing)).collect();
        assert_eq!(times, vec![(300, true), (420, false)]);
    }
}
