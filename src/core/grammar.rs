//! The responder's text grammar, one for the view's input line and for
//! `ic event`: a line of text of some [`InputKind`] parses into a typed
//! [`Command`] (`+h1 …` evidence, `xh1` rule out, `@owner due:DATE`, `SEV-2
//! reason`, `deploy v42 what`, `#well`), a command says in one line what it
//! will save ([`Command::understood`]), and becomes the timeline [`Draft`]
//! every writer produces the same way. Pure: relative due dates (`due:fri`,
//! `due:+3d`) are read against the `today` the caller passes in, and stored
//! as absolute dates.

use crate::core::event::{Draft, Kind, Priority, Severity, Stage};
use crate::core::payload;
use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use serde_json::Value;
use std::fmt;

/// What a line of text is for (the view's input prompts, `ic event --kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A note.
    Note,
    /// A hypothesis or evidence.
    Hypothesis,
    /// A role assignment.
    Role,
    /// A status update.
    Comms,
    /// A change marker (`kind` is deploy, config or flag unless the text names one).
    Change(ChangeKind),
    /// An action item.
    ActionItem,
    /// A severity with an optional reason.
    Severity,
    /// The root cause.
    RootCause,
    /// An action item done: its id, then what was done.
    ActionDone,
}

impl InputKind {
    /// The prompt the view shows.
    pub fn prompt(self) -> &'static str {
        match self {
            InputKind::Note => "Note (#well / #poorly tag it for the postmortem)",
            InputKind::Hypothesis => {
                "Hypothesis — or +h1 evidence for, -h1 evidence against, !h1 confirm, xh1 rule out"
            }
            InputKind::Role => "Role and person, e.g. `comms cat`",
            InputKind::Comms => "Status update (Enter sends; edit freely)",
            InputKind::Change(_) => {
                "Change: deploy|rollback|config|flag [VERSION] what, e.g. `deploy v42 payments rollout`"
            }
            InputKind::ActionItem => {
                "Action item: text @owner due:DATE (2026-12-01, fri, tomorrow, +3d, +2w)"
            }
            InputKind::Severity => "Severity and why, e.g. `SEV-2 checkout failing for 8%`",
            InputKind::RootCause => "Root cause (technical)",
            InputKind::ActionDone => {
                "Action item done: ID what was done (ids: `ic actions`, and each action item's line in the timeline)"
            }
        }
    }
}

/// What kind of change a change marker records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A deploy.
    Deploy,
    /// A rollback (a deploy of an earlier version, or a change undone).
    Rollback,
    /// A configuration change.
    Config,
    /// A feature flag.
    Flag,
    /// Any other change.
    Change,
}

impl ChangeKind {
    /// The name written to the timeline.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Deploy => "deploy",
            ChangeKind::Rollback => "rollback",
            ChangeKind::Config => "config",
            ChangeKind::Flag => "flag",
            ChangeKind::Change => "change",
        }
    }

    /// Parses `deploy`, `rollback`, `config`, `flag`, `change` (any case).
    pub fn parse(s: &str) -> Option<ChangeKind> {
        let s = s.to_ascii_lowercase();
        [
            ChangeKind::Deploy,
            ChangeKind::Rollback,
            ChangeKind::Config,
            ChangeKind::Flag,
            ChangeKind::Change,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A tag a note carries for the postmortem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteTag {
    /// `#well`: what went well.
    WentWell,
    /// `#poorly`: what went poorly.
    WentPoorly,
    /// Any other tag (`ic event --tag`).
    Other(String),
}

impl NoteTag {
    /// The name written to the timeline.
    pub fn as_str(&self) -> &str {
        match self {
            NoteTag::WentWell => "went_well",
            NoteTag::WentPoorly => "went_poorly",
            NoteTag::Other(t) => t,
        }
    }

    /// The tags written in a note's text: `#well`, `#poorly`, `#trigger`,
    /// `#factor`, `#worse`, `#lucky`, `#review`, `#approved` (the postmortem's
    /// sections), `#feedback` (`ic report`'s).
    pub fn in_text(word: &str) -> Option<NoteTag> {
        match word {
            "#well" | "#went_well" => Some(NoteTag::WentWell),
            "#poorly" | "#went_poorly" => Some(NoteTag::WentPoorly),
            "#feedback" => Some(NoteTag::Other("feedback".into())),
            "#trigger" => Some(NoteTag::Other("trigger".into())),
            "#factor" => Some(NoteTag::Other("contributing_factor".into())),
            "#worse" => Some(NoteTag::Other("made_worse".into())),
            "#lucky" => Some(NoteTag::Other("lucky".into())),
            "#review" => Some(NoteTag::Other("review".into())),
            "#approved" => Some(NoteTag::Other("approved".into())),
            _ => None,
        }
    }

    /// A tag given by name (`went_well`, `well`, or any other word).
    pub fn named(name: &str) -> NoteTag {
        match name.trim().trim_start_matches('#') {
            "went_well" | "well" => NoteTag::WentWell,
            "went_poorly" | "poorly" => NoteTag::WentPoorly,
            other => NoteTag::Other(other.to_string()),
        }
    }
}

/// A responder's intent, typed: what a line of text (or a key) asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A free note.
    Note {
        /// The text without its tags.
        text: String,
        /// Postmortem tags.
        tags: Vec<NoteTag>,
    },
    /// A new hypothesis for the ledger.
    Hypothesis {
        /// What might be going on.
        text: String,
    },
    /// Evidence for or against a hypothesis.
    Evidence {
        /// `h1`, `h2`, …
        hypothesis: String,
        /// For (`+`) or against (`-`).
        supports: bool,
        /// What was seen.
        text: String,
    },
    /// A hypothesis confirmed.
    Confirm {
        /// `h1`, …
        hypothesis: String,
    },
    /// A hypothesis ruled out.
    RuleOut {
        /// `h1`, …
        hypothesis: String,
    },
    /// A role given to a person.
    Role {
        /// `lead`, `comms`, …
        role: String,
        /// Who.
        person: String,
    },
    /// A status update to stakeholders (` | ` separates lines).
    StatusUpdate {
        /// The update.
        text: String,
    },
    /// A deploy, config change or flag.
    Change {
        /// Which kind.
        change: ChangeKind,
        /// The version, when the text names one.
        version: Option<String>,
        /// What changed.
        what: String,
    },
    /// Follow-up work.
    ActionItem {
        /// What to do.
        text: String,
        /// Who owns it (`@ann`).
        owner: Option<String>,
        /// When it is due (`due:2026-12-01`, `due:fri`, `due:+3d`: always stored as a date).
        due: Option<NaiveDate>,
        /// `P1`…`P3`, a word of its own.
        priority: Option<Priority>,
    },
    /// The severity set or changed.
    Severity {
        /// SEV-1 … SEV-4.
        severity: Severity,
        /// Why.
        reason: String,
    },
    /// The technical root cause.
    RootCause {
        /// The cause.
        text: String,
    },
    /// An action item done.
    ActionDone {
        /// Its id or short id, as typed (the engine resolves it among the incident's items).
        item: String,
        /// What was done.
        note: String,
    },
    /// A person takes the incident.
    Acknowledge,
    /// A lifecycle time set or corrected.
    Lifecycle {
        /// Which stage.
        stage: Stage,
        /// When.
        at: DateTime<Utc>,
        /// Why, when given.
        note: String,
    },
    /// An incident opened.
    Open {
        /// Its title.
        title: String,
    },
    /// The incident closed.
    Close {
        /// Why, when given.
        reason: String,
    },
}

/// Why a line does not parse, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct GrammarError(pub String);

impl fmt::Display for GrammarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `s` names a hypothesis of the ledger: `h` and a number.
fn is_hypothesis_id(s: &str) -> bool {
    s.len() > 1 && s.starts_with('h') && s[1..].chars().all(|c| c.is_ascii_digit())
}

/// Whether a word reads as a version: `v42`, `V2.1`, `1.2.3`, `2026.12.01-3`,
/// `2.0.0-rc.1+build5`, or a git sha (7 to 40 hex digits, at least one a digit).
/// A bare number (`3`, `42`) is not one — it is as likely a count (`3 pods`) —
/// nor is a word (`rollback`, `3rd`): write `v42` or pass `--change-version`.
pub fn looks_like_version(w: &str) -> bool {
    let sha = (7..=40).contains(&w.len())
        && w.chars().all(|c| c.is_ascii_hexdigit())
        && w.chars().any(|c| c.is_ascii_digit());
    if sha {
        return true;
    }
    let (prefixed, rest) = match w.strip_prefix(['v', 'V']) {
        Some(r) => (true, r),
        None => (false, w),
    };
    let allowed = rest
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-_+".contains(c));
    let mut segments = rest.split(['.', '-', '_', '+']);
    let first_numeric = segments
        .next()
        .is_some_and(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()));
    let several = rest.contains(['.', '-', '_', '+']);
    allowed && first_numeric && (prefixed || several) && !rest.ends_with(['.', '-', '_', '+'])
}

/// Parses one line of `kind`, reading relative due dates (`due:fri`,
/// `due:+3d`, `due:tomorrow`) against `today` (the caller's date: the view's
/// clock, `ic event`'s). Empty text is an error (nothing to record).
pub fn parse(kind: InputKind, text: &str, today: NaiveDate) -> Result<Command, GrammarError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(GrammarError("nothing written (empty)".into()));
    }
    Ok(match kind {
        InputKind::Note => parse_note(text),
        InputKind::Hypothesis => parse_hypothesis(text),
        InputKind::Role => {
            let (role, person) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
            let person = person.trim();
            if person.is_empty() {
                return Err(GrammarError(format!(
                    "who is `{role}`? write the role and the person, e.g. `{role} ann`"
                )));
            }
            Command::Role {
                role: role.to_string(),
                person: person.to_string(),
            }
        }
        InputKind::Comms => Command::StatusUpdate {
            text: text.replace(" | ", "\n"),
        },
        InputKind::Change(default) => parse_change(default, text)?,
        InputKind::ActionItem => parse_action_item(text, today)?,
        InputKind::Severity => {
            let (first, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
            let severity = Severity::parse(first).ok_or_else(|| {
                GrammarError(format!(
                    "`{first}` is not a severity: start with SEV-1, SEV-2, SEV-3 or SEV-4"
                ))
            })?;
            Command::Severity {
                severity,
                reason: rest.trim().to_string(),
            }
        }
        InputKind::ActionDone => {
            let (item, note) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
            if item.is_empty() {
                return Err(GrammarError(
                    "no id: write the action item's id, then what was done, e.g. `1a2b3c4d alarm live`".into(),
                ));
            }
            Command::ActionDone {
                item: item.to_string(),
                note: note.trim().to_string(),
            }
        }
        InputKind::RootCause => Command::RootCause {
            text: text.to_string(),
        },
    })
}

fn parse_note(text: &str) -> Command {
    let mut tags = Vec::new();
    let mut words = Vec::new();
    for w in text.split(' ') {
        match NoteTag::in_text(w) {
            Some(t) => {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            None => words.push(w),
        }
    }
    let clean = words.join(" ");
    Command::Note {
        text: clean.trim().to_string(),
        tags,
    }
}

fn parse_hypothesis(text: &str) -> Command {
    let (head, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let rest = rest.trim().to_string();
    let reference = |prefix: char| {
        head.strip_prefix(prefix)
            .filter(|id| is_hypothesis_id(id))
            .map(str::to_string)
    };
    if let Some(hypothesis) = reference('+') {
        return Command::Evidence {
            hypothesis,
            supports: true,
            text: rest,
        };
    }
    if let Some(hypothesis) = reference('-') {
        return Command::Evidence {
            hypothesis,
            supports: false,
            text: rest,
        };
    }
    if let Some(hypothesis) = reference('!') {
        return Command::Confirm { hypothesis };
    }
    if rest.is_empty()
        && let Some(hypothesis) = reference('x')
    {
        return Command::RuleOut { hypothesis };
    }
    Command::Hypothesis {
        text: text.to_string(),
    }
}

fn parse_change(default: ChangeKind, text: &str) -> Result<Command, GrammarError> {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let change = match words.first().and_then(|w| ChangeKind::parse(w)) {
        Some(k) => {
            words.remove(0);
            k
        }
        None => default,
    };
    // A version only when it reads as one and something follows it (`v42`
    // alone is what changed, not a version of nothing).
    let version = match words.first() {
        Some(v) if words.len() > 1 && looks_like_version(v) => {
            let v = v.to_string();
            words.remove(0);
            Some(v)
        }
        _ => None,
    };
    if words.is_empty() {
        return Err(GrammarError(format!(
            "say what the {} changed, e.g. `{} v42 payments client`",
            change.as_str(),
            change.as_str()
        )));
    }
    Ok(Command::Change {
        change,
        version,
        what: words.join(" "),
    })
}

/// The forms a due date may take, for error messages (`prefix` is `due:` in a
/// line of text, empty for `--due`).
fn due_forms(prefix: &str, today: NaiveDate) -> String {
    let example = today
        .checked_add_days(chrono::Days::new(7))
        .unwrap_or(today)
        .format("%Y-%m-%d");
    format!(
        "write {prefix}YYYY-MM-DD (e.g. {prefix}{example}), {prefix}today, {prefix}tomorrow, \
         a weekday ({prefix}fri or {prefix}friday: the next one after today), \
         or days or weeks from today ({prefix}+3d, {prefix}+2w)"
    )
}

/// Most days ahead a relative due date may reach (`+N d` / `+N w`): ten years.
const MAX_DUE_DAYS: u64 = 3660;

/// Reads a due date: `2026-12-04` (exactly YYYY-MM-DD, a real date), `today`,
/// `tomorrow`, a weekday (`fri`, `friday`: the next such day after `today`),
/// or `+3d` / `+2w` from `today`; any case. Anything else (`next-week`,
/// `2026-1-4`, `12/04`) is an error naming it and the forms accepted.
pub fn parse_due(s: &str, today: NaiveDate) -> Result<NaiveDate, GrammarError> {
    due_with(s, today, "")
}

fn due_with(s: &str, today: NaiveDate, prefix: &str) -> Result<NaiveDate, GrammarError> {
    let bad = |why: &str| {
        GrammarError(format!(
            "`{prefix}{s}` is not a due date{why}: {}",
            due_forms(prefix, today)
        ))
    };
    let word = s.trim().to_ascii_lowercase();
    if let Some(d) = due_date(&word) {
        return Ok(d);
    }
    if word.len() == 10 && word.as_bytes()[4] == b'-' && word.as_bytes()[7] == b'-' {
        return Err(bad(" (no such day in the calendar)"));
    }
    let days = |n: u64| today.checked_add_days(chrono::Days::new(n));
    match word.as_str() {
        "today" => return Ok(today),
        "tomorrow" => return days(1).ok_or_else(|| bad("")),
        _ => {}
    }
    if let Some(day) = weekday(&word) {
        let ahead = (7 + day.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
        let ahead = if ahead == 0 { 7 } else { ahead };
        return days(u64::from(ahead)).ok_or_else(|| bad(""));
    }
    if let Some(rel) = word.strip_prefix('+') {
        let (n, unit) = match rel.char_indices().last() {
            Some((i, _)) => rel.split_at(i),
            None => ("", ""),
        };
        let per = match unit {
            "d" => 1,
            "w" => 7,
            _ => return Err(bad(" (say d for days or w for weeks, e.g. +3d)")),
        };
        let Some(n) = (!n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            .then(|| n.parse::<u64>().ok())
            .flatten()
        else {
            return Err(bad(""));
        };
        return match n.checked_mul(per).filter(|d| *d <= MAX_DUE_DAYS) {
            Some(d) => days(d).ok_or_else(|| bad("")),
            None => Err(bad(" (more than ten years away)")),
        };
    }
    Err(bad(""))
}

/// A weekday by its name or a usual abbreviation (`fri`, `thu`, `thurs`, `tues`).
fn weekday(word: &str) -> Option<Weekday> {
    Some(match word {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tues" | "tuesday" => Weekday::Tue,
        "wed" | "weds" | "wednesday" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

/// A due date exactly as `YYYY-MM-DD` (four-digit year, padded month and
/// day, a real date), or `None`.
pub fn due_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shape
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
}

fn parse_action_item(text: &str, today: NaiveDate) -> Result<Command, GrammarError> {
    let mut owner: Option<String> = None;
    let mut due: Option<NaiveDate> = None;
    let mut priority: Option<Priority> = None;
    let mut words = Vec::new();
    for w in text.split_whitespace() {
        if let Some(p) = Priority::parse(w) {
            if let Some(first) = priority {
                return Err(GrammarError(format!(
                    "two priorities ({first}, {p}): an action item has one; keep one"
                )));
            }
            priority = Some(p);
        } else if let Some(o) = w.strip_prefix('@').filter(|o| !o.is_empty()) {
            if let Some(first) = &owner {
                return Err(GrammarError(format!(
                    "two owners (@{first}, @{o}): an action item has one; write the other without @"
                )));
            }
            owner = Some(o.to_string());
        } else if let Some(d) = w
            .get(..4)
            .filter(|head| head.eq_ignore_ascii_case("due:"))
            .map(|_| &w[4..])
        {
            if let Some(first) = due {
                return Err(GrammarError(format!(
                    "two due dates (due:{first}, due:{d}): an action item has one; keep one"
                )));
            }
            due = Some(due_with(d, today, "due:")?);
        } else {
            words.push(w);
        }
    }
    if words.is_empty() {
        return Err(GrammarError(
            "the action item says nothing to do: write what, e.g. `add a pool alarm @ann due:fri`"
                .into(),
        ));
    }
    Ok(Command::ActionItem {
        text: words.join(" "),
        owner,
        due,
        priority,
    })
}

impl Command {
    /// One line saying what will be saved, for the responder to check before
    /// it is (the view shows it under the input line; `ic event` prints it
    /// after writing): `action item "fix the pool" · owner @bob · due Fri
    /// 2026-12-04`, `deploy v42: "new payments client"`, `evidence for h1:
    /// "pool waits at 100%"`. Dates are absolute; line breaks show as ` | `.
    pub fn understood(&self) -> String {
        let q = |t: &str| format!("\"{}\"", t.replace('\n', " | "));
        match self {
            Command::Note { text, tags } => {
                let mut s = format!("note {}", q(text));
                for t in tags {
                    s.push_str(&format!(" · #{}", t.as_str()));
                }
                s
            }
            Command::Hypothesis { text } => format!("new hypothesis {}", q(text)),
            Command::Evidence {
                hypothesis,
                supports,
                text,
            } => {
                let side = if *supports { "for" } else { "against" };
                if text.is_empty() {
                    format!("evidence {side} {hypothesis} (no text)")
                } else {
                    format!("evidence {side} {hypothesis}: {}", q(text))
                }
            }
            Command::Confirm { hypothesis } => format!("confirm {hypothesis}"),
            Command::RuleOut { hypothesis } => format!("rule out {hypothesis}"),
            Command::Role { role, person } => format!("role {role}: {person}"),
            Command::StatusUpdate { text } => {
                let lines = text.lines().count();
                if lines > 1 {
                    format!("status update ({lines} lines): {}", q(text))
                } else {
                    format!("status update {}", q(text))
                }
            }
            Command::Change {
                change,
                version,
                what,
            } => match version {
                Some(v) => format!("{} {v}: {}", change.as_str(), q(what)),
                None => format!("{} (no version): {}", change.as_str(), q(what)),
            },
            Command::ActionItem {
                text,
                owner,
                due,
                priority,
            } => {
                let mut s = format!("action item {}", q(text));
                if let Some(p) = priority {
                    s.push_str(&format!(" · {p}"));
                }
                match owner {
                    Some(o) => s.push_str(&format!(" · owner @{o}")),
                    None => s.push_str(" · no owner"),
                }
                if let Some(d) = due {
                    s.push_str(&format!(" · due {}", d.format("%a %Y-%m-%d")));
                }
                s
            }
            Command::Severity { severity, reason } => {
                if reason.is_empty() {
                    format!("severity {severity}")
                } else {
                    format!("severity {severity}: {}", q(reason))
                }
            }
            Command::RootCause { text } => format!("root cause {}", q(text)),
            Command::ActionDone { item, note } if note.is_empty() => {
                format!("action item {} done", q(item))
            }
            Command::ActionDone { item, note } => {
                format!("action item {} done: {}", q(item), q(note))
            }
            Command::Acknowledge => "acknowledge the incident".to_string(),
            Command::Lifecycle { stage, at, note } => {
                let mut s = format!(
                    "{} at {}",
                    stage.as_str().replace('_', " "),
                    at.format("%Y-%m-%d %H:%M:%SZ")
                );
                if !note.is_empty() {
                    s.push_str(&format!(": {}", q(note)));
                }
                s
            }
            Command::Open { title } => format!("open an incident {}", q(title)),
            Command::Close { reason } => {
                if reason.is_empty() {
                    "close the incident".to_string()
                } else {
                    format!("close the incident: {}", q(reason))
                }
            }
        }
    }

    /// The timeline event this command writes, by `actor` at `now`;
    /// `next_hypothesis` names a new hypothesis (`h3`), else the fold numbers it.
    pub fn draft(&self, actor: &str, now: DateTime<Utc>, next_hypothesis: Option<&str>) -> Draft {
        match self {
            Command::Note { text, tags } => {
                let tags: Vec<&str> = tags.iter().map(|t| t.as_str()).collect();
                Draft::note(actor, text, &tags)
            }
            Command::Hypothesis { text } => match next_hypothesis {
                Some(id) => Draft::typed(
                    Kind::HypothesisAdded,
                    actor,
                    format!("{id}: {text}"),
                    &payload::HypothesisAdded {
                        id: Some(id.to_string()),
                        text: Some(text.clone()),
                    },
                ),
                None => Draft::typed(
                    Kind::HypothesisAdded,
                    actor,
                    text,
                    &payload::HypothesisAdded {
                        id: None,
                        text: Some(text.clone()),
                    },
                ),
            },
            Command::Evidence {
                hypothesis,
                supports,
                text,
            } => Draft::typed(
                Kind::EvidenceAdded,
                actor,
                format!(
                    "{} {hypothesis}: {text}",
                    if *supports { "for" } else { "against" }
                ),
                &payload::EvidenceAdded {
                    hypothesis: hypothesis.clone(),
                    supports: Some(*supports),
                    text: Some(text.clone()),
                },
            ),
            Command::Confirm { hypothesis } => Draft::typed(
                Kind::HypothesisConfirmed,
                actor,
                format!("{hypothesis} confirmed"),
                &payload::Verdict {
                    hypothesis: hypothesis.clone(),
                },
            ),
            Command::RuleOut { hypothesis } => Draft::typed(
                Kind::HypothesisRuledOut,
                actor,
                format!("{hypothesis} ruled out"),
                &payload::Verdict {
                    hypothesis: hypothesis.clone(),
                },
            ),
            Command::Role { role, person } => Draft::typed(
                Kind::RoleAssigned,
                actor,
                format!("{person} is {role}"),
                &payload::RoleAssigned {
                    role: role.clone(),
                    person: person.clone(),
                },
            ),
            Command::StatusUpdate { text } => Draft::typed(
                Kind::CommsUpdate,
                actor,
                "status update",
                &payload::CommsUpdate {
                    text: Some(text.clone()),
                },
            ),
            Command::Change {
                change,
                version,
                what,
            } => Draft::change(actor, change.as_str(), what, version.as_deref()),
            Command::ActionItem {
                text,
                owner,
                due,
                priority,
            } => {
                let due = due.map(|d| d.format("%Y-%m-%d").to_string());
                Draft::action_item(
                    actor,
                    text,
                    owner.as_deref().unwrap_or(""),
                    due.as_deref(),
                    *priority,
                )
            }
            Command::Severity { severity, reason } => Draft::severity(actor, *severity, reason),
            Command::RootCause { text } => Draft::typed(
                Kind::RootCause,
                actor,
                format!("root cause: {text}"),
                &payload::RootCause {
                    technical: text.clone(),
                    process: String::new(),
                },
            ),
            Command::ActionDone { item, note } => Draft::typed(
                Kind::ActionDone,
                actor,
                if note.is_empty() {
                    format!("action item {item} done")
                } else {
                    note.clone()
                },
                &payload::ActionDone { item: item.clone() },
            ),
            Command::Acknowledge => {
                let mut d = Draft::lifecycle(actor, Stage::Acknowledged, now);
                d.msg = format!("acknowledged by {actor}");
                d
            }
            Command::Lifecycle { stage, at, note } => {
                let mut d = Draft::lifecycle(actor, *stage, *at);
                if !note.is_empty() {
                    d.msg = format!("{}: {note}", d.msg);
                }
                d
            }
            Command::Open { title } => Draft::opened(actor, title, ""),
            Command::Close { reason } => {
                Draft::new(Kind::IncidentClosed, actor, reason.as_str(), Value::Null)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH
    }

    /// Wednesday 2 December 2026.
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn p(kind: InputKind, text: &str) -> Command {
        parse(kind, text, today()).unwrap()
    }

    fn err(kind: InputKind, text: &str) -> String {
        parse(kind, text, today()).unwrap_err().0
    }

    #[test]
    fn hypotheses_evidence_confirm_and_rule_out() {
        let h = InputKind::Hypothesis;
        assert_eq!(
            p(h, "+h1 pool waits at 100%"),
            Command::Evidence {
                hypothesis: "h1".into(),
                supports: true,
                text: "pool waits at 100%".into()
            }
        );
        assert!(matches!(
            p(h, "-h12 cpu normal"),
            Command::Evidence {
                supports: false,
                ..
            }
        ));
        assert_eq!(
            p(h, "!h2"),
            Command::Confirm {
                hypothesis: "h2".into()
            }
        );
        assert_eq!(
            p(h, "xh3"),
            Command::RuleOut {
                hypothesis: "h3".into()
            }
        );
        // Text that only starts like a reference is a hypothesis.
        for text in [
            "-5xx from the LB",
            "xray shows nothing",
            "xh1 and more",
            "+1 more",
            "!important",
        ] {
            assert_eq!(
                p(h, text),
                Command::Hypothesis { text: text.into() },
                "{text}"
            );
        }
    }

    #[test]
    fn notes_lose_their_tags_into_tags() {
        assert_eq!(
            p(InputKind::Note, "paging worked #well #well"),
            Command::Note {
                text: "paging worked".into(),
                tags: vec![NoteTag::WentWell]
            }
        );
        // A tag inside a word is text.
        assert_eq!(
            p(InputKind::Note, "x#poorly"),
            Command::Note {
                text: "x#poorly".into(),
                tags: vec![]
            }
        );
    }

    #[test]
    fn changes_take_a_version_only_when_it_reads_as_one() {
        let c = |t| p(InputKind::Change(ChangeKind::Deploy), t);
        assert_eq!(
            c("deploy v42 payments rollout"),
            Command::Change {
                change: ChangeKind::Deploy,
                version: Some("v42".into()),
                what: "payments rollout".into()
            }
        );
        assert_eq!(
            c("flag checkout-v2 on"),
            Command::Change {
                change: ChangeKind::Flag,
                version: None,
                what: "checkout-v2 on".into()
            }
        );
        assert!(matches!(
            c("rolled out the new pool"),
            Command::Change { version: None, .. }
        ));
        assert!(matches!(
            c("1.4.2 pool size"),
            Command::Change {
                version: Some(_),
                ..
            }
        ));
        assert!(matches!(
            c("3f9a2c1 hotfix"),
            Command::Change {
                version: Some(_),
                ..
            }
        ));
        assert!(matches!(c("v42"), Command::Change { version: None, .. }));
    }

    #[test]
    fn action_items_roles_severities_say_what_is_wrong() {
        assert_eq!(
            p(InputKind::ActionItem, "add pool alarm @ann due:2026-12-10"),
            Command::ActionItem {
                text: "add pool alarm".into(),
                owner: Some("ann".into()),
                due: Some(date("2026-12-10")),
                priority: None,
            }
        );
        assert_eq!(
            p(InputKind::ActionItem, "p1 add pool alarm @ann"),
            Command::ActionItem {
                text: "add pool alarm".into(),
                owner: Some("ann".into()),
                due: None,
                priority: Some(Priority::P1),
            }
        );
        assert_eq!(
            p(InputKind::ActionDone, "1a2b3c4d  alarm live"),
            Command::ActionDone {
                item: "1a2b3c4d".into(),
                note: "alarm live".into(),
            }
        );
        assert_eq!(
            p(InputKind::ActionDone, "1a2b3c4d").understood(),
            "action item \"1a2b3c4d\" done"
        );
        assert!(parse(InputKind::ActionDone, "   ", today()).is_err());
        let e = err(InputKind::ActionItem, "P1 add pool alarm P2");
        assert!(e.contains("two priorities (P1, P2)"), "{e}");
        assert_eq!(
            p(InputKind::ActionItem, "fix it P2 @bob").understood(),
            "action item \"fix it\" · P2 · owner @bob"
        );
        let e = err(InputKind::ActionItem, "x due:next-week");
        assert!(
            e.contains("`due:next-week`") && e.contains("YYYY-MM-DD"),
            "{e}"
        );
        for bad in [
            "+12026-01-01",
            "-0001-01-01",
            "2026-1-01",
            "2026-02-29",
            "2026-12-01x",
        ] {
            assert!(
                parse(InputKind::ActionItem, &format!("x due:{bad}"), today()).is_err(),
                "{bad}"
            );
        }
        assert!(parse(InputKind::ActionItem, "ask @ann to pair with @bob", today()).is_err());
        assert!(
            parse(
                InputKind::ActionItem,
                "x due:2026-12-01 due:2027-01-01",
                today()
            )
            .is_err()
        );
        // An address is not an owner.
        assert!(matches!(
            p(InputKind::ActionItem, "email ann@example.com @bob"),
            Command::ActionItem { owner: Some(o), .. } if o == "bob"
        ));
        assert!(parse(InputKind::ActionItem, "@ann", today()).is_err());
        assert!(
            parse(InputKind::Role, "comms", today())
                .unwrap_err()
                .0
                .contains("comms ann")
        );
        assert_eq!(
            p(InputKind::Severity, "sev2 checkout failing"),
            Command::Severity {
                severity: Severity::Sev2,
                reason: "checkout failing".into()
            }
        );
        assert!(
            parse(InputKind::Severity, "bad", today())
                .unwrap_err()
                .0
                .contains("SEV-1")
        );
        assert!(parse(InputKind::Note, "   ", today()).is_err());
    }

    #[test]
    fn drafts_have_the_shape_the_fold_reads() {
        let d = p(InputKind::Hypothesis, "pool exhausted").draft("ann", now(), Some("h2"));
        assert_eq!(d.kind, Kind::HypothesisAdded);
        assert_eq!(d.data, json!({"id": "h2", "text": "pool exhausted"}));
        let d = p(InputKind::Comms, "a | b").draft("ann", now(), None);
        assert_eq!(d.data, json!({"text": "a\nb"}));
        let d = p(InputKind::ActionItem, "fix it").draft("ann", now(), None);
        assert_eq!(d.data, json!({"text": "fix it", "owner": "", "due": null}));
    }

    #[test]
    fn a_version_must_look_like_one_or_the_whole_text_is_the_description() {
        for v in [
            "v42",
            "V7",
            "v1.2.3",
            "1.2.3",
            "2026.12.01-3",
            "2.0.0-rc.1+build5",
            "3f9a2c1",
            "3f9a2c1d0e4b5a6978877665544332211aabbccd",
        ] {
            assert!(looks_like_version(v), "{v}");
        }
        for w in [
            "rollback", "of", "42", "3", "3rd", "v", "vault", "v42x!", "1.", "deadbeef", "cafe1",
            "1.2.3/4", "v1..", "-1",
        ] {
            assert!(!looks_like_version(w), "{w}");
        }
        let c = |t| p(InputKind::Change(ChangeKind::Deploy), t);
        // The report from the issue: `rollback` is a kind, never a version.
        assert_eq!(
            c("rollback of something"),
            Command::Change {
                change: ChangeKind::Rollback,
                version: None,
                what: "of something".into()
            }
        );
        assert_eq!(
            c("Rollback v41 payments client"),
            Command::Change {
                change: ChangeKind::Rollback,
                version: Some("v41".into()),
                what: "payments client".into()
            }
        );
        assert_eq!(
            c("restarted 3 pods"),
            Command::Change {
                change: ChangeKind::Deploy,
                version: None,
                what: "restarted 3 pods".into()
            }
        );
        assert_eq!(
            c("42 pods restarted"),
            Command::Change {
                change: ChangeKind::Deploy,
                version: None,
                what: "42 pods restarted".into()
            }
        );
        assert_eq!(
            c("config 2026.12.01-3 pool size 20"),
            Command::Change {
                change: ChangeKind::Config,
                version: Some("2026.12.01-3".into()),
                what: "pool size 20".into()
            }
        );
        // A kind and nothing else says nothing about what changed.
        let e = err(InputKind::Change(ChangeKind::Deploy), "rollback");
        assert!(e.contains("say what the rollback changed"), "{e}");
        assert_eq!(ChangeKind::parse("ROLLBACK"), Some(ChangeKind::Rollback));
        assert_eq!(ChangeKind::parse("rollout"), None);
    }

    #[test]
    fn due_dates_in_every_accepted_form_become_absolute_dates() {
        // today() is Wednesday 2026-12-02.
        for (text, want) in [
            ("2026-12-04", "2026-12-04"),
            ("2027-02-28", "2027-02-28"),
            ("today", "2026-12-02"),
            ("TODAY", "2026-12-02"),
            ("tomorrow", "2026-12-03"),
            ("Tomorrow", "2026-12-03"),
            ("thu", "2026-12-03"),
            ("thursday", "2026-12-03"),
            ("thurs", "2026-12-03"),
            ("fri", "2026-12-04"),
            ("friday", "2026-12-04"),
            ("Fri", "2026-12-04"),
            ("sat", "2026-12-05"),
            ("sun", "2026-12-06"),
            ("mon", "2026-12-07"),
            ("tue", "2026-12-08"),
            ("tues", "2026-12-08"),
            // The same weekday as today is next week's, never today.
            ("wed", "2026-12-09"),
            ("wednesday", "2026-12-09"),
            ("+0d", "2026-12-02"),
            ("+3d", "2026-12-05"),
            ("+30d", "2027-01-01"),
            ("+2w", "2026-12-16"),
            ("+1W", "2026-12-09"),
        ] {
            assert_eq!(parse_due(text, today()), Ok(date(want)), "{text}");
            assert_eq!(
                p(InputKind::ActionItem, &format!("fix the pool due:{text}")),
                Command::ActionItem {
                    text: "fix the pool".into(),
                    owner: None,
                    due: Some(date(want)),
                    priority: None,
                },
                "due:{text}"
            );
        }
        // The weekday is counted from the day given, not a clock.
        let sunday = date("2026-12-06");
        assert_eq!(parse_due("mon", sunday), Ok(date("2026-12-07")));
        assert_eq!(parse_due("sun", sunday), Ok(date("2026-12-13")));
        assert_eq!(parse_due("+1d", date("2026-12-31")), Ok(date("2027-01-01")));
        // `Due:` is the same key in any case.
        assert!(matches!(
            p(InputKind::ActionItem, "x Due:fri"),
            Command::ActionItem { due: Some(d), .. } if d == date("2026-12-04")
        ));
    }

    #[test]
    fn due_dates_people_mistype_are_refused_naming_the_part_and_the_forms() {
        for bad in [
            "next-week",
            "someday",
            "",
            "2026-1-04",
            "2026-02-29",
            "2026-13-01",
            "2026-12-32",
            "12/04",
            "04.12.2026",
            "+3",
            "+d",
            "+3m",
            "+3 d",
            "+-3d",
            "+3dd",
            "+3é",
            "3d",
            "fr",
            "fridays",
            "+99999999999999999999d",
            "+600w",
            "2026-12-04x",
            "+12026-01-01",
        ] {
            let e = parse_due(bad, today()).unwrap_err().0;
            assert!(
                e.starts_with(&format!("`{bad}` is not a due date")),
                "{bad}: {e}"
            );
            for form in ["YYYY-MM-DD", "today", "tomorrow", "fri", "+3d", "+2w"] {
                assert!(e.contains(form), "{bad}: {e} lacks {form}");
            }
            if bad.contains(' ') {
                continue;
            }
            let e = err(InputKind::ActionItem, &format!("x due:{bad}"));
            assert!(
                e.starts_with(&format!("`due:{bad}` is not a due date")),
                "{bad}: {e}"
            );
            assert!(e.contains("due:YYYY-MM-DD") && e.contains("due:+3d"), "{e}");
        }
        assert!(
            parse_due("2026-02-29", today())
                .unwrap_err()
                .0
                .contains("calendar")
        );
        assert!(
            parse_due("+3m", today())
                .unwrap_err()
                .0
                .contains("d for days")
        );
        assert!(
            parse_due("+600w", today())
                .unwrap_err()
                .0
                .contains("ten years")
        );
        let e = err(InputKind::ActionItem, "x due:fri due:mon");
        assert!(e.contains("two due dates") && e.contains("due:mon"), "{e}");
        // A word that starts with `due:` is the due date, so it must be one.
        let e = err(InputKind::ActionItem, "ask about due:dates later");
        assert!(e.starts_with("`due:dates` is not a due date"), "{e}");
    }

    #[test]
    fn understood_says_in_one_line_what_will_be_saved() {
        let u = |k, t| p(k, t).understood();
        assert_eq!(
            u(InputKind::ActionItem, "fix the pool @bob due:fri"),
            "action item \"fix the pool\" · owner @bob · due Fri 2026-12-04"
        );
        assert_eq!(
            u(InputKind::ActionItem, "fix the pool"),
            "action item \"fix the pool\" · no owner"
        );
        let deploy = InputKind::Change(ChangeKind::Deploy);
        assert_eq!(
            u(deploy, "v42 new payments client"),
            "deploy v42: \"new payments client\""
        );
        assert_eq!(
            u(deploy, "rollback of something"),
            "rollback (no version): \"of something\""
        );
        assert_eq!(
            u(InputKind::Hypothesis, "+h1 pool waits at 100%"),
            "evidence for h1: \"pool waits at 100%\""
        );
        assert_eq!(
            u(InputKind::Hypothesis, "-h2"),
            "evidence against h2 (no text)"
        );
        assert_eq!(u(InputKind::Hypothesis, "!h2"), "confirm h2");
        assert_eq!(u(InputKind::Hypothesis, "xh3"), "rule out h3");
        assert_eq!(
            u(InputKind::Hypothesis, "pool exhausted"),
            "new hypothesis \"pool exhausted\""
        );
        assert_eq!(
            u(InputKind::Note, "paging worked #well"),
            "note \"paging worked\" · #went_well"
        );
        assert_eq!(u(InputKind::Role, "comms cat"), "role comms: cat");
        assert_eq!(
            u(InputKind::Comms, "Investigating | next update 12:30"),
            "status update (2 lines): \"Investigating | next update 12:30\""
        );
        assert_eq!(
            u(InputKind::Severity, "sev2 checkout failing"),
            "severity SEV-2: \"checkout failing\""
        );
        assert_eq!(u(InputKind::Severity, "SEV-1"), "severity SEV-1");
        assert_eq!(
            u(InputKind::RootCause, "pool of 10"),
            "root cause \"pool of 10\""
        );
        let at = DateTime::parse_from_rfc3339("2026-11-22T03:20:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            Command::Lifecycle {
                stage: Stage::Mitigated,
                at,
                note: "rolled back".into()
            }
            .understood(),
            "mitigated at 2026-11-22 03:20:00Z: \"rolled back\""
        );
        assert_eq!(
            Command::Close {
                reason: String::new()
            }
            .understood(),
            "close the incident"
        );
        assert_eq!(
            Command::Open {
                title: "Checkout 5xx".into()
            }
            .understood(),
            "open an incident \"Checkout 5xx\""
        );
        // Whatever is saved, the line is one line.
        assert!(!u(InputKind::Comms, "a | b | c").contains('\n'));
    }

    #[test]
    fn the_stored_due_date_is_absolute() {
        let d = p(InputKind::ActionItem, "fix it @bob due:tomorrow").draft("ann", now(), None);
        assert_eq!(
            d.data,
            json!({"text": "fix it", "owner": "bob", "due": "2026-12-03"})
        );
    }

    proptest::proptest! {
        #[test]
        fn any_text_of_any_kind_parses_or_is_refused_without_panicking(
            text in "\\PC{0,40}",
            word in "(due:|@|\\+|-|!|x|v|deploy |rollback |SEV-)?[+a-z0-9.é:/-]{0,12}",
            days in 0i64..200_000,
        ) {
            let today = NaiveDate::from_ymd_opt(1, 1, 1).unwrap() + chrono::Days::new(days as u64);
            let kinds = [
                InputKind::Note,
                InputKind::Hypothesis,
                InputKind::Role,
                InputKind::Comms,
                InputKind::Change(ChangeKind::Deploy),
                InputKind::ActionItem,
                InputKind::Severity,
                InputKind::RootCause,
            ];
            for kind in kinds {
                for line in [text.clone(), format!("{word} {text}"), format!("fix {word}")] {
                    if let Ok(c) = parse(kind, &line, today) {
                        let once = c.understood();
                        proptest::prop_assert!(!once.contains('\n'));
                        let _ = c.draft("ann", now(), Some("h1"));
                    }
                }
            }
            let _ = parse_due(&word, today);
            let _ = parse_due(&word, NaiveDate::MAX);
            let _ = parse_due(&word, NaiveDate::MIN);
        }
    }
}
