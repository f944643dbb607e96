//! The input box: a shell-like line editor over `ratatui-textarea` — cursor
//! movement (←/→, Home/End, Ctrl-A/E, Alt-B/F), deletion (Ctrl-W/U/K, Alt-D),
//! yank (Ctrl-Y), and history per kind of entry (↑/↓ on the first / last
//! line). Notes and status updates take several lines (Alt-Enter or Ctrl-J
//! starts a new one); Enter saves. An entry never grows past what a timeline
//! line may hold.

use super::input::Key;
use crate::app::INPUT_LIMIT;
use crate::core::grammar::InputKind;
use crate::core::text::{escape, is_unsafe};
use ratatui::style::{Modifier, Style};
use ratatui_textarea::{CursorMove, Input as TaInput, Key as TaKey, TextArea, WrapMode};

/// What a key did to the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Enter: the entry is to be saved.
    Submit(String),
    /// Esc: the entry is dropped.
    Cancel,
    /// The text or the cursor changed (or nothing did).
    Changed,
    /// The key would have made the entry longer than a timeline line may hold.
    TooLong,
}

/// An entry being typed: what it is for, and the editor holding it.
#[derive(Debug, Clone)]
pub struct Editor {
    /// What the entry is for (the prompt, the grammar it is parsed with).
    pub kind: InputKind,
    area: TextArea<'static>,
    /// Position in the history while browsing it (0 is the newest entry),
    /// and the text that was being typed before browsing began.
    browsing: Option<(usize, String)>,
}

impl PartialEq for Editor {
    fn eq(&self, other: &Editor) -> bool {
        self.kind == other.kind && self.text() == other.text()
    }
}

impl Editor {
    /// An editor for `kind` holding `text` (a pre-filled draft, or a line to
    /// correct), the cursor at its end.
    pub fn new(kind: InputKind, text: &str) -> Editor {
        // Pre-filled text may quote outside data (route labels): what must not
        // reach the terminal raw is shown, and saved, as a visible escape.
        let lines: Vec<String> = text.split('\n').map(|l| escape(l).into_owned()).collect();
        let mut area = TextArea::new(lines);
        area.set_wrap_mode(WrapMode::WordOrGlyph);
        area.set_max_histories(200);
        area.set_cursor_line_style(Style::default());
        area.set_cursor_style(Style::default().add_modifier(Modifier::REVERSED));
        area.move_cursor(CursorMove::Bottom);
        area.move_cursor(CursorMove::End);
        Editor {
            kind,
            area,
            browsing: None,
        }
    }

    /// The entry's text, its lines joined with `\n`.
    pub fn text(&self) -> String {
        self.area.lines().join("\n")
    }

    /// Whether this kind of entry may take several lines.
    pub fn multiline(&self) -> bool {
        matches!(self.kind, InputKind::Note | InputKind::Comms)
    }

    /// The number of lines the entry holds.
    pub fn line_count(&self) -> usize {
        self.area.lines().len()
    }

    /// The cursor as (line, column in characters).
    pub fn cursor(&self) -> (usize, usize) {
        let c = self.area.cursor();
        (c.0, c.1)
    }

    /// The text area, for drawing.
    pub fn area(&self) -> &TextArea<'static> {
        &self.area
    }

    /// The text area, for styling before drawing.
    pub fn area_mut(&mut self) -> &mut TextArea<'static> {
        &mut self.area
    }

    /// Handles one key; `history` holds earlier entries of this kind, newest first.
    pub fn key(&mut self, key: Key, history: &[String]) -> Edit {
        match key {
            Key::Esc => return Edit::Cancel,
            Key::Enter => return Edit::Submit(self.text()),
            Key::AltEnter | Key::Ctrl('j') if self.multiline() => {
                return self.edit(|a| {
                    a.insert_newline();
                    true
                });
            }
            Key::AltEnter | Key::Ctrl('j') => return Edit::Changed,
            Key::Up if self.cursor().0 == 0 => return self.browse(1, history),
            Key::Down if self.cursor().0 + 1 >= self.line_count() => {
                return self.browse(-1, history);
            }
            // Shell meanings where the editor's defaults differ.
            Key::Ctrl('u') => return self.edit(|a| a.delete_line_by_head()),
            Key::Ctrl('w') => return self.edit(rub_out_word),
            Key::Ctrl('z') => return self.edit(|a| a.undo()),
            Key::Char(c) if is_unsafe(c) => return Edit::Changed,
            _ => {}
        }
        let Some(input) = translate(key) else {
            return Edit::Changed;
        };
        self.edit(|a| a.input(input))
    }

    /// Inserts pasted text at the cursor (newlines become spaces in a
    /// one-line entry); what does not fit is dropped, and the number of bytes
    /// dropped returned.
    pub fn paste(&mut self, text: &str) -> usize {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let text: String = text
            .split('\n')
            .map(|l| escape(l).into_owned())
            .collect::<Vec<_>>()
            .join(if self.multiline() { "\n" } else { " " });
        let room = INPUT_LIMIT.saturating_sub(self.text().len());
        let mut cut = room.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        self.browsing = None;
        self.area.insert_str(&text[..cut]);
        text.len() - cut
    }

    /// Applies an edit, undoing it when the entry would grow too long.
    fn edit(&mut self, f: impl FnOnce(&mut TextArea<'static>) -> bool) -> Edit {
        let before = self.text().len();
        if f(&mut self.area) {
            self.browsing = None;
            if self.text().len() > INPUT_LIMIT.max(before) {
                self.area.undo();
                return Edit::TooLong;
            }
        }
        Edit::Changed
    }

    /// Moves `by` entries back (positive) or forward in the history.
    fn browse(&mut self, by: i64, history: &[String]) -> Edit {
        if history.is_empty() {
            return Edit::Changed;
        }
        let (pos, typed) = match self.browsing.take() {
            Some((pos, typed)) => (Some(pos), typed),
            None => (None, self.text()),
        };
        let next = match (pos, by > 0) {
            (None, true) => Some(0),
            (None, false) => None,
            (Some(p), true) => Some((p + 1).min(history.len() - 1)),
            (Some(0), false) => None,
            (Some(p), false) => Some(p - 1),
        };
        let shown = next.map_or(typed.clone(), |p| history[p].clone());
        *self = Editor {
            browsing: next.map(|p| (p, typed)),
            ..Editor::new(self.kind, &shown)
        };
        Edit::Changed
    }
}

/// Ctrl-W as a shell has it: back to the previous whitespace (`due:next-week`
/// goes whole), spaces before the cursor first.
fn rub_out_word(a: &mut TextArea<'static>) -> bool {
    let (row, col) = (a.cursor().0, a.cursor().1);
    let Some(line) = a.lines().get(row) else {
        return false;
    };
    let before: Vec<char> = line.chars().take(col).collect();
    let spaces = before
        .iter()
        .rev()
        .take_while(|c| c.is_whitespace())
        .count();
    let word = before[..before.len() - spaces]
        .iter()
        .rev()
        .take_while(|c| !c.is_whitespace())
        .count();
    let n = spaces + word;
    if n == 0 {
        return false;
    }
    for _ in 0..n {
        a.move_cursor(CursorMove::Back);
    }
    a.delete_str(n)
}

/// The editor's input for a view key; `None` for keys it has no use for.
fn translate(key: Key) -> Option<TaInput> {
    let plain = |key| TaInput {
        key,
        ctrl: false,
        alt: false,
        shift: false,
    };
    Some(match key {
        Key::Char(c) => plain(TaKey::Char(c)),
        Key::Ctrl(c) => TaInput {
            ctrl: true,
            ..plain(TaKey::Char(c))
        },
        Key::Alt(c) => TaInput {
            alt: true,
            ..plain(TaKey::Char(c))
        },
        Key::Backspace => plain(TaKey::Backspace),
        Key::Delete => plain(TaKey::Delete),
        Key::Left => plain(TaKey::Left),
        Key::Right => plain(TaKey::Right),
        Key::Up => plain(TaKey::Up),
        Key::Down => plain(TaKey::Down),
        Key::Home => plain(TaKey::Home),
        Key::End => plain(TaKey::End),
        Key::PageUp => plain(TaKey::PageUp),
        Key::PageDown => plain(TaKey::PageDown),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(e: &mut Editor, text: &str) {
        for c in text.chars() {
            e.key(Key::Char(c), &[]);
        }
    }

    #[test]
    fn edits_in_the_middle_of_a_line_like_a_shell() {
        let mut e = Editor::new(InputKind::Note, "");
        typed(&mut e, "pool is full");
        // Back over "full" with Alt-B, type before it.
        e.key(Key::Alt('b'), &[]);
        typed(&mut e, "nearly ");
        assert_eq!(e.text(), "pool is nearly full");
        // Ctrl-A to the start, Ctrl-K cuts everything, Ctrl-Y yanks it back.
        e.key(Key::Ctrl('a'), &[]);
        e.key(Key::Ctrl('k'), &[]);
        assert_eq!(e.text(), "");
        e.key(Key::Ctrl('y'), &[]);
        assert_eq!(e.text(), "pool is nearly full");
        // Ctrl-W deletes back to the previous space; Ctrl-U the line before the cursor.
        e.key(Key::Ctrl('w'), &[]);
        assert_eq!(e.text(), "pool is nearly ");
        e.key(Key::Left, &[]);
        e.key(Key::Ctrl('u'), &[]);
        assert_eq!(e.text(), " ");
        e.key(Key::End, &[]);
        typed(&mut e, "x");
        assert_eq!(e.text(), " x");
        e.key(Key::Home, &[]);
        e.key(Key::Delete, &[]);
        assert_eq!(e.text(), "x");
    }

    #[test]
    fn ctrl_w_rubs_out_back_to_the_previous_space_like_a_shell() {
        let mut e = Editor::new(InputKind::ActionItem, "bigger pool @ann due:next-week");
        e.key(Key::Ctrl('w'), &[]);
        assert_eq!(e.text(), "bigger pool @ann ");
        e.key(Key::Ctrl('w'), &[]);
        assert_eq!(e.text(), "bigger pool ");
        let mut e = Editor::new(InputKind::Note, "");
        assert_eq!(
            e.key(Key::Ctrl('w'), &[]),
            Edit::Changed,
            "nothing to rub out"
        );
    }

    #[test]
    fn notes_take_several_lines_and_one_line_entries_do_not() {
        let mut note = Editor::new(InputKind::Note, "first");
        note.key(Key::AltEnter, &[]);
        typed(&mut note, "second");
        note.key(Key::Ctrl('j'), &[]);
        typed(&mut note, "third");
        assert_eq!(
            note.key(Key::Enter, &[]),
            Edit::Submit("first\nsecond\nthird".into())
        );
        let mut item = Editor::new(InputKind::ActionItem, "fix");
        item.key(Key::AltEnter, &[]);
        assert_eq!(item.text(), "fix");
        item.paste("the\npool");
        assert_eq!(item.text(), "fixthe pool");
    }

    #[test]
    fn what_must_not_reach_the_terminal_raw_is_escaped_or_refused() {
        // A pre-filled draft quoting a route label with a bidi override.
        let e = Editor::new(InputKind::Comms, "impact: /api/\u{202e}gpj\nnext");
        assert_eq!(e.text(), "impact: /api/\\u202egpj\nnext");
        let mut e = Editor::new(InputKind::Note, "");
        e.key(Key::Char('\u{1b}'), &[]);
        e.key(Key::Char('\u{2066}'), &[]);
        assert_eq!(e.text(), "");
        e.paste("a\u{1b}]52;c;x\u{7}\r\nb");
        assert_eq!(e.text(), "a\\u001b]52;c;x\\u0007\nb");
    }

    #[test]
    fn up_and_down_walk_the_history_and_come_back_to_the_draft() {
        let history = vec!["newest".to_string(), "older".to_string()];
        let mut e = Editor::new(InputKind::Hypothesis, "draft");
        e.key(Key::Up, &history);
        assert_eq!(e.text(), "newest");
        e.key(Key::Up, &history);
        e.key(Key::Up, &history);
        assert_eq!(e.text(), "older");
        e.key(Key::Down, &history);
        assert_eq!(e.text(), "newest");
        e.key(Key::Down, &history);
        assert_eq!(e.text(), "draft");
        // Editing a recalled entry makes it the draft.
        e.key(Key::Up, &history);
        typed(&mut e, "!");
        e.key(Key::Down, &history);
        assert_eq!(e.text(), "newest!");
    }

    #[test]
    fn an_entry_never_grows_past_a_timeline_line() {
        let mut e = Editor::new(InputKind::Note, &"a".repeat(INPUT_LIMIT - 1));
        assert_eq!(e.key(Key::Char('b'), &[]), Edit::Changed);
        assert_eq!(e.key(Key::Char('c'), &[]), Edit::TooLong);
        assert_eq!(e.text().len(), INPUT_LIMIT);
        let mut e = Editor::new(InputKind::Note, &"a".repeat(INPUT_LIMIT - 3));
        assert_eq!(e.paste("ééé"), 4, "cut at a character boundary");
        assert_eq!(e.text().len(), INPUT_LIMIT - 1);
    }
}
