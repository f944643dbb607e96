//! `ic lint`: validates config, playbook and scenario files, telling each kind
//! apart by location (`scenarios/`, `playbooks/`) or content (`faults:`,
//! `phases:`, or `endpoints:` / `service:`).
//!
//! Every error is reported, not the first: each file on its own, every failed
//! check of a document that reads, and past an error that stops reading (an
//! unknown field, a bad value) the errors in other list items and sections —
//! found by setting aside the lines of the item (or top-level section) that
//! failed and reading the rest again, keeping only errors that cannot come
//! from what was set aside. A YAML syntax error stops its file. At most
//! [`MAX_ERRORS`] are printed, then how many more there are.

use super::{EXIT_OK, EXIT_USAGE};
use crate::cli::LintArgs;
use crate::config::{self, Config};
use crate::core::playbook::Playbook;
use crate::core::scenario::Scenario;
use crate::core::yaml::Invalid;
use crate::core::yaml::{self, YamlError};
use crate::demo;
use serde_json::json;
use std::path::{Path, PathBuf};

/// What kind of document a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An `ic.yaml`.
    Config,
    /// A fault scenario.
    Scenario,
    /// A playbook.
    Playbook,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Config => "config",
            Kind::Scenario => "scenario",
            Kind::Playbook => "playbook",
        }
    }
}

/// The verdict on one file.
#[derive(Debug)]
pub struct Verdict {
    /// The file.
    pub path: PathBuf,
    /// Its kind, when it could be told.
    pub kind: Option<Kind>,
    /// A one-line description when valid.
    pub summary: Option<String>,
    /// The errors when invalid (at most [`MAX_ERRORS`] per file), in the order found.
    pub errors: Vec<YamlError>,
    /// What is valid but likely wrong (printed as `FILE:LINE:COL: warning: …`; exit stays 0).
    pub warnings: Vec<YamlError>,
}

/// Most errors printed in one run (and looked for in one file); past it, how many more.
pub const MAX_ERRORS: usize = 50;

pub(super) fn run(args: LintArgs, explicit_config: Option<&Path>) -> anyhow::Result<u8> {
    let roots = if args.paths.is_empty() {
        vec![config::locate(
            explicit_config,
            std::env::var_os("IC_CONFIG").map(PathBuf::from),
        )?]
    } else {
        args.paths.clone()
    };
    let mut files = Vec::new();
    for root in &roots {
        collect(root, &mut files);
    }
    let verdicts: Vec<Verdict> = files.iter().map(|f| lint_file(f)).collect();
    let failed = verdicts.iter().filter(|v| !v.errors.is_empty()).count();
    let position = |e: &YamlError| json!({"line": e.line, "column": e.column, "message": e.message, "hint": e.hint});
    if args.json {
        for v in &verdicts {
            let warnings: Vec<_> = v.warnings.iter().map(position).collect();
            let obj = json!({
                "file": v.path.display().to_string(),
                "kind": v.kind.map(Kind::name),
                "ok": v.errors.is_empty(),
                "summary": v.summary,
                "error": v.errors.first().map(position),
                "errors": v.errors.iter().map(position).collect::<Vec<_>>(),
                "warnings": warnings,
            });
            out!("{obj}");
        }
    } else {
        let total: usize = verdicts.iter().map(|v| v.errors.len()).sum();
        let mut shown = 0;
        for v in &verdicts {
            for w in &v.warnings {
                eprintln!("{}", warning_text(w));
            }
            for e in &v.errors {
                if shown < MAX_ERRORS {
                    eprintln!("{}", super::yaml_error_text(e));
                    shown += 1;
                }
            }
            if v.errors.len() >= MAX_ERRORS {
                eprintln!(
                    "{}: stopped looking after {MAX_ERRORS} errors; fix these and lint it again",
                    crate::core::text::escape(&v.path.display().to_string())
                );
            }
            if v.errors.is_empty() {
                match &v.summary {
                    Some(s) => out!("ok  {}  ({s})", v.path.display()),
                    None => out!("ok  {}", v.path.display()),
                }
            }
        }
        if total > shown {
            eprintln!(
                "… and {} more errors (not shown: at most {MAX_ERRORS} are; fix these and lint again, or use --json for all)",
                total - shown
            );
        }
        let noun = if verdicts.len() == 1 { "file" } else { "files" };
        if failed == 0 {
            out!("{} {noun} checked, all valid", verdicts.len());
        } else {
            let errors = if total == 1 { "error" } else { "errors" };
            eprintln!(
                "{} {noun} checked, {failed} with errors ({total} {errors})",
                verdicts.len()
            );
        }
    }
    Ok(if failed == 0 { EXIT_OK } else { EXIT_USAGE })
}

/// `FILE:LINE:COL: warning: message` and the hint on the next line.
fn warning_text(w: &YamlError) -> String {
    let mut w = w.clone();
    w.message = format!("warning: {}", w.message);
    super::yaml_error_text(&w)
}

/// Expands directories into their YAML files (sorted, recursively); keeps files as given.
fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    if !path.is_dir() {
        out.push(path.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        out.push(path.to_path_buf());
        return;
    };
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for child in children {
        let is_yaml = child
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        if child.is_dir() || is_yaml {
            collect(&child, out);
        }
    }
}

/// Lints one file.
pub fn lint_file(path: &Path) -> Verdict {
    let mut verdict = Verdict {
        path: path.to_path_buf(),
        kind: None,
        summary: None,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let text = match crate::files::read_yaml_text(path) {
        Ok(t) => t,
        Err(e) => {
            verdict.errors.push(e);
            return verdict;
        }
    };
    let kind = match detect_kind(path, &text) {
        Ok(k) => k,
        Err(e) => {
            verdict.errors.push(e);
            return verdict;
        }
    };
    verdict.kind = Some(kind);
    let result = match kind {
        Kind::Config => every_error(path, &text, |t| {
            Config::parse_all(path, t, |k| std::env::var(k).ok()).map(|c| {
                let summary = format!(
                    "config: {} endpoints, {} metrics targets",
                    c.endpoints.len(),
                    c.metrics.len()
                );
                (summary, c.warnings(t))
            })
        }),
        Kind::Playbook => every_error(path, &text, |t| {
            Playbook::parse_all(path, t).map(|p| {
                let steps = p.phases.all().count();
                let checks = p.phases.all().filter(|(_, s)| s.verify.is_some()).count();
                let summary = format!(
                    "playbook `{}`: {steps} steps, {checks} self-verifying",
                    p.id
                );
                (summary, p.warnings(path, t))
            })
        }),
        Kind::Scenario => every_error(path, &text, |t| {
            let s = Scenario::parse(path, t).map_err(Invalid::Unread)?;
            // With its own `traffic:`, a scenario's routes were checked against it on parsing;
            // without, it plays on the demo API's routes.
            let summary = if s.traffic.is_empty() {
                s.check_routes(path, &demo::routes::templates())
                    .map_err(|e| Invalid::Checks(vec![e]))?;
                format!("scenario `{}`: {} faults", s.name, s.faults.len())
            } else {
                format!(
                    "scenario `{}`: {} faults, {} simulated routes",
                    s.name,
                    s.faults.len(),
                    s.traffic.len()
                )
            };
            Ok((summary, Vec::new()))
        }),
    };
    match result {
        Ok((summary, warnings)) => {
            verdict.summary = Some(summary);
            verdict.warnings = warnings;
        }
        Err(errors) => verdict.errors = errors,
    }
    verdict
}

/// Reads `text` with `read` and returns every error found (at most
/// [`MAX_ERRORS`]): after an error that stops reading, the list item (or
/// top-level section) it is in is blanked out — line numbers stay — and the
/// rest is read again. An error found after that counts only when it has a
/// position outside what was blanked and outside the lines that hold it
/// (`endpoints:` above a blanked endpoint), is not a missing field, and does
/// not name a blanked section: anything else may come from the blanking, so
/// the search stops there. A syntax error stops it at once.
fn every_error<T>(
    path: &Path,
    text: &str,
    read: impl Fn(&str) -> Result<T, Invalid>,
) -> Result<T, Vec<YamlError>> {
    let mut found: Vec<YamlError> = Vec::new();
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let mut aside = SetAside::default();
    loop {
        let current = lines.join("\n");
        if !found.is_empty() && yaml::parse::<yaml_serde::Value>(path, &current).is_err() {
            return Err(found);
        }
        match read(&current) {
            Ok(v) if found.is_empty() => return Ok(v),
            Ok(_) => return Err(found),
            Err(Invalid::Checks(errors)) => {
                let first = found.is_empty();
                found.extend(
                    errors
                        .into_iter()
                        .filter(|e| first || aside.allows(e))
                        .map(|e| aside.renumber(e))
                        .take(MAX_ERRORS),
                );
                found.truncate(MAX_ERRORS);
                return Err(found);
            }
            Err(Invalid::Unread(e)) => {
                if !found.is_empty() && !aside.allows(&e) {
                    return Err(found);
                }
                // A syntax error: what follows it cannot be read soundly.
                if found.is_empty() && yaml::parse::<yaml_serde::Value>(path, text).is_err() {
                    return Err(vec![e]);
                }
                let line = e.line;
                found.push(aside.renumber(e));
                if found.len() >= MAX_ERRORS {
                    return Err(found);
                }
                let Some(line) = line else {
                    return Err(found);
                };
                if !aside.blank_around(&mut lines, line) {
                    return Err(found);
                }
            }
        }
    }
}

/// What [`every_error`] blanked out, to tell which later errors it may have caused.
#[derive(Default)]
struct SetAside {
    /// Blanked lines, 1-based, inclusive ranges.
    ranges: Vec<(usize, usize)>,
    /// The lines that hold a blanked item (its list's key and their parents), 1-based.
    holders: std::collections::HashSet<usize>,
    /// Top-level keys whose whole section was blanked.
    sections: Vec<String>,
    /// Blanked items of top-level lists: the list's key and the item's 1-based first line.
    items: Vec<(String, usize)>,
}

impl SetAside {
    /// `e` as the original file has it: a later item of a list whose earlier
    /// items were blanked is read with a smaller index (`endpoints[0]` for the
    /// second endpoint), so the index in its path is moved back up.
    fn renumber(&self, mut e: YamlError) -> YamlError {
        let Some(line) = e.line else {
            return e;
        };
        let Some((key, rest)) = e.message.split_once('[') else {
            return e;
        };
        let Some((index, tail)) = rest.split_once(']') else {
            return e;
        };
        let Ok(index) = index.parse::<usize>() else {
            return e;
        };
        let before = self
            .items
            .iter()
            .filter(|(k, at)| k == key && *at < line)
            .count();
        if before > 0 {
            e.message = format!("{key}[{}]{tail}", index + before);
        }
        e
    }

    /// Whether an error found after blanking is surely not caused by it.
    fn allows(&self, e: &YamlError) -> bool {
        let Some(line) = e.line else {
            return false;
        };
        let named = |key: &String| {
            e.message
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|w| w == key)
        };
        !self.ranges.iter().any(|(a, b)| (*a..=*b).contains(&line))
            && !self.holders.contains(&line)
            && !e.message.contains("missing field")
            && !self.sections.iter().any(named)
    }

    /// Blanks the outermost block-list item holding 1-based `line`, else its
    /// top-level section; false when there is nothing sound to blank.
    fn blank_around(&mut self, lines: &mut [String], line: usize) -> bool {
        let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
        let significant = |l: &str| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        };
        let is_item = |l: &str| {
            let t = l.trim_start_matches(' ');
            t == "-" || t.starts_with("- ")
        };
        let Some(at) = (0..line.min(lines.len()))
            .rev()
            .find(|&i| significant(&lines[i]))
        else {
            return false;
        };
        let mut least = indent(&lines[at]);
        let mut item = is_item(&lines[at]).then_some(at);
        let mut holders = Vec::new();
        for i in (0..at).rev() {
            if !significant(&lines[i]) || indent(&lines[i]) >= least {
                continue;
            }
            least = indent(&lines[i]);
            if is_item(&lines[i]) {
                item = Some(i);
            } else {
                holders.push(i);
            }
            if least == 0 {
                break;
            }
        }
        // The top-level key above, when the outermost item sits at column 1 (`endpoints:\n- …`).
        let top = (0..=at)
            .rev()
            .find(|&i| significant(&lines[i]) && indent(&lines[i]) == 0 && !is_item(&lines[i]));
        let key_of = |i: usize| {
            lines[i]
                .split(':')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let (start, depth) = match item {
            Some(i) => {
                if let Some(t) = top {
                    self.items.push((key_of(t), i + 1));
                }
                holders.extend(top);
                (i, indent(&lines[i]))
            }
            None => {
                let Some(t) = top else {
                    return false;
                };
                let key = key_of(t);
                if key.is_empty() || key.starts_with(['{', '[', '"', '\'']) {
                    return false;
                }
                self.sections.push(key);
                (t, 0)
            }
        };
        let end = (start + 1..lines.len())
            .find(|&i| significant(&lines[i]) && indent(&lines[i]) <= depth)
            .unwrap_or(lines.len());
        for l in &mut lines[start..end] {
            l.clear();
        }
        self.ranges.push((start + 1, end));
        self.holders.extend(holders.into_iter().map(|i| i + 1));
        true
    }
}

/// Tells a config from a scenario by the directory name, then by the top-level keys.
fn detect_kind(path: &Path, text: &str) -> Result<Kind, YamlError> {
    let dir = path.parent().and_then(Path::file_name);
    if dir.is_some_and(|d| d == "scenarios") {
        return Ok(Kind::Scenario);
    }
    if dir.is_some_and(|d| d == "playbooks") {
        return Ok(Kind::Playbook);
    }
    let value: yaml_serde::Value = yaml::parse(path, text)?;
    let has = |k: &str| value.get(k).is_some();
    if has("faults") {
        Ok(Kind::Scenario)
    } else if has("phases") || has("applies_when") {
        Ok(Kind::Playbook)
    } else if has("service") || has("endpoints") || has("metrics") {
        Ok(Kind::Config)
    } else {
        Err(YamlError::whole_file(
            path,
            "cannot tell what kind of file this is",
            Some("a config has `service:` and `endpoints:`; a scenario has `faults:` (or lives in a scenarios/ directory); a playbook has `phases:` (or lives in a playbooks/ directory)".into()),
        ))
    }
}
