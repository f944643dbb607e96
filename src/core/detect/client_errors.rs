//! 4xx surges: a broken client or a changed contract shows as a jump in a
//! route's share of 4xx answers over its own learned baseline.
//!
//! The baseline is the 4xx share of the last hour's complete minutes (at least
//! 10 minutes and 200 requests), frozen while firing. The surge line is the
//! baseline plus the larger of the baseline itself and 5 points (so 2% normal
//! 404s alert over 7%, 30% normal 404s over 60%). It fires when, in any of the
//! 10 s / 30 s / 60 s / 5 m windows, the 4xx count is statistically certain
//! (exact binomial tail under `ALPHA`) to come from a share over that line,
//! with at least 20 requests and 3 4xx answers, and
//! resolves after 20 s in which the last 30 s stayed under the midpoint of
//! baseline and line.

use super::onset::{self, Model};
use super::{CountSeries, make_signal, pct, surely_above};
use crate::core::signal::{DetectorKind, SeverityHint, Signal, SignalState};

const WINDOWS: [i64; 4] = [10, 30, 60, 300];
const MIN_REQUESTS: u64 = 20;
const MIN_4XX: u64 = 3;
const MIN_MINUTES: usize = 10;
const MIN_BASELINE_REQUESTS: u64 = 200;
/// Least rise over the baseline that counts as a surge.
const MIN_RISE: f64 = 0.05;
const QUIET_WINDOW: i64 = 30;
const QUIET_FOR: i64 = 20;

#[derive(Debug, Clone)]
struct Firing {
    started: i64,
    baseline: f64,
    line: f64,
    quiet_since: Option<i64>,
}

/// The 4xx-surge detector of one target.
#[derive(Debug, Clone, Default)]
pub struct ClientErrorDetector {
    cached: Option<(i64, Option<f64>)>,
    firing: Option<Firing>,
    /// After a resolution, windows reaching back before this second still hold the old surge.
    fresh_from: i64,
}

impl ClientErrorDetector {
    /// Whether it is firing.
    pub fn is_firing(&self) -> bool {
        self.firing.is_some()
    }

    /// Evaluates at Unix second `now`.
    pub fn evaluate(&mut self, target: &str, series: &CountSeries, now: i64) -> Option<Signal> {
        let signal = |state, severity, evidence, started| {
            make_signal(
                DetectorKind::ClientErrors,
                target,
                state,
                severity,
                evidence,
                started,
                now,
            )
        };
        if let Some(f) = &mut self.firing {
            let recent = series.window(now, QUIET_WINDOW);
            let share = share(recent.client_errors, recent.total);
            if share < (f.baseline + f.line) / 2.0 {
                let since = *f.quiet_since.get_or_insert(now);
                if now - since >= QUIET_FOR {
                    let (started, baseline) = (f.started, f.baseline);
                    self.fresh_from = since - QUIET_WINDOW + 1;
                    self.firing = None;
                    // The last bad second: the change point back down.
                    let points = onset::history(series, now, started, Model::Share, |c| {
                        (c.client_errors, c.total)
                    });
                    let ended = onset::fall(Model::Share, &points)
                        .unwrap_or(since - QUIET_WINDOW / 2)
                        .min(now)
                        .max(started);
                    let mut s = signal(
                        SignalState::Resolved,
                        SeverityHint::Info,
                        format!(
                            "4xx {} over the last {QUIET_WINDOW}s, back near the baseline {}",
                            pct(share),
                            pct(baseline)
                        ),
                        started,
                    );
                    s.ended = Some(super::ts(ended));
                    return Some(s);
                }
            } else {
                f.quiet_since = None;
            }
            return None;
        }
        let baseline = self.baseline(series, now)?;
        let line = baseline + baseline.max(MIN_RISE);
        for w in WINDOWS
            .into_iter()
            .filter(|w| now - w + 1 >= self.fresh_from)
        {
            let c = series.window(now, w);
            if c.total >= MIN_REQUESTS
                && c.client_errors >= MIN_4XX
                && surely_above(c.client_errors, c.total, line)
            {
                // The onset: the change point of the rise (the window's start without one).
                let fresh = self.fresh_from.max(now - onset::LOOKBACK + 1);
                let points = onset::history(series, now, fresh, Model::Share, |c| {
                    (c.client_errors, c.total)
                });
                let started =
                    onset::rise(Model::Share, &points, line).map_or(now - w + 1, |o| o.at.min(now));
                self.firing = Some(Firing {
                    started,
                    baseline,
                    line,
                    quiet_since: None,
                });
                let evidence = format!(
                    "4xx {} over {w}s ({} of {}; baseline {}, alert over {})",
                    pct(share(c.client_errors, c.total)),
                    c.client_errors,
                    c.total,
                    pct(baseline),
                    pct(line)
                );
                return Some(signal(
                    SignalState::Fired,
                    SeverityHint::Warning,
                    evidence,
                    now - w + 1,
                ));
            }
        }
        None
    }

    /// The 4xx share of the last hour's complete minutes.
    fn baseline(&mut self, series: &CountSeries, now: i64) -> Option<f64> {
        let minute = now.div_euclid(60);
        if let Some((m, b)) = self.cached
            && m == minute
        {
            return b;
        }
        let (mut minutes, mut total, mut client) = (0, 0, 0);
        for (_, c) in series
            .minutes()
            .filter(|(m, _)| *m < minute && *m >= minute - 60)
        {
            minutes += 1;
            total += c.total;
            client += c.client_errors;
        }
        let b = (minutes >= MIN_MINUTES && total >= MIN_BASELINE_REQUESTS)
            .then(|| share(client, total));
        self.cached = Some((minute, b));
        b
    }
}

fn share(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::super::Counts;
    use super::super::testing::{T0, Traffic};
    use super::*;

    /// Runs 20 rps with a 4xx probability `p(t)`; returns every (second, state).
    fn run(secs: i64, p: impl Fn(i64) -> f64) -> Vec<(i64, SignalState)> {
        let (mut series, mut det) = (CountSeries::default(), ClientErrorDetector::default());
        let mut traffic = Traffic { seed: 11 };
        let mut out = Vec::new();
        for t in 0..secs {
            let c = traffic.second(20, p(t));
            series.add(
                T0 + t,
                Counts {
                    total: c.total,
                    errors: 0,
                    client_errors: c.errors,
                },
            );
            if let Some(s) = det.evaluate("r", &series, T0 + t) {
                out.push((t, s.state));
            }
        }
        out
    }

    #[test]
    fn a_surge_over_a_noisy_baseline_fires_fast_and_resets() {
        // 3% normal 4xx; a client breaks at 1800 s and 40% of answers are 400s for 10 minutes.
        let got = run(3000, |t| {
            if (1800..2400).contains(&t) {
                0.40
            } else {
                0.03
            }
        });
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].1, SignalState::Fired);
        assert!((1800..1815).contains(&got[0].0), "{got:?}");
        assert_eq!(got[1].1, SignalState::Resolved);
        assert!((2400..2460).contains(&got[1].0), "{got:?}");
    }

    #[test]
    fn a_steady_high_4xx_share_is_not_a_surge() {
        assert_eq!(run(7200, |_| 0.30), vec![]);
        assert_eq!(run(3000, |t| if t > 1800 { 0.06 } else { 0.03 }), vec![]);
    }
}
