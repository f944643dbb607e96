//! The timeline pane: the incident's events, newest last, following the
//! newest until a row is selected, coloured by kind, filterable by kind; a
//! selected row opens in full (the event overlay). The automatic metric snapshot of every
//! minute is listed only under the `metric_snapshot` filter.

use super::scroll;
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

/// The indices (into the incident's events) of the rows listed under `filter`, oldest first.
pub fn listed_indices(s: &State, filter: Option<crate::core::event::Kind>) -> Vec<usize> {
    s.incident.as_ref().map_or_else(Vec::new, |i| {
        i.events
            .iter()
            .enumerate()
            .filter(|(_, e)| listed(e, filter))
            .map(|(n, _)| n)
            .collect()
    })
}

/// The index of the selected row's event, if any is listed.
pub fn selected_index(s: &State, v: &View) -> Option<usize> {
    let listed = listed_indices(s, v.filter);
    let pos = listed
        .len()
        .checked_sub(1 + v.scroll.min(listed.len().saturating_sub(1)))?;
    listed.get(pos).copied()
}

/// What the pane says with nothing to list under `filter`.
fn empty_text(s: &State, filter: Option<crate::core::event::Kind>) -> String {
    match (filter, s.incident.is_some()) {
        (None, false) => {
            "nothing yet: the first signal, a note (n) or a severity (s) opens an incident".into()
        }
        (None, true) => "no events yet".into(),
        (Some(k), _) => format!(
            "no {} events yet · f shows the next kind",
            k.as_str().replace('_', " ")
        ),
    }
}

/// Draws the pane: the newest rows, or the window around the selected row;
/// Enter on a row opens the whole event.
pub fn draw(f: &mut Frame, area: Rect, s: &State, v: &View, th: Theme) {
    let filter = v.filter.map_or(String::new(), |k| format!(" [{k}]"));
    let path = s
        .timeline_path
        .as_ref()
        .and_then(|p| p.file_name())
        .map_or(String::new(), |n| format!(" {}", n.to_string_lossy()));
    let inner_h = area.height.saturating_sub(2) as usize;
    let listed = listed_indices(s, v.filter);
    let events = s.incident.as_ref().map_or(&[][..], |i| &i.events[..]);
    // Rows oldest first; the selection counts from the newest.
    let selected = listed.len().saturating_sub(1 + v.scroll);
    let first = if v.scroll == 0 {
        listed.len().saturating_sub(inner_h)
    } else {
        scroll::follow(&v.offsets.timeline, listed.len(), inner_h, selected)
    };
    v.offsets.timeline.set(first);
    let end = (first + inner_h).min(listed.len());
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if v.focus == Pane::Timeline {
            th.focus()
        } else {
            th.dim()
        })
        .title(format!(" Timeline{filter}{path} "))
        .title_bottom(
            Line::from(scroll::more(first, listed.len().saturating_sub(end))).right_aligned(),
        );
    let lines: Vec<Line> = if listed.is_empty() {
        vec![Line::styled(empty_text(s, v.filter), th.dim())]
    } else {
        listed[first..end]
            .iter()
            .enumerate()
            .filter_map(|(row, n)| events.get(*n).map(|e| (first + row, e)))
            .map(|(row, e)| {
                let line = Line::from(vec![
                    Span::styled(e.ts.format("%H:%M:%S ").to_string(), th.dim()),
                    Span::styled(
                        format!("{} ", e.kind.as_str().replace('_', " ")),
                        th.kind(e.kind),
                    ),
                    Span::raw(format!(
                        "{}: {}{}",
                        escape(&e.actor),
                        item_id(e),
                        escape(&e.msg.replace('\n', " / "))
                    )),
                ]);
                if row == selected && v.focus == Pane::Timeline {
                    line.style(th.selected())
                } else {
                    line
                }
            })
            .collect()
    };
    // Rows stay one line each (the window counts them); the hint may wrap.
    let p = Paragraph::new(lines).block(block);
    let p = if listed.is_empty() {
        p.wrap(ratatui::widgets::Wrap { trim: true })
    } else {
        p
    };
    f.render_widget(p, area);
}

/// An action item's short id before its text (`[1a2b3c4d] `), for `D`.
fn item_id(e: &crate::core::event::Event) -> String {
    e.id.as_ref()
        .filter(|_| e.kind == crate::core::event::Kind::ActionItem)
        .and_then(|i| crate::core::incident::short_id(i.as_str()))
        .map(|s| format!("[{s}] "))
        .unwrap_or_default()
}
