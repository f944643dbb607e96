//! The playbook pane: phase tabs, the matched playbook's steps with
//! checkboxes, live verify results, commands, the auto-answered triage facts
//! and the hypothesis ledger.

use super::theme::Theme;
use super::view::{Pane, View};
use crate::app::{State, ledger_lines};
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
    let mut lines = Vec::new();
    let current = s.incident.as_ref().and_then(|i| i.state.phase);
    let tabs: Vec<Span> = Phase::ALL
        .iter()
        .flat_map(|p| {
            let label = format!(
                " {}{} ",
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
        .collect();
    lines.push(Line::from(tabs));
    for (i, step) in v.visible_steps(s).iter().enumerate() {
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
        lines.push(Line::from(spans).style(style));
        if let Some(out) = s.outputs.get(&step.id) {
            for (n, l) in out.lines().take(3).enumerate() {
                let prefix = if n == 0 { "    $ " } else { "      " };
                lines.push(Line::styled(
                    format!("{prefix}{}", crate::core::text::escape(l)),
                    th.dim(),
                ));
            }
        }
        if let Some((_, Some(v))) = s.checks.get(&step.id) {
            let (mark, st) = match v.passed {
                Some(true) => ("✔", th.ok()),
                Some(false) => ("✘", th.bad()),
                None => ("…", th.dim()),
            };
            lines.push(Line::from(vec![
                Span::raw("    "),
                Span::styled(format!("{mark} {}", v.text), st),
            ]));
        }
    }
    if v.phase_tab == Phase::Triage {
        lines.push(Line::styled("triage, from the data:", th.dim()));
        for fact in triage_facts(s) {
            lines.push(Line::from(format!("  · {fact}")));
        }
    }
    let ledger = ledger_lines(s);
    if !ledger.is_empty() {
        lines.push(Line::styled("hypotheses:", th.dim()));
        lines.extend(
            ledger
                .into_iter()
                .map(|l| Line::from(format!("  {}", crate::core::text::escape(&l)))),
        );
    }
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// The triage questions answered from the data.
pub fn triage_facts(s: &State) -> Vec<String> {
    let firing: Vec<&crate::app::targets::Target> =
        s.targets.iter().filter(|t| !t.firing.is_empty()).collect();
    let mut out = vec![format!(
        "which endpoints: {}",
        if firing.is_empty() {
            "none firing now".to_string()
        } else {
            firing
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    )];
    for t in &firing {
        let r = t.row(s.now);
        let recent: Vec<f64> = t.history.iter().rev().take(6).map(|p| p.err).collect();
        let older: Vec<f64> = t
            .history
            .iter()
            .rev()
            .skip(6)
            .take(6)
            .map(|p| p.err)
            .collect();
        let avg = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        let trend = if avg(&recent) > avg(&older) * 1.2 {
            "getting worse"
        } else if avg(&recent) < avg(&older) * 0.8 {
            "improving"
        } else {
            "stable"
        };
        out.push(format!("{}: {:.1}% errors, {trend}", t.name, r.err * 100.0));
    }
    if let Some(i) = s.incident.as_ref()
        && let Some(start) = i.state.stage(crate::core::event::Stage::ImpactStarted)
    {
        out.push(format!("since: {}", start.format("%H:%M:%S UTC")));
        let around: Vec<String> = i
            .state
            .changes
            .iter()
            .filter(|c| (c.at - start).num_minutes().abs() <= 60)
            .map(|c| format!("{} ({})", c.text, c.at.format("%H:%M")))
            .collect();
        out.push(format!(
            "changes within an hour: {}",
            if around.is_empty() {
                "none recorded".to_string()
            } else {
                around.join(", ")
            }
        ));
    }
    out
}
