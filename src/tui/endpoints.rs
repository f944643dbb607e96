//! The endpoints table: probe endpoints and metric routes side by side, worst
//! first, with error-rate and p95 sparklines. Only the rows that fit are
//! built: with thousands of targets the cost of a frame is that of a screenful.

use super::scroll;
use super::theme::Theme;
use super::view::{Pane, View};
use crate::app::State;
use crate::app::targets::SourceKind;
use crate::core::text::escape;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of `values` scaled to their own max, `width` characters.
pub fn spark(values: &[f64], width: usize) -> String {
    let tail = &values[values.len().saturating_sub(width)..];
    let max = tail.iter().copied().fold(0.0, f64::max);
    tail.iter()
        .map(|v| {
            if max <= 0.0 {
                BARS[0]
            } else {
                BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{:.0}", s * 1000.0))
}

fn pct(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v < 0.1 {
        format!("{:.1}", v * 100.0)
    } else {
        format!("{:.0}", v * 100.0)
    }
}

/// Draws the table; returns the body area (for the mouse).
pub fn draw(f: &mut Frame, area: Rect, s: &State, v: &View, th: Theme) -> Rect {
    let wide = area.width >= 90;
    let order = v.order(s);
    let header = if wide {
        vec![
            "", "endpoint", "state", "rps", "err%", "4xx%", "p50", "p95", "p99", "errors",
            "latency", "cert",
        ]
    } else {
        vec!["", "endpoint", "state", "rps", "err%", "p95", "errors"]
    };
    // Borders and the header line take three rows; the window follows the selection.
    let fits = usize::from(area.height.saturating_sub(3));
    let first = scroll::follow(&v.offsets.endpoints, order.len(), fits, v.selected);
    let rows: Vec<Row> = order
        .iter()
        .enumerate()
        .skip(first)
        .take(fits)
        .map(|(pos, i)| {
            let t = &s.targets[*i];
            let r = t.row(s.now);
            let src = match t.kind() {
                SourceKind::Probe => "◉",
                SourceKind::Metrics => "≋",
            };
            let errs: Vec<f64> = t.history.iter().map(|p| p.err).collect();
            let p95s: Vec<f64> = t.history.iter().map(|p| p.p95.unwrap_or(0.0)).collect();
            let mut cells = vec![
                Cell::from(src),
                Cell::from(match s.location_marks(&t.name) {
                    Some(marks) => format!("{} {marks}", escape(&t.name)),
                    None => escape(&t.name).into_owned(),
                }),
                if s.held.keys().any(|(_, target)| *target == t.name) {
                    // Failing, but a silence holds it: shown, never paged.
                    Cell::from(Span::styled("SILENCED", th.warn()))
                } else {
                    Cell::from(Span::styled(r.health.label(), th.health(r.health)))
                },
                Cell::from(format!("{:.1}", r.rps)),
                Cell::from(Span::styled(
                    pct(r.err),
                    if r.err >= s.settings.error_rate.fraction() {
                        th.bad()
                    } else {
                        th.text()
                    },
                )),
            ];
            if wide {
                cells.push(Cell::from(pct(r.r4xx)));
                cells.push(Cell::from(ms(r.p50)));
                cells.push(Cell::from(ms(r.p95)));
                cells.push(Cell::from(ms(r.p99)));
                cells.push(Cell::from(Span::styled(spark(&errs, 10), th.bad())));
                cells.push(Cell::from(spark(&p95s, 10)));
                let cert = r.cert_days.map_or("-".into(), |d| format!("{d:.0}d"));
                cells.push(Cell::from(if t.probe_feed().is_some_and(|p| p.insecure) {
                    format!("{cert} INSECURE")
                } else {
                    cert
                }));
            } else {
                cells.push(Cell::from(ms(r.p95)));
                cells.push(Cell::from(Span::styled(spark(&errs, 8), th.bad())));
            }
            let style = if pos == v.selected && v.focus == Pane::Endpoints {
                th.selected()
            } else {
                Style::default()
            };
            Row::new(cells).style(style)
        })
        .collect();
    let widths: Vec<Constraint> = if wide {
        vec![
            Constraint::Length(1),
            Constraint::Min(18),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(5),
        ]
    } else {
        vec![
            Constraint::Length(1),
            Constraint::Min(14),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(8),
        ]
    };
    let sort = ["worst first", "by name", "by traffic"][v.sort as usize % 3];
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if v.focus == Pane::Endpoints {
            th.focus()
        } else {
            th.dim()
        })
        .title(Line::from(format!(
            " Endpoints ({}, {sort}; ◉ probe ≋ metrics) ",
            s.targets.len()
        )))
        .title_bottom(
            Line::from(scroll::more(
                first,
                order.len().saturating_sub(first + fits),
            ))
            .right_aligned(),
        );
    let inner = block.inner(area);
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(th.dim()))
        .block(block);
    f.render_widget(table, area);
    Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    }
}
