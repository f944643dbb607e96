//! Latency regressions: a latency quantile of a route (p95 by default) against
//! its own learned baseline. Below, "p95" stands for whichever quantile is watched.

use super::onset::mean_shift;
use super::{Quantile, make_signal, ts};
use crate::core::signal::{DetectorKind, SeverityHint, Signal, SignalState};
use std::collections::VecDeque;

/// The latency detector of one route: fires when the median of the p95
/// readings of the last 60 s (at least 6 of them, each over at least 20
/// requests) reaches `factor` × the baseline — the median of the per-minute
/// p95s over the last hour (at least 10 minutes of them); resolves once the
/// median of the last 30 s has stayed under 75% of that line for 20 s.
///
/// "Reaches" allows for measurement: a p95 estimated from a few hundred
/// requests wobbles by about ±10%, so a real doubling reads anywhere from 1.8×
/// to 2.2× and a line at exactly 2× would catch it half the time and flap. The
/// detector fires at 85% of the line (1.7× for `latency_factor: 2`), which a
/// doubling crosses within a minute and a week of ±15% minute-to-minute noise
/// never did (`sim-latency-2x.yaml`, `sim-noise-week.yaml`, 40 seeds each).
///
/// Until 10 minutes of baseline exist (ic started minutes ago), a cold-start
/// baseline stands in: the median of the readings of the first 30 s of data
/// (at least 3 readings over 10 s), frozen, with a stricter line —
/// `factor + 1` × that baseline (at 85%, as above), reached by the median of the last 15 s — so a
/// ×3 shift a minute after the start alerts without waiting ten minutes.
///
/// A **creep** (a leak, a growing scan: the p95 climbing for hours) moves the
/// hour's baseline with it, so a second, slow line stands beside the first:
/// the median of the last 6 per-minute p95s reaching `1 + (factor − 1) / 2`
/// (1.5× for `latency_factor: 2`) × the long reference — the lowest of the
/// hourly medians of per-minute p95s over the 6 hours before the last hour
/// (at least 30 minutes in one of them). With a day of history, it must also
/// be 1.3× the same hour yesterday, so a daily peak is no creep. A creep
/// resolves as a regression does, under the halfway line to its reference.
///
/// The onset is the change point of the mean log reading over the last 5
/// minutes (the first reading after it, less one reading interval) — for a
/// creep, the end of the last minute still within 5% of its reference; the
/// end, on resolution, the last reading before the change point back down.
#[derive(Debug, Clone, Default)]
pub struct LatencyDetector {
    /// (minute, p95s seen in that minute) for the last hour.
    minutes: VecDeque<(i64, Vec<f64>)>,
    /// (second, p95, requests behind it, requests behind every reading kept
    /// through this one) of the last `SUSTAIN_MAX` seconds.
    recent: VecDeque<(i64, f64, u64, u64)>,
    /// The last resolution: a firing decision never reaches back before it.
    resolved_at: Option<i64>,
    under_since: Option<i64>,
    firing_since: Option<i64>,
    /// (minute, baseline) — the baseline only changes when a minute completes.
    cached: Option<(i64, Option<f64>)>,
    /// Reused buffer for medians.
    scratch: Vec<f64>,
    /// (second, p95) of the first `COLD_SPAN` seconds of readings: the cold-start baseline.
    cold: Vec<(i64, f64)>,
    /// (second, p95) of the last `HISTORY` seconds, for onsets and ends.
    history: VecDeque<(i64, f64)>,
    /// (minute, that minute's median p95) for the last [`LONG_MINUTES`]: the
    /// creep's history (regressions included: yesterday is what it was).
    long: VecDeque<(i64, f64)>,
    /// The readings of the minute not yet in `long`.
    this_minute: Option<(i64, Vec<f64>)>,
    /// The long reference a firing creep is judged against.
    creep_reference: Option<f64>,
    /// (minute, long reference) — recomputed once a minute.
    long_cached: Option<(i64, Option<f64>)>,
    /// The quantile over the route's lifetime at the first scrape, when
    /// enough requests stand behind it: the cold-start baseline.
    seeded: Option<f64>,
}

/// Least requests behind a lifetime reading for it to seed the baseline.
const SEED_MIN_REQUESTS: u64 = 200;
/// Seconds of first readings behind a cold-start baseline.
const COLD_SPAN: i64 = 30;
/// Least span and number of readings for a cold-start baseline.
const COLD_MIN_SPAN: i64 = 10;
const COLD_MIN_READINGS: usize = 3;
/// Readings behind the firing decision on a cold start.
const COLD_SUSTAIN: i64 = 15;
/// Seconds of readings kept for change points.
const HISTORY: i64 = 300;
/// Minutes of per-minute medians kept for creeps: a day and the hours before it.
const LONG_MINUTES: i64 = 25 * 60 + 60;
/// Per-minute medians behind a creep's current level.
const CREEP_CURRENT: usize = 6;
/// Hours before the last hour whose medians the long reference is the lowest of.
const CREEP_HOURS: i64 = 6;
/// Least per-minute medians in an hour for its median to count.
const CREEP_MIN_MINUTES: usize = 30;
/// With a day of history, how far over the same hour yesterday a creep must be.
const CREEP_OVER_YESTERDAY: f64 = 1.3;
/// Within this share of its reference, a minute is before the creep (its onset).
const CREEP_ONSET_SHARE: f64 = 1.05;

/// Readings behind the firing decision: a regression must hold for this long.
const LATENCY_SUSTAIN: i64 = 60;
/// Least requests behind a firing decision: at low traffic, a p95 of 25
/// requests is one of its two slowest, and a minute of such readings reached
/// 1.7× on plain noise (`sim-office-hours`, 5 req/s: 5 of 30 seeds). The
/// window then reaches back until its readings hold this many requests.
const FIRE_MIN_REQUESTS: u64 = 1000;
/// How far back the firing decision may reach for them.
const SUSTAIN_MAX: i64 = 300;
/// Readings behind the resolving decision (recovery shows faster).
const RESOLVE_SPAN: i64 = 30;
/// How long the readings must stay under the resolve line.
const LATENCY_QUIET_FOR: i64 = 20;
/// Share of `factor` × baseline that fires (measurement allowance).
const FIRE_SHARE: f64 = 0.85;
/// Share of `factor` × baseline under which a firing alert counts as over.
const RESOLVE_SHARE: f64 = 0.75;
const LATENCY_MIN_MINUTES: usize = 10;
/// Least requests behind one p95 reading.
pub(super) const MIN_REQUESTS: u64 = 20;

impl LatencyDetector {
    /// Whether it is firing.
    pub fn is_firing(&self) -> bool {
        self.firing_since.is_some()
    }

    /// Feeds a reading of `quantile` (seconds, and how many requests it was measured over)
    /// taken at Unix second `at`.
    pub fn observe(
        &mut self,
        target: &str,
        at: i64,
        (p95, requests): (f64, u64),
        quantile: Quantile,
        factor: f64,
    ) -> Option<Signal> {
        if !p95.is_finite() || p95 <= 0.0 || requests < MIN_REQUESTS {
            return None;
        }
        let warm = self.baseline(at);
        let minute = at.div_euclid(60);
        self.record(at, minute, p95, requests);
        let (baseline, line, sustain, min_readings, cold) = match warm {
            Some(b) => (b, FIRE_SHARE * factor * b, self.span_holding(at), 6, false),
            None => {
                let b = self.cold_baseline()?;
                (
                    b,
                    FIRE_SHARE * (factor + 1.0) * b,
                    COLD_SUSTAIN,
                    COLD_MIN_READINGS,
                    true,
                )
            }
        };
        let creep = match (self.firing_since, cold) {
            (None, false) => self.creep(minute, factor),
            _ => None,
        };
        let resolve_line = match self.creep_reference {
            Some(r) => (1.0 + (creep_line(factor) - 1.0) / 2.0) * r,
            None => RESOLVE_SHARE * line / FIRE_SHARE,
        };
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut median_since = |from: i64| {
            scratch.clear();
            scratch.extend(
                self.recent
                    .iter()
                    .rev()
                    .take_while(|(t, ..)| *t > from)
                    .map(|(_, v, ..)| *v),
            );
            let mid = scratch.len() / 2;
            (scratch.len() >= 3).then(|| *scratch.select_nth_unstable_by(mid, f64::total_cmp).1)
        };
        let current = median_since(at - sustain).unwrap_or(p95);
        let recent = median_since(at - RESOLVE_SPAN).unwrap_or(p95);
        self.scratch = scratch;
        let readings = self
            .recent
            .iter()
            .rev()
            .take_while(|(t, ..)| *t > at - sustain)
            .count();
        let over = readings >= min_readings && current >= line;
        let still_over = recent >= resolve_line;
        let describe = |value: f64, span: i64| {
            format!(
                "{} {:.0} ms over the last {span}s is {:.1}× its {}baseline of {:.0} ms",
                quantile.label(),
                value * 1000.0,
                value / baseline,
                match (cold, self.seeded.is_some()) {
                    (true, true) => "lifetime ",
                    (true, false) => "cold-start ",
                    _ => "",
                },
                baseline * 1000.0
            )
        };
        match self.firing_since {
            // A creep still climbing now: the last 30 s are over the line too
            // (the minutes' median lags a fall by minutes).
            None if !over && creep.is_some_and(|(_, r)| recent >= creep_line(factor) * r) => {
                let (level, reference) = creep?;
                Some(self.fire_creep(target, at, level, reference, quantile))
            }
            None if over => {
                let since = self.onset(at);
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
                    describe(current, sustain),
                    since,
                    at,
                ))
            }
            None => None,
            Some(_) if still_over => {
                self.under_since = None;
                None
            }
            Some(since) => {
                let quiet = *self.under_since.get_or_insert(at);
                if at - quiet >= LATENCY_QUIET_FOR {
                    self.firing_since = None;
                    self.creep_reference = None;
                    self.resolved_at = Some(at);
                    let ended = self.end(since, quiet);
                    return Some(Signal {
                        ended: Some(ts(ended)),
                        ..make_signal(
                            DetectorKind::Latency,
                            target,
                            SignalState::Resolved,
                            SeverityHint::Info,
                            describe(recent, RESOLVE_SPAN),
                            since,
                            at,
                        )
                    });
                }
                None
            }
        }
    }

    /// Learns a reading of a source's history taken in Unix minute `minute`,
    /// judging nothing: the baselines (the hour's, the long reference) have it
    /// at once.
    pub fn learn(&mut self, minute: i64, p95: f64) {
        if p95.is_finite() && p95 > 0.0 {
            self.learnt(minute, p95);
        }
    }

    /// A reading into the baselines: the long history, and the hour's minutes
    /// (not while firing: the regression stays out of the baseline).
    fn learnt(&mut self, minute: i64, p95: f64) {
        self.remember(minute, p95);
        if self.firing_since.is_none() {
            match self.minutes.back_mut() {
                Some((m, v)) if *m == minute => v.push(p95),
                _ => self.minutes.push_back((minute, vec![p95])),
            }
            while self.minutes.front().is_some_and(|(m, _)| *m <= minute - 60) {
                self.minutes.pop_front();
            }
        }
    }

    /// Keeps a reading: the cold-start span, the change-point history, the
    /// long history, the hour's minutes (not while firing: the regression
    /// stays out of the baseline) and the last minute's readings.
    fn record(&mut self, at: i64, minute: i64, p95: f64, requests: u64) {
        if self.cold.first().is_none_or(|(t, _)| at - t <= COLD_SPAN) {
            self.cold.push((at, p95));
        }
        self.history.push_back((at, p95));
        while self
            .history
            .front()
            .is_some_and(|(t, _)| *t <= at - HISTORY)
        {
            self.history.pop_front();
        }
        self.learnt(minute, p95);
        let behind = self.recent.back().map_or(0, |r| r.3);
        self.recent
            .push_back((at, p95, requests, behind.saturating_add(requests)));
        while self
            .recent
            .front()
            .is_some_and(|(t, ..)| *t <= at - SUSTAIN_MAX)
        {
            self.recent.pop_front();
        }
    }

    /// The span of readings behind a firing decision at `at`: the last
    /// [`LATENCY_SUSTAIN`] seconds, or as far back as it takes (at most
    /// [`SUSTAIN_MAX`]) for them to hold [`FIRE_MIN_REQUESTS`] requests; never
    /// reaching back before the last resolution.
    fn span_holding(&self, at: i64) -> i64 {
        let r = &self.recent;
        let span = match r.back() {
            None => LATENCY_SUSTAIN,
            Some(&(.., all)) => {
                // Requests behind the readings from index `i` on (fewer as `i` grows).
                let from = |i: usize| all - (r[i].3 - r[i].2);
                let in_sustain = r.partition_point(|(t, ..)| *t <= at - LATENCY_SUSTAIN);
                if in_sustain >= r.len() || from(in_sustain) >= FIRE_MIN_REQUESTS {
                    LATENCY_SUSTAIN
                } else {
                    // The newest reading whose span to now holds enough, else the oldest.
                    let enough =
                        r.partition_point(|&(.., n, cum)| all - (cum - n) >= FIRE_MIN_REQUESTS);
                    let t = r[enough.saturating_sub(1)].0;
                    (at - t + 1).max(LATENCY_SUSTAIN)
                }
            }
        };
        // Never back before the last resolution: those readings were judged.
        self.resolved_at.map_or(span, |done| span.min(at - done))
    }

    /// Fires on a creep to `level` over `reference`.
    fn fire_creep(
        &mut self,
        target: &str,
        at: i64,
        level: f64,
        reference: f64,
        quantile: Quantile,
    ) -> Signal {
        let since = self.creep_onset(reference, at);
        self.firing_since = Some(since);
        self.under_since = None;
        self.creep_reference = Some(reference);
        make_signal(
            DetectorKind::Latency,
            target,
            SignalState::Fired,
            SeverityHint::Warning,
            format!(
                "{} crept to {:.0} ms (median of the last {CREEP_CURRENT} minutes), {:.2}× its long reference of {:.0} ms (the lowest hourly median of the {CREEP_HOURS} hours before the last)",
                quantile.label(),
                level * 1000.0,
                level / reference,
                reference * 1000.0
            ),
            since,
            at,
        )
    }

    /// Adds a reading to the long history (a minute's median once it is complete).
    fn remember(&mut self, minute: i64, p95: f64) {
        match &mut self.this_minute {
            Some((m, v)) if *m == minute => v.push(p95),
            _ => {
                if let Some((m, mut v)) = self.this_minute.take() {
                    let mid = v.len() / 2;
                    if !v.is_empty() {
                        let median = *v.select_nth_unstable_by(mid, f64::total_cmp).1;
                        self.long.push_back((m, median));
                    }
                }
                while self
                    .long
                    .front()
                    .is_some_and(|(m, _)| *m <= minute - LONG_MINUTES)
                {
                    self.long.pop_front();
                }
                self.this_minute = Some((minute, vec![p95]));
            }
        }
    }

    /// A creep now: (the median of the last [`CREEP_CURRENT`] minute medians,
    /// the long reference) when the first reaches [`creep_line`] × the second
    /// (and, with a day of history, [`CREEP_OVER_YESTERDAY`] × the same hour
    /// yesterday).
    fn creep(&mut self, minute: i64, factor: f64) -> Option<(f64, f64)> {
        let reference = self.long_reference(minute)?;
        let mut last: Vec<f64> = self
            .long
            .iter()
            .rev()
            .take_while(|(m, _)| *m >= minute - 2 * CREEP_CURRENT as i64)
            .take(CREEP_CURRENT)
            .map(|(_, v)| *v)
            .collect();
        if last.len() < CREEP_CURRENT {
            return None;
        }
        let mid = last.len() / 2;
        let level = *last.select_nth_unstable_by(mid, f64::total_cmp).1;
        if level < creep_line(factor) * reference {
            return None;
        }
        let yesterday = self.hour_median(minute - 24 * 60 - 30, minute - 24 * 60 + 30);
        if yesterday.is_some_and(|y| level < CREEP_OVER_YESTERDAY * y) {
            return None;
        }
        Some((level, reference))
    }

    /// The lowest hourly median over the [`CREEP_HOURS`] hours before the last hour.
    fn long_reference(&mut self, minute: i64) -> Option<f64> {
        if let Some((m, r)) = self.long_cached
            && m == minute
        {
            return r;
        }
        let r = (1..=CREEP_HOURS)
            .filter_map(|k| self.hour_median(minute - 60 * (k + 1), minute - 60 * k))
            .min_by(f64::total_cmp);
        self.long_cached = Some((minute, r));
        r
    }

    /// The median of the minute medians in [`from`, `to`), with at least
    /// [`CREEP_MIN_MINUTES`] of them.
    fn hour_median(&self, from: i64, to: i64) -> Option<f64> {
        let mut v: Vec<f64> = self
            .long
            .iter()
            .filter(|(m, _)| *m >= from && *m < to)
            .map(|(_, v)| *v)
            .collect();
        if v.len() < CREEP_MIN_MINUTES {
            return None;
        }
        let mid = v.len() / 2;
        Some(*v.select_nth_unstable_by(mid, f64::total_cmp).1)
    }

    /// A creep's onset: the end of the last minute still within
    /// [`CREEP_ONSET_SHARE`] of the reference (the first minute when none is).
    fn creep_onset(&self, reference: f64, at: i64) -> i64 {
        self.long
            .iter()
            .rev()
            .find(|(_, v)| *v <= CREEP_ONSET_SHARE * reference)
            .or(self.long.front())
            .map_or(at, |(m, _)| (m + 1) * 60)
    }

    /// Seeds the cold-start baseline with the quantile over the route's
    /// lifetime (the first scrape's cumulative histogram), when at least
    /// [`SEED_MIN_REQUESTS`] requests stand behind it: `ic` started during a
    /// regression then judges it against the route's past, not against the
    /// regression's first 30 s.
    pub fn seed(&mut self, value: f64, requests: u64) {
        if value.is_finite() && value > 0.0 && requests >= SEED_MIN_REQUESTS {
            self.seeded = Some(value);
        }
    }

    /// The frozen cold-start baseline: the lifetime seed, else the median of
    /// the first 30 s of readings.
    fn cold_baseline(&self) -> Option<f64> {
        if self.seeded.is_some() {
            return self.seeded;
        }
        let (first, last) = (self.cold.first()?.0, self.cold.last()?.0);
        if self.cold.len() < COLD_MIN_READINGS || last - first < COLD_MIN_SPAN {
            return None;
        }
        let mut v: Vec<f64> = self.cold.iter().map(|(_, v)| *v).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    }

    /// The onset of the shift: the change point of the mean log reading over the
    /// history, just after the last reading before it (the first reading when the data
    /// starts inside the shift).
    fn onset(&self, at: i64) -> i64 {
        let logs: Vec<f64> = self.history.iter().map(|(_, v)| v.ln()).collect();
        match mean_shift(&logs, true) {
            Some(i) if i > 0 => self.history.get(i - 1).map_or(at, |(t, _)| t + 1),
            _ => self.history.front().map_or(at, |(t, _)| *t),
        }
    }

    /// The last second of a shift that began at `since`: the last reading before the
    /// change point back down (`quiet`, the first reading under the line, when none shows).
    fn end(&self, since: i64, quiet: i64) -> i64 {
        let part: Vec<(i64, f64)> = self
            .history
            .iter()
            .filter(|(t, _)| *t >= since)
            .copied()
            .collect();
        let logs: Vec<f64> = part.iter().map(|(_, v)| v.ln()).collect();
        match mean_shift(&logs, false) {
            Some(i) if i > 0 => part[i - 1].0,
            _ => quiet,
        }
    }

    /// Median of the per-minute p95s (each minute's median reading) before `at`'s minute.
    fn baseline(&mut self, at: i64) -> Option<f64> {
        let minute = at.div_euclid(60);
        if let Some((m, b)) = self.cached
            && m == minute
        {
            return b;
        }
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
        let b = (per_minute.len() >= LATENCY_MIN_MINUTES).then(|| {
            per_minute.sort_by(f64::total_cmp);
            per_minute[per_minute.len() / 2]
        });
        self.cached = Some((minute, b));
        b
    }
}

/// The creep line: halfway to the regression line (1.5× for `latency_factor: 2`).
fn creep_line(factor: f64) -> f64 {
    1.0 + (factor - 1.0) / 2.0
}

#[cfg(test)]
mod tests {
    use super::super::testing::{T0, Traffic};
    use super::*;

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
            if let Some(sig) = d.observe("r", T0 + t, (p95, 100), Quantile::P95, 2.0) {
                match sig.state {
                    SignalState::Fired => {
                        assert!(t >= 3600, "false alert at {t}");
                        fired.get_or_insert(t - 3600);
                    }
                    SignalState::Resolved => {
                        resolved.get_or_insert(t - 4200);
                    }
                    SignalState::Updated | SignalState::Blip | SignalState::Flapping => {}
                }
            }
        }
        assert!(fired.unwrap() <= 60, "{fired:?}");
        assert!(resolved.unwrap() <= 60, "{resolved:?}");
    }

    #[test]
    fn at_low_traffic_a_regression_fires_once_and_its_end_does_not_fire_it_again() {
        // Readings every 5 s over 25 requests (5 req/s): 100 ms for an hour, then
        // 300 ms for 5 minutes, then 100 ms. The firing window reaches back to
        // hold 1000 requests, but never before the resolution.
        let mut d = LatencyDetector::default();
        let mut traffic = Traffic { seed: 9 };
        let (mut fired, mut resolved) = (Vec::new(), Vec::new());
        for i in 0..(3600 + 900) / 5 {
            let t = i * 5;
            let p95 = if (3600..3900).contains(&t) { 0.3 } else { 0.1 };
            let noise = 0.9 + 0.2 * traffic.uniform();
            if let Some(s) = d.observe("api", T0 + t, (p95 * noise, 25), Quantile::P95, 2.0) {
                match s.state {
                    SignalState::Fired => fired.push((t, s.evidence)),
                    _ => resolved.push(t),
                }
            }
        }
        assert_eq!(fired.len(), 1, "{fired:?} {resolved:?}");
        assert_eq!(resolved.len(), 1, "{fired:?} {resolved:?}");
        // 1000 requests at 5/s: the decision stands on 40 readings, 196 s.
        let (t, evidence) = &fired[0];
        assert!((3600..3900).contains(t), "{fired:?}");
        assert!(evidence.contains("over the last 196s"), "{evidence}");
    }

    #[test]
    fn a_cold_start_fires_on_a_fourfold_shift_within_a_minute() {
        // ~90 ms from the first reading; from 20 s on ×4 over a 60 s ramp; readings every 2 s.
        let mut d = LatencyDetector::default();
        let mut traffic = Traffic { seed: 9 };
        let mut fired = None;
        for i in 0..150 {
            let t = i * 2;
            let ramp = 1.0 + 3.0 * ((t - 20) as f64 / 60.0).clamp(0.0, 1.0);
            let p95 = 0.09 * ramp * (0.85 + 0.3 * traffic.uniform());
            if let Some(sig) = d.observe("r", T0 + t, (p95, 24), Quantile::P95, 2.0) {
                assert_eq!(sig.state, SignalState::Fired, "{sig:?}");
                assert!(fired.is_none());
                fired = Some((t, sig.started.timestamp() - T0));
            }
        }
        let (at, onset) = fired.unwrap();
        assert!(at <= 80, "fired at {at}");
        assert!((15..=50).contains(&onset), "onset {onset}");
        // A steady route never fires on its cold-start baseline.
        let mut d = LatencyDetector::default();
        for i in 0..300 {
            let p95 = 0.05 * (0.85 + 0.3 * traffic.uniform());
            assert!(
                d.observe("r", T0 + i * 2, (p95, 30), Quantile::P95, 2.0)
                    .is_none()
            );
        }
    }

    #[test]
    fn latency_needs_readings_and_enough_requests() {
        let mut d = LatencyDetector::default();
        for i in 0..2 {
            assert!(
                d.observe("r", T0 + i * 5, (5.0, 100), Quantile::P95, 2.0)
                    .is_none(),
                "no baseline yet"
            );
        }
        let mut d = LatencyDetector::default();
        for i in 0..720 {
            d.observe("r", T0 + i * 5, (0.05, 100), Quantile::P95, 2.0);
        }
        for i in 720..800 {
            assert!(
                d.observe("r", T0 + i * 5, (0.5, 3), Quantile::P95, 2.0)
                    .is_none(),
                "3 requests are not evidence"
            );
        }
    }

    /// Readings every 5 s of `p95(t)` (seconds since the start) with ±10%
    /// noise, for `secs`: (when it fired, when it resolved), seconds from the start.
    fn run(secs: i64, p95: impl Fn(i64) -> f64) -> (Option<i64>, Option<i64>, usize) {
        let mut d = LatencyDetector::default();
        let mut traffic = Traffic { seed: 11 };
        let (mut fired, mut resolved, mut fires) = (None, None, 0);
        for i in 0..secs / 5 {
            let t = i * 5;
            let noise = 0.9 + 0.2 * traffic.uniform();
            if let Some(s) = d.observe("api", T0 + t, (p95(t) * noise, 100), Quantile::P95, 2.0) {
                match s.state {
                    SignalState::Fired => {
                        fires += 1;
                        fired.get_or_insert(t);
                    }
                    SignalState::Resolved => {
                        resolved.get_or_insert(t);
                    }
                    _ => {}
                }
            }
        }
        (fired, resolved, fires)
    }

    #[test]
    fn a_creep_the_hour_baseline_follows_is_caught_before_it_reaches_1_6x() {
        // An hour at 110 ms, then ×1 → ×2 over 2 hours, held 20 minutes, then back.
        let creep = |t: i64| {
            let f = match t {
                ..3600 => 1.0,
                3600..10800 => 1.0 + (t - 3600) as f64 / 7200.0,
                10800..12000 => 2.0,
                _ => 1.0,
            };
            0.110 * f
        };
        let (fired, resolved, fires) = run(13000, creep);
        let fired = fired.unwrap_or(i64::MAX);
        let at_fire = 1.0 + (fired - 3600) as f64 / 7200.0;
        assert!(at_fire < 1.6, "fired at ×{at_fire:.2} ({fired} s)");
        assert!(at_fire > 1.3, "fired too early, at ×{at_fire:.2}");
        assert_eq!(fires, 1);
        let resolved = resolved.unwrap_or(i64::MAX);
        assert!(
            resolved - 12000 <= 60,
            "resolved {} s after the end",
            resolved - 12000
        );
    }

    #[test]
    fn a_daily_peak_is_no_creep_once_a_day_of_history_exists() {
        // Every day 10:00–14:00 runs at ×1.7 (the lunch peak), climbing over an
        // hour: against the lowest hour of the morning it looks like a creep,
        // against the same hour yesterday it does not. Two days; the first day's
        // peak may fire (no yesterday yet), the second's must not.
        let day = 86_400;
        let p95 = |t: i64| {
            let h = (t % day) as f64 / 3600.0;
            let f = if (9.0..10.0).contains(&h) {
                1.0 + 0.7 * (h - 9.0)
            } else if (10.0..14.0).contains(&h) {
                1.7
            } else {
                1.0
            };
            0.1 * f
        };
        let mut d = LatencyDetector::default();
        let mut traffic = Traffic { seed: 5 };
        let mut second_day = 0;
        for i in 0..(2 * day) / 5 {
            let t = i * 5;
            let noise = 0.9 + 0.2 * traffic.uniform();
            if let Some(s) = d.observe("api", T0 + t, (p95(t) * noise, 100), Quantile::P95, 2.0)
                && s.state == SignalState::Fired
                && t >= day + 3600
            {
                second_day += 1;
            }
        }
        assert_eq!(second_day, 0);
    }

    #[test]
    fn a_lifetime_seed_is_the_cold_baseline_when_enough_requests_stand_behind_it() {
        // Started during a ×4 regression: the first readings are the regression.
        let fire = |seed: Option<(f64, u64)>| {
            let mut d = LatencyDetector::default();
            if let Some((v, n)) = seed {
                d.seed(v, n);
            }
            (0..60).find_map(|i| {
                d.observe("api", T0 + i * 5, (0.4, 100), Quantile::P95, 2.0)
                    .filter(|s| s.state == SignalState::Fired)
                    .map(|s| (i * 5, s.evidence))
            })
        };
        let (at, evidence) = fire(Some((0.1, 5000))).unwrap_or_default();
        assert!(at <= 20, "{at}");
        assert!(
            evidence.contains("4.0× its lifetime baseline of 100 ms"),
            "{evidence}"
        );
        assert_eq!(
            fire(None),
            None,
            "against its own first readings it cannot tell"
        );
        assert_eq!(
            fire(Some((0.1, 199))),
            None,
            "too few requests behind the seed"
        );
        assert_eq!(fire(Some((f64::NAN, 5000))), None);
    }
}
