//! The keymap: one table that drives key handling, the footer's hints and the
//! help overlay, so they can never disagree.

use super::input::Key;

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
/// help and the footer show it.
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
    /// Shown in the footer (the rest only in help).
    pub footer: bool,
}

use Key::Char as C;

/// The bindings, in help order: the one table that resolves keys and writes
/// the footer and the help overlay.
pub const BINDINGS: [Binding; 27] = [
    b(
        &[C('?'), Key::F(1)],
        "?",
        "help",
        Action::Help,
        When::Always,
        true,
    ),
    b(
        &[C('q'), Key::Ctrl('c')],
        "q",
        "quit",
        Action::Quit,
        When::Always,
        true,
    ),
    b(
        &[Key::Tab],
        "Tab/S-Tab",
        "focus",
        Action::FocusNext,
        When::Always,
        true,
    ),
    b(
        &[Key::BackTab],
        "",
        "",
        Action::FocusPrev,
        When::Always,
        false,
    ),
    b(
        &[Key::Up, C('k')],
        "↑/k ↓/j",
        "move",
        Action::Up,
        When::Always,
        false,
    ),
    b(
        &[Key::Down, C('j')],
        "",
        "",
        Action::Down,
        When::Always,
        false,
    ),
    b(
        &[Key::Left],
        "← →",
        "phase tab",
        Action::Left,
        When::Always,
        false,
    ),
    b(&[Key::Right], "", "", Action::Right, When::Always, false),
    b(
        &[Key::Enter, C(' ')],
        "Enter",
        "do step / run",
        Action::Enter,
        When::Always,
        true,
    ),
    b(&[C('n')], "n", "note", Action::Note, When::Always, true),
    b(
        &[C('h')],
        "h",
        "hypothesis / evidence",
        Action::Hypothesis,
        When::Always,
        false,
    ),
    b(
        &[C('s')],
        "s",
        "severity",
        Action::Severity,
        When::Always,
        true,
    ),
    b(
        &[C('r')],
        "r",
        "assign role",
        Action::Role,
        When::Incident,
        false,
    ),
    b(
        &[C('u')],
        "u",
        "status update",
        Action::Comms,
        When::Incident,
        true,
    ),
    b(
        &[C('m')],
        "m",
        "metric snapshot",
        Action::Snapshot,
        When::Incident,
        false,
    ),
    b(
        &[C('c')],
        "c",
        "change marker",
        Action::Change,
        When::Always,
        false,
    ),
    b(
        &[C('a')],
        "a",
        "action item",
        Action::ActionItem,
        When::Incident,
        false,
    ),
    b(
        &[C('p')],
        "p",
        "next phase",
        Action::NextPhase,
        When::Incident,
        true,
    ),
    b(
        &[C('A')],
        "A",
        "acknowledge",
        Action::Acknowledge,
        When::Incident,
        true,
    ),
    b(
        &[C('R')],
        "R",
        "resolve",
        Action::Resolve,
        When::Incident,
        true,
    ),
    b(
        &[C('C')],
        "C",
        "close",
        Action::Close,
        When::Incident,
        false,
    ),
    b(
        &[C('b')],
        "b",
        "switch to the proposed playbook",
        Action::SwitchPlaybook,
        When::Incident,
        false,
    ),
    b(
        &[C('P')],
        "P",
        "postmortem",
        Action::Postmortem,
        When::Timeline,
        false,
    ),
    b(
        &[C('t')],
        "t",
        "primary target = selected row",
        Action::PrimaryTarget,
        When::Incident,
        false,
    ),
    b(
        &[C('o')],
        "o",
        "sort endpoints",
        Action::Sort,
        When::Always,
        false,
    ),
    b(
        &[C('f')],
        "f",
        "filter timeline",
        Action::Filter,
        When::Always,
        false,
    ),
    b(
        &[C('E')],
        "E",
        "errors so far",
        Action::Errors,
        When::Always,
        false,
    ),
];

const fn b(
    keys: &'static [Key],
    label: &'static str,
    help: &'static str,
    action: Action,
    when: When,
    footer: bool,
) -> Binding {
    Binding {
        keys,
        label,
        help,
        action,
        when,
        footer,
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

/// The footer's hints, for a screen `incident_open` or not.
pub fn footer_hints(incident_open: bool) -> Vec<(&'static str, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| b.footer && (incident_open || b.when == When::Always))
        .map(|b| (b.label, b.help))
        .collect()
}

/// The help overlay's lines: (keys, what).
pub fn help_lines() -> Vec<(&'static str, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| !b.label.is_empty())
        .map(|b| (b.label, b.help))
        .collect()
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
        assert!(footer_hints(false).len() < footer_hints(true).len());
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
