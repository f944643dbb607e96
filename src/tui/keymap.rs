//! The keymap: one table that drives key handling, the footer's hints (ranked
//! by what the phase needs), the help overlay and the command palette, so
//! they can never disagree.

use super::fuzzy;
use super::input::Key;
use crate::core::event::Phase;

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Show or hide the help overlay.
    Help,
    /// Quit (asks when an incident is open).
    Quit,
    /// Move focus to the next pane.
    FocusNext,
    /// Move focus to the previous pane.
    FocusPrev,
    /// Move the cursor up.
    Up,
    /// Move the cursor down.
    Down,
    /// Previous phase tab / sort column.
    Left,
    /// Next phase tab / sort column.
    Right,
    /// Toggle the step, run its command, or open the row.
    Enter,
    /// Add a note.
    Note,
    /// Add a hypothesis, or evidence to the selected one.
    Hypothesis,
    /// Pick the severity.
    Severity,
    /// Assign a role.
    Role,
    /// Compose a status update.
    Comms,
    /// Record a metric snapshot.
    Snapshot,
    /// Record a change marker.
    Change,
    /// Add an action item.
    ActionItem,
    /// Mark an action item done.
    ActionDone,
    /// Move to the next phase.
    NextPhase,
    /// Resolve the incident (it stays open for learning).
    Resolve,
    /// Close the incident.
    Close,
    /// Acknowledge the incident: a person has it.
    Acknowledge,
    /// Switch to the playbook a later signal fits better.
    SwitchPlaybook,
    /// Write the postmortem.
    Postmortem,
    /// Cycle the endpoints' sort order.
    Sort,
    /// Cycle the timeline's kind filter.
    Filter,
    /// Make the selected row the incident's primary target (what `{target}` means).
    PrimaryTarget,
    /// List the errors background work reported.
    Errors,
    /// Open the command palette.
    Palette,
    /// Show the triage summary.
    Triage,
    /// Un-tick the selected step (recorded as undone).
    Undo,
    /// Pick another open incident (the team's are here too) to work on.
    Incidents,
}

impl Action {
    /// One line on what the action does, for the palette.
    pub fn about(self) -> &'static str {
        match self {
            Action::Help => "every key, filterable by typing",
            Action::Quit => "leave ic; an open incident stays open and resumes next time",
            Action::FocusNext => "move the keyboard to the next pane",
            Action::FocusPrev => "move the keyboard to the previous pane",
            Action::Up => "move the selection up in the focused pane",
            Action::Down => "move the selection down in the focused pane",
            Action::Left => "show the previous phase's steps",
            Action::Right => "show the next phase's steps",
            Action::Enter => "tick the selected step, run its command, or open the selected row",
            Action::Note => "write a note into the timeline (#tags work)",
            Action::Hypothesis => "state a hypothesis, or +h1/-h1 evidence, xh1 rules it out",
            Action::Severity => "pick SEV-1..4, with what each means in this playbook",
            Action::Incidents => "list the open incidents (the team's too) and switch to one",
            Action::Role => "give a role to someone: lead @ann",
            Action::Comms => "compose a status update, pre-filled from the data",
            Action::Snapshot => "record the current numbers of every endpoint in the timeline",
            Action::Change => "record a deploy, config or flag change",
            Action::ActionItem => "record a follow-up with @owner and due:DATE",
            Action::ActionDone => {
                "mark an action item done (its id; the newest open one is filled in)"
            }
            Action::NextPhase => "move the incident to the next phase (asks if steps are open)",
            Action::Resolve => "mark the impact over; the incident stays open for learning",
            Action::Close => "close the incident",
            Action::Acknowledge => "say you have it: stops the ack countdown",
            Action::SwitchPlaybook => "use the playbook a later signal fits better",
            Action::Postmortem => "write the postmortem from the timeline",
            Action::Sort => "sort endpoints: worst first, by name, by traffic",
            Action::Filter => "show only one kind of timeline event",
            Action::PrimaryTarget => "make the selected endpoint what {target} means in commands",
            Action::Errors => "list what background work reported as failed",
            Action::Palette => "search every action by name and run it",
            Action::Triage => "which endpoints, how bad, trend, who, since when, what changed",
            Action::Undo => "un-tick the selected step (recorded as undone)",
        }
    }
}

/// When a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Always (in normal mode).
    Always,
    /// Only with an incident open.
    Incident,
    /// When there is a timeline to read (an incident open, or one just closed).
    Timeline,
}

/// One binding: the keys that trigger an action, where it applies, and how
/// help, the palette and the footer show it.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The keys, the first one shown first.
    pub keys: &'static [Key],
    /// Keys, as shown (`?`, `Tab`, `↑/k`); empty for a binding shown with the one before.
    pub label: &'static str,
    /// What it does, as shown.
    pub help: &'static str,
    /// The action.
    pub action: Action,
    /// Where it applies.
    pub when: When,
}

use Key::Char as C;

/// The bindings, in help order: the one table that resolves keys and writes
/// the footer and the help overlay.
pub const BINDINGS: [Binding; 32] = [
    b(
        &[C('?'), Key::F(1)],
        "?",
        "help",
        Action::Help,
        When::Always,
    ),
    b(
        &[C('q'), Key::Ctrl('c')],
        "q",
        "quit",
        Action::Quit,
        When::Always,
    ),
    b(
        &[Key::Tab],
        "Tab/S-Tab",
        "focus",
        Action::FocusNext,
        When::Always,
    ),
    b(&[Key::BackTab], "", "", Action::FocusPrev, When::Always),
    b(
        &[Key::Up, C('k')],
        "↑/k ↓/j",
        "move",
        Action::Up,
        When::Always,
    ),
    b(&[Key::Down, C('j')], "", "", Action::Down, When::Always),
    b(&[Key::Left], "← →", "phase tab", Action::Left, When::Always),
    b(&[Key::Right], "", "", Action::Right, When::Always),
    b(
        &[Key::Enter, C(' ')],
        "Enter",
        "do / open",
        Action::Enter,
        When::Always,
    ),
    b(&[C('U')], "U", "un-tick step", Action::Undo, When::Incident),
    b(&[C(':')], ":", "palette", Action::Palette, When::Always),
    b(&[C('n')], "n", "note", Action::Note, When::Always),
    b(
        &[C('h')],
        "h",
        "hypothesis / evidence",
        Action::Hypothesis,
        When::Always,
    ),
    b(&[C('s')], "s", "severity", Action::Severity, When::Always),
    b(&[C('r')], "r", "assign role", Action::Role, When::Incident),
    b(&[C('I')], "I", "incidents", Action::Incidents, When::Always),
    b(
        &[C('u')],
        "u",
        "status update",
        Action::Comms,
        When::Incident,
    ),
    b(
        &[C('m')],
        "m",
        "metric snapshot",
        Action::Snapshot,
        When::Incident,
    ),
    b(
        &[C('c')],
        "c",
        "change marker",
        Action::Change,
        When::Always,
    ),
    b(
        &[C('a')],
        "a",
        "action item",
        Action::ActionItem,
        When::Incident,
    ),
    b(
        &[C('D')],
        "D",
        "action item done",
        Action::ActionDone,
        When::Incident,
    ),
    b(
        &[C('p')],
        "p",
        "next phase",
        Action::NextPhase,
        When::Incident,
    ),
    b(
        &[C('A')],
        "A",
        "acknowledge",
        Action::Acknowledge,
        When::Incident,
    ),
    b(&[C('R')], "R", "resolve", Action::Resolve, When::Incident),
    b(&[C('C')], "C", "close", Action::Close, When::Incident),
    b(
        &[C('b')],
        "b",
        "switch to the proposed playbook",
        Action::SwitchPlaybook,
        When::Incident,
    ),
    b(
        &[C('P')],
        "P",
        "postmortem",
        Action::Postmortem,
        When::Timeline,
    ),
    b(
        &[C('t')],
        "t",
        "primary target = selected row",
        Action::PrimaryTarget,
        When::Incident,
    ),
    b(&[C('o')], "o", "sort endpoints", Action::Sort, When::Always),
    b(
        &[C('f')],
        "f",
        "filter timeline",
        Action::Filter,
        When::Always,
    ),
    b(&[C('T')], "T", "triage", Action::Triage, When::Incident),
    b(
        &[C('E')],
        "E",
        "errors so far",
        Action::Errors,
        When::Always,
    ),
];

const fn b(
    keys: &'static [Key],
    label: &'static str,
    help: &'static str,
    action: Action,
    when: When,
) -> Binding {
    Binding {
        keys,
        label,
        help,
        action,
        when,
    }
}

/// What the screen offers right now, for [`resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// An incident is open.
    pub incident_open: bool,
    /// A timeline file exists for this session.
    pub has_timeline: bool,
}

/// What a key resolves to in normal mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// Do this.
    Do(Action),
    /// The action needs an incident open, and none is.
    NeedsIncident(Action),
}

/// The action bound to `key`, checked against where it applies; `None` for
/// an unbound key.
pub fn resolve(key: Key, ctx: Context) -> Option<Resolved> {
    let binding = BINDINGS.iter().find(|b| b.keys.contains(&key))?;
    let allowed = match binding.when {
        When::Always => true,
        When::Incident => ctx.incident_open,
        When::Timeline => ctx.incident_open || ctx.has_timeline,
    };
    Some(if allowed {
        Resolved::Do(binding.action)
    } else {
        Resolved::NeedsIncident(binding.action)
    })
}

/// What the footer ranks its hints by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// The incident's phase; `None` with no incident open.
    pub phase: Option<Phase>,
    /// Someone has acknowledged the incident.
    pub acknowledged: bool,
}

/// The footer's hints, most needed first: `?` and `:` (every other action is
/// one of them away), then what the phase asks for. The footer shows as many
/// as fit.
pub fn footer_hints(stage: Stage) -> Vec<(&'static str, &'static str)> {
    use Action as A;
    let mut want = vec![A::Help, A::Palette];
    if stage.phase.is_some() && !stage.acknowledged {
        want.push(A::Acknowledge);
    }
    want.extend_from_slice(match stage.phase {
        None => &[A::Note, A::Severity, A::FocusNext, A::Enter, A::Quit][..],
        Some(Phase::Detect) => &[
            A::Severity,
            A::Triage,
            A::NextPhase,
            A::Enter,
            A::Comms,
            A::Note,
            A::Quit,
        ],
        Some(Phase::Triage) => &[
            A::Enter,
            A::Triage,
            A::Hypothesis,
            A::NextPhase,
            A::Comms,
            A::Note,
            A::Quit,
        ],
        Some(Phase::Mitigate) => &[
            A::Enter,
            A::Comms,
            A::NextPhase,
            A::Resolve,
            A::Note,
            A::Quit,
        ],
        Some(Phase::Resolve) => &[
            A::Enter,
            A::Resolve,
            A::Comms,
            A::NextPhase,
            A::Note,
            A::Quit,
        ],
        Some(Phase::Learn) => &[
            A::Postmortem,
            A::ActionItem,
            A::ActionDone,
            A::Enter,
            A::Close,
            A::Note,
            A::Quit,
        ],
    });
    want.iter()
        .filter_map(|a| {
            BINDINGS
                .iter()
                .find(|b| b.action == *a && !b.label.is_empty())
        })
        .map(|b| (short_label(b), b.help))
        .collect()
}

/// A binding's label as the footer shows it: its first key only.
fn short_label(b: &Binding) -> &'static str {
    match b.label.split_once('/') {
        Some((first, _)) if b.label != "↑/k ↓/j" => first,
        _ => b.label,
    }
}

/// How a key is written in help and the palette.
pub fn key_name(key: Key) -> String {
    match key {
        Key::Char(' ') => "Space".into(),
        Key::Char(c) => c.to_string(),
        Key::Ctrl(c) => format!("Ctrl-{}", c.to_ascii_uppercase()),
        Key::Alt(c) => format!("Alt-{c}"),
        Key::AltEnter => "Alt-Enter".into(),
        Key::Enter => "Enter".into(),
        Key::Esc => "Esc".into(),
        Key::Tab => "Tab".into(),
        Key::BackTab => "S-Tab".into(),
        Key::Backspace => "Backspace".into(),
        Key::Up => "↑".into(),
        Key::Down => "↓".into(),
        Key::Left => "←".into(),
        Key::Right => "→".into(),
        Key::PageUp => "PgUp".into(),
        Key::PageDown => "PgDn".into(),
        Key::Home => "Home".into(),
        Key::End => "End".into(),
        Key::Delete => "Del".into(),
        Key::F(n) => format!("F{n}"),
    }
}

/// The help overlay's lines, (keys, what), those matching `filter` (every
/// word of it, in the keys or the text, any case).
pub fn help_lines(filter: &str) -> Vec<(&'static str, &'static str)> {
    let words: Vec<String> = filter.split_whitespace().map(str::to_lowercase).collect();
    BINDINGS
        .iter()
        .filter(|b| !b.label.is_empty())
        .filter(|b| {
            let hay = format!("{} {} {}", b.label, b.help, b.action.about()).to_lowercase();
            words.iter().all(|w| hay.contains(w.as_str()))
        })
        .map(|b| (b.label, b.help))
        .collect()
}

/// One palette entry: the action, its keys as written, its name and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The action run on Enter.
    pub action: Action,
    /// Its keys, as written (`Enter`, `Space`).
    pub keys: String,
    /// Its name.
    pub name: &'static str,
    /// What it does.
    pub about: &'static str,
    /// Where it applies.
    pub when: When,
}

/// Every action, best match for `query` first (a fuzzy match over the name,
/// keys and description; all of them, in table order, for an empty query).
pub fn palette(query: &str) -> Vec<Entry> {
    let mut scored: Vec<(i64, usize, Entry)> = BINDINGS
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let name = if b.help.is_empty() {
                b.action.about()
            } else {
                b.help
            };
            let keys = b
                .keys
                .iter()
                .map(|k| key_name(*k))
                .collect::<Vec<_>>()
                .join(" ");
            let score = fuzzy::score(query, name)
                .map(|s| s + 1000)
                .or_else(|| fuzzy::score(query, &keys).map(|s| s + 500))
                .or_else(|| fuzzy::score(query, b.action.about()))?;
            Some((
                score,
                i,
                Entry {
                    action: b.action,
                    keys,
                    name,
                    about: b.action.about(),
                    when: b.when,
                },
            ))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, _, e)| e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: Context = Context {
        incident_open: true,
        has_timeline: true,
    };
    const NONE: Context = Context {
        incident_open: false,
        has_timeline: false,
    };

    #[test]
    fn every_shown_label_names_a_key_that_resolves_to_its_action() {
        for b in BINDINGS.iter().filter(|b| !b.label.is_empty()) {
            let first = b.label.split(['/', ' ']).next().unwrap_or_default();
            let key = match first {
                "Tab" => Key::Tab,
                "Enter" => Key::Enter,
                "↑" => Key::Up,
                "←" => Key::Left,
                s => Key::Char(s.chars().next().unwrap()),
            };
            assert_eq!(
                resolve(key, OPEN),
                Some(Resolved::Do(b.action)),
                "{}",
                b.label
            );
        }
        let none = Stage {
            phase: None,
            acknowledged: false,
        };
        assert_eq!(footer_hints(none)[..2], [("?", "help"), (":", "palette")]);
    }

    #[test]
    fn no_key_is_bound_twice_and_conditions_come_from_the_table() {
        let mut seen = std::collections::HashSet::new();
        for b in &BINDINGS {
            for k in b.keys {
                assert!(seen.insert(*k), "{k:?} is bound twice");
            }
        }
        assert_eq!(
            resolve(C('p'), NONE),
            Some(Resolved::NeedsIncident(Action::NextPhase))
        );
        assert_eq!(resolve(C('n'), NONE), Some(Resolved::Do(Action::Note)));
        let closed = Context {
            incident_open: false,
            has_timeline: true,
        };
        assert_eq!(
            resolve(C('P'), closed),
            Some(Resolved::Do(Action::Postmortem))
        );
        assert_eq!(
            resolve(C('P'), NONE),
            Some(Resolved::NeedsIncident(Action::Postmortem))
        );
        assert_eq!(
            resolve(Key::Ctrl('c'), NONE),
            Some(Resolved::Do(Action::Quit))
        );
        assert_eq!(resolve(C('Z'), OPEN), None);
    }
}
