//! The simulated world: per-second request outcomes and latencies for every
//! route, and single probe requests, drawn from a scenario with a seeded RNG.

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
}

struct RouteState {
    spec: RouteTraffic,
    sigma: f64,
    /// Latencies of the last `READING_SPAN` seconds, one vector per second.
    recent: VecDeque<Vec<f64>>,
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
        let rate = route.spec.rps.get() * fx.traffic_factor * swing;
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
            route.recent.pop_front().unwrap_or_default()
        } else {
            Vec::new()
        };
        latencies.clear();
        let (mut errors, mut client_errors) = (0, 0);
        if fx.outage {
            errors = answered;
            latencies.extend(std::iter::repeat_n(REFUSED_LATENCY, answered as usize));
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
                for _ in 0..answered {
                    latencies.push(d.sample(&mut self.rng) * scale);
                }
            }
        }
        route.recent.push_back(latencies);
        let mut reading = None;
        if t.rem_euclid(READING_SPAN as i64) == 0 {
            self.scratch.clear();
            for v in &route.recent {
                self.scratch.extend_from_slice(v);
            }
            let n = self.scratch.len();
            if n >= READING_MIN {
                let q = self.scenario.detect.latency_quantile.fraction();
                let k = ((n as f64 * q).ceil() as usize).saturating_sub(1);
                reading = Some((
                    *self.scratch.select_nth_unstable_by(k, f64::total_cmp).1,
                    n as u64,
                ));
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
        if rng.random::<f64>() < fx.error_rate
            || rng.random::<f64>() < route.spec.error_rate.fraction()
            || fx.rename.is_some()
        {
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
