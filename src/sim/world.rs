//! The simulated world: per-second request outcomes and latencies for every
//! route, and single probe requests, drawn from a scenario with a seeded RNG.
//!
//! Memory and time per route-second do not depend on the request rate: the
//! outcomes are counts drawn from their distributions (Poisson arrivals,
//! binomial errors), and at most [`LATENCIES_PER_SECOND`] latencies are drawn
//! per route-second — above that, a uniform sample of that many stands for
//! all of the second's answers, each weighing for its share of them.
//!
//! Each second also carries a latency histogram of its answers (as a service's
//! `http_request_duration_seconds_bucket` would count them), for the anchors'
//! `histogram_quantile` rules: [`BUCKETS`] buckets, bounds growing by √2 from 1 ms.

use crate::core::scenario::{Reach, RouteEffects, RouteTraffic, Scenario};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Binomial, Distribution, LogNormal, Poisson};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// z of the 95th percentile of a standard normal.
const Z95: f64 = 1.644_853_6;
/// z of the 99th percentile of a standard normal.
const Z99: f64 = 2.326_347_9;
/// Latency histogram buckets per route-second: bounds `1 ms × √2^k` for `k < BUCKETS - 1`
/// (1 ms to 32.8 s), and `+Inf`.
pub const BUCKETS: usize = 32;
/// The finite bucket bounds, in seconds: 1 ms × √2^k.
const BOUNDS: [f64; BUCKETS - 1] = {
    let mut b = [0.001; BUCKETS - 1];
    let mut k = 1;
    while k < BUCKETS - 1 {
        b[k] = b[k - 1] * std::f64::consts::SQRT_2;
        k += 1;
    }
    b
};
/// Seconds between latency readings (`ic`'s default scrape interval).
const READING_SPAN: usize = 5;
/// Least requests behind a latency reading.
const READING_MIN: usize = 20;
/// Latency of a request refused by an outage.
const REFUSED_LATENCY: f64 = 0.002;
/// Most latencies drawn for one route in one second (the shipped scenarios stay
/// far below it, so their draws are exactly as before).
pub const LATENCIES_PER_SECOND: u64 = 1_000;
/// Highest request rate simulated for one route (base rate × traffic factor ×
/// daily swing), so that no counter can overflow in a run of two years.
const MAX_RATE: f64 = 1e11;

/// What one route did in one simulated second.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RouteSecond {
    /// Requests answered.
    pub total: u64,
    /// Answered with a 5xx.
    pub errors: u64,
    /// Answered with a 4xx.
    pub client_errors: u64,
    /// Every `READING_SPAN` seconds (as a 5 s scrape would): the watched latency quantile
    /// (`detect.latency_quantile`) in seconds of the answers since the last reading, and
    /// how many there were (when at least 20).
    pub latency: Option<(f64, u64)>,
    /// Answers per latency bucket (see [`bucket_bound`]), not cumulative.
    pub buckets: [u64; BUCKETS],
    /// The exporter's `/metrics` cannot be scraped this second (`scrape.gaps`).
    pub unscrapable: bool,
    /// The exporter restarted this second (`scrape.restarts`): its counters start from
    /// 0, and what it counted since the last scrape is lost.
    pub restarted: bool,
}

/// The upper bound of latency bucket `k`, in seconds (`+Inf` for the last).
pub fn bucket_bound(k: usize) -> f64 {
    BOUNDS.get(k).copied().unwrap_or(f64::INFINITY)
}

/// The bucket a latency of `v` seconds falls in: the first whose bound is at least `v`
/// (`+Inf` past the last; the first for NaN).
fn bucket_of(v: f64) -> usize {
    BOUNDS.partition_point(|b| *b < v)
}

/// What one probe saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// A good answer in time.
    Ok,
    /// No answer (the request hung).
    Unreachable,
    /// An answer that fails the check (status, body or latency).
    Failed,
    /// A 429: the endpoint answers, and sheds load.
    RateLimited,
}

struct RouteState {
    spec: RouteTraffic,
    sigma: f64,
    /// The last `READING_SPAN` seconds: answers, and the latencies drawn for them
    /// (all of them, or a uniform sample of `LATENCIES_PER_SECOND`).
    recent: VecDeque<(u64, Vec<f64>)>,
    /// Latency wobble of the current minute: (minute, factor).
    jitter: (i64, f64),
    /// Hung requests a gateway will answer 504: (second due, how many, their latency), in
    /// order.
    timeouts: VecDeque<(i64, u64, f64)>,
}

/// The world of one simulation run.
pub struct World<'a> {
    scenario: &'a Scenario,
    routes: Vec<RouteState>,
    rng: Xoshiro256PlusPlus,
    /// Requests failed so far by each `fail_requests` fault.
    forced: HashMap<String, u64>,
    scratch: Vec<f64>,
    /// (latency, weight) for a reading over sampled seconds.
    weighted: Vec<(f64, f64)>,
}

impl<'a> World<'a> {
    /// A world for `scenario` over `routes`, seeded with `seed`.
    pub fn new(scenario: &'a Scenario, routes: &[RouteTraffic], seed: u64) -> Self {
        World {
            scenario,
            routes: routes
                .iter()
                .map(|r| RouteState {
                    sigma: (r.latency.p95.get().as_secs_f64()
                        / r.latency.median.get().as_secs_f64())
                    .ln()
                        / Z95,
                    spec: r.clone(),
                    recent: VecDeque::new(),
                    jitter: (i64::MIN, 1.0),
                    timeouts: VecDeque::new(),
                })
                .collect(),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            forced: HashMap::new(),
            scratch: Vec::new(),
            weighted: Vec::new(),
        }
    }

    /// The routes, in order.
    pub fn routes(&self) -> impl Iterator<Item = &RouteTraffic> {
        self.routes.iter().map(|r| &r.spec)
    }

    /// Simulates second `t` (seconds since time 0; negative during the warm-up) on every
    /// route; `unix` is its Unix time (for the daily swing).
    pub fn second(&mut self, t: i64, unix: i64, out: &mut Vec<RouteSecond>) {
        out.clear();
        for i in 0..self.routes.len() {
            let s = self.route_second(i, t, unix);
            out.push(s);
        }
    }

    fn effects(&self, i: usize, t: i64, what: Reach) -> RouteEffects {
        match elapsed(t) {
            Some(e) => self
                .scenario
                .effects_reaching(&self.routes[i].spec.route, e, what),
            None => RouteEffects::calm(),
        }
    }

    fn route_second(&mut self, i: usize, t: i64, unix: i64) -> RouteSecond {
        let fx = self.effects(i, t, Reach::Traffic);
        let route = &self.routes[i];
        let rate = if route.spec.exists_at(t) {
            (route.spec.rps.get() * fx.traffic_factor * swing(&route.spec, unix)).min(MAX_RATE)
        } else {
            0.0
        };
        let arrivals = draw_poisson(&mut self.rng, rate);
        let hung = draw_binomial(&mut self.rng, arrivals, fx.hang);
        let minute = unix.div_euclid(60);
        let jitter_share = route.spec.latency.jitter.fraction();
        let route = &mut self.routes[i];
        if let Some(after) = fx.gateway_timeout_s
            && hung > 0
        {
            route
                .timeouts
                .push_back((t + after as i64, hung, after as f64));
        }
        // Hung requests whose gateway timeout is up are answered now: 504s, as slow as it.
        let mut timed_out: Vec<(u64, f64)> = Vec::new();
        while let Some(&(due, n, latency)) = route.timeouts.front() {
            if due > t {
                break;
            }
            route.timeouts.pop_front();
            timed_out.push((n, latency));
        }
        let answered = arrivals - hung;
        if route.jitter.0 != minute {
            let j = if jitter_share > 0.0 {
                1.0 + jitter_share * (2.0 * self.rng.random::<f64>() - 1.0)
            } else {
                1.0
            };
            route.jitter = (minute, j);
        }
        let mut latencies = if route.recent.len() >= READING_SPAN {
            route.recent.pop_front().unwrap_or_default().1
        } else {
            Vec::new()
        };
        latencies.clear();
        let drawn = answered.min(LATENCIES_PER_SECOND);
        let (mut errors, mut client_errors) = (0, 0);
        if fx.outage {
            errors = answered;
            latencies.extend(std::iter::repeat_n(REFUSED_LATENCY, drawn as usize));
        } else {
            let mut rest = answered;
            for (name, budget) in &fx.fail_requests {
                let used = self.forced.entry(name.clone()).or_default();
                let take = (*budget - (*used).min(*budget)).min(rest);
                *used += take;
                errors += take;
                rest -= take;
            }
            let injected = draw_binomial(&mut self.rng, rest, fx.error_rate);
            let client_share = if fx.statuses.is_empty() {
                0.0
            } else {
                fx.statuses
                    .iter()
                    .filter(|s| (400..500).contains(*s))
                    .count() as f64
                    / fx.statuses.len() as f64
            };
            let injected_4xx = draw_binomial(&mut self.rng, injected, client_share);
            client_errors += injected_4xx;
            errors += injected - injected_4xx;
            rest -= injected;
            let base_5xx = draw_binomial(&mut self.rng, rest, route.spec.error_rate.fraction());
            rest -= base_5xx;
            errors += base_5xx;
            client_errors +=
                draw_binomial(&mut self.rng, rest, route.spec.client_error_rate.fraction());
            let median = route.spec.latency.median.get().as_secs_f64();
            // A wider tail: p99 × tail_factor, the median where it was.
            let sigma = route.sigma + fx.tail_factor.max(1.0).ln() / Z99;
            if let Ok(d) = LogNormal::new(median.ln(), sigma) {
                let scale = fx.latency_factor * route.jitter.1;
                for _ in 0..drawn {
                    latencies.push(d.sample(&mut self.rng) * scale);
                }
            }
        }
        let mut buckets = [0u64; BUCKETS];
        // Each drawn latency stands for `answered / drawn` answers.
        let mut weights = [0f64; BUCKETS];
        for v in &latencies {
            weights[bucket_of(*v)] += 1.0;
        }
        let weight = if drawn > 0 {
            answered as f64 / drawn as f64
        } else {
            0.0
        };
        for (b, w) in buckets.iter_mut().zip(weights) {
            *b = (w * weight).round() as u64;
        }
        // The gateway's 504s count as answers, in the histogram and (while the second's
        // latencies are all drawn, up to the cap) in the watched quantile.
        let mut total = answered;
        for (n, latency) in timed_out {
            buckets[bucket_of(latency)] += n;
            total += n;
            errors += n;
            let room = LATENCIES_PER_SECOND.saturating_sub(latencies.len() as u64);
            if answered == drawn {
                latencies.extend(std::iter::repeat_n(latency, n.min(room) as usize));
            }
        }
        route.recent.push_back((total, latencies));
        let mut reading = None;
        if t.rem_euclid(READING_SPAN as i64) == 0 {
            let q = self.scenario.detect.latency_quantile.fraction();
            let n: u64 = route.recent.iter().map(|(n, _)| n).sum();
            let sampled = route.recent.iter().any(|(n, v)| *n != v.len() as u64);
            if n >= READING_MIN as u64 && !sampled {
                // Every answer's latency: the exact quantile.
                self.scratch.clear();
                for (_, v) in &route.recent {
                    self.scratch.extend_from_slice(v);
                }
                let k = ((n as f64 * q).ceil() as usize).saturating_sub(1);
                reading = Some((*self.scratch.select_nth_unstable_by(k, f64::total_cmp).1, n));
            } else if n >= READING_MIN as u64 {
                reading =
                    weighted_quantile(&mut self.weighted, &route.recent, n, q).map(|v| (v, n));
            }
        }
        RouteSecond {
            total,
            errors,
            client_errors,
            latency: reading,
            buckets,
            ..RouteSecond::default()
        }
    }

    /// One probe request to route `i` at second `t`.
    pub fn probe(&mut self, i: usize, t: i64) -> Probe {
        let fx = self.effects(i, t, Reach::Probe);
        let route = &self.routes[i];
        let rng = &mut self.rng;
        if fx.outage {
            return Probe::Failed;
        }
        if rng.random::<f64>() < fx.hang {
            // Behind a gateway that times out, the probe gets its 504.
            return if fx.gateway_timeout_s.is_some() {
                Probe::Failed
            } else {
                Probe::Unreachable
            };
        }
        if rng.random::<f64>() < fx.error_rate {
            let pick = rng.random_range(0..fx.statuses.len().max(1));
            return match fx.statuses.get(pick) {
                Some(429) => Probe::RateLimited,
                _ => Probe::Failed,
            };
        }
        if rng.random::<f64>() < route.spec.error_rate.fraction() || fx.rename.is_some() {
            return Probe::Failed;
        }
        if let Some(max) = route.spec.max_latency {
            let median = route.spec.latency.median.get().as_secs_f64();
            let sigma = route.sigma + fx.tail_factor.max(1.0).ln() / Z99;
            let latency = LogNormal::new(median.ln(), sigma)
                .map(|d| d.sample(rng))
                .unwrap_or(median)
                * fx.latency_factor
                * route.jitter.1;
            if latency > max.get().as_secs_f64() {
                return Probe::Failed;
            }
        }
        Probe::Ok
    }
}

/// The `q` quantile of `n` answers known by samples: each second's latencies
/// weigh for `answers / drawn` answers each (the same order statistic as the
/// exact path, `ceil(n q)`-th smallest, when every weight is 1).
fn weighted_quantile(
    buf: &mut Vec<(f64, f64)>,
    seconds: &VecDeque<(u64, Vec<f64>)>,
    n: u64,
    q: f64,
) -> Option<f64> {
    buf.clear();
    for (answers, drawn) in seconds.iter().filter(|(_, v)| !v.is_empty()) {
        let weight = *answers as f64 / drawn.len() as f64;
        buf.extend(drawn.iter().map(|v| (*v, weight)));
    }
    buf.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let rank = (n as f64 * q).ceil().max(1.0);
    let mut seen = 0.0;
    for (v, w) in buf.iter() {
        seen += w;
        if seen >= rank - 1e-9 {
            return Some(*v);
        }
    }
    buf.last().map(|(v, _)| *v)
}

/// The route's traffic multiplier at `unix` from its daily and weekly swings and
/// its `daily:` windows.
fn swing(spec: &RouteTraffic, unix: i64) -> f64 {
    use std::f64::consts::TAU;
    let hour = unix.rem_euclid(86_400) as f64 / 3600.0;
    let daily = 1.0 + spec.daily_swing.fraction() * ((hour - 9.0) / 24.0 * TAU).sin();
    // Days since Sunday 00:00 UTC (1970-01-01 was a Thursday).
    let day = (unix + 4 * 86_400).rem_euclid(7 * 86_400) as f64 / 86_400.0;
    let weekly = 1.0 - spec.weekly_swing.fraction() * ((day - 0.5) / 7.0 * TAU).cos();
    let windows: f64 = spec
        .daily
        .iter()
        .map(|w| w.factor_at(unix.rem_euclid(86_400)))
        .product();
    daily * weekly * windows
}

fn elapsed(t: i64) -> Option<Duration> {
    u64::try_from(t).ok().map(Duration::from_secs)
}

fn draw_poisson(rng: &mut impl Rng, rate: f64) -> u64 {
    if rate.is_nan() || rate <= 0.0 {
        return 0;
    }
    Poisson::new(rate).map_or(0, |d| d.sample(rng) as u64)
}

fn draw_binomial(rng: &mut impl Rng, n: u64, p: f64) -> u64 {
    if n == 0 || p.is_nan() || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    Binomial::new(n, p).map_or(0, |d| d.sample(rng))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(text: &str) -> Scenario {
        Scenario::parse(Path::new("w.yaml"), text).unwrap()
    }

    /// Every latency drawn from `seconds` seconds of route 0, sorted.
    fn latencies(s: &Scenario, from: i64, seconds: i64) -> Vec<f64> {
        let mut w = World::new(s, &s.traffic, 1);
        let mut out = Vec::new();
        let mut all = Vec::new();
        for t in from..from + seconds {
            w.second(t, crate::sim::T0 + t, &mut out);
            if let Some((_, v)) = w.routes[0].recent.back() {
                all.extend_from_slice(v);
            }
        }
        all.sort_by(f64::total_cmp);
        all
    }

    #[test]
    fn buckets_grow_by_root_two_and_hold_their_bound() {
        assert_eq!(bucket_of(0.0005), 0);
        assert_eq!(bucket_of(0.001), 0);
        assert_eq!(bucket_of(0.0011), 1);
        assert_eq!(bucket_of(bucket_bound(10)), 10);
        assert_eq!(bucket_of(bucket_bound(10) * 1.0001), 11);
        assert_eq!(bucket_of(1e6), BUCKETS - 1);
        assert!(bucket_bound(BUCKETS - 1).is_infinite());
    }

    #[test]
    fn a_tail_factor_moves_the_p99_and_leaves_the_median() {
        let s = scenario(
            "traffic: [{route: /a, rps: 200/s, latency: {median: 50ms, p95: 120ms}}]\nfaults: [{name: tail, route: /a, start: 100s, tail_factor: 3}]\n",
        );
        let q = |v: &[f64], q: f64| v[(v.len() as f64 * q) as usize];
        let (calm, tail) = (latencies(&s, 0, 100), latencies(&s, 100, 100));
        let median = q(&tail, 0.5) / q(&calm, 0.5);
        let p99 = q(&tail, 0.99) / q(&calm, 0.99);
        assert!((0.95..1.05).contains(&median), "median ×{median}");
        assert!((2.6..3.4).contains(&p99), "p99 ×{p99}");
    }

    #[test]
    fn hung_requests_behind_a_gateway_surface_as_504s_after_its_timeout() {
        let s = scenario(
            "traffic: [{route: /a, rps: 20/s, error_rate: 0%}]\nfaults: [{name: hang, route: /a, start: 10s, end: 20s, hang: 100%, gateway_timeout: 30s}]\n",
        );
        let mut w = World::new(&s, &s.traffic, 1);
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for t in 0..60 {
            w.second(t, crate::sim::T0 + t, &mut out);
            errors.push((out[0].total, out[0].errors, out[0].buckets[bucket_of(30.0)]));
        }
        // Nothing answered while hung, then every hung request answered 504 after 30 s.
        assert!(errors[10..20].iter().all(|e| e.0 == 0), "{errors:?}");
        assert!(
            errors[40..50].iter().all(|e| e.1 > 0 && e.1 == e.2),
            "{errors:?}"
        );
        assert!(errors[50..].iter().all(|e| e.1 == 0), "{errors:?}");
        assert_eq!(w.probe(0, 15), Probe::Failed, "the probe gets its 504");
    }

    #[test]
    fn a_fault_reaches_traffic_or_the_probe_as_told() {
        let s = scenario(
            "traffic: [{route: /a, rps: 20/s, error_rate: 0%}, {route: /b, rps: 20/s, error_rate: 0%}]\nfaults:\n  - {name: t, route: /a, outage: true, reaches: traffic}\n  - {name: p, route: /b, outage: true, reaches: probe}\n",
        );
        let mut w = World::new(&s, &s.traffic, 1);
        let mut out = Vec::new();
        w.second(5, crate::sim::T0 + 5, &mut out);
        assert_eq!(out[0].errors, out[0].total);
        assert_eq!(out[1].errors, 0);
        assert_eq!(w.probe(0, 5), Probe::Ok);
        assert_eq!(w.probe(1, 5), Probe::Failed);
    }

    #[test]
    fn the_weekly_swing_is_lowest_on_sunday_and_highest_midweek() {
        let s = scenario("traffic: [{route: /a, rps: 10/s, weekly_swing: 30%}]\n");
        let spec = &s.traffic[0];
        // 2026-01-04 was a Sunday, 2026-01-01 a Thursday.
        let sunday_noon = crate::sim::T0 + 3 * 86_400 + 12 * 3600;
        let thursday = crate::sim::T0;
        assert!((swing(spec, sunday_noon) - 0.7).abs() < 1e-9);
        assert!((swing(spec, thursday) - 1.3).abs() < 0.01);
    }

    #[test]
    fn a_daily_window_ramps_in_holds_and_ramps_out_even_past_midnight() {
        let s = scenario(
            "traffic: [{route: /a, rps: 10/s, daily: [{from: \"22:00\", until: \"02:00\", factor: 0.2, ramp: 10m}]}]\n",
        );
        let spec = &s.traffic[0];
        let at = |h: i64, m: i64| swing(spec, crate::sim::T0 + h * 3600 + m * 60);
        assert!((at(21, 59) - 1.0).abs() < 1e-9);
        assert!((at(22, 5) - 0.6).abs() < 1e-9, "half way down");
        assert!((at(0, 0) - 0.2).abs() < 1e-9, "past midnight");
        assert!((at(2, 5) - 0.6).abs() < 1e-9, "half way back");
        assert!((at(2, 10) - 1.0).abs() < 1e-9);
        // Bad times are refused where they are written.
        let bad = "traffic: [{route: /a, rps: 10/s, daily: [{from: \"25:00\", until: \"02:00\", factor: 2}]}]\n";
        let e = yaml_serde::from_str::<Scenario>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("HH:MM"), "{e}");
        for (window, says) in [
            (
                "{from: \"02:00\", until: \"02:00\", factor: 2}",
                "same time",
            ),
            (
                "{from: \"02:00\", until: \"02:20\", factor: 2, ramp: 30m}",
                "ramp",
            ),
            (
                "{from: \"02:00\", until: \"01:50\", factor: 2, ramp: 30m}",
                "ramp",
            ),
        ] {
            let bad = format!("traffic: [{{route: /a, rps: 10/s, daily: [{window}]}}]\n");
            let e = yaml_serde::from_str::<Scenario>(&bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{window}: {e}");
        }
    }
}
