//! The footer: the ALERT banner (or the latest message, escaped: it may quote
//! a route label or an error) and the key hints, generated from the keymap
//! and ranked by what the incident's phase needs, as many as fit.

use super::keymap;
use super::theme::Theme;
use crate::app::State;
use crate::core::event::{Phase, Stage};
use crate::core::text::{elide_middle, escape};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the footer.
pub fn draw(f: &mut Frame, area: Rect, s: &State, th: Theme) {
    let first = match (&s.message, &s.banner) {
        // Too long for the row: the middle goes, so a path at the end stays readable.
        (Some(m), _) => Line::styled(
            format!(
                " {}",
                elide_middle(&escape(m), usize::from(area.width).saturating_sub(1))
            ),
            th.warn(),
        ),
        (None, Some((b, _))) => Line::styled(format!(" {} ", escape(b)), th.banner()),
        (None, None) => Line::styled(" all quiet", th.dim()),
    };
    let inc = s.incident.as_ref().filter(|_| s.incident_open());
    let stage = keymap::Stage {
        phase: inc.map(|i| i.state.phase.unwrap_or(Phase::Detect)),
        acknowledged: inc.is_some_and(|i| i.state.stage(Stage::Acknowledged).is_some()),
    };
    // As many hints as fit, most needed first (`?` and `:` reach the rest).
    let mut hints = Vec::new();
    let mut used = 0usize;
    for (k, what) in keymap::footer_hints(stage) {
        let w = k.chars().count() + what.chars().count() + 3;
        if used + w > usize::from(area.width) {
            break;
        }
        used += w;
        hints.push(Span::styled(format!(" {k}"), th.focus()));
        hints.push(Span::styled(format!(" {what} "), th.dim()));
    }
    f.render_widget(Paragraph::new(vec![first, Line::from(hints)]), area);
}
