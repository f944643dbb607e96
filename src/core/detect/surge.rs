//! Traffic surges: a route's request rate at `traffic_surge` × its baseline or
//! more, sustained (a retry storm, a flood, a runaway client).
//!
//! The baseline is the median per-minute request count over the last hour (at
//! least 10 complete minutes), frozen while firing. Before 10 minutes exist (ic
//! started minutes ago) a cold-start baseline stands in: the median rate of the
//! 5-second chunks older than the sustain window (at least 10 s of them), with a
//! stricter line, `traffic_surge + 1` ×. It fires when a Poisson lower bound
//! (z = 4) on the last 20 s is over the line and the last 10 s alone are over it
//! too (sustained, not a burst), and the line predicts at least 20 requests in
//! the window (so a trickle doubling is no surge). It resolves after 20 s in
//! which the last 30 s stayed under the midpoint of baseline and line. Onset and
//! end are change points in the per-second counts (`onset`).

use super::onset::{self, Model, Onset};
use super::{CountSeries, UsualRate, make_signal, ts};
use crate::core::signal::{DetectorKind, SeverityHint, Signal, SignalState};

const SUSTAIN: i64 = 20;
const Z: f64 = 4.0;
const MIN_EXPECTED: f64 = 20.0;
const CHUNK: i64 = 5;
const MIN_COLD_CHUNKS: usize = 2;
const QUIET_WINDOW: i64 = 30;
const QUIET_FOR: i64 = 20;

#[derive(Debug, Clone)]
struct Firing {
    started: i64,
    baseline: f64,
    line: f64,
    quiet_since: Option<i64>,
}

/// The traffic-surge detector of one target.
#[derive(Debug, Clone, Default)]
pub struct TrafficSurgeDetector {
    /// The baseline: requests per second over the last hour, and yesterday.
    usual: UsualRate,
    firing: Option<Firing>,
    /// After a resolution, data before this second still holds the old surge;
    /// after a stretch without data, there is none before it.
    fresh_from: i64,
    /// Requests per second over the route's counters' lifetime (a cold start's baseline).
    seeded: Option<f64>,
}

/// A lower confidence bound for a Poisson count `k` (square-root approximation).
fn poisson_lower(k: u64, z: f64) -> f64 {
    let r = (k as f64).sqrt() - z / 2.0;
    if r > 0.0 { r * r } else { 0.0 }
}

impl TrafficSurgeDetector {
    /// Seeds a cold start's baseline with the route's rate over its counters'
    /// lifetime: until an hour of its own exists, it stands instead of the
    /// first seconds (which, started during a retry storm, are the storm).
    pub fn seed(&mut self, rate: f64) {
        if rate.is_finite() && rate > 0.0 {
            self.seeded = Some(rate);
        }
    }

    /// Data before `second` is missing (counts lost, not zero): no window
    /// reaching back before it is judged.
    pub fn unknown_before(&mut self, second: i64) {
        self.fresh_from = self.fresh_from.max(second);
    }

    /// Whether it is firing.
    pub fn is_firing(&self) -> bool {
        self.firing.is_some()
    }

    /// Evaluates at Unix second `now`; `factor` is the surge multiple (`detect.traffic_surge`).
    pub fn evaluate(
        &mut self,
        target: &str,
        series: &CountSeries,
        now: i64,
        factor: f64,
    ) -> Option<Signal> {
        let signal = |state, severity, evidence, started| {
            make_signal(
                DetectorKind::TrafficSurge,
                target,
                state,
                severity,
                evidence,
                started,
                now,
            )
        };
        if let Some(f) = &mut self.firing {
            let recent = series.window(now, QUIET_WINDOW).total as f64 / QUIET_WINDOW as f64;
            if recent < (f.baseline + f.line) / 2.0 {
                let since = *f.quiet_since.get_or_insert(now);
                if now - since >= QUIET_FOR {
                    let (started, baseline) = (f.started, f.baseline);
                    let points =
                        onset::history(series, now, started, Model::Rate, |c| (c.total, 0));
                    let ended = onset::fall(Model::Rate, &points)
                        .unwrap_or(since - QUIET_WINDOW)
                        .min(now)
                        .max(started);
                    self.fresh_from = ended + 1;
                    self.firing = None;
                    return Some(Signal {
                        ended: Some(ts(ended)),
                        ..signal(
                            SignalState::Resolved,
                            SeverityHint::Info,
                            format!(
                                "{recent:.1}/s over the last {QUIET_WINDOW}s, back near the baseline {baseline:.1}/s"
                            ),
                            started,
                        )
                    });
                }
            } else {
                f.quiet_since = None;
            }
            return None;
        }
        if now - SUSTAIN + 1 < self.fresh_from {
            return None;
        }
        let usual = self.usual.at(series, now).map(|u| {
            let (b, yesterday) = u.high();
            (b, factor * b, if yesterday { "yesterday's " } else { "" })
        });
        // The lifetime stands in until the route's own hour exists, and within
        // that first hour it also floors the hour's (which, after a cold start
        // while the route was down, learnt the outage).
        let lifetime = self
            .seeded
            .filter(|_| !series.covers(now, 3600))
            .map(|b| (b, (factor + 1.0) * b, "lifetime "));
        let (baseline, line, kind) = match (usual, lifetime) {
            (Some(u), Some(l)) if l.1 > u.1 => l,
            (Some(u), _) => u,
            (None, Some(l)) => l,
            (None, None) => {
                let b = cold_baseline(series, now, self.fresh_from)?;
                (b, (factor + 1.0) * b, "cold-start ")
            }
        };
        let expected = line * SUSTAIN as f64;
        let seen = series.window(now, SUSTAIN).total;
        let half = series.window(now, SUSTAIN / 2).total as f64;
        if baseline <= 0.0
            || expected < MIN_EXPECTED
            || poisson_lower(seen, Z) <= expected
            || half < line * (SUSTAIN / 2) as f64
        {
            return None;
        }
        let points = onset::history(series, now, self.fresh_from, Model::Rate, |c| (c.total, 0));
        let o = onset::rise(Model::Rate, &points, line).unwrap_or(Onset {
            at: now - SUSTAIN + 1,
            before_data: false,
        });
        self.firing = Some(Firing {
            started: o.at,
            baseline,
            line,
            quiet_since: None,
        });
        // Over the seconds that have data (fewer than the window on a cold start).
        let span = series
            .live_since()
            .map_or(SUSTAIN, |s| (now - s + 1).clamp(1, SUSTAIN));
        let rate = seen as f64 / span as f64;
        let evidence = format!(
            "{rate:.1}/s over {span}s is {:.1}× the {}baseline {baseline:.1}/s (alert at {:.0}×){}",
            rate / baseline,
            kind,
            line / baseline,
            o.note()
        );
        Some(signal(
            SignalState::Fired,
            SeverityHint::Warning,
            evidence,
            o.at,
        ))
    }
}

/// Requests per second before the sustain window, while the hour-long baseline does not
/// exist yet: the median rate of the 5-second chunks from the first data (or the last
/// resolution) up to the window.
fn cold_baseline(series: &CountSeries, now: i64, fresh_from: i64) -> Option<f64> {
    let first = series.since()?.max(fresh_from).max(now - 299);
    let end = now - SUSTAIN;
    let mut rates: Vec<u64> = (0..)
        .map(|i| first + i * CHUNK)
        .take_while(|s| s + CHUNK - 1 <= end)
        .map(|s| series.window(s + CHUNK - 1, CHUNK).total)
        .collect();
    if rates.len() < MIN_COLD_CHUNKS {
        return None;
    }
    rates.sort_unstable();
    Some(rates[rates.len() / 2] as f64 / CHUNK as f64)
}

#[cfg(test)]
mod tests {
    use super::super::Counts;
    use super::super::testing::{T0, Traffic};
    use super::*;

    /// Feeds `secs` seconds of Poisson-ish traffic at `rate(t)`; returns every (second, state).
    fn run(secs: i64, rate: impl Fn(i64) -> f64) -> Vec<(i64, SignalState, Signal)> {
        let (mut series, mut det) = (CountSeries::default(), TrafficSurgeDetector::default());
        let mut traffic = Traffic { seed: 5 };
        let mut out = Vec::new();
        for t in 0..secs {
            let r = rate(t);
            // Uniform wobble of ±20% around the rate.
            let n = (r * (0.8 + 0.4 * traffic.uniform())).round() as u64;
            series.add(
                T0 + t,
                Counts {
                    total: n,
                    ..Counts::default()
                },
            );
            if let Some(s) = det.evaluate("r", &series, T0 + t, 3.0) {
                out.push((t, s.state, s));
            }
        }
        out
    }

    #[test]
    fn a_storm_after_15_seconds_fires_on_a_cold_start_and_resolves_once() {
        // 6/s, then ×10 over a 30 s ramp from 15 s, for 5 minutes.
        let got = run(600, |t| {
            let x = ((t - 15) as f64 / 30.0).clamp(0.0, 1.0);
            if (15..315).contains(&t) {
                6.0 * (1.0 + 9.0 * x)
            } else {
                6.0
            }
        });
        let states: Vec<SignalState> = got.iter().map(|g| g.1).collect();
        assert_eq!(
            states,
            vec![SignalState::Fired, SignalState::Resolved],
            "{got:?}"
        );
        assert!(got[0].0 <= 45, "{got:?}");
        // A ×4 line on a cold start: the ramp crosses 24/s at 15 + 30·(3/9) = 25 s.
        let onset = got[0].2.started.timestamp() - T0;
        assert!((15..=35).contains(&onset), "onset {onset}");
        let ended = got[1].2.ended.map(|e| e.timestamp() - T0);
        assert!(ended.is_some_and(|e| (e - 314).abs() <= 10), "{ended:?}");
    }

    #[test]
    fn a_nightly_batch_seen_yesterday_is_no_surge_and_a_flood_at_noon_is() {
        // 5/s, ×4 from hour 2 to 2h20m every day; on the second day a ×5 flood at hour 36.
        let got = run(2 * 86_400, |t| {
            let s = t % 86_400;
            let batch = (7200..7200 + 1200).contains(&s);
            let flood = (36 * 3600..36 * 3600 + 600).contains(&t);
            5.0 * if batch { 4.0 } else { 1.0 } * if flood { 5.0 } else { 1.0 }
        });
        let fired: Vec<_> = got
            .iter()
            .filter(|(_, state, _)| *state == SignalState::Fired)
            .collect();
        // The first night's batch is new; the second's was there yesterday.
        assert_eq!(fired.len(), 2, "{fired:?}");
        assert!((7200..7260).contains(&fired[0].0), "{fired:?}");
        assert!(
            (36 * 3600..36 * 3600 + 60).contains(&fired[1].0),
            "{fired:?}"
        );
    }

    #[test]
    fn a_daily_swing_or_a_short_burst_is_no_surge() {
        // ±40% over a day, compressed to six hours: a slow swing.
        let got = run(6 * 3600, |t| {
            20.0 * (1.0 + 0.4 * (t as f64 / 21_600.0 * std::f64::consts::TAU).sin())
        });
        assert!(got.is_empty(), "{got:?}");
        // A 5-second burst at ×10 after an hour.
        let got = run(4000, |t| {
            if (3700..3705).contains(&t) {
                200.0
            } else {
                20.0
            }
        });
        assert!(got.is_empty(), "{got:?}");
        assert_eq!(poisson_lower(4, 4.0), 0.0);
    }
}
