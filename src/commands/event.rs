//! `ic event`: appends one event to an incident timeline from a shell or a
//! pipeline — a note, a deploy marker, a status update, an action item, a
//! severity, a lifecycle correction — and prints what was written. With
//! `--stdin`, one event per line: each line is bounded (a longer one is
//! reported and skipped), invalid UTF-8 is replaced and reported, and the
//! stream goes on either way. Exit 0 when everything was written, 1 when the
//! system refused a write (disk full, read-only, permissions), 2 for bad usage
//! or input, no open incident, or a timeline that cannot take events.

use super::{EXIT_OK, EXIT_USAGE, UsageError, timeline_dir};
use crate::cli::EventArgs;
use crate::core::event::{Draft, Kind, Stage, format_ts};
use crate::core::grammar::{self, ChangeKind, Command, InputKind, NoteTag};
use crate::core::payload::{Payload, to_data};
use crate::journal::{self, Journal};
use chrono::{DateTime, Utc};
use std::path::Path;

pub(super) fn run(args: &EventArgs, config: Option<&Path>) -> anyhow::Result<u8> {
    let message = if args.stdin {
        "events from standard input".to_string()
    } else {
        args.message.join(" ")
    };
    if message.trim().is_empty() {
        return Err(UsageError("the message is empty: say what happened".into()).into());
    }
    if let Some(a) = &args.actor
        && (a.chars().count() > 64 || a.chars().any(char::is_control))
    {
        return Err(UsageError(
            "--actor must be a name of at most 64 characters without control characters".into(),
        )
        .into());
    }
    let actor = args
        .actor
        .clone()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| {
            let configured = crate::config::Config::discover(config).ok();
            crate::responder::name(
                configured
                    .as_ref()
                    .and_then(|c| c.responder.as_ref())
                    .map(|r| r.expose()),
            )
        });
    let now = crate::clock::now();
    // With --stdin each line is a message and this draft is never written: it only
    // checks the kind and its options, on a text every kind accepts (a severity
    // starts with one).
    let probe = if args.stdin {
        "SEV-1 events from standard input"
    } else {
        message.as_str()
    };
    let mut first = draft(args, &actor, probe, now)?;
    if first.kind == Kind::IncidentOpened
        && let Ok(c) = crate::config::Config::discover(config)
    {
        // The incident belongs to the configured service, as the view's and `ic watch`'s do.
        if let Ok(Payload::Opened(mut opened)) = first.payload() {
            opened.service = c.service.expose().to_string();
            first.data = to_data(&opened);
        }
    }
    if args.stdin && first.kind == Kind::IncidentOpened {
        return Err(UsageError(
            "--stdin appends to an incident; open it first with `ic event --kind open TITLE`"
                .into(),
        )
        .into());
    }
    let path = match &args.timeline {
        Some(p) => p.clone(),
        None => {
            let dir = timeline_dir(args.timeline_dir.as_deref(), config)?;
            if first.kind == Kind::IncidentOpened {
                // An explicit open always starts a new timeline, never one another process just made.
                let mut journal = Journal::create(&dir, now, &message)?;
                let event = journal.append(first, now)?;
                report(&mut journal, &event, args.json);
                return Ok(EXIT_OK);
            } else {
                journal::newest_open(&dir).ok_or_else(|| {
                    UsageError(format!(
                        "no open incident in {}: give --timeline FILE, or open one with `ic event --kind open \"TITLE\"`",
                        dir.display()
                    ))
                })?
            }
        }
    };
    let mut journal = Journal::open(&path)?;
    if !args.stdin {
        let event = journal.append(first, now)?;
        report(&mut journal, &event, args.json);
        if event.kind == Kind::IncidentClosed {
            say_missing(&path);
        }
        return Ok(EXIT_OK);
    }
    let mut input = std::io::stdin().lock();
    let mut skipped = 0;
    let mut n = 0;
    while let Some(line) =
        read_line(&mut input).map_err(|e| anyhow::anyhow!("cannot read standard input: {e}"))?
    {
        n += 1;
        let text = match line {
            Line::TooLong(bytes) => {
                eprintln!(
                    "warning: stdin line {n}: {bytes} bytes, over the {} a timeline line may hold: skipped",
                    journal::MAX_LINE
                );
                skipped += 1;
                continue;
            }
            Line::Text(t, lossy) => {
                if lossy {
                    eprintln!(
                        "warning: stdin line {n}: not valid UTF-8; the bad bytes are written as U+FFFD"
                    );
                }
                t
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let now = crate::clock::now();
        match journal.append(draft(args, &actor, &text, now)?, now) {
            Ok(event) => report(&mut journal, &event, args.json),
            Err(e @ journal::JournalError::TooLong { .. }) => {
                eprintln!("warning: stdin line {n}: {e}");
                skipped += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if skipped > 0 {
        eprintln!("{skipped} input line(s) were not written (see the warnings above)");
        return Ok(EXIT_USAGE);
    }
    Ok(EXIT_OK)
}

/// One line of standard input.
enum Line {
    /// Its text (lossily decoded) and whether bytes had to be replaced.
    Text(String, bool),
    /// A line longer than a timeline line may be, with its length; its bytes were dropped.
    TooLong(usize),
}

/// Reads one line of at most [`journal::MAX_LINE`] bytes, keeping memory bounded
/// whatever the input (a longer line is drained and reported, not held).
fn read_line(input: &mut impl std::io::BufRead) -> std::io::Result<Option<Line>> {
    let mut buf = Vec::new();
    let mut total = 0usize;
    let mut any = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        any = true;
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let content = if done { take - 1 } else { take };
        total = total.saturating_add(content);
        if buf.len() < journal::MAX_LINE + 1 {
            let room = journal::MAX_LINE + 1 - buf.len();
            buf.extend_from_slice(&chunk[..content.min(room)]);
        }
        input.consume(take);
        if done {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if total > journal::MAX_LINE {
        return Ok(Some(Line::TooLong(total)));
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(match String::from_utf8(buf) {
        Ok(t) => Line::Text(t, false),
        Err(e) => Line::Text(String::from_utf8_lossy(e.as_bytes()).into_owned(), true),
    }))
}

/// After a close: what the incident was closed without (not resolved, no root
/// cause, no action items), so the learn phase is not skipped unnoticed.
fn say_missing(path: &Path) {
    let Ok(replay) = journal::read(path) else {
        return;
    };
    let missing = crate::core::incident::Incident::fold(&replay.events).missing_before_close();
    if !missing.is_empty() {
        eprintln!(
            "note: {} is closed, but: {} (they can still be added with ic event -t FILE)",
            path.display(),
            missing.join(", ")
        );
    }
}

/// Prints the acknowledgement of a written event (and any torn tail set aside).
fn report(journal: &mut Journal, event: &crate::core::event::Event, json: bool) {
    for torn in journal.take_torn() {
        eprintln!(
            "warning: {}: a torn last line ({} bytes) from an interrupted write was moved to {}",
            journal.path().display(),
            torn.bytes,
            torn.kept_in.display()
        );
    }
    if json {
        out!("{}", event.to_line());
    } else {
        out!(
            "{}  #{} {} {}: {}",
            journal.path().display(),
            event.seq,
            format_ts(event.ts),
            event.kind,
            event.msg
        );
    }
}

fn draft(
    args: &EventArgs,
    actor: &str,
    message: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Draft> {
    let kind = args.kind.trim().to_ascii_lowercase().replace('_', "-");
    let parse = |k: InputKind| grammar::parse(k, message).map_err(|e| UsageError(e.0));
    let command = match kind.as_str() {
        "note" => match parse(InputKind::Note)? {
            Command::Note { text, mut tags } => {
                for t in args.tags.iter().filter(|t| !t.trim().is_empty()) {
                    let tag = NoteTag::named(t);
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
                Command::Note { text, tags }
            }
            other => other,
        },
        "deploy" | "config" | "flag" | "change" => {
            let default = ChangeKind::parse(&kind).unwrap_or(ChangeKind::Change);
            match parse(InputKind::Change(default))? {
                Command::Change {
                    change,
                    version,
                    what,
                } => Command::Change {
                    change,
                    version: args.change_version.clone().or(version),
                    what,
                },
                other => other,
            }
        }
        "comms" => parse(InputKind::Comms)?,
        "action" => match parse(InputKind::ActionItem)? {
            Command::ActionItem { text, owner, due } => {
                if let Some(d) = &args.due
                    && grammar::due_date(d).is_none()
                {
                    return Err(UsageError(format!(
                        "--due `{d}` is not a date: write YYYY-MM-DD, e.g. 2026-12-01"
                    ))
                    .into());
                }
                Command::ActionItem {
                    text,
                    owner: args.owner.clone().or(owner),
                    due: args.due.clone().or(due),
                }
            }
            other => other,
        },
        "hypothesis" => parse(InputKind::Hypothesis)?,
        "role" => parse(InputKind::Role)?,
        "severity" => parse(InputKind::Severity)?,
        "root-cause" => parse(InputKind::RootCause)?,
        "open" => Command::Open {
            title: message.to_string(),
        },
        "close" => Command::Close {
            reason: message.to_string(),
        },
        other => match Stage::parse(other) {
            Some(stage) => {
                let at = match &args.at {
                    None => now,
                    Some(t) => DateTime::parse_from_rfc3339(t)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|e| {
                            UsageError(format!(
                                "--at `{t}` is not an RFC 3339 time ({e}): write e.g. 2026-11-22T03:04:05Z"
                            ))
                        })?,
                };
                Command::Lifecycle {
                    stage,
                    at,
                    note: message.to_string(),
                }
            }
            None => {
                return Err(UsageError(format!(
                    "unknown kind `{other}`: use note, deploy, config, flag, comms, action, hypothesis, role, severity, root-cause, open, close, impact-started, detected, acknowledged, mitigated, impact-ended or resolved"
                ))
                .into());
            }
        },
    };
    let d = command.draft(actor, now, None);
    if args.at.is_some() && d.kind != Kind::Lifecycle {
        return Err(
            UsageError("--at is for lifecycle stages (e.g. --kind mitigated)".into()).into(),
        );
    }
    Ok(d)
}
