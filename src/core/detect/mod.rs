//! Detection, pure and clock-driven: per-target request counts in 1-second
//! buckets (last 5 minutes) and 1-minute buckets (last 6 hours), the settings
//! shared by every detector, and the detectors that turn observations into
//! signals with hysteresis — one module per detector.

mod client_errors;
mod error_rate;
mod latency;
pub mod lifecycle;
mod onset;
mod probe;
mod sequential;
mod surge;
mod traffic;

pub use client_errors::ClientErrorDetector;
pub use error_rate::ErrorRateDetector;
pub use latency::LatencyDetector;
pub use probe::{CertificateDetector, DownDetector, ProbeResult};
pub use surge::TrafficSurgeDetector;
pub use traffic::TrafficDropDetector;

use crate::core::metrics::RouteView;
use crate::core::signal::{DetectorKind, SeverityHint, Signal, SignalState};
use crate::core::units::{HumanDuration, Percent};
use chrono::{DateTime, TimeZone, Utc};
use lifecycle::Health;
use serde::Deserialize;
use std::collections::VecDeque;

/// Requests in a bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// All requests (or probes).
    pub total: u64,
    /// Failed ones (5xx, or a failed probe).
    pub errors: u64,
    /// Answered with a 4xx.
    pub client_errors: u64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.total = self.total.saturating_add(o.total);
        self.errors = self.errors.saturating_add(o.errors);
        self.client_errors = self.client_errors.saturating_add(o.client_errors);
    }
    fn minus(self, o: Counts) -> Counts {
        Counts {
            total: self.total.saturating_sub(o.total),
            errors: self.errors.saturating_sub(o.errors),
            client_errors: self.client_errors.saturating_sub(o.client_errors),
        }
    }
    /// Error ratio (0 with no requests).
    pub fn ratio(self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.errors as f64 / self.total as f64
        }
    }
}

pub(crate) const SECOND_BUCKETS: i64 = 300;
/// Seconds between what two observations cover past which the seconds
/// between are missing data (see [`RouteDetectors::observe_over`]).
const MISSING_AFTER: i64 = 10;
/// Longest span one observation's counts are spread over: six hours (of a
/// longer gap, the last six hours keep their share).
pub const MAX_SPREAD: i64 = 6 * 3600;
const MINUTE_BUCKETS: i64 = 360;

/// One target's recent counts: 1-second buckets for 5 minutes, 1-minute buckets for 6 hours.
/// Each bucket also holds the running total up to it, so any window is one
/// subtraction after a binary search.
#[derive(Debug, Clone, Default)]
pub struct CountSeries {
    seconds: Buckets,
    minutes: Buckets,
    /// Requests per minute over the last 25 hours (the traffic detectors' yesterday).
    day: DayTotals,
    /// The first second ever recorded.
    since: Option<i64>,
    /// The first second recorded with per-second detail (a source's history
    /// has only minutes).
    live_since: Option<i64>,
}

/// A route's figures over its counters' lifetime, as the first scrape of an
/// exporter shows them: the baselines a cold start has.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Lifetime {
    /// Requests counted.
    pub requests: u64,
    /// The watched latency quantile over them, seconds.
    pub latency: Option<f64>,
    /// Requests per second over the exporter's age (`process_start_time_seconds`).
    pub rate: Option<f64>,
}

impl Lifetime {
    /// A route's figures over its counters' lifetime (the first scrape's view), with
    /// `quantile` as the watched latency.
    pub fn of_view(v: &RouteView, quantile: Quantile) -> Lifetime {
        Lifetime {
            requests: view_count(v.requests),
            latency: quantile.pick(v.p50, v.p95, v.p99),
            rate: v.rate.filter(|r| r.is_finite() && *r > 0.0),
        }
    }
}

/// A view's count as a whole number: negative and NaN are 0, and no interval
/// counts more than [`MAX_VIEW_COUNT`] (a hostile source's 1e300 would
/// overflow every window sum after it).
fn view_count(x: f64) -> u64 {
    x.round().clamp(0.0, MAX_VIEW_COUNT) as u64
}

/// Most requests one view may carry: a trillion.
const MAX_VIEW_COUNT: f64 = 1e12;

/// The whole seconds a view's counts cover (1 when it does not say).
pub fn view_span(v: &RouteView) -> i64 {
    v.span
        .filter(|s| s.is_finite())
        .map_or(1, |s| s.round().clamp(1.0, MAX_SPREAD as f64) as i64)
}

/// A scrape view's counts and its reading of `quantile` (with the requests
/// behind it), as [`RouteDetectors::observe`] takes them.
pub fn view_figures(v: &RouteView, quantile: Quantile) -> (Counts, Option<(f64, u64)>) {
    let counts = Counts {
        total: view_count(v.requests),
        errors: view_count(v.errors_5xx),
        client_errors: view_count(v.errors_4xx),
    };
    let reading = quantile
        .pick(v.p50, v.p95, v.p99)
        .map(|p| (p, counts.total));
    (counts, reading)
}

/// Least lifetime requests behind a traffic seed.
const LIFETIME_MIN_REQUESTS: u64 = 1000;

/// Minutes of per-minute request totals kept: a day and an hour.
const DAY_MINUTES: usize = 25 * 60;
/// The least share of the hour's rate yesterday's low may be for a drop's
/// baseline (an evening fall to a fifth is a shape; to nothing, an outage).
const YESTERDAY_LEAST: f64 = 0.1;
/// How far either side of "this minute, yesterday" a daily pattern may wander.
const YESTERDAY_SLACK: i64 = 10;

/// Request totals of consecutive minutes from `first`; a minute without data
/// is unknown ([`UNKNOWN`]), never 0: a gap in the data is no outage.
#[derive(Debug, Clone, Default)]
struct DayTotals {
    first: i64,
    counts: VecDeque<u32>,
}

/// A minute of [`DayTotals`] without data.
const UNKNOWN: u32 = u32::MAX;

impl DayTotals {
    fn add(&mut self, minute: i64, n: u64) {
        let newest = self.first + self.counts.len() as i64 - 1;
        // Empty, or the clock jumped over a day forward or over an hour back: start again.
        if self.counts.is_empty() || minute - newest > DAY_MINUTES as i64 || newest - minute > 60 {
            self.first = minute;
            self.counts.clear();
        }
        let Ok(i) = usize::try_from(minute - self.first) else {
            return; // older than what is kept
        };
        if self.counts.len() <= i {
            self.counts.resize(i + 1, UNKNOWN);
        }
        let n = u32::try_from(n).unwrap_or(UNKNOWN - 1);
        let slot = &mut self.counts[i];
        *slot = if *slot == UNKNOWN {
            n
        } else {
            slot.saturating_add(n).min(UNKNOWN - 1)
        };
        while self.counts.len() > DAY_MINUTES {
            self.counts.pop_front();
            self.first += 1;
        }
    }

    /// The per-minute totals of `from..=to`, when every one of them is known.
    fn range(&self, from: i64, to: i64) -> Option<Vec<u32>> {
        let a = usize::try_from(from - self.first).ok()?;
        let b = usize::try_from(to - self.first).ok()?;
        if a > b || b >= self.counts.len() {
            return None;
        }
        let m: Vec<u32> = self.counts.range(a..=b).copied().collect();
        m.iter().all(|c| *c != UNKNOWN).then_some(m)
    }
}

/// Time-ordered buckets: (key, own counts, running total through this bucket).
#[derive(Debug, Clone, Default)]
struct Buckets(VecDeque<(i64, Counts, Counts)>);

impl Buckets {
    fn add(&mut self, key: i64, c: Counts) {
        let q = &mut self.0;
        // `first_stale`: the first bucket whose running total does not include `c` yet.
        let first_stale = match q.iter().rposition(|(k, _, _)| *k <= key) {
            Some(i) if q[i].0 == key => {
                q[i].1.add(c);
                i
            }
            Some(i) => {
                let mut cum = q[i].2;
                cum.add(c);
                q.insert(i + 1, (key, c, cum));
                i + 2
            }
            None => {
                let before = q
                    .front()
                    .map_or(Counts::default(), |(_, own, cum)| cum.minus(*own));
                let mut cum = before;
                cum.add(c);
                q.push_front((key, c, cum));
                1
            }
        };
        for entry in q.iter_mut().skip(first_stale) {
            entry.2.add(c);
        }
    }

    fn evict_through(&mut self, key: i64) {
        while self.0.front().is_some_and(|(k, _, _)| *k <= key) {
            self.0.pop_front();
        }
    }

    /// The running total through the last bucket with key ≤ `key`.
    fn cum_at(&self, key: i64) -> Counts {
        let q = &self.0;
        let n = q.partition_point(|(k, _, _)| *k <= key);
        match n {
            0 => q
                .front()
                .map_or(Counts::default(), |(_, own, cum)| cum.minus(*own)),
            n => q[n - 1].2,
        }
    }

    /// Sum of the buckets with keys in (`from`, `to`].
    fn sum(&self, from: i64, to: i64) -> Counts {
        self.cum_at(to).minus(self.cum_at(from))
    }
}

/// Complete minutes of the last hour a traffic baseline needs.
const BASELINE_MINUTES: usize = 10;

/// A target's usual traffic for the traffic detectors, computed once a minute.
#[derive(Debug, Clone, Default)]
pub(super) struct UsualRate {
    /// (minute it was computed for, the rate).
    cached: Option<(i64, Option<Usual>)>,
}

/// What a route usually carries now, in requests per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Usual {
    /// The median per-minute count of the last hour's complete minutes (at least
    /// [`BASELINE_MINUTES`] of them).
    pub hour: f64,
    /// The same minutes yesterday, lowest and highest (`CountSeries::yesterday`).
    pub yesterday: Option<(f64, f64)>,
}

impl Usual {
    /// The baseline a drop is judged against: the lower of the hour's and yesterday's,
    /// so traffic that falls every evening is not a drop; and whether it is yesterday's.
    pub(super) fn low(self) -> (f64, bool) {
        match self.yesterday {
            // Yesterday near zero was an outage or a gap, not the day's shape.
            Some((low, _)) if low < self.hour && low >= YESTERDAY_LEAST * self.hour => (low, true),
            _ => (self.hour, false),
        }
    }

    /// The baseline a surge is judged against: the higher of the hour's and yesterday's,
    /// so the morning rise or a nightly batch is not a surge; and whether it is yesterday's.
    pub(super) fn high(self) -> (f64, bool) {
        match self.yesterday {
            Some((_, high)) if high > self.hour => (high, true),
            _ => (self.hour, false),
        }
    }
}

impl UsualRate {
    /// The usual rate at Unix second `now`, `None` while the last hour holds too little.
    pub(super) fn at(&mut self, series: &CountSeries, now: i64) -> Option<Usual> {
        let minute = now.div_euclid(60);
        if let Some((m, b)) = self.cached
            && m == minute
        {
            return b;
        }
        let mut per_minute: Vec<u64> = series
            .minutes()
            .filter(|(m, _)| *m < minute && *m >= minute - 60)
            .map(|(_, c)| c.total)
            .collect();
        let b = (per_minute.len() >= BASELINE_MINUTES).then(|| {
            per_minute.sort_unstable();
            Usual {
                hour: per_minute[per_minute.len() / 2] as f64 / 60.0,
                yesterday: series.yesterday(minute),
            }
        });
        self.cached = Some((minute, b));
        b
    }
}

impl CountSeries {
    /// Adds counts observed in Unix second `second` (out-of-order within the kept span is fine).
    pub fn add(&mut self, second: i64, c: Counts) {
        self.since = Some(self.since.map_or(second, |s| s.min(second)));
        self.live_since = Some(self.live_since.map_or(second, |s| s.min(second)));
        self.seconds.add(second, c);
        let minute = second.div_euclid(60);
        self.minutes.add(minute, c);
        let newest = self.seconds.0.back().map_or(second, |(k, _, _)| *k);
        self.seconds.evict_through(newest - SECOND_BUCKETS);
        self.minutes
            .evict_through(newest.div_euclid(60) - MINUTE_BUCKETS);
        self.day.add(minute, c.total);
    }

    /// Adds counts that cover the `span` seconds through `second`, spread evenly
    /// over them (a span past [`MAX_SPREAD`] keeps the last six hours' share);
    /// each second's failures stay within its requests.
    pub fn add_spread(&mut self, second: i64, span: i64, c: Counts) {
        if span > MAX_SPREAD {
            // The last six hours keep their share at the same rate; the rest is dropped.
            let keep = |n: u64| (u128::from(n) * MAX_SPREAD as u128 / span as u128) as u64;
            let c = Counts {
                total: keep(c.total),
                errors: keep(c.errors),
                client_errors: keep(c.client_errors),
            };
            return self.add_spread(second, MAX_SPREAD, c);
        }
        let span = span.max(1);
        if span == 1 {
            return self.add(second, c);
        }
        // Cumulative shares: requests, then failures within them, then 5xx within those.
        let failed = c.errors.saturating_add(c.client_errors).min(c.total);
        let errors = c.errors.min(failed);
        let part = |n: u64, of: u64, whole: u64| -> u64 {
            match whole {
                0 => 0,
                w => (u128::from(n) * u128::from(of) / u128::from(w)) as u64,
            }
        };
        let (mut total0, mut failed0, mut errors0) = (0, 0, 0);
        for k in 1..=span {
            let total_k = part(c.total, k as u64, span as u64);
            let failed_k = part(failed, total_k, c.total);
            let errors_k = part(errors, failed_k, failed);
            self.add(
                second - span + k,
                Counts {
                    total: total_k - total0,
                    errors: errors_k - errors0,
                    client_errors: (failed_k - errors_k) - (failed0 - errors0),
                },
            );
            (total0, failed0, errors0) = (total_k, failed_k, errors_k);
        }
    }

    /// Adds a whole minute of counts learnt from a source's history (no
    /// per-second detail: the fixed windows of the last 5 minutes never see it).
    pub fn add_minute(&mut self, minute: i64, c: Counts) {
        let second = minute * 60;
        self.since = Some(self.since.map_or(second, |s| s.min(second)));
        self.minutes.add(minute, c);
        self.minutes.evict_through(minute - MINUTE_BUCKETS);
        self.day.add(minute, c.total);
    }

    /// What the same minutes yesterday carried — `minute` one day back, give or take
    /// [`YESTERDAY_SLACK`] minutes — as requests per second: the second lowest and the
    /// second highest minute (one odd minute does not count). `None` until a day of
    /// history exists.
    pub fn yesterday(&self, minute: i64) -> Option<(f64, f64)> {
        let at = minute - 24 * 60;
        let mut m = self.day.range(at - YESTERDAY_SLACK, at + YESTERDAY_SLACK)?;
        m.sort_unstable();
        let per_second = |v: u32| f64::from(v) / 60.0;
        Some((per_second(m[1]), per_second(m[m.len() - 2])))
    }

    /// Sum over the last `secs` seconds ending at `now` (inclusive). Windows up to 5 minutes
    /// are exact; longer ones are counted in whole minutes.
    pub fn window(&self, now: i64, secs: i64) -> Counts {
        if secs <= SECOND_BUCKETS {
            self.seconds.sum(now - secs, now)
        } else {
            let now_m = now.div_euclid(60);
            let mins = (secs + 59) / 60;
            self.minutes.sum(now_m - mins, now_m)
        }
    }

    /// The first second ever recorded.
    pub fn since(&self) -> Option<i64> {
        self.since
    }

    /// The first second recorded with per-second detail (not a source's history).
    pub fn live_since(&self) -> Option<i64> {
        self.live_since
    }

    /// Whether the series has data reaching back over the whole `secs` window
    /// ending at `now` (windows up to 5 minutes: per-second data).
    pub fn covers(&self, now: i64, secs: i64) -> bool {
        let since = if secs <= SECOND_BUCKETS {
            self.live_since
        } else {
            self.since
        };
        since.is_some_and(|s| now - s + 1 >= secs)
    }

    /// The 1-minute buckets, oldest first: (Unix minute, counts).
    pub fn minutes(&self) -> impl Iterator<Item = (i64, Counts)> + '_ {
        self.minutes.0.iter().map(|(m, c, _)| (*m, *c))
    }

    /// The counts of Unix second `s`, if any were recorded.
    pub fn second(&self, s: i64) -> Option<Counts> {
        let q = &self.seconds.0;
        let i = q.partition_point(|(k, _, _)| *k < s);
        q.get(i).filter(|(k, _, _)| *k == s).map(|(_, c, _)| *c)
    }
}

/// Chance of a false alarm we accept per window evaluation: a route evaluated
/// every second over four windows for a week stays silent on noise at half the
/// line (`sim-noise-week.yaml`).
pub const ALPHA: f64 = 1e-6;

/// Whether `k` events out of `n` are too many to come from a rate of `p0` or
/// less: the exact binomial upper tail P(X ≥ k | n, p0) is under `ALPHA`. Exact
/// rather than a normal or Wilson bound, which at a handful of expected events
/// claims certainty far too early.
pub fn surely_above(k: u64, n: u64, p0: f64) -> bool {
    if n == 0 || k == 0 || (k as f64) <= n as f64 * p0 {
        return false;
    }
    if p0 <= 0.0 {
        return true;
    }
    if p0 >= 1.0 {
        return false;
    }
    binomial_tail(k, n, p0) < ALPHA
}

/// Whether `k` events out of `n` are surely too few to come from a rate of `p0` or
/// more: the binomial lower tail P(X ≤ k | n, p0) is under `alpha`.
pub fn surely_below(k: u64, n: u64, p0: f64, alpha: f64) -> bool {
    if n == 0 || p0 <= 0.0 || (k as f64) >= n as f64 * p0 {
        return false;
    }
    if p0 >= 1.0 {
        return true;
    }
    binomial_lower_tail(k, n, p0) < alpha
}

/// P(X ≤ k) for X ~ Binomial(n, p), for k below the mean (the terms then shrink downwards).
fn binomial_lower_tail(k: u64, n: u64, p: f64) -> f64 {
    let k = k.min(n);
    let ln_term = ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
        + k as f64 * p.ln()
        + (n - k) as f64 * (1.0 - p).ln();
    let mut term = ln_term.exp();
    let mut sum = term;
    let odds = (1.0 - p) / p;
    let mut i = k;
    while i > 0 && term > sum * 1e-12 {
        term *= i as f64 / (n - i + 1) as f64 * odds;
        sum += term;
        i -= 1;
    }
    sum.min(1.0)
}

/// P(X ≥ k) for X ~ Binomial(n, p), for k above the mean (the terms then only shrink).
pub fn binomial_tail(k: u64, n: u64, p: f64) -> f64 {
    if k > n {
        return 0.0;
    }
    let ln_term = ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
        + k as f64 * p.ln()
        + (n - k) as f64 * (1.0 - p).ln();
    let mut term = ln_term.exp();
    let mut sum = term;
    let odds = p / (1.0 - p);
    let mut i = k;
    while i < n && term > sum * 1e-12 {
        term *= (n - i) as f64 / (i + 1) as f64 * odds;
        sum += term;
        i += 1;
    }
    sum.min(1.0)
}

/// ln(n!): exact below 32, Stirling's series above (error under 1e-12).
fn ln_factorial(n: u64) -> f64 {
    if n < 32 {
        return (2..=n).map(|i| (i as f64).ln()).sum();
    }
    let x = n as f64;
    x * x.ln() - x + 0.5 * (std::f64::consts::TAU * x).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x * x * x)
}

/// `detect:` — the thresholds every detector uses (config and scenarios share this schema).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Availability objective, e.g. `99.9%`.
    pub slo: Percent,
    /// Error ratio that counts as an incident, e.g. `1%`.
    pub error_rate: Percent,
    /// Latency over this multiple of the baseline is a regression.
    pub latency_factor: f64,
    /// Traffic this far below baseline is a drop, e.g. `50%`.
    pub traffic_drop: Percent,
    /// Traffic at this multiple of its baseline, sustained, is a surge, e.g. `3`.
    pub traffic_surge: f64,
    /// Which latency quantile the latency detector watches: `p50`, `p95` (default) or `p99`.
    pub latency_quantile: Quantile,
    /// A fault that heals within this long of its onset is a blip: recorded
    /// and shown, never paged (default 5 s; `0s` pages at once).
    pub min_duration: HumanDuration,
    /// A signal that flaps (3 fires in 10 minutes) or whose episode was
    /// shorter than this stays open until its target has been quiet this long
    /// (default 90 s; like Prometheus's `keep_firing_for`): one page, not one
    /// per flap.
    pub stable_for: HumanDuration,
}

/// A latency quantile the latency detector can watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantile {
    /// The median.
    P50,
    /// The 95th percentile.
    #[default]
    P95,
    /// The 99th percentile.
    P99,
}

impl Quantile {
    /// As a fraction: 0.5, 0.95, 0.99.
    pub fn fraction(self) -> f64 {
        match self {
            Quantile::P50 => 0.50,
            Quantile::P95 => 0.95,
            Quantile::P99 => 0.99,
        }
    }
    /// `p50`, `p95`, `p99`.
    pub fn label(self) -> &'static str {
        match self {
            Quantile::P50 => "p50",
            Quantile::P95 => "p95",
            Quantile::P99 => "p99",
        }
    }
    /// The matching one of three measured quantiles.
    pub fn pick(self, p50: Option<f64>, p95: Option<f64>, p99: Option<f64>) -> Option<f64> {
        match self {
            Quantile::P50 => p50,
            Quantile::P95 => p95,
            Quantile::P99 => p99,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            slo: Percent::from_fraction(0.999),
            error_rate: Percent::from_fraction(0.01),
            latency_factor: 2.0,
            traffic_drop: Percent::from_fraction(0.5),
            traffic_surge: 3.0,
            latency_quantile: Quantile::P95,
            min_duration: HumanDuration(std::time::Duration::from_secs(5)),
            stable_for: HumanDuration(std::time::Duration::from_secs(lifecycle::STABLE_FOR as u64)),
        }
    }
}

/// The longest `detect.min_duration`: an outage must still page within a minute.
pub const MAX_MIN_DURATION: std::time::Duration = std::time::Duration::from_secs(60);
/// The longest `detect.stable_for`: a resolved fault must not look open for hours.
pub const MAX_STABLE_FOR: std::time::Duration = std::time::Duration::from_secs(3600);

impl Settings {
    /// The lifecycle's waits (`min_duration`, `stable_for`) in whole seconds.
    pub fn holds(&self) -> lifecycle::Holds {
        lifecycle::Holds {
            min_duration: self.min_duration.get().as_secs() as i64,
            stable_for: self.stable_for.get().as_secs() as i64,
        }
    }

    /// The error-rate thresholds as fractions.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            slo: self.slo.fraction(),
            error_rate: self.error_rate.fraction(),
        }
    }

    /// What is wrong with the values, as (message, how to fix it).
    pub fn problem(&self) -> Option<(String, &'static str)> {
        if !(self.latency_factor.is_finite() && self.latency_factor > 1.0) {
            return Some((
                format!(
                    "detect.latency_factor is {}: it must be above 1",
                    self.latency_factor
                ),
                "e.g. latency_factor: 2 fires when latency doubles",
            ));
        }
        if self.error_rate.fraction() <= 0.0 {
            return Some((
                "detect.error_rate is 0%: every single failure would be an incident".into(),
                "e.g. error_rate: 1%",
            ));
        }
        if self.slo.fraction() >= 1.0 {
            return Some((
                "detect.slo is 100%: there is no error budget to burn".into(),
                "e.g. slo: 99.9%",
            ));
        }
        if !(self.traffic_surge.is_finite() && self.traffic_surge > 1.0) {
            return Some((
                format!(
                    "detect.traffic_surge is {}: it must be above 1",
                    self.traffic_surge
                ),
                "e.g. traffic_surge: 3 fires when traffic triples and stays there",
            ));
        }
        if self.min_duration.get() > MAX_MIN_DURATION {
            return Some((
                format!(
                    "detect.min_duration is {}: a fault that lasts over {} is no blip",
                    self.min_duration,
                    HumanDuration(MAX_MIN_DURATION)
                ),
                "e.g. min_duration: 5s lets a 3-second pod restart pass without a page",
            ));
        }
        if self.stable_for.get() > MAX_STABLE_FOR {
            return Some((
                format!(
                    "detect.stable_for is {}: a resolved fault would look open for over {}",
                    self.stable_for,
                    HumanDuration(MAX_STABLE_FOR)
                ),
                "e.g. stable_for: 90s resolves a flapping signal after 90 s of quiet",
            ));
        }
        let drop = self.traffic_drop.fraction();
        if drop <= 0.0 || drop >= 1.0 {
            return Some((
                format!(
                    "detect.traffic_drop is {}: it must be between 0% and 100%",
                    self.traffic_drop
                ),
                "e.g. traffic_drop: 50% fires when traffic halves",
            ));
        }
        None
    }
}

/// Error-rate thresholds as fractions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Availability objective as a fraction (0.999).
    pub slo: f64,
    /// Error ratio that counts as an incident (0.01).
    pub error_rate: f64,
}

/// Seconds of counts that say whether a route is mostly failing.
const FAILING_SPAN: i64 = 10;
/// Least requests in [`FAILING_SPAN`] for a route to count as mostly failing.
const FAILING_MIN_REQUESTS: u64 = 10;

/// Every detector that watches one target's request counts (a metrics route, a
/// Prometheus route, a simulated route): error rate, latency, traffic drop and surge, 4xx surge.
#[derive(Debug, Clone, Default)]
pub struct RouteDetectors {
    series: CountSeries,
    /// The last second an observation covered.
    covered_through: Option<i64>,
    error_rate: ErrorRateDetector,
    latency: LatencyDetector,
    traffic: TrafficDropDetector,
    surge: TrafficSurgeDetector,
    client_errors: ClientErrorDetector,
}

impl RouteDetectors {
    /// Records the counts seen at Unix second `second` (and a latency reading of
    /// `settings.latency_quantile`: seconds, and the requests behind it), evaluates every
    /// detector and appends their signals to `out`.
    pub fn observe(
        &mut self,
        target: &str,
        second: i64,
        counts: Counts,
        latency: Option<(f64, u64)>,
        settings: &Settings,
        out: &mut Vec<Signal>,
    ) {
        self.observe_over(target, second, 1, counts, latency, settings, out);
    }

    /// [`observe`](Self::observe) for counts that cover the `span` seconds
    /// through `second` (a scrape's since the previous one, a query's
    /// interval): they are spread evenly over those seconds, so a scrape that
    /// carries a gap is no surge and the onsets see no silent seconds between
    /// scrapes.
    #[allow(clippy::too_many_arguments)]
    pub fn observe_over(
        &mut self,
        target: &str,
        second: i64,
        span: i64,
        counts: Counts,
        latency: Option<(f64, u64)>,
        settings: &Settings,
        out: &mut Vec<Signal>,
    ) {
        // Seconds no observation covers (a restart lost them, a query source
        // missed its polls) are missing, not silent: the traffic windows do
        // not reach back over them. A second or few of timer jitter is not that.
        let first = second - span.clamp(1, MAX_SPREAD) + 1;
        if let Some(last) = self.covered_through
            && first - last > MISSING_AFTER
        {
            self.traffic.unknown_before(first);
            self.surge.unknown_before(first);
        }
        self.covered_through = Some(self.covered_through.map_or(second, |c| c.max(second)));
        self.series.add_spread(second, span, counts);
        out.extend(
            self.error_rate
                .evaluate(target, &self.series, second, settings.thresholds()),
        );
        out.extend(self.traffic.evaluate(
            target,
            &self.series,
            second,
            settings.traffic_drop.fraction(),
        ));
        out.extend(
            self.surge
                .evaluate(target, &self.series, second, settings.traffic_surge),
        );
        out.extend(self.client_errors.evaluate(target, &self.series, second));
        // While most requests fail, their latency is the error path's (an
        // outage's fast refusals, a timeout's wait), not the route's: it is
        // neither learnt as a baseline nor judged (the error rate speaks).
        let recent = self.series.window(second, FAILING_SPAN);
        let failing = recent.total >= FAILING_MIN_REQUESTS && recent.errors * 2 >= recent.total;
        if let Some((value, requests)) = latency.filter(|_| !failing) {
            out.extend(self.latency.observe(
                target,
                second,
                (value, requests),
                settings.latency_quantile,
                settings.latency_factor,
            ));
        }
    }

    /// Learns a minute of a source's history (`minute` in Unix minutes): its
    /// counts and latency reading become baselines, and nothing is judged —
    /// what happened before `ic` started pages no one.
    pub fn learn_minute(&mut self, minute: i64, counts: Counts, latency: Option<(f64, u64)>) {
        self.series.add_minute(minute, counts);
        let failing = counts.total >= FAILING_MIN_REQUESTS && counts.errors * 2 >= counts.total;
        // As live readings: a minute of a handful of requests is no p95.
        let enough = counts.total >= latency::MIN_REQUESTS;
        if let Some((value, _)) = latency.filter(|_| !failing && enough) {
            self.latency.learn(minute, value);
        }
    }

    /// Seeds the cold-start baselines with the route's figures over its
    /// counters' lifetime (the first scrape): each only where enough requests
    /// stand behind it, and each until the route's own history overrules it.
    pub fn seed(&mut self, life: &Lifetime) {
        if let Some(value) = life.latency {
            self.latency.seed(value, life.requests);
        }
        if let Some(rate) = life.rate.filter(|_| life.requests >= LIFETIME_MIN_REQUESTS) {
            self.traffic.seed(rate);
            self.surge.seed(rate);
        }
    }

    /// What the counts in (`from`, `now`] say about the anomaly of `kind` that
    /// began at `onset` (Unix seconds), for [`lifecycle`]: healed when the
    /// share of failures there is surely under half of what it was from the
    /// onset through `from`, bad when surely over it; `None` without requests
    /// there. Only the error-rate and 4xx detectors count failures; the others
    /// are `Unsure`.
    pub fn health(&self, kind: DetectorKind, onset: i64, from: i64, now: i64) -> Option<Health> {
        let bad = |c: Counts| match kind {
            DetectorKind::ClientErrors => c.client_errors,
            _ => c.errors,
        };
        if !matches!(kind, DetectorKind::ErrorRate | DetectorKind::ClientErrors) {
            return Some(Health::Unsure);
        }
        let tail = self.series.window(now, now - from);
        if tail.total == 0 {
            return None;
        }
        let before = self.series.window(from, from - onset + 1);
        if before.total == 0 {
            return Some(Health::Unsure);
        }
        let level = bad(before) as f64 / before.total as f64 / 2.0;
        let k = bad(tail);
        Some(if surely_below(k, tail.total, level, lifecycle::ALPHA) {
            Health::Healed
        } else if k as f64 > tail.total as f64 * level
            && binomial_tail(k, tail.total, level) < lifecycle::ALPHA
        {
            Health::Bad
        } else {
            Health::Unsure
        })
    }

    /// The counts recorded so far.
    pub fn series(&self) -> &CountSeries {
        &self.series
    }

    /// Whether any detector is firing.
    pub fn is_firing(&self) -> bool {
        self.error_rate.is_firing()
            || self.latency.is_firing()
            || self.traffic.is_firing()
            || self.surge.is_firing()
            || self.client_errors.is_firing()
    }
}

pub(crate) fn ts(second: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(second, 0).single().unwrap_or_default()
}

pub(crate) fn make_signal(
    kind: DetectorKind,
    target: &str,
    state: SignalState,
    severity: SeverityHint,
    evidence: String,
    started: i64,
    at: i64,
) -> Signal {
    Signal {
        kind,
        target: target.to_string(),
        state,
        severity,
        evidence,
        started: ts(started),
        at: ts(at),
        class: kind.usual_class(),
        ended: None,
    }
}

pub(crate) fn pct(r: f64) -> String {
    let p = r * 100.0;
    if p >= 10.0 {
        format!("{p:.0}%")
    } else if p >= 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

/// An SLO as people write it: 99.9%, 99.95%, 99% (never rounded up to 100%).
pub(crate) fn slo_pct(slo: f64) -> String {
    let digits = format!("{:.3}", slo * 100.0);
    format!("{}%", digits.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A deterministic stream of per-second counts: `rps` requests with error probability `p(t)`.
    pub(crate) struct Traffic {
        pub(crate) seed: u64,
    }

    impl Traffic {
        pub(crate) fn uniform(&mut self) -> f64 {
            self.seed = self
                .seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.seed >> 11) as f64 / (1u64 << 53) as f64
        }
        pub(crate) fn second(&mut self, rps: u64, p: f64) -> Counts {
            let errors = (0..rps).filter(|_| self.uniform() < p).count() as u64;
            Counts {
                total: rps,
                errors,
                client_errors: 0,
            }
        }
    }

    pub(crate) const TH: Thresholds = Thresholds {
        slo: 0.999,
        error_rate: 0.01,
    };
    pub(crate) const T0: i64 = 1_800_000_000;
}

#[cfg(test)]
mod tests {
    use super::testing::T0;
    use super::*;

    #[test]
    fn counts_spread_over_their_span_sum_to_themselves_and_fail_within_each_second() {
        let mut s = CountSeries::default();
        let c = Counts {
            total: 23,
            errors: 7,
            client_errors: 5,
        };
        s.add_spread(T0 + 9, 10, c);
        assert_eq!(s.window(T0 + 9, 10), c);
        assert_eq!(s.live_since(), Some(T0));
        for t in 0..10 {
            let sec = s.second(T0 + t).unwrap();
            assert!((2..=3).contains(&sec.total), "{t}: {sec:?}");
            assert!(sec.errors + sec.client_errors <= sec.total, "{t}: {sec:?}");
        }
        // A hostile view's failures beyond its requests are cut to them.
        s.add_spread(
            T0 + 19,
            10,
            Counts {
                total: 4,
                errors: 90,
                client_errors: 9,
            },
        );
        let w = s.window(T0 + 19, 10);
        assert_eq!((w.total, w.errors, w.client_errors), (4, 4, 0));
        // The span is capped, and a span of 1 (or less) is one second.
        let mut long = CountSeries::default();
        long.add_spread(
            T0,
            i64::MAX,
            Counts {
                total: 1,
                ..Counts::default()
            },
        );
        assert_eq!(long.since(), Some(T0 - MAX_SPREAD + 1));
        let mut one = CountSeries::default();
        one.add_spread(T0, -5, c);
        assert_eq!(one.second(T0), Some(c));
    }

    #[test]
    fn a_scrape_that_carries_a_gap_is_no_surge_and_a_drop_between_scrapes_starts_where_it_did() {
        let settings = Settings::default();
        let mut d = RouteDetectors::default();
        let mut out = Vec::new();
        let view = |n| Counts {
            total: n,
            ..Counts::default()
        };
        // Two hours of 5 s scrapes at 20/s, then one scrape after a 95 s gap.
        let mut t = 0;
        while t < 7200 {
            t += 5;
            d.observe_over("r", T0 + t, 5, view(100), None, &settings, &mut out);
        }
        t += 95;
        d.observe_over("r", T0 + t, 95, view(1900), None, &settings, &mut out);
        assert!(out.is_empty(), "{out:?}");
        // Traffic stops at `stop`: the drop's onset is there, not 5 minutes back
        // through the seconds between scrapes.
        let stop = t;
        while out.is_empty() && t < stop + 60 {
            t += 5;
            d.observe_over("r", T0 + t, 5, view(0), None, &settings, &mut out);
        }
        let drop = out.iter().find(|s| s.kind == DetectorKind::TrafficDrop);
        let started = drop.map(|s| s.started.timestamp() - T0);
        assert!(
            started.is_some_and(|s| (stop..=stop + 5).contains(&s)),
            "{out:?}"
        );
    }

    #[test]
    fn seconds_no_observation_covers_are_missing_not_silent_and_a_very_long_gap_keeps_its_rate() {
        let settings = Settings::default();
        let view = |n| Counts {
            total: n,
            ..Counts::default()
        };
        let mut d = RouteDetectors::default();
        let mut out = Vec::new();
        let mut t = 0;
        while t < 7200 {
            t += 5;
            d.observe_over("r", T0 + t, 5, view(100), None, &settings, &mut out);
        }
        // A 10-minute gap whose scrape covers only the 30 s since a restart.
        t += 600;
        d.observe_over("r", T0 + t, 30, view(600), None, &settings, &mut out);
        for _ in 0..60 {
            t += 5;
            d.observe_over("r", T0 + t, 5, view(100), None, &settings, &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
        // A day without scrapes: the last six hours keep the rate (20/s), no more.
        let mut s = CountSeries::default();
        s.add_spread(T0 + 86_400, 86_400, view(20 * 86_400));
        assert_eq!(s.window(T0 + 86_400, 60).total, 1200);
        assert_eq!(s.since(), Some(T0 + 86_400 - MAX_SPREAD + 1));
    }

    #[test]
    fn windows_sum_seconds_and_minutes() {
        let mut s = CountSeries::default();
        for t in 0..4000 {
            s.add(
                T0 + t,
                Counts {
                    total: 2,
                    errors: u64::from(t % 10 == 0),
                    ..Counts::default()
                },
            );
        }
        let now = T0 + 3999;
        assert_eq!(
            s.window(now, 10),
            Counts {
                total: 20,
                errors: 1,
                client_errors: 0
            }
        );
        assert_eq!(s.window(now, 300).total, 600);
        // Long windows count whole minutes: the current one (40 s so far) and the 59 before it.
        assert_eq!(s.window(now, 3600).total, 2 * (40 + 59 * 60));
        assert!(s.seconds.0.len() <= SECOND_BUCKETS as usize);
        // A late bucket for an earlier second lands in every window that covers it.
        s.add(
            now - 5,
            Counts {
                total: 7,
                ..Counts::default()
            },
        );
        assert_eq!(s.window(now, 10).total, 27);
        assert_eq!(s.window(now, 5).total, 10);
        assert_eq!(s.second(now - 5).map(|c| c.total), Some(9));
        assert_eq!(s.window(now, 3600).total, 2 * (40 + 59 * 60) + 7);
    }

    #[test]
    fn min_duration_is_read_and_bounded() {
        let s: Settings = yaml_serde::from_str("min_duration: 3s").unwrap();
        assert_eq!(s.holds().min_duration, 3);
        assert_eq!(Settings::default().holds(), lifecycle::Holds::default());
        assert!(s.problem().is_none());
        let long: Settings = yaml_serde::from_str("min_duration: 2m").unwrap();
        let (message, _) = long.problem().unwrap();
        assert!(message.contains("detect.min_duration is 2m"), "{message}");
        let s: Settings = yaml_serde::from_str("stable_for: 30s").unwrap();
        assert_eq!(s.holds().stable_for, 30);
        let long: Settings = yaml_serde::from_str("stable_for: 2h").unwrap();
        let (message, _) = long.problem().unwrap();
        assert!(message.contains("detect.stable_for is 2h"), "{message}");
    }

    #[test]
    fn the_latency_of_a_mostly_failing_route_is_neither_learnt_nor_judged() {
        // ic starts during an outage answered by fast refusals (2 ms), which
        // ends after 15 minutes: the route's usual 200 ms are no regression.
        let settings = Settings::default();
        let mut d = RouteDetectors::default();
        let mut out = Vec::new();
        for t in 0..1800 {
            let outage = t < 900;
            let counts = Counts {
                total: 30,
                errors: if outage { 30 } else { 0 },
                client_errors: 0,
            };
            let p95 = if outage { 0.002 } else { 0.2 };
            d.observe(
                "orders",
                T0 + t,
                counts,
                Some((p95, 30)),
                &settings,
                &mut out,
            );
        }
        let latency: Vec<&Signal> = out
            .iter()
            .filter(|s| s.kind == DetectorKind::Latency)
            .collect();
        assert!(latency.is_empty(), "{latency:?}");
        // The same readings with the route answering are judged: a ×3 shift fires.
        let mut d = RouteDetectors::default();
        let mut out = Vec::new();
        for t in 0..1800 {
            let counts = Counts {
                total: 30,
                errors: 0,
                client_errors: 0,
            };
            let p95 = if t < 900 { 0.05 } else { 0.2 };
            d.observe(
                "orders",
                T0 + t,
                counts,
                Some((p95, 30)),
                &settings,
                &mut out,
            );
        }
        assert!(
            out.iter()
                .any(|s| s.kind == DetectorKind::Latency && s.state == SignalState::Fired)
        );
    }

    #[test]
    fn history_learnt_at_start_gives_baselines_at_once_and_judges_nothing() {
        // Six hours of a source's past: 20 req/s, 0.2% errors, p95 100 ms, with a
        // 5-minute outage that ended 25 minutes before the start: it paged no one
        // then and pages no one now (not even the burn rate over 6 h and 30 m).
        let settings = Settings::default();
        let start = T0.div_euclid(60) * 60;
        let learnt = |d: &mut RouteDetectors| {
            for m in 0..360 {
                let outage = (330..335).contains(&m);
                let counts = Counts {
                    total: 1200,
                    errors: if outage { 1200 } else { 2 },
                    client_errors: 0,
                };
                d.learn_minute(start / 60 + m, counts, Some((0.1, 1200)));
            }
        };
        let mut d = RouteDetectors::default();
        learnt(&mut d);
        // Live: the route has stopped (0 requests) — a drop at once — and on
        // another route of the same past, the p95 is 4× — a regression in a minute.
        let (mut out, mut slow) = (Vec::new(), RouteDetectors::default());
        learnt(&mut slow);
        let fired = |out: &[Signal], kind| {
            out.iter()
                .find(|s| s.kind == kind && s.state == SignalState::Fired)
                .map(|s| s.at.timestamp() - start - 6 * 3600)
        };
        let mut slow_out = Vec::new();
        for t in 0..120 {
            let at = start + 6 * 3600 + t;
            d.observe("orders", at, Counts::default(), None, &settings, &mut out);
            let counts = Counts {
                total: 20,
                errors: 0,
                client_errors: 0,
            };
            slow.observe(
                "search",
                at,
                counts,
                Some((0.4, 20)),
                &settings,
                &mut slow_out,
            );
        }
        assert!(
            !out.iter()
                .chain(&slow_out)
                .any(|s| s.kind == DetectorKind::ErrorRate),
            "the learnt outage is not judged: {out:?}"
        );
        let drop = fired(&out, DetectorKind::TrafficDrop);
        assert!(drop.is_some_and(|s| s <= 15), "{out:?}");
        let latency = fired(&slow_out, DetectorKind::Latency);
        assert!(latency.is_some_and(|s| s <= 70), "{slow_out:?}");
        // Without the past, neither fires in those two minutes.
        let (mut bare, mut out) = (RouteDetectors::default(), Vec::new());
        for t in 0..120 {
            bare.observe(
                "orders",
                start + 6 * 3600 + t,
                Counts::default(),
                None,
                &settings,
                &mut out,
            );
        }
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn a_lifetime_seed_judges_a_cold_start_and_caps_what_it_learns_first() {
        // ic starts while orders has stopped and exports is in a ×10 storm that
        // ends after 10 minutes; the exporter counted 20/s and 10/s so far.
        let settings = Settings::default();
        let life = |rate: f64| Lifetime {
            requests: (rate * 7200.0) as u64,
            latency: Some(0.1),
            rate: Some(rate),
        };
        let (mut orders, mut exports) = (RouteDetectors::default(), RouteDetectors::default());
        orders.seed(&life(20.0));
        exports.seed(&life(10.0));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for t in 0..1500 {
            orders.observe("orders", T0 + t, Counts::default(), None, &settings, &mut a);
            let n = if t < 600 { 100 } else { 10 };
            let counts = Counts {
                total: n,
                ..Counts::default()
            };
            exports.observe("exports", T0 + t, counts, None, &settings, &mut b);
        }
        let fired = |out: &[Signal], kind| {
            out.iter()
                .filter(|s| s.kind == kind && s.state == SignalState::Fired)
                .map(|s| s.at.timestamp() - T0)
                .collect::<Vec<_>>()
        };
        // Not at once: the first seconds are no 5-minute window of silence.
        assert_eq!(fired(&a, DetectorKind::TrafficDrop), vec![9], "{a:?}");
        let drop = a
            .iter()
            .find(|s| s.kind == DetectorKind::TrafficDrop)
            .unwrap();
        assert_eq!(drop.started.timestamp(), T0, "not before the first data");
        assert!(
            drop.evidence.contains("began before ic's data did"),
            "{drop:?}"
        );
        assert_eq!(fired(&b, DetectorKind::TrafficSurge), vec![9], "{b:?}");
        let surge = b
            .iter()
            .find(|s| s.kind == DetectorKind::TrafficSurge)
            .unwrap();
        assert!(surge.evidence.starts_with("100.0/s over 10s"), "{surge:?}");
        // The storm's end is no drop: in the first hour the lifetime caps the
        // hour's baseline, which learnt the storm.
        assert!(fired(&b, DetectorKind::TrafficDrop).is_empty(), "{b:?}");
        // Without the seed, neither is seen.
        let (mut bare, mut out) = (RouteDetectors::default(), Vec::new());
        for t in 0..600 {
            let counts = Counts {
                total: 100,
                ..Counts::default()
            };
            bare.observe("exports", T0 + t, counts, None, &settings, &mut out);
        }
        assert!(
            fired(&out, DetectorKind::TrafficSurge).is_empty(),
            "{out:?}"
        );
    }

    #[test]
    fn binomial_tail_matches_hand_computed_values() {
        // P(X >= 2 | n = 3, p = 0.5) = 4/8.
        assert!((binomial_tail(2, 3, 0.5) - 0.5).abs() < 1e-12);
        // P(X >= 10 | n = 10, p = 0.1) = 1e-10.
        assert!((binomial_tail(10, 10, 0.1) / 1e-10 - 1.0).abs() < 1e-9);
        // Stirling takes over at 32 without a seam.
        assert!((ln_factorial(32) - ln_factorial(31) - 32f64.ln()).abs() < 1e-9);
        // 6 errors of 100 against 1%: Wilson at z = 5 calls it certain; the exact tail does not.
        assert!(!surely_above(6, 100, 0.01));
        assert!(surely_above(10, 100, 0.01));
        assert!(!surely_above(1, 1, 0.01), "one failure is never certain");
        assert!(!surely_above(0, 0, 0.01));
        // P(X <= 1 | n = 3, p = 0.5) = 4/8; P(X = 0 | n = 100, p = 0.1) = 0.9^100.
        assert!((binomial_lower_tail(1, 3, 0.5) - 0.5).abs() < 1e-12);
        assert!((binomial_lower_tail(0, 100, 0.1) / 0.9f64.powi(100) - 1.0).abs() < 1e-9);
        assert!(surely_below(0, 700, 0.01, 1e-3));
        assert!(!surely_below(0, 600, 0.01, 1e-3));
    }
}
