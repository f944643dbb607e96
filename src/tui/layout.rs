//! Screen layout. Wide (≥ 120 columns):
//!
//! ```text
//! ┌ header: service · incident · SEV badge · phase · clocks · countdowns · wall time ┐
//! ├──────────────────────────────────────────────┬───────────────────────────────────┤
//! │ endpoints table (probes and metric routes,   │ detail of the selected row:       │
//! │ worst first, sparklines)                     │ latency chart, error chart,       │
//! │                                              │ classes, exemplars                │
//! ├──────────────────────────────────────────────┼───────────────────────────────────┤
//! │ playbook: phase tabs, steps, checks, ledger  │ timeline (newest last)            │
//! ├──────────────────────────────────────────────┴───────────────────────────────────┤
//! │ ALERT banner / message                                                           │
//! │ key hints from the keymap                                                        │
//! └──────────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Narrow (80×24): the same without the detail pane; endpoints on top, the
//! playbook and the timeline side by side below.

use ratatui::layout::{Constraint, Direction, Layout, Rect};

/// Where each pane goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panes {
    /// Header.
    pub header: Rect,
    /// Endpoints table.
    pub endpoints: Rect,
    /// Detail (absent when narrow).
    pub detail: Option<Rect>,
    /// Playbook.
    pub playbook: Rect,
    /// Timeline.
    pub timeline: Rect,
    /// Footer (banner and hints).
    pub footer: Rect,
}

/// Splits `area`.
pub fn split(area: Rect) -> Panes {
    let wide = area.width >= 120;
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(2),
            Constraint::Percentage(if wide { 48 } else { 40 }),
            Constraint::Min(6),
            Constraint::Length(2),
        ])
        .split(area);
    let (endpoints, detail) = if wide {
        let top = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(58), Constraint::Percentage(42)])
            .split(rows[1]);
        (top[0], Some(top[1]))
    } else {
        (rows[1], None)
    };
    let bottom = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([
            Constraint::Percentage(if wide { 58 } else { 55 }),
            Constraint::Min(20),
        ])
        .split(rows[2]);
    Panes {
        header: rows[0],
        endpoints,
        detail,
        playbook: bottom[0],
        timeline: bottom[1],
        footer: rows[3],
    }
}
