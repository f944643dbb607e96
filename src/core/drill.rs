//! A drill's debrief scorecard, from its timeline: how fast the team
//! acknowledged, set a severity, sent the first status update and mitigated
//! (each from detection); the steps it skipped and the dead ends it took;
//! whether the status updates kept the severity's cadence; and, against the
//! scenario's answers, whether it chose the right playbook and confirmed the
//! cause. Pure.

use crate::core::event::Stage;
use crate::core::incident::{HypothesisStatus, Incident};
use crate::core::playbook::Playbook;
use crate::core::postmortem::span;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::fmt::Write;

/// One drill's scorecard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    /// The scenario rehearsed.
    pub scenario: String,
    /// When the drill's incident opened.
    pub opened: Option<DateTime<Utc>>,
    /// Detected → acknowledged.
    pub to_acknowledge_s: Option<i64>,
    /// Detected → the first severity set.
    pub to_severity_s: Option<i64>,
    /// Detected → the first status update (the first impact statement).
    pub to_first_update_s: Option<i64>,
    /// Detected → mitigated.
    pub to_mitigation_s: Option<i64>,
    /// Playbook steps skipped.
    pub steps_skipped: usize,
    /// Hypotheses ruled out.
    pub dead_ends: usize,
    /// Status updates sent.
    pub updates: usize,
    /// The severity's `update_every`, when the playbook sets one.
    pub cadence_s: Option<i64>,
    /// Whether at least one update went out and every stretch from detection
    /// to resolution without one stayed within the cadence (`None` without a
    /// cadence, a detection or a resolution).
    pub on_cadence: Option<bool>,
    /// The playbook the scenario expects, and whether it was the one chosen.
    pub playbook: Option<(String, bool)>,
    /// The cause the scenario expects, and whether a confirmed hypothesis holds it.
    pub cause: Option<(String, bool)>,
}

/// The severity's status-update cadence in the playbook the incident used.
pub fn cadence(inc: &Incident, playbooks: &[Playbook]) -> Option<Duration> {
    let severity = inc.current_severity()?;
    let id = inc.playbook.as_deref()?;
    let p = playbooks.iter().find(|p| p.id == id)?;
    let every = p.severity.get(&severity)?.update_every?;
    Duration::from_std(every.get()).ok()
}

/// The scorecard of `inc`, or `None` when it is no drill.
pub fn score(inc: &Incident, cadence: Option<Duration>) -> Option<Scorecard> {
    let drill = inc.drill.as_ref()?;
    let detected = inc.stage(Stage::Detected);
    let from_detection = |t: Option<DateTime<Utc>>| match (detected, t) {
        (Some(d), Some(t)) if t >= d => Some((t - d).num_seconds()),
        _ => None,
    };
    let mut updates: Vec<DateTime<Utc>> = inc.comms.iter().map(|c| c.at).collect();
    updates.sort();
    // Judged from detection to resolution (or closing): a drill not yet over
    // has no verdict, and one without a single update is off cadence.
    let end = inc.stage(Stage::Resolved).or(inc.closed);
    let on_cadence = match (cadence, detected, end) {
        (Some(every), Some(d), Some(end)) => {
            let mut marks = vec![d];
            marks.extend(updates.iter().copied().filter(|u| *u >= d && *u <= end));
            marks.push(end);
            Some(marks.len() > 2 && marks.windows(2).all(|w| w[1] - w[0] <= every))
        }
        _ => None,
    };
    let playbook = drill
        .playbook
        .as_ref()
        .map(|want| (want.clone(), inc.playbook.as_deref() == Some(want.as_str())));
    let cause = drill.cause.as_ref().map(|want| {
        let words: Vec<String> = want.split_whitespace().map(str::to_lowercase).collect();
        let found = inc
            .hypotheses
            .iter()
            .filter(|h| h.status == HypothesisStatus::Confirmed)
            .any(|h| {
                let text = h.text.to_lowercase();
                words.iter().all(|w| text.contains(w.as_str()))
            });
        (want.clone(), found)
    });
    Some(Scorecard {
        scenario: drill.scenario.clone(),
        opened: inc.opened,
        to_acknowledge_s: from_detection(inc.stage(Stage::Acknowledged)),
        to_severity_s: from_detection(inc.severity.first().map(|s| s.at)),
        to_first_update_s: from_detection(updates.first().copied()),
        to_mitigation_s: from_detection(inc.stage(Stage::Mitigated)),
        steps_skipped: inc.steps.values().filter(|s| !s.done).count(),
        dead_ends: inc
            .hypotheses
            .iter()
            .filter(|h| h.status == HypothesisStatus::RuledOut)
            .count(),
        updates: updates.len(),
        cadence_s: cadence.map(|c| c.num_seconds()),
        on_cadence,
        playbook,
        cause,
    })
}

/// The scorecard in one line, for the view's footer.
pub fn summary(s: &Scorecard) -> String {
    let mut parts = vec![
        format!("ack {}", secs(s.to_acknowledge_s)),
        format!("severity {}", secs(s.to_severity_s)),
        format!("first update {}", secs(s.to_first_update_s)),
        format!("mitigation {}", secs(s.to_mitigation_s)),
        format!("{} skipped", s.steps_skipped),
        format!("{} dead ends", s.dead_ends),
    ];
    if let Some(on) = s.on_cadence {
        parts.push(
            if on {
                "updates on cadence"
            } else {
                "updates off cadence"
            }
            .into(),
        );
    }
    if let Some((_, right)) = &s.playbook {
        parts.push(
            if *right {
                "right playbook"
            } else {
                "other playbook"
            }
            .into(),
        );
    }
    if let Some((_, found)) = &s.cause {
        parts.push(
            if *found {
                "cause found"
            } else {
                "cause not found"
            }
            .into(),
        );
    }
    parts.join(" · ")
}

/// A drill's text (a hand-edited timeline's) as a Markdown table cell.
fn md(s: &str) -> String {
    crate::core::text::markdown(&s.replace('\n', " ")).replace('|', "\\|")
}

fn secs(s: Option<i64>) -> String {
    s.map_or("—".into(), |s| span(Duration::seconds(s)))
}

/// The scorecard as Markdown (`## Drill scorecard`).
pub fn markdown(s: &Scorecard) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Drill scorecard\n");
    let _ = writeln!(out, "Scenario {}.\n", md(&s.scenario));
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(
        out,
        "| Time to acknowledge | {} |",
        secs(s.to_acknowledge_s)
    );
    let _ = writeln!(
        out,
        "| Time to set a severity | {} |",
        secs(s.to_severity_s)
    );
    let _ = writeln!(
        out,
        "| Time to the first status update | {} |",
        secs(s.to_first_update_s)
    );
    let _ = writeln!(out, "| Time to mitigation | {} |", secs(s.to_mitigation_s));
    let _ = writeln!(out, "| Steps skipped | {} |", s.steps_skipped);
    let _ = writeln!(out, "| Dead ends | {} |", s.dead_ends);
    let cadence = match (s.on_cadence, s.cadence_s) {
        (Some(true), Some(c)) => {
            format!("{} sent, on cadence (every {})", s.updates, secs(Some(c)))
        }
        (Some(false), Some(c)) => format!(
            "{} sent, **not** on cadence (every {})",
            s.updates,
            secs(Some(c))
        ),
        _ => format!("{} sent (no cadence set for the severity)", s.updates),
    };
    let _ = writeln!(out, "| Status updates | {cadence} |");
    if let Some((want, right)) = &s.playbook {
        let _ = writeln!(
            out,
            "| Playbook | {} (expected {}) |",
            if *right {
                "right"
            } else {
                "**not the expected one**"
            },
            md(want)
        );
    }
    if let Some((want, found)) = &s.cause {
        let _ = writeln!(
            out,
            "| Cause found | {} (expected: {}) |",
            if *found { "yes" } else { "**no**" },
            md(want)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::{Draft, Kind, Severity};
    use crate::core::payload;
    use serde_json::json;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + s, 0).unwrap()
    }

    fn drill_events(confirm: &str) -> Vec<crate::core::event::Event> {
        let drill = payload::Drill {
            scenario: "payments-pool-exhaustion".into(),
            playbook: Some("db-pool".into()),
            cause: Some("connection pool".into()),
        };
        let drafts = vec![
            (0, Draft::opened_drill("ic", "drill", "shop", &drill)),
            (10, Draft::lifecycle("ic", Stage::Detected, t(10))),
            (40, Draft::lifecycle("ann", Stage::Acknowledged, t(40))),
            (70, Draft::severity("ann", Severity::Sev2, "checkout")),
            (
                75,
                Draft::new(
                    Kind::PlaybookSelected,
                    "ann",
                    "db-pool",
                    json!({"playbook": "db-pool"}),
                ),
            ),
            (
                100,
                Draft::new(
                    Kind::CommsUpdate,
                    "ann",
                    "impact",
                    json!({"text": "impact"}),
                ),
            ),
            (
                110,
                Draft::new(
                    Kind::HypothesisAdded,
                    "bob",
                    "h1",
                    json!({"id": "h1", "text": "a bad deploy"}),
                ),
            ),
            (
                120,
                Draft::new(
                    Kind::HypothesisRuledOut,
                    "bob",
                    "x",
                    json!({"hypothesis": "h1"}),
                ),
            ),
            (
                130,
                Draft::new(
                    Kind::HypothesisAdded,
                    "bob",
                    "h2",
                    json!({"id": "h2", "text": confirm}),
                ),
            ),
            (
                140,
                Draft::new(
                    Kind::HypothesisConfirmed,
                    "bob",
                    "y",
                    json!({"hypothesis": "h2"}),
                ),
            ),
            (
                150,
                Draft::new(
                    Kind::StepSkipped,
                    "ann",
                    "skip",
                    json!({"playbook": "db-pool", "phase": "triage", "step": "logs", "reason": "x"}),
                ),
            ),
            (310, Draft::lifecycle("ann", Stage::Mitigated, t(310))),
            (
                1300,
                Draft::new(
                    Kind::CommsUpdate,
                    "ann",
                    "better",
                    json!({"text": "better"}),
                ),
            ),
            (1400, Draft::lifecycle("ann", Stage::Resolved, t(1400))),
        ];
        drafts
            .into_iter()
            .enumerate()
            .map(|(i, (at, d))| d.into_event(i as u64 + 1, t(at)))
            .collect()
    }

    #[test]
    fn a_drill_is_scored_from_its_timeline_against_the_scenarios_answers() {
        let inc = Incident::fold(&drill_events("the Connection POOL is exhausted"));
        let s = score(&inc, Some(Duration::minutes(30))).unwrap();
        assert_eq!(s.scenario, "payments-pool-exhaustion");
        assert_eq!(
            (
                s.to_acknowledge_s,
                s.to_severity_s,
                s.to_first_update_s,
                s.to_mitigation_s
            ),
            (Some(30), Some(60), Some(90), Some(300))
        );
        assert_eq!((s.steps_skipped, s.dead_ends, s.updates), (1, 1, 2));
        assert_eq!(s.on_cadence, Some(true));
        assert_eq!(s.playbook, Some(("db-pool".into(), true)));
        assert_eq!(s.cause, Some(("connection pool".into(), true)));
        // Updates 1200 s apart break a 15-minute cadence.
        let s = score(&inc, Some(Duration::minutes(15))).unwrap();
        assert_eq!(s.on_cadence, Some(false));
        let md = markdown(&s);
        assert!(md.contains("| Time to acknowledge | 30s |"), "{md}");
        assert!(md.contains("**not** on cadence (every 15m 00s)"), "{md}");
        // The wrong cause confirmed is no find; an ordinary incident has no scorecard.
        let wrong = Incident::fold(&drill_events("cpu throttling"));
        assert_eq!(
            score(&wrong, None).unwrap().cause,
            Some(("connection pool".into(), false))
        );
        let plain = Incident::fold(&[Draft::opened("ic", "x", "shop").into_event(1, t(0))]);
        assert!(score(&plain, None).is_none());
        // A hand-edited `drill` that is no object is no drill, and costs nothing else.
        let odd = Draft::new(
            Kind::IncidentOpened,
            "ic",
            "x",
            json!({"title": "kept", "service": "shop", "drill": "yes please"}),
        );
        let inc = Incident::fold(&[odd.into_event(1, t(0))]);
        assert_eq!((inc.title.as_str(), inc.drill.is_none()), ("kept", true));
    }
}
