//! Fault scenarios: the YAML model (`assets/scenarios/*.yaml`) and what a
//! scenario does to a route at a given time since its start. Pure: time is an
//! argument, nothing here sleeps or does I/O.
//!
//! One file serves both the demo API (which uses the faults) and `ic simulate`
//! (which also uses the duration, warm-up, per-route traffic, `detect:`
//! settings and the expectations the suite is held to).
//!
//! A scenario is refused (by `ic lint` and `ic simulate` alike) when
//! simulating it would not fit in [`SIM_MEMORY_MB`]: at most
//! [`MAX_SIM_ROUTES`] routes, [`MAX_RPS`] requests a second per route (the
//! simulator's memory does not grow with the rate, its counters must not
//! overflow) and [`MAX_OCCURRENCES`] fault occurrences, repeating no faster
//! than once a second.

use crate::core::detect::Settings;
use crate::core::units::{Factor, HumanDuration, Percent, Ramp, Rate, TimeOfDay};
use crate::core::yaml::{self, YamlError};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// The memory `ic simulate` keeps within, in MB; the limits below follow from it.
pub const SIM_MEMORY_MB: u64 = 256;
/// Most simulated routes: each costs up to about 240 KB once three days are
/// simulated (its detectors' windows, six hours of scrapes for the burn-rate
/// page, two hours and three days (every 5 minutes) for the ticket, five
/// minutes of latency buckets, a day of 5-minute baselines, five seconds of
/// drawn latencies), so 1,000 stay within the bound.
pub const MAX_SIM_ROUTES: usize = 1_000;
/// Highest simulated request rate of one route, per second.
pub const MAX_RPS: f64 = 1e9;
/// Most fault occurrences (a repeating fault counts each time) in one run.
pub const MAX_OCCURRENCES: u64 = 10_000;

/// A named, timed set of faults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Scenario name; defaults to the file name without extension.
    #[serde(default)]
    pub name: String,
    /// What story the scenario tells.
    #[serde(default)]
    pub description: String,
    /// The faults, each timed from the scenario's start.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// Simulation: how long to simulate after the warm-up; default: 10 minutes after the last
    /// fault ends (or starts, if it never ends).
    #[serde(default)]
    pub duration: Option<HumanDuration>,
    /// Simulation: calm traffic simulated before time 0, so detectors have learned a baseline.
    #[serde(default)]
    pub warm_up: HumanDuration,
    /// Simulation: random seed (`--seed` overrides); default 1.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Simulation: an alert this long after a fault ends still belongs to it; default 5m.
    #[serde(default)]
    pub grace: Option<HumanDuration>,
    /// Simulation: how often `ic` probes each route; default 2s (`poll.interval`).
    #[serde(default)]
    pub probe_interval: Option<HumanDuration>,
    /// Simulation: detection settings, the config's `detect:` schema.
    #[serde(default)]
    pub detect: Settings,
    /// Simulation: the routes and their calm behaviour; default: the demo API's routes.
    #[serde(default)]
    pub traffic: Vec<RouteTraffic>,
    /// Simulation: what `ic` must achieve on this file (`ic simulate` exits 1 otherwise).
    #[serde(default)]
    pub expect: Option<Expect>,
    /// Simulation: every strategy, `ic` included, starts at the first fault's start with
    /// empty state (a responder starting the tool during an incident): no warm-up history.
    #[serde(default)]
    pub cold_start: bool,
    /// Simulation: `ic` reads the routes as `ic watch` scrapes an exporter's `/metrics`
    /// (the exposition text, through the same parser and deltas), with the exporter's
    /// unreachable spells and restarts; default: `ic` sees every second's counts.
    #[serde(default)]
    pub scrape: Option<ScrapeModel>,
    /// `ic drill`: what the team should find — the playbook that fits, and
    /// words of the cause the confirmed hypothesis should hold.
    #[serde(default)]
    pub drill: Option<DrillAnswers>,
}

/// A scenario's expected answers for a drill (`drill:`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillAnswers {
    /// The playbook that fits, e.g. `db-pool-exhaustion`.
    #[serde(default)]
    pub playbook: Option<String>,
    /// Words of the cause, e.g. `pool`.
    #[serde(default)]
    pub cause: Option<String>,
}

/// How `ic` scrapes the simulated exporter (`scrape:`), and what goes wrong there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeModel {
    /// Scrape interval (`metrics[].interval`); default 5s.
    #[serde(default = "five_seconds")]
    pub every: HumanDuration,
    /// Spells when `/metrics` cannot be scraped (the API itself answers as usual): the
    /// anchors' Prometheus misses the same scrapes.
    #[serde(default)]
    pub gaps: Vec<Period>,
    /// When the exporter restarts: every counter and histogram starts again from 0, and
    /// what it counted since the last scrape is lost (to the anchors too).
    #[serde(default)]
    pub restarts: Vec<HumanDuration>,
}

fn five_seconds() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}

impl ScrapeModel {
    /// Whether `/metrics` can be scraped at `t` seconds from the start.
    pub fn reachable(&self, t: i64) -> bool {
        !self
            .gaps
            .iter()
            .any(|g| (g.start.get().as_secs() as i64..g.end.get().as_secs() as i64).contains(&t))
    }

    /// Whether the exporter restarts at second `t`.
    pub fn restarts_at(&self, t: i64) -> bool {
        self.restarts.iter().any(|r| r.get().as_secs() as i64 == t)
    }
}

/// One simulated route at baseline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTraffic {
    /// Route template, e.g. `/api/payments`.
    pub route: String,
    /// Request rate, e.g. `20/s` or `10/h`.
    pub rps: Rate,
    /// Share answered with a 500 at baseline.
    #[serde(default)]
    pub error_rate: Percent,
    /// Share answered with a 4xx at baseline.
    #[serde(default)]
    pub client_error_rate: Percent,
    /// Latency distribution (log-normal from median and p95).
    #[serde(default)]
    pub latency: Latency,
    /// Traffic follows the day: ± this share over 24 hours (peak at 15:00 UTC).
    #[serde(default)]
    pub daily_swing: Percent,
    /// Traffic follows the week: ± this share over 7 days (lowest at Sunday noon UTC,
    /// highest at Thursday 00:00).
    #[serde(default)]
    pub weekly_swing: Percent,
    /// Parts of the day when traffic is a multiple of the usual (office hours ending,
    /// a nightly batch), every day.
    #[serde(default)]
    pub daily: Vec<DailyWindow>,
    /// Whether the route is also probed (by `ic` and by the Gatus-style check); default true.
    #[serde(default = "yes")]
    pub probe: bool,
    /// A probe slower than this fails (`expect.max_latency` / Gatus `[RESPONSE_TIME] <`).
    #[serde(default)]
    pub max_latency: Option<HumanDuration>,
    /// The route is new: no requests (and no series, no probes) before this time from the
    /// start, e.g. an endpoint a deploy adds.
    #[serde(default)]
    pub appears: Option<HumanDuration>,
}

impl RouteTraffic {
    /// Whether the route exists at `t` seconds from the start.
    pub fn exists_at(&self, t: i64) -> bool {
        self.appears.is_none_or(|a| t >= a.get().as_secs() as i64)
    }
}

fn yes() -> bool {
    true
}

/// A part of every day when a route's traffic is `factor` × its usual rate: it
/// moves there over `ramp` from `from`, and back over `ramp` from `until`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawDailyWindow")]
pub struct DailyWindow {
    /// UTC time it begins, `18:00`.
    pub from: TimeOfDay,
    /// UTC time it ends; earlier than `from`, it runs past midnight.
    pub until: TimeOfDay,
    /// Traffic multiple inside the window (`0.2`, `4`).
    pub factor: Factor,
    /// How long each change takes; default 10m.
    pub ramp: Option<HumanDuration>,
}

/// A `daily:` window as written, checked into a [`DailyWindow`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDailyWindow {
    from: TimeOfDay,
    until: TimeOfDay,
    factor: Factor,
    #[serde(default)]
    ramp: Option<HumanDuration>,
}

impl TryFrom<RawDailyWindow> for DailyWindow {
    type Error = String;
    fn try_from(r: RawDailyWindow) -> Result<DailyWindow, String> {
        let len = (i64::from(r.until.seconds()) - i64::from(r.from.seconds())).rem_euclid(86_400);
        let ramp = r.ramp.map_or(600, |d| d.get().as_secs() as i64);
        if len == 0 {
            return Err(
                "a daily window's `from` and `until` are the same time: give it a length".into(),
            );
        }
        if ramp > len || ramp > 86_400 - len {
            return Err(format!(
                "a daily window's `ramp` ({}) is longer than the window or the rest of the day: make it shorter",
                crate::core::units::format_duration(Duration::from_secs(ramp.max(0) as u64))
            ));
        }
        Ok(DailyWindow {
            from: r.from,
            until: r.until,
            factor: r.factor,
            ramp: r.ramp,
        })
    }
}

impl DailyWindow {
    /// The traffic multiple at `second_of_day` (0..86 400).
    pub fn factor_at(&self, second_of_day: i64) -> f64 {
        const DAY: i64 = 86_400;
        let ramp = self
            .ramp
            .map_or(600, |r| r.get().as_secs() as i64)
            .clamp(1, DAY / 2);
        let from = i64::from(self.from.seconds());
        let len = (i64::from(self.until.seconds()) - from).rem_euclid(DAY);
        let since = (second_of_day - from).rem_euclid(DAY);
        let weight = if since < len {
            (since as f64 / ramp as f64).min(1.0)
        } else if since - len < ramp {
            let inside = (len as f64 / ramp as f64).min(1.0);
            inside * (1.0 - (since - len) as f64 / ramp as f64)
        } else {
            0.0
        };
        1.0 + (self.factor.get() - 1.0) * weight
    }
}

/// A route's latency at baseline.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Latency {
    /// Median.
    pub median: HumanDuration,
    /// 95th percentile (must be above the median).
    pub p95: HumanDuration,
    /// Minute-to-minute wobble of the whole distribution: each minute is scaled by a
    /// factor drawn from 1 ± jitter.
    pub jitter: Percent,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            median: HumanDuration(Duration::from_millis(50)),
            p95: HumanDuration(Duration::from_millis(120)),
            jitter: Percent::default(),
        }
    }
}

/// What `ic` must achieve on a scenario.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Most false alerts allowed.
    #[serde(default)]
    pub false_alerts: u32,
    /// Most alerts allowed during the warm-up (default 0): e.g. a daily shape the first
    /// day cannot know yet.
    #[serde(default)]
    pub warm_up_alerts: u32,
    /// Every fault occurrence must reset this soon after it ends.
    #[serde(default)]
    pub reset_within: Option<HumanDuration>,
    /// Most alerts `ic` may fire on an incident fault's routes from its first start to its
    /// last end (all occurrences of a repeating fault together) plus the grace period.
    #[serde(default)]
    pub max_pages_per_fault: Option<u32>,
    /// No alert on an incident fault's routes may resolve while the fault lasts (from its
    /// first start to its last end, off periods of a repeating fault included).
    #[serde(default)]
    pub no_resolve_during_fault: bool,
    /// `ic` detects every incident fault occurrence no later than the fastest anchor strategy
    /// that detects it (issue #17's first goal).
    #[serde(default)]
    pub never_slower_than_anchors: bool,
}

/// One period a fault is in force (`periods:`), from the scenario start.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// When it begins.
    pub start: HumanDuration,
    /// When it ends.
    pub end: HumanDuration,
}

/// Which requests a fault reaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reach {
    /// Real traffic and probes alike.
    #[default]
    Both,
    /// Real traffic only (the probe takes a healthy path: another pod, a cached answer).
    Traffic,
    /// Probes only (the probe's own path is broken; customers are fine).
    Probe,
}

impl Reach {
    fn covers(self, what: Reach) -> bool {
        self == Reach::Both || what == Reach::Both || self == what
    }
}

/// A fault that comes back: each occurrence lasts `lasts`, one starts every `every`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// Time from one occurrence's start to the next's.
    pub every: HumanDuration,
    /// How long each occurrence lasts.
    pub lasts: HumanDuration,
}

/// One fault: which route, when, and what it does.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Unique name within the scenario.
    pub name: String,
    /// Route template (`/api/payments`) or `*` for every route.
    #[serde(default)]
    pub route: RouteSelector,
    /// When the fault begins, from the scenario start.
    #[serde(default)]
    pub start: HumanDuration,
    /// How long the fault takes to reach full strength (linear).
    #[serde(default)]
    pub ramp: HumanDuration,
    /// When the fault ends, from the scenario start; default: never.
    #[serde(default)]
    pub end: Option<HumanDuration>,
    /// Share of requests answered with one of `status`.
    #[serde(default)]
    pub error_rate: Option<Ramp<Percent>>,
    /// Statuses injected errors use; default 500.
    #[serde(default = "default_statuses")]
    pub status: Vec<u16>,
    /// `Retry-After` sent with injected 429s.
    #[serde(default)]
    pub retry_after: Option<HumanDuration>,
    /// Latency multiplier.
    #[serde(default)]
    pub latency_factor: Option<Ramp<Factor>>,
    /// Simulation: multiplier of the 99th percentile with the median unchanged (the log-normal
    /// spread widens): a tail-only slowdown.
    #[serde(default)]
    pub tail_factor: Option<Ramp<Factor>>,
    /// Share of requests that never get an answer.
    #[serde(default)]
    pub hang: Option<Ramp<Percent>>,
    /// Simulation: hung requests are answered 504 by a gateway this long after they arrived
    /// (and a hung probe gets a 504); without it they are never answered.
    #[serde(default)]
    pub gateway_timeout: Option<HumanDuration>,
    /// Simulation: which requests the fault reaches: `both` (default), `traffic` or `probe`.
    #[serde(default)]
    pub reaches: Reach,
    /// Response-schema drift: a top-level JSON field renamed.
    #[serde(default)]
    pub rename_field: Option<Rename>,
    /// Traffic multiplier for the traffic generator.
    #[serde(default)]
    pub traffic_factor: Option<Ramp<Factor>>,
    /// Total outage: every request answered 503.
    #[serde(default)]
    pub outage: bool,
    /// The first N requests after `start` fail with a 500 (a one-off blip).
    #[serde(default)]
    pub fail_requests: Option<u64>,
    /// Comes back periodically (spikes, bursts).
    #[serde(default)]
    pub repeat: Option<Repeat>,
    /// In force only in these periods (irregular repeats, flapping); instead of
    /// `start`/`end`/`repeat`.
    #[serde(default)]
    pub periods: Vec<Period>,
    /// Whether a tool should alert on it; `false` marks noise that must stay silent.
    #[serde(default = "yes")]
    pub incident: bool,
    /// Simulation: `ic` must detect each occurrence this soon.
    #[serde(default)]
    pub detect_within: Option<HumanDuration>,
}

fn default_statuses() -> Vec<u16> {
    vec![500]
}

/// A JSON field renamed in responses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    /// The field's usual name.
    pub from: String,
    /// The name it gets during the fault.
    pub to: String,
}

/// Which routes a fault applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RouteSelector {
    /// Every route.
    #[default]
    All,
    /// One route template.
    Route(String),
}

impl RouteSelector {
    /// Whether the selector covers `route`.
    pub fn matches(&self, route: &str) -> bool {
        match self {
            RouteSelector::All => true,
            RouteSelector::Route(r) => r == route,
        }
    }
}

impl<'de> Deserialize<'de> for RouteSelector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RouteSelector;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a route like /api/payments, or *")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RouteSelector, E> {
                match s.trim() {
                    "*" => Ok(RouteSelector::All),
                    r if r.starts_with('/') => Ok(RouteSelector::Route(r.to_string())),
                    r => Err(E::custom(format!(
                        "`{r}` is not a route: write a path like /api/payments, or * for every route"
                    ))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// What the active faults do to one route at one moment ("strongest wins" when several apply).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RouteEffects {
    /// Share of requests answered with an injected error.
    pub error_rate: f64,
    /// Statuses to pick injected errors from.
    pub statuses: Vec<u16>,
    /// Seconds of `Retry-After` on injected 429s.
    pub retry_after_s: Option<u64>,
    /// Latency multiplier.
    pub latency_factor: f64,
    /// Multiplier of the 99th percentile, the median unchanged.
    pub tail_factor: f64,
    /// Share of requests that hang.
    pub hang: f64,
    /// Seconds after which a gateway answers hung requests with a 504.
    pub gateway_timeout_s: Option<u64>,
    /// Field renamed in the JSON body.
    pub rename: Option<Rename>,
    /// Traffic multiplier.
    pub traffic_factor: f64,
    /// Every request answered 503.
    pub outage: bool,
    /// `fail_requests` faults in force: (fault name, how many requests it fails in all).
    pub fail_requests: Vec<(String, u64)>,
    /// Names of the faults in force.
    pub active: Vec<String>,
}

impl RouteEffects {
    /// No fault: the route behaves as at baseline.
    pub fn calm() -> Self {
        RouteEffects {
            latency_factor: 1.0,
            tail_factor: 1.0,
            traffic_factor: 1.0,
            ..RouteEffects::default()
        }
    }

    /// Merges another fault's effects in, keeping the stronger of each.
    pub fn merge(&mut self, name: &str, fault: &Fault, progress: f64) {
        if let Some(r) = &fault.error_rate {
            let rate = r.at(progress, 0.0);
            if rate >= self.error_rate {
                self.error_rate = rate;
                self.statuses = fault.status.clone();
                self.retry_after_s = fault.retry_after.map(|d| d.get().as_secs().max(1));
            }
        }
        if let Some(f) = &fault.latency_factor {
            self.latency_factor = self.latency_factor.max(f.at(progress));
        }
        if let Some(f) = &fault.tail_factor {
            self.tail_factor = self.tail_factor.max(f.at(progress));
        }
        if let Some(h) = &fault.hang {
            let share = h.at(progress, 0.0);
            if share >= self.hang {
                self.hang = share;
                self.gateway_timeout_s = fault.gateway_timeout.map(|d| d.get().as_secs().max(1));
            }
        }
        if let Some(f) = &fault.traffic_factor {
            let v = f.at(progress);
            // A drop (factor < 1) is as strong as a surge: keep the one farthest from 1.
            if v.ln().abs() > self.traffic_factor.ln().abs() {
                self.traffic_factor = v;
            }
        }
        if self.rename.is_none() {
            self.rename = fault.rename_field.clone();
        }
        self.outage |= fault.outage;
        if let Some(n) = fault.fail_requests {
            self.fail_requests.push((name.to_string(), n));
        }
        self.active.push(name.to_string());
    }
}

impl Fault {
    /// How far along the fault is at `elapsed` (0..=1), or `None` when not in force.
    pub fn progress(&self, elapsed: Duration) -> Option<f64> {
        let mut since = if self.periods.is_empty() {
            let start = self.start.get();
            if elapsed < start || self.end.is_some_and(|e| elapsed >= e.get()) {
                return None;
            }
            elapsed - start
        } else {
            let p = self
                .periods
                .iter()
                .find(|p| p.start.get() <= elapsed && elapsed < p.end.get())?;
            elapsed - p.start.get()
        };
        if let Some(r) = self.repeat {
            let every = r.every.get().as_nanos().max(1);
            since = Duration::from_nanos((since.as_nanos() % every) as u64);
            if since >= r.lasts.get() {
                return None;
            }
        }
        let ramp = self.ramp.get();
        if ramp.is_zero() {
            return Some(1.0);
        }
        Some((since.as_secs_f64() / ramp.as_secs_f64()).min(1.0))
    }

    /// Each time the fault is in force before `until`: (start, end), `end` = `None` for
    /// "until the end".
    pub fn occurrences(&self, until: Duration) -> Vec<(Duration, Option<Duration>)> {
        if !self.periods.is_empty() {
            return self
                .periods
                .iter()
                .filter(|p| p.start.get() < until)
                .map(|p| (p.start.get(), Some(p.end.get()).filter(|e| *e < until)))
                .collect();
        }
        let start = self.start.get();
        let end = self.end.map(|e| e.get());
        let Some(r) = self.repeat else {
            return if start < until {
                vec![(start, end.filter(|e| *e < until))]
            } else {
                vec![]
            };
        };
        let mut out = Vec::new();
        let mut s = start;
        while s < until && end.is_none_or(|e| s < e) && !r.every.get().is_zero() {
            let e = (s + r.lasts.get()).min(end.unwrap_or(Duration::MAX));
            out.push((s, (e < until).then_some(e)));
            s += r.every.get();
        }
        out
    }

    fn has_effect(&self) -> bool {
        self.error_rate.is_some()
            || self.latency_factor.is_some()
            || self.tail_factor.is_some()
            || self.hang.is_some()
            || self.rename_field.is_some()
            || self.traffic_factor.is_some()
            || self.outage
            || self.fail_requests.is_some()
    }
}

impl Scenario {
    /// Parses a scenario; `file` names it in errors and supplies the default name.
    pub fn parse(file: &Path, text: &str) -> Result<Scenario, YamlError> {
        let mut s: Scenario = yaml::parse(file, text)?;
        if s.name.trim().is_empty() {
            s.name = file
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into());
        }
        s.check(file, text)?;
        Ok(s)
    }

    /// What the faults do to `route` at `elapsed` since the start.
    pub fn effects_at(&self, route: &str, elapsed: Duration) -> RouteEffects {
        self.effects_reaching(route, elapsed, Reach::Both)
    }

    /// What the faults that reach `what` (real traffic, or probes) do to `route` at `elapsed`.
    pub fn effects_reaching(&self, route: &str, elapsed: Duration, what: Reach) -> RouteEffects {
        let mut fx = RouteEffects::calm();
        let reaching = |f: &&Fault| f.route.matches(route) && f.reaches.covers(what);
        for f in self.faults.iter().filter(reaching) {
            if let Some(p) = f.progress(elapsed) {
                fx.merge(&f.name, f, p);
            }
        }
        fx
    }

    /// Checks each route a fault names against the routes that exist.
    pub fn check_routes(&self, file: &Path, routes: &[&str]) -> Result<(), YamlError> {
        for f in &self.faults {
            if let RouteSelector::Route(r) = &f.route
                && !routes.contains(&r.as_str())
            {
                let hint = match yaml::nearest(r, routes) {
                    Some(n) => format!("did you mean `{n}`? routes: {}", routes.join(", ")),
                    None => format!("routes: {}, or * for all", routes.join(", ")),
                };
                return Err(YamlError::whole_file(
                    file,
                    format!("fault `{}` targets unknown route `{r}`", f.name),
                    Some(hint),
                ));
            }
        }
        Ok(())
    }

    /// Simulated time after the warm-up: `duration`, or 10 minutes after the last fault.
    pub fn duration(&self) -> Duration {
        if let Some(d) = self.duration {
            return d.get();
        }
        let last = self
            .faults
            .iter()
            .map(|f| match f.periods.last() {
                Some(p) => p.end.get(),
                None => f.end.unwrap_or(f.start).get(),
            })
            .max()
            .unwrap_or(Duration::ZERO);
        last + Duration::from_secs(600)
    }

    /// When the first fault begins (where a cold start starts); `None` without faults.
    pub fn first_fault_start(&self) -> Option<Duration> {
        self.faults
            .iter()
            .map(|f| f.periods.first().map_or(f.start.get(), |p| p.start.get()))
            .min()
    }

    /// How long after a fault an alert still belongs to it.
    pub fn grace(&self) -> Duration {
        self.grace.map_or(Duration::from_secs(300), |g| g.get())
    }

    /// How often `ic` probes each simulated route.
    pub fn probe_interval(&self) -> Duration {
        self.probe_interval
            .map_or(Duration::from_secs(2), |p| p.get())
    }

    /// Refuses what the simulator cannot run within [`SIM_MEMORY_MB`] (see the
    /// module docs), each with the position of the offending value in `text`.
    fn check_limits(&self, file: &Path, text: &str) -> Result<(), YamlError> {
        let at = |pos: Option<(usize, usize)>, message: String, hint: String| YamlError {
            file: file.to_path_buf(),
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
            message,
            hint: Some(hint),
        };
        if self.traffic.len() > MAX_SIM_ROUTES {
            return Err(at(
                locate(text, "route:", MAX_SIM_ROUTES).or(locate(text, "traffic:", 0)),
                format!(
                    "traffic: {} routes, more than the {MAX_SIM_ROUTES} `ic simulate` can run within {SIM_MEMORY_MB} MB",
                    self.traffic.len()
                ),
                "simulate the routes that matter (a few like each other behave alike), or split them over several scenarios".into(),
            ));
        }
        for (i, t) in self.traffic.iter().enumerate() {
            if t.rps.get() > MAX_RPS {
                return Err(at(
                    locate(text, "rps:", i),
                    format!(
                        "traffic route `{}`: rps {} is more than {MAX_RPS:e}/s, the most one simulated route takes",
                        t.route, t.rps
                    ),
                    "the outcomes scale with the rate, so a lower one tells the same story, e.g. rps: 1000/s".into(),
                ));
            }
        }
        let until = self.duration();
        let mut total = 0u64;
        for (i, f) in self.faults.iter().enumerate() {
            let pos = || locate_after(text, "name:", &f.name, i);
            let Some(r) = f.repeat else {
                total = total.saturating_add(f.periods.len().max(1) as u64);
                if total > MAX_OCCURRENCES {
                    return Err(at(
                        pos(),
                        format!(
                            "fault `{}`: {total} fault occurrences in the run (each period counts), more than the {MAX_OCCURRENCES} `ic simulate` scores",
                            f.name
                        ),
                        "list fewer periods, or use repeat: {every, lasts}".into(),
                    ));
                }
                continue;
            };
            if r.every.get() < Duration::from_secs(1) {
                return Err(at(
                    pos(),
                    format!(
                        "fault `{}`: repeats every {}: the simulation steps one second at a time",
                        f.name, r.every
                    ),
                    "repeat at most once a second, e.g. repeat: {every: 10m, lasts: 1m}".into(),
                ));
            }
            let start = f.start.get();
            let end = f.end.map_or(until, |e| e.get().min(until));
            let span = end.saturating_sub(start).as_secs_f64();
            total = total.saturating_add((span / r.every.get().as_secs_f64()).ceil() as u64);
            if total > MAX_OCCURRENCES {
                return Err(at(
                    pos(),
                    format!(
                        "fault `{}`: {total} fault occurrences in the run (a repeat counts each time), more than the {MAX_OCCURRENCES} `ic simulate` scores",
                        f.name
                    ),
                    "repeat less often, or simulate a shorter duration".into(),
                ));
            }
        }
        Ok(())
    }

    fn check_simulation(&self, file: &Path, text: &str) -> Result<(), YamlError> {
        let bad =
            |msg: String, hint: &str| Err(YamlError::whole_file(file, msg, Some(hint.to_string())));
        if let Some((message, hint)) = self.detect.problem() {
            return bad(message, hint);
        }
        if self.cold_start && self.faults.is_empty() {
            let pos = locate(text, "cold_start:", 0);
            return Err(YamlError {
                file: file.to_path_buf(),
                line: pos.map(|p| p.0),
                column: pos.map(|p| p.1),
                message: "`cold_start: true` but there is no fault: the strategies start at the first fault".into(),
                hint: Some("add a fault, or drop cold_start".into()),
            });
        }
        if self.duration.is_some_and(|d| d.get().is_zero()) {
            return bad("`duration` is 0s".into(), "e.g. duration: 1h");
        }
        if self
            .probe_interval
            .is_some_and(|p| p.get() < Duration::from_secs(1))
        {
            return bad(
                "`probe_interval` is under 1s: the simulation steps one second at a time".into(),
                "e.g. probe_interval: 2s",
            );
        }
        let mut seen = HashSet::new();
        for t in &self.traffic {
            if !t.route.starts_with('/') {
                return bad(
                    format!("traffic route `{}` is not a path", t.route),
                    "write a route like /api/payments",
                );
            }
            if !seen.insert(t.route.as_str()) {
                return bad(
                    format!("traffic route `{}` is listed twice", t.route),
                    "list each route once",
                );
            }
            if let Some(f) = t.appears.and_then(|a| {
                self.faults
                    .iter()
                    .find(|f| {
                        f.route.matches(&t.route)
                            && f.start.get() < a.get()
                            && matches!(f.route, RouteSelector::Route(_))
                    })
                    .map(|f| (f, a))
            }) {
                return bad(
                    format!(
                        "fault `{}` starts at {} on route `{}`, which appears only at {}",
                        f.0.name, f.0.start, t.route, f.1
                    ),
                    "start the fault after the route appears",
                );
            }
            if let Some(a) = t.appears.filter(|a| a.get().subsec_nanos() != 0) {
                return bad(
                    format!("route `{}` appears at {a}: give whole seconds", t.route),
                    "e.g. appears: 30m",
                );
            }
            if let Some(a) = t.appears.filter(|a| a.get() >= self.duration()) {
                return bad(
                    format!(
                        "route `{}` appears at {a}, after the run ({})",
                        t.route,
                        HumanDuration(self.duration())
                    ),
                    "make it appear within the run, or drop the route",
                );
            }
            let (m, p95) = (t.latency.median.get(), t.latency.p95.get());
            if m.is_zero() || p95 <= m {
                return bad(
                    format!(
                        "route `{}`: latency p95 {} must be above the median {} (and the median above 0)",
                        t.route, t.latency.p95, t.latency.median
                    ),
                    "e.g. latency: {median: 50ms, p95: 120ms}",
                );
            }
        }
        if !self.traffic.is_empty() {
            let routes: Vec<&str> = self.traffic.iter().map(|t| t.route.as_str()).collect();
            self.check_routes(file, &routes)?;
        }
        if let Some(scrape) = &self.scrape {
            self.check_scrape(scrape, file, text)?;
        }
        Ok(())
    }

    /// `scrape:` must fit the run: an interval from 1 s to 5 min, gaps and restarts inside it.
    fn check_scrape(&self, scrape: &ScrapeModel, file: &Path, text: &str) -> Result<(), YamlError> {
        let pos = locate(text, "scrape:", 0);
        let bad = |message: String, hint: &str| {
            Err(YamlError {
                file: file.to_path_buf(),
                line: pos.map(|p| p.0),
                column: pos.map(|p| p.1),
                message,
                hint: Some(hint.to_string()),
            })
        };
        let every = scrape.every.get();
        if every < Duration::from_secs(1) || every > Duration::from_secs(300) {
            return bad(
                format!(
                    "scrape: every {} is outside 1s..5m (the simulation steps one second at a time)",
                    scrape.every
                ),
                "e.g. every: 5s, as `metrics[].interval` defaults to",
            );
        }
        let whole = |d: &HumanDuration| d.get().subsec_nanos() == 0;
        if !whole(&scrape.every)
            || !scrape.gaps.iter().all(|g| whole(&g.start) && whole(&g.end))
            || !scrape.restarts.iter().all(whole)
        {
            return bad(
                "scrape: every, gaps and restarts must be whole seconds (the simulation steps one second at a time)".into(),
                "e.g. every: 5s, gaps: [{start: 10m, end: 11m30s}], restarts: [20m]",
            );
        }
        let until = self.duration();
        for g in &scrape.gaps {
            if g.end.get() <= g.start.get() || g.end.get() > until {
                return bad(
                    format!(
                        "scrape: gap {}..{} must end after it starts, within the run ({})",
                        g.start,
                        g.end,
                        HumanDuration(until)
                    ),
                    "e.g. gaps: [{start: 20m, end: 21m30s}]",
                );
            }
        }
        if let Some(r) = scrape.restarts.iter().find(|r| r.get() >= until) {
            return bad(
                format!(
                    "scrape: restart at {r} is after the run ({})",
                    HumanDuration(until)
                ),
                "list restarts within the run, e.g. restarts: [40m]",
            );
        }
        Ok(())
    }

    fn check(&self, file: &Path, text: &str) -> Result<(), YamlError> {
        self.check_simulation(file, text)?;
        let mut names = HashSet::new();
        for (i, f) in self.faults.iter().enumerate() {
            // At the fault's `name:` (the n-th one, when two share a name).
            let pos = locate_after(text, "name:", &f.name, i);
            let err = |msg: String, hint: &str| {
                Err(YamlError {
                    file: file.to_path_buf(),
                    line: pos.map(|p| p.0),
                    column: pos.map(|p| p.1),
                    message: format!("fault `{}`: {msg}", f.name),
                    hint: Some(hint.to_string()),
                })
            };
            if f.name.trim().is_empty() {
                return Err(YamlError::whole_file(
                    file,
                    "a fault has an empty name",
                    Some("give every fault a short unique name".into()),
                ));
            }
            if !names.insert(f.name.as_str()) {
                return err(
                    "the name is used twice".into(),
                    "fault names must be unique",
                );
            }
            if !f.has_effect() {
                return err(
                    "does nothing".into(),
                    "set at least one of error_rate, latency_factor, tail_factor, hang, rename_field, traffic_factor, outage, fail_requests",
                );
            }
            if let Some(end) = f.end
                && end.get() <= f.start.get() + f.ramp.get()
                && !(f.ramp.get().is_zero() && end.get() > f.start.get())
            {
                return err(
                    format!(
                        "ends at {end}, before it has started and ramped up (start {}, ramp {})",
                        f.start, f.ramp
                    ),
                    "make `end` later than `start` + `ramp`",
                );
            }
            if let Some(r) = f.repeat {
                if r.lasts.get().is_zero() || r.lasts.get() >= r.every.get() {
                    return err(
                        format!(
                            "repeat lasts {} every {}: each occurrence must end before the next starts",
                            r.lasts, r.every
                        ),
                        "e.g. repeat: {every: 10m, lasts: 5m}",
                    );
                }
                if r.lasts.get() <= f.ramp.get() {
                    return err(
                        format!(
                            "repeat lasts {}, no longer than the ramp {}",
                            r.lasts, f.ramp
                        ),
                        "make `lasts` longer than `ramp`",
                    );
                }
            }
            if !f.periods.is_empty() {
                if f.repeat.is_some() || f.end.is_some() || !f.start.get().is_zero() {
                    return err(
                        "`periods` is set together with `start`, `end` or `repeat`".into(),
                        "give the times either as periods: [{start: 5m, end: 5m20s}, …] or as start/end/repeat",
                    );
                }
                let mut last_end = Duration::ZERO;
                for (k, p) in f.periods.iter().enumerate() {
                    let (a, b) = (p.start.get(), p.end.get());
                    if b <= a + f.ramp.get() {
                        return err(
                            format!(
                                "period {} ends at {} before it has started and ramped up (start {}, ramp {})",
                                k + 1,
                                p.end,
                                p.start,
                                f.ramp
                            ),
                            "make each period's end later than its start + ramp",
                        );
                    }
                    if k > 0 && a < last_end {
                        return err(
                            format!(
                                "period {} starts at {}, before the previous one ends",
                                k + 1,
                                p.start
                            ),
                            "list the periods in order, each starting after the previous one ends",
                        );
                    }
                    last_end = b;
                }
            }
            if let Some(t) = f.gateway_timeout {
                if f.hang.is_none() {
                    return err(
                        "`gateway_timeout` is set but there is no `hang`".into(),
                        "add e.g. hang: 20%, or drop gateway_timeout",
                    );
                }
                if t.get() < Duration::from_secs(1) {
                    return err(
                        format!(
                            "`gateway_timeout` {t} is under 1s: the simulation steps one second at a time"
                        ),
                        "e.g. gateway_timeout: 30s",
                    );
                }
            }
            if let Some(t) = &f.tail_factor
                && (t.to.get() < 1.0 || t.from.is_some_and(|v| v.get() < 1.0))
            {
                return err(
                    "`tail_factor` is under 1: it widens the tail, it cannot narrow it".into(),
                    "e.g. tail_factor: 3 (p99 ×3, the median unchanged)",
                );
            }
            if f.fail_requests == Some(0) {
                return err("`fail_requests` is 0".into(), "e.g. fail_requests: 1");
            }
            if f.status.is_empty() {
                return err(
                    "`status` is an empty list".into(),
                    "e.g. status: [500, 503]",
                );
            }
            if let Some(bad) = f.status.iter().find(|s| !(400..=599).contains(*s)) {
                return err(
                    format!("status {bad} is not an error status"),
                    "injected errors use 4xx or 5xx codes, e.g. [500, 503] or [429]",
                );
            }
            if f.retry_after.is_some() && !f.status.contains(&429) {
                return err(
                    "`retry_after` is set but `status` has no 429".into(),
                    "add 429 to status, or drop retry_after",
                );
            }
            if let Some(r) = &f.rename_field
                && (r.from.is_empty() || r.to.is_empty() || r.from == r.to)
            {
                return err(
                    "`rename_field` needs two different, non-empty names".into(),
                    "e.g. rename_field: {from: status, to: state}",
                );
            }
        }
        self.check_limits(file, text)
    }
}

/// 1-based (line, column) of the `nth` occurrence of `needle` in `text`.
fn locate(text: &str, needle: &str, nth: usize) -> Option<(usize, usize)> {
    text.match_indices(needle)
        .nth(nth)
        .map(|(i, _)| position(text, i))
}

/// Where the `nth` `key:` is followed (on its line) by `value`, else the `nth` `key:`.
fn locate_after(text: &str, key: &str, value: &str, nth: usize) -> Option<(usize, usize)> {
    text.match_indices(key)
        .find(|(i, _)| {
            let rest = &text[i + key.len()..];
            let line = rest.split('\n').next().unwrap_or("");
            line.trim_start_matches([' ', '\t', '"', '\''])
                .starts_with(value)
        })
        .map(|(i, _)| position(text, i))
        .or_else(|| locate(text, key, nth))
}

fn position(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(at, |n| at - n - 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, YamlError> {
        Scenario::parse(Path::new("s.yaml"), text)
    }

    #[test]
    fn scrape_trouble_and_new_routes_are_read_and_must_fit_the_run() {
        let s = parse(
            "duration: 1h\ntraffic: [{route: /a, rps: 5/s}, {route: /b, rps: 5/s, appears: 30m}]\nscrape: {gaps: [{start: 10m, end: 11m}], restarts: [20m]}\n",
        )
        .unwrap();
        let scrape = s.scrape.as_ref().unwrap();
        assert_eq!(scrape.every.get(), Duration::from_secs(5));
        assert!(scrape.reachable(599) && !scrape.reachable(600) && !scrape.reachable(659));
        assert!(scrape.reachable(660));
        assert!(scrape.restarts_at(1200) && !scrape.restarts_at(1201));
        assert!(s.traffic[0].exists_at(-60));
        assert!(!s.traffic[1].exists_at(1799) && s.traffic[1].exists_at(1800));
        for (bad, says) in [
            ("scrape: {every: 0s}", "outside 1s..5m"),
            ("scrape: {every: 10m}", "outside 1s..5m"),
            (
                "scrape: {gaps: [{start: 10m, end: 5m}]}",
                "must end after it starts",
            ),
            ("scrape: {gaps: [{start: 50m, end: 2h}]}", "within the run"),
            ("scrape: {restarts: [1h]}", "after the run"),
            ("scrape: {lost: 5}", "unknown field"),
            ("scrape: {every: 2500ms}", "whole seconds"),
            ("scrape: {restarts: [5m500ms]}", "whole seconds"),
        ] {
            let text = format!("duration: 1h\n{bad}\n");
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(e.contains("s.yaml"), "{bad}: {e}");
        }
        let e = parse("duration: 1h\ntraffic: [{route: /a, rps: 5/s, appears: 2h}]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("appears at 2h"), "{e}");
        let e = parse("duration: 1h\ntraffic: [{route: /a, rps: 5/s, appears: 20m}]\nfaults: [{name: f, route: /a, start: 5m, error_rate: 5%}]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("which appears only at 20m"), "{e}");
    }

    #[test]
    fn ramp_climbs_linearly_then_holds_then_ends() {
        let s = parse(
            "faults:\n  - name: pool\n    route: /api/payments\n    start: 10s\n    ramp: 100s\n    end: 10m\n    error_rate: {from: 2%, to: 12%}\n    status: [500, 503]\n",
        )
        .unwrap();
        assert_eq!(s.name, "s");
        let at = |secs| s.effects_at("/api/payments", Duration::from_secs(secs));
        assert_eq!(at(5).error_rate, 0.0);
        assert!((at(10).error_rate - 0.02).abs() < 1e-9);
        assert!((at(60).error_rate - 0.07).abs() < 1e-9);
        assert!((at(300).error_rate - 0.12).abs() < 1e-9);
        assert_eq!(at(600).error_rate, 0.0);
        assert_eq!(at(60).statuses, vec![500, 503]);
        assert_eq!(at(60).active, vec!["pool".to_string()]);
        assert_eq!(
            s.effects_at("/api/search", Duration::from_secs(60))
                .error_rate,
            0.0
        );
    }

    #[test]
    fn strongest_effect_wins_and_star_matches_everything() {
        let s = parse(
            "faults:\n  - {name: a, route: '*', latency_factor: 2}\n  - {name: b, route: /x, latency_factor: 4, traffic_factor: 0.1}\n  - {name: c, route: /x, traffic_factor: 3}\n",
        )
        .unwrap();
        let fx = s.effects_at("/x", Duration::ZERO);
        assert_eq!(fx.latency_factor, 4.0);
        assert_eq!(fx.traffic_factor, 0.1);
        assert_eq!(s.effects_at("/y", Duration::ZERO).latency_factor, 2.0);
    }

    #[test]
    fn mistakes_are_reported_with_positions_and_hints() {
        let e = parse("faults:\n  - name: a\n    error_rate: 5\n").unwrap_err();
        assert_eq!((e.line, e.column), (Some(3), Some(17)));
        assert!(e.message.contains("% sign"), "{e}");

        let e = parse("faults:\n  - name: a\n    latency_factr: 2\n").unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean `latency_factor`?"));

        let e = parse("faults:\n  - name: a\n    route: payments\n    outage: true\n").unwrap_err();
        assert_eq!(e.line, Some(3));

        let e = parse("faults:\n  - {name: a}\n").unwrap_err();
        assert!(e.message.contains("does nothing"), "{e}");

        let e = parse("faults:\n  - {name: a, outage: true}\n  - {name: a, outage: true}\n")
            .unwrap_err();
        assert!(e.message.contains("used twice"), "{e}");

        let e = parse("faults:\n  - {name: a, error_rate: 5%, retry_after: 5s}\n").unwrap_err();
        assert!(e.message.contains("429"), "{e}");

        let e = parse("faults:\n  - {name: a, outage: true, start: 1m, end: 30s}\n").unwrap_err();
        assert!(e.message.contains("ends at 30s"), "{e}");
    }

    #[test]
    fn unknown_routes_get_the_nearest_one() {
        let s = parse("faults:\n  - {name: a, route: /api/paymnts, outage: true}\n").unwrap();
        let e = s
            .check_routes(Path::new("s.yaml"), &["/api/payments", "/healthz"])
            .unwrap_err();
        assert!(e.hint.unwrap().starts_with("did you mean `/api/payments`?"));
    }

    #[test]
    fn repeating_faults_come_back_and_list_their_occurrences() {
        let s = parse(
            "faults:\n  - {name: spike, start: 10m, end: 35m, repeat: {every: 10m, lasts: 5m}, error_rate: 100%}\n",
        )
        .unwrap();
        let at = |m: u64, sec: u64| {
            s.effects_at("/x", Duration::from_secs(m * 60 + sec))
                .error_rate
        };
        assert_eq!(at(9, 59), 0.0);
        assert_eq!(at(10, 0), 1.0);
        assert_eq!(at(14, 59), 1.0);
        assert_eq!(at(15, 0), 0.0);
        assert_eq!(at(20, 30), 1.0);
        assert_eq!(at(35, 0), 0.0);
        let secs = |d: Duration| d.as_secs() / 60;
        let occ: Vec<(u64, Option<u64>)> = s.faults[0]
            .occurrences(Duration::from_secs(3600))
            .into_iter()
            .map(|(a, b)| (secs(a), b.map(secs)))
            .collect();
        assert_eq!(occ, vec![(10, Some(15)), (20, Some(25)), (30, Some(35))]);
        // An open-ended fault lasts past the end of a run.
        let s = parse("faults:\n  - {name: a, start: 1m, outage: true}\n").unwrap();
        assert_eq!(
            s.faults[0].occurrences(Duration::from_secs(600)),
            vec![(Duration::from_secs(60), None)]
        );
        assert_eq!(s.duration(), Duration::from_secs(660));
    }

    #[test]
    fn simulation_fields_are_checked() {
        let s = parse(
            "warm_up: 1h\nduration: 2h\nseed: 3\ndetect: {error_rate: 2%, latency_quantile: p99}\ntraffic:\n  - {route: /a, rps: 10/h, latency: {median: 10ms, p95: 30ms, jitter: 10%}}\nfaults:\n  - {name: blip, route: /a, start: 5m, fail_requests: 1, incident: false}\n",
        )
        .unwrap();
        assert_eq!(s.duration(), Duration::from_secs(7200));
        assert_eq!(s.detect.latency_quantile.fraction(), 0.99);
        assert!((s.traffic[0].rps.get() - 10.0 / 3600.0).abs() < 1e-12);
        assert!(!s.faults[0].incident);
        let fx = s.effects_at("/a", Duration::from_secs(400));
        assert_eq!(fx.fail_requests, vec![("blip".to_string(), 1)]);

        let e = parse("traffic:\n  - {route: /a, rps: 1, latency: {median: 50ms, p95: 20ms}}\n")
            .unwrap_err();
        assert!(
            e.message.contains("p95 20ms must be above the median"),
            "{e}"
        );
        let e = parse("traffic: [{route: /a, rps: 1}, {route: /a, rps: 2}]\n").unwrap_err();
        assert!(e.message.contains("listed twice"), "{e}");
        let e =
            parse("traffic: [{route: /a, rps: 1}]\nfaults: [{name: x, route: /b, outage: true}]\n")
                .unwrap_err();
        assert!(e.message.contains("unknown route `/b`"), "{e}");
        let e = parse("faults: [{name: x, outage: true, repeat: {every: 5m, lasts: 5m}}]\n")
            .unwrap_err();
        assert!(e.message.contains("must end before the next"), "{e}");
        let e = parse("detect: {latency_quantile: p90}\n").unwrap_err();
        assert!(e.message.contains("p95"), "{e}");
        let e = parse("detect: {latency_factor: 0.5}\n").unwrap_err();
        assert!(e.message.contains("above 1"), "{e}");
    }

    #[test]
    fn periods_flapping_tails_gateways_reach_and_cold_starts_are_read_and_checked() {
        let s = parse(
            "cold_start: true\nexpect: {max_pages_per_fault: 1, no_resolve_during_fault: true}\ntraffic: [{route: /a, rps: 5/s, weekly_swing: 20%}]\nfaults:\n  - name: flap\n    route: /a\n    periods: [{start: 1m, end: 1m20s}, {start: 3m, end: 3m05s}]\n    error_rate: 10%\n  - {name: slow, route: /a, start: 2m, tail_factor: 3, reaches: traffic}\n  - {name: hung, route: /a, start: 4m, end: 5m, hang: 10%, gateway_timeout: 30s, reaches: probe}\n",
        )
        .unwrap();
        assert!(s.cold_start);
        let e = s.expect.unwrap();
        assert_eq!(
            (e.max_pages_per_fault, e.no_resolve_during_fault),
            (Some(1), true)
        );
        assert!(!e.never_slower_than_anchors);
        let at = |secs| s.effects_reaching("/a", Duration::from_secs(secs), Reach::Traffic);
        assert_eq!(at(59).error_rate, 0.0);
        assert_eq!(at(70).error_rate, 0.1);
        assert_eq!(at(100).error_rate, 0.0);
        assert_eq!(at(182).error_rate, 0.1);
        assert_eq!(at(150).tail_factor, 3.0);
        let probe = s.effects_reaching("/a", Duration::from_secs(250), Reach::Probe);
        assert_eq!(
            (probe.tail_factor, probe.gateway_timeout_s),
            (1.0, Some(30))
        );
        assert_eq!(at(250).hang, 0.0, "hung reaches only the probe");
        let occ = s.faults[0].occurrences(Duration::from_secs(3600));
        assert_eq!(occ.len(), 2);
        assert_eq!(s.first_fault_start(), Some(Duration::from_secs(60)));
        assert_eq!(s.duration(), Duration::from_secs(900));

        // Mistakes point at the fault (line:column of its name) with a hint.
        let cases = [
            (
                "faults:\n  - name: a\n    periods: [{start: 2m, end: 1m}]\n    outage: true\n",
                "period 1 ends at 1m",
            ),
            (
                "faults:\n  - name: a\n    periods: [{start: 1m, end: 2m}, {start: 90s, end: 3m}]\n    outage: true\n",
                "before the previous one ends",
            ),
            (
                "faults:\n  - name: a\n    start: 1m\n    periods: [{start: 1m, end: 2m}]\n    outage: true\n",
                "together with `start`",
            ),
            (
                "faults:\n  - name: a\n    outage: true\n    gateway_timeout: 30s\n",
                "no `hang`",
            ),
            ("faults:\n  - name: a\n    tail_factor: 0.5\n", "under 1"),
        ];
        for (text, needle) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.message.contains(needle), "{needle}: {e}");
            assert_eq!((e.line, e.column), (Some(2), Some(5)), "{e}");
            assert!(e.hint.is_some());
        }
        let e = parse("faults:\n  - {name: a, outage: true, reaches: sideways}\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = parse("duration: 1h\ncold_start: true\n").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(1)), "{e}");
        assert!(e.message.contains("no fault"), "{e}");
    }
}
