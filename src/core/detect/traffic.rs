//! Traffic drops: a route's request rate far below its learned baseline, or gone.
//!
//! The baseline is the median per-minute request count over the last hour
//! (at least 10 complete minutes of data), frozen while firing. It fires when,
//! in any of the 10 s / 30 s / 60 s / 5 m windows, a Poisson upper bound
//! (z = 4) on the observed count is still below what `traffic_drop` allows,
//! and that allowance is at least 20 requests — so a quiet route whose normal
//! traffic is a few requests an hour never fires. It resolves after 20 s in
//! which the last 30 s carried at least the allowed share of the baseline.

use super::{CountSeries, UsualRate, make_signal};
use crate::core::signal::{DetectorKind, SeverityHint, Signal, SignalState};

const WINDOWS: [i64; 4] = [10, 30, 60, 300];
const Z: f64 = 4.0;
/// Least number of requests the allowed rate must predict in a window before its count is evidence.
const MIN_EXPECTED: f64 = 20.0;
const QUIET_WINDOW: i64 = 30;
const QUIET_FOR: i64 = 20;
/// How many normal seconds may be bridged when estimating the start.
const START_GAP: i64 = 3;

#[derive(Debug, Clone)]
struct Firing {
    started: i64,
    /// Requests per second before the drop.
    baseline: f64,
    /// The share of it under which the traffic counted as dropped.
    allowed_share: f64,
    back_since: Option<i64>,
}

/// Against a lifetime rate (a cold start: no hour of its own yet), only
/// silence over a window where the lifetime rate expects
/// [`LIFETIME_MIN_EXPECTED`] requests (10 s at 20/s, 60 s at 3.4/s) is a drop;
/// the traffic is back once it carries this share of that rate.
const LIFETIME_SHARE: f64 = 0.1;
/// Requests the lifetime rate must predict in a silent window.
const LIFETIME_MIN_EXPECTED: f64 = 200.0;
/// The evidence's name for a lifetime baseline.
const LIFETIME: &str = "lifetime ";

/// The traffic-drop detector of one target.
#[derive(Debug, Clone, Default)]
pub struct TrafficDropDetector {
    /// The baseline: requests per second over the last hour, and yesterday.
    usual: UsualRate,
    firing: Option<Firing>,
    /// After a resolution, windows reaching back before this second still hold
    /// the old drop; after a stretch without data, they hold no data.
    fresh_from: i64,
    /// Requests per second over the route's counters' lifetime (a cold start's baseline).
    seeded: Option<f64>,
}

/// An upper confidence bound for a Poisson count `k` (square-root approximation).
fn poisson_upper(k: u64, z: f64) -> f64 {
    let r = (k as f64 + 1.0).sqrt() + z / 2.0;
    r * r
}

impl TrafficDropDetector {
    /// Seeds a cold start's baseline with the route's rate over its counters'
    /// lifetime: until an hour of its own exists, traffic under a tenth of it
    /// is a drop (a route that stopped before `ic` started).
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

    /// Evaluates at Unix second `now`; `drop` is the fraction below baseline that counts (0.5).
    pub fn evaluate(
        &mut self,
        target: &str,
        series: &CountSeries,
        now: i64,
        drop: f64,
    ) -> Option<Signal> {
        let signal = |state, severity, evidence, started| {
            make_signal(
                DetectorKind::TrafficDrop,
                target,
                state,
                severity,
                evidence,
                started,
                now,
            )
        };
        if let Some(f) = &mut self.firing {
            let recent = series.window(now, QUIET_WINDOW).total as f64;
            let allowed_share = f.allowed_share;
            if recent >= allowed_share * f.baseline * QUIET_WINDOW as f64 {
                let since = *f.back_since.get_or_insert(now);
                if now - since >= QUIET_FOR {
                    let (started, baseline) = (f.started, f.baseline);
                    self.fresh_from = since - QUIET_WINDOW + 1;
                    self.firing = None;
                    // The last low second: where the rate's rise back begins.
                    let points = super::onset::history(
                        series,
                        now,
                        started,
                        super::onset::Model::Rate,
                        |c| (c.total, 1),
                    );
                    let ended = super::onset::rise(
                        super::onset::Model::Rate,
                        &points,
                        allowed_share * baseline,
                    )
                    .filter(|o| !o.before_data)
                    .map_or(since - QUIET_WINDOW / 2, |o| o.at - 1)
                    .min(now)
                    .max(started);
                    let mut s = signal(
                        SignalState::Resolved,
                        SeverityHint::Info,
                        format!(
                            "{:.1}/s over the last {QUIET_WINDOW}s, back above {:.0}% of the baseline {:.1}/s",
                            recent / QUIET_WINDOW as f64,
                            allowed_share * 100.0,
                            baseline
                        ),
                        started,
                    );
                    s.ended = Some(super::ts(ended));
                    return Some(s);
                }
            } else {
                f.back_since = None;
            }
            return None;
        }
        let usual = self.usual.at(series, now).map(|u| {
            let (b, yesterday) = u.low();
            (b, 1.0 - drop, if yesterday { "yesterday's " } else { "" })
        });
        // The lifetime stands in until the route's own hour exists, and within
        // that first hour it also caps the hour's (which, after a cold start
        // during a retry storm, learnt the storm).
        let lifetime = self
            .seeded
            .filter(|_| !series.covers(now, 3600))
            .map(|b| (b, LIFETIME_SHARE, LIFETIME));
        let (baseline, allowed_share, kind) = match (usual, lifetime) {
            (Some(u), Some(l)) if l.0 * l.1 < u.0 * u.1 => l,
            (Some(u), _) => u,
            (None, l) => l?,
        };
        // A window counts only where the data reaches back over all of it.
        for w in WINDOWS
            .into_iter()
            .filter(|w| now - w + 1 >= self.fresh_from && series.covers(now, *w))
        {
            let allowed = allowed_share * baseline * w as f64;
            let seen = series.window(now, w).total;
            let dropped = if kind == LIFETIME {
                // An average of bursts and quiet hours says little about a
                // quiet minute: only a busy route gone silent is a drop.
                seen == 0 && w <= 60 && baseline * w as f64 >= LIFETIME_MIN_EXPECTED
            } else {
                allowed >= MIN_EXPECTED && poisson_upper(seen, Z) < allowed
            };
            if dropped {
                let started =
                    estimate_start(series, now, allowed_share * baseline, self.fresh_from);
                let before_data = series.live_since() == Some(started);
                let note = if before_data {
                    super::onset::Onset {
                        at: started,
                        before_data: true,
                    }
                    .note()
                } else {
                    ""
                };
                let (severity, evidence) = if seen == 0 {
                    (
                        SeverityHint::Critical,
                        format!("no requests for {w}s ({kind}baseline {baseline:.1}/s){note}"),
                    )
                } else {
                    (
                        SeverityHint::Warning,
                        format!(
                            "{seen} requests over {w}s, {:.0}% of the {kind}baseline {baseline:.1}/s (alert under {:.0}%){note}",
                            seen as f64 / (baseline * w as f64) * 100.0,
                            allowed_share * 100.0
                        ),
                    )
                };
                self.firing = Some(Firing {
                    started,
                    baseline,
                    allowed_share,
                    back_since: None,
                });
                return Some(signal(SignalState::Fired, severity, evidence, started));
            }
        }
        None
    }
}

/// The first second of the current low stretch, bridging up to `START_GAP` normal
/// seconds (at most 5 minutes back, and not before the first data).
fn estimate_start(series: &CountSeries, now: i64, allowed_per_second: f64, fresh_from: i64) -> i64 {
    let (mut start, mut gap, mut s) = (now, 0, now);
    // Not before the first second of data: what came before it is unknown.
    let first = series
        .live_since()
        .unwrap_or(now)
        .max(now - 299)
        .max(fresh_from);
    while s >= first {
        let count = series.second(s).map_or(0, |c| c.total) as f64;
        if count < allowed_per_second {
            start = s;
            gap = 0;
        } else {
            gap += 1;
            if gap > START_GAP {
                break;
            }
        }
        s -= 1;
    }
    start
}

#[cfg(test)]
mod tests {
    use super::super::Counts;
    use super::super::testing::T0;
    use super::*;

    fn feed(
        series: &mut CountSeries,
        det: &mut TrafficDropDetector,
        t: i64,
        n: u64,
    ) -> Option<Signal> {
        series.add(
            T0 + t,
            Counts {
                total: n,
                ..Counts::default()
            },
        );
        det.evaluate("r", series, T0 + t, 0.5)
    }

    #[test]
    fn traffic_to_zero_fires_within_15_seconds_and_resets_when_it_returns() {
        let (mut series, mut det) = (CountSeries::default(), TrafficDropDetector::default());
        let mut fired = None;
        let mut resolved = None;
        for t in 0..3000 {
            let n = if (1800..2400).contains(&t) {
                0
            } else {
                18 + (t % 5) as u64
            };
            if let Some(s) = feed(&mut series, &mut det, t, n) {
                match s.state {
                    SignalState::Fired => {
                        assert!(fired.is_none() && t >= 1800, "fired at {t}");
                        assert_eq!(s.started.timestamp(), T0 + 1800);
                        fired = Some(t - 1800);
                    }
                    SignalState::Resolved => resolved = Some(t - 2400),
                    SignalState::Updated | SignalState::Blip | SignalState::Flapping => {}
                }
            }
        }
        assert!(fired.unwrap() <= 15, "{fired:?}");
        assert!(resolved.unwrap() <= 60, "{resolved:?}");
    }

    #[test]
    fn no_baseline_or_a_quiet_route_never_fires() {
        let (mut series, mut det) = (CountSeries::default(), TrafficDropDetector::default());
        for t in 0..500 {
            let n = if t < 300 { 20 } else { 0 };
            assert!(
                feed(&mut series, &mut det, t, n).is_none(),
                "no baseline yet at {t}"
            );
        }
        // Ten requests an hour: nothing is expected in any window, so silence is not news.
        let (mut series, mut det) = (CountSeries::default(), TrafficDropDetector::default());
        for t in 0..14_400 {
            let n = u64::from(t % 360 == 0 && t < 7200);
            assert!(feed(&mut series, &mut det, t, n).is_none(), "alert at {t}");
        }
    }

    /// Requests in second `t` at about `rate` per second (±10%, deterministic).
    fn about(t: i64, rate: f64) -> u64 {
        (rate * (0.9 + 0.2 * ((t * 7919) % 101) as f64 / 100.0)).round() as u64
    }

    #[test]
    fn an_evening_fall_that_came_yesterday_too_is_no_drop_and_a_stop_at_night_is() {
        // 20/s by day, a fifth of it from hour 10 to 22 (15-minute slopes), two days;
        // on the second night the route stops for 5 minutes at hour 38.
        let rate = |t: i64| {
            let h = (t % 86_400) as f64 / 3600.0;
            let night = ((h - 10.0) * 4.0).clamp(0.0, 1.0) - ((h - 22.0) * 4.0).clamp(0.0, 1.0);
            20.0 * (1.0 - 0.8 * night)
        };
        let (mut series, mut det) = (CountSeries::default(), TrafficDropDetector::default());
        let mut fired = Vec::new();
        for t in 0..2 * 86_400 {
            let n = if (38 * 3600..38 * 3600 + 300).contains(&t) {
                0
            } else {
                about(t, rate(t))
            };
            if let Some(s) = feed(&mut series, &mut det, t, n)
                && s.state == SignalState::Fired
            {
                fired.push((t, s.evidence));
            }
        }
        // The first evening has no yesterday: its fall is a drop. The second's is not.
        assert_eq!(fired.len(), 2, "{fired:?}");
        assert!((10 * 3600..11 * 3600).contains(&fired[0].0), "{fired:?}");
        assert!(
            (38 * 3600..38 * 3600 + 30).contains(&fired[1].0),
            "{fired:?}"
        );
    }

    #[test]
    fn poisson_bound_is_above_the_count() {
        assert_eq!(poisson_upper(0, 4.0), 9.0);
        assert!(poisson_upper(100, 4.0) > 120.0);
    }
}
