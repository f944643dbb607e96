//! The footer: the ALERT banner (or the latest message, escaped: it may quote
//! a route label or an error) and the key hints, generated from the keymap.

use super::keymap;
use super::theme::Theme;
use crate::app::State;
use crate::core::text::escape;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the footer.
pub fn draw(f: &mut Frame, area: Rect, s: &State, th: Theme) {
    let first = match (&s.message, &s.banner) {
        (Some(m), _) => Line::styled(format!(" {}", escape(m)), th.warn()),
        (None, Some((b, _))) => Line::styled(format!(" {} ", escape(b)), th.banner()),
        (None, None) => Line::styled(" all quiet", th.dim()),
    };
    let mut hints = Vec::new();
    for (k, what) in keymap::footer_hints(s.incident_open()) {
        hints.push(Span::styled(format!(" {k}"), th.focus()));
        hints.push(Span::styled(format!(" {what} "), th.dim()));
    }
    f.render_widget(Paragraph::new(vec![first, Line::from(hints)]), area);
}
