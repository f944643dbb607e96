//! `ic silence add | list | expire`: silences live in the timeline
//! directory's silence log (`silences.jsonl`, a timeline of its own: locked
//! appends, `seq`, ids), which every running `ic` and `ic watch` of that
//! directory follows once a second. A silence added or expired while an
//! incident is open is also copied into that incident's timeline. Exit 0 when
//! written or listed, 2 for bad usage (an empty reason, an unknown id, a
//! silence longer than 7 days).

use super::event::actor_name;
use super::{EXIT_OK, UsageError, timeline_dir};
use crate::cli::{SilenceAddArgs, SilenceCommand, SilenceExpireArgs, SilenceListArgs};
use crate::config::Config;
use crate::core::event::{Draft, Event, Kind};
use crate::core::payload::{self, Payload};
use crate::core::silence::{self, MAX_SILENCE, Matcher, Origin, Silence, When, Window};
use crate::core::text::escape;
use crate::journal::{self, Journal};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How far ahead a silence may be set to start.
const MAX_AHEAD: Duration = Duration::days(30);

pub(super) fn run(cmd: &SilenceCommand, config: Option<&Path>) -> anyhow::Result<u8> {
    match cmd {
        SilenceCommand::Add(a) => add(a, config),
        SilenceCommand::List(a) => list(a, config),
        SilenceCommand::Expire(a) => expire(a, config),
    }
}

fn usage(text: impl Into<String>) -> anyhow::Error {
    UsageError(text.into()).into()
}

fn add(args: &SilenceAddArgs, config: Option<&Path>) -> anyhow::Result<u8> {
    silence::check_reason(&args.reason).map_err(usage)?;
    let matcher = if args.all {
        Matcher::All
    } else {
        Matcher::parse(args.target.as_deref().unwrap_or_default()).map_err(usage)?
    };
    let now = crate::clock::now();
    let span = Duration::from_std(args.duration).unwrap_or(MAX_SILENCE + MAX_SILENCE);
    if span <= Duration::zero() {
        return Err(usage("--for must be longer than 0 s, e.g. --for 30m"));
    }
    if span > MAX_SILENCE {
        return Err(usage(format!(
            "--for is at most {} days: a silence longer than that is forgotten and hides the next outage (use a `maintenance:` window in ic.yaml for what recurs)",
            MAX_SILENCE.num_days()
        )));
    }
    let starts = match &args.from {
        None => now,
        Some(text) => DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                usage(format!(
                    "--from `{}` is not an RFC 3339 time like 2026-12-05T22:00:00Z",
                    escape(text)
                ))
            })?,
    };
    let ends = starts + span;
    if ends <= now {
        return Err(usage(
            "this silence would have ended already: check --from and --for",
        ));
    }
    if starts > now + MAX_AHEAD {
        return Err(usage(format!(
            "--from is more than {} days ahead",
            MAX_AHEAD.num_days()
        )));
    }
    let actor = actor_name(args.actor.as_deref(), config)?;
    let configured = Config::discover(config).ok();
    if let Some(c) = &configured
        && let Some(hint) = unknown_target(c, &matcher)
    {
        eprintln!("warning: {hint}");
    }
    let dir = timeline_dir(args.timeline_dir.as_deref(), config)?;
    let reason = args.reason.trim().to_string();
    // The service's, when a config names it: another service's `ic` on the
    // same directory is not silenced.
    let service = service_of(configured.as_ref());
    let mut log = Journal::open(&dir.join(journal::SILENCE_LOG))?;
    let event = log.append(
        Draft::typed(
            Kind::SilenceAdded,
            &actor,
            format!(
                "silence {} for {}: {reason}",
                matcher.text(),
                crate::core::units::format_duration(args.duration)
            ),
            &payload::SilenceAdded {
                silence: String::new(),
                target: matcher.text().to_string(),
                service: service.clone(),
                starts: Some(starts),
                ends: Some(ends),
                reason: reason.clone(),
            },
        ),
        now,
    )?;
    let id = format!("s{}", event.seq);
    let copied = copy_to_incident(&dir, &service, &event, &id, now);
    if args.json {
        let mut obj = serde_json::json!(event);
        obj["silence"] = id.clone().into();
        println!("{obj}");
    } else {
        println!(
            "{id} silences {} from {} until {} ({}): {}",
            escape(matcher.text()),
            starts.format("%Y-%m-%d %H:%M:%S UTC"),
            ends.format("%Y-%m-%d %H:%M:%S UTC"),
            crate::core::units::format_duration(args.duration),
            escape(&reason)
        );
        println!("  end it early with `ic silence expire {id}`");
    }
    report_copy(copied);
    Ok(EXIT_OK)
}

/// Says why a pattern may match nothing: no `*`, not an endpoint's name, and
/// not under a metrics target (routes are `SOURCE ROUTE`). Alert names and
/// Prometheus routes are not known ahead, so with those configured nothing is said.
fn unknown_target(c: &Config, m: &Matcher) -> Option<String> {
    let Matcher::Pattern(p) = m else {
        return None;
    };
    if p.contains('*') || c.alertmanager.is_some() || c.prometheus.is_some() {
        return None;
    }
    let probe = c.endpoints.iter().any(|e| e.name.as_str() == p);
    let route = c
        .metrics
        .iter()
        .any(|t| p.starts_with(&format!("{} ", t.name.as_str())));
    if probe || route {
        return None;
    }
    let mut names: Vec<String> = c.endpoints.iter().map(|e| e.name.to_string()).collect();
    names.extend(c.metrics.iter().map(|t| format!("{} /…", t.name)));
    Some(format!(
        "`{}` is not the name of a target in {}: the silence holds only a target named exactly so (targets: {}; `*` matches many, e.g. `{} *`)",
        escape(p),
        c.source.display(),
        names.join(", "),
        c.metrics.first().map_or("payments", |t| t.name.as_str())
    ))
}

/// The configured service (empty without a config: every service).
fn service_of(c: Option<&Config>) -> String {
    c.map(|c| c.service.expose().to_string())
        .unwrap_or_default()
}

/// Copies a silence event into the service's open incident in the
/// directory, if any and not stale (an hour without an event), with the
/// silence's id (so a running `ic` does not copy it again).
fn copy_to_incident(
    dir: &Path,
    service: &str,
    e: &Event,
    id: &str,
    now: DateTime<Utc>,
) -> Option<Result<PathBuf, String>> {
    let (path, last) = journal::newest_open_at(dir, service, now)?;
    if now - last >= Duration::hours(1) {
        return None;
    }
    let mut data = e.data.clone();
    data["silence"] = id.into();
    let draft = Draft::new(e.kind, &e.actor, e.msg.clone(), data);
    Some(
        Journal::open(&path)
            .and_then(|mut j| j.append(draft, now))
            .map(|_| path.clone())
            .map_err(|err| {
                format!(
                    "not copied into the open incident {}: {err}",
                    path.display()
                )
            }),
    )
}

fn report_copy(copied: Option<Result<PathBuf, String>>) {
    match copied {
        Some(Ok(p)) => println!("  recorded in the open incident {}", p.display()),
        Some(Err(why)) => eprintln!("warning: {why}"),
        None => {}
    }
}

/// The silence log's events (none when it does not exist yet), with its problems said on stderr.
fn read_log(dir: &Path) -> anyhow::Result<(PathBuf, Vec<Event>)> {
    let path = dir.join(journal::SILENCE_LOG);
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok((path, Vec::new()));
    }
    let replay = journal::read(&path)?;
    for p in &replay.problems {
        eprintln!("{}:{}: {}", path.display(), p.line, p.message);
    }
    Ok((path, replay.events))
}

fn folded(path: &Path, events: &[Event]) -> Vec<Silence> {
    let (silences, problems) = silence::fold(events);
    for (seq, why) in problems {
        eprintln!("{} (seq {seq}): {why}", path.display());
    }
    silences
}

fn list(args: &SilenceListArgs, config: Option<&Path>) -> anyhow::Result<u8> {
    let dir = timeline_dir(args.timeline_dir.as_deref(), config)?;
    let (path, events) = read_log(&dir)?;
    let silences = folded(&path, &events);
    let now = crate::clock::now();
    // How many signals each silence held (fired), from the log's own records.
    let mut held: BTreeMap<String, usize> = BTreeMap::new();
    for e in events.iter().filter(|e| e.kind == Kind::SignalSilenced) {
        if let Ok(Payload::SignalSilenced(p)) = e.payload()
            && p.state == "fired"
        {
            *held.entry(p.silence).or_default() += 1;
        }
    }
    let configured = Config::discover(config).ok();
    let service = service_of(configured.as_ref());
    let shown: Vec<&Silence> = silences
        .iter()
        .filter(|s| args.all || s.ends > now)
        .filter(|s| service.is_empty() || s.for_service(&service))
        .collect();
    let windows = configured.map(|c| c.maintenance).unwrap_or_default();
    if args.json {
        for s in &shown {
            let by = match &s.origin {
                Origin::Added(who) => who.clone(),
                Origin::Maintenance => String::new(),
            };
            println!(
                "{}",
                serde_json::json!({
                    "silence": s.id, "target": s.matcher.text(), "starts": s.starts, "ends": s.ends,
                    "reason": s.reason, "by": by, "in_force": s.active(now),
                    "held": held.get(&s.id).copied().unwrap_or(0),
                })
            );
        }
        for (i, w) in windows.iter().enumerate() {
            println!(
                "{}",
                serde_json::json!({
                    "silence": format!("m{}", i + 1), "maintenance": w.name,
                    "targets": w.targets.iter().map(Matcher::text).collect::<Vec<_>>(),
                    "when": describe_when(&w.when), "in_force": w.holding(now).is_some(),
                    "held": held.get(&format!("m{}", i + 1)).copied().unwrap_or(0),
                })
            );
        }
        return Ok(EXIT_OK);
    }
    if shown.is_empty() && windows.is_empty() {
        println!(
            "no silences{} in {} (add one with `ic silence add TARGET --for 30m --reason \"…\"`)",
            if args.all { "" } else { " in force or to come" },
            dir.display()
        );
        return Ok(EXIT_OK);
    }
    for s in &shown {
        let state = if s.active(now) {
            format!("in force, {} left", left(s.ends - now))
        } else if s.starts > now {
            format!("starts {}", s.starts.format("%Y-%m-%d %H:%M UTC"))
        } else {
            "ended".to_string()
        };
        let by = match &s.origin {
            Origin::Added(who) => who.as_str(),
            Origin::Maintenance => "maintenance",
        };
        println!(
            "{:<5} {}  until {}  {state}, held {} signal(s) — {} ({})",
            s.id,
            escape(s.matcher.text()),
            s.ends.format("%Y-%m-%d %H:%M UTC"),
            held.get(&s.id).copied().unwrap_or(0),
            escape(&s.reason),
            escape(by)
        );
    }
    for (i, w) in windows.iter().enumerate() {
        println!("{}", escape(&describe_window(i + 1, w, now)));
    }
    Ok(EXIT_OK)
}

/// `2h 05m`, `9m 12s`, `40s`.
fn left(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

fn describe_when(when: &When) -> String {
    match when {
        When::Once(from, until) => format!(
            "{} – {}",
            from.format("%Y-%m-%d %H:%M UTC"),
            until.format("%Y-%m-%d %H:%M UTC")
        ),
        When::Weekly(days, from, until) => format!(
            "every {} {}–{} UTC",
            days.iter()
                .map(|d| d.to_string().to_lowercase())
                .collect::<Vec<_>>()
                .join(","),
            from.format("%H:%M"),
            until.format("%H:%M")
        ),
    }
}

fn describe_window(index: usize, w: &Window, now: DateTime<Utc>) -> String {
    let targets = if w.targets.is_empty() {
        "*".to_string()
    } else {
        w.targets
            .iter()
            .map(Matcher::text)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let state = match w.holding(now) {
        Some((_, end)) => format!("in force until {}", end.format("%H:%M UTC")),
        None => "not in force".into(),
    };
    format!(
        "m{index:<4} {targets} {} — {} (maintenance window in the config)  {state}",
        describe_when(&w.when),
        w.name
    )
}

fn expire(args: &SilenceExpireArgs, config: Option<&Path>) -> anyhow::Result<u8> {
    let id = args.id.trim();
    if id.starts_with('m') && id[1..].chars().all(|c| c.is_ascii_digit()) && id.len() > 1 {
        return Err(usage(format!(
            "{} is a maintenance window of the config: remove or change it under `maintenance:` in ic.yaml",
            escape(id)
        )));
    }
    let actor = actor_name(args.actor.as_deref(), config)?;
    let dir = timeline_dir(args.timeline_dir.as_deref(), config)?;
    let (path, events) = read_log(&dir)?;
    let silences = folded(&path, &events);
    let now = crate::clock::now();
    let Some(s) = silences.iter().find(|s| s.id == id) else {
        return Err(usage(format!(
            "no silence `{}` in {} (`ic silence list --all` shows them)",
            escape(id),
            path.display()
        )));
    };
    if s.ends <= now {
        println!(
            "{} already ended at {}",
            s.id,
            s.ends.format("%Y-%m-%d %H:%M:%S UTC")
        );
        return Ok(EXIT_OK);
    }
    let mut log = Journal::open(&path)?;
    let event = log.append(
        Draft::typed(
            Kind::SilenceExpired,
            &actor,
            format!("silence {} expired: {}", s.id, s.reason),
            &payload::SilenceExpired {
                silence: s.id.clone(),
            },
        ),
        now,
    )?;
    println!("{} expired ({})", s.id, escape(&s.describe()));
    let service = s.service.clone().unwrap_or_default();
    report_copy(copy_to_incident(&dir, &service, &event, &s.id, now));
    Ok(EXIT_OK)
}
