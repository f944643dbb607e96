//! `ic report`: what a directory of incidents says together — how many, by
//! severity and failure class; time to detect, acknowledge, mitigate and
//! resolve as median / p90 / worst, overall and per month; the signals
//! incident-response guides watch (detection to the first status update,
//! triage to mitigation, dead ends, recurrence, feedback); and the action
//! items by state and owner. Pure: the caller reads the timelines and brings
//! the time.
//!
//! A median of an even count is the mean of the two middle values; p90 is the
//! nearest rank (the ⌈0.9·n⌉-th smallest). An incident counts where it has
//! the figure: one without a detection time is in no MTTD.

use crate::core::actions::{self, Filter, State};
use crate::core::event::Phase;
use crate::core::incident::{HypothesisStatus, Incident};
use crate::core::postmortem::span;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::PathBuf;

/// Median, p90 and worst of a set of durations, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Stat {
    /// How many incidents had the figure.
    pub n: usize,
    /// The middle value.
    pub median_s: Option<f64>,
    /// The nearest-rank 90th percentile.
    pub p90_s: Option<f64>,
    /// The largest.
    pub worst_s: Option<f64>,
}

impl Stat {
    /// The statistics of `values` (seconds; any order).
    pub fn of(mut values: Vec<f64>) -> Stat {
        values.retain(|v| v.is_finite());
        values.sort_by(f64::total_cmp);
        let n = values.len();
        if n == 0 {
            return Stat::default();
        }
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        let rank = (n * 9).div_ceil(10).max(1);
        Stat {
            n,
            median_s: Some(median),
            p90_s: Some(values[rank - 1]),
            worst_s: values.last().copied(),
        }
    }
}

/// Time to detect, acknowledge, mitigate, resolve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Times {
    /// Impact start → detected.
    pub mttd: Stat,
    /// Detected → acknowledged.
    pub mtta: Stat,
    /// Impact start → mitigated.
    pub mttm: Stat,
    /// Impact start → resolved.
    pub mttr: Stat,
}

impl Times {
    fn of<'a>(incidents: impl Iterator<Item = &'a Incident> + Clone) -> Times {
        let secs = |d: Option<Duration>| d.map(|d| d.num_milliseconds() as f64 / 1000.0);
        let pick = |f: fn(&crate::core::incident::Figures) -> Option<Duration>| {
            Stat::of(
                incidents
                    .clone()
                    .filter_map(|i| secs(f(&i.figures())))
                    .collect(),
            )
        };
        Times {
            mttd: pick(|f| f.time_to_detect),
            mtta: pick(|f| f.time_to_acknowledge),
            mttm: pick(|f| f.time_to_mitigate),
            mttr: pick(|f| f.time_to_resolve),
        }
    }
}

/// One month's incidents (by the month they opened, UTC).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// Incidents opened in it.
    pub incidents: usize,
    /// Their times.
    pub times: Times,
}

/// The validation signals of the response itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResponseSignals {
    /// Detected → the first status update (the first accurate impact statement).
    pub detection_to_first_update: Stat,
    /// Triage phase entered → mitigate phase entered.
    pub triage_to_mitigation: Stat,
    /// Hypotheses ruled out, in all.
    pub dead_ends: usize,
    /// Dead ends per incident (mean).
    pub dead_ends_per_incident: f64,
    /// Incidents whose failure class an earlier incident had.
    pub recurring_class: usize,
    /// Incidents whose primary target an earlier incident had.
    pub recurring_target: usize,
    /// Notes tagged `feedback`: (incident, when, who, text).
    pub feedback: Vec<(String, DateTime<Utc>, String, String)>,
}

/// Action items, by state and owner.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ActionSummary {
    /// Open (overdue included).
    pub open: usize,
    /// Open and past due.
    pub overdue: usize,
    /// Done.
    pub done: usize,
    /// Owner (`—` for none) → (open, overdue, done).
    pub by_owner: BTreeMap<String, (usize, usize, usize)>,
    /// The overdue items, the oldest due first: (short id, due, owner, text, incident).
    pub oldest_overdue: Vec<(String, String, String, String, String)>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Incidents opened at or after this time (`None`: all).
    pub since: Option<DateTime<Utc>>,
    /// Incidents counted.
    pub incidents: usize,
    /// Severity (`SEV-n`, or `unset`) → incidents.
    pub by_severity: BTreeMap<String, usize>,
    /// Failure class (the first signal's detector, or `unknown`) → incidents.
    pub by_class: BTreeMap<String, usize>,
    /// Times over all counted incidents.
    pub times: Times,
    /// Per month, oldest first.
    pub months: Vec<Month>,
    /// The response's own signals.
    pub response: ResponseSignals,
    /// Action items of the counted incidents.
    pub actions: ActionSummary,
    /// Whether this is the drills' report.
    pub of_drills: bool,
    /// With `drills`: each drill's scorecard, oldest first (empty otherwise).
    pub drills: Vec<crate::core::drill::Scorecard>,
}

/// The failure class of an incident: the detector of its first signal.
pub fn failure_class(inc: &Incident) -> Option<&str> {
    inc.signals
        .values()
        .min_by_key(|s| s.first_fired)
        .map(|s| s.detector.as_str())
}

/// The target the incident was about: the chosen primary target, else the first signal's.
fn primary_target(inc: &Incident) -> Option<&str> {
    inc.primary_target.as_deref().or_else(|| {
        inc.signals
            .values()
            .min_by_key(|s| s.first_fired)
            .map(|s| s.target.as_str())
    })
}

/// The report over `incidents` (timeline, its fold) opened at or after
/// `since`, action items as of `today`: the real incidents, or with `drills`
/// the drills alone, each with its scorecard. Incidents that never opened (no
/// `incident_opened`) are left out.
pub fn build(
    incidents: &[(PathBuf, Incident)],
    since: Option<DateTime<Utc>>,
    today: NaiveDate,
    drills: bool,
) -> Report {
    // Drills are reported apart: never in the real figures, alone with `drills`.
    let mut all: Vec<&(PathBuf, Incident)> = incidents
        .iter()
        .filter(|(_, i)| i.opened.is_some() && i.drill.is_some() == drills)
        .collect();
    all.sort_by_key(|(p, i)| (i.opened, p.clone()));
    // Recurrence looks back over every earlier incident, inside the window or not.
    let mut seen_class: BTreeSet<&str> = BTreeSet::new();
    let mut seen_target: BTreeSet<&str> = BTreeSet::new();
    let mut response = ResponseSignals::default();
    let mut counted: Vec<&(PathBuf, Incident)> = Vec::new();
    let mut to_update = Vec::new();
    let mut triage = Vec::new();
    for entry in &all {
        let inc = &entry.1;
        let class = failure_class(inc);
        let target = primary_target(inc);
        let inside = since.is_none_or(|s| inc.opened.is_some_and(|o| o >= s));
        if inside {
            response.recurring_class += usize::from(class.is_some_and(|c| seen_class.contains(c)));
            response.recurring_target +=
                usize::from(target.is_some_and(|t| seen_target.contains(t)));
            counted.push(entry);
            let detected = inc.stage(crate::core::event::Stage::Detected);
            if let (Some(d), Some(first)) = (detected, inc.comms.iter().map(|c| c.at).min())
                && first >= d
            {
                to_update.push((first - d).num_milliseconds() as f64 / 1000.0);
            }
            let entered = |p: Phase| inc.phases.iter().find(|x| x.0 == p).map(|x| x.1);
            if let (Some(t), Some(m)) = (entered(Phase::Triage), entered(Phase::Mitigate))
                && m >= t
            {
                triage.push((m - t).num_milliseconds() as f64 / 1000.0);
            }
            response.dead_ends += inc
                .hypotheses
                .iter()
                .filter(|h| h.status == HypothesisStatus::RuledOut)
                .count();
            for n in inc
                .notes
                .iter()
                .filter(|n| n.tags.iter().any(|t| t == "feedback"))
            {
                response
                    .feedback
                    .push((inc.title.clone(), n.at, n.actor.clone(), n.text.clone()));
            }
        }
        seen_class.extend(class);
        seen_target.extend(target);
    }
    response.detection_to_first_update = Stat::of(to_update);
    response.triage_to_mitigation = Stat::of(triage);
    response.dead_ends_per_incident = if counted.is_empty() {
        0.0
    } else {
        response.dead_ends as f64 / counted.len() as f64
    };
    let mut by_severity = BTreeMap::new();
    let mut by_class = BTreeMap::new();
    let mut months: BTreeMap<String, Vec<&Incident>> = BTreeMap::new();
    for (_, inc) in &counted {
        let sev = inc
            .current_severity()
            .map_or("unset".to_string(), |s| s.to_string());
        *by_severity.entry(sev).or_insert(0) += 1;
        *by_class
            .entry(failure_class(inc).unwrap_or("unknown").to_string())
            .or_insert(0) += 1;
        if let Some(o) = inc.opened {
            months
                .entry(o.format("%Y-%m").to_string())
                .or_default()
                .push(inc);
        }
    }
    let owned: Vec<(PathBuf, Incident)> =
        counted.iter().map(|e| (e.0.clone(), e.1.clone())).collect();
    let rows = actions::rows(&owned, today, &Filter::default());
    let mut summary = ActionSummary::default();
    for r in &rows {
        let owner = if r.item.owner.is_empty() {
            "—".to_string()
        } else {
            r.item.owner.trim_start_matches('@').to_string()
        };
        let slot = summary.by_owner.entry(owner.clone()).or_default();
        match r.state {
            State::Overdue => {
                summary.open += 1;
                summary.overdue += 1;
                slot.0 += 1;
                slot.1 += 1;
                summary.oldest_overdue.push((
                    r.item.short_id().unwrap_or_default(),
                    r.item.due.clone().unwrap_or_default(),
                    owner,
                    r.item.text.clone(),
                    r.incident.clone(),
                ));
            }
            State::Open => {
                summary.open += 1;
                slot.0 += 1;
            }
            State::Done => {
                summary.done += 1;
                slot.2 += 1;
            }
        }
    }
    let bundled = crate::core::playbook::shipped();
    let scorecards = counted
        .iter()
        .filter_map(|e| {
            crate::core::drill::score(&e.1, crate::core::drill::cadence(&e.1, &bundled))
        })
        .collect();
    Report {
        of_drills: drills,
        drills: scorecards,
        since,
        incidents: counted.len(),
        by_severity,
        by_class,
        times: Times::of(counted.iter().map(|e| &e.1)),
        months: months
            .into_iter()
            .map(|(month, list)| Month {
                month,
                incidents: list.len(),
                times: Times::of(list.iter().copied()),
            })
            .collect(),
        response,
        actions: summary,
    }
}

fn secs(v: Option<f64>) -> String {
    match v {
        Some(s) => span(Duration::milliseconds((s * 1000.0).round() as i64)),
        None => "—".into(),
    }
}

fn stat_cells(s: &Stat) -> String {
    format!(
        "{} | {} | {} | {}",
        s.n,
        secs(s.median_s),
        secs(s.p90_s),
        secs(s.worst_s)
    )
}

/// Text from a timeline in a table cell or a line: Markdown-escaped (no
/// HTML, link or image of theirs reaches the page), one line, `|` escaped.
fn cell(s: &str) -> String {
    crate::core::text::markdown(&s.replace('\n', " ")).replace('|', "\\|")
}

/// The report's trend charts: the median MTTD and MTTR of each month (a
/// point at the month's first day), when two months or more have them.
pub fn trend_charts(r: &Report) -> Vec<crate::core::chart::Chart> {
    use crate::core::chart::{Chart, Unit};
    let month_start = |m: &str| {
        NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
    };
    let starts: Vec<DateTime<Utc>> = r
        .months
        .iter()
        .filter_map(|m| month_start(&m.month))
        .collect();
    let (Some(first), Some(last)) = (starts.first(), starts.last()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (title, pick) in [
        (
            "MTTD per month (median)",
            (|t: &Times| t.mttd.median_s) as fn(&Times) -> Option<f64>,
        ),
        ("MTTR per month (median)", |t: &Times| t.mttr.median_s),
    ] {
        let points: Vec<_> = r
            .months
            .iter()
            .filter_map(|m| Some((month_start(&m.month)?, pick(&m.times)?)))
            .collect();
        if points.len() < 2 {
            continue;
        }
        out.push(Chart {
            title: title.into(),
            unit: Unit::Seconds,
            points,
            markers: Vec::new(),
            from: *first - Duration::days(15),
            to: *last + Duration::days(15),
            time_format: "%Y-%m",
        });
    }
    out
}

/// The report as one self-contained HTML page, its trend charts inline.
pub fn html(r: &Report) -> String {
    let charts = trend_charts(r);
    let mut md = markdown(r);
    if !charts.is_empty() {
        let refs: String = charts
            .iter()
            .enumerate()
            .map(|(i, c)| format!("![{}](chart:{i})\n\n", c.title))
            .collect();
        // The trend right under the month table.
        match md.find("\n## How the response went") {
            Some(at) => md.insert_str(at, &format!("\n{refs}")),
            None => md.push_str(&refs),
        }
    }
    let title = if !r.of_drills {
        "Incident report"
    } else {
        "Drill report"
    };
    crate::core::page::html(title, &md, &charts)
}

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let window = match r.since {
        Some(s) => format!("since {}", s.format("%Y-%m-%d")),
        None => "all time".into(),
    };
    let what = if !r.of_drills {
        "Incident report"
    } else {
        "Drill report"
    };
    let _ = writeln!(out, "# {what} ({window})\n");
    let _ = writeln!(out, "{} incident(s).\n", r.incidents);
    let counts = |m: &BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, v)| format!("{} {v}", cell(k)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "- **By severity:** {}",
        or_none(counts(&r.by_severity))
    );
    let _ = writeln!(
        out,
        "- **By failure class** (the first signal's detector): {}\n",
        or_none(counts(&r.by_class))
    );
    let _ = writeln!(out, "## Response times\n");
    let _ = writeln!(
        out,
        "| figure | incidents | median | p90 | worst |\n|---|---|---|---|---|"
    );
    for (name, s) in [
        ("MTTD (impact → detected)", &r.times.mttd),
        ("MTTA (detected → acknowledged)", &r.times.mtta),
        ("MTTM (impact → mitigated)", &r.times.mttm),
        ("MTTR (impact → resolved)", &r.times.mttr),
    ] {
        let _ = writeln!(out, "| {name} | {} |", stat_cells(s));
    }
    let _ = writeln!(out, "\n## Per month\n");
    let _ = writeln!(
        out,
        "| month | incidents | MTTD median | MTTA median | MTTM median | MTTR median |\n|---|---|---|---|---|---|"
    );
    for m in &r.months {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            m.month,
            m.incidents,
            secs(m.times.mttd.median_s),
            secs(m.times.mtta.median_s),
            secs(m.times.mttm.median_s),
            secs(m.times.mttr.median_s)
        );
    }
    let s = &r.response;
    let _ = writeln!(out, "\n## How the response went\n");
    let _ = writeln!(
        out,
        "| signal | incidents | median | p90 | worst |\n|---|---|---|---|---|"
    );
    let _ = writeln!(
        out,
        "| detected → first status update | {} |",
        stat_cells(&s.detection_to_first_update)
    );
    let _ = writeln!(
        out,
        "| triage → mitigation | {} |",
        stat_cells(&s.triage_to_mitigation)
    );
    let share = |n: usize| {
        if r.incidents == 0 {
            "—".to_string()
        } else {
            format!(
                "{n} of {} ({:.0}%)",
                r.incidents,
                n as f64 / r.incidents as f64 * 100.0
            )
        }
    };
    let _ = writeln!(
        out,
        "\n- **Dead ends** (hypotheses ruled out): {} in all, {:.1} per incident",
        s.dead_ends, s.dead_ends_per_incident
    );
    let _ = writeln!(
        out,
        "- **Recurring failure class** (an earlier incident had it): {}",
        share(s.recurring_class)
    );
    let _ = writeln!(
        out,
        "- **Recurring target** (an earlier incident was on it): {}",
        share(s.recurring_target)
    );
    if s.feedback.is_empty() {
        let _ = writeln!(
            out,
            "- **Feedback:** none recorded (`ic event -k note --tag feedback \"…\"`, or `#feedback` in a note)"
        );
    } else {
        let _ = writeln!(out, "- **Feedback:**");
        for (title, at, who, text) in &s.feedback {
            let _ = writeln!(
                out,
                "  - {} ({}, {}): {}",
                cell(title),
                at.format("%Y-%m-%d"),
                cell(who),
                cell(text)
            );
        }
    }
    let a = &r.actions;
    let _ = writeln!(out, "\n## Action items\n");
    let _ = writeln!(
        out,
        "{} open ({} overdue), {} done.\n",
        a.open, a.overdue, a.done
    );
    if !a.by_owner.is_empty() {
        let _ = writeln!(out, "| owner | open | overdue | done |\n|---|---|---|---|");
        for (owner, (open, overdue, done)) in &a.by_owner {
            let _ = writeln!(out, "| {} | {open} | {overdue} | {done} |", cell(owner));
        }
    }
    if !r.drills.is_empty() {
        let _ = writeln!(out, "\n## Drills, oldest first\n");
        let _ = writeln!(
            out,
            "| opened | scenario | acknowledge | severity | first update | mitigation | skipped | dead ends | cadence | playbook | cause |\n|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for d in &r.drills {
            let yes = |v: Option<bool>| match v {
                Some(true) => "yes",
                Some(false) => "no",
                None => "—",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                d.opened
                    .map_or("—".into(), |o| o.format("%Y-%m-%d %H:%M").to_string()),
                cell(&d.scenario),
                secs(d.to_acknowledge_s.map(|s| s as f64)),
                secs(d.to_severity_s.map(|s| s as f64)),
                secs(d.to_first_update_s.map(|s| s as f64)),
                secs(d.to_mitigation_s.map(|s| s as f64)),
                d.steps_skipped,
                d.dead_ends,
                yes(d.on_cadence),
                yes(d.playbook.as_ref().map(|p| p.1)),
                yes(d.cause.as_ref().map(|c| c.1)),
            );
        }
    }
    if !a.oldest_overdue.is_empty() {
        let _ = writeln!(out, "\nOverdue, the oldest first:\n");
        let _ = writeln!(
            out,
            "| ID | due | owner | item | incident |\n|---|---|---|---|---|"
        );
        for (id, due, owner, text, incident) in &a.oldest_overdue {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                cell(id),
                cell(due),
                cell(owner),
                cell(text),
                cell(incident)
            );
        }
    }
    out
}

fn or_none(s: String) -> String {
    if s.is_empty() { "none".into() } else { s }
}
