//! Sequential evidence that a share of requests (5xx of all) is above a line:
//! CUSUMs of the binomial log-likelihood ratio, updated once per second, so a
//! low-traffic route or a slow ramp is caught as soon as the data can tell
//! rather than when one fixed window happens to hold enough of it.
//!
//! Each of three tests compares an alternative `p₁` ∈ {1.5, 3, 10} × the line
//! (capped halfway to 100%) with the noise `q`: the larger of 60% of the line and
//! the route's own ratio over the last 6 hours (leaving out the last 15
//! minutes, where an ongoing fault would hide), capped at 90% of the line. A
//! second of `k` errors in `n` requests adds `k·ln(p₁/q) + (n−k)·ln((1−p₁)/(1−q))`;
//! the sum is kept at or above zero, and the test fires when it reaches `h`.
//!
//! - Evidence for "above the line", not "above the baseline": the drift per
//!   request is zero at the logarithmic mean of `q` and `p₁` — 0.98×, 1.49× and
//!   3.3× the line for `q` = 60% of it — so noise up to 60% of the line (a
//!   moderate sub-threshold shift, 0.2% → 0.6% against 1%) drifts down, and
//!   only a ratio over the line climbs (the 1.5× test at about the line).
//! - The decision boundary: under noise at `q` or below, `e^sum` is a
//!   (super)martingale from any start, so by Ville's inequality an excursion
//!   beginning in a given second reaches `h` with probability at most `e^−h`,
//!   and an excursion can only begin in a second with an error: at most
//!   `min(1, λ·p₁)` a second at `λ` requests a second (the chance of an error,
//!   weighted by what one error adds). With `h = ln(3 · ARL₀ · min(1, λ·p₁))`
//!   the three tests together false-alarm at most once per [`ARL0_SECONDS`]
//!   (10⁹ s, 32 years) per route on noise at `q`, whatever the traffic; noise
//!   further under the line is far safer (at 30% of the line, under 10⁻¹³ a
//!   second). `λ` is the larger of the last hour's and the last 5 minutes'
//!   rates (at least one request a minute), refreshed each minute.
//! - The onset candidate is the second after the sum last stood at zero.
//!
//! Counts are read from the series one complete second at a time (the current
//! second is provisional until a later one is evaluated); counts added to a
//! second after it was complete are not counted here (the windows still see them).

use super::{CountSeries, Counts, SECOND_BUCKETS};

/// The false-alarm bound per route, in seconds, on noise at the noise level `q`.
pub(crate) const ARL0_SECONDS: f64 = 1e9;
/// Alternatives, as multiples of the line.
const MULTIPLES: [f64; 3] = [1.5, 3.0, 10.0];
/// The noise level assumed at least, as a share of the line.
const NOISE_FLOOR: f64 = 0.6;
/// The noise level assumed at most, as a share of the line.
const NOISE_CAP: f64 = 0.9;
/// The route's own ratio is read over this long…
const BASELINE_SPAN: i64 = 6 * 3600;
/// …leaving out this much of the most recent data.
const BASELINE_SKIP: i64 = 900;
/// The least traffic rate the boundary assumes (one request a minute).
const MIN_RATE: f64 = 1.0 / 60.0;

/// One CUSUM: per-error and per-success weights, boundary, sum, the last second it
/// stood at zero, and what it has seen since.
#[derive(Debug, Clone, Copy, Default)]
struct Cusum {
    p1: f64,
    per_error: f64,
    per_success: f64,
    h: f64,
    sum: f64,
    zero_at: i64,
    since_zero: Counts,
}

impl Cusum {
    fn step(&self, c: Counts) -> f64 {
        let ok = c.total.saturating_sub(c.errors) as f64;
        (self.sum + c.errors as f64 * self.per_error + ok * self.per_success).max(0.0)
    }
}

/// Evidence that the ratio is over the line, from one of the tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Verdict {
    /// The alternative that reached its boundary.
    pub(crate) p1: f64,
    /// The noise level it was tested against.
    pub(crate) q: f64,
    /// The log-likelihood ratio reached, and the boundary.
    pub(crate) llr: f64,
    pub(crate) h: f64,
    /// The first second of the evidence (the second after the sum last stood at zero).
    pub(crate) since: i64,
    /// Requests and errors since then.
    pub(crate) counts: Counts,
}

/// The sequential tests of one route's error ratio against one line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Evidence {
    tests: [Cusum; 3],
    /// The last second folded in (`None` before the first evaluation).
    done: Option<i64>,
    /// (line, minute) the weights and boundaries were computed for.
    tuned: Option<(f64, i64)>,
    q: f64,
}

impl Evidence {
    /// Folds in the complete seconds up to `now` and tests the provisional second
    /// `now`: the strongest test past its boundary, if any. `None` without a usable
    /// line (at or above 100%).
    pub(crate) fn update(&mut self, series: &CountSeries, now: i64, line: f64) -> Option<Verdict> {
        if !(line > 0.0 && line < 1.0) {
            return None;
        }
        let minute = now.div_euclid(60);
        if self.tuned != Some((line, minute)) {
            self.tune(series, now, line);
            self.tuned = Some((line, minute));
        }
        // The first data: the evidence starts here (a cold start's verdict must
        // not say it gathered since 1970).
        let done = match self.done {
            Some(d) => d,
            None => {
                for t in &mut self.tests {
                    t.zero_at = t.zero_at.max(now - 1);
                }
                *self.done.insert(now - 1)
            }
        };
        for s in (done + 1).max(now - SECOND_BUCKETS + 1)..now {
            let c = series.second(s).unwrap_or_default();
            for t in &mut self.tests {
                t.sum = t.step(c);
                if t.sum <= 0.0 {
                    t.zero_at = s;
                    t.since_zero = Counts::default();
                } else {
                    t.since_zero.add(c);
                }
            }
        }
        self.done = Some(done.max(now - 1));
        let c = series.second(now).unwrap_or_default();
        self.tests
            .iter()
            .filter_map(|t| {
                let llr = t.step(c);
                let mut counts = t.since_zero;
                counts.add(c);
                (llr >= t.h && t.h > 0.0).then_some(Verdict {
                    p1: t.p1,
                    q: self.q,
                    llr,
                    h: t.h,
                    since: t.zero_at + 1,
                    counts,
                })
            })
            .max_by(|a, b| (a.llr / a.h).total_cmp(&(b.llr / b.h)))
    }

    /// The start of the longest evidence now gathering (the earliest second after a
    /// test last stood at zero, among the tests above zero).
    pub(crate) fn since(&self) -> Option<i64> {
        self.tests
            .iter()
            .filter(|t| t.sum > 0.0)
            .map(|t| t.zero_at + 1)
            .min()
    }

    /// Starts afresh from `now`: no evidence before it counts.
    pub(crate) fn reset(&mut self, now: i64) {
        for t in &mut self.tests {
            t.sum = 0.0;
            t.zero_at = now;
            t.since_zero = Counts::default();
        }
        self.done = Some(now);
    }

    /// The weights and boundaries for `line` from the route's own ratio and traffic.
    fn tune(&mut self, series: &CountSeries, now: i64, line: f64) {
        let span = series.window(now, BASELINE_SPAN);
        let base = span.minus(series.window(now, BASELINE_SKIP)).ratio();
        let q = base.clamp(NOISE_FLOOR * line, NOISE_CAP * line);
        let rate = |secs: i64| {
            let covered = series.since().map_or(1, |s| (now - s + 1).clamp(1, secs));
            series.window(now, secs).total as f64 / covered as f64
        };
        let lambda = rate(3600).max(rate(300)).max(MIN_RATE);
        self.q = q;
        for (t, m) in self.tests.iter_mut().zip(MULTIPLES) {
            let p1 = (m * line).min((1.0 + line) / 2.0);
            t.p1 = p1;
            t.per_error = (p1 / q).ln();
            t.per_success = ((1.0 - p1) / (1.0 - q)).ln();
            t.h = (MULTIPLES.len() as f64 * ARL0_SECONDS * (lambda * p1).min(1.0)).ln();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{T0, Traffic};
    use super::*;

    /// Feeds `secs` seconds of `rps` requests with error share `p(t)`; the first
    /// second (from 0) a test fires, and its verdict.
    fn first_fire(
        seed: u64,
        rps: u64,
        secs: i64,
        p: impl Fn(i64) -> f64,
    ) -> Option<(i64, Verdict)> {
        let mut traffic = Traffic { seed };
        let mut series = CountSeries::default();
        let mut ev = Evidence::default();
        for t in 0..secs {
            series.add(T0 + t, traffic.second(rps, p(t)));
            if let Some(v) = ev.update(&series, T0 + t, 0.01) {
                return Some((t, v));
            }
        }
        None
    }

    #[test]
    fn the_drift_is_zero_at_or_just_under_the_line_and_the_boundary_is_as_documented() {
        let mut series = CountSeries::default();
        for t in 0..3600 {
            series.add(
                T0 + t,
                Counts {
                    total: 20,
                    ..Counts::default()
                },
            );
        }
        let mut ev = Evidence::default();
        assert_eq!(ev.update(&series, T0 + 3599, 0.01), None);
        assert!((ev.q - 0.006).abs() < 1e-12, "no errors: the floor");
        let zero_drift: Vec<f64> = ev
            .tests
            .iter()
            .map(|t| -t.per_success / (t.per_error - t.per_success))
            .collect();
        assert!((0.0095..0.01).contains(&zero_drift[0]), "{zero_drift:?}");
        assert!(zero_drift.iter().all(|z| *z > 0.0095), "{zero_drift:?}");
        // 20 req/s: h = ln(3 · 10⁹ · min(1, 20·p₁)), 19.5 for the 1.5× test.
        for t in &ev.tests {
            let h = (3e9 * (20.0 * t.p1).min(1.0)).ln();
            assert!((t.h - h).abs() < 1e-9, "{t:?}");
        }
        assert_eq!(Evidence::default().update(&series, T0 + 3599, 1.0), None);
    }

    #[test]
    fn the_noise_level_follows_the_routes_own_ratio_between_the_floor_and_the_cap() {
        for (errors_every, q) in [(125, 0.008), (50, 0.009)] {
            let mut series = CountSeries::default();
            for t in 0..7200 {
                series.add(
                    T0 + t,
                    Counts {
                        total: 1,
                        errors: u64::from(t % errors_every == 0),
                        ..Counts::default()
                    },
                );
            }
            let mut ev = Evidence::default();
            ev.update(&series, T0 + 7199, 0.01);
            assert!((ev.q - q).abs() < 5e-4, "{}", ev.q);
        }
    }

    #[test]
    fn a_3_percent_step_at_2_requests_a_second_is_seen_within_minutes() {
        // The classic `5m > 1% for: 5m` rule needs 337–442 s here (seeds 1–5).
        let mut delays = Vec::new();
        for seed in 1..=10 {
            let (t, v) =
                first_fire(seed, 2, 3000, |t| if t >= 600 { 0.031 } else { 0.001 }).expect("fires");
            assert!(t >= 600, "seed {seed}: before the step at {t}");
            assert!(
                v.since >= T0 + 400,
                "seed {seed}: evidence from {}",
                v.since
            );
            assert!(v.counts.errors >= 6, "seed {seed}: {v:?}");
            delays.push(t - 600);
        }
        delays.sort_unstable();
        assert!(delays[5] <= 400, "median {delays:?}");
        assert!(delays[9] <= 900, "{delays:?}");
    }

    #[test]
    fn a_slow_ramp_is_seen_minutes_after_it_crosses_the_line() {
        // 0 → 4% over 30 minutes at 20 req/s crosses 1% at 450 s.
        for seed in 1..=10 {
            let (t, _) = first_fire(seed, 20, 1800, |t| 0.04 * t as f64 / 1800.0).expect("fires");
            assert!((450..=450 + 420).contains(&t), "seed {seed}: {t}");
        }
    }

    #[test]
    fn big_steps_fire_in_seconds() {
        for seed in 1..=10 {
            let (t, _) =
                first_fire(seed, 20, 400, |t| if t >= 300 { 0.15 } else { 0.001 }).unwrap();
            assert!((300..=310).contains(&t), "15%, seed {seed}: {t}");
            let (t, _) =
                first_fire(seed, 20, 500, |t| if t >= 300 { 0.05 } else { 0.001 }).unwrap();
            assert!((300..=345).contains(&t), "5%, seed {seed}: {t}");
        }
    }

    #[test]
    fn noise_and_sub_threshold_shifts_stay_silent() {
        // 0.3% at 0.5 to 200 req/s, a day each; a shift from 0.2% to 0.6%; 0.5% all day.
        for (rps, p, secs) in [
            (1, 0.003, 86_400),
            (5, 0.003, 86_400),
            (200, 0.003, 21_600),
            (20, 0.005, 86_400),
        ] {
            assert_eq!(
                first_fire(rps, rps, secs, |_| p).map(|f| f.0),
                None,
                "{rps} {p}"
            );
        }
        let shift = first_fire(9, 50, 86_400, |t| if t < 7200 { 0.002 } else { 0.006 });
        assert_eq!(shift.map(|f| f.0), None);
    }

    #[test]
    fn the_false_alarm_bound_holds_where_it_can_be_measured() {
        // At the noise level itself, with a boundary 10⁹ times lower (h = ln 3 + ln λp₁):
        // the bound says at most one alarm per second·min(1, λp₁)·… — count the alarms
        // over a day at 2 req/s and compare with 3·e^(−h)·min(1, λp₁) per second.
        let mut traffic = Traffic { seed: 5 };
        let mut series = CountSeries::default();
        let mut ev = Evidence::default();
        let (mut alarms, mut bound) = (0u32, 0.0);
        for t in 0..86_400 {
            series.add(T0 + t, traffic.second(2, 0.006));
            ev.update(&series, T0 + t, 0.01);
            for c in &mut ev.tests {
                c.h = 4.0;
            }
            if ev.update(&series, T0 + t, 0.01).is_some() {
                alarms += 1;
                ev.reset(T0 + t);
            }
            bound += ev
                .tests
                .iter()
                .map(|c| (-c.h).exp() * (2.0 * c.p1).min(1.0))
                .sum::<f64>();
        }
        assert!(alarms > 0, "a boundary this low must be crossed on noise");
        assert!(f64::from(alarms) <= bound, "{alarms} alarms, bound {bound}");
    }
}
