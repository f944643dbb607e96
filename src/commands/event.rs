//! `ic event`: appends one event to an incident timeline from a shell or a
//! pipeline — a note, a deploy marker, a status update, an action item, a
//! severity, a lifecycle correction — and prints what was written. With
//! `--stdin`, one event per line: each line is bounded (a longer one is
//! reported and skipped), invalid UTF-8 is replaced and reported, and the
//! stream goes on either way. Exit 0 when everything was written, 1 when the
//! system refused a write (disk full, read-only, permissions), 2 for bad usage
//! or input, no open incident, or a timeline that cannot take events.
//!
//! After the acknowledgement it prints what was understood (the grammar's
//! [`Command::understood`], the line the view shows before saving). Relative
//! due dates count from today's local date. `--kind open` is refused while an
//! incident is open in the timeline dir (naming it) unless `--new` asks for a
//! second one; a lifecycle stage or `close` may go without a message.

use super::{EXIT_OK, EXIT_USAGE, UsageError, timeline_dir};
use crate::cli::EventArgs;
use crate::core::event::{Draft, Kind, Priority, Stage, format_ts};
use crate::core::grammar::{self, ChangeKind, Command, InputKind, NoteTag};
use crate::core::payload::{Payload, to_data};
use crate::journal::{self, Journal};
use chrono::{DateTime, Utc};
use std::path::Path;

/// `ic event`; with `team:` configured, the event joins the team's incident
/// (copied here first when this machine has none open) and is published.
pub(super) async fn run_with_team(args: &EventArgs, config: Option<&Path>) -> anyhow::Result<u8> {
    let loaded = crate::config::Config::discover(config)
        .ok()
        .filter(|c| c.team.is_some());
    let Some(loaded) = loaded else {
        if args.incident.is_some() {
            return Err(UsageError(
                "--incident chooses a team incident: configure `team:` in ic.yaml, or give --timeline FILE".into(),
            )
            .into());
        }
        return run(args, config, &mut Vec::new());
    };
    let mut args_here;
    let mut args = args;
    if args.timeline.is_none()
        && normal_kind(&args.kind) != "open"
        && normal_kind(&args.kind) != "action-done"
    {
        let dir = timeline_dir(args.timeline_dir.as_deref(), config)?;
        match super::team::incident_for_event(&loaded, &dir, args.incident.as_deref()).await? {
            Some(path) => {
                args_here = args.clone();
                args_here.timeline = Some(path);
                args_here.incident = None;
                args = &args_here;
            }
            None if args.incident.is_some() => {
                return Err(UsageError(format!(
                    "no incident `{}` here or on the team: `ic incidents --all` lists them",
                    args.incident.as_deref().unwrap_or_default()
                ))
                .into());
            }
            None => {}
        }
    }
    let mut written = Vec::new();
    let code = run(args, config, &mut written)?;
    super::team::publish_written(&loaded, &written).await;
    Ok(code)
}

/// `ic event` on this machine; what it writes is kept in `written`.
pub(super) fn run(
    args: &EventArgs,
    config: Option<&Path>,
    written: &mut Vec<(std::path::PathBuf, crate::core::event::Event)>,
) -> anyhow::Result<u8> {
    if normal_kind(&args.kind) == "action-done" {
        return action_done(args, config, written);
    }
    let message = if args.stdin {
        "events from standard input".to_string()
    } else {
        args.message.join(" ")
    };
    if message.trim().is_empty()
        && let Some(missing) = missing_message(&normal_kind(&args.kind))
    {
        return Err(UsageError(missing).into());
    }
    if args.new && normal_kind(&args.kind) != "open" {
        return Err(UsageError(
            "--new is for opening a second incident: use it with --kind open".into(),
        )
        .into());
    }
    let actor = actor_name(args.actor.as_deref(), config)?;
    let now = crate::clock::now();
    // With --stdin each line is a message and this draft is never written: it only
    // checks the kind and its options, on a text every kind accepts (a severity
    // starts with one).
    let probe = if args.stdin {
        "SEV-1 events from standard input"
    } else {
        message.as_str()
    };
    let (command, mut first) = draft(args, &actor, probe, now)?;
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
                // One open incident per timeline dir unless --new says a second is meant.
                if !args.new
                    && let Some(open) = journal::newest_open(&dir)
                {
                    return Err(UsageError(already_open(&dir, &open)).into());
                }
                // An explicit open always starts a new timeline, never one another process just made.
                let mut journal = Journal::create(&dir, now, &message)?;
                let event = journal.append(first, now)?;
                super::team::keep(written, &journal, &event);
                report(&mut journal, &event, args.json, &command.understood());
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
    if first.kind == Kind::IncidentOpened
        && let Ok(replay) = journal::read(&path)
    {
        let held = crate::core::incident::Incident::fold(&replay.events);
        if replay.events.iter().any(|e| e.kind == Kind::IncidentOpened) && held.is_open() {
            return Err(UsageError(format!(
                "{} already holds the open incident \"{}\": a timeline holds one incident; add to it without --kind open, close it with `ic event -t {} --kind close \"why\"`, or open the new one in a timeline dir (without -t)",
                path.display(),
                held.title,
                path.display()
            ))
            .into());
        }
    }
    let mut journal = Journal::open(&path)?;
    if !args.stdin {
        let event = journal.append(first, now)?;
        super::team::keep(written, &journal, &event);
        report(&mut journal, &event, args.json, &command.understood());
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
        let (command, d) = draft(args, &actor, &text, now)?;
        match journal.append(d, now) {
            Ok(event) => {
                super::team::keep(written, &journal, &event);
                report(&mut journal, &event, args.json, &command.understood());
            }
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

/// `-k action-done ID [WHAT WAS DONE]`: closes the action item `ID` (its id or
/// short id, as `ic actions` shows) in the timeline that holds it, open or
/// closed — with `--timeline`, in that file only.
fn action_done(
    args: &EventArgs,
    config: Option<&Path>,
    written: &mut Vec<(std::path::PathBuf, crate::core::event::Event)>,
) -> anyhow::Result<u8> {
    let example =
        "e.g. `ic event -k action-done 1a2b3c4d \"pool alarm live\"` (`ic actions` lists the ids)";
    if args.stdin {
        return Err(UsageError(format!(
            "--stdin is not for action-done: close one item at a time, {example}"
        ))
        .into());
    }
    let message = args.message.join(" ");
    let (name, note) = match message.trim().split_once(char::is_whitespace) {
        Some((name, note)) => (name, note.trim()),
        None => (message.trim(), ""),
    };
    if name.is_empty() {
        return Err(UsageError(format!(
            "no ID: `ic event -k action-done` needs the item's id, {example}"
        ))
        .into());
    }
    let incidents = match &args.timeline {
        Some(path) => {
            let replay = journal::read(path)?;
            vec![(
                path.clone(),
                crate::core::incident::Incident::fold(&replay.events),
            )]
        }
        None => super::actions::read_all(&timeline_dir(args.timeline_dir.as_deref(), config)?),
    };
    let (path, item) = crate::core::actions::find(&incidents, name).map_err(UsageError)?;
    let short = item.short_id().unwrap_or_default();
    if let Some(done) = &item.done {
        return Err(UsageError(format!(
            "action item {short} \"{}\" is already done ({} by {}: {})",
            crate::core::text::escape(&item.text),
            format_ts(done.at),
            crate::core::text::escape(&done.actor),
            crate::core::text::escape(&done.text)
        ))
        .into());
    }
    let id = item
        .id
        .as_deref()
        .map(crate::core::event::EventId::parse)
        .transpose()
        .map_err(UsageError)?
        .ok_or_else(|| UsageError(format!("action item `{name}` has no id")))?;
    let actor = actor_name(args.actor.as_deref(), config)?;
    let note = if note.is_empty() {
        format!("done: {}", item.text)
    } else {
        note.to_string()
    };
    let understood = format!(
        "action item {short} \"{}\" done",
        crate::core::text::escape(&item.text)
    );
    let mut journal = Journal::open(path)?;
    let event = journal.append(Draft::action_done(&actor, &id, &note), crate::clock::now())?;
    super::team::keep(written, &journal, &event);
    report(&mut journal, &event, args.json, &understood);
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

/// `--kind` as the match below reads it: lower case, `_` as `-`.
fn normal_kind(kind: &str) -> String {
    kind.trim().to_ascii_lowercase().replace('_', "-")
}

/// What to say when `kind` is given no MESSAGE, or `None` when it needs none
/// (a lifecycle stage, `close`) or is unknown (the draft names the kinds).
fn missing_message(kind: &str) -> Option<String> {
    let (what, example) = match kind {
        "note" => ("what happened", "restarted the payments pool"),
        "deploy" | "rollback" | "config" | "flag" | "change" => {
            ("what changed", "v42 payments client")
        }
        "comms" => (
            "the status update",
            "Checkout errors for some customers; next update 12:30",
        ),
        "action" => ("what is to be done", "add a pool alarm @ann due:fri"),
        "hypothesis" => (
            "the hypothesis (or +h1 evidence, !h1, xh1)",
            "pool exhausted",
        ),
        "role" => ("the role and the person", "comms cat"),
        "severity" => ("the severity and why", "SEV-2 checkout failing for 8%"),
        "root-cause" => ("the cause", "pool of 10 under peak load"),
        "open" => ("the incident's title", "Checkout 5xx"),
        _ => return None,
    };
    Some(format!(
        "no MESSAGE: `ic event --kind {kind}` needs {what}, e.g. `ic event --kind {kind} \"{example}\"` (or --stdin for one event per line)"
    ))
}

/// Why `--kind open` is refused while `open` (in `dir`) is still open, and what to do.
fn already_open(dir: &Path, open: &Path) -> String {
    let (title, opened) = match journal::read(open) {
        Ok(replay) => {
            let inc = crate::core::incident::Incident::fold(&replay.events);
            (inc.title, inc.opened.map(format_ts))
        }
        Err(_) => (String::new(), None),
    };
    format!(
        "an incident is already open in {}: \"{title}\" ({}{}); add to it without --kind open, close it first with `ic event --kind close \"why\"`, or pass --new to open a second incident beside it",
        dir.display(),
        open.display(),
        opened.map(|t| format!(", opened {t}")).unwrap_or_default()
    )
}

/// Prints the acknowledgement of a written event (and any torn tail set aside),
/// then what was understood (the line the view shows before saving).
fn report(journal: &mut Journal, event: &crate::core::event::Event, json: bool, understood: &str) {
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
        out!("  {understood}");
    }
}

/// The command `message` of `args.kind` reads as, and the event it writes.
fn draft(
    args: &EventArgs,
    actor: &str,
    message: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<(Command, Draft)> {
    let kind = normal_kind(&args.kind);
    let today = crate::clock::local_date(now);
    let parse = |k: InputKind| grammar::parse(k, message, today).map_err(|e| UsageError(e.0));
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
        "deploy" | "rollback" | "config" | "flag" | "change" => {
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
            Command::ActionItem {
                text,
                owner,
                due,
                priority,
            } => {
                let flag = match &args.due {
                    Some(d) => Some(
                        grammar::parse_due(d, today)
                            .map_err(|e| UsageError(format!("--due {}", e.0)))?,
                    ),
                    None => None,
                };
                let flag_priority = match &args.priority {
                    Some(p) => Some(Priority::parse(p).ok_or_else(|| {
                        UsageError(format!("--priority `{p}`: write P1, P2 or P3"))
                    })?),
                    None => None,
                };
                Command::ActionItem {
                    text,
                    owner: args.owner.clone().or(owner),
                    due: flag.or(due),
                    priority: flag_priority.or(priority),
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
                    "unknown kind `{other}`: use note, deploy, rollback, config, flag, comms, action, action-done, hypothesis, role, severity, root-cause, open, close, impact-started, detected, acknowledged, mitigated, impact-ended or resolved"
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
    Ok((command, d))
}

/// Who an `ic event` or `ic silence` is by: `--actor` (one short line), else
/// the config's `responder:`, else `$USER@host`.
pub(super) fn actor_name(explicit: Option<&str>, config: Option<&Path>) -> anyhow::Result<String> {
    if let Some(a) = explicit
        && (a.chars().count() > 64 || a.chars().any(char::is_control))
    {
        return Err(UsageError(
            "--actor must be a name of at most 64 characters without control characters".into(),
        )
        .into());
    }
    Ok(explicit
        .map(str::to_string)
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| {
            let configured = crate::config::Config::discover(config).ok();
            crate::responder::name(configured.as_ref().and_then(|c| c.responder_name()))
        }))
}
