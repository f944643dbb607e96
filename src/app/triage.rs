//! The triage summary: the five triage questions answered from the data —
//! which endpoints, how bad, getting worse or better, who is affected, since
//! when and what changed just before — with the last error exemplars and the
//! likely failure class. Shown when an incident opens and on demand, pasted
//! into a status update, recorded in the timeline. Pure: a function of the
//! engine's state at `state.now`.

use super::State;
use super::impact;
use super::targets::Target;
use crate::core::event::Stage;
use crate::core::sample::FailureClass;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// One answered question.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The question, short (`which`, `how bad`).
    pub question: &'static str,
    /// The answer, one line.
    pub answer: String,
}

/// The summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// When it was taken.
    pub at: DateTime<Utc>,
    /// The questions and answers, in the order responders ask them.
    pub answers: Vec<Answer>,
    /// The last error exemplars of the affected probes, newest first.
    pub exemplars: Vec<String>,
}

impl Summary {
    /// The answers as `question: answer` lines, for the playbook pane.
    pub fn short(&self) -> Vec<String> {
        self.answers
            .iter()
            .map(|a| format!("{}: {}", a.question, a.answer))
            .collect()
    }

    /// The whole summary as text: a status update's body, a timeline note.
    pub fn text(&self) -> String {
        let mut out = format!("Triage summary at {} UTC", self.at.format("%H:%M:%S"));
        for a in &self.answers {
            out.push_str(&format!("\n{}: {}", capitalise(a.question), a.answer));
        }
        if !self.exemplars.is_empty() {
            out.push_str("\nLast errors:");
            for e in &self.exemplars {
                out.push_str(&format!("\n  {e}"));
            }
        }
        out
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The summary of the open incident (or of what the screen shows without one).
pub fn summary(state: &State) -> Summary {
    let firing: Vec<&Target> = state
        .targets
        .iter()
        .filter(|t| !t.firing.is_empty())
        .collect();
    let mut answers = vec![
        Answer {
            question: "which",
            answer: which(state, &firing),
        },
        Answer {
            question: "how bad",
            answer: how_bad(state, &firing),
        },
        Answer {
            question: "trend",
            answer: trend(state, &firing),
        },
        Answer {
            question: "who",
            answer: who(state, &firing),
        },
    ];
    answers.extend(since_and_changes(state));
    answers.push(Answer {
        question: "likely class",
        answer: likely_class(state, &firing),
    });
    Summary {
        at: state.now,
        answers,
        exemplars: exemplars(&firing),
    }
}

fn which(state: &State, firing: &[&Target]) -> String {
    match firing {
        [] => "none firing now".into(),
        [one] => format!("{} only (1 of {} watched)", one.name, state.targets.len()),
        many => format!(
            "{} of {} watched: {}",
            many.len(),
            state.targets.len(),
            many.iter()
                .take(6)
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
                + if many.len() > 6 { ", …" } else { "" }
        ),
    }
}

fn how_bad(state: &State, firing: &[&Target]) -> String {
    if firing.is_empty() {
        return "nothing firing now".into();
    }
    let rows = impact::rows(state);
    let mut parts = Vec::new();
    for t in firing.iter().take(4) {
        let r = t.row(state.now);
        let mut part = format!("{} {:.1}% errors", t.name, r.err * 100.0);
        if let Some(p95) = r.p95 {
            part.push_str(&format!(", p95 {:.0} ms", p95 * 1000.0));
        }
        let measured = rows
            .iter()
            .find(|row| row.target == t.name || row.also.contains(&t.name));
        if let Some(failed) = measured.and_then(|m| m.failed) {
            part.push_str(&format!(", {failed} failed so far"));
        }
        parts.push(part);
    }
    parts.join("; ")
}

/// Mean error share of `t`'s history points from `from` to `to` seconds ago.
fn mean_err(t: &Target, now: i64, from: i64, to: i64) -> Option<f64> {
    let pts: Vec<f64> = t
        .history
        .iter()
        .filter(|p| p.t > now - from && p.t <= now - to)
        .map(|p| p.err)
        .collect();
    (!pts.is_empty()).then(|| pts.iter().sum::<f64>() / pts.len() as f64)
}

fn trend(state: &State, firing: &[&Target]) -> String {
    if firing.is_empty() {
        return "—".into();
    }
    let now = state.now.timestamp();
    firing
        .iter()
        .take(4)
        .map(|t| {
            // The last minute against the four before it (5 minutes in all).
            let word = match (mean_err(t, now, 60, 0), mean_err(t, now, 300, 60)) {
                (Some(last), Some(before)) if last > before * 1.2 + 0.001 => format!(
                    "getting worse ({:.1}% → {:.1}% over 5m)",
                    before * 100.0,
                    last * 100.0
                ),
                (Some(last), Some(before)) if last < before * 0.8 => format!(
                    "getting better ({:.1}% → {:.1}% over 5m)",
                    before * 100.0,
                    last * 100.0
                ),
                (Some(_), Some(_)) => "steady over 5m".into(),
                _ => "too little history to tell".into(),
            };
            format!("{} {word}", t.name)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn who(state: &State, firing: &[&Target]) -> String {
    let mut parts = Vec::new();
    for t in firing.iter().take(4) {
        let r = t.row(state.now);
        if t.last_view().is_some() {
            let mut p = format!(
                "{}: {:.1}% of its {:.1} req/s fail (5xx) over the last minute",
                t.name,
                r.err * 100.0,
                r.rps
            );
            if r.r4xx > 0.0 {
                p.push_str(&format!(", {:.1}% 4xx", r.r4xx * 100.0));
            }
            // Where the 5xx concentrate, from the latest scrape that had some
            // (within 5 minutes).
            let recent = t
                .route_feed()
                .and_then(|r| r.breakdown.as_ref())
                .filter(|(at, _)| (state.now - *at).num_seconds() <= 300);
            match recent {
                Some((_, shares)) => {
                    p.push_str("; failing most: ");
                    p.push_str(
                        &shares
                            .iter()
                            .take(3)
                            .map(|l| {
                                format!(
                                    "{}={} ({:.0}% of the 5xx, {:.0}% of the traffic)",
                                    l.label,
                                    l.value,
                                    l.share * 100.0,
                                    l.traffic * 100.0
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(", "),
                    );
                }
                None => p.push_str(
                    "; spread evenly over its labels (or it has none besides route and status)",
                ),
            }
            parts.push(p);
        } else if let Some(w) = t.window() {
            let st = w.stats(Duration::from_secs(300), state.now);
            parts.push(format!(
                "{}: every caller of this probe ({} of {} probes failed in 5m)",
                t.name,
                st.by_class
                    .iter()
                    .zip(FailureClass::ALL)
                    .filter(|(_, c)| *c != FailureClass::Ok)
                    .map(|(n, _)| n)
                    .sum::<u64>(),
                st.total
            ));
        }
    }
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join("; ")
    }
}

fn since_and_changes(state: &State) -> Vec<Answer> {
    let Some(i) = state.incident.as_ref().map(|i| &i.state) else {
        return vec![];
    };
    let start = i.stage(Stage::ImpactStarted);
    let mut out = vec![Answer {
        question: "since",
        answer: match (start, i.stage(Stage::Detected)) {
            (Some(s), Some(d)) => format!(
                "{} UTC (detected {} later)",
                s.format("%H:%M:%S"),
                crate::core::postmortem::span(d - s)
            ),
            (Some(s), None) => format!("{} UTC", s.format("%H:%M:%S")),
            _ => "no impact start measured yet".into(),
        },
    }];
    let before: Vec<String> = i
        .changes
        .iter()
        .filter(|c| start.is_none_or(|s| c.at <= s && (s - c.at).num_minutes() <= 120))
        .rev()
        .take(3)
        .map(|c| {
            let ago = start.map_or(String::new(), |s| {
                format!(", {} before", crate::core::postmortem::span(s - c.at))
            });
            format!("{} ({}{ago})", c.text, c.at.format("%H:%M"))
        })
        .collect();
    out.push(Answer {
        question: "changed before",
        answer: if before.is_empty() {
            "no change recorded in the 2 hours before (c or `ic event -k deploy` records one)"
                .into()
        } else {
            before.join("; ")
        },
    });
    out
}

fn likely_class(state: &State, firing: &[&Target]) -> String {
    let mut by_class = [0u64; FailureClass::ALL.len()];
    let (mut r5xx, mut r4xx, mut latency) = (0.0, 0.0, false);
    for t in firing {
        if let Some(w) = t.window() {
            let st = w.stats(Duration::from_secs(300), state.now);
            for (a, b) in by_class.iter_mut().zip(st.by_class) {
                *a += b;
            }
        }
        if t.last_view().is_some() {
            let r = t.row(state.now);
            r5xx += r.err * r.rps;
            r4xx += r.r4xx * r.rps;
        }
        latency |= t.firing.iter().any(|k| k.as_str().contains("latency"));
    }
    let worst = FailureClass::ALL
        .iter()
        .zip(by_class)
        .filter(|(c, n)| **c != FailureClass::Ok && *n > 0)
        .max_by_key(|(_, n)| *n);
    match worst {
        Some((c, n)) => {
            let failed: u64 = by_class.iter().sum::<u64>() - by_class[FailureClass::Ok.index()];
            format!(
                "{c} ({:.0}% of failed probes in 5m)",
                n as f64 * 100.0 / failed.max(1) as f64
            )
        }
        None if r5xx > 0.0 && r5xx >= r4xx => "server errors (5xx) from the service itself".into(),
        None if r4xx > 0.0 => "client errors (4xx): auth, rate limits or bad requests".into(),
        None if latency => "slow answers (latency), not errors".into(),
        None => "not known yet".into(),
    }
}

fn exemplars(firing: &[&Target]) -> Vec<String> {
    let mut out: Vec<(DateTime<Utc>, String)> = firing
        .iter()
        .filter_map(|t| t.window().map(|w| (t, w)))
        .flat_map(|(t, w)| {
            w.exemplars().map(move |e| {
                (
                    e.at,
                    format!(
                        "{} {} {} {}",
                        e.at.format("%H:%M:%S"),
                        t.name,
                        e.status
                            .map_or_else(|| e.class.to_string(), |c| c.to_string()),
                        e.error.as_deref().unwrap_or_default()
                    )
                    .trim_end()
                    .to_string(),
                )
            })
        })
        .collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.0));
    out.into_iter().take(3).map(|(_, s)| s).collect()
}
