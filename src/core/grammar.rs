//! The responder's text grammar, one for the view's input line and for
//! `ic event`: a line of text of some [`InputKind`] parses into a typed
//! [`Command`] (`+h1 …` evidence, `xh1` rule out, `@owner due:DATE`, `SEV-2
//! reason`, `deploy v42 what`, `#well`), and a command becomes the timeline
//! [`Draft`] every writer produces the same way. Pure.

use crate::core::event::{Draft, Kind, Severity, Stage};
use crate::core::payload;
use chrono::{DateTime, Utc};
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
                "Change: deploy|config|flag VERSION what, e.g. `deploy v42 payments rollout`"
            }
            InputKind::ActionItem => "Action item: text @owner due:2026-12-01",
            InputKind::Severity => "Severity and why, e.g. `SEV-2 checkout failing for 8%`",
            InputKind::RootCause => "Root cause (technical)",
        }
    }
}

/// What kind of change a change marker records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A deploy or rollback.
    Deploy,
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
            ChangeKind::Config => "config",
            ChangeKind::Flag => "flag",
            ChangeKind::Change => "change",
        }
    }

    /// Parses `deploy`, `config`, `flag`, `change`.
    pub fn parse(s: &str) -> Option<ChangeKind> {
        [
            ChangeKind::Deploy,
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

    /// The postmortem tags written in a note's text: `#well`, `#poorly`.
    pub fn in_text(word: &str) -> Option<NoteTag> {
        match word {
            "#well" | "#went_well" => Some(NoteTag::WentWell),
            "#poorly" | "#went_poorly" => Some(NoteTag::WentPoorly),
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
        /// When it is due (`due:2026-12-01`).
        due: Option<String>,
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

/// Whether a word reads as a version: `v42`, `1.2.3`, `2026-12-01.3`, a git sha.
fn looks_like_version(w: &str) -> bool {
    let digits = w.chars().filter(char::is_ascii_digit).count();
    let rest = w.trim_start_matches(['v', 'V']);
    (rest.starts_with(|c: char| c.is_ascii_digit())
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_+".contains(c)))
        || (w.len() >= 7 && digits > 0 && w.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Parses one line of `kind`. Empty text is an error (nothing to record).
pub fn parse(kind: InputKind, text: &str) -> Result<Command, GrammarError> {
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
        InputKind::Change(default) => parse_change(default, text),
        InputKind::ActionItem => parse_action_item(text)?,
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

fn parse_change(default: ChangeKind, text: &str) -> Command {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let change = match words.first().and_then(|w| ChangeKind::parse(w)) {
        Some(k) => {
            words.remove(0);
            k
        }
        None => default,
    };
    let version = match words.first() {
        Some(v) if words.len() > 1 && looks_like_version(v) => {
            let v = v.to_string();
            words.remove(0);
            Some(v)
        }
        _ => None,
    };
    Command::Change {
        change,
        version,
        what: words.join(" "),
    }
}

/// A due date exactly as `YYYY-MM-DD` (four-digit year, padded month and
/// day, a real date), or `None`.
pub fn due_date(s: &str) -> Option<chrono::NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shape
        .then(|| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
}

fn parse_action_item(text: &str) -> Result<Command, GrammarError> {
    let mut owner: Option<String> = None;
    let mut due: Option<String> = None;
    let mut words = Vec::new();
    for w in text.split_whitespace() {
        if let Some(o) = w.strip_prefix('@').filter(|o| !o.is_empty()) {
            if let Some(first) = &owner {
                return Err(GrammarError(format!(
                    "two owners (@{first}, @{o}): an action item has one; write the other without @"
                )));
            }
            owner = Some(o.to_string());
        } else if let Some(d) = w.strip_prefix("due:") {
            if due.is_some() {
                return Err(GrammarError("two due dates: an action item has one".into()));
            }
            if due_date(d).is_none() {
                return Err(GrammarError(format!(
                    "`due:{d}` is not a date: write due:YYYY-MM-DD, e.g. due:2026-12-01"
                )));
            }
            due = Some(d.to_string());
        } else {
            words.push(w);
        }
    }
    if words.is_empty() {
        return Err(GrammarError("the action item says nothing to do".into()));
    }
    Ok(Command::ActionItem {
        text: words.join(" "),
        owner,
        due,
    })
}

impl Command {
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
            Command::ActionItem { text, owner, due } => {
                Draft::action_item(actor, text, owner.as_deref().unwrap_or(""), due.as_deref())
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

    fn p(kind: InputKind, text: &str) -> Command {
        parse(kind, text).unwrap()
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
                due: Some("2026-12-10".into())
            }
        );
        let e = parse(InputKind::ActionItem, "x due:tomorrow").unwrap_err();
        assert!(e.0.contains("YYYY-MM-DD"), "{e}");
        for bad in [
            "+12026-01-01",
            "-0001-01-01",
            "2026-1-01",
            "2026-02-29",
            "2026-12-01x",
        ] {
            assert!(
                parse(InputKind::ActionItem, &format!("x due:{bad}")).is_err(),
                "{bad}"
            );
        }
        assert!(parse(InputKind::ActionItem, "ask @ann to pair with @bob").is_err());
        assert!(parse(InputKind::ActionItem, "x due:2026-12-01 due:2027-01-01").is_err());
        // An address is not an owner.
        assert!(matches!(
            p(InputKind::ActionItem, "email ann@example.com @bob"),
            Command::ActionItem { owner: Some(o), .. } if o == "bob"
        ));
        assert!(parse(InputKind::ActionItem, "@ann").is_err());
        assert!(
            parse(InputKind::Role, "comms")
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
            parse(InputKind::Severity, "bad")
                .unwrap_err()
                .0
                .contains("SEV-1")
        );
        assert!(parse(InputKind::Note, "   ").is_err());
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
}
