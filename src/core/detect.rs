//! Detection, pure and clock-driven: per-target request counts in 1-second
//! buckets (last 5 minutes) and 1-minute buckets (last 6 hours), and the
//! detectors that turn them into signals with hysteresis.
//!
//! Error rate fires on either
//! - the fast path: in any of the 10 s / 30 s / 60 s / 5 m windows, the error
//!   ratio is *statistically certain* to exceed `detect.error_rate` (Wilson
//!   lower bound at z = 4, with at least 20 requests and 3 errors), so a big
//!   step fires in seconds and a low-traffic route never pages on one failure;
//! - the SRE-workbook multi-window burn rate against `detect.slo`: 14.4× the
//!   budget over 1 h and 5 m, or 6× over 6 h and 30 m (with at least 3 errors
//!   in the short window).
//!
//! It resolves after 20 s in which the last 30 s stayed under half the
//! threshold, so a fault's end is seen within about a minute and a fault that
//! is still there does not flap.

use crate::core::signal::{DetectorKind, SeverityHint, Signal, SignalState};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::VecDeque;

/// Requests in a bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// All requests (or probes).
    pub total: u64,
    /// Failed ones (5xx, or a failed probe).
    pub errors: u64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.total += o.total;
        self.errors += o.errors;
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

const SECOND_BUCKETS: i64 = 300;
const MINUTE_BUCKETS: i64 = 360;

/// One target's recent counts: 1-second buckets for 5 minutes, 1-minute buckets for 6 hours.
#[derive(Debug, Clone, Default)]
pub struct CountSeries {
    seconds: VecDeque<(i64, Counts)>,
    minutes: VecDeque<(i64, Counts)>,
}

impl CountSeries {
    /// Adds counts observed in Unix second `second` (out-of-order within the kept span is fine).
    pub fn add(&mut self, second: i64, c: Counts) {
        add_bucket(&mut self.seconds, second, c);
        add_bucket(&mut self.minutes, second.div_euclid(60), c);
        while self
            .seconds
            .front()
            .is_some_and(|(s, _)| *s <= second - SECOND_BUCKETS)
        {
            self.seconds.pop_front();
        }
        let minute = second.div_euclid(60);
        while self
            .minutes
            .front()
            .is_some_and(|(m, _)| *m <= minute - MINUTE_BUCKETS)
        {
            self.minutes.pop_front();
        }
    }

    /// Sum over the last `secs` seconds ending at `now` (inclusive). Windows up to 5 minutes
    /// are exact; longer ones are counted in whole minutes.
    pub fn window(&self, now: i64, secs: i64) -> Counts {
        let mut sum = Counts::default();
        if secs <= SECOND_BUCKETS {
            for (s, c) in self.seconds.iter().rev() {
                if *s > now {
                    continue;
                }
                if *s <= now - secs {
                    break;
                }
                sum.add(*c);
            }
        } else {
            let now_m = now.div_euclid(60);
            let mins = (secs + 59) / 60;
            for (m, c) in self.minutes.iter().rev() {
                if *m > now_m {
                    continue;
                }
                if *m <= now_m - mins {
                    break;
                }
                sum.add(*c);
            }
        }
        sum
    }

    fn second(&self, s: i64) -> Option<Counts> {
        self.seconds
            .iter()
            .rev()
            .find(|(k, _)| *k == s)
            .map(|(_, c)| *c)
    }
}

fn add_bucket(q: &mut VecDeque<(i64, Counts)>, key: i64, c: Counts) {
    match q.iter().rposition(|(k, _)| *k <= key) {
        Some(i) if q[i].0 == key => q[i].1.add(c),
        Some(i) => q.insert(i + 1, (key, c)),
        None => q.push_front((key, c)),
    }
}

/// Lower bound of the Wilson score interval for `errors` of `total` at `z`.
pub fn wilson_lower(errors: u64, total: u64, z: f64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let n = total as f64;
    let p = errors as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let margin = z * ((p * (1.0 - p) + z2 / (4.0 * n)) / n).sqrt();
    ((centre - margin) / (1.0 + z2 / n)).max(0.0)
}

/// Thresholds (from the config's `detect:`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Availability objective as a fraction (0.999).
    pub slo: f64,
    /// Error ratio that counts as an incident (0.01).
    pub error_rate: f64,
}

const FAST_WINDOWS: [i64; 4] = [10, 30, 60, 300];
const Z_FIRE: f64 = 4.0;
const MIN_REQUESTS: u64 = 20;
const MIN_ERRORS: u64 = 3;
const QUIET_WINDOW: i64 = 30;
const QUIET_FOR: i64 = 20;
const UPDATE_EVERY: i64 = 60;
/// How far back a gap of healthy seconds may be bridged when estimating the start.
const START_GAP: i64 = 3;

#[derive(Debug, Clone)]
struct Firing {
    started: i64,
    last_update: i64,
    quiet_since: Option<i64>,
}

/// The error-rate detector of one target.
#[derive(Debug, Clone, Default)]
pub struct ErrorRateDetector {
    firing: Option<Firing>,
}

fn ts(second: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(second, 0).single().unwrap_or_default()
}

fn make_signal(
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
    }
}

impl ErrorRateDetector {
    /// Whether it is firing.
    pub fn is_firing(&self) -> bool {
        self.firing.is_some()
    }

    /// Evaluates at Unix second `now`; returns a signal when the state changes (or a periodic update).
    pub fn evaluate(
        &mut self,
        target: &str,
        series: &CountSeries,
        now: i64,
        th: Thresholds,
    ) -> Option<Signal> {
        let hot = hot_evidence(series, now, th);
        let signal = |state, evidence, started, severity| {
            make_signal(
                DetectorKind::ErrorRate,
                target,
                state,
                severity,
                evidence,
                started,
                now,
            )
        };
        match (&mut self.firing, hot) {
            (None, Some((evidence, severity))) => {
                let started = estimate_start(series, now, th.error_rate);
                self.firing = Some(Firing {
                    started,
                    last_update: now,
                    quiet_since: None,
                });
                Some(signal(SignalState::Fired, evidence, started, severity))
            }
            (None, None) => None,
            (Some(f), hot) => {
                let recent = series.window(now, QUIET_WINDOW);
                if recent.ratio() >= th.error_rate / 2.0 && recent.total > 0 {
                    f.quiet_since = None;
                } else if f.quiet_since.is_none() {
                    f.quiet_since = Some(now);
                }
                if f.quiet_since.is_some_and(|q| now - q >= QUIET_FOR) {
                    let started = f.started;
                    self.firing = None;
                    let evidence = format!(
                        "{} over the last {QUIET_WINDOW}s ({} of {}), under {} for {QUIET_FOR}s",
                        pct(recent.ratio()),
                        recent.errors,
                        recent.total,
                        pct(th.error_rate / 2.0)
                    );
                    return Some(signal(
                        SignalState::Resolved,
                        evidence,
                        started,
                        SeverityHint::Info,
                    ));
                }
                if now - f.last_update >= UPDATE_EVERY
                    && let Some((evidence, severity)) = hot
                {
                    f.last_update = now;
                    return Some(signal(SignalState::Updated, evidence, f.started, severity));
                }
                None
            }
        }
    }
}

fn pct(r: f64) -> String {
    let p = r * 100.0;
    if p >= 10.0 {
        format!("{p:.0}%")
    } else if p >= 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

/// Why the error rate counts as an incident right now, if it does.
fn hot_evidence(series: &CountSeries, now: i64, th: Thresholds) -> Option<(String, SeverityHint)> {
    for w in FAST_WINDOWS {
        let c = series.window(now, w);
        if c.total >= MIN_REQUESTS
            && c.errors >= MIN_ERRORS
            && wilson_lower(c.errors, c.total, Z_FIRE) > th.error_rate
        {
            let severity = if c.ratio() >= 0.5 {
                SeverityHint::Critical
            } else {
                SeverityHint::Warning
            };
            return Some((
                format!(
                    "{} errors over {w}s ({} of {}; threshold {})",
                    pct(c.ratio()),
                    c.errors,
                    c.total,
                    pct(th.error_rate)
                ),
                severity,
            ));
        }
    }
    let budget = (1.0 - th.slo).max(1e-9);
    for (long, short, factor) in [(3600, 300, 14.4), (21_600, 1800, 6.0)] {
        let (l, s) = (series.window(now, long), series.window(now, short));
        if s.errors >= MIN_ERRORS && l.ratio() > factor * budget && s.ratio() > factor * budget {
            return Some((
                format!(
                    "burning the error budget at {:.1}× ({} over {}m, {} over {}m; SLO {})",
                    s.ratio() / budget,
                    pct(l.ratio()),
                    long / 60,
                    pct(s.ratio()),
                    short / 60,
                    pct(th.slo)
                ),
                if factor > 10.0 {
                    SeverityHint::Critical
                } else {
                    SeverityHint::Warning
                },
            ));
        }
    }
    None
}

/// The first second of the current bad stretch: walking back while seconds are
/// over the threshold, bridging up to `START_GAP` healthy or empty seconds.
fn estimate_start(series: &CountSeries, now: i64, threshold: f64) -> i64 {
    let mut start = now;
    let mut gap = 0;
    let mut s = now;
    while s > now - SECOND_BUCKETS {
        match series.second(s) {
            Some(c) if c.errors > 0 && c.ratio() > threshold => {
                start = s;
                gap = 0;
            }
            _ => {
                gap += 1;
                if gap > START_GAP {
                    break;
                }
            }
        }
        s -= 1;
    }
    start
}

/// The latency detector of one route: fires when the median of the p95
/// readings of the last 30 s (at least 3 of them, each over at least 20
/// requests) is at least `factor` × the baseline — the median of the
/// per-minute p95s over the last hour (at least 10 minutes of them); resolves
/// after 30 s back under the factor.
#[derive(Debug, Clone, Default)]
pub struct LatencyDetector {
    /// (minute, p95s seen in that minute) for the last hour.
    minutes: VecDeque<(i64, Vec<f64>)>,
    /// (second, p95) of the last `LATENCY_SUSTAIN` seconds.
    recent: VecDeque<(i64, f64)>,
    under_since: Option<i64>,
    firing_since: Option<i64>,
}

const LATENCY_SUSTAIN: i64 = 30;
const LATENCY_MIN_MINUTES: usize = 10;

impl LatencyDetector {
    /// Feeds the p95 (seconds) measured at Unix second `at` over `requests` requests.
    pub fn observe(
        &mut self,
        target: &str,
        at: i64,
        p95: f64,
        requests: u64,
        factor: f64,
    ) -> Option<Signal> {
        if !p95.is_finite() || p95 <= 0.0 || requests < MIN_REQUESTS {
            return None;
        }
        let baseline = self.baseline(at);
        let minute = at.div_euclid(60);
        // While firing, keep the regression out of the baseline.
        if self.firing_since.is_none() {
            match self.minutes.back_mut() {
                Some((m, v)) if *m == minute => v.push(p95),
                _ => self.minutes.push_back((minute, vec![p95])),
            }
            while self.minutes.front().is_some_and(|(m, _)| *m <= minute - 60) {
                self.minutes.pop_front();
            }
        }
        self.recent.push_back((at, p95));
        while self
            .recent
            .front()
            .is_some_and(|(t, _)| *t <= at - LATENCY_SUSTAIN)
        {
            self.recent.pop_front();
        }
        let baseline = baseline?;
        let mut readings: Vec<f64> = self.recent.iter().map(|(_, v)| *v).collect();
        readings.sort_by(f64::total_cmp);
        let current = readings.get(readings.len() / 2).copied().unwrap_or(p95);
        let over = readings.len() >= 3 && current >= factor * baseline;
        let describe = || {
            format!(
                "p95 {:.0} ms over the last {LATENCY_SUSTAIN}s is {:.1}× its baseline of {:.0} ms",
                current * 1000.0,
                current / baseline,
                baseline * 1000.0
            )
        };
        match self.firing_since {
            None if over => {
                let since = self.recent.front().map_or(at, |(t, _)| *t);
                self.firing_since = Some(since);
                self.under_since = None;
                let severity = if current >= 4.0 * baseline {
                    SeverityHint::Critical
                } else {
                    SeverityHint::Warning
                };
                Some(make_signal(
                    DetectorKind::Latency,
                    target,
                    SignalState::Fired,
                    severity,
                    describe(),
                    since,
                    at,
                ))
            }
            None => None,
            Some(_) if over => {
                self.under_since = None;
                None
            }
            Some(since) => {
                let quiet = *self.under_since.get_or_insert(at);
                if at - quiet >= LATENCY_SUSTAIN {
                    self.firing_since = None;
                    return Some(make_signal(
                        DetectorKind::Latency,
                        target,
                        SignalState::Resolved,
                        SeverityHint::Info,
                        describe(),
                        since,
                        at,
                    ));
                }
                None
            }
        }
    }

    /// Median of the per-minute p95s (each minute's median reading) before `at`'s minute.
    fn baseline(&self, at: i64) -> Option<f64> {
        let minute = at.div_euclid(60);
        let mut per_minute: Vec<f64> = self
            .minutes
            .iter()
            .filter(|(m, _)| *m < minute)
            .filter_map(|(_, v)| {
                let mut v = v.clone();
                v.sort_by(f64::total_cmp);
                v.get(v.len() / 2).copied()
            })
            .collect();
        if per_minute.len() < LATENCY_MIN_MINUTES {
            return None;
        }
        per_minute.sort_by(f64::total_cmp);
        per_minute.get(per_minute.len() / 2).copied()
    }
}

/// The `down` detector of one endpoint: fires when 2 of the last 3 probes failed,
/// resolves after 3 good probes in a row.
#[derive(Debug, Clone, Default)]
pub struct DownDetector {
    last: VecDeque<(i64, bool)>,
    firing_since: Option<i64>,
}

impl DownDetector {
    /// Feeds one probe result (`ok`) taken at Unix second `at`, with a description of the failure.
    pub fn observe(&mut self, target: &str, at: i64, ok: bool, what: &str) -> Option<Signal> {
        self.last.push_back((at, ok));
        if self.last.len() > 3 {
            self.last.pop_front();
        }
        let failed = self.last.iter().filter(|(_, ok)| !ok).count();
        let signal = |state, evidence, started, severity| {
            make_signal(
                DetectorKind::Down,
                target,
                state,
                severity,
                evidence,
                started,
                at,
            )
        };
        match self.firing_since {
            None if failed >= 2 => {
                let started = self.last.iter().find(|(_, ok)| !ok).map_or(at, |(t, _)| *t);
                self.firing_since = Some(started);
                Some(signal(
                    SignalState::Fired,
                    format!("{failed} of the last 3 probes failed: {what}"),
                    started,
                    SeverityHint::Critical,
                ))
            }
            Some(started) if self.last.len() == 3 && failed == 0 => {
                self.firing_since = None;
                Some(signal(
                    SignalState::Resolved,
                    "3 good probes in a row".into(),
                    started,
                    SeverityHint::Info,
                ))
            }
            _ => None,
        }
    }
}

/// The certificate detector of one endpoint: a warning under 21, 14 and 7 days
/// left (an update at each step down), critical under 48 hours, resolved when a
/// renewed certificate has 21 days or more.
#[derive(Debug, Clone, Default)]
pub struct CertificateDetector {
    /// The step in force: index into `CERT_STEPS`, when firing.
    step: Option<usize>,
    since: i64,
}

/// (days left under which, severity) from the mildest to the worst.
const CERT_STEPS: [(f64, SeverityHint); 4] = [
    (21.0, SeverityHint::Info),
    (14.0, SeverityHint::Warning),
    (7.0, SeverityHint::Warning),
    (2.0, SeverityHint::Critical),
];

impl CertificateDetector {
    /// Feeds the days left on the leaf certificate seen at Unix second `at`.
    pub fn observe(&mut self, target: &str, at: i64, days_left: f64) -> Option<Signal> {
        let step = CERT_STEPS.iter().rposition(|(limit, _)| days_left < *limit);
        let signal = |state, severity, evidence, since| {
            make_signal(
                DetectorKind::Certificate,
                target,
                state,
                severity,
                evidence,
                since,
                at,
            )
        };
        let describe = |i: usize| {
            if days_left < 2.0 {
                format!(
                    "certificate expires in {:.0} hours",
                    (days_left * 24.0).max(0.0)
                )
            } else {
                format!(
                    "certificate expires in {days_left:.1} days (under {})",
                    CERT_STEPS[i].0
                )
            }
        };
        match (self.step, step) {
            (None, Some(i)) => {
                self.step = Some(i);
                self.since = at;
                Some(signal(SignalState::Fired, CERT_STEPS[i].1, describe(i), at))
            }
            (Some(old), Some(i)) if i > old => {
                self.step = Some(i);
                Some(signal(
                    SignalState::Updated,
                    CERT_STEPS[i].1,
                    describe(i),
                    self.since,
                ))
            }
            (Some(_), None) => {
                self.step = None;
                Some(signal(
                    SignalState::Resolved,
                    SeverityHint::Info,
                    format!("certificate renewed: {days_left:.0} days left"),
                    self.since,
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of per-second counts: `rps` requests with error probability `p(t)`.
    struct Traffic {
        seed: u64,
    }

    impl Traffic {
        fn uniform(&mut self) -> f64 {
            self.seed = self
                .seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.seed >> 11) as f64 / (1u64 << 53) as f64
        }
        fn second(&mut self, rps: u64, p: f64) -> Counts {
            let errors = (0..rps).filter(|_| self.uniform() < p).count() as u64;
            Counts { total: rps, errors }
        }
    }

    const TH: Thresholds = Thresholds {
        slo: 0.999,
        error_rate: 0.01,
    };
    const T0: i64 = 1_800_000_000;

    /// Runs `secs` seconds of 20 rps with `p(t)`; returns (seconds to fire after `fault_at`, seconds
    /// to resolve after `fault_end`, false alerts before the fault).
    fn run(
        secs: i64,
        p: impl Fn(i64) -> f64,
        fault_at: i64,
        fault_end: i64,
    ) -> (Option<i64>, Option<i64>, usize) {
        let mut traffic = Traffic { seed: 42 };
        let mut series = CountSeries::default();
        let mut det = ErrorRateDetector::default();
        let (mut fired, mut resolved, mut false_alerts) = (None, None, 0);
        for t in 0..secs {
            series.add(T0 + t, traffic.second(20, p(t)));
            if let Some(sig) = det.evaluate("api", &series, T0 + t, TH) {
                match sig.state {
                    SignalState::Fired if t < fault_at => false_alerts += 1,
                    SignalState::Fired if fired.is_none() => {
                        fired = Some(t - fault_at);
                        assert!(
                            sig.started.timestamp() >= T0 + fault_at - 3,
                            "start {} vs fault at {}",
                            sig.started.timestamp() - T0,
                            fault_at
                        );
                    }
                    SignalState::Resolved if t >= fault_end && resolved.is_none() => {
                        resolved = Some(t - fault_end)
                    }
                    SignalState::Resolved if t < fault_end => {
                        panic!("resolved during the fault at {t}")
                    }
                    _ => {}
                }
            }
        }
        (fired, resolved, false_alerts)
    }

    #[test]
    fn a_15_percent_step_fires_within_10_seconds_and_resets_within_a_minute() {
        let (fired, resolved, false_alerts) = run(
            900,
            |t| if (300..600).contains(&t) { 0.15 } else { 0.001 },
            300,
            600,
        );
        assert!(fired.unwrap() <= 10, "{fired:?}");
        assert!(resolved.unwrap() <= 60, "{resolved:?}");
        assert_eq!(false_alerts, 0);
    }

    #[test]
    fn smaller_steps_fire_within_their_targets() {
        let (fired, resolved, _) = run(
            1500,
            |t| {
                if (300..1200).contains(&t) {
                    0.05
                } else {
                    0.001
                }
            },
            300,
            1200,
        );
        assert!(fired.unwrap() <= 60, "5%: {fired:?}");
        assert!(resolved.unwrap() <= 60, "5%: {resolved:?}");
        let (fired, _, _) = run(1200, |t| if t >= 300 { 0.02 } else { 0.001 }, 300, i64::MAX);
        assert!(fired.unwrap() <= 300, "2%: {fired:?}");
    }

    #[test]
    fn an_outage_fires_within_five_seconds() {
        let (fired, resolved, _) = run(
            600,
            |t| if (300..360).contains(&t) { 1.0 } else { 0.001 },
            300,
            360,
        );
        assert!(fired.unwrap() <= 5, "{fired:?}");
        assert!(resolved.unwrap() <= 60, "{resolved:?}");
    }

    #[test]
    fn noise_under_the_threshold_never_fires() {
        // A day of 0.5% errors against a 1% threshold (SLO 99%: the noise is within budget).
        let th = Thresholds {
            slo: 0.99,
            error_rate: 0.01,
        };
        let mut traffic = Traffic { seed: 7 };
        let mut series = CountSeries::default();
        let mut det = ErrorRateDetector::default();
        for t in 0..86_400 {
            series.add(T0 + t, traffic.second(20, 0.005));
            assert!(
                det.evaluate("api", &series, T0 + t, th).is_none(),
                "false alert at {t}"
            );
        }
    }

    #[test]
    fn one_failure_on_a_quiet_route_never_fires() {
        let mut series = CountSeries::default();
        let mut det = ErrorRateDetector::default();
        for t in 0..7200 {
            let c = match t % 360 {
                0 if t == 720 => Counts {
                    total: 1,
                    errors: 1,
                },
                0 => Counts {
                    total: 1,
                    errors: 0,
                },
                _ => Counts::default(),
            };
            if c.total > 0 {
                series.add(T0 + t, c);
            }
            assert!(
                det.evaluate("quiet", &series, T0 + t, TH).is_none(),
                "alert at {t}"
            );
        }
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
                },
            );
        }
        let now = T0 + 3999;
        assert_eq!(
            s.window(now, 10),
            Counts {
                total: 20,
                errors: 1
            }
        );
        assert_eq!(s.window(now, 300).total, 600);
        // Long windows count whole minutes: the current one (40 s so far) and the 59 before it.
        assert_eq!(s.window(now, 3600).total, 2 * (40 + 59 * 60));
        assert!(s.seconds.len() <= SECOND_BUCKETS as usize);
    }

    #[test]
    fn wilson_bound_matches_hand_computed_values() {
        // 15 of 100 at z=4: (0.15 + 0.08 - 4*sqrt((0.1275 + 0.04)/100)) / 1.16
        let want = (0.23 - 4.0 * (0.1675f64 / 100.0).sqrt()) / 1.16;
        assert!((wilson_lower(15, 100, 4.0) - want).abs() < 1e-12);
        assert_eq!(wilson_lower(0, 0, 4.0), 0.0);
    }

    #[test]
    fn certificate_steps_down_then_resolves_on_renewal() {
        let mut c = CertificateDetector::default();
        assert!(c.observe("api", 1, 30.0).is_none());
        let s = c.observe("api", 2, 20.0).unwrap();
        assert_eq!(
            (s.state, s.severity),
            (SignalState::Fired, SeverityHint::Info)
        );
        assert!(c.observe("api", 3, 19.0).is_none(), "no news inside a step");
        let s = c.observe("api", 4, 6.5).unwrap();
        assert_eq!(
            (s.state, s.severity),
            (SignalState::Updated, SeverityHint::Warning)
        );
        assert_eq!(s.evidence, "certificate expires in 6.5 days (under 7)");
        let s = c.observe("api", 5, 1.5).unwrap();
        assert_eq!(
            (s.severity, s.evidence.as_str()),
            (SeverityHint::Critical, "certificate expires in 36 hours")
        );
        assert_eq!(s.started.timestamp(), 2);
        let s = c.observe("api", 6, 90.0).unwrap();
        assert_eq!(s.state, SignalState::Resolved);
    }

    #[test]
    fn a_latency_regression_after_a_warm_up_fires_within_a_minute_and_resets() {
        let mut d = LatencyDetector::default();
        let mut traffic = Traffic { seed: 3 };
        let mut fired = None;
        let mut resolved = None;
        // A reading every 5 s: an hour of ~50 ms with ±20% noise, 10 minutes at 2.5×, then back.
        for i in 0..(3600 + 600 + 600) / 5 {
            let t = i * 5;
            let noise = 0.8 + 0.4 * traffic.uniform();
            let p95 = if (3600..4200).contains(&t) {
                0.125
            } else {
                0.05
            } * noise;
            if let Some(sig) = d.observe("r", T0 + t, p95, 100, 2.0) {
                match sig.state {
                    SignalState::Fired => {
                        assert!(t >= 3600, "false alert at {t}");
                        fired.get_or_insert(t - 3600);
                    }
                    SignalState::Resolved => {
                        resolved.get_or_insert(t - 4200);
                    }
                    SignalState::Updated => {}
                }
            }
        }
        assert!(fired.unwrap() <= 60, "{fired:?}");
        assert!(resolved.unwrap() <= 60, "{resolved:?}");
    }

    #[test]
    fn latency_needs_a_baseline_and_enough_requests() {
        let mut d = LatencyDetector::default();
        for i in 0..100 {
            assert!(
                d.observe("r", T0 + i * 5, 5.0, 100, 2.0).is_none(),
                "no baseline yet"
            );
        }
        let mut d = LatencyDetector::default();
        for i in 0..720 {
            d.observe("r", T0 + i * 5, 0.05, 100, 2.0);
        }
        for i in 720..800 {
            assert!(
                d.observe("r", T0 + i * 5, 0.5, 3, 2.0).is_none(),
                "3 requests are not evidence"
            );
        }
    }

    #[test]
    fn down_needs_two_of_three_and_three_good_to_clear() {
        let mut d = DownDetector::default();
        assert!(d.observe("e", 1, false, "connect").is_none());
        assert!(d.observe("e", 2, true, "").is_none());
        let fired = d.observe("e", 3, false, "connect: refused").unwrap();
        assert_eq!(
            (fired.state, fired.started.timestamp()),
            (SignalState::Fired, 1)
        );
        assert!(fired.evidence.contains("2 of the last 3"));
        assert!(d.observe("e", 4, true, "").is_none());
        assert!(d.observe("e", 5, true, "").is_none());
        let resolved = d.observe("e", 6, true, "").unwrap();
        assert_eq!(resolved.state, SignalState::Resolved);
    }
}
