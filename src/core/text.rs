//! Text from outside made safe to print or write: one escaping function for
//! every line `ic` prints (stdout, stderr), writes (postmortems, timeline
//! lines) or draws (the view), and padding that never panics on long input.
//! Pure.
//!
//! What is escaped: every control character (C0, DEL, C1 — so newlines and
//! carriage returns cannot forge a line, and ESC cannot drive the terminal),
//! the bidirectional formatting characters (U+061C, U+200E, U+200F,
//! U+202A–U+202E, U+2066–U+2069 — so a line cannot be shown reordered) and
//! the line and paragraph separators (U+2028, U+2029). Newline, carriage
//! return and tab become `\n`, `\r`, `\t`; the rest `\u001b`, `\u202e`. Those
//! forms are also valid JSON string escapes, so escaping a line of JSON
//! (whose own control characters serde has already escaped) keeps it valid
//! JSON with the same meaning.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal or a file raw.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// `text` with every unsafe character (see the module docs) written as a
/// visible escape: `\n`, `\r`, `\t`, `\u001b`, `\u202e`. Borrowed when there
/// is nothing to escape; escaping escaped text changes nothing.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` followed by spaces up to `width` characters (like `{:<width$}`,
/// which panics past 65,535; this takes any width).
pub fn pad_right(text: &str, width: usize) -> String {
    let n = text.chars().count();
    let mut out = String::with_capacity(text.len() + width.saturating_sub(n));
    out.push_str(text);
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(n)));
    out
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
pub fn ellipsis(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `text` cut to at most `max` characters by dropping its middle (`/tmp/ic-…/a.jsonl`):
/// for paths, whose both ends say the most.
pub fn elide_middle(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    if max < 3 {
        return text.chars().take(max).collect();
    }
    let tail = (max - 1) / 2 + (max - 1) % 2;
    let head = max - 1 - tail;
    let mut out: String = text.chars().take(head).collect();
    out.push('…');
    out.extend(text.chars().skip(n - tail));
    out
}

/// Text from a timeline (written by anyone who could append to it, often
/// echoing a hostile body) as it goes into Markdown prose: control
/// characters escaped as [`escape`] does, and the characters that would make
/// Markdown markup of it — raw HTML (`<img onerror=…>`), links and images
/// (`[x](…)`, `![](…)`), code spans, entities — backslash-escaped, so a
/// renderer shows the text as written and fetches nothing.
pub fn markdown(s: &str) -> Cow<'_, str> {
    let s = escape(s);
    if !s.contains(is_markup) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_markup(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// The characters Markdown reads as markup.
fn is_markup(c: char) -> bool {
    matches!(c, '\\' | '`' | '<' | '>' | '[' | ']' | '&')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_the_end_or_in_the_middle() {
        assert_eq!(ellipsis("short", 10), "short");
        assert_eq!(ellipsis("Confirm the alert", 8), "Confirm…");
        assert_eq!(
            elide_middle("/tmp/ic-demo-abc/timeline.jsonl", 15),
            "/tmp/ic…e.jsonl"
        );
        assert_eq!(
            elide_middle("/tmp/ic-demo-abc/timeline.jsonl", 15)
                .chars()
                .count(),
            15
        );
        assert_eq!(elide_middle("ab", 15), "ab");
        assert_eq!(elide_middle("abcdef", 2), "ab");
    }

    #[test]
    fn controls_newlines_and_bidi_overrides_become_visible_escapes() {
        assert!(matches!(escape("plain /api/ü 1.5%"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\nRESOLVED b\r\tc"),
            "a\\nRESOLVED b\\r\\tc".to_string()
        );
        assert_eq!(escape("\u{1b}]52;c;x\u{7}"), "\\u001b]52;c;x\\u0007");
        assert_eq!(escape("\u{7f}\u{85}\u{9b}"), "\\u007f\\u0085\\u009b");
        assert_eq!(
            escape("\u{202e}cod.exe\u{2066}\u{2069}\u{200f}\u{2028}"),
            "\\u202ecod.exe\\u2066\\u2069\\u200f\\u2028"
        );
        // Idempotent: escaped text has nothing left to escape.
        let once = escape("x\u{1b}\n\u{202d}").into_owned();
        assert_eq!(escape(&once), once);
        assert!(!once.contains(is_unsafe));
    }

    #[test]
    fn escaping_a_json_line_keeps_it_json_with_the_same_meaning() {
        let value = serde_json::json!({"msg": "a\u{202e}b\u{7f}\u{85}\u{2029}\n\u{1b}"});
        let line = serde_json::to_string(&value).unwrap();
        let safe = escape(&line);
        assert!(!safe.contains(is_unsafe), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn padding_takes_any_width() {
        assert_eq!(pad_right("ab", 4), "ab  ");
        assert_eq!(pad_right("abcdef", 4), "abcdef");
        assert_eq!(pad_right("é", 2), "é ");
        assert_eq!(pad_right("x", 70_000).len(), 70_000);
    }
}
