//! Detection, pure and clock-driven: per-target request counts in 1-second
//! buckets (last 5 minutes) and 1-minute buckets (last 6 hours), and the
//! detectors that turn them into signals with hysteresis.
//!
//! Error rate fires on any of
//! - the fast path: in any of the 10 s / 30 s / 60 s / 5 m windows, the error
//!   count is *statistically certain* to come from a ratio above
//!   `detect.error_rate` (exact binomial tail under `ALPHA` = 1e-6, with at least
//!   20 requests and 3 errors), so a big step fires in seconds and a
//!   low-traffic route never pages on one failure. Exact rather than a Wilson
//!   bound: at a handful of expected errors Wilson (even at z = 5) claimed
//!   certainty on noise, and a week of 0.5% errors against a 1% line paged
//!   dozens of times (`ic simulate assets/scenarios/sim-noise-week.yaml`);
//! - sequential evidence (`sequential`): three CUSUMs of the binomial
//!   log-likelihood ratio of 1.5×, 3× and 10× the line against the route's own
//!   noise (at least 60% of the line), each second's counts folded in, firing
//!   at a boundary that bounds false alarms to one per 10⁹ route-seconds — a
//!   2 req/s route at 3% or a ramp just past the line is caught as soon as the
//!   data can tell, not when one fixed window happens to hold enough of it;
//! - the SRE-workbook multi-window burn rate against `detect.slo`: 14.4× the
//!   budget over 1 h and 5 m, or 6× over 6 h and 30 m (with at least 3 errors
//!   in the short window, and only once the series covers the long window — a
//!   cold start has too little history for a burn rate).
//!
//! The onset is a change point in the per-second counts of the last hour
//! (`onset`: a step's or a ramp's crossing of the line, whichever fits better),
//! a step's no earlier than the sequential evidence allows (the second after
//! the CUSUMs last stood at zero, less the wait for a first error), refined by
//! each update; when the data begins inside the anomaly the
//! evidence says so. On resolution `ended` is the last bad second, the change
//! point back down.
//!
//! It resolves after 15 s in which the last 30 s stayed under 75% of the
//! threshold and the requests since the estimated end make it certain
//! (binomial lower tail under 1%) that the ratio is back under the threshold,
//! so a fault's end is seen within about 45 s at 20 req/s (about 1.5 minutes at
//! 5 req/s, where a quiet half-minute is common in a 2% fault), and once resolved only
//! windows that start after the quiet began count as evidence of a new incident
//! (and the sequential tests start afresh), so the old one cannot page twice.

use super::onset::{self, Model, Onset};
use super::sequential::{Evidence, Verdict};
use super::{CountSeries, Thresholds, make_signal, pct, slo_pct, surely_above, surely_below, ts};
use crate::core::signal::{DetectorKind, SeverityHint, Signal, SignalState};

const FAST_WINDOWS: [i64; 4] = [10, 30, 60, 300];
const MIN_REQUESTS: u64 = 20;
const MIN_ERRORS: u64 = 3;
const QUIET_WINDOW: i64 = 30;
const QUIET_FOR: i64 = 15;
/// Share of the threshold the last `QUIET_WINDOW` must stay under to count as quiet.
const QUIET_SHARE: f64 = 0.75;
const UPDATE_EVERY: i64 = 60;
/// How sure the requests since the estimated end must make it that the ratio is back
/// under the threshold (a quiet route needs longer: 5 req/s without an error take
/// 92 s to show that 1% is over).
const RESOLVE_ALPHA: f64 = 1e-2;

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
    /// After a resolution, windows reaching back before this second are not evidence of a new
    /// incident (they still hold the old one).
    fresh_from: i64,
    /// The sequential tests (CUSUMs) of the ratio against the line.
    evidence: Evidence,
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
        let fresh_from = if self.firing.is_some() {
            i64::MIN
        } else {
            self.fresh_from
        };
        let sequential = self.evidence.update(series, now, th.error_rate);
        let hot = hot_evidence(series, now, th, fresh_from).or_else(|| {
            sequential.map(|v| (sequential_evidence(v, now, th), SeverityHint::Warning))
        });
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
                let from = sequential.map(|v| v.since).or(self.evidence.since());
                let o = estimate_onset(series, now, th.error_rate, self.fresh_from, from);
                self.firing = Some(Firing {
                    started: o.at,
                    last_update: now,
                    quiet_since: None,
                });
                let evidence = format!("{evidence}{}", o.note());
                Some(signal(SignalState::Fired, evidence, o.at, severity))
            }
            (None, None) => None,
            (Some(f), hot) => {
                let recent = series.window(now, QUIET_WINDOW);
                if recent.ratio() >= th.error_rate * QUIET_SHARE && recent.total > 0 {
                    f.quiet_since = None;
                } else if f.quiet_since.is_none() {
                    f.quiet_since = Some(now);
                }
                // Over once the requests since the estimated end have stayed under
                // the quiet line for `QUIET_FOR` and surely under the threshold — or,
                // without a clear end, once the last 30 s held quiet that long.
                let since_end = |end: i64| series.window(now, now - end);
                let quiet_after = |end: i64| {
                    let c = since_end(end);
                    now - end >= QUIET_FOR
                        && c.total > 0
                        && c.ratio() < th.error_rate * QUIET_SHARE
                        && surely_below(c.errors, c.total, th.error_rate, RESOLVE_ALPHA)
                };
                let ended = match estimate_end_clear(series, now, f.started) {
                    Some(end) if quiet_after(end) => Some(end),
                    _ => f
                        .quiet_since
                        .filter(|q| now - q >= QUIET_FOR)
                        .map(|_| estimate_end(series, now, f.started))
                        .filter(|end| {
                            let since = since_end(*end);
                            surely_below(since.errors, since.total, th.error_rate, RESOLVE_ALPHA)
                        }),
                };
                if let Some(ended) = ended {
                    let started = f.started;
                    // Windows holding the old incident are no evidence of a new one.
                    self.fresh_from = ended + 1;
                    self.firing = None;
                    self.evidence.reset(now);
                    let evidence = format!(
                        "{} over the last {QUIET_WINDOW}s ({} of {}), under {} for {QUIET_FOR}s",
                        pct(recent.ratio()),
                        recent.errors,
                        recent.total,
                        pct(th.error_rate * QUIET_SHARE)
                    );
                    return Some(Signal {
                        ended: Some(ts(ended)),
                        ..signal(SignalState::Resolved, evidence, started, SeverityHint::Info)
                    });
                }
                if now - f.last_update >= UPDATE_EVERY
                    && let Some((evidence, severity)) = hot
                {
                    f.last_update = now;
                    // More data since the alert: a better onset (a ramp's climb shows better).
                    let from = self.evidence.since();
                    let o = estimate_onset(series, now, th.error_rate, self.fresh_from, from);
                    if o.at <= now - UPDATE_EVERY {
                        f.started = o.at;
                    }
                    let evidence = format!("{evidence}{}", o.note());
                    return Some(signal(SignalState::Updated, evidence, f.started, severity));
                }
                None
            }
        }
    }
}

/// Why the error rate counts as an incident right now, if it does.
/// Windows starting before `fresh_from` are skipped.
fn hot_evidence(
    series: &CountSeries,
    now: i64,
    th: Thresholds,
    fresh_from: i64,
) -> Option<(String, SeverityHint)> {
    let fresh = |w: i64| now - w + 1 >= fresh_from;
    for w in FAST_WINDOWS.into_iter().filter(|w| fresh(*w)) {
        let c = series.window(now, w);
        if c.total >= MIN_REQUESTS
            && c.errors >= MIN_ERRORS
            && surely_above(c.errors, c.total, th.error_rate)
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
        if !fresh(short) {
            continue;
        }
        let (l, s) = (series.window(now, long), series.window(now, short));
        // The short window is live data: a source's history is learnt, never judged.
        let live = series.live_since().is_some_and(|l| now - l + 1 >= short);
        if series.covers(now, long)
            && live
            && s.errors >= MIN_ERRORS
            && l.ratio() > factor * budget
            && s.ratio() > factor * budget
        {
            return Some((
                format!(
                    "burning the error budget at {:.1}× ({} over {}m, {} over {}m; SLO {})",
                    s.ratio() / budget,
                    pct(l.ratio()),
                    long / 60,
                    pct(s.ratio()),
                    short / 60,
                    slo_pct(th.slo)
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

/// The words for a sequential test's verdict.
fn sequential_evidence(v: Verdict, now: i64, th: Thresholds) -> String {
    format!(
        "{} errors over the last {}s ({} of {}): likelier over {} than at {} \
         (log-likelihood ratio {:.1} ≥ {:.1}; threshold {})",
        pct(v.counts.ratio()),
        now - v.since + 1,
        v.counts.errors,
        v.counts.total,
        pct(v.p1),
        pct(v.q),
        v.llr,
        v.h,
        pct(th.error_rate)
    )
}

/// The onset of the current rise above `threshold`, looked for in the data since
/// `fresh_from` (the last resolution's quiet); a step's no earlier than the
/// sequential evidence's start `evidence_from` allows.
fn estimate_onset(
    series: &CountSeries,
    now: i64,
    threshold: f64,
    fresh_from: i64,
    evidence_from: Option<i64>,
) -> Onset {
    let points = onset::history(series, now, fresh_from, Model::Share, |c| {
        (c.errors, c.total)
    });
    onset::rise_after(Model::Share, &points, threshold, evidence_from).unwrap_or(Onset {
        at: now,
        before_data: false,
    })
}

/// The change point back down of an incident that began at `started`, when the
/// data shows one (`None` while it goes on, or when it is not clear).
fn estimate_end_clear(series: &CountSeries, now: i64, started: i64) -> Option<i64> {
    let points = onset::history(series, now, started, Model::Share, |c| (c.errors, c.total));
    onset::fall(Model::Share, &points).map(|e| e.min(now).max(started))
}

/// The last bad second of an incident that began at `started`: the change point back
/// down (the last quiet check's start when none shows).
fn estimate_end(series: &CountSeries, now: i64, started: i64) -> i64 {
    let points = onset::history(series, now, started, Model::Share, |c| (c.errors, c.total));
    onset::fall(Model::Share, &points)
        .unwrap_or(now - QUIET_FOR - QUIET_WINDOW)
        .min(now)
        .max(started)
}

#[cfg(test)]
mod tests {
    use super::super::Counts;
    use super::super::testing::{T0, TH, Traffic};
    use super::*;

    #[test]
    fn the_slo_in_evidence_reads_as_written_never_rounded_to_100() {
        assert_eq!(slo_pct(0.999), "99.9%");
        assert_eq!(slo_pct(0.9995), "99.95%");
        assert_eq!(slo_pct(0.99), "99%");
        assert_eq!(slo_pct(0.995), "99.5%");
    }

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
                    SignalState::Fired if t < fault_at || fired.is_some() => false_alerts += 1,
                    SignalState::Fired if fired.is_none() => {
                        fired = Some(t - fault_at);
                        assert!(
                            (sig.started.timestamp() - T0 - fault_at).abs() <= 5,
                            "start {} vs fault at {}",
                            sig.started.timestamp() - T0,
                            fault_at
                        );
                    }
                    SignalState::Resolved if t >= fault_end && resolved.is_none() => {
                        let ended = sig.ended.map(|e| e.timestamp() - T0);
                        assert!(
                            ended.is_some_and(|e| (e - (fault_end - 1)).abs() <= 10),
                            "ended {ended:?} vs the last bad second {}",
                            fault_end - 1
                        );
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
        let (fired, resolved, false_alerts) = run(
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
        assert_eq!(false_alerts, 0, "5%: no second alert after the fault");
        let (fired, _, _) = run(1200, |t| if t >= 300 { 0.02 } else { 0.001 }, 300, i64::MAX);
        assert!(fired.unwrap() <= 300, "2%: {fired:?}");
    }

    #[test]
    fn an_outage_fires_within_five_seconds() {
        let (fired, resolved, false_alerts) = run(
            600,
            |t| if (300..360).contains(&t) { 1.0 } else { 0.001 },
            300,
            360,
        );
        assert!(fired.unwrap() <= 5, "{fired:?}");
        assert!(resolved.unwrap() <= 60, "{resolved:?}");
        assert_eq!(false_alerts, 0, "no second alert after the outage");
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
                    ..Counts::default()
                },
                0 => Counts {
                    total: 1,
                    errors: 0,
                    ..Counts::default()
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
}
