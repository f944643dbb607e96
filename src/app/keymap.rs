//! The keymap: one table that drives key handling, the footer's hints and the
//! help overlay, so they can never disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

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
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everywhere in normal mode.
    Global,
    /// Only with an incident open.
    Incident,
}

/// One binding.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Keys, as shown (`?`, `Tab`, `↑/k`).
    pub label: &'static str,
    /// What it does, as shown.
    pub help: &'static str,
    /// The action.
    pub action: Action,
    /// Where it applies.
    pub scope: Scope,
    /// Shown in the footer (the rest only in help).
    pub footer: bool,
}

/// The bindings, in help order.
pub const BINDINGS: [Binding; 26] = [
    b("?", "help", Action::Help, Scope::Global, true),
    b("q", "quit", Action::Quit, Scope::Global, true),
    b("Tab/S-Tab", "focus", Action::FocusNext, Scope::Global, true),
    b("", "", Action::FocusPrev, Scope::Global, false),
    b("↑/k ↓/j", "move", Action::Up, Scope::Global, false),
    b("", "", Action::Down, Scope::Global, false),
    b("← →", "phase tab", Action::Left, Scope::Global, false),
    b("", "", Action::Right, Scope::Global, false),
    b("Enter", "do step / run", Action::Enter, Scope::Global, true),
    b("n", "note", Action::Note, Scope::Global, true),
    b(
        "h",
        "hypothesis / evidence",
        Action::Hypothesis,
        Scope::Global,
        false,
    ),
    b("s", "severity", Action::Severity, Scope::Global, true),
    b("r", "assign role", Action::Role, Scope::Incident, false),
    b("u", "status update", Action::Comms, Scope::Incident, true),
    b(
        "m",
        "metric snapshot",
        Action::Snapshot,
        Scope::Incident,
        false,
    ),
    b("c", "change marker", Action::Change, Scope::Global, false),
    b(
        "a",
        "action item",
        Action::ActionItem,
        Scope::Incident,
        false,
    ),
    b("p", "next phase", Action::NextPhase, Scope::Incident, true),
    b(
        "A",
        "acknowledge",
        Action::Acknowledge,
        Scope::Incident,
        true,
    ),
    b("R", "resolve", Action::Resolve, Scope::Incident, true),
    b("C", "close", Action::Close, Scope::Incident, false),
    b(
        "b",
        "switch to the proposed playbook",
        Action::SwitchPlaybook,
        Scope::Incident,
        false,
    ),
    b(
        "P",
        "postmortem",
        Action::Postmortem,
        Scope::Incident,
        false,
    ),
    b(
        "t",
        "primary target = selected row",
        Action::PrimaryTarget,
        Scope::Incident,
        false,
    ),
    b("o", "sort endpoints", Action::Sort, Scope::Global, false),
    b("f", "filter timeline", Action::Filter, Scope::Global, false),
];

const fn b(
    label: &'static str,
    help: &'static str,
    action: Action,
    scope: Scope,
    footer: bool,
) -> Binding {
    Binding {
        label,
        help,
        action,
        scope,
        footer,
    }
}

/// The action for `key` in normal mode.
pub fn resolve(key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => Action::Quit,
        KeyCode::Char('?') | KeyCode::F(1) => Action::Help,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrev,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::Left => Action::Left,
        KeyCode::Right => Action::Right,
        KeyCode::Enter | KeyCode::Char(' ') => Action::Enter,
        KeyCode::Char('n') => Action::Note,
        KeyCode::Char('h') => Action::Hypothesis,
        KeyCode::Char('s') => Action::Severity,
        KeyCode::Char('r') => Action::Role,
        KeyCode::Char('u') => Action::Comms,
        KeyCode::Char('m') => Action::Snapshot,
        KeyCode::Char('c') => Action::Change,
        KeyCode::Char('a') => Action::ActionItem,
        KeyCode::Char('p') => Action::NextPhase,
        KeyCode::Char('R') => Action::Resolve,
        KeyCode::Char('C') => Action::Close,
        KeyCode::Char('A') => Action::Acknowledge,
        KeyCode::Char('b') => Action::SwitchPlaybook,
        KeyCode::Char('P') => Action::Postmortem,
        KeyCode::Char('o') => Action::Sort,
        KeyCode::Char('f') => Action::Filter,
        KeyCode::Char('t') => Action::PrimaryTarget,
        _ => return None,
    })
}

/// The footer's hints, for a screen `incident_open` or not.
pub fn footer_hints(incident_open: bool) -> Vec<(&'static str, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| b.footer && (incident_open || b.scope == Scope::Global))
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

    #[test]
    fn every_shown_binding_resolves_from_its_key() {
        for b in BINDINGS.iter().filter(|b| !b.label.is_empty()) {
            let first = b.label.split(['/', ' ']).next().unwrap_or_default();
            let code = match first {
                "Tab" => KeyCode::Tab,
                "Enter" => KeyCode::Enter,
                "↑" => KeyCode::Up,
                "←" => KeyCode::Left,
                s => KeyCode::Char(s.chars().next().unwrap()),
            };
            let got = resolve(KeyEvent::new(code, KeyModifiers::NONE));
            assert_eq!(got, Some(b.action), "{}", b.label);
        }
        assert!(footer_hints(false).len() < footer_hints(true).len());
    }
}
