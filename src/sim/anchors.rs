//! The rules a team would otherwise pick, beside the three classic ones in
//! `strategies`, so that "the fastest anchor" in a report is an honest bar.
//! Each is evaluated as Prometheus evaluates an alerting rule: counters and
//! histogram buckets scraped every `scrape` seconds, rules evaluated every
//! `eval` seconds (not aligned with the scrapes), `rate()` and `increase()`
//! over the samples inside the range, a pending alert that fires once its
//! expression held on every evaluation for `for:`, and an evaluation without a
//! result (no requests, no history) resetting a pending alert and resolving a
//! firing one.
//!
//! - `prometheus-5s-for-5m`: the 5 m error ratio over `detect.error_rate`,
//!   `for: 5m`, on 5 s scrapes and 5 s evaluations (a fast setup).
//! - `prometheus-5s-1m-for-1m`: the faster rule teams write, the 1 m ratio over
//!   the line `for: 1m`, at the same cadence.
//! - `sre-burn-rate-ticket`: the SRE workbook's ticket-level alerts, alone:
//!   `(1d > 3×budget and 2h > 3×budget) or (3d > 1×budget and 6h > 1×budget)`,
//!   no `for`, on 15 s scrapes and evaluations.
//! - `prometheus-latency`: `histogram_quantile(q, rate(bucket[5m]))` (q from
//!   `detect.latency_quantile`) over `detect.latency_factor` × its baseline,
//!   `for: 2m`.
//! - `prometheus-4xx`: the 5 m 4xx ratio over 2 × its baseline and over 5%,
//!   `for: 2m`.
//! - `prometheus-traffic`: `rate(requests[5m])` under `1 − detect.traffic_drop`
//!   of its baseline (`traffic-drop`) or over `detect.traffic_surge` × it
//!   (`traffic-surge`), `for: 2m`, where the baseline predicts at least 20
//!   requests in 5 m (as ic's own line).
//!
//! The last three run on the fast setup's 5 s scrapes and evaluations. Their
//! baseline is a recording rule of the same expression, evaluated every 5 minutes:
//! its value a day ago (`offset 1d`) when the history holds it, else its
//! average over the last hour (`avg_over_time(…[1h])`) — so on a cold start
//! the baseline is whatever minutes exist.

use super::strategies::{AlertEvent, Strategy};
use super::world::{BUCKETS, Probe, RouteSecond, bucket_bound};
use crate::core::detect::Settings;
use std::collections::VecDeque;

/// When Prometheus scrapes and evaluates, in seconds.
#[derive(Debug, Clone, Copy)]
struct Cadence {
    scrape: i64,
    eval: i64,
    /// Evaluations run at `eval`-second multiples plus this (not aligned with scrapes).
    offset: i64,
}

/// 15 s scrapes and evaluations (Prometheus's defaults).
const DEFAULT: Cadence = Cadence {
    scrape: 15,
    eval: 15,
    offset: 7,
};
/// A fast setup: 5 s scrapes and evaluations.
const FAST: Cadence = Cadence {
    scrape: 5,
    eval: 5,
    offset: 2,
};

impl Cadence {
    fn scrapes(self, t: i64) -> bool {
        t.rem_euclid(self.scrape) == 0
    }
    fn evaluates(self, t: i64) -> bool {
        t.rem_euclid(self.eval) == self.offset
    }
}

/// Requests, 5xx and 4xx counters at one scrape.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    t: i64,
    total: u64,
    errors: u64,
    client: u64,
}

/// How much each counter grew over a range, and over how many seconds of samples.
#[derive(Debug, Clone, Copy)]
struct Increase {
    total: u64,
    errors: u64,
    client: u64,
    span: i64,
}

impl Increase {
    /// `rate(5xx) / rate(all)`; `None` without requests (PromQL's 0/0 gives no alert).
    fn error_ratio(self) -> Option<f64> {
        (self.total > 0).then(|| self.errors as f64 / self.total as f64)
    }
    fn client_ratio(self) -> Option<f64> {
        (self.total > 0).then(|| self.client as f64 / self.total as f64)
    }
    /// `rate(all)`: requests a second over the samples' span.
    fn rate(self) -> f64 {
        self.total as f64 / self.span.max(1) as f64
    }
}

/// A route's counters as scraped: every scrape for `keep` seconds, and (for ranges
/// of days) one sample every [`COARSE_EVERY`] seconds for `keep_coarse` seconds.
#[derive(Debug, Clone, Default)]
struct Counters {
    now: Sample,
    fine: VecDeque<Sample>,
    coarse: VecDeque<Sample>,
    keep: i64,
    keep_coarse: i64,
}

/// Seconds between the samples kept for ranges of 6 hours and more: a range's first sample
/// is then at most this late (1.4% of 6 h, 0.1% of 3 d), and a route's 3 days take 28 KB.
const COARSE_EVERY: i64 = 300;

impl Counters {
    fn new(keep: i64, keep_coarse: i64) -> Self {
        Counters {
            keep,
            keep_coarse,
            ..Counters::default()
        }
    }

    fn second(&mut self, t: i64, r: &RouteSecond, cadence: Cadence) {
        if r.restarted {
            // `increase()` corrects the reset, but nothing can recover what the exporter
            // counted since the last scrape.
            self.now = self.fine.back().copied().unwrap_or_default();
        }
        self.now.total += r.total;
        self.now.errors += r.errors;
        self.now.client += r.client_errors;
        if !cadence.scrapes(t) || r.unscrapable {
            return;
        }
        let s = Sample { t, ..self.now };
        self.fine.push_back(s);
        while self.fine.front().is_some_and(|f| f.t <= t - self.keep) {
            self.fine.pop_front();
        }
        if self.keep_coarse > 0 && t.rem_euclid(COARSE_EVERY) == 0 {
            self.coarse.push_back(s);
            while self
                .coarse
                .front()
                .is_some_and(|f| f.t <= t - self.keep_coarse)
            {
                self.coarse.pop_front();
            }
        }
    }

    /// The increase over `(now - w, now]`: last minus first sample in the range (the
    /// samples are kept reset-corrected, as `increase()` sees them); `None` with fewer
    /// than two samples.
    fn increase(&self, now: i64, w: i64) -> Option<Increase> {
        let ring = if w <= self.keep || self.coarse.is_empty() {
            &self.fine
        } else {
            &self.coarse
        };
        let from = ring.partition_point(|s| s.t <= now - w);
        let to = ring.partition_point(|s| s.t <= now);
        if to < from + 2 {
            return None;
        }
        let (a, b) = (ring[from], ring[to - 1]);
        Some(Increase {
            total: b.total - a.total,
            errors: b.errors - a.errors,
            client: b.client - a.client,
            span: b.t - a.t,
        })
    }
}

/// Prometheus's alert state for one rule on one route.
#[derive(Debug, Clone, Copy, Default)]
struct Alert {
    pending_since: Option<i64>,
    firing: bool,
}

impl Alert {
    /// One evaluation: `active` is whether the expression had a result over the line.
    /// Returns `Some(true)` when the alert fires, `Some(false)` when it resolves.
    fn evaluate(&mut self, t: i64, active: bool, for_s: i64) -> Option<bool> {
        if !active {
            self.pending_since = None;
            return std::mem::take(&mut self.firing).then_some(false);
        }
        let since = *self.pending_since.get_or_insert(t);
        if !self.firing && t - since >= for_s {
            self.firing = true;
            return Some(true);
        }
        None
    }
}

fn push(log: &mut Vec<AlertEvent>, t: i64, route: usize, rule: &'static str, firing: bool) {
    log.push(AlertEvent {
        t,
        route,
        rule,
        firing,
        evidence: String::new(),
        started: None,
        ended: None,
    });
}

/// A recording rule evaluated every [`RECORD_EVERY`] seconds, kept for a day and an hour.
#[derive(Debug, Clone, Default)]
struct Recorded {
    /// (evaluation time, value), oldest first.
    values: VecDeque<(i64, f64)>,
    last_slot: Option<i64>,
}

/// The recording rules' interval (a group with `interval: 5m`): a day of them is 288 values.
const RECORD_EVERY: i64 = 300;

const DAY: i64 = 86_400;
/// How far back `offset 1d` looks for a sample (Prometheus's lookback delta).
const LOOKBACK: i64 = 300;

impl Recorded {
    /// Records `value` at the first evaluation of each interval (nothing without a result).
    fn record(&mut self, t: i64, value: Option<f64>) {
        let slot = t.div_euclid(RECORD_EVERY);
        if self.last_slot == Some(slot) {
            return;
        }
        self.last_slot = Some(slot);
        if let Some(v) = value.filter(|v| v.is_finite()) {
            self.values.push_back((t, v));
        }
        while self
            .values
            .front()
            .is_some_and(|(s, _)| *s <= t - DAY - 3600)
        {
            self.values.pop_front();
        }
    }

    /// `x offset 1d or avg_over_time(x[1h])` at `t`.
    fn baseline(&self, t: i64) -> Option<f64> {
        let day_ago = self.values.partition_point(|(s, _)| *s <= t - DAY);
        if let Some(&(s, v)) = day_ago.checked_sub(1).and_then(|i| self.values.get(i))
            && s > t - DAY - LOOKBACK
        {
            return Some(v);
        }
        let from = self.values.partition_point(|(s, _)| *s <= t - 3600);
        let hour = self.values.range(from..);
        let n = hour.len();
        (n > 0).then(|| hour.map(|(_, v)| v).sum::<f64>() / n as f64)
    }
}

/// `prometheus-5s-for-5m` and `prometheus-5s-1m-for-1m`: an error-ratio rule over `window`
/// with `for:`, at the fast cadence.
pub struct ErrorRatioRule {
    name: &'static str,
    rule: &'static str,
    window: i64,
    for_s: i64,
    threshold: f64,
    routes: Vec<(Counters, Alert)>,
}

impl ErrorRatioRule {
    /// `ratio[5m] > error_rate`, `for: 5m`, 5 s scrapes and evaluations, over `n` routes.
    pub fn fast_5m(threshold: f64, n: usize) -> Self {
        Self::new(
            "prometheus-5s-for-5m",
            "error-ratio-5m",
            300,
            300,
            threshold,
            n,
        )
    }

    /// `ratio[1m] > error_rate`, `for: 1m`, 5 s scrapes and evaluations, over `n` routes.
    pub fn fast_1m(threshold: f64, n: usize) -> Self {
        Self::new(
            "prometheus-5s-1m-for-1m",
            "error-ratio-1m",
            60,
            60,
            threshold,
            n,
        )
    }

    fn new(
        name: &'static str,
        rule: &'static str,
        window: i64,
        for_s: i64,
        threshold: f64,
        n: usize,
    ) -> Self {
        let counters = Counters::new(window + 2 * FAST.scrape, 0);
        ErrorRatioRule {
            name,
            rule,
            window,
            for_s,
            threshold,
            routes: vec![(counters, Alert::default()); n],
        }
    }
}

impl Strategy for ErrorRatioRule {
    fn name(&self) -> &'static str {
        self.name
    }
    fn probe_schedule(&self) -> Option<(i64, i64)> {
        None
    }
    fn second(&mut self, t: i64, _unix: i64, routes: &[RouteSecond], log: &mut Vec<AlertEvent>) {
        for (i, r) in routes.iter().enumerate() {
            let (counters, alert) = &mut self.routes[i];
            counters.second(t, r, FAST);
            if !FAST.evaluates(t) {
                continue;
            }
            let active = counters
                .increase(t, self.window)
                .and_then(Increase::error_ratio)
                .is_some_and(|x| x > self.threshold);
            if let Some(firing) = alert.evaluate(t, active, self.for_s) {
                push(log, t, i, self.rule, firing);
            }
        }
    }
    fn probe(&mut self, _: i64, _: i64, _: usize, _: Probe, _: &mut Vec<AlertEvent>) {}
}

/// `sre-burn-rate-ticket`.
pub struct BurnRateTicket {
    budget: f64,
    routes: Vec<(Counters, Alert)>,
}

impl BurnRateTicket {
    /// The ticket rules for an objective `slo` (0.999) over `n` routes.
    pub fn new(slo: f64, n: usize) -> Self {
        let counters = Counters::new(7200 + 2 * DEFAULT.scrape, 3 * DAY + COARSE_EVERY);
        BurnRateTicket {
            budget: (1.0 - slo).max(1e-9),
            routes: vec![(counters, Alert::default()); n],
        }
    }
}

impl Strategy for BurnRateTicket {
    fn name(&self) -> &'static str {
        "sre-burn-rate-ticket"
    }
    fn probe_schedule(&self) -> Option<(i64, i64)> {
        None
    }
    fn second(&mut self, t: i64, _unix: i64, routes: &[RouteSecond], log: &mut Vec<AlertEvent>) {
        for (i, r) in routes.iter().enumerate() {
            let (counters, alert) = &mut self.routes[i];
            counters.second(t, r, DEFAULT);
            if !DEFAULT.evaluates(t) {
                continue;
            }
            let over = |w: i64, factor: f64| {
                counters
                    .increase(t, w)
                    .and_then(Increase::error_ratio)
                    .is_some_and(|x| x > factor * self.budget)
            };
            let ticket =
                (over(DAY, 3.0) && over(7200, 3.0)) || (over(3 * DAY, 1.0) && over(21_600, 1.0));
            if let Some(firing) = alert.evaluate(t, ticket, 0) {
                push(log, t, i, "burn-rate-ticket", firing);
            }
        }
    }
    fn probe(&mut self, _: i64, _: i64, _: usize, _: Probe, _: &mut Vec<AlertEvent>) {}
}

/// `for:` of the latency, 4xx and traffic rules.
const RULE_FOR: i64 = 120;
/// The range of the latency, 4xx and traffic rules.
const RULE_WINDOW: i64 = 300;

/// Cumulative latency buckets as scraped, for the last `RULE_WINDOW`.
#[derive(Debug, Clone, Default)]
struct Histogram {
    now: Vec<u64>,
    samples: VecDeque<(i64, Vec<u64>)>,
}

impl Histogram {
    fn second(&mut self, t: i64, r: &RouteSecond) {
        if self.now.is_empty() {
            self.now = vec![0; BUCKETS];
        }
        if r.restarted {
            // As for the counters: what was counted since the last scrape is lost.
            match self.samples.back() {
                Some((_, last)) => self.now.clone_from(last),
                None => self.now.fill(0),
            }
        }
        for (c, n) in self.now.iter_mut().zip(r.buckets) {
            *c += n;
        }
        if !FAST.scrapes(t) || r.unscrapable {
            return;
        }
        let mut reuse = if self
            .samples
            .front()
            .is_some_and(|(s, _)| *s <= t - RULE_WINDOW - 2 * FAST.scrape)
        {
            self.samples.pop_front().map(|s| s.1).unwrap_or_default()
        } else {
            Vec::new()
        };
        reuse.clear();
        reuse.extend_from_slice(&self.now);
        self.samples.push_back((t, reuse));
    }

    /// `histogram_quantile(q, rate(bucket[5m]))` at `now`: `None` with no answers in the range.
    fn quantile(&self, now: i64, q: f64) -> Option<f64> {
        let from = self
            .samples
            .partition_point(|(s, _)| *s <= now - RULE_WINDOW);
        let to = self.samples.partition_point(|(s, _)| *s <= now);
        if to < from + 2 {
            return None;
        }
        let (a, b) = (&self.samples[from].1, &self.samples[to - 1].1);
        let counts: Vec<u64> = b.iter().zip(a).map(|(b, a)| b - a).collect();
        histogram_quantile(q, &counts)
    }
}

/// Prometheus's `histogram_quantile` over per-bucket counts (bounds from `bucket_bound`):
/// the bucket holding rank `q × total`, linearly interpolated within it (from 0 in the
/// first bucket); in the `+Inf` bucket, the highest finite bound.
fn histogram_quantile(q: f64, counts: &[u64]) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut below = 0u64;
    for (k, &c) in counts.iter().enumerate() {
        if c > 0 && (below + c) as f64 >= rank {
            let upper = bucket_bound(k);
            if upper.is_infinite() {
                return Some(bucket_bound(k.saturating_sub(1)));
            }
            let lower = if k == 0 { 0.0 } else { bucket_bound(k - 1) };
            return Some(lower + (upper - lower) * ((rank - below as f64) / c as f64));
        }
        below += c;
    }
    Some(bucket_bound(BUCKETS - 2))
}

/// `prometheus-latency`.
pub struct LatencyRule {
    quantile: f64,
    factor: f64,
    routes: Vec<(Histogram, Recorded, Alert)>,
}

impl LatencyRule {
    /// The rule with the watched quantile and factor of `settings`, over `n` routes.
    pub fn new(settings: &Settings, n: usize) -> Self {
        LatencyRule {
            quantile: settings.latency_quantile.fraction(),
            factor: settings.latency_factor,
            routes: vec![Default::default(); n],
        }
    }
}

impl Strategy for LatencyRule {
    fn name(&self) -> &'static str {
        "prometheus-latency"
    }
    fn probe_schedule(&self) -> Option<(i64, i64)> {
        None
    }
    fn second(&mut self, t: i64, _unix: i64, routes: &[RouteSecond], log: &mut Vec<AlertEvent>) {
        for (i, r) in routes.iter().enumerate() {
            let (histogram, recorded, alert) = &mut self.routes[i];
            histogram.second(t, r);
            if !FAST.evaluates(t) {
                continue;
            }
            let now = histogram.quantile(t, self.quantile);
            recorded.record(t, now);
            let active = match (now, recorded.baseline(t)) {
                (Some(v), Some(base)) => v > self.factor * base,
                _ => false,
            };
            if let Some(firing) = alert.evaluate(t, active, RULE_FOR) {
                push(log, t, i, "latency", firing);
            }
        }
    }
    fn probe(&mut self, _: i64, _: i64, _: usize, _: Probe, _: &mut Vec<AlertEvent>) {}
}

/// The 4xx ratio the `prometheus-4xx` rule needs at least, whatever the baseline.
const CLIENT_ERROR_FLOOR: f64 = 0.05;

/// `prometheus-4xx`.
pub struct ClientErrorRule {
    routes: Vec<(Counters, Recorded, Alert)>,
}

impl ClientErrorRule {
    /// The rule over `n` routes.
    pub fn new(n: usize) -> Self {
        let counters = Counters::new(RULE_WINDOW + 2 * FAST.scrape, 0);
        ClientErrorRule {
            routes: vec![(counters, Recorded::default(), Alert::default()); n],
        }
    }
}

impl Strategy for ClientErrorRule {
    fn name(&self) -> &'static str {
        "prometheus-4xx"
    }
    fn probe_schedule(&self) -> Option<(i64, i64)> {
        None
    }
    fn second(&mut self, t: i64, _unix: i64, routes: &[RouteSecond], log: &mut Vec<AlertEvent>) {
        for (i, r) in routes.iter().enumerate() {
            let (counters, recorded, alert) = &mut self.routes[i];
            counters.second(t, r, FAST);
            if !FAST.evaluates(t) {
                continue;
            }
            let now = counters
                .increase(t, RULE_WINDOW)
                .and_then(Increase::client_ratio);
            recorded.record(t, now);
            let active = match (now, recorded.baseline(t)) {
                (Some(v), Some(base)) => v > 2.0 * base && v > CLIENT_ERROR_FLOOR,
                _ => false,
            };
            if let Some(firing) = alert.evaluate(t, active, RULE_FOR) {
                push(log, t, i, "client-errors", firing);
            }
        }
    }
    fn probe(&mut self, _: i64, _: i64, _: usize, _: Probe, _: &mut Vec<AlertEvent>) {}
}

/// Least requests the traffic rules' baseline must predict over their range.
const TRAFFIC_MIN_REQUESTS: f64 = 20.0;

/// `prometheus-traffic`.
pub struct TrafficRule {
    drop: f64,
    surge: f64,
    /// (counters, recorded rate, drop alert, surge alert) per route.
    routes: Vec<(Counters, Recorded, Alert, Alert)>,
}

impl TrafficRule {
    /// The drop and surge rules with the lines of `settings`, over `n` routes.
    pub fn new(settings: &Settings, n: usize) -> Self {
        let counters = Counters::new(RULE_WINDOW + 2 * FAST.scrape, 0);
        TrafficRule {
            drop: settings.traffic_drop.fraction(),
            surge: settings.traffic_surge,
            routes: vec![
                (
                    counters,
                    Recorded::default(),
                    Alert::default(),
                    Alert::default()
                );
                n
            ],
        }
    }
}

impl Strategy for TrafficRule {
    fn name(&self) -> &'static str {
        "prometheus-traffic"
    }
    fn probe_schedule(&self) -> Option<(i64, i64)> {
        None
    }
    fn second(&mut self, t: i64, _unix: i64, routes: &[RouteSecond], log: &mut Vec<AlertEvent>) {
        for (i, r) in routes.iter().enumerate() {
            let (counters, recorded, drop, surge) = &mut self.routes[i];
            counters.second(t, r, FAST);
            if !FAST.evaluates(t) {
                continue;
            }
            let now = counters.increase(t, RULE_WINDOW).map(Increase::rate);
            recorded.record(t, now);
            let base = recorded
                .baseline(t)
                .filter(|b| b * RULE_WINDOW as f64 >= TRAFFIC_MIN_REQUESTS);
            let (low, high) = match (now, base) {
                (Some(v), Some(b)) => (v < (1.0 - self.drop) * b, v > self.surge * b),
                _ => (false, false),
            };
            if let Some(firing) = drop.evaluate(t, low, RULE_FOR) {
                push(log, t, i, "traffic-drop", firing);
            }
            if let Some(firing) = surge.evaluate(t, high, RULE_FOR) {
                push(log, t, i, "traffic-surge", firing);
            }
        }
    }
    fn probe(&mut self, _: i64, _: i64, _: usize, _: Probe, _: &mut Vec<AlertEvent>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(total: u64, errors: u64) -> RouteSecond {
        RouteSecond {
            total,
            errors,
            ..RouteSecond::default()
        }
    }

    fn firing_times(log: &[AlertEvent]) -> Vec<(i64, bool)> {
        log.iter().map(|e| (e.t, e.firing)).collect()
    }

    #[test]
    fn the_fast_1m_rule_fires_a_minute_after_the_ratio_crosses_and_resolves_at_once() {
        let mut s = ErrorRatioRule::fast_1m(0.01, 1);
        let mut log = Vec::new();
        for t in 0..1200 {
            let errors = if (600..900).contains(&t) { 20 } else { 0 };
            s.second(t, t, &[second(20, errors)], &mut log);
        }
        let times = firing_times(&log);
        assert_eq!(times.len(), 2, "{log:?}");
        // Active from the first evaluation after the 600 scrape (602: its range holds
        // second 600's errors), firing 60 s later.
        assert_eq!(times[0], (662, true));
        // The 1 m range holds no error once its samples are all from after 900.
        assert!(
            (955..=970).contains(&times[1].0) && !times[1].1,
            "{times:?}"
        );
    }

    #[test]
    fn a_restart_loses_only_what_was_not_scraped_and_a_gap_keeps_no_samples() {
        let mut c = Counters::new(600, 0);
        for t in 0..=20 {
            let mut r = second(10, 0);
            r.restarted = t == 13;
            r.unscrapable = (6..=10).contains(&t);
            c.second(t, &r, FAST);
        }
        // Scrapes at 0, 5, (10 missed), 15, 20: the restart at 13 lost seconds 6-12,
        // counted but never scraped.
        assert_eq!(
            c.fine.iter().map(|s| s.t).collect::<Vec<_>>(),
            [0, 5, 15, 20]
        );
        let inc = c.increase(20, 30).unwrap();
        assert_eq!((inc.total, inc.span), (200 - 70, 20));
        let mut h = Histogram::default();
        for t in 0..=10 {
            let mut r = second(10, 0);
            r.buckets[3] = 10;
            r.restarted = t == 7;
            h.second(t, &r);
        }
        assert_eq!(h.samples.back().map(|s| s.1[3]), Some(60 + 40));
    }

    #[test]
    fn an_evaluation_without_requests_resolves_a_firing_alert() {
        let mut a = Alert::default();
        assert_eq!(a.evaluate(0, true, 10), None);
        assert_eq!(a.evaluate(10, true, 10), Some(true));
        assert_eq!(a.evaluate(20, true, 10), None);
        assert_eq!(a.evaluate(30, false, 10), Some(false));
        assert_eq!(a.evaluate(40, true, 10), None, "pending again from scratch");
    }

    #[test]
    fn the_ticket_fires_on_a_slow_burn_the_page_would_not() {
        // 0.5% errors (5× a 0.1% budget) for a day: over 3× on 1 d and 2 h.
        let mut s = BurnRateTicket::new(0.999, 1);
        let mut log = Vec::new();
        for t in 0..DAY {
            let errors = u64::from(t % 200 == 0);
            s.second(t, t, &[second(1, errors)], &mut log);
        }
        assert!(log.first().is_some_and(|e| e.firing), "{log:?}");
        // The 1 d range is what exists: it fires as soon as 2 h of samples are over 3×.
        assert!(log[0].t < 3600, "{log:?}");
    }

    #[test]
    fn histogram_quantile_interpolates_within_the_bucket() {
        let mut counts = vec![0u64; BUCKETS];
        counts[10] = 50;
        counts[11] = 50;
        let (lo, hi) = (bucket_bound(10), bucket_bound(11));
        let p95 = histogram_quantile(0.95, &counts).unwrap();
        assert!((p95 - (lo + (hi - lo) * 0.9)).abs() < 1e-12, "{p95}");
        assert_eq!(histogram_quantile(0.95, &vec![0; BUCKETS]), None);
        let mut inf = vec![0u64; BUCKETS];
        inf[BUCKETS - 1] = 3;
        assert_eq!(
            histogram_quantile(0.5, &inf),
            Some(bucket_bound(BUCKETS - 2))
        );
    }

    #[test]
    fn the_baseline_is_a_day_ago_when_it_exists_else_the_last_hour() {
        let mut r = Recorded::default();
        for m in 0..(DAY / 60 + 30) {
            r.record(m * 60, Some(if m < 60 { 10.0 } else { 1.0 }));
        }
        let now = DAY + 29 * 60;
        assert_eq!(r.baseline(now), Some(10.0), "offset 1d");
        let mut fresh = Recorded::default();
        fresh.record(0, Some(2.0));
        fresh.record(300, Some(4.0));
        fresh.record(310, Some(100.0)); // same interval: not recorded
        assert_eq!(fresh.baseline(360), Some(3.0));
    }

    #[test]
    fn the_traffic_rule_sees_a_drop_two_minutes_after_the_rate_halves() {
        let settings = Settings::default();
        let mut s = TrafficRule::new(&settings, 1);
        let mut log = Vec::new();
        for t in 0..3600 * 2 {
            let n = if t >= 3600 { 0 } else { 20 };
            s.second(t, t, &[second(n, 0)], &mut log);
        }
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0].rule, "traffic-drop");
        // rate[5m] falls under half of 20/s 150 s in; then `for: 2m`.
        assert!((3600 + 270..=3600 + 290).contains(&log[0].t), "{log:?}");
    }

    #[test]
    fn the_latency_rule_fires_on_a_doubled_p95_and_not_on_noise() {
        let settings = Settings::default();
        let mut s = LatencyRule::new(&settings, 1);
        let mut log = Vec::new();
        // Ten minutes into the shift (the hour's average follows it: about 16 minutes in,
        // the baseline has caught up and the alert resolves).
        for t in 0..4200 {
            let mut r = second(20, 0);
            // 18 fast answers and two slow ones a second: the p95 sits in the slow ones'
            // bucket, which moves up three (×2.8) after an hour.
            let slow = if t >= 3600 { 19 } else { 16 };
            r.buckets[10] = 18;
            r.buckets[slow] = 2;
            s.second(t, t, &[r], &mut log);
        }
        assert_eq!(log.len(), 1, "{log:?}");
        assert!(
            log[0].firing && (3600 + 120..3600 + 300).contains(&log[0].t),
            "{log:?}"
        );
    }
}
