//! `ic event`: appends one event to an incident timeline from a shell or a
//! pipeline — a note, a deploy marker, a status update, an action item, a
//! severity, a lifecycle correction — and prints what was written.

use super::{EXIT_OK, UsageError, timeline_dir};
use crate::cli::EventArgs;
use crate::core::event::{Draft, Kind, Severity, Stage, format_ts};
use crate::journal::{self, Journal};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
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
    let actor = args
        .actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| "someone".into());
    let now = crate::clock::now();
    let first = draft(args, &actor, &message, now)?;
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
                journal::ensure_dir(&dir)?;
                dir.join(journal::file_name(now, &message))
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
        return Ok(EXIT_OK);
    }
    for line in std::io::stdin().lines() {
        let line = line.map_err(|e| anyhow::anyhow!("cannot read standard input: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let now = crate::clock::now();
        let event = journal.append(draft(args, &actor, &line, now)?, now)?;
        report(&mut journal, &event, args.json);
    }
    Ok(EXIT_OK)
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
    let d = match kind.as_str() {
        "note" => {
            let tags: Vec<&str> = args.tags.iter().map(String::as_str).collect();
            Draft::note(actor, message, &tags)
        }
        "deploy" | "config" | "flag" | "change" => {
            Draft::change(actor, &kind, message, args.change_version.as_deref())
        }
        "comms" => Draft::new(Kind::CommsUpdate, actor, message, json!({"text": message})),
        "action" => Draft::action_item(
            actor,
            message,
            args.owner.as_deref().unwrap_or(""),
            args.due.as_deref(),
        ),
        "hypothesis" => Draft::new(
            Kind::HypothesisAdded,
            actor,
            message,
            json!({"text": message}),
        ),
        "severity" => {
            let (first, rest) = message.split_once(' ').unwrap_or((message, ""));
            let sev = Severity::parse(first).ok_or_else(|| {
                UsageError(format!(
                    "`{first}` is not a severity: start the message with SEV-1, SEV-2, SEV-3 or SEV-4"
                ))
            })?;
            Draft::severity(actor, sev, rest)
        }
        "root-cause" => Draft::new(
            Kind::RootCause,
            actor,
            format!("root cause: {message}"),
            json!({"technical": message, "process": ""}),
        ),
        "open" => Draft::opened(actor, message, ""),
        "close" => Draft::new(Kind::IncidentClosed, actor, message, Value::Null),
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
                let mut d = Draft::lifecycle(actor, stage, at);
                d.msg = format!("{}: {message}", d.msg);
                d
            }
            None => {
                return Err(UsageError(format!(
                    "unknown kind `{other}`: use note, deploy, config, flag, comms, action, hypothesis, severity, root-cause, open, close, impact-started, detected, acknowledged, mitigated or resolved"
                ))
                .into());
            }
        },
    };
    if args.at.is_some() && d.kind != Kind::Lifecycle {
        return Err(
            UsageError("--at is for lifecycle stages (e.g. --kind mitigated)".into()).into(),
        );
    }
    Ok(d)
}
