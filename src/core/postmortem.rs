//! The postmortem: a deterministic rendering of an incident's timeline as
//! Markdown (for people) or JSON (for tools) — summary, severity, impact,
//! lifecycle figures, the whole timeline, the hypotheses and their evidence,
//! commands run, what went well and poorly, root cause and action items, in
//! blameless wording. Text from the timeline is escaped (`core::text`): no
//! control character, forged line or bidi override reaches the document.
//! Pure: the same events always give the same document.

use crate::core::chart::{Chart, Marker, Unit};
use crate::core::event::{Event, Kind, Priority, Stage, format_ts};
use crate::core::incident::{CommandRecord, HypothesisStatus, Impact, Incident, TargetImpact};
use crate::core::text;
use chrono::Duration;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// `1h 02m 03s`, `4m 05s`, `12s`.
pub fn span(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m {:02}s", s / 3600, (s % 3600) / 60, s % 60),
    }
}

fn opt_span(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".to_string(), span)
}

/// Escapes text for a Markdown table cell: a newline becomes a space, `|` is
/// escaped, and every other control character or bidi override is shown as an
/// escape (`core::text`).
fn cell(s: &str) -> String {
    esc(&s.replace('\n', " ")).replace('|', "\\|")
}

/// Text from the timeline as it goes into the document's prose (see
/// [`text::markdown`]).
fn esc(s: &str) -> Cow<'_, str> {
    text::markdown(s)
}

/// Text from the timeline inside a code block or span, where Markdown reads
/// nothing but the closing fence: control characters escaped only.
fn esc_code(s: &str) -> Cow<'_, str> {
    text::escape(s)
}

/// Where a Markdown postmortem finds its charts.
#[derive(Debug, Clone, Copy)]
pub enum ChartRefs<'a> {
    /// Nowhere (stdout): a line says how to get them.
    None,
    /// SVG files in this directory, relative to the document (`pm.assets`).
    Files(&'a str),
    /// `chart:N` references that [`html`] replaces with the SVG itself.
    Inline,
}

/// Renders the postmortem as Markdown: one section after another, each
/// written by its own function below.
pub fn markdown(events: &[Event]) -> String {
    markdown_with(events, ChartRefs::None)
}

/// [`markdown`] with its charts referenced as `refs` says.
pub fn markdown_with(events: &[Event], refs: ChartRefs<'_>) -> String {
    let inc = Incident::fold(events);
    let impact = inc.impact();
    let mut out = String::new();
    header(&mut out, &inc);
    summary(&mut out, &inc);
    responders_section(&mut out, &inc, events);
    impact_summary(&mut out, &inc, &impact);
    impact_by_target(&mut out, &impact.targets);
    charts_section(&mut out, &charts_of(&inc), refs);
    lifecycle(&mut out, &inc);
    halving(&mut out, &inc);
    signals(&mut out, &inc);
    timeline(&mut out, events);
    hypotheses(&mut out, &inc);
    dead_ends(&mut out, &inc);
    commands(&mut out, &inc);
    changes(&mut out, &inc);
    status_updates(&mut out, &inc);
    went_well_and_poorly(&mut out, &inc);
    tagged_sections(&mut out, &inc);
    root_cause(&mut out, &inc);
    action_items(&mut out, &inc);
    review(&mut out, &inc);
    drill_scorecard(&mut out, &inc);
    notes_on_the_record(&mut out, &inc);
    out
}

/// The title and the blameless preamble.
fn header(out: &mut String, inc: &Incident) {
    let title = if inc.title.is_empty() {
        "Untitled incident"
    } else {
        &inc.title
    };
    let _ = writeln!(out, "# Postmortem: {}\n", esc(title));
    let _ = writeln!(
        out,
        "_Blameless review. This document describes what happened and how the system and our process behaved, not who is to blame._\n"
    );
}

/// `## Summary`: service, severity, status, playbook, roles and the severity
/// history when it changed.
fn summary(out: &mut String, inc: &Incident) {
    let _ = writeln!(out, "## Summary\n");
    let sev = inc
        .current_severity()
        .map_or("not set".to_string(), |s| s.to_string());
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Service | {} |", cell(or_dash(&inc.service)));
    let _ = writeln!(out, "| Severity | {sev} |");
    let _ = writeln!(out, "| Status | {} |", status(inc));
    let _ = writeln!(
        out,
        "| Playbook | {} |",
        cell(inc.playbook.as_deref().unwrap_or("—"))
    );
    for (role, person) in &inc.roles {
        let _ = writeln!(out, "| {} | {} |", cell(role), cell(person));
    }
    if inc.severity.len() > 1 {
        let history: Vec<String> = inc
            .severity
            .iter()
            .map(|s| format!("{} at {}", s.severity, format_ts(s.at)))
            .collect();
        let _ = writeln!(out, "| Severity history | {} |", history.join(" → "));
    }
    out.push('\n');
}

/// One chart of the postmortem and the file name it is saved under.
#[derive(Debug, Clone)]
pub struct PostmortemChart {
    /// `shop-api-payments-error-rate` (unique within the postmortem).
    pub name: String,
    /// The chart.
    pub chart: Chart,
}

/// The postmortem's charts: for each affected target (else each target in
/// the metric snapshots) with snapshots, its error rate, p95 latency and
/// traffic over the incident — from two minutes before the impact started to
/// a minute after it was resolved — with the lifecycle and the changes marked.
pub fn charts(events: &[Event]) -> Vec<PostmortemChart> {
    charts_of(&Incident::fold(events))
}

fn charts_of(inc: &Incident) -> Vec<PostmortemChart> {
    let affected = inc.impact().affected;
    let mut targets: Vec<&str> = inc
        .snapshots
        .iter()
        .map(|r| r.target.as_str())
        .filter(|t| affected.is_empty() || affected.contains(*t))
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let stages = [
        (Stage::ImpactStarted, "impact started"),
        (Stage::Detected, "detected"),
        (Stage::Acknowledged, "acknowledged"),
        (Stage::Mitigated, "mitigated"),
        (Stage::ImpactEnded, "impact ended"),
        (Stage::Resolved, "resolved"),
    ];
    let mut markers: Vec<Marker> = stages
        .iter()
        .filter_map(|(s, label)| {
            inc.stage(*s).map(|at| Marker {
                at,
                label: label.to_string(),
                change: false,
            })
        })
        .collect();
    markers.extend(inc.changes.iter().take(MAX_POINTS).map(|c| Marker {
        at: c.at,
        label: text::ellipsis(&c.text, 40),
        change: true,
    }));
    // At most MAX_CHARTED targets (the most snapshot rows first), each row read once.
    type Rows<'a> = Vec<&'a crate::core::incident::SnapshotRow>;
    let mut by_target: BTreeMap<&str, Rows<'_>> = BTreeMap::new();
    for r in &inc.snapshots {
        if targets.binary_search(&r.target.as_str()).is_ok() {
            by_target.entry(r.target.as_str()).or_default().push(r);
        }
    }
    let mut ranked: Vec<(&str, Rows<'_>)> = by_target.into_iter().collect();
    ranked.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(b.0)));
    ranked.truncate(MAX_CHARTED);
    ranked.sort_by(|a, b| a.0.cmp(b.0));
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for (target, mut rows) in ranked {
        // Every n-th row past MAX_POINTS (a minute a row: days of snapshots).
        let step = rows.len().div_ceil(MAX_POINTS).max(1);
        if step > 1 {
            rows = rows.into_iter().step_by(step).collect();
        }
        let first = rows.iter().map(|r| r.at).min();
        let last = rows.iter().map(|r| r.at).max();
        let (Some(first), Some(last)) = (first, last) else {
            continue;
        };
        let start = inc
            .stage(Stage::ImpactStarted)
            .map_or(first, |s| s.min(first));
        let end = inc.stage(Stage::Resolved).map_or(last, |r| r.max(last));
        let from = start - Duration::minutes(2);
        let to = end + Duration::minutes(1);
        let series: [(&str, Unit, Pick); 3] = [
            ("error rate", Unit::Percent, |r| r.error_ratio),
            ("p95 latency", Unit::Millis, |r| r.p95_ms),
            ("traffic", Unit::PerSecond, |r| r.rps),
        ];
        for (what, unit, pick) in series {
            let points: Vec<_> = rows
                .iter()
                .filter_map(|r| pick(r).map(|v| (r.at, v)))
                .collect();
            if points.is_empty() {
                continue;
            }
            let mut name = format!("{}-{}", slug(target), slug(what));
            let mut n = 2;
            while !names.insert(name.clone()) {
                name = format!("{}-{}-{n}", slug(target), slug(what));
                n += 1;
            }
            out.push(PostmortemChart {
                name,
                chart: Chart {
                    title: format!("{target}: {what}"),
                    unit,
                    points,
                    markers: markers.clone(),
                    from,
                    to,
                    time_format: "%H:%M",
                },
            });
        }
    }
    out
}

/// Which figure of a snapshot row a chart shows.
type Pick = fn(&crate::core::incident::SnapshotRow) -> Option<f64>;

/// Most targets charted in one postmortem.
const MAX_CHARTED: usize = 10;
/// Most points in one chart.
const MAX_POINTS: usize = 1_500;

/// `shop /api/payments` → `shop-api-payments`: lower-case letters, digits, dashes.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out
        .trim_end_matches('-')
        .chars()
        .take(60)
        .collect::<String>();
    if out.is_empty() { "target".into() } else { out }
}

/// `## Charts`: the images, or how to get them.
fn charts_section(out: &mut String, charts: &[PostmortemChart], refs: ChartRefs<'_>) {
    let _ = writeln!(out, "## Charts\n");
    if charts.is_empty() {
        let _ = writeln!(
            out,
            "_No metric snapshots in the timeline to chart (`ic watch` and the view write one a minute while an incident is open)._\n"
        );
        return;
    }
    match refs {
        ChartRefs::None => {
            let _ = writeln!(
                out,
                "_{} charts (error rate, p95 latency and traffic of each affected target): `ic postmortem -o FILE` writes them beside the document, `--format html` puts them in it._\n",
                charts.len()
            );
        }
        ChartRefs::Files(dir) => {
            for c in charts {
                let _ = writeln!(out, "![{}]({dir}/{}.svg)\n", cell(&c.chart.title), c.name);
            }
        }
        ChartRefs::Inline => {
            for (i, c) in charts.iter().enumerate() {
                let _ = writeln!(out, "![{}](chart:{i})\n", cell(&c.chart.title));
            }
        }
    }
}

/// The postmortem as one self-contained HTML page: the Markdown rendered
/// (CommonMark with tables), its charts inline as SVG, a stylesheet that
/// prints well, nothing fetched from anywhere.
pub fn html(events: &[Event]) -> String {
    let inc = Incident::fold(events);
    let md = markdown_with(events, ChartRefs::Inline);
    let charts: Vec<Chart> = charts_of(&inc).into_iter().map(|c| c.chart).collect();
    let title = if inc.title.is_empty() {
        "Untitled incident"
    } else {
        &inc.title
    };
    crate::core::page::html(&format!("Postmortem: {title}"), &md, &charts)
}

/// Everyone who wrote to the timeline (not `ic`, CI or a bot), with their
/// roles and when each first did: (person, roles, joined).
pub fn responders(inc: &Incident, events: &[Event]) -> Vec<(String, Vec<String>, DateTime<Utc>)> {
    let mut joined: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| !e.actor.is_empty() && !crate::core::incident::is_automation(&e.actor))
    {
        let at = joined.entry(e.actor.as_str()).or_insert(e.ts);
        *at = (*at).min(e.ts);
    }
    // A role given to someone who never wrote: they joined when it was given.
    let mut people: Vec<(String, Vec<String>, DateTime<Utc>)> = joined
        .into_iter()
        .map(|(p, at)| (p.to_string(), Vec::new(), at))
        .collect();
    for (role, person) in &inc.roles {
        match people.iter_mut().find(|p| &p.0 == person) {
            Some(p) => p.1.push(role.clone()),
            None => {
                let given = |e: &&Event| matches!(e.payload(), Ok(crate::core::payload::Payload::Role(r)) if &r.person == person);
                let at = events
                    .iter()
                    .find(given)
                    .map_or(inc.opened.unwrap_or_default(), |e| e.ts);
                people.push((person.clone(), vec![role.clone()], at));
            }
        }
    }
    people.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
    people
}

/// `## Responders`: who took part, their roles, when each joined.
fn responders_section(out: &mut String, inc: &Incident, events: &[Event]) {
    let _ = writeln!(
        out,
        "## Responders
"
    );
    let people = responders(inc, events);
    if people.is_empty() {
        let _ = writeln!(
            out,
            "_No one but `ic` wrote to the timeline (roles: `ic event -k role \"comms cat\"`)._\n"
        );
        return;
    }
    let _ = writeln!(out, "| Responder | Roles | Joined |\n|---|---|---|");
    for (person, roles, at) in people {
        let roles = if roles.is_empty() {
            "—".to_string()
        } else {
            roles.iter().map(|r| cell(r)).collect::<Vec<_>>().join(", ")
        };
        let _ = writeln!(out, "| {} | {roles} | {} |", cell(&person), format_ts(at));
    }
    out.push('\n');
}

/// `## Halving detection and mitigation`: the facts the review starts from.
fn halving(out: &mut String, inc: &Incident) {
    let _ = writeln!(
        out,
        "## How would we have halved detection and mitigation time?\n"
    );
    // Only a detection that happened: a signal, or a time a responder gave.
    let detected = inc.stage(Stage::Detected).filter(|_| {
        !inc.signals.is_empty() || inc.lifecycle.contains_key(Stage::Detected.as_str())
    });
    let mut facts = Vec::new();
    let f = inc.figures();
    if let Some(d) = f.time_to_detect.filter(|_| detected.is_some()) {
        let by = inc
            .signals
            .values()
            .min_by_key(|s| s.first_fired)
            .map(|s| format!(" (first signal: {} on {})", s.detector, s.target))
            .unwrap_or_default();
        facts.push(format!("detected {} after the impact started{by}", span(d)));
    }
    if let (Some(d), Some((at, what))) = (detected, inc.mitigation())
        && at >= d
    {
        facts.push(format!(
            "the first mitigation ({what}) came {} after detection",
            span(at - d)
        ));
    }
    match (detected, inc.comms.iter().map(|c| c.at).min()) {
        (Some(d), Some(first)) if first >= d => facts.push(format!(
            "the first status update went out {} after detection",
            span(first - d)
        )),
        (_, None) => facts.push("no status update was recorded".into()),
        _ => {}
    }
    let dead = inc
        .hypotheses
        .iter()
        .filter(|h| h.status == HypothesisStatus::RuledOut)
        .count();
    if dead > 0 {
        facts.push(if dead == 1 {
            "1 hypothesis was ruled out on the way (see Dead ends)".to_string()
        } else {
            format!("{dead} hypotheses were ruled out on the way (see Dead ends)")
        });
    }
    if facts.is_empty() {
        let _ = writeln!(
            out,
            "_No lifecycle times recorded (`ic event -k detected`, `-k mitigated`)._\n"
        );
        return;
    }
    for fact in facts {
        let _ = writeln!(out, "- {}", esc(&fact));
    }
    let _ = writeln!(
        out,
        "- _to answer at the review: what would have made each of these half as long_\n"
    );
}

/// `## Impact`: the overall table (affected targets, failed requests, peak
/// error rate, duration of impact).
fn impact_summary(out: &mut String, inc: &Incident, impact: &Impact) {
    let _ = writeln!(out, "## Impact\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(
        out,
        "| Affected targets | {} |",
        if impact.affected.is_empty() {
            "—".to_string()
        } else {
            impact
                .affected
                .iter()
                .map(|a| cell(a))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let _ = writeln!(
        out,
        "| Failed requests | {} |",
        impact.failed_requests.map_or(
            "not measured (no route counts or metric snapshots in the timeline)".to_string(),
            |n| n.to_string()
        )
    );
    if let Some(p) = impact.peak_error_ratio {
        let _ = writeln!(out, "| Peak error rate (30 s) | {:.2}% |", p * 100.0);
    }
    let _ = writeln!(
        out,
        "| Duration of impact | {} |",
        match inc.figures().duration_of_impact {
            Some(d) => span(d),
            None if inc.firing().next().is_some() => "still going (a signal fires)".to_string(),
            None => "—".to_string(),
        }
    );
    out.push('\n');
}

/// The per-target impact table under `## Impact` (nothing when no target
/// was measured), with a note when the impact began before `ic` started.
fn impact_by_target(out: &mut String, targets: &[TargetImpact]) {
    if targets.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "| Target | Requests | Failed | Peak error rate (30 s) | p95 before / during / after | Impact |\n|---|---|---|---|---|---|"
    );
    let ms = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.0} ms"));
    for t in targets {
        let name = if t.also.is_empty() {
            cell(&t.target)
        } else {
            format!("{} (also {})", cell(&t.target), cell(&t.also.join(", ")))
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} / {} / {} | {} → {} |",
            t.requests,
            t.failed,
            t.peak_error_ratio
                .map_or("—".to_string(), |p| format!("{:.2}%", p * 100.0)),
            ms(t.p95_before_ms),
            ms(t.p95_during_ms),
            ms(t.p95_after_ms),
            t.started.map_or("—".to_string(), format_ts),
            t.ended.map_or("still going".to_string(), format_ts),
        );
    }
    out.push('\n');
    if let Some(t) = targets.iter().find(|t| t.began_before_ic) {
        let _ = writeln!(
            out,
            "_Impact began before ic started: the earliest evidence is ic's first data on {} at {}; the real start may be earlier._\n",
            cell(&t.target),
            t.started.map_or("—".to_string(), format_ts)
        );
    }
}

/// `## Lifecycle`: each stage's time and the figure measured to it, then
/// when the incident was closed and how the stages are measured.
fn lifecycle(out: &mut String, inc: &Incident) {
    let f = inc.figures();
    let _ = writeln!(out, "## Lifecycle\n");
    let _ = writeln!(out, "| Stage | Time (UTC) | |\n|---|---|---|");
    for (stage, label, figure) in [
        (Stage::ImpactStarted, "Impact started", None),
        (
            Stage::Detected,
            "Detected",
            Some(("time to detect", f.time_to_detect)),
        ),
        (
            Stage::Acknowledged,
            "Acknowledged",
            Some(("time to acknowledge", f.time_to_acknowledge)),
        ),
        (
            Stage::Mitigated,
            "Mitigated",
            Some(("time to mitigate", f.time_to_mitigate)),
        ),
        (
            Stage::ImpactEnded,
            "Impact ended",
            Some(("duration of impact", f.duration_of_impact)),
        ),
        (
            Stage::Resolved,
            "Resolved",
            Some(("time to resolve", f.time_to_resolve)),
        ),
    ] {
        let at = inc.stage(stage).map_or("—".to_string(), format_ts);
        let mut fig = figure.map_or(String::new(), |(n, d)| format!("{n}: {}", opt_span(d)));
        if stage == Stage::Mitigated {
            mitigation_note(&mut fig, inc);
        }
        let _ = writeln!(out, "| {label} | {at} | {fig} |");
    }
    let _ = writeln!(
        out,
        "| Closed | {} | |",
        inc.closed.map_or("—".to_string(), format_ts)
    );
    out.push('\n');
    let _ = writeln!(
        out,
        "_Impact started, impact ended and mitigated are measured from the data (the detectors' change points); detected is the first alert; acknowledged is a person's explicit acknowledgement or first action; resolved is a responder's declaration. `ic event -k <stage> --at TIME` corrects any of them._\n"
    );
}

/// Appends to the mitigated row's figure what the mitigation followed (the
/// command or change before it), unless a responder set the stage by hand.
fn mitigation_note(fig: &mut String, inc: &Incident) {
    if inc.lifecycle.contains_key(Stage::Mitigated.as_str()) {
        return;
    }
    match inc.mitigation() {
        Some((t, what)) => {
            let _ = write!(fig, "; after {} at {}", cell(&what), format_ts(t));
        }
        None if inc.stage(Stage::Mitigated).is_some() => {
            fig.push_str("; no command or change recorded before it");
        }
        None => {}
    }
}

/// `## Signals`: what each detector said about each target (nothing when
/// none fired).
fn signals(out: &mut String, inc: &Incident) {
    if inc.signals.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Signals\n");
    let _ = writeln!(
        out,
        "| Detector | Target | Anomaly began | First fired | Anomaly ended | Resolved | Last evidence |\n|---|---|---|---|---|---|---|"
    );
    for s in inc.signals.values() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            cell(&s.detector.to_string()),
            cell(&s.target),
            s.started.map_or("—".to_string(), format_ts),
            format_ts(s.first_fired),
            s.ended.map_or("—".to_string(), format_ts),
            s.resolved.map_or(
                if s.firing {
                    "still firing".to_string()
                } else {
                    "—".to_string()
                },
                format_ts
            ),
            cell(&s.evidence)
        );
    }
    out.push('\n');
}

/// `## Timeline`: every event, in file order.
fn timeline(out: &mut String, events: &[Event]) {
    let _ = writeln!(out, "## Timeline\n");
    let _ = writeln!(out, "| Time (UTC) | Kind | Who | What |\n|---|---|---|---|");
    for e in events {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            format_ts(e.ts),
            e.kind,
            cell(&e.actor),
            cell(&e.msg)
        );
    }
    out.push('\n');
}

/// `## Hypotheses`: the assumption ledger, each hypothesis with where it
/// stands and its evidence for and against.
fn hypotheses(out: &mut String, inc: &Incident) {
    let _ = writeln!(out, "## Hypotheses\n");
    if inc.hypotheses.is_empty() {
        let _ = writeln!(out, "_None recorded._\n");
    }
    for h in &inc.hypotheses {
        let status = match h.status {
            HypothesisStatus::Open => "open",
            HypothesisStatus::Confirmed => "confirmed",
            HypothesisStatus::RuledOut => "ruled out",
        };
        let _ = writeln!(out, "- **{}** {} — _{status}_", esc(&h.id), esc(&h.text));
        for ev in &h.evidence {
            let _ = writeln!(
                out,
                "  - {} {} ({}, {})",
                if ev.supports { "for:" } else { "against:" },
                esc(&ev.text),
                esc(&ev.actor),
                format_ts(ev.at)
            );
        }
    }
    if !inc.hypotheses.is_empty() {
        out.push('\n');
    }
}

/// `## Dead ends`: hypotheses ruled out, and how long each was held.
fn dead_ends(out: &mut String, inc: &Incident) {
    let ruled_out: Vec<_> = inc
        .hypotheses
        .iter()
        .filter(|h| h.status == HypothesisStatus::RuledOut)
        .collect();
    if ruled_out.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Dead ends\n");
    for h in ruled_out {
        let held = h
            .decided
            .filter(|d| *d >= h.raised)
            .map_or("—".to_string(), |d| span(d - h.raised));
        let _ = writeln!(
            out,
            "- **{}** {} — held {held} ({})",
            esc(&h.id),
            esc(&h.text),
            esc(&h.actor)
        );
    }
    out.push('\n');
}

/// `## Commands run` (nothing when none ran).
fn commands(out: &mut String, inc: &Incident) {
    if inc.commands.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Commands run\n");
    for c in &inc.commands {
        command(out, c);
    }
}

/// One command: its step, who confirmed it, when and how it ended, the
/// command itself and the first lines of its output.
fn command(out: &mut String, c: &CommandRecord) {
    let when = c.started.or(c.ended).map_or("?".to_string(), format_ts);
    let how = if c.unfinished() {
        "**no recorded end** (ic stopped while it ran: check whether it finished)".to_string()
    } else {
        format!(
            "{}{}",
            esc(&c.outcome),
            c.duration_ms.map_or(String::new(), |ms| format!(
                " in {:.1} s",
                ms as f64 / 1000.0
            ))
        )
    };
    let step = c.step.as_deref().map_or(String::new(), |s| {
        format!("step `{}`, ", esc_code(&s.replace('`', "'")))
    });
    let _ = writeln!(
        out,
        "- {step}confirmed by {} at {when}: {how}\n\n  ```sh\n  {}\n  ```",
        esc(&c.actor),
        c.command
            .replace("```", "'''")
            .split('\n')
            .map(esc_code)
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    if !c.output.trim().is_empty() {
        let excerpt: String = c
            .output
            .replace("```", "'''")
            .lines()
            .take(10)
            .map(esc_code)
            .collect::<Vec<_>>()
            .join("\n  ");
        let _ = writeln!(out, "\n  output:\n\n  ```\n  {excerpt}\n  ```");
    }
    out.push('\n');
}

/// `## Changes around the incident`: deploys, config changes, flags
/// (nothing when none was recorded).
fn changes(out: &mut String, inc: &Incident) {
    if inc.changes.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Changes around the incident\n");
    for c in &inc.changes {
        let _ = writeln!(
            out,
            "- {} {} ({})",
            format_ts(c.at),
            esc(&c.text),
            esc(&c.tags.join(", "))
        );
    }
    out.push('\n');
}

/// `## Status updates`: the comms sent (nothing when none was).
fn status_updates(out: &mut String, inc: &Incident) {
    if inc.comms.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Status updates\n");
    for c in &inc.comms {
        let _ = writeln!(
            out,
            "- {} ({}): {}",
            format_ts(c.at),
            esc(&c.actor),
            esc(&c.text.replace('\n', " / "))
        );
    }
    out.push('\n');
}

/// `## What went well` and `## What went poorly`: the notes tagged so, or a
/// placeholder for the review.
fn went_well_and_poorly(out: &mut String, inc: &Incident) {
    for (tag, heading) in [
        ("went_well", "What went well"),
        ("went_poorly", "What went poorly"),
    ] {
        let _ = writeln!(out, "## {heading}\n");
        let notes: Vec<_> = inc
            .notes
            .iter()
            .filter(|n| n.tags.iter().any(|t| t == tag))
            .collect();
        if notes.is_empty() {
            let _ = writeln!(out, "- _to fill in at the review_");
        }
        for n in notes {
            let _ = writeln!(out, "- {} ({})", esc(&n.text), esc(&n.actor));
        }
        out.push('\n');
    }
}

/// The review's own sections, from notes tagged in their text: `## Trigger`,
/// `## Contributing factors` (`#factor`, and `#worse` for what made it worse),
/// `## Where we got lucky` — or how to record them.
fn tagged_sections(out: &mut String, inc: &Incident) {
    let tagged = |tag: &str| -> Vec<&crate::core::incident::Entry> {
        inc.notes
            .iter()
            .filter(|n| n.tags.iter().any(|t| t == tag))
            .collect()
    };
    for (heading, tags, how) in [
        (
            "Trigger",
            &["trigger"][..],
            "what set it off, apart from the cause: `ic event -k note \"#trigger the 02:00 batch doubled the load\"`",
        ),
        (
            "Contributing factors",
            &["contributing_factor", "made_worse"][..],
            "`ic event -k note \"#factor no alert on pool saturation\"`; `#worse` for what made it worse",
        ),
        (
            "Where we got lucky",
            &["lucky"][..],
            "`ic event -k note \"#lucky it happened at low traffic\"`",
        ),
    ] {
        let _ = writeln!(out, "## {heading}\n");
        let notes: Vec<_> = tags.iter().flat_map(|t| tagged(t)).collect();
        if notes.is_empty() {
            let _ = writeln!(out, "- _nothing recorded: {how}_");
        }
        for n in notes {
            let worse = if n.tags.iter().any(|t| t == "made_worse") {
                " _(made it worse)_"
            } else {
                ""
            };
            let _ = writeln!(out, "- {}{worse} ({})", esc(&n.text), esc(&n.actor));
        }
        out.push('\n');
    }
}

/// `## Review`: the review meeting and the approvals, from notes tagged
/// `#review` and `#approved`.
fn review(out: &mut String, inc: &Incident) {
    let _ = writeln!(out, "\n## Review\n");
    let mut any = false;
    for (tag, what) in [("review", "Review"), ("approved", "Approved")] {
        for n in inc.notes.iter().filter(|n| n.tags.iter().any(|t| t == tag)) {
            any = true;
            let _ = writeln!(
                out,
                "- **{what}:** {} ({}, {})",
                esc(&n.text),
                esc(&n.actor),
                format_ts(n.at)
            );
        }
    }
    if !any {
        let _ = writeln!(
            out,
            "- _no review recorded: `ic event -k note \"#review Tue 14:00, owner @ann\"`, then `\"#approved\"` by each approver_"
        );
    }
}

/// The texts of the notes tagged `tag`.
fn tagged_texts<'a>(inc: &'a Incident, tag: &str) -> Vec<&'a str> {
    inc.notes
        .iter()
        .filter(|n| n.tags.iter().any(|t| t == tag))
        .map(|n| n.text.as_str())
        .collect()
}

/// `## Drill scorecard` for a drill (the bundled playbooks give the cadence).
fn drill_scorecard(out: &mut String, inc: &Incident) {
    let cadence = crate::core::drill::cadence(inc, &crate::core::playbook::shipped());
    if let Some(card) = crate::core::drill::score(inc, cadence) {
        out.push('\n');
        out.push_str(&crate::core::drill::markdown(&card));
    }
}

/// `## Root cause`: technical and process, or placeholders for the review.
fn root_cause(out: &mut String, inc: &Incident) {
    let _ = writeln!(out, "## Root cause\n");
    match &inc.root_cause {
        Some((tech, process)) => {
            let _ = writeln!(out, "- **Technical:** {}", esc(or_fill(tech)));
            let _ = writeln!(out, "- **Process:** {}\n", esc(or_fill(process)));
        }
        None => {
            let _ = writeln!(out, "- **Technical:** _to fill in at the review_");
            let _ = writeln!(
                out,
                "- **Process:** _to fill in at the review (what let this reach customers, what slowed the response)_\n"
            );
        }
    }
}

/// `## Action items`: the follow-up table (id, priority, state), or a
/// placeholder row; P1 items past their window are named under it.
fn action_items(out: &mut String, inc: &Incident) {
    let _ = writeln!(out, "## Action items\n");
    let _ = writeln!(
        out,
        "| ID | Action | Owner | Due | Priority | State |\n|---|---|---|---|---|---|"
    );
    if inc.action_items.is_empty() {
        let _ = writeln!(
            out,
            "| | _to fill in at the review_ (`ic event -k action \"add a pool alarm @ann due:fri P1\"`) | | | | |"
        );
    }
    let window = inc
        .opened
        .map(|o| o.date_naive() + chrono::Duration::days(Priority::P1_WITHIN_DAYS));
    let mut late = Vec::new();
    for a in &inc.action_items {
        let id = a.short_id().unwrap_or_default();
        let state = match &a.done {
            Some(d) => format!("done {} by {}", d.at.format("%Y-%m-%d"), d.actor),
            None => "open".to_string(),
        };
        if a.priority == Some(Priority::P1)
            && a.done.is_none()
            && window.is_some_and(|w| a.due_date().is_none_or(|d| d > w))
        {
            late.push(if id.is_empty() {
                a.text.clone()
            } else {
                id.clone()
            });
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&id),
            cell(&a.text),
            cell(or_dash(&a.owner)),
            cell(a.due.as_deref().unwrap_or("—")),
            a.priority.map_or("—", |p| p.as_str()),
            cell(&state)
        );
    }
    if !late.is_empty() {
        let _ = writeln!(
            out,
            "\nP1 items are due within {} days of the incident; not so: {} (its owner should plan it within the window, or the review lower its priority).",
            Priority::P1_WITHIN_DAYS,
            late.iter().map(|l| cell(l)).collect::<Vec<_>>().join(", ")
        );
    }
    let _ = writeln!(
        out,
        "\nClose an item with `ic event -k action-done ID \"what was done\"`; `ic actions` lists every incident's."
    );
}

/// `## Notes on the record`: events whose payload could not be read
/// (nothing when every one could).
fn notes_on_the_record(out: &mut String, inc: &Incident) {
    if inc.problems.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Notes on the record\n");
    for (seq, why) in &inc.problems {
        let _ = writeln!(out, "- event {seq}: {}", esc(why));
    }
}

fn or_dash(s: &str) -> &str {
    if s.trim().is_empty() { "—" } else { s }
}

/// `open`, `resolved` (declared over, still open for learning) or `closed`.
fn status(inc: &Incident) -> &'static str {
    if !inc.is_open() {
        "closed"
    } else if inc.stage(Stage::Resolved).is_some() {
        "resolved"
    } else {
        "open"
    }
}

fn or_fill(s: &str) -> &str {
    if s.trim().is_empty() {
        "_to fill in at the review_"
    } else {
        s
    }
}

/// Renders the postmortem as JSON.
pub fn json(events: &[Event]) -> Value {
    let inc = Incident::fold(events);
    let f = inc.figures();
    let secs = |d: Option<Duration>| d.map(|d| d.num_seconds());
    let stage = |s: Stage| inc.stage(s).map(format_ts);
    json!({
        "title": inc.title,
        "service": inc.service,
        "status": status(&inc),
        "severity": inc.current_severity(),
        "severity_history": inc.severity,
        "playbook": inc.playbook,
        "roles": inc.roles,
        "impact": inc.impact(),
        "lifecycle": {
            "impact_started": stage(Stage::ImpactStarted),
            "detected": stage(Stage::Detected),
            "acknowledged": stage(Stage::Acknowledged),
            "mitigated": stage(Stage::Mitigated),
            "impact_ended": stage(Stage::ImpactEnded),
            "resolved": stage(Stage::Resolved),
            "closed": inc.closed.map(format_ts),
        },
        "mitigation": inc.mitigation().map(|(at, what)| json!({"at": format_ts(at), "what": what})),
        "figures_s": {
            "time_to_detect": secs(f.time_to_detect),
            "time_to_acknowledge": secs(f.time_to_acknowledge),
            "time_to_mitigate": secs(f.time_to_mitigate),
            "duration_of_impact": secs(f.duration_of_impact),
            "time_to_resolve": secs(f.time_to_resolve),
        },
        "signals": inc.signals.values().collect::<Vec<_>>(),
        "hypotheses": inc.hypotheses,
        "commands": inc.commands,
        "changes": inc.changes,
        "comms": inc.comms,
        "went_well": inc.notes.iter().filter(|n| n.tags.iter().any(|t| t == "went_well")).map(|n| &n.text).collect::<Vec<_>>(),
        "went_poorly": inc.notes.iter().filter(|n| n.tags.iter().any(|t| t == "went_poorly")).map(|n| &n.text).collect::<Vec<_>>(),
        "root_cause": inc.root_cause.as_ref().map(|(t, p)| json!({"technical": t, "process": p})),
        "responders": responders(&inc, events).into_iter().map(|(p, roles, at)| json!({"person": p, "roles": roles, "joined": format_ts(at)})).collect::<Vec<_>>(),
        "first_status_update": inc.comms.iter().map(|c| c.at).min().map(format_ts),
        "trigger": tagged_texts(&inc, "trigger"),
        "contributing_factors": tagged_texts(&inc, "contributing_factor"),
        "made_worse": tagged_texts(&inc, "made_worse"),
        "lucky": tagged_texts(&inc, "lucky"),
        "review": tagged_texts(&inc, "review"),
        "approvals": inc.notes.iter().filter(|n| n.tags.iter().any(|t| t == "approved")).map(|n| json!({"by": n.actor, "at": format_ts(n.at), "text": n.text})).collect::<Vec<_>>(),
        "action_items": inc.action_items,
        "timeline": events.iter().map(|e| json!({"seq": e.seq, "ts": format_ts(e.ts), "kind": e.kind, "actor": e.actor, "msg": e.msg})).collect::<Vec<_>>(),
        "problems": inc.problems.iter().map(|(s, w)| json!({"seq": s, "problem": w})).collect::<Vec<_>>(),
        "notes": inc.notes.iter().filter(|n| n.tags.is_empty()).map(|n| json!({"at": format_ts(n.at), "actor": n.actor, "text": n.text})).collect::<Vec<_>>(),
        "unknown_events": events.iter().filter(|e| e.kind == Kind::Unknown).count(),
    })
}
