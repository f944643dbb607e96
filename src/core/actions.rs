//! Action items across incidents: every item of every timeline with its
//! incident, whether it is open, overdue or done, in the order they need
//! attention (overdue first, the oldest due date first), and the forms they
//! leave in — a table, JSON, and JSON lines a tracker imports (GitHub and Jira
//! importers take a title, a body, an assignee, a due date and labels). Pure:
//! the caller reads the timelines and brings today's date.

use crate::core::event::Priority;
use crate::core::incident::{ActionItem, Incident};
use crate::core::text::{escape, pad_right};
use chrono::{Duration, NaiveDate};
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Open, its due date passed.
    Overdue,
    /// Open.
    Open,
    /// Done.
    Done,
}

impl State {
    /// `overdue`, `open`, `done`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Overdue => "overdue",
            State::Open => "open",
            State::Done => "done",
        }
    }
}

/// One action item with its incident.
#[derive(Debug, Clone)]
pub struct Row {
    /// The item.
    pub item: ActionItem,
    /// Where it stands today.
    pub state: State,
    /// A P1 item with no due date, or due later than [`Priority::P1_WITHIN_DAYS`]
    /// after its incident opened.
    pub p1_outside_window: bool,
    /// The incident's title.
    pub incident: String,
    /// The incident's service.
    pub service: String,
    /// The incident's severity, `SEV-n`, if set.
    pub severity: Option<String>,
    /// The timeline it lives in.
    pub timeline: PathBuf,
}

/// Which rows to keep.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only open items (overdue ones included).
    pub open: bool,
    /// Only overdue items.
    pub overdue: bool,
    /// Only done items.
    pub done: bool,
    /// Only this owner's (`@` optional, any case).
    pub owner: Option<String>,
}

impl Filter {
    fn keeps(&self, r: &Row) -> bool {
        let state = match (self.open, self.overdue, self.done) {
            (false, false, false) => true,
            _ => {
                (self.open && r.state != State::Done)
                    || (self.overdue && r.state == State::Overdue)
                    || (self.done && r.state == State::Done)
            }
        };
        let owner = self.owner.as_deref().is_none_or(|o| {
            o.trim_start_matches('@')
                .eq_ignore_ascii_case(r.item.owner.trim_start_matches('@'))
        });
        state && owner
    }
}

/// Every action item of `incidents` (timeline, its fold; drills left out) that `filter` keeps,
/// as of `today`: overdue first (oldest due date first), then open (soonest
/// due first, undated last), then done (most recently done first).
pub fn rows(incidents: &[(PathBuf, Incident)], today: NaiveDate, filter: &Filter) -> Vec<Row> {
    let mut rows: Vec<Row> = incidents
        .iter()
        // A drill's follow-ups are practice: not listed with the real ones.
        .filter(|(_, inc)| inc.drill.is_none())
        .flat_map(|(path, inc)| {
            inc.action_items
                .iter()
                .map(move |item| row(path, inc, item, today))
        })
        .filter(|r| filter.keeps(r))
        .collect();
    rows.sort_by(|a, b| {
        let due = |r: &Row| r.item.due_date().unwrap_or(NaiveDate::MAX);
        let done = |r: &Row| r.item.done.as_ref().map(|d| std::cmp::Reverse(d.at));
        a.state
            .cmp(&b.state)
            .then_with(|| match a.state {
                State::Done => done(a).cmp(&done(b)),
                _ => due(a).cmp(&due(b)),
            })
            .then_with(|| a.item.created.cmp(&b.item.created))
    });
    rows
}

fn row(path: &Path, inc: &Incident, item: &ActionItem, today: NaiveDate) -> Row {
    let state = if item.done.is_some() {
        State::Done
    } else if item.is_overdue(today) {
        State::Overdue
    } else {
        State::Open
    };
    let opened = inc.opened.unwrap_or(item.created).date_naive();
    let window = opened + Duration::days(Priority::P1_WITHIN_DAYS);
    let p1_outside_window = item.priority == Some(Priority::P1)
        && item.done.is_none()
        && item.due_date().is_none_or(|d| d > window);
    Row {
        item: item.clone(),
        state,
        p1_outside_window,
        incident: inc.title.clone(),
        service: inc.service.clone(),
        severity: inc.current_severity().map(|s| s.to_string()),
        timeline: path.to_path_buf(),
    }
}

/// How many open items are overdue.
pub fn overdue(rows: &[Row]) -> usize {
    rows.iter().filter(|r| r.state == State::Overdue).count()
}

/// The rows as a table for a terminal (every text from a timeline escaped).
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{}  {}  {}  {}  {}  {}  {}\n",
        pad_right("ID", 8),
        pad_right("STATE", 7),
        pad_right("DUE", 10),
        pad_right("PRIO", 4),
        pad_right("OWNER", 12),
        pad_right("ITEM", 40),
        "INCIDENT"
    ));
    for r in rows {
        let a = &r.item;
        let mut item = escape(&a.text).into_owned();
        if let Some(d) = &a.done {
            item.push_str(&format!(
                " (done {} by {})",
                d.at.format("%Y-%m-%d"),
                escape(&d.actor)
            ));
        }
        if r.p1_outside_window {
            item.push_str(&format!(
                " (P1: due within {} days)",
                Priority::P1_WITHIN_DAYS
            ));
        }
        let owner = if a.owner.is_empty() {
            "—".to_string()
        } else {
            format!("@{}", escape(a.owner.trim_start_matches('@')))
        };
        out.push_str(&format!(
            "{}  {}  {}  {}  {}  {}  {}\n",
            pad_right(&a.short_id().unwrap_or_else(|| "—".into()), 8),
            pad_right(r.state.as_str(), 7),
            pad_right(&escape(a.due.as_deref().unwrap_or("—")), 10),
            pad_right(a.priority.map_or("—", |p| p.as_str()), 4),
            pad_right(&owner, 12),
            pad_right(&item, 40),
            incident_name(r)
        ));
    }
    out
}

fn incident_name(r: &Row) -> String {
    let title = if r.incident.is_empty() {
        "(untitled)".to_string()
    } else {
        escape(&r.incident).into_owned()
    };
    format!("{title} ({})", escape(&r.timeline.display().to_string()))
}

/// One row as JSON.
pub fn to_json(r: &Row) -> Value {
    let a = &r.item;
    json!({
        "id": a.id,
        "short_id": a.short_id(),
        "state": r.state,
        "text": a.text,
        "owner": a.owner,
        "due": a.due,
        "priority": a.priority,
        "p1_outside_window": r.p1_outside_window,
        "created": a.created,
        "done": a.done.as_ref().map(|d| json!({"at": d.at, "by": d.actor, "note": d.text})),
        "incident": r.incident,
        "service": r.service,
        "severity": r.severity,
        "timeline": r.timeline.display().to_string(),
    })
}

/// One row as a tracker imports it: `title`, `body` (the incident and how to
/// read it), `assignee`, `due_date`, `labels`, and `ic_id` to match it back.
pub fn to_tracker(r: &Row) -> Value {
    let a = &r.item;
    let timeline = r.timeline.display().to_string();
    let mut body = format!(
        "Follow-up from incident \"{}\"{}.\n\nTimeline: {timeline}\nPostmortem: `ic postmortem {timeline}`\n",
        r.incident,
        r.severity
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default()
    );
    if let Some(d) = &a.done {
        body.push_str(&format!(
            "\nDone {} by {}: {}\n",
            d.at.format("%Y-%m-%d"),
            d.actor,
            d.text
        ));
    }
    let mut labels = vec!["incident-follow-up".to_string()];
    labels.extend(a.priority.map(|p| p.as_str().to_string()));
    labels.extend(r.severity.clone());
    if !r.service.is_empty() {
        labels.push(r.service.clone());
    }
    json!({
        "title": a.text,
        "body": body,
        "assignee": (!a.owner.is_empty()).then(|| a.owner.trim_start_matches('@').to_string()),
        "due_date": a.due_date().map(|d| d.format("%Y-%m-%d").to_string()),
        "labels": labels,
        "state": if r.state == State::Done { "closed" } else { "open" },
        "ic_id": a.id,
    })
}

/// Where the item `name` (its id or short id) lives: `Ok` with its timeline and
/// the item, or `Err` saying why not (none, or several share the short id).
pub fn find<'a>(
    incidents: &'a [(PathBuf, Incident)],
    name: &str,
) -> Result<(&'a Path, &'a ActionItem), String> {
    let found: Vec<(&Path, &ActionItem)> = incidents
        .iter()
        .flat_map(|(p, inc)| {
            inc.action_items
                .iter()
                .filter(|a| a.is_named(name))
                .map(move |a| (p.as_path(), a))
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!(
            "no action item `{}`: `ic actions` lists them with their ids",
            escape(name)
        )),
        many => Err(format!(
            "{} action items share the id `{}`: give the whole id (`ic actions --json` shows it), or with the same whole id (a copied timeline) the file that holds it: `-t FILE`",
            many.len(),
            escape(name)
        )),
    }
}
