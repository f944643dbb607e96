//! The playbook pane: phase tabs, the matched playbook's steps with
//! checkboxes, live verify results, commands, the auto-answered triage facts
//! and the hypothesis ledger.

use super::scroll;
use super::theme::Theme;
use super::view::{Pane, View};
use crate::app::{State, ledger_lines, triage};
use crate::core::event::Phase;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

/// Draws the pane.
pub fn draw(f: &mut Frame, area: Rect, s: &State, v: &View, th: Theme) {
    let pb = s.playbook();
    let title = pb.map_or(" Playbook: none matches yet ".to_string(), |p| {
        format!(" Playbook: {} ", p.title)
    });
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if v.focus == Pane::Playbook {
            th.focus()
        } else {
            th.dim()
        })
        .title(title);
    let current = s.incident.as_ref().and_then(|i| i.state.phase);
    // Padded tabs where they fit on one row, tight ones where they do not.
    let inner_w = usize::from(area.width.saturating_sub(2));
    let tab_row = |pad: &str| -> Vec<Span> {
        Phase::ALL
            .iter()
            .flat_map(|p| {
                let label = format!(
                    "{pad}{}{}{pad}",
                    p.as_str(),
                    if Some(*p) == current { "•" } else { "" }
                );
                let style = if *p == v.phase_tab {
                    th.selected()
                } else {
                    th.dim()
                };
                [Span::styled(label, style), Span::raw(" ")]
            })
            .collect()
    };
    let mut tabs = tab_row(" ");
    if Line::from(tabs.clone()).width() > inner_w {
        tabs = tab_row("");
    }
    // Each line with the step it belongs to, for scrolling by step.
    let mut lines: Vec<(Line, Option<usize>)> = Vec::new();
    let steps = v.visible_steps(s);
    for (i, step) in steps.iter().enumerate() {
        let state = s.step_state(v.phase_tab, &step.id);
        let mark = match state {
            Some(true) => "[x]",
            Some(false) => "[-]",
            None => "[ ]",
        };
        let mut spans = vec![
            Span::raw(format!("{mark} ")),
            Span::raw(crate::core::text::escape(&step.text).into_owned()),
        ];
        if step.run.is_some() {
            let label = if s.running.as_deref() == Some(step.id.as_str()) {
                " ⟳ running"
            } else {
                " ▶ run"
            };
            spans.push(Span::styled(label, th.warn()));
        }
        if !step.required {
            spans.push(Span::styled(" (optional)", th.dim()));
        }
        let style = if i == v.step_cursor && v.focus == Pane::Playbook {
            th.selected()
        } else {
            th.text()
        };
        lines.push((Line::from(spans).style(style), Some(i)));
        if let Some(out) = s.outputs.get(&step.id) {
            for (n, l) in out.lines().take(3).enumerate() {
                let prefix = if n == 0 { "    $ " } else { "      " };
                lines.push((
                    Line::styled(
                        format!("{prefix}{}", crate::core::text::escape(l)),
                        th.dim(),
                    ),
                    Some(i),
                ));
            }
        }
        if let Some((_, Some(v))) = s.checks.get(&step.id) {
            let (mark, st) = match v.passed {
                Some(true) => ("✔", th.ok()),
                Some(false) => ("✘", th.bad()),
                None => ("…", th.dim()),
            };
            lines.push((
                Line::from(vec![
                    Span::raw("    "),
                    Span::styled(format!("{mark} {}", v.text), st),
                ]),
                Some(i),
            ));
        }
    }
    if v.phase_tab == Phase::Triage {
        lines.push((
            Line::styled("triage, from the data (T for all of it):", th.dim()),
            None,
        ));
        for fact in triage::summary(s).short() {
            lines.push((
                Line::from(format!("  · {}", crate::core::text::escape(&fact))),
                None,
            ));
        }
    }
    let ledger = ledger_lines(s);
    if !ledger.is_empty() {
        lines.push((Line::styled("hypotheses:", th.dim()), None));
        lines.extend(ledger.into_iter().map(|l| {
            (
                Line::from(format!("  {}", crate::core::text::escape(&l))),
                None,
            )
        }));
    }
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    f.render_widget(
        Paragraph::new(Line::from(tabs)),
        Rect { height: 1, ..inner },
    );
    let body = Rect {
        y: inner.y + 1,
        height: inner.height - 1,
        ..inner
    };
    draw_body(f, body, lines, steps.len(), v);
}

/// The steps, checks, facts and ledger under the tabs, scrolled so the
/// selected step shows whole, with marks for the steps out of sight.
fn draw_body(f: &mut Frame, body: Rect, lines: Vec<(Line, Option<usize>)>, steps: usize, v: &View) {
    // Rows each line takes once wrapped, and where each step's rows are.
    let heights: Vec<usize> = lines
        .iter()
        .map(|(l, _)| {
            Paragraph::new(l.clone())
                .wrap(Wrap { trim: false })
                .line_count(body.width)
                .max(1)
        })
        .collect();
    let total: usize = heights.iter().sum();
    let mut row = 0;
    let mut span: Vec<(usize, usize)> = vec![(usize::MAX, 0); steps];
    for ((_, step), h) in lines.iter().zip(&heights) {
        if let Some(i) = step {
            let (a, b) = span[*i];
            span[*i] = (a.min(row), b.max(row + h));
        }
        row += h;
    }
    let height = usize::from(body.height);
    let cursor = v.step_cursor.min(steps.saturating_sub(1));
    // Keep the selected step's last row, then its first, in view.
    let last_end = span
        .last()
        .map_or(0, |&(a, b)| if a == usize::MAX { 0 } else { b });
    v.offsets.below_steps.set(total.saturating_sub(last_end));
    let offset = match span.get(cursor) {
        // Read on past the last step: the rows under it, as far as they go.
        Some(&(_, b)) if v.read_on > 0 && cursor + 1 == steps => scroll::follow(
            &v.offsets.playbook,
            total,
            height,
            (b - 1 + v.read_on).min(total.saturating_sub(1)),
        ),
        Some(&(a, b)) if a != usize::MAX => {
            scroll::follow(&v.offsets.playbook, total, height, b - 1);
            scroll::follow(&v.offsets.playbook, total, height, a)
        }
        _ => scroll::follow(&v.offsets.playbook, total, height, v.read_on),
    };
    let above = span
        .iter()
        .filter(|(a, _)| *a != usize::MAX && *a < offset)
        .count();
    let below = span.iter().filter(|(_, b)| *b > offset + height).count();
    let mark = scroll::more(above, below);
    let mark = if mark.is_empty() && total > offset + height {
        " more ↓ ".to_string()
    } else {
        mark
    };
    f.render_widget(
        Paragraph::new(lines.into_iter().map(|(l, _)| l).collect::<Vec<_>>())
            .wrap(Wrap { trim: false })
            .scroll((offset.min(u16::MAX as usize) as u16, 0)),
        body,
    );
    if !mark.is_empty() {
        let w = (Line::raw(mark.as_str()).width() as u16).min(body.width);
        let at = Rect {
            x: body.x + body.width - w,
            y: body.y + body.height,
            width: w,
            height: 1,
        };
        f.render_widget(Paragraph::new(mark), at);
    }
}
