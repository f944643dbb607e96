//! The header: service and environment badge (`env: prod`, standing out for
//! production), incident title, severity badge, phase, clocks since impact
//! and detection, per-severity countdowns, wall time. The title gives way
//! (elided with `…`) so the phase and the clock fit the width.

use super::theme::{Theme, is_production};
use crate::app::State;
use crate::core::event::Stage;
use crate::core::incident::Incident;
use crate::core::postmortem::span;
use crate::core::text::escape;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the header: who and what on the first line, clocks and health on the second.
pub fn draw(f: &mut Frame, area: Rect, s: &State, th: Theme) {
    let inc = s
        .incident
        .as_ref()
        .filter(|_| s.incident_open())
        .map(|i| &i.state);
    let width = usize::from(area.width);
    let mut second = Vec::new();
    match inc {
        Some(i) => clocks(&mut second, s, i, th),
        None => second.push(Span::styled(
            format!(
                " timelines: {}",
                crate::core::text::elide_middle(
                    &escape(&s.timeline_dir.display().to_string()),
                    width.saturating_sub(13)
                )
            ),
            th.dim(),
        )),
    }
    health(&mut second, s, th);
    // Too narrow for every name of the team: how many are in.
    let used: usize = second.iter().map(Span::width).sum();
    if used > width
        && let Some(span) = second
            .iter_mut()
            .find(|sp| sp.content.starts_with(" · in: "))
    {
        let people = span.content.split(" · ").filter(|p| !p.is_empty()).count();
        *span = Span::raw(format!(" · {people} in"));
    }
    f.render_widget(
        Paragraph::new(vec![
            Line::from(identity(s, inc, width, th)),
            Line::from(second),
        ]),
        area,
    );
}

/// The first line: service, environment badge, severity, title, phase, wall time.
fn identity<'a>(s: &State, inc: Option<&Incident>, width: usize, th: Theme) -> Vec<Span<'a>> {
    let mut top = vec![Span::styled(
        format!(" {} ", escape(&s.service)),
        th.focus(),
    )];
    if let Some(env) = &s.environment {
        top.push(Span::raw(" "));
        top.push(Span::styled(
            format!(" env: {} ", escape(env)),
            th.environment(is_production(env)),
        ));
    }
    top.push(Span::raw(" "));
    let mut title = None;
    match inc {
        Some(i) => {
            let sev = i.current_severity();
            top.push(Span::styled(
                format!(" {} ", sev.map_or("SEV ?".to_string(), |s| s.to_string())),
                th.severity(sev),
            ));
            title = Some(top.len());
            top.push(Span::raw(format!(" {} ", escape(&i.title))));
            top.push(Span::styled(
                format!(" phase: {} ", i.phase.map_or("detect", |p| p.as_str())),
                th.focus(),
            ));
        }
        None => top.push(Span::styled("no incident open", th.ok())),
    }
    top.push(Span::styled(
        format!("   {} UTC", s.now.format("%H:%M:%S")),
        th.dim(),
    ));
    if let Some(t) = title {
        fit_title(&mut top, t, width);
    }
    top
}

/// The open incident's clocks: since impact and detection, the acknowledgement
/// countdown, the next status update, and events not yet saved.
fn clocks(line: &mut Vec<Span<'_>>, s: &State, i: &Incident, th: Theme) {
    let since = |st: Stage| i.stage(st).map(|t| span(s.now - t));
    if let Some(d) = since(Stage::ImpactStarted) {
        line.push(Span::raw(format!(" impact {d} ago")));
    }
    if let Some(d) = since(Stage::Detected) {
        line.push(Span::raw(format!(" · detected {d} ago")));
    }
    let sev = i.current_severity();
    let guidance = s
        .playbook()
        .zip(sev)
        .and_then(|(p, sv)| p.severity.get(&sv));
    ack_clock(line, s, i, guidance.and_then(|g| g.ack_within), th);
    let last_update = i.comms.last().map(|c| c.at).or(i.opened);
    if let (Some(every), Some(l)) = (guidance.and_then(|g| g.update_every), last_update) {
        let left = chrono::Duration::from_std(every.get()).unwrap_or_default() - (s.now - l);
        line.push(if left.num_seconds() < 0 {
            Span::styled(
                format!(" · update overdue by {} (u)", span(-left)),
                th.bad(),
            )
        } else {
            Span::styled(format!(" · next update in {}", span(left)), th.dim())
        });
    }
    if s.unsaved > 0 {
        line.push(Span::styled(
            format!(" · {} NOT SAVED", s.unsaved),
            th.bad(),
        ));
    }
}

/// Acknowledged how long ago, or the countdown to the severity's `ack_within`.
/// Until a severity is set, the clock runs at the most urgent level's pace
/// (assume the worst), and says so.
fn ack_clock(
    line: &mut Vec<Span<'_>>,
    s: &State,
    i: &Incident,
    ack_within: Option<crate::core::units::HumanDuration>,
    th: Theme,
) {
    let (ack_within, assumed) = match ack_within {
        Some(a) => (Some(a), ""),
        None if i.current_severity().is_none() => (
            s.playbook().and_then(|p| {
                crate::core::event::Severity::ALL
                    .iter()
                    .find_map(|sv| p.severity.get(sv).and_then(|g| g.ack_within))
            }),
            ", at SEV-1 pace",
        ),
        None => (None, ""),
    };
    match (
        i.stage(Stage::Acknowledged),
        ack_within,
        i.stage(Stage::Detected),
    ) {
        (Some(a), ..) => line.push(Span::raw(format!(" · acked {} ago", span(s.now - a)))),
        (None, Some(ack), Some(d)) => {
            let left = chrono::Duration::from_std(ack.get()).unwrap_or_default() - (s.now - d);
            line.push(if left.num_seconds() < 0 {
                Span::styled(
                    format!(" · ack overdue by {} (A{assumed})", span(-left)),
                    th.bad(),
                )
            } else {
                Span::styled(
                    format!(" · ack due in {} (A{assumed})", span(left)),
                    th.warn(),
                )
            });
        }
        (None, ..) if i.is_open() => {
            line.push(Span::styled(" · not acknowledged (A)", th.warn()));
        }
        _ => {}
    }
}

/// What is wrong with ic itself: errors background work reported, sources down.
fn health(line: &mut Vec<Span<'_>>, s: &State, th: Theme) {
    let errors = s.errors.len() + s.errors_dropped;
    if !s.errors.is_empty() {
        line.push(Span::styled(
            format!(
                " · {errors} error{} (E)",
                if errors == 1 { "" } else { "s" }
            ),
            th.bad(),
        ));
    }
    let silences = crate::app::silences::in_force(s);
    if let Some(first) = silences.first() {
        let held = s.held.len();
        let text = if silences.len() == 1 {
            format!(
                " · silence {} on {} until {}",
                first.id,
                match &first.matcher {
                    crate::core::silence::Matcher::All => "every target".into(),
                    m => escape(m.text()),
                },
                if first.ends.date_naive() == s.now.date_naive() {
                    first.ends.format("%H:%M").to_string()
                } else {
                    first.ends.format("%Y-%m-%d %H:%M").to_string()
                }
            )
        } else {
            format!(" · {} silences", silences.len())
        };
        let held = if held > 0 {
            format!(" ({held} held)")
        } else {
            String::new()
        };
        line.push(Span::styled(format!("{text}{held}"), th.warn()));
    }
    if s.overdue_actions > 0 {
        line.push(Span::styled(
            format!(
                " · {} overdue action item{} (ic actions)",
                s.overdue_actions,
                if s.overdue_actions == 1 { "" } else { "s" }
            ),
            th.warn(),
        ));
    }
    if let Some(team) = &s.team {
        let incident = s
            .incident
            .as_ref()
            .and_then(|i| i.state.id.as_ref())
            .map(|id| id.as_str());
        let roles: Vec<(String, String)> = s
            .incident
            .iter()
            .flat_map(|i| i.state.roles.iter().map(|(r, p)| (r.clone(), p.clone())))
            .collect();
        let who = crate::core::team::who(&s.present, incident, &roles, s.now);
        if team.online && team.unsent == 0 && !who.is_empty() {
            line.push(Span::raw(format!(" · in: {}", escape(&who))));
        } else if team.online {
            line.push(Span::raw(format!(" · {}", team.line())));
        } else {
            line.push(Span::styled(format!(" · {}", team.line()), th.warn()));
        }
        // A teammate's command runs on their machine; here it is only shown.
        if let Some(c) = s.incident.as_ref().and_then(|i| {
            i.state
                .commands
                .iter()
                .rev()
                .find(|c| c.unfinished() && c.actor != s.actor)
        }) {
            let first = c.command.lines().next().unwrap_or_default();
            let short: String = first.chars().take(40).collect();
            let more = if short.len() < first.len() { "…" } else { "" };
            line.push(Span::styled(
                format!(
                    " · {} is running `{}{more}`",
                    escape(&c.actor),
                    escape(&short)
                ),
                th.warn(),
            ));
        }
    }
    for (name, why) in &s.sources_down {
        line.push(Span::styled(
            format!(" · {} down: {}", escape(name), escape(why)),
            th.bad(),
        ));
    }
}

/// Shortens the title span `top[title]` (elided with `…`, at least
/// [`MIN_TITLE`] characters kept) so that the whole line fits `width` columns.
fn fit_title(top: &mut [Span<'_>], title: usize, width: usize) {
    let total: usize = top.iter().map(Span::width).sum();
    if total <= width {
        return;
    }
    let room = top[title].width().saturating_sub(total - width);
    let text = top[title].content.trim().to_string();
    let mut short = String::new();
    for c in text.chars() {
        let next = format!(" {short}{c}… ");
        if short.chars().count() >= MIN_TITLE && Span::raw(next.as_str()).width() > room {
            break;
        }
        short.push(c);
    }
    if short.chars().count() < text.chars().count() {
        top[title] = Span::raw(format!(" {}… ", short.trim_end()));
    }
}

/// The fewest characters of a title kept when it gives way.
const MIN_TITLE: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    fn width(spans: &[Span<'_>]) -> usize {
        spans.iter().map(Span::width).sum()
    }

    #[test]
    fn a_long_title_gives_way_to_the_phase_and_the_clock() {
        let mut top = vec![
            Span::raw(" shop "),
            Span::raw(" env: prod "),
            Span::raw(" error_rate on shop /api/payments/very/long/route "),
            Span::raw(" phase: detect "),
            Span::raw("   03:02:01 UTC"),
        ];
        fit_title(&mut top, 2, 80);
        assert!(width(&top) <= 80, "{top:?}");
        assert!(top[2].content.ends_with("… "), "{top:?}");
        assert!(top[2].content.starts_with(" error_rate on shop"), "{top:?}");
        // A line that fits is left alone.
        let before = top.clone();
        fit_title(&mut top, 2, 160);
        assert_eq!(top, before);
    }
}
