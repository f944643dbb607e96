//! Input as the view handles it: keys and mouse gestures without the
//! terminal library's types, so key handling runs and is tested without a
//! terminal, and the translation from crossterm's events (anything the view
//! has no use for becomes `None`).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

/// A key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// A printable character (with Shift already applied: `A`, `?`).
    Char(char),
    /// A character with Control held (`Ctrl-C` is `Ctrl('c')`).
    Ctrl(char),
    /// A character with Alt (Meta) held (`Alt-B` is `Alt('b')`).
    Alt(char),
    /// Enter with Alt held (a new line in a multi-line entry).
    AltEnter,
    /// Enter / Return.
    Enter,
    /// Escape.
    Esc,
    /// Tab.
    Tab,
    /// Shift-Tab.
    BackTab,
    /// Backspace.
    Backspace,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Home.
    Home,
    /// End.
    End,
    /// Delete.
    Delete,
    /// A function key, `F(1)` for F1.
    F(u8),
}

/// A mouse gesture at a cell (column, row from the top left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mouse {
    /// A button pressed.
    Click {
        /// Column.
        column: u16,
        /// Row.
        row: u16,
    },
    /// The wheel turned up.
    ScrollUp,
    /// The wheel turned down.
    ScrollDown,
}

/// Something from the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A key.
    Key(Key),
    /// A mouse gesture.
    Mouse(Mouse),
    /// Pasted text.
    Paste(String),
    /// The terminal is this size now (columns, rows).
    Resize(u16, u16),
}

/// The view's input for a terminal event; `None` for what it has no use for.
pub fn event(e: crossterm::event::Event) -> Option<Input> {
    use crossterm::event::{Event, KeyEventKind};
    match e {
        Event::Key(k) if k.kind != KeyEventKind::Release => key(k).map(Input::Key),
        Event::Mouse(m) => mouse(m).map(Input::Mouse),
        Event::Paste(p) => Some(Input::Paste(p)),
        Event::Resize(w, h) => Some(Input::Resize(w, h)),
        _ => None,
    }
}

/// The view's key for a terminal key event.
pub fn key(k: KeyEvent) -> Option<Key> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    let alt = k.modifiers.contains(KeyModifiers::ALT);
    Some(match k.code {
        KeyCode::Char(c) if ctrl => Key::Ctrl(c.to_ascii_lowercase()),
        KeyCode::Char(c) if alt => Key::Alt(c),
        KeyCode::Enter if alt => Key::AltEnter,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Delete => Key::Delete,
        KeyCode::F(n) => Key::F(n),
        _ => return None,
    })
}

/// The view's gesture for a terminal mouse event.
pub fn mouse(m: MouseEvent) -> Option<Mouse> {
    match m.kind {
        MouseEventKind::Down(_) => Some(Mouse::Click {
            column: m.column,
            row: m.row,
        }),
        MouseEventKind::ScrollUp => Some(Mouse::ScrollUp),
        MouseEventKind::ScrollDown => Some(Mouse::ScrollDown),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_shifted_keys_translate() {
        let ev = |code, m| KeyEvent::new(code, m);
        assert_eq!(
            key(ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Key::Ctrl('c'))
        );
        assert_eq!(
            key(ev(KeyCode::Char('C'), KeyModifiers::SHIFT)),
            Some(Key::Char('C'))
        );
        assert_eq!(key(ev(KeyCode::F(1), KeyModifiers::NONE)), Some(Key::F(1)));
        assert_eq!(
            key(ev(KeyCode::Char('b'), KeyModifiers::ALT)),
            Some(Key::Alt('b'))
        );
        assert_eq!(
            key(ev(KeyCode::Enter, KeyModifiers::ALT)),
            Some(Key::AltEnter)
        );
        assert_eq!(key(ev(KeyCode::CapsLock, KeyModifiers::NONE)), None);
    }
}
