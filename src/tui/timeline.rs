//! The timeline pane: the incident's events, newest last, auto-scrolled,
//! coloured by kind, filterable by kind. The automatic metric snapshot of every
//! minute is listed only under the `metric_snapshot` filter.

use super::theme::Theme;
use super::view::{Pane, View};
use crate::app::State;
use crate::core::text::escape;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// Whether the pane lists `e`: with a filter, events of its kind (the command
/// filter: starts, ends and older versions' runs); without, everything but the
/// engine's automatic snapshots.
fn listed(e: &crate::core::event::Event, filter: Option<crate::core::event::Kind>) -> bool {
    use crate::core::event::Kind;
    let commands = [
        Kind::CommandStarted,
        Kind::CommandFinished,
        Kind::CommandRun,
    ];
    match filter {
        Some(k) if commands.contains(&k) => commands.contains(&e.kind),
        Some(k) => e.kind == k,
        None => !(matches!(e.kind, Kind::MetricSnapshot | Kind::ImpactMeasured) && e.actor == "ic"),
    }
}

/// Draws the pane.
pub fn draw(f: &mut Frame, area: Rect, s: &State, v: &View, th: Theme) {
    let filter = v.filter.map_or(String::new(), |k| format!(" [{k}]"));
    let path = s
        .timeline_path
        .as_ref()
        .and_then(|p| p.file_name())
        .map_or(String::new(), |n| format!(" {}", n.to_string_lossy()));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if v.focus == Pane::Timeline {
            th.focus()
        } else {
            th.dim()
        })
        .title(format!(" Timeline{filter}{path} "));
    let inner_h = area.height.saturating_sub(2) as usize;
    let events: Vec<_> = s
        .incident
        .as_ref()
        .map(|i| i.events.iter().filter(|e| listed(e, v.filter)).collect())
        .unwrap_or_default();
    let end = events.len().saturating_sub(v.scroll);
    let start = end.saturating_sub(inner_h);
    let lines: Vec<Line> = if events.is_empty() {
        vec![Line::styled(
            "nothing yet: the first signal or note opens an incident",
            th.dim(),
        )]
    } else {
        events[start..end]
            .iter()
            .map(|e| {
                Line::from(vec![
                    Span::styled(e.ts.format("%H:%M:%S ").to_string(), th.dim()),
                    Span::styled(
                        format!("{} ", e.kind.as_str().replace('_', " ")),
                        th.kind(e.kind),
                    ),
                    Span::raw(format!(
                        "{}: {}",
                        escape(&e.actor),
                        escape(&e.msg.replace('\n', " / "))
                    )),
                ])
            })
            .collect()
    };
    f.render_widget(Paragraph::new(lines).block(block), area);
}
