//! Playbooks (`playbooks/*.yaml`): the model, validation with `FILE:LINE:COL`
//! for every mistake, matching to signals (best first, a generic fallback
//! always applies), step conditions, and the comms template. A step's `run`
//! command is checked and rendered by `core::command`. Pure.

use crate::core::command::{self, Command};
use crate::core::event::{Phase, Severity};
use crate::core::sample::FailureClass;
use crate::core::signal::DetectorKind;
use crate::core::units::HumanDuration;
use crate::core::verify::{self, Expr};
use crate::core::yaml::{self, YamlError};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// Variables the comms template may use.
pub const COMMS_VARIABLES: [&str; 8] = [
    "what_changed",
    "impact",
    "workaround",
    "next_update",
    "service",
    "severity",
    "title",
    "status",
];
/// Detector names `applies_when.signals` may list.
pub const SIGNAL_NAMES: [&str; 8] = [
    "down",
    "error_rate",
    "latency",
    "traffic_drop",
    "traffic_surge",
    "client_errors",
    "certificate",
    "alert",
];

/// A playbook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    /// Unique id, e.g. `http-5xx-spike`.
    pub id: String,
    /// One line.
    pub title: String,
    /// Longer description.
    #[serde(default)]
    pub description: String,
    /// Which signals and targets it is for; empty: a generic fallback.
    #[serde(default)]
    pub applies_when: AppliesWhen,
    /// SEV-1..4 guidance shown in triage.
    #[serde(default)]
    pub severity: BTreeMap<Severity, Guidance>,
    /// Roles to fill.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Steps per phase.
    pub phases: Phases,
    /// The status update template.
    #[serde(default)]
    pub comms: Option<Comms>,
    /// When the incident may be resolved.
    #[serde(default)]
    pub exit_criteria: Option<ExitCriteria>,
}

/// Which signals a playbook is for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliesWhen {
    /// Detector names (`error_rate`, `down`, …); empty: any.
    #[serde(default)]
    pub signals: Vec<String>,
    /// Target patterns with `*` wildcards, most specific first; empty: any.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Failure classes it is for (`http_5xx`, `auth`, `tls`, …); empty: any. A
    /// signal whose class is known and not listed does not get this playbook;
    /// the fewer classes listed, the better a match ranks.
    #[serde(default)]
    pub classes: Vec<FailureClass>,
}

/// Guidance for one severity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guidance {
    /// When this severity applies.
    pub when: String,
    /// What the response looks like.
    pub respond: String,
    /// Acknowledge within.
    #[serde(default)]
    pub ack_within: Option<HumanDuration>,
    /// Send a status update this often.
    #[serde(default)]
    pub update_every: Option<HumanDuration>,
}

/// The five phases' steps.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phases {
    /// Confirm the alert.
    #[serde(default)]
    pub detect: Vec<Step>,
    /// Scope and severity.
    #[serde(default)]
    pub triage: Vec<Step>,
    /// Stop the bleeding.
    #[serde(default)]
    pub mitigate: Vec<Step>,
    /// Confirm recovery.
    #[serde(default)]
    pub resolve: Vec<Step>,
    /// Learn.
    #[serde(default)]
    pub learn: Vec<Step>,
}

impl Phases {
    /// The steps of `phase`.
    pub fn of(&self, phase: Phase) -> &[Step] {
        match phase {
            Phase::Detect => &self.detect,
            Phase::Triage => &self.triage,
            Phase::Mitigate => &self.mitigate,
            Phase::Resolve => &self.resolve,
            Phase::Learn => &self.learn,
        }
    }

    /// Every (phase, step), in order.
    pub fn all(&self) -> impl Iterator<Item = (Phase, &Step)> {
        Phase::ALL
            .into_iter()
            .flat_map(move |p| self.of(p).iter().map(move |s| (p, s)))
    }
}

/// One step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Unique within the playbook.
    pub id: String,
    /// What to do.
    pub text: String,
    /// Longer explanation.
    #[serde(default)]
    pub description: String,
    /// A condition over live data that checks the step (see `core::verify`).
    #[serde(default)]
    pub verify: Option<String>,
    /// Only when these hold.
    #[serde(default)]
    pub when: Option<When>,
    /// A command to run after confirmation; `{target}` etc. reach it as
    /// environment variables (see `core::command`).
    #[serde(default)]
    pub run: Option<String>,
    /// How long `run` may take; default 60s.
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// Runbooks and dashboards.
    #[serde(default)]
    pub links: Vec<String>,
    /// Whether moving to the next phase waits for it; default true.
    #[serde(default = "yes")]
    pub required: bool,
    /// What the responder does elsewhere that fulfils the step, so it ticks
    /// itself (with a note of why): setting a severity, sending a status update, …
    #[serde(default)]
    pub done_by: Option<DoneBy>,
}

/// An action that fulfils a step (`done_by:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DoneBy {
    /// A severity is set.
    Severity,
    /// Someone acknowledged the incident.
    Acknowledge,
    /// A status update went out once the step's phase began.
    StatusUpdate,
    /// A role is assigned.
    Role,
    /// An action item is recorded.
    ActionItem,
    /// A change marker (deploy, config, flag) is recorded.
    Change,
}

impl DoneBy {
    /// What fulfilled it, as the step's note says.
    pub fn as_str(self) -> &'static str {
        match self {
            DoneBy::Severity => "a severity is set",
            DoneBy::Acknowledge => "the incident is acknowledged",
            DoneBy::StatusUpdate => "a status update was sent",
            DoneBy::Role => "a role is assigned",
            DoneBy::ActionItem => "an action item is recorded",
            DoneBy::Change => "a change is recorded",
        }
    }
}

fn yes() -> bool {
    true
}

/// A step's condition.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// The step applies at these severities.
    #[serde(default)]
    pub severity: Vec<Severity>,
}

/// The comms template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comms {
    /// Text with `{what_changed}`, `{impact}`, `{workaround}`, `{next_update}`, ….
    pub template: String,
}

/// When the incident may be resolved.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitCriteria {
    /// No signal firing for this long.
    pub quiet_for: HumanDuration,
}

impl Step {
    /// Whether the step applies at `severity` (no condition: always; no severity yet: yes).
    pub fn applies(&self, severity: Option<Severity>) -> bool {
        match (&self.when, severity) {
            (Some(w), Some(s)) if !w.severity.is_empty() => w.severity.contains(&s),
            _ => true,
        }
    }

    /// The `run` command, rendered for `sh -c` (validated when the playbook loaded).
    pub fn command(&self) -> Option<Result<Command, command::TemplateError>> {
        self.run.as_deref().map(Command::parse)
    }

    /// The parsed `verify` expression (validated when the playbook loaded).
    pub fn verify_expr(&self) -> Option<Expr> {
        self.verify.as_deref().and_then(|v| verify::parse(v).ok())
    }
}

impl Playbook {
    /// Parses and validates a playbook; `file` names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<Playbook, YamlError> {
        let p: Playbook = yaml::parse(file, text)?;
        p.check(file, text)?;
        Ok(p)
    }

    /// [`Playbook::parse`] that reports every failed check, not the first
    /// (for `ic lint`); a document that does not read stops at its first error.
    pub fn parse_all(file: &Path, text: &str) -> Result<Playbook, yaml::Invalid> {
        let p: Playbook = yaml::parse(file, text).map_err(yaml::Invalid::Unread)?;
        let problems = p.problems(file, text);
        if problems.is_empty() {
            Ok(p)
        } else {
            Err(yaml::Invalid::Checks(problems))
        }
    }

    /// What `ic lint` warns about in a valid playbook (positions in `text`):
    /// placeholders in quotes, backticks, quoted here-documents or comments,
    /// and placeholders a second parser (`ssh`, `sh -c`, `eval`) reads again.
    pub fn warnings(&self, file: &Path, text: &str) -> Vec<YamlError> {
        let mut out = Vec::new();
        let index = Index::new(text);
        let mut nth: BTreeMap<&str, usize> = BTreeMap::new();
        for (phase, step) in self.phases.all() {
            let k = nth.entry(step.id.as_str()).or_default();
            let pos = index.id_value(&step.id, *k);
            *k += 1;
            let Some(Ok(cmd)) = step.command() else {
                continue;
            };
            let (Some(run), from) = (
                step.run.as_deref(),
                pos.map_or(0, |(l, _)| index.line_offset(l)),
            ) else {
                continue;
            };
            for f in cmd.findings() {
                let p = locate_inside(text, run, f.at, from).or(pos);
                out.push(YamlError {
                    file: file.to_path_buf(),
                    line: p.map(|l| l.0),
                    column: p.map(|l| l.1),
                    message: format!("phases.{phase}[id: {}].run: {}", step.id, f.message),
                    hint: Some(f.hint),
                });
            }
        }
        out
    }

    /// Whether this is a generic fallback (applies to anything).
    pub fn is_generic(&self) -> bool {
        let a = &self.applies_when;
        a.signals.is_empty() && a.targets.is_empty() && a.classes.is_empty()
    }

    /// Finds a step by id.
    pub fn step(&self, id: &str) -> Option<(Phase, &Step)> {
        self.phases.all().find(|(_, s)| s.id == id)
    }

    fn check(&self, file: &Path, text: &str) -> Result<(), YamlError> {
        match self.problems(file, text).into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every check a deserialized playbook fails, in order (`ic lint` reports
    /// them all; loading stops at the first): each step is checked on its own.
    pub fn problems(&self, file: &Path, text: &str) -> Vec<YamlError> {
        let mut found = Vec::new();
        let at = |line_col: Option<(usize, usize)>, message: String, hint: &str| YamlError {
            file: file.to_path_buf(),
            line: line_col.map(|l| l.0),
            column: line_col.map(|l| l.1),
            message,
            hint: (!hint.is_empty()).then(|| hint.to_string()),
        };
        if self.id.trim().is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            found.push(at(
                locate_key(text, "id", 0),
                format!("id `{}` must be letters, digits, - and _", self.id),
                "e.g. id: http-5xx-spike",
            ));
        }
        for (i, s) in self.applies_when.signals.iter().enumerate() {
            if !SIGNAL_NAMES.contains(&s.as_str()) {
                let hint = match yaml::nearest(s, &SIGNAL_NAMES) {
                    Some(n) => format!("did you mean `{n}`? signals: {}", SIGNAL_NAMES.join(", ")),
                    None => format!("signals: {}", SIGNAL_NAMES.join(", ")),
                };
                found.push(at(
                    locate_word(text, s, 0),
                    format!("applies_when.signals[{i}]: unknown signal `{s}`"),
                    &hint,
                ));
            }
        }
        let index = Index::new(text);
        let mut seen: HashSet<&str> = HashSet::new();
        let mut nth: BTreeMap<&str, usize> = BTreeMap::new();
        for (phase, step) in self.phases.all() {
            let k = nth.entry(step.id.as_str()).or_default();
            let pos = index.id_value(&step.id, *k);
            *k += 1;
            let path = format!("phases.{phase}[id: {}]", step.id);
            if step.id.trim().is_empty() {
                found.push(at(
                    pos,
                    format!("phases.{phase}: a step has an empty id"),
                    "give every step a short unique id",
                ));
                continue;
            }
            if !seen.insert(step.id.as_str()) {
                found.push(at(
                    pos,
                    format!("{path}: step id `{}` is used twice", step.id),
                    "step ids must be unique within a playbook (they name the step in the timeline)",
                ));
                continue;
            }
            let from = pos.map_or(0, |(l, _)| index.line_offset(l));
            if let Some(v) = &step.verify
                && let Err(e) = verify::parse(v)
            {
                let p = locate_inside(text, v, e.column, from);
                found.push(at(
                    p,
                    format!("{path}.verify: {}", e.message),
                    "e.g. verify: \"error_rate({target}) < 1% over 5m\"",
                ));
            }
            if let Some(run) = &step.run {
                if run.trim().is_empty() {
                    found.push(at(
                        pos,
                        format!("{path}.run is empty"),
                        "give a command, or drop `run`",
                    ));
                    continue;
                }
                if let Err(e) = Command::parse(run) {
                    let p = locate_inside(text, run, e.at, from);
                    found.push(at(p, format!("{path}.run: {}", e.message), &e.hint));
                    continue;
                }
            }
            if step.timeout.is_some_and(|t| t.get().is_zero()) {
                found.push(at(pos, format!("{path}.timeout is 0s"), "e.g. timeout: 2m"));
            }
        }
        if let Some(c) = &self.comms
            && let Err((col, name)) = find_unknown_variable(&c.template, &COMMS_VARIABLES)
        {
            let from = locate_key(text, "template", 0).map_or(0, |(l, _)| line_offset(text, l));
            let p = locate_inside(text, &c.template, col, from);
            found.push(at(
                p,
                format!("comms.template: unknown variable `{{{name}}}`"),
                &format!("the template may use {}", braces(&COMMS_VARIABLES)),
            ));
        }
        if self.phases.all().next().is_none() {
            found.push(at(
                locate_key(text, "phases", 0),
                "phases: no steps at all".into(),
                "give at least one step, e.g. detect: [{id: confirm, text: \"Confirm the alert\"}]",
            ));
        }
        found
    }
}

fn braces(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{{{n}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first `{name}` not in `known`: (0-based column, name).
fn find_unknown_variable(text: &str, known: &[&str]) -> Result<(), (usize, String)> {
    let mut i = 0;
    while let Some(rel) = text[i..].find('{') {
        let start = i + rel;
        let Some(len) = text[start..].find('}') else {
            return Err((start, text[start + 1..].to_string()));
        };
        let name = &text[start + 1..start + len];
        if !known.contains(&name) {
            return Err((start, name.to_string()));
        }
        i = start + len + 1;
    }
    Ok(())
}

/// Byte offset of the start of 1-based `line`.
fn line_offset(text: &str, line: usize) -> usize {
    text.split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum()
}

/// 1-based (line, column) of byte offset `at`.
fn position(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, col)
}

/// Position of the `nth` occurrence of `key:`.
fn locate_key(text: &str, key: &str, nth: usize) -> Option<(usize, usize)> {
    let needle = format!("{key}:");
    let mut found = 0;
    for (i, _) in text.match_indices(&needle) {
        let before = text[..i].chars().next_back();
        if before.is_none_or(|c| c.is_whitespace() || c == '{' || c == ',' || c == '-') {
            if found == nth {
                return Some(position(text, i));
            }
            found += 1;
        }
    }
    None
}

/// Positions in a playbook's text, found in one pass so that validating a
/// playbook stays linear in its size: the start of every line (a position is
/// a binary search) and every `id:` value by its text. Looking each step's id
/// up by scanning the text made 60,000 steps take 74 s to lint.
struct Index<'a> {
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
    /// The text after each `id:` (spaces and quotes skipped) → where it starts,
    /// in order. Keyed both by its first word (up to whitespace, `,`, `}`,
    /// a quote or `#`) and, when longer, by the rest of its line (up to a
    /// quote, `#`, `,`, `}` or the next `id:`), so ids with spaces are found too.
    ids: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Index<'a> {
    fn new(text: &'a str) -> Index<'a> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        const NEEDLE: &str = "id:";
        let starts: Vec<usize> = text.match_indices(NEEDLE).map(|(i, _)| i).collect();
        let mut ids: HashMap<&str, Vec<usize>> = HashMap::new();
        for (n, &i) in starts.iter().enumerate() {
            // Each value is looked at only up to the next `id:`: linear in all.
            let until = starts.get(n + 1).copied().unwrap_or(text.len());
            let Some(rest) = text.get(i + NEEDLE.len()..until) else {
                continue;
            };
            let value = rest
                .trim_start_matches([' ', '\t'])
                .trim_start_matches(['"', '\'']);
            let at = until - value.len();
            let word_end = value
                .find(|c: char| c.is_whitespace() || matches!(c, ',' | '}' | '"' | '\'' | '#'))
                .unwrap_or(value.len());
            let line_end = value
                .find(['\n', '\r', '"', '\'', '#', ',', '}'])
                .unwrap_or(value.len());
            let word = &value[..word_end];
            let line = value[..line_end].trim_end();
            ids.entry(word).or_default().push(at);
            if line.len() > word.len() {
                ids.entry(line).or_default().push(at);
            }
        }
        Index { line_starts, ids }
    }

    /// 1-based (line, column) of byte offset `at`.
    fn position(&self, at: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|s| *s <= at);
        let start = self
            .line_starts
            .get(line.wrapping_sub(1))
            .copied()
            .unwrap_or(0);
        (line.max(1), at.saturating_sub(start) + 1)
    }

    /// Byte offset of the start of 1-based `line` (the end of the text past the last).
    fn line_offset(&self, line: usize) -> usize {
        self.line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or_else(|| self.line_starts.last().copied().unwrap_or(0))
    }

    /// Position of the value of the `nth` `id: value` whose value is `value`.
    fn id_value(&self, value: &str, nth: usize) -> Option<(usize, usize)> {
        let at = *self.ids.get(value)?.get(nth)?;
        Some(self.position(at))
    }
}

/// Position of `needle` at or after byte `from`.
fn locate_after(text: &str, needle: &str, from: usize) -> Option<(usize, usize)> {
    let from = (0..=from.min(text.len()))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    text[from..]
        .find(needle)
        .map(|i| position(text, from + i))
        .or_else(|| text.find(needle).map(|i| position(text, i)))
}

/// Position of character `col` of the value `whole` (found at or after byte `from`): the
/// value's text from `col` is searched for, since escapes in the file (`\n`) shift columns.
fn locate_inside(text: &str, whole: &str, col: usize, from: usize) -> Option<(usize, usize)> {
    // Up to a character the file may have written as an escape (`\"`, `\n`, `''`).
    let fragment: String = whole
        .get(col..)
        .unwrap_or("")
        .chars()
        .take_while(|c| !matches!(c, '\n' | '"' | '\'' | '\\'))
        .take(16)
        .collect();
    let from = (0..=from.min(text.len()))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    if !fragment.is_empty()
        && let Some(i) = text[from..].find(&fragment)
    {
        return Some(position(text, from + i));
    }
    locate_after(text, whole, from).map(|(l, c)| (l, c + col))
}

/// Position of the `nth` occurrence of `word` as a whole word.
fn locate_word(text: &str, word: &str, nth: usize) -> Option<(usize, usize)> {
    text.match_indices(word)
        .filter(|(i, _)| {
            let before = text[..*i].chars().next_back();
            let after = text[i + word.len()..].chars().next();
            before.is_none_or(|c| !c.is_alphanumeric() && c != '_')
                && after.is_none_or(|c| !c.is_alphanumeric() && c != '_')
        })
        .nth(nth)
        .map(|(i, _)| position(text, i))
}

/// Whether `pattern` (with `*` wildcards, case-insensitive) matches `text`.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.to_ascii_lowercase(), text.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == t;
    }
    let mut rest = t.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(j) => rest = &rest[j + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// What a playbook is matched against: a signal's detector, target and failure class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Situation {
    /// The detector that fired.
    pub detector: DetectorKind,
    /// Its endpoint or route.
    pub target: String,
    /// The failure behind it, when known.
    pub class: Option<FailureClass>,
}

impl Situation {
    /// The situation a signal describes.
    pub fn of(signal: &crate::core::signal::Signal) -> Situation {
        Situation {
            detector: signal.kind,
            target: signal.target.clone(),
            class: signal.class,
        }
    }
}

/// How well `playbook` fits `situation` (0: not at all).
pub fn fit(playbook: &Playbook, situation: &Situation) -> u32 {
    let a = &playbook.applies_when;
    let (detector, target) = (situation.detector, situation.target.as_str());
    if playbook.is_generic() {
        return 1;
    }
    let class_fit = match situation.class {
        Some(c) if !a.classes.is_empty() => {
            if !a.classes.contains(&c) {
                return 0;
            }
            // Naming the class is worth more than any target pattern; fewer classes, more specific.
            60 - a.classes.len().min(12) as u32
        }
        _ => 0,
    };
    let kind = if a.signals.is_empty() {
        5
    } else if a.signals.iter().any(|s| s == detector.as_str()) {
        20
    } else {
        return 0;
    };
    let target_fit = if a.targets.is_empty() {
        Some(0)
    } else {
        a.targets
            .iter()
            .filter(|p| glob(p, target))
            .map(|p| p.chars().filter(|c| *c != '*').count() as u32)
            .max()
    };
    match target_fit {
        Some(t) => 100 + kind + class_fit + t,
        None => 0,
    }
}

/// The playbooks that apply to any of `situations`, best first; generic fallbacks
/// always apply, last.
pub fn rank<'a>(playbooks: &'a [Playbook], situations: &[Situation]) -> Vec<&'a Playbook> {
    let mut scored: Vec<(u32, &Playbook)> = playbooks
        .iter()
        .map(|p| {
            let best = situations
                .iter()
                .map(|s| fit(p, s))
                .max()
                .unwrap_or(u32::from(p.is_generic()));
            (best, p)
        })
        .filter(|(s, _)| *s > 0)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    scored.into_iter().map(|(_, p)| p).collect()
}

/// Renders the comms template: every `{name}` becomes `vars[name]` (no escaping: it is prose).
pub fn render_comms(template: &str, vars: &BTreeMap<&str, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find('}') else {
            return Err("`{` without a closing `}`".into());
        };
        let name = &rest[i + 1..i + j];
        let value = vars
            .get(name)
            .ok_or_else(|| format!("no value for `{{{name}}}`"))?;
        out.push_str(value);
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The playbooks shipped with `ic` (`playbooks/`), compiled in: (id, YAML).
pub const BUNDLED: [(&str, &str); 10] = [
    (
        "auth-expiry",
        include_str!("../../playbooks/auth-expiry.yaml"),
    ),
    (
        "bad-deploy",
        include_str!("../../playbooks/bad-deploy.yaml"),
    ),
    (
        "certificate-expiry",
        include_str!("../../playbooks/certificate-expiry.yaml"),
    ),
    (
        "dependency-down",
        include_str!("../../playbooks/dependency-down.yaml"),
    ),
    ("generic", include_str!("../../playbooks/generic.yaml")),
    (
        "http-5xx-spike",
        include_str!("../../playbooks/http-5xx-spike.yaml"),
    ),
    (
        "latency-regression",
        include_str!("../../playbooks/latency-regression.yaml"),
    ),
    (
        "retry-storm",
        include_str!("../../playbooks/retry-storm.yaml"),
    ),
    (
        "schema-drift",
        include_str!("../../playbooks/schema-drift.yaml"),
    ),
    (
        "traffic-drop",
        include_str!("../../playbooks/traffic-drop.yaml"),
    ),
];

/// The demo API's own playbook (`assets/demo-playbook.yaml`), which `ic demo`
/// and `ic drill` add to the bundled set.
pub fn demo() -> Result<Playbook, crate::core::yaml::YamlError> {
    Playbook::parse(
        Path::new("assets/demo-playbook.yaml"),
        include_str!("../../assets/demo-playbook.yaml"),
    )
}

/// The bundled playbooks and the demo's: every playbook `ic` ships, where a
/// drill's status-update cadence is looked up.
pub fn shipped() -> Vec<Playbook> {
    let mut all = bundled();
    all.extend(demo().ok());
    all
}

/// The bundled playbooks, parsed (a unit test holds that every one parses).
pub fn bundled() -> Vec<Playbook> {
    BUNDLED
        .iter()
        .filter_map(|(id, text)| {
            Playbook::parse(Path::new(&format!("playbooks/{id}.yaml")), text).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"id: http-5xx-spike
title: 5xx error spike on an API endpoint
applies_when: {signals: [error_rate, down], targets: ["*payments*", "*"]}
severity:
  SEV-1: {when: "Core functionality completely down", respond: "all hands, now", ack_within: 5m, update_every: 15m}
roles: [incident-lead, comms, investigator]
phases:
  detect:   [{id: confirm, text: "Confirm the alert against the endpoint pane", verify: "error_rate({target}) > 1% over 1m"}]
  triage:   [{id: scope, text: "One endpoint or many? Getting worse?"}]
  mitigate: [{id: rollback, text: "Roll back the last deploy", when: {severity: [SEV-1, SEV-2]}, run: "kubectl rollout undo deploy/{target}", links: ["https://runbooks.example/rollback"]}]
  resolve:  [{id: verify, text: "Error rate back under 1% for 15 minutes", verify: "error_rate({target}) < 1% for 15m"}]
  learn:    [{id: review, text: "Schedule the blameless review"}]
comms: {template: "What changed: {what_changed}\nImpact: {impact}\nWorkaround: {workaround}\nNext update: {next_update}"}
exit_criteria: {quiet_for: 15m}
"#;

    fn parse(text: &str) -> Result<Playbook, YamlError> {
        Playbook::parse(Path::new("p.yaml"), text)
    }

    #[test]
    fn the_issue_example_parses() {
        let p = parse(EXAMPLE).unwrap();
        assert_eq!(p.id, "http-5xx-spike");
        assert_eq!(p.phases.all().count(), 5);
        let (phase, step) = p.step("rollback").unwrap();
        assert_eq!(phase, Phase::Mitigate);
        assert!(step.applies(Some(Severity::Sev1)));
        assert!(!step.applies(Some(Severity::Sev3)));
        assert!(step.applies(None));
        assert_eq!(
            p.severity[&Severity::Sev1]
                .ack_within
                .unwrap()
                .get()
                .as_secs(),
            300
        );
        assert_eq!(p.exit_criteria.unwrap().quiet_for.get().as_secs(), 900);
    }

    /// (replace this, with that) → (line, column, message fragment)
    #[test]
    fn every_kind_of_mistake_has_a_position_and_a_message() {
        let cases: [(&str, &str, usize, usize, &str); 10] = [
            (
                "roles: [incident-lead, comms, investigator]",
                "roles: 5",
                6,
                8,
                "invalid type",
            ),
            ("title: 5xx", "titel: 5xx", 2, 1, "unknown field `titel`"),
            (
                "  learn:    [",
                "  lurn:    [",
                12,
                3,
                "unknown field `lurn`",
            ),
            ("[SEV-1, SEV-2]", "[SEV-1, SEV-7]", 10, 89, "SEV-7"),
            (
                "{id: review,",
                "{id: scope,",
                12,
                19,
                "step id `scope` is used twice",
            ),
            ("> 1% over 1m", "> 1 over 1m", 8, 113, "% sign"),
            ("< 1% for 15m", "< 1% for soon", 11, 115, "soon"),
            (
                "deploy/{target}",
                "deploy/{tagret}",
                10,
                132,
                "unknown placeholder {tagret}",
            ),
            (
                "{impact}",
                "{impakt}",
                13,
                58,
                "unknown variable `{impakt}`",
            ),
            (
                "[error_rate, down]",
                "[error_rate, dwn]",
                3,
                38,
                "unknown signal `dwn`",
            ),
        ];
        for (from, to, line, col, needle) in cases {
            assert!(EXAMPLE.contains(from), "{from}");
            let e = parse(&EXAMPLE.replacen(from, to, 1)).unwrap_err();
            assert!(e.message.contains(needle), "{to}: {e}");
            assert_eq!((e.line, e.column), (Some(line), Some(col)), "{to}: {e}");
        }
        let e =
            parse(&EXAMPLE.replacen("{id: review,", "{id: review, timeout: 0s,", 1)).unwrap_err();
        assert!(e.message.contains("timeout is 0s"), "{e}");
        let e = parse(&EXAMPLE.replacen(
            "targets: [\"*payments*\", \"*\"]}",
            "targets: [\"*payments*\", \"*\"], classes: [http_5xx, auht]}",
            1,
        ))
        .unwrap_err();
        assert!(
            e.message
                .contains("applies_when.classes[1]: unknown variant `auht`"),
            "{e}"
        );
        assert_eq!(e.line, Some(3), "{e}");
        let e = parse("id: x\ntitle: t\nphases: {}\n").unwrap_err();
        assert!(e.message.contains("no steps"), "{e}");
        let e = parse("id: x\ntitle: t\n").unwrap_err();
        assert!(e.message.contains("phases"), "{e}");
    }

    fn situation(detector: DetectorKind, target: &str, class: Option<FailureClass>) -> Situation {
        Situation {
            detector,
            target: target.into(),
            class,
        }
    }

    #[test]
    fn matching_ranks_specific_playbooks_first_and_the_fallback_last() {
        let specific = parse(EXAMPLE).unwrap();
        let latency = parse("id: latency\ntitle: t\napplies_when: {signals: [latency]}\nphases: {detect: [{id: a, text: a}]}\n").unwrap();
        let generic =
            parse("id: generic\ntitle: t\nphases: {detect: [{id: a, text: a}]}\n").unwrap();
        let all = [generic, latency, specific];
        let ids = |sigs: &[(DetectorKind, &str)]| -> Vec<String> {
            let sigs: Vec<Situation> = sigs.iter().map(|(d, t)| situation(*d, t, None)).collect();
            rank(&all, &sigs).iter().map(|p| p.id.clone()).collect()
        };
        assert_eq!(
            ids(&[(DetectorKind::ErrorRate, "payments")]),
            ["http-5xx-spike", "generic"]
        );
        assert_eq!(
            ids(&[(DetectorKind::Latency, "search")]),
            ["latency", "generic"]
        );
        assert_eq!(ids(&[(DetectorKind::Certificate, "api")]), ["generic"]);
        assert_eq!(ids(&[]), ["generic"]);
        assert!(
            fit(
                &all[2],
                &situation(DetectorKind::ErrorRate, "shop /api/payments", None)
            ) > fit(&all[2], &situation(DetectorKind::ErrorRate, "search", None))
        );
        assert!(
            glob("*pay*", "PAYMENTS") && glob("a*c", "abc") && !glob("a*c", "abd") && glob("*", "")
        );
    }

    #[test]
    fn the_bundled_playbooks_load_use_every_phase_and_match_sensibly() {
        let all = bundled();
        assert_eq!(all.len(), BUNDLED.len());
        for p in &all {
            for phase in Phase::ALL {
                assert!(
                    !p.phases.of(phase).is_empty(),
                    "{} has no {phase} steps",
                    p.id
                );
            }
            assert!(
                p.phases.all().any(|(_, s)| s.verify.is_some()),
                "{} never verifies itself",
                p.id
            );
            assert_eq!(p.severity.len(), 4, "{}: SEV-1..4 guidance", p.id);
        }
        let top_for = |d: DetectorKind, t: &str, c: Option<FailureClass>| {
            rank(&all, &[situation(d, t, c)])[0].id.clone()
        };
        let top = |d: DetectorKind, t: &str| top_for(d, t, d.usual_class());
        assert_eq!(
            top(DetectorKind::ErrorRate, "shop /api/payments"),
            "http-5xx-spike"
        );
        assert_eq!(
            top(DetectorKind::Latency, "shop /api/search"),
            "latency-regression"
        );
        assert_eq!(
            top(DetectorKind::TrafficDrop, "shop /api/orders"),
            "traffic-drop"
        );
        assert_eq!(top(DetectorKind::Certificate, "api"), "certificate-expiry");
        // An endpoint down: the failure class picks the playbook.
        use FailureClass as C;
        let down = |class| top_for(DetectorKind::Down, "api", Some(class));
        assert_eq!(down(C::Http5xx), "http-5xx-spike");
        assert_eq!(down(C::Auth), "auth-expiry");
        assert_eq!(down(C::Tls), "certificate-expiry");
        assert_eq!(down(C::BodyMismatch), "schema-drift");
        assert_eq!(down(C::Connect), "dependency-down");
        assert_eq!(down(C::Timeout), "dependency-down");
        assert_eq!(
            top_for(DetectorKind::Down, "partner-ledger", Some(C::Http5xx)),
            "dependency-down"
        );
        assert_eq!(
            top_for(
                DetectorKind::ClientErrors,
                "shop /api/orders",
                Some(C::RateLimited)
            ),
            "retry-storm"
        );
        assert_eq!(
            rank(&all, &[situation(DetectorKind::Alert, "x", None)])
                .last()
                .unwrap()
                .id,
            "generic"
        );
    }

    #[test]
    fn comms_templates_fill_in_prose() {
        let vars = BTreeMap::from([("impact", "checkout; 3% failing".to_string())]);
        assert_eq!(
            render_comms("Impact: {impact}", &vars).unwrap(),
            "Impact: checkout; 3% failing"
        );
        assert!(
            render_comms("{nope}", &vars)
                .unwrap_err()
                .contains("{nope}")
        );
    }

    #[test]
    fn lint_warns_about_placeholders_in_quotes_with_their_position() {
        let text = EXAMPLE.replacen("deploy/{target}", "deploy/'{target}'", 1);
        let p = parse(&text).unwrap();
        let w = p.warnings(Path::new("p.yaml"), &text);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!((w[0].line, w[0].column), (Some(10), Some(133)), "{}", w[0]);
        assert!(
            w[0].message.contains("phases.mitigate[id: rollback].run"),
            "{}",
            w[0]
        );
        assert!(
            parse(EXAMPLE)
                .unwrap()
                .warnings(Path::new("p.yaml"), EXAMPLE)
                .is_empty()
        );
    }
}
