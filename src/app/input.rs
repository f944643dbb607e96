//! Input as the engine sees it: keys and mouse gestures without any terminal
//! library's types (the view translates its terminal's events into these), so
//! the engine runs and is tested without a terminal.

/// A key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// A printable character (with Shift already applied: `A`, `?`).
    Char(char),
    /// A character with Control held (`Ctrl-C` is `Ctrl('c')`).
    Ctrl(char),
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
