//! Overlays drawn over the panes: help (from the keymap), the severity picker
//! with the SEV-1..4 guidance table, line input and y/n confirmation.

use super::theme::Theme;
use crate::app::{Confirm, Mode, State, keymap};
use crate::core::event::Severity;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2));
    let h = h.min(area.height.saturating_sub(2));
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Draws the overlay of the current mode, if any.
pub fn draw(f: &mut Frame, area: Rect, s: &State, th: Theme) {
    match &s.mode {
        Mode::Normal => {}
        Mode::Help => {
            let lines: Vec<Line> = keymap::help_lines()
                .into_iter()
                .map(|(k, what)| {
                    Line::from(vec![
                        Span::styled(format!("{k:>10}  "), th.focus()),
                        Span::raw(what),
                    ])
                })
                .chain([
                    Line::from(""),
                    Line::styled("any key closes this help", th.dim()),
                ])
                .collect();
            let r = centered(area, 50, lines.len() as u16 + 2);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Help ")),
                r,
            );
        }
        Mode::Severity(cur) => {
            let pb = s.playbook();
            let mut lines = Vec::new();
            for (i, sev) in Severity::ALL.iter().enumerate() {
                let g = pb.and_then(|p| p.severity.get(sev));
                let when = g.map_or("", |g| g.when.as_str());
                let respond = g.map_or(String::new(), |g| {
                    let ack = g
                        .ack_within
                        .map_or(String::new(), |d| format!(", ack within {d}"));
                    format!(" — {}{ack}", g.respond)
                });
                let style = if i == *cur { th.selected() } else { th.text() };
                lines.push(Line::from(vec![
                    Span::styled(format!(" {} ", sev), th.severity(Some(*sev))),
                    Span::styled(format!(" {when}{respond}"), style),
                ]));
            }
            lines.push(Line::styled("↑↓ or 1-4, Enter sets, Esc cancels", th.dim()));
            let r = centered(area, 100, 8);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: true })
                    .block(Block::default().borders(Borders::ALL).title(" Severity ")),
                r,
            );
        }
        Mode::Input(kind, buf) => {
            let r = centered(area, area.width.saturating_sub(4), 4);
            f.render_widget(Clear, r);
            let text = vec![
                Line::from(format!("{buf}█")),
                Line::styled("Enter saves to the timeline · Esc cancels", th.dim()),
            ];
            f.render_widget(
                Paragraph::new(text).wrap(Wrap { trim: false }).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(format!(" {} ", kind.prompt())),
                ),
                r,
            );
        }
        Mode::Confirm(what) => {
            let q = match what {
                Confirm::Quit => {
                    "An incident is open. Quit? It stays open and resumes next time. (y/n)"
                        .to_string()
                }
                Confirm::Run { command, .. } => format!("Run this command? (y/n)\n\n  {command}"),
            };
            let r = centered(area, 90, 7);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(q).wrap(Wrap { trim: false }).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .border_style(th.warn())
                        .title(" Confirm "),
                ),
                r,
            );
        }
    }
}
