//! Overlays drawn over the panes: help (from the keymap), the errors list, the severity picker
//! with the SEV-1..4 guidance table, line input, y/n questions and the
//! command dialog (laid out by `app::confirm`).

use super::confirm::{self, Dialog, Tone};
use super::editor::Editor;
use super::keymap;
use super::theme::Theme;
use super::view::{Confirm, Mode, View};
use crate::app::{State, triage};
use crate::core::event::Severity;
use crate::core::grammar;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
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
pub fn draw(f: &mut Frame, area: Rect, s: &State, v: &View, th: Theme) {
    match &v.mode {
        Mode::Normal => {}
        Mode::Help(filter) => draw_help(f, area, filter, th),
        Mode::Palette(query, cursor) => draw_palette(f, area, s, query, *cursor, th),
        Mode::Triage => draw_triage(f, area, s, th),
        Mode::Event(i) => draw_event(f, area, s, *i, th),
        Mode::Errors => draw_errors(f, area, s, th),
        Mode::Severity(cur) => draw_severity(f, area, s, *cur, th),
        Mode::Incidents(cur) => draw_incidents(f, area, s, *cur, th),
        Mode::Input(editor) => draw_input(f, area, s, editor, th),
        Mode::Confirm(Confirm::Run(d)) => draw_run(f, area, v, d, th),
        Mode::Confirm(what) => draw_question(f, area, s, what, th),
    }
}

/// The help overlay, from the keymap table, filtered by what was typed.
fn draw_help(f: &mut Frame, area: Rect, filter: &str, th: Theme) {
    let found = keymap::help_lines(filter);
    let mut lines: Vec<Line> = vec![Line::from(vec![
        Span::styled("filter: ", th.dim()),
        Span::raw(crate::core::text::escape(filter).into_owned()),
        Span::styled("█", th.dim()),
    ])];
    if found.is_empty() {
        lines.push(Line::styled("no key matches: Backspace widens", th.warn()));
    }
    let room = usize::from(area.height.saturating_sub(6));
    let hidden = found.len().saturating_sub(room);
    lines.extend(found.into_iter().take(room).map(|(k, what)| {
        Line::from(vec![
            Span::styled(format!("{k:>10}  "), th.focus()),
            Span::raw(what),
        ])
    }));
    if hidden > 0 {
        lines.push(Line::styled(
            format!("{hidden} more: type to filter"),
            th.dim(),
        ));
    }
    lines.push(Line::styled(
        "type to filter · : runs any action · Esc closes",
        th.dim(),
    ));
    let r = centered(area, 64, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Help ")),
        r,
    );
}

/// The command palette: the query, then every action matching it, with its
/// keys and what it does; the highlighted one runs on Enter.
fn draw_palette(f: &mut Frame, area: Rect, s: &State, query: &str, cursor: usize, th: Theme) {
    let entries = keymap::palette(query);
    let width = area.width.saturating_sub(4).min(100);
    let rows = usize::from(area.height.saturating_sub(6)).max(1);
    let cursor = cursor.min(entries.len().saturating_sub(1));
    let first = cursor.saturating_sub(rows - 1);
    let mut lines = vec![Line::from(vec![
        Span::styled(": ", th.focus()),
        Span::raw(crate::core::text::escape(query).into_owned()),
        Span::styled("█", th.dim()),
    ])];
    if entries.is_empty() {
        lines.push(Line::styled(
            "no action matches: Backspace widens",
            th.warn(),
        ));
    }
    for (i, e) in entries.iter().enumerate().skip(first).take(rows) {
        let off = match e.when {
            keymap::When::Always => false,
            keymap::When::Incident => !s.incident_open(),
            keymap::When::Timeline => !s.incident_open() && s.timeline_path.is_none(),
        };
        let style = if i == cursor {
            th.selected()
        } else if off {
            th.dim()
        } else {
            th.text()
        };
        let about = if off {
            format!("{} (needs an open incident)", e.about)
        } else {
            e.about.to_string()
        };
        lines.push(
            Line::from(vec![
                Span::styled(
                    format!("{:<28}", e.name),
                    style.add_modifier(Modifier::BOLD),
                ),
                Span::styled(format!("{:<10} ", e.keys), th.focus()),
                Span::styled(about, style),
            ])
            .style(style),
        );
    }
    let below = entries.len().saturating_sub(first + rows);
    lines.push(Line::styled(
        format!(
            "↑↓ pick · Enter runs · Esc closes{}",
            if below > 0 {
                format!(" · {below} more ↓")
            } else {
                String::new()
            }
        ),
        th.dim(),
    ));
    let r = centered(area, width, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(th.focus())
                .title(" Command palette "),
        ),
        r,
    );
}

/// The triage summary: the five questions answered from the data.
fn draw_triage(f: &mut Frame, area: Rect, s: &State, th: Theme) {
    let summary = triage::summary(s);
    let mut lines = Vec::new();
    for a in &summary.answers {
        lines.push(Line::from(vec![
            Span::styled(format!("{:>15}  ", a.question), th.focus()),
            Span::raw(crate::core::text::escape(&a.answer).into_owned()),
        ]));
    }
    if !summary.exemplars.is_empty() {
        lines.push(Line::styled("    last errors", th.focus()));
        for e in &summary.exemplars {
            lines.push(Line::styled(
                format!("                 {}", crate::core::text::escape(e)),
                th.warn(),
            ));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::styled(
        "recorded in the timeline · u sends it as a status update · Esc closes · other keys close it and act",
        th.dim(),
    ));
    let width = area.width.saturating_sub(4).min(120);
    let body = Paragraph::new(lines).wrap(Wrap { trim: false });
    let rows = body.line_count(width.saturating_sub(2)) as u16 + 2;
    let r = centered(area, width, rows.min(area.height.saturating_sub(2)));
    f.render_widget(Clear, r);
    f.render_widget(
        body.block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(th.focus())
                .title(format!(
                    " Triage summary at {} UTC ",
                    summary.at.format("%H:%M:%S")
                )),
        ),
        r,
    );
}

/// One timeline event in full: when, who, what, and its data.
fn draw_event(f: &mut Frame, area: Rect, s: &State, index: usize, th: Theme) {
    let Some(e) = s.incident.as_ref().and_then(|i| i.events.get(index)) else {
        return;
    };
    let esc = |t: &str| crate::core::text::escape(t).into_owned();
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                e.ts.format("%Y-%m-%d %H:%M:%S%.3f UTC  ").to_string(),
                th.dim(),
            ),
            Span::styled(e.kind.as_str().to_string(), th.kind(e.kind)),
            Span::styled(format!("  by {}", esc(&e.actor)), th.dim()),
        ]),
        Line::from(""),
    ];
    lines.extend(e.msg.split('\n').map(|l| Line::raw(esc(l))));
    if !e.data.is_null() && e.data != serde_json::json!({}) {
        lines.push(Line::from(""));
        let data = serde_json::to_string_pretty(&e.data).unwrap_or_default();
        lines.extend(data.lines().map(|l| Line::styled(esc(l), th.dim())));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled(
        format!(
            "event {} · {} · any key closes",
            e.seq,
            e.id.as_ref().map_or_else(
                || "no id (an older line)".to_string(),
                |i| format!("id {}", esc(&i.to_string()))
            )
        ),
        th.dim(),
    ));
    let width = area.width.saturating_sub(4).min(110);
    let r = centered(
        area,
        width,
        (lines.len() as u16 + 2).min(area.height.saturating_sub(2)),
    );
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Timeline event "),
        ),
        r,
    );
}

/// The errors background work reported, newest first.
fn draw_errors(f: &mut Frame, area: Rect, s: &State, th: Theme) {
    let mut lines: Vec<Line> = if s.errors.is_empty() {
        vec![Line::styled("no errors so far", th.ok())]
    } else {
        s.errors
            .iter()
            .rev()
            .map(|(at, why)| {
                Line::from(vec![
                    Span::styled(format!("{} ", at.format("%H:%M:%S")), th.dim()),
                    Span::styled(crate::core::text::escape(why).into_owned(), th.bad()),
                ])
            })
            .collect()
    };
    if s.errors_dropped > 0 {
        lines.push(Line::styled(
            format!("… and {} older ones (see the log file)", s.errors_dropped),
            th.dim(),
        ));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled(
        "newest first · details in the log file · any key closes",
        th.dim(),
    ));
    let r = centered(area, 100, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::default().borders(Borders::ALL).title(" Errors ")),
        r,
    );
}

/// The severity picker, with what each level means in the playbook in use.
fn draw_severity(f: &mut Frame, area: Rect, s: &State, cur: usize, th: Theme) {
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
        let style = if i == cur { th.selected() } else { th.text() };
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

/// The open incidents (the team's are copied into the timeline directory),
/// newest first: the one on screen marked, Enter switches.
fn draw_incidents(f: &mut Frame, area: Rect, s: &State, cur: usize, th: Theme) {
    let mut lines = Vec::new();
    // The window of rows follows the cursor.
    let fits = usize::from(area.height.saturating_sub(4)).max(1);
    let first = cur.saturating_sub(fits - 1);
    for (i, row) in s.incident_list.iter().enumerate().skip(first).take(fits) {
        let here = s.timeline_path.as_deref() == Some(row.path.as_path());
        let style = if i == cur { th.selected() } else { th.text() };
        let age = row.opened.map_or("?".to_string(), |o| {
            crate::core::units::format_duration((s.now - o).to_std().unwrap_or_default())
        });
        lines.push(Line::from(vec![
            Span::styled(format!(" {} ", if here { "▶" } else { " " }), th.dim()),
            Span::styled(
                format!(" {} ", row.severity.map_or("SEV-?", |v| v.as_str())),
                th.severity(row.severity),
            ),
            Span::styled(
                format!(
                    " {}  {}  lead {}  open {age}",
                    crate::core::text::escape(&row.short_id),
                    crate::core::text::escape(&row.title),
                    row.lead
                        .as_deref()
                        .map_or("-".into(), crate::core::text::escape),
                ),
                style,
            ),
        ]));
    }
    lines.push(Line::styled(
        "↑↓ choose, Enter switches (▶ is the one on screen), Esc cancels",
        th.dim(),
    ));
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let r = centered(area, 100, height);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Open incidents "),
        ),
        r,
    );
}

/// The entry being typed, with its prompt, what the grammar makes of it, and
/// the keys. The editor keeps its cursor on screen; the box grows with the
/// entry up to a few lines.
fn draw_input(f: &mut Frame, area: Rect, s: &State, editor: &Editor, th: Theme) {
    let width = area.width.saturating_sub(4);
    let inner = width.saturating_sub(2).max(1);
    let wrapped: usize = editor
        .text()
        .split('\n')
        .map(|l| Line::raw(l).width() / usize::from(inner) + 1)
        .sum();
    let most = if editor.multiline() {
        (area.height / 3).max(3)
    } else {
        3
    };
    let rows = (wrapped as u16).clamp(1, most);
    // What the grammar makes of the entry, on as many rows as it takes (up to 3).
    let verdict = match grammar::parse(editor.kind, &editor.text(), crate::clock::local_date(s.now))
    {
        Ok(cmd) => Line::styled(
            format!("✔ {}", crate::core::text::escape(&cmd.understood())),
            th.ok(),
        ),
        Err(e) if editor.text().trim().is_empty() => Line::styled(e.to_string(), th.dim()),
        Err(e) => Line::styled(format!("✘ {e}"), th.bad()),
    };
    let verdict = Paragraph::new(verdict).wrap(Wrap { trim: false });
    let verdict_rows = (verdict.line_count(inner) as u16).clamp(1, 3);
    let r = centered(area, width, rows + verdict_rows + 3);
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", editor.kind.prompt()));
    let body = block.inner(r);
    f.render_widget(block, r);
    let text = Rect {
        height: body.height.saturating_sub(verdict_rows + 1),
        ..body
    };
    f.render_widget(editor.area(), text);
    let keys = if editor.multiline() {
        "Enter saves · Alt-Enter new line · ↑↓ history · Ctrl-A/E/W/U/K · Esc cancels"
    } else {
        "Enter saves · ↑↓ history · Ctrl-A/E/W/U/K Alt-B/F · Esc cancels"
    };
    let below = Rect {
        y: text.y + text.height,
        height: verdict_rows.min(body.height.saturating_sub(text.height)),
        ..body
    };
    f.render_widget(verdict, below);
    let hint = Rect {
        y: below.y + below.height,
        height: body.height.saturating_sub(text.height + below.height),
        ..body
    };
    f.render_widget(Paragraph::new(Line::styled(keys, th.dim())), hint);
}

/// A y/n question (quit, the stale incident).
fn draw_question(f: &mut Frame, area: Rect, s: &State, what: &Confirm, th: Theme) {
    let q = match what {
        Confirm::QuitWhileRunning => format!(
            "A command is running (step “{}”). Quit? It will be stopped — its whole process group ended — and how it ended recorded. (y/n)",
            s.running
                .as_deref()
                .map_or("?".to_string(), |id| s.step_title(id))
        ),
        Confirm::QuitUnsaved => format!(
            "{} event(s) are NOT SAVED (the timeline cannot be written). Quit anyway? They are printed as JSON lines when ic exits, not written. (y/n)",
            s.unsaved
        ),
        Confirm::Stale => match &s.stale {
            Some((path, last)) => format!(
                "An incident is still open in {} but nothing has happened in it since {}. r resumes it · c closes it · any other key leaves it (new signals then open a new incident)",
                path.display(),
                last.format("%Y-%m-%d %H:%M UTC")
            ),
            None => "The stale incident is gone. (any key)".to_string(),
        },
        _ => "An incident is open. Quit? It stays open and resumes next time. (y/n)".to_string(),
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

/// The command dialog: the summary, the body rows on screen, and what the keys do now.
fn draw_run(f: &mut Frame, area: Rect, v: &View, d: &Dialog, th: Theme) {
    let rows = d.rows(v.size);
    let ((x, y, w, h), page) = confirm::geometry(v.size, rows.len());
    let r = Rect {
        x: area.x + x,
        y: area.y + y,
        width: w,
        height: h,
    }
    .intersection(area);
    let style = |tone: Tone| match tone {
        Tone::Text => th.text(),
        Tone::Dim => th.dim(),
        Tone::Escape => th.warn().add_modifier(Modifier::REVERSED),
        Tone::Warn => th.bad(),
    };
    let mut lines = vec![Line::styled(
        d.summary(),
        th.text().add_modifier(Modifier::BOLD),
    )];
    lines.extend(rows.iter().skip(d.scroll).take(page).map(|row| {
        Line::from(
            row.iter()
                .map(|(t, tone)| Span::styled(t.clone(), style(*tone)))
                .collect::<Vec<_>>(),
        )
    }));
    while lines.len() < page + 1 {
        lines.push(Line::from(""));
    }
    let below = rows.len().saturating_sub(d.scroll + page);
    let keys = if let Some(n) = &d.notice {
        Line::styled(n.clone(), th.bad())
    } else if page == 0 {
        Line::styled(
            "too small to show the command: enlarge the terminal",
            th.bad(),
        )
    } else if d.refused.is_some() {
        Line::styled("cannot run (see ✘ above) · n or Esc closes", th.bad())
    } else if d.may_run() {
        Line::styled(
            format!(
                "y runs it · n or Esc cancels · ↑↓ PgUp PgDn scroll{}",
                if below > 0 {
                    format!(" · {below} more ↓")
                } else {
                    String::new()
                }
            ),
            th.warn(),
        )
    } else {
        let (above, below) = d.unseen_around(v.size);
        let text = if above > 0 && below == 0 {
            format!("↑ {above} row(s) above not shown yet (↑ PgUp), then y · n or Esc cancels")
        } else {
            format!(
                "↓ {} more row(s): read to the end (↓ PgDn Space), then y · n or Esc cancels",
                d.unseen()
            )
        };
        Line::styled(text, th.warn())
    };
    lines.push(keys);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(th.warn())
                .title(format!(
                    " Confirm · rows {}–{} of {} ",
                    (d.scroll + 1).min(rows.len()),
                    (d.scroll + page).min(rows.len()),
                    rows.len()
                )),
        ),
        r,
    );
}
