//! `ic simulate`: runs a scenario through `sim` and prints the comparison
//! table (or `--json`), then checks `ic` against the scenario's `expect:`.

use super::{EXIT_FINDINGS, EXIT_OK};
use crate::cli::SimulateArgs;
use crate::core::scenario::{Latency, RouteTraffic, Scenario};
use crate::core::text;
use crate::core::units::{HumanDuration, Percent, Rate};
use crate::demo::{self, routes::ROUTES};
use crate::sim::{self, FaultOutcome, Report};
use std::path::Path;
use std::time::Duration;

pub(super) fn run(args: &SimulateArgs) -> anyhow::Result<u8> {
    let scenario = if Path::new(&args.scenario).is_file() {
        crate::files::load_scenario(Path::new(&args.scenario))?
    } else {
        demo::load_scenario(&args.scenario)?
    };
    let traffic = if scenario.traffic.is_empty() {
        scenario.check_routes(Path::new(&args.scenario), &demo::routes::templates())?;
        demo_traffic()
    } else {
        scenario.traffic.clone()
    };
    let seed = args.seed.or(scenario.seed).unwrap_or(1);
    let report = sim::run(&scenario, &traffic, seed);
    let misses = misses(&scenario, &report);
    if args.json {
        let mut obj = serde_json::json!(report);
        obj["ic_misses"] = serde_json::json!(misses);
        out!("{obj}");
    } else {
        print_table(&report);
        if scenario.expect.is_some() || scenario.faults.iter().any(|f| f.detect_within.is_some()) {
            if misses.is_empty() {
                out!("ic meets every target of this scenario");
            }
            for m in &misses {
                out!("MISSED: {m}");
            }
        }
    }
    Ok(if misses.is_empty() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}

/// The demo API's routes at its default load, for scenarios without `traffic:`.
fn demo_traffic() -> Vec<RouteTraffic> {
    ROUTES
        .iter()
        .map(|r| {
            let p95_ms = r.median_ms * (1.644_853_6 * r.sigma).exp();
            RouteTraffic {
                route: r.template.to_string(),
                rps: Rate::per_second(demo::DEFAULT_RPS * r.traffic_share),
                error_rate: Percent::from_fraction(r.base_error_rate),
                client_error_rate: Percent::default(),
                latency: Latency {
                    median: HumanDuration(Duration::from_secs_f64(r.median_ms / 1000.0)),
                    p95: HumanDuration(Duration::from_secs_f64(p95_ms / 1000.0)),
                    jitter: Percent::default(),
                },
                daily_swing: Percent::default(),
                weekly_swing: Percent::default(),
                daily: Vec::new(),
                probe: true,
                max_latency: None,
                appears: None,
            }
        })
        .collect()
}

/// Where `ic` falls short of the scenario's targets, in words.
fn misses(scenario: &Scenario, report: &Report) -> Vec<String> {
    let Some(ic) = report.strategies.iter().find(|s| s.name == "ic") else {
        return vec!["no `ic` strategy in the report".into()];
    };
    let mut out = Vec::new();
    let allowed = scenario.expect.map_or(u32::MAX, |e| e.false_alerts);
    if ic.false_alerts > allowed {
        out.push(format!(
            "{} false alerts (allowed {allowed})",
            ic.false_alerts
        ));
    }
    if let Some(e) = scenario.expect
        && ic.warm_up_alerts > e.warm_up_alerts
    {
        out.push(format!(
            "{} alerts during the warm-up (allowed {}: ic must be quiet on a cold start)",
            ic.warm_up_alerts, e.warm_up_alerts
        ));
    }
    if let Some(max) = scenario.expect.and_then(|e| e.max_pages_per_fault) {
        for span in ic
            .fault_spans
            .iter()
            .filter(|s| s.incident && s.pages > max)
        {
            out.push(format!(
                "{}: {} pages (at most {max} per fault)",
                span.name, span.pages
            ));
        }
    }
    if scenario.expect.is_some_and(|e| e.no_resolve_during_fault) {
        for span in ic
            .fault_spans
            .iter()
            .filter(|s| s.incident && s.resolved_during > 0)
        {
            out.push(format!(
                "{}: {} alerts resolved while the fault lasted (none may)",
                span.name, span.resolved_during
            ));
        }
    }
    if scenario.expect.is_some_and(|e| e.never_slower_than_anchors) {
        for v in report.versus_anchors.iter().filter(|v| v.ic_slower) {
            let (name, after) = (
                v.fastest_anchor.unwrap_or("an anchor"),
                v.fastest_anchor_after_s.map_or("-".to_string(), secs),
            );
            out.push(match v.ic_after_s {
                Some(ic) => format!(
                    "{}: ic detected after {}, {name} after {after}",
                    v.name,
                    secs(ic)
                ),
                None => format!("{}: ic missed it, {name} detected it after {after}", v.name),
            });
        }
    }
    let reset_within = scenario
        .expect
        .and_then(|e| e.reset_within)
        .map(|d| d.get().as_secs());
    // With `no_resolve_during_fault`, a repeating fault is one span that must stay
    // open: its reset counts from its last occurrence's end, not each one's.
    let whole_span = scenario.expect.is_some_and(|e| e.no_resolve_during_fault);
    let incidents: Vec<&FaultOutcome> = ic.faults.iter().filter(|o| o.incident).collect();
    for (i, o) in incidents.iter().enumerate() {
        let fault = scenario
            .faults
            .iter()
            .find(|f| o.name == f.name || o.name.starts_with(&format!("{} #", f.name)));
        let occurs_again = fault.is_some_and(|f| {
            incidents[i + 1..]
                .iter()
                .any(|l| l.name.starts_with(&format!("{} #", f.name)))
        });
        let reset_within = reset_within.filter(|_| !(whole_span && occurs_again));
        if let Some(within) = fault.and_then(|f| f.detect_within) {
            match o.detected_after_s {
                None => out.push(format!("{}: never detected (target {within})", o.name)),
                Some(s) if s > within.get().as_secs() => out.push(format!(
                    "{}: detected after {} (target {within})",
                    o.name,
                    secs(s)
                )),
                Some(_) => {}
            }
        }
        if let (Some(limit), Some(_)) = (reset_within, o.end_s) {
            match o.reset_after_s {
                Some(s) if s <= limit => {}
                Some(s) => out.push(format!(
                    "{}: reset {} after its end (target {})",
                    o.name,
                    secs(s),
                    secs(limit)
                )),
                None if o.detected_after_s.is_some() || o.already_firing => {
                    out.push(format!("{}: never reset after its end", o.name))
                }
                None => {}
            }
        }
    }
    out
}

/// `42s`, `5m07s`, `2h03m`.
fn secs(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn cell(o: &FaultOutcome) -> String {
    if !o.incident {
        return if o.alerts == 0 {
            "silent".into()
        } else {
            format!("{} alerts", o.alerts)
        };
    }
    let detected = match (o.detected_after_s, o.already_firing) {
        (Some(s), _) => secs(s),
        (None, true) => "still on".into(),
        (None, false) => "missed".into(),
    };
    match (o.end_s, o.reset_after_s) {
        (Some(_), Some(r)) if o.detected_after_s.is_some() || o.already_firing => {
            format!("{detected}, reset {}", secs(r))
        }
        (Some(_), None) if o.detected_after_s.is_some() || o.already_firing => {
            format!("{detected}, no reset")
        }
        _ => detected,
    }
}

fn print_table(report: &Report) {
    out!(
        "scenario {} (seed {}): {} simulated after a {} warm-up, {} route(s){}",
        report.scenario,
        report.seed,
        secs(report.duration_s),
        secs(report.warm_up_s),
        report.routes.len(),
        if report.cold_start {
            "; cold start: every strategy starts at the first fault"
        } else {
            ""
        }
    );
    let Some(ic) = report.strategies.first() else {
        return;
    };
    // Fault names come from the scenario file: escaped, and padded without a
    // format width (which panics past 65,535).
    let label = |o: &FaultOutcome| match o.end_s {
        Some(e) => format!(
            "{} [{}–{}]",
            text::escape(&o.name),
            secs(o.start_s),
            secs(e)
        ),
        None => format!("{} [from {}]", text::escape(&o.name), secs(o.start_s)),
    };
    let width = ic
        .faults
        .iter()
        .map(|o| label(o).chars().count())
        .max()
        .unwrap_or(0)
        .max("fault".len());
    out!("each cell: time to the first alert after the fault began, and to quiet after it ended");
    out!(
        "{}  {:>20}  {:>34}  {:>5}  ic vs anchor",
        text::pad_right("fault", width),
        "ic",
        "fastest anchor",
        "pages"
    );
    for o in &ic.faults {
        let versus = report.versus_anchors.iter().find(|v| v.name == o.name);
        let (anchor, verdict) = match versus {
            None => ("-".to_string(), "-"),
            Some(v) => match (v.fastest_anchor, v.fastest_anchor_after_s, v.ic_after_s) {
                (Some(name), Some(s), ic_after) => (
                    format!("{name} {}", secs(s)),
                    match ic_after {
                        None => "MISSED",
                        Some(_) if v.ic_slower => "SLOWER",
                        Some(i) if i == s => "as fast",
                        Some(_) => "faster",
                    },
                ),
                _ if v.ic_after_s.is_some() => ("none".to_string(), "ic only"),
                _ => ("none".to_string(), "missed by all"),
            },
        };
        out!(
            "{}  {:>20}  {:>34}  {:>5}  {verdict}",
            text::pad_right(&label(o), width),
            cell(o),
            anchor,
            o.alerts
        );
    }
    if !report.noisy_anchors.is_empty() {
        out!(
            "not counted as the fastest anchor (they alerted outside the faults): {}",
            report.noisy_anchors.join(", ")
        );
    }
    out!("every strategy: incident faults detected, the slowest detection and reset, false alerts");
    out!(
        "{:<24}  {:>8}  {:>8}  {:>10}  {:>12}  {:>14}",
        "strategy",
        "detected",
        "slowest",
        "reset",
        "false alerts",
        "warm-up alerts"
    );
    for s in &report.strategies {
        let incidents: Vec<&FaultOutcome> = s.faults.iter().filter(|o| o.incident).collect();
        let found: Vec<u64> = incidents
            .iter()
            .filter_map(|o| o.detected_after_s)
            .collect();
        let slowest = found.iter().max().map_or("-".to_string(), |s| secs(*s));
        let ended: Vec<&&FaultOutcome> = incidents
            .iter()
            .filter(|o| o.end_s.is_some() && (o.detected_after_s.is_some() || o.already_firing))
            .collect();
        let reset = if ended.iter().any(|o| o.reset_after_s.is_none()) {
            "no reset".to_string()
        } else {
            ended
                .iter()
                .filter_map(|o| o.reset_after_s)
                .max()
                .map_or("-".to_string(), secs)
        };
        out!(
            "{:<24}  {:>8}  {:>8}  {:>10}  {:>12}  {:>14}",
            s.name,
            format!("{}/{}", found.len(), incidents.len()),
            slowest,
            reset,
            s.false_alerts,
            s.warm_up_alerts
        );
    }
    let estimates: Vec<String> = ic
        .faults
        .iter()
        .filter(|o| o.onset_error_s.is_some() || o.end_error_s.is_some())
        .map(|o| {
            let signed = |v: Option<i64>| v.map_or("-".to_string(), |v| format!("{v:+}s"));
            format!(
                "  {}: onset {} (true onset at {}), end {}",
                text::escape(&o.name),
                signed(o.onset_error_s),
                secs(o.onset_s),
                signed(o.end_error_s)
            )
        })
        .collect();
    if !estimates.is_empty() {
        out!("ic's estimates, minus the truth:");
        for e in estimates {
            out!("{e}");
        }
    }
}
