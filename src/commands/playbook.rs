//! `ic playbook list` and `ic playbook show`: the playbooks in use, and a dry
//! run of one — every step with the exact text each command would hand to
//! `sh -c` and the environment it would set, from the same rendering the
//! runner uses (`core::command`), so `env … sh -c "$command"` reproduces it.

use super::{EXIT_OK, UsageError};
use crate::cli::{PlaybookCommand, PlaybookShowArgs};
use crate::config::{Config, ConfigError};
use crate::core::command::{Command, Values};
use crate::core::event::Severity;
use crate::core::playbook::Playbook;
use serde_json::json;
use std::path::Path;

pub(super) fn run(cmd: &PlaybookCommand, config: Option<&Path>) -> anyhow::Result<u8> {
    let config = match Config::discover(config) {
        Ok(c) => Some(c),
        // Without a config the bundled playbooks are the ones in use.
        Err(ConfigError::NotFound { .. }) if config.is_none() => None,
        Err(e) => return Err(e.into()),
    };
    match cmd {
        PlaybookCommand::List { json } => list(config.as_ref(), *json),
        PlaybookCommand::Show(args) => show(config.as_ref(), args),
    }
}

/// The playbooks a view on `config` would use.
fn in_use(config: Option<&Config>) -> anyhow::Result<Vec<Playbook>> {
    match config {
        Some(c) => super::setup::playbooks(c, Vec::new()),
        None => Ok(crate::core::playbook::bundled()),
    }
}

fn applies(p: &Playbook) -> String {
    let a = &p.applies_when;
    if p.is_generic() {
        return "any incident (generic fallback)".into();
    }
    let mut parts = Vec::new();
    if !a.signals.is_empty() {
        parts.push(format!("signals {}", a.signals.join(", ")));
    }
    if !a.targets.is_empty() {
        parts.push(format!("targets {}", a.targets.join(", ")));
    }
    if !a.classes.is_empty() {
        let classes: Vec<&str> = a.classes.iter().map(|c| c.as_str()).collect();
        parts.push(format!("classes {}", classes.join(", ")));
    }
    parts.join(" · ")
}

fn list(config: Option<&Config>, json: bool) -> anyhow::Result<u8> {
    let playbooks = in_use(config)?;
    for p in &playbooks {
        let steps = p.phases.all().count();
        let commands = p.phases.all().filter(|(_, s)| s.run.is_some()).count();
        if json {
            out!(
                "{}",
                json!({"id": p.id, "title": p.title, "applies_when": applies(p),
                       "steps": steps, "commands": commands, "generic": p.is_generic()})
            );
        } else {
            out!(
                "{:<22} {steps:>3} steps, {commands:>2} commands  {}  [{}]",
                p.id,
                p.title,
                applies(p)
            );
        }
    }
    if !json {
        out!(
            "{} playbooks ({}); `ic playbook show ID` prints one with its commands",
            playbooks.len(),
            if config.is_some_and(|c| c.playbooks.is_some()) {
                "from the config's playbooks:"
            } else {
                "bundled"
            }
        );
    }
    Ok(EXIT_OK)
}

fn show(config: Option<&Config>, args: &PlaybookShowArgs) -> anyhow::Result<u8> {
    let path = Path::new(&args.playbook);
    let playbook = if path.is_file() {
        crate::files::load_playbook(path)?
    } else {
        let all = in_use(config)?;
        let ids: Vec<String> = all.iter().map(|p| p.id.clone()).collect();
        all.into_iter()
            .find(|p| p.id == args.playbook)
            .ok_or_else(|| {
                UsageError(format!(
                    "no playbook `{}`: give a file, or one of {}",
                    args.playbook,
                    ids.join(", ")
                ))
            })?
    };
    let severity = match &args.severity {
        None => None,
        Some(s) => Some(Severity::parse(s).ok_or_else(|| {
            UsageError(format!(
                "--severity `{s}` is not a severity: SEV-1, SEV-2, SEV-3 or SEV-4"
            ))
        })?),
    };
    let mut values = Values::default();
    if let Some(t) = &args.target {
        // A route is `SOURCE ROUTE`, SOURCE a metrics target (or `prometheus`).
        let is_route = t.split_once(' ').is_some_and(|(source, _)| {
            source == "prometheus"
                || config.is_none_or(|c| c.metrics.iter().any(|m| m.name.as_str() == source))
        });
        values.set_target(t, is_route);
    }
    let service = args
        .service
        .clone()
        .or_else(|| config.map(|c| c.service.expose().to_string()))
        .unwrap_or_default();
    values.set("service", service);
    values.set(
        "severity",
        severity.map_or("unset".into(), |s| s.to_string()),
    );
    values.set(
        "incident",
        args.incident
            .as_ref()
            .map_or(String::new(), |p| p.display().to_string()),
    );
    values.set("playbook", playbook.id.clone());
    let env = values.env();

    let mut steps = Vec::new();
    for (phase, step) in playbook.phases.all() {
        let command = step
            .command()
            .transpose()
            .map_err(|e| anyhow::anyhow!("{}: step `{}`: {e}", playbook.id, step.id))?;
        steps.push((phase, step, command));
    }
    if args.json {
        let steps: Vec<_> = steps
            .iter()
            .map(|(phase, step, command)| {
                json!({
                    "phase": phase,
                    "id": step.id,
                    "text": step.text,
                    "applies": step.applies(severity),
                    "required": step.required,
                    "verify": step.verify,
                    "command": command.as_ref().map(|c| c.text.clone()),
                    "env": command.as_ref().map(|_| {
                        env.iter().cloned().collect::<std::collections::BTreeMap<String, String>>()
                    }),
                    "refused": command.as_ref().and_then(|c| c.check(&values).err()),
                    "timeout_s": step.timeout.map_or(60, |t| t.get().as_secs()),
                })
            })
            .collect();
        out!(
            "{}",
            json!({"playbook": playbook.id, "title": playbook.title, "steps": steps})
        );
        return Ok(EXIT_OK);
    }
    out!("playbook `{}`: {}", playbook.id, playbook.title);
    out!("applies to {}", applies(&playbook));
    let shown: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::core::command::quoted_visible(v)))
        .collect();
    out!("commands run with {}", shown.join(" "));
    let mut last = None;
    for (phase, step, command) in &steps {
        if last != Some(*phase) {
            out!("");
            out!("{phase}");
            last = Some(*phase);
        }
        let mut notes = Vec::new();
        if !step.applies(severity) {
            notes.push(format!(
                "skipped at {}",
                severity.map_or("this severity".into(), |s| s.to_string())
            ));
        }
        if !step.required {
            notes.push("optional".into());
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("  ({})", notes.join(", "))
        };
        out!("  [{}] {}{notes}", step.id, step.text);
        if let Some(v) = &step.verify {
            out!("      verify: {v}");
        }
        if let Some(c) = command {
            print_command(c, &values, step.timeout.map_or(60, |t| t.get().as_secs()));
        }
    }
    Ok(EXIT_OK)
}

/// The command as `sh -c` receives it, a line each, then what refuses or flags it.
fn print_command(c: &Command, values: &Values, timeout_s: u64) {
    for (i, line) in c.text.split('\n').enumerate() {
        let lead = if i == 0 { "$" } else { ">" };
        out!("      {lead} {}", visible_line(line));
    }
    out!("      (sh -c, timeout {timeout_s} s)");
    for u in c.uses.iter().filter(|u| u.reparsed_by.is_some()) {
        out!(
            "      warning: {{{}}} is parsed again by `{}`",
            u.placeholder.name,
            u.reparsed_by.as_deref().unwrap_or_default()
        );
    }
    if let Err(why) = c.check(values) {
        out!("      refused: {why}");
    }
}

/// A command line with control characters and non-ASCII as visible escapes.
fn visible_line(line: &str) -> String {
    let q = crate::core::command::quoted_visible(line);
    q[1..q.len() - 1].to_string()
}
