//! `ic simulate`: a deterministic simulator in simulated time. It draws
//! per-second request outcomes and latencies per route, and probe results, from
//! a scenario and a seed, replays them through our detectors and, side by side,
//! through the anchors' strategies (see `strategies`), and scores each: time to
//! detect and to reset per fault occurrence, and false alerts; per fault, the
//! fastest anchor and whether `ic` was slower than it. Pure: no clock, no
//! sleeping, no I/O — a simulated week takes seconds.

pub mod anchors;
pub mod exporter;
pub mod strategies;
pub mod world;

use crate::core::detect::Settings;
use crate::core::scenario::{Fault, RouteTraffic, Scenario};
use anchors::{BurnRateTicket, ClientErrorRule, ErrorRatioRule, LatencyRule, TrafficRule};
use exporter::Exporter;
use serde::Serialize;
use std::rc::Rc;
use strategies::{AlertEvent, Gatus3Checks, Ic, PrometheusFor5m, SreBurnRate, Strategy};
use world::World;

/// Unix time of simulated second 0: 2026-01-01T00:00:00Z (minute- and day-aligned).
pub const T0: i64 = 1_767_225_600;

/// The outcome of one simulation.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Calm seconds simulated before time 0.
    pub warm_up_s: u64,
    /// Seconds simulated after time 0.
    pub duration_s: u64,
    /// Routes simulated.
    pub routes: Vec<String>,
    /// Whether every strategy started at the first fault with empty state (`cold_start`).
    pub cold_start: bool,
    /// One entry per strategy, `ic` first.
    pub strategies: Vec<StrategyReport>,
    /// Per incident fault occurrence: `ic` against the fastest anchor.
    pub versus_anchors: Vec<Versus>,
    /// Anchors not counted in `versus_anchors`: they alerted outside the faults (false or
    /// warm-up alerts), so an alert of theirs during a fault does not tell it from noise.
    pub noisy_anchors: Vec<&'static str>,
}

/// `ic` against the fastest anchor on one incident fault occurrence.
#[derive(Debug, Clone, Serialize)]
pub struct Versus {
    /// Fault occurrence name, as in `faults`.
    pub name: String,
    /// `ic`'s time to detect (`null`: missed).
    pub ic_after_s: Option<u64>,
    /// The anchor that detected it first (`null`: none did).
    pub fastest_anchor: Option<&'static str>,
    /// That anchor's time to detect.
    pub fastest_anchor_after_s: Option<u64>,
    /// An anchor detected it, and `ic` later or not at all.
    pub ic_slower: bool,
}

/// How one strategy did.
#[derive(Debug, Clone, Serialize)]
pub struct StrategyReport {
    /// `ic`, or an anchor's name (see `strategies` and `anchors`).
    pub name: &'static str,
    /// Alerts fired after time 0 outside every incident fault (and its grace period), or on noise.
    pub false_alerts: u32,
    /// Alerts fired during the warm-up (a cold start: too little history), not in `false_alerts`.
    pub warm_up_alerts: u32,
    /// Every alert fired.
    pub alerts: u32,
    /// One entry per fault occurrence.
    pub faults: Vec<FaultOutcome>,
    /// One entry per fault of the scenario, its occurrences together.
    pub fault_spans: Vec<FaultSpan>,
    /// Every alert start and end, in order.
    pub alert_log: Vec<AlertEvent>,
}

/// How one strategy did on one fault occurrence.
#[derive(Debug, Clone, Serialize)]
pub struct FaultOutcome {
    /// Fault name (`name #k` for the k-th occurrence of a repeating fault).
    pub name: String,
    /// Whether it is an incident (`false`: noise that should stay silent).
    pub incident: bool,
    /// Start, in seconds from time 0.
    pub start_s: u64,
    /// End, in seconds from time 0 (`null`: lasts to the end of the run).
    pub end_s: Option<u64>,
    /// Seconds from the start to the first alert on an affected route (`null`: never).
    pub detected_after_s: Option<u64>,
    /// Seconds from the end until no alert is firing on the affected routes (`null`: never,
    /// or never detected).
    pub reset_after_s: Option<u64>,
    /// An alert from before the start was still firing when it began.
    pub already_firing: bool,
    /// Alerts fired on the affected routes during the occurrence and its grace period.
    pub alerts: u32,
    /// The true onset, in seconds from time 0: the start of a step, or where a ramp crosses
    /// the detector's line (`detect.error_rate`, `latency_factor`, `traffic_surge` or
    /// `traffic_drop`).
    pub onset_s: u64,
    /// `ic` only: the detecting alert's estimated onset minus the true onset, in seconds
    /// (`null`: not detected, or a strategy without onsets).
    pub onset_error_s: Option<i64>,
    /// `ic` only: the estimated end (the second after the last bad second) of the detecting
    /// alert's resolution minus the fault's end, in seconds (`null`: no end, no resolution).
    pub end_error_s: Option<i64>,
}

/// How one strategy did over the whole of one scenario fault: from its first start to its
/// last end (all occurrences of a repeating fault, and the gaps between them).
#[derive(Debug, Clone, Serialize)]
pub struct FaultSpan {
    /// Fault name.
    pub name: String,
    /// Whether it is an incident.
    pub incident: bool,
    /// Alerts fired on its routes from its first start to its last end plus the grace period.
    pub pages: u32,
    /// Alerts on its routes that resolved while it lasted (first start to last end).
    pub resolved_during: u32,
}

struct Occurrence {
    /// Index of the scenario fault it is an occurrence of, and its name.
    fault: usize,
    fault_name: Rc<str>,
    name: String,
    incident: bool,
    start: i64,
    end: Option<i64>,
    /// The true onset: `start`, or a ramp's crossing of the line.
    onset: i64,
    /// Which routes the fault affects, by index (shared by its occurrences).
    routes: Rc<[bool]>,
}

impl Occurrence {
    fn covers(&self, route: usize) -> bool {
        self.routes.get(route).copied().unwrap_or(false)
    }
}

/// Runs `scenario` over `routes` with `seed`.
pub fn run(scenario: &Scenario, routes: &[RouteTraffic], seed: u64) -> Report {
    let warm = scenario.warm_up.get().as_secs() as i64;
    let duration = scenario.duration().as_secs() as i64;
    let names: Vec<String> = routes.iter().map(|r| r.route.clone()).collect();
    let settings = scenario.detect;
    let mut world = World::new(scenario, routes, seed);
    let n = routes.len();
    let threshold = settings.error_rate.fraction();
    let ic = Ic::new(
        settings,
        names.clone(),
        scenario.probe_interval().as_secs() as i64,
    );
    let scrape = scenario.scrape.as_ref();
    // `ic` scrapes the exporter from the first second it runs: its clock started with
    // the warm-up.
    let mut exporter = scrape.map(|_| Exporter::new(&names, T0 - warm));
    let mut strategies: Vec<Box<dyn Strategy>> = vec![
        Box::new(if scrape.is_some() { ic.scraping() } else { ic }),
        Box::new(PrometheusFor5m::new(threshold, n)),
        Box::new(SreBurnRate::new(settings.slo.fraction(), n)),
        Box::new(Gatus3Checks::new(n)),
        Box::new(ErrorRatioRule::fast_5m(threshold, n)),
        Box::new(ErrorRatioRule::fast_1m(threshold, n)),
        Box::new(BurnRateTicket::new(settings.slo.fraction(), n)),
        Box::new(LatencyRule::new(&settings, n)),
        Box::new(ClientErrorRule::new(n)),
        Box::new(TrafficRule::new(&settings, n)),
    ];
    // A cold start: the strategies see nothing before the first fault.
    let feed_from = match scenario.first_fault_start() {
        Some(start) if scenario.cold_start => start.as_secs() as i64,
        _ => -warm,
    };
    let probed: Vec<usize> = routes
        .iter()
        .enumerate()
        .filter(|(_, r)| r.probe)
        .map(|(i, _)| i)
        .collect();
    let mut logs: Vec<Vec<AlertEvent>> = vec![Vec::new(); strategies.len()];
    let mut seconds = Vec::with_capacity(routes.len());
    // A cold start's past: what the exporter counted before the strategies began.
    let mut past = vec![Past::default(); routes.len()];
    for t in -warm..duration {
        let unix = T0 + t;
        world.second(t, unix, &mut seconds);
        let mut exposition = None;
        if let (Some(model), Some(exporter)) = (scrape, exporter.as_mut()) {
            let (unscrapable, restarted) = (!model.reachable(t), model.restarts_at(t));
            for r in seconds.iter_mut() {
                (r.unscrapable, r.restarted) = (unscrapable, restarted);
            }
            exporter.second(unix, &seconds);
            let every = model.every.get().as_secs() as i64;
            if t >= feed_from && !unscrapable && (t - feed_from).rem_euclid(every) == 0 {
                exposition = Some(exporter.render().to_string());
            }
        }
        if t < feed_from {
            for (p, r) in past.iter_mut().zip(&seconds) {
                p.add(r);
            }
            continue;
        }
        if t == feed_from && t > -warm {
            let q = settings.latency_quantile.fraction();
            let lifetimes: Vec<_> = past.iter().map(|p| p.lifetime(q, t + warm)).collect();
            for s in strategies.iter_mut() {
                s.lifetime(&lifetimes);
            }
        }
        for (s, log) in strategies.iter_mut().zip(logs.iter_mut()) {
            s.second(t, unix, &seconds, log);
            if let Some(text) = &exposition {
                s.scrape(t, unix, text, log);
            }
            if let Some((every, offset)) = s.probe_schedule()
                && (t - offset).rem_euclid(every) == 0
            {
                // A route is probed once it exists.
                for &i in probed.iter().filter(|&&i| routes[i].exists_at(t)) {
                    let result = world.probe(i, t);
                    s.probe(t, unix, i, result, log);
                }
            }
        }
    }
    let occurrences = occurrences(scenario, routes, duration, &settings);
    let grace = scenario.grace().as_secs() as i64;
    let learning = scenario.expect.is_some_and(|e| e.warm_up_alerts > 0);
    let scored: Vec<StrategyReport> = strategies
        .iter()
        .zip(&logs)
        .map(|(s, log)| score(s.name(), log, &occurrences, grace, duration))
        .collect();
    Report {
        scenario: scenario.name.clone(),
        seed,
        warm_up_s: warm as u64,
        duration_s: duration as u64,
        routes: names,
        cold_start: scenario.cold_start,
        versus_anchors: versus(&scored, learning),
        noisy_anchors: scored
            .iter()
            .skip(1)
            .filter(|s| noisy(s, learning))
            .map(|s| s.name)
            .collect(),
        strategies: scored,
    }
}

/// One route's counters before a cold start (the exporter's lifetime so far).
#[derive(Debug, Clone, Default)]
struct Past {
    total: u64,
    buckets: [u64; world::BUCKETS],
}

impl Past {
    fn add(&mut self, r: &world::RouteSecond) {
        self.total += r.total;
        for (b, n) in self.buckets.iter_mut().zip(r.buckets) {
            *b += n;
        }
    }

    /// The figures a first scrape shows after `age` seconds: totals, the
    /// quantile `q` of the cumulative histogram, and the rate over the age.
    fn lifetime(&self, q: f64, age: i64) -> crate::core::detect::Lifetime {
        let mut cumulative = 0.0;
        let buckets: Vec<(f64, f64)> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(k, n)| {
                cumulative += *n as f64;
                (world::bucket_bound(k), cumulative)
            })
            .collect();
        crate::core::detect::Lifetime {
            requests: self.total,
            latency: crate::core::metrics::histogram_quantile(q, &buckets),
            rate: (age > 0).then(|| self.total as f64 / age as f64),
        }
    }
}

/// Whether a strategy alerted outside the faults in this run. Where the scenario
/// calls its warm-up a learning time (`expect.warm_up_alerts` above 0: a daily
/// shape nobody can know on the first day), alerts there count against no one.
fn noisy(s: &StrategyReport, learning: bool) -> bool {
    s.false_alerts > 0 || (!learning && s.warm_up_alerts > 0)
}

/// `ic` (the first report) against the fastest of the others that stayed quiet outside the
/// faults, per incident occurrence.
fn versus(reports: &[StrategyReport], learning: bool) -> Vec<Versus> {
    let Some((ic, anchors)) = reports.split_first() else {
        return Vec::new();
    };
    ic.faults
        .iter()
        .enumerate()
        .filter(|(_, o)| o.incident)
        .map(|(j, o)| {
            let fastest = anchors
                .iter()
                .filter(|a| !noisy(a, learning))
                .filter_map(|a| Some((a.name, a.faults.get(j)?.detected_after_s?)))
                .min_by_key(|(_, s)| *s);
            Versus {
                name: o.name.clone(),
                ic_after_s: o.detected_after_s,
                fastest_anchor: fastest.map(|f| f.0),
                fastest_anchor_after_s: fastest.map(|f| f.1),
                // An alert of ic's still open from an earlier occurrence (a flapping
                // signal held open) has this one covered from its first second.
                ic_slower: fastest.is_some_and(|(_, a)| match o.detected_after_s {
                    Some(ic) => ic > a,
                    None => !o.already_firing,
                }),
            }
        })
        .collect()
}

/// Seconds from a fault's start to where its ramp crosses the line a detector draws:
/// 0 for a step, for a ramp that starts over the line, or one that never reaches it.
/// An error ramp adds to the route's own errors (`base`): what customers see, and
/// what the line is about, is the sum — injected errors, then the base share of
/// the rest.
fn crossing(f: &Fault, base: f64, settings: &Settings) -> i64 {
    let ramp = f.ramp.get().as_secs_f64();
    let at = |from: f64, to: f64, line: f64| {
        if from >= line || to <= from || to < line {
            0.0
        } else {
            (line - from) / (to - from)
        }
    };
    // Injected 4xx are not what the error-rate line measures.
    let server_errors = f.status.iter().any(|s| !(400..500).contains(s));
    let share = if let Some(r) = f.error_rate.as_ref().filter(|_| server_errors) {
        let line = settings.error_rate.fraction();
        // e + base·(1 − e) = line.
        let injected_line = if base < 1.0 {
            ((line - base) / (1.0 - base)).max(0.0)
        } else {
            0.0
        };
        at(r.at(0.0, 0.0), r.at(1.0, 0.0), injected_line)
    } else if let Some(l) = &f.latency_factor {
        at(l.at(0.0), l.at(1.0), settings.latency_factor)
    } else if let Some(x) = &f.traffic_factor {
        let (from, to) = (x.at(0.0), x.at(1.0));
        if to >= from {
            at(from, to, settings.traffic_surge)
        } else {
            // A drop, mirrored: how far below 1 it has gone.
            at(1.0 - from, 1.0 - to, settings.traffic_drop.fraction())
        }
    } else {
        0.0
    };
    (share * ramp).round() as i64
}

fn occurrences(
    scenario: &Scenario,
    traffic: &[RouteTraffic],
    duration: i64,
    settings: &Settings,
) -> Vec<Occurrence> {
    let until = std::time::Duration::from_secs(duration as u64);
    let mut out = Vec::new();
    for (index, f) in scenario.faults.iter().enumerate() {
        let routes: Rc<[bool]> = traffic.iter().map(|r| f.route.matches(&r.route)).collect();
        // The highest base error rate among its routes: the first to cross the line.
        let base = traffic
            .iter()
            .filter(|r| f.route.matches(&r.route))
            .map(|r| r.error_rate.fraction())
            .fold(None, |m: Option<f64>, b| Some(m.map_or(b, |m| m.max(b))))
            .unwrap_or(0.0);
        let offset = crossing(f, base, settings);
        let all = f.occurrences(until);
        let numbered = all.len() > 1 || f.repeat.is_some() || !f.periods.is_empty();
        for (k, (start, end)) in all.into_iter().enumerate() {
            out.push(Occurrence {
                fault: index,
                fault_name: f.name.as_str().into(),
                name: if numbered {
                    format!("{} #{}", f.name, k + 1)
                } else {
                    f.name.clone()
                },
                incident: f.incident,
                start: start.as_secs() as i64,
                end: end.map(|e| e.as_secs() as i64),
                onset: start.as_secs() as i64 + offset,
                routes: routes.clone(),
            });
        }
    }
    out
}

/// Scores one strategy's alerts against the fault occurrences.
fn score(
    name: &'static str,
    log: &[AlertEvent],
    occurrences: &[Occurrence],
    grace: i64,
    duration: i64,
) -> StrategyReport {
    let window = |o: &Occurrence| (o.start, o.end.unwrap_or(duration) + grace);
    let mut false_alerts = 0;
    let warm_up_alerts = log.iter().filter(|e| e.firing && e.t < 0).count() as u32;
    for e in log.iter().filter(|e| e.firing && e.t >= 0) {
        let explained = occurrences.iter().any(|o| {
            let (from, to) = window(o);
            o.incident && o.covers(e.route) && (from..=to).contains(&e.t)
        });
        if !explained {
            false_alerts += 1;
        }
    }
    let faults = occurrences
        .iter()
        .map(|o| {
            let (from, to) = window(o);
            let covered = |e: &&AlertEvent| o.covers(e.route);
            let mine: Vec<&AlertEvent> = log
                .iter()
                .filter(covered)
                .filter(|e| e.firing && (from..=to).contains(&e.t))
                .collect();
            let detected = mine.first().map(|e| (e.t - o.start) as u64);
            let onset_error = mine.first().and_then(|e| e.started).map(|s| s - o.onset);
            // The detecting alert's own resolution, after the fault's end.
            let end_error = match (mine.first(), o.end) {
                (Some(first), Some(end)) => log
                    .iter()
                    .filter(|e| !e.firing && e.route == first.route && e.rule == first.rule)
                    .find(|e| e.t > first.t && e.t >= end)
                    .and_then(|e| e.ended)
                    .map(|last_bad| last_bad + 1 - end),
                _ => None,
            };
            let covered_log: Vec<&AlertEvent> = log.iter().filter(covered).collect();
            let already = !firing_before(&covered_log, o.start).is_empty();
            // Quiet again after the end — or, for an alert that only fired after the end
            // (in the grace period), after that alert.
            let reset = match o.end {
                Some(end) if detected.is_some() || already => {
                    let from = mine.first().map_or(end, |e| e.t.max(end));
                    first_quiet(&covered_log, from).map(|q| q + (from - end) as u64)
                }
                _ => None,
            };
            FaultOutcome {
                name: o.name.clone(),
                incident: o.incident,
                start_s: o.start.max(0) as u64,
                end_s: o.end.map(|e| e.max(0) as u64),
                detected_after_s: detected,
                reset_after_s: reset,
                already_firing: already,
                alerts: mine.len() as u32,
                onset_s: o.onset.max(0) as u64,
                onset_error_s: onset_error,
                end_error_s: end_error,
            }
        })
        .collect();
    StrategyReport {
        name,
        false_alerts,
        warm_up_alerts,
        alerts: log.iter().filter(|e| e.firing).count() as u32,
        faults,
        fault_spans: spans(log, occurrences, grace, duration),
        alert_log: log.to_vec(),
    }
}

/// Pages and resolutions per scenario fault, its occurrences together.
fn spans(
    log: &[AlertEvent],
    occurrences: &[Occurrence],
    grace: i64,
    duration: i64,
) -> Vec<FaultSpan> {
    let mut out: Vec<FaultSpan> = Vec::new();
    let mut k = 0;
    while k < occurrences.len() {
        let first = &occurrences[k];
        let all: Vec<&Occurrence> = occurrences[k..]
            .iter()
            .take_while(|o| o.fault == first.fault)
            .collect();
        k += all.len();
        let last_end = all
            .iter()
            .map(|o| o.end.unwrap_or(duration))
            .max()
            .unwrap_or(duration);
        let mine = |e: &&AlertEvent| first.covers(e.route);
        out.push(FaultSpan {
            name: first.fault_name.to_string(),
            incident: first.incident,
            pages: log
                .iter()
                .filter(mine)
                .filter(|e| e.firing && (first.start..=last_end + grace).contains(&e.t))
                .count() as u32,
            resolved_during: log
                .iter()
                .filter(mine)
                .filter(|e| !e.firing && e.t > first.start && e.t < last_end)
                .count() as u32,
        });
    }
    out
}

/// The (route, rule) alerts firing just before second `t`.
fn firing_before<'a>(log: &[&'a AlertEvent], t: i64) -> Vec<(usize, &'a str)> {
    let mut firing = Vec::new();
    for e in log.iter().take_while(|e| e.t < t) {
        apply(&mut firing, e);
    }
    firing
}

fn apply<'a>(firing: &mut Vec<(usize, &'a str)>, e: &'a AlertEvent) {
    let key = (e.route, e.rule);
    if e.firing {
        if !firing.contains(&key) {
            firing.push(key);
        }
    } else {
        firing.retain(|k| *k != key);
    }
}

/// Seconds from `from` until nothing is firing (0 if nothing was, counting alerts that
/// fire at `from` itself); `None` if it never clears.
fn first_quiet(log: &[&AlertEvent], from: i64) -> Option<u64> {
    let mut firing = firing_before(log, from);
    for e in log.iter().filter(|e| e.t == from) {
        apply(&mut firing, e);
    }
    if firing.is_empty() {
        return Some(0);
    }
    for e in log.iter().filter(|e| e.t > from) {
        apply(&mut firing, e);
        if firing.is_empty() {
            return Some((e.t - from) as u64);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: i64, route: usize, firing: bool) -> AlertEvent {
        AlertEvent {
            t,
            route,
            rule: "r",
            firing,
            evidence: String::new(),
            started: None,
            ended: None,
        }
    }

    fn occ(name: &str, start: i64, end: Option<i64>, incident: bool) -> Occurrence {
        Occurrence {
            fault: 0,
            fault_name: name.into(),
            name: name.into(),
            incident,
            start,
            end,
            onset: start,
            routes: Rc::from([true]),
        }
    }

    #[test]
    fn alerts_are_attributed_to_faults_and_the_rest_are_false() {
        let log = vec![
            ev(-50, 0, true), // warm-up
            ev(-40, 0, false),
            ev(100, 1, true), // other route: false
            ev(130, 1, false),
            ev(610, 0, true),  // detects the fault 10 s in
            ev(950, 0, false), // resets 50 s after its end
            ev(960, 0, true),  // within grace: a flap, not false
            ev(970, 0, false),
            ev(2000, 0, true), // long after: false
        ];
        let o = [occ("f", 600, Some(900), true)];
        let r = score("x", &log, &o, 300, 3000);
        assert_eq!((r.false_alerts, r.warm_up_alerts, r.alerts), (2, 1, 5));
        let f = &r.faults[0];
        assert_eq!(f.detected_after_s, Some(10));
        assert_eq!(f.reset_after_s, Some(50));
        assert_eq!(f.alerts, 2);
        assert!(!f.already_firing);
    }

    #[test]
    fn an_alert_carried_over_is_not_a_detection_and_noise_alerts_are_false() {
        let log = vec![ev(100, 0, true), ev(1000, 0, false)];
        let o = [
            occ("a", 50, Some(200), true),
            occ("b", 300, Some(400), true),
            occ("noise", 500, None, false),
        ];
        let r = score("x", &log, &o, 60, 2000);
        assert_eq!(r.false_alerts, 0);
        assert_eq!(r.faults[0].detected_after_s, Some(50));
        assert_eq!(r.faults[0].reset_after_s, Some(800));
        assert_eq!(r.faults[1].detected_after_s, None);
        assert!(r.faults[1].already_firing);
        assert_eq!(r.faults[1].reset_after_s, Some(600));
        assert_eq!(r.faults[2].alerts, 0);

        // An alert that fires only after the end resets when it resolves.
        let r = score("x", &[ev(230, 0, true), ev(300, 0, false)], &o, 60, 2000);
        assert_eq!(r.faults[0].detected_after_s, Some(180));
        assert_eq!(r.faults[0].reset_after_s, Some(100));

        let r = score("x", &[ev(600, 0, true)], &o, 60, 2000);
        assert_eq!(r.false_alerts, 1, "an alert on noise is false");
        assert_eq!(r.faults[2].detected_after_s, Some(100));
        assert_eq!(r.faults[0].reset_after_s, None, "never detected: no reset");
    }

    #[test]
    fn the_fastest_quiet_anchor_is_the_bar_and_a_noisy_one_is_not() {
        let o = [
            occ("f", 600, Some(900), true),
            occ("g", 1200, Some(1500), true),
        ];
        let ic = score("ic", &[ev(610, 0, true), ev(950, 0, false)], &o, 60, 3000);
        let quick = score(
            "quick",
            &[ev(605, 0, true), ev(920, 0, false)],
            &o,
            60,
            3000,
        );
        // Fires before any fault: whatever it fires during one is not told from its noise.
        let noisy = score(
            "noisy",
            &[ev(100, 0, true), ev(601, 0, false), ev(601, 0, true)],
            &o,
            60,
            3000,
        );
        let v = versus(&[ic, quick, noisy], false);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].fastest_anchor, Some("quick"));
        assert_eq!(
            (v[0].ic_after_s, v[0].fastest_anchor_after_s),
            (Some(10), Some(5))
        );
        assert!(v[0].ic_slower);
        assert_eq!(v[1].fastest_anchor, None, "nobody quiet detected g");
        assert!(!v[1].ic_slower);

        // An alert during a warm-up the scenario calls a learning time (a daily shape
        // the first day cannot know) counts against no one: the learner is the bar.
        let learner = || {
            score(
                "learner",
                &[ev(-50, 0, true), ev(-40, 0, false), ev(603, 0, true)],
                &o,
                60,
                3000,
            )
        };
        let ic = || score("ic", &[ev(610, 0, true), ev(950, 0, false)], &o, 60, 3000);
        assert_eq!(
            versus(&[ic(), learner()], true)[0].fastest_anchor,
            Some("learner")
        );
        assert_eq!(versus(&[ic(), learner()], false)[0].fastest_anchor, None);

        // ic's alert held open from f through g (a flapping signal): g is covered
        // from its first second, not missed, even though an anchor fires anew for it.
        let held = score("ic", &[ev(610, 0, true), ev(1600, 0, false)], &o, 60, 3000);
        let anew = score(
            "anew",
            &[
                ev(605, 0, true),
                ev(920, 0, false),
                ev(1210, 0, true),
                ev(1520, 0, false),
            ],
            &o,
            60,
            3000,
        );
        let v = versus(&[held, anew], false);
        assert_eq!(
            (v[1].ic_after_s, v[1].fastest_anchor_after_s),
            (None, Some(10))
        );
        assert!(!v[1].ic_slower, "{:?}", v[1]);
        assert!(v[0].ic_slower, "f: 10 s against 5 s");
    }

    #[test]
    fn a_repeating_fault_is_one_span_of_pages_and_resolutions() {
        let mut o = vec![
            occ("f #1", 600, Some(620), true),
            occ("f #2", 660, Some(680), true),
        ];
        for x in &mut o {
            x.fault_name = "f".into();
        }
        let log = [
            ev(605, 0, true),
            ev(640, 0, false),
            ev(662, 0, true),
            ev(700, 0, false),
        ];
        let r = score("x", &log, &o, 60, 3000);
        assert_eq!(r.fault_spans.len(), 1);
        let span = &r.fault_spans[0];
        assert_eq!(
            (span.name.as_str(), span.pages, span.resolved_during),
            ("f", 2, 1)
        );
    }
}
