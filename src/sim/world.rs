//! The simulated world: per-second request outcomes and latencies for every
//! route, and single probe requests, drawn from a scenario with a seeded RNG.
//!
//! Memory and time per route-second do not depend on the request rate: the
//! outcomes are counts drawn from their distributions (Poisson arrivals,
//! binomial errors), and at most [`LATENCIES_PER_SECOND`] latencies are drawn
//! per route-second — above that, a uniform sample of that many stands for
//! all of the second's answers, each weighing for its share of them.

use crate::core::scenario::{RouteTraffic, Scenario};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Binomial, Distribution, LogNormal, Poisson};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// z of the 95th percentile of a standard normal.
const Z95: f64 = 1.644_853_6;
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

    fn route_second(&mut self, i: usize, t: i64, unix: i64) -> RouteSecond {
        let route = &self.routes[i];
        let fx = match elapsed(t) {
            Some(e) => self.scenario.effects_at(&route.spec.route, e),
            None => crate::core::scenario::RouteEffects::calm(),
        };
        let hour = unix.rem_euclid(86_400) as f64 / 3600.0;
        let swing = 1.0
            + route.spec.daily_swing.fraction()
                * ((hour - 9.0) / 24.0 * std::f64::consts::TAU).sin();
        let rate = (route.spec.rps.get() * fx.traffic_factor * swing).min(MAX_RATE);
        let arrivals = draw_poisson(&mut self.rng, rate);
        let hung = draw_binomial(&mut self.rng, arrivals, fx.hang);
        let answered = arrivals - hung;
        let minute = unix.div_euclid(60);
        let jitter_share = route.spec.latency.jitter.fraction();
        let route = &mut self.routes[i];
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
            if let Ok(d) = LogNormal::new(median.ln(), route.sigma) {
                let scale = fx.latency_factor * route.jitter.1;
                for _ in 0..drawn {
                    latencies.push(d.sample(&mut self.rng) * scale);
                }
            }
        }
        route.recent.push_back((answered, latencies));
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
            total: answered,
            errors,
            client_errors,
            latency: reading,
        }
    }

    /// One probe request to route `i` at second `t`.
    pub fn probe(&mut self, i: usize, t: i64) -> Probe {
        let route = &self.routes[i];
        let fx = match elapsed(t) {
            Some(e) => self.scenario.effects_at(&route.spec.route, e),
            None => crate::core::scenario::RouteEffects::calm(),
        };
        let rng = &mut self.rng;
        if fx.outage {
            return Probe::Failed;
        }
        if rng.random::<f64>() < fx.hang {
            return Probe::Unreachable;
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
            let latency = LogNormal::new(median.ln(), route.sigma)
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
