//! `ic lint`: validates config, playbook and scenario files, telling each kind
//! apart by location (`scenarios/`, `playbooks/`) or content (`faults:`,
//! `phases:`, or `endpoints:` / `service:`).

use super::{EXIT_OK, EXIT_USAGE};
use crate::cli::LintArgs;
use crate::config::{self, Config};
use crate::core::playbook::Playbook;
use crate::core::scenario::Scenario;
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
    /// The error when invalid.
    pub error: Option<YamlError>,
    /// What is valid but likely wrong (printed as `FILE:LINE:COL: warning: …`; exit stays 0).
    pub warnings: Vec<YamlError>,
}

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
    let failed = verdicts.iter().filter(|v| v.error.is_some()).count();
    if args.json {
        for v in &verdicts {
            let error = v.error.as_ref().map(|e| {
                json!({"line": e.line, "column": e.column, "message": e.message, "hint": e.hint})
            });
            let warnings: Vec<_> = v
                .warnings
                .iter()
                .map(|w| json!({"line": w.line, "column": w.column, "message": w.message, "hint": w.hint}))
                .collect();
            let obj = json!({
                "file": v.path.display().to_string(),
                "kind": v.kind.map(Kind::name),
                "ok": v.error.is_none(),
                "summary": v.summary,
                "error": error,
                "warnings": warnings,
            });
            out!("{obj}");
        }
    } else {
        for v in &verdicts {
            for w in &v.warnings {
                eprintln!("{}", warning_text(w));
            }
            match (&v.error, &v.summary) {
                (Some(e), _) => eprintln!("{}", super::yaml_error_text(e)),
                (None, Some(s)) => out!("ok  {}  ({s})", v.path.display()),
                (None, None) => out!("ok  {}", v.path.display()),
            }
        }
        let noun = if verdicts.len() == 1 { "file" } else { "files" };
        if failed == 0 {
            out!("{} {noun} checked, all valid", verdicts.len());
        } else {
            eprintln!("{} {noun} checked, {failed} with errors", verdicts.len());
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
        error: None,
        warnings: Vec::new(),
    };
    let text = match crate::files::read_yaml_text(path) {
        Ok(t) => t,
        Err(e) => {
            verdict.error = Some(e);
            return verdict;
        }
    };
    let kind = match detect_kind(path, &text) {
        Ok(k) => k,
        Err(e) => {
            verdict.error = Some(e);
            return verdict;
        }
    };
    verdict.kind = Some(kind);
    let result = match kind {
        Kind::Config => Config::parse(path, &text, |k| std::env::var(k).ok()).map(|c| {
            let summary = format!(
                "config: {} endpoints, {} metrics targets",
                c.endpoints.len(),
                c.metrics.len()
            );
            (summary, c.warnings(&text))
        }),
        Kind::Playbook => Playbook::parse(path, &text).map(|p| {
            let steps = p.phases.all().count();
            let checks = p.phases.all().filter(|(_, s)| s.verify.is_some()).count();
            let summary = format!(
                "playbook `{}`: {steps} steps, {checks} self-verifying",
                p.id
            );
            (summary, p.warnings(path, &text))
        }),
        Kind::Scenario => Scenario::parse(path, &text).and_then(|s| {
            // With its own `traffic:`, a scenario's routes were checked against it on parsing;
            // without, it plays on the demo API's routes.
            let summary = if s.traffic.is_empty() {
                s.check_routes(path, &demo::routes::templates())?;
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
        Err(e) => verdict.error = Some(e),
    }
    verdict
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
