//! The terminal's events translated into the engine's input: crossterm keys
//! and mouse events become [`Key`] and [`Mouse`] (anything the engine has no
//! use for becomes `None`).

use crate::app::input::{Key, Mouse};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

/// The engine's key for a terminal key event.
pub fn key(k: KeyEvent) -> Option<Key> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    Some(match k.code {
        KeyCode::Char(c) if ctrl => Key::Ctrl(c.to_ascii_lowercase()),
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

/// The engine's gesture for a terminal mouse event.
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
        assert_eq!(key(ev(KeyCode::CapsLock, KeyModifiers::NONE)), None);
    }
}
