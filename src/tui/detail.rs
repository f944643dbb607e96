//! Detail of the selected row: latency chart (p50 / p95 / p99), error-rate
//! chart with the threshold line, the status-class breakdown and the last
//! error exemplars with their failure class and phase timings.

use super::theme::{Theme, Tint};
use super::view::View;
use crate::app::State;
use crate::app::targets::{Point, Target};
use crate::core::sample::FailureClass;
use crate::core::text::escape;
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::symbols;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};

/// Draws the detail pane: a frame titled with the selected target, holding
/// its latency chart, its error-rate chart and the lines below them (an
/// empty frame when no row is selected).
pub fn draw(f: &mut Frame, area: Rect, s: &State, v: &View, th: Theme) {
    let Some(t) = v.selected_target(s) else {
        f.render_widget(
            Block::default().borders(Borders::ALL).title(" Detail "),
            area,
        );
        return;
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(th.dim())
        .title(format!(" {} ", escape(&t.name)));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Percentage(40),
            Constraint::Percentage(35),
            Constraint::Min(3),
        ])
        .split(inner);
    draw_latency(f, parts[0], t, th);
    draw_error_rate(f, parts[1], t, s, th);
    draw_lines(f, parts[2], t, s, th);
}

/// The time axis of `t`'s history: the first point's time (the origin, in
/// seconds) and the span to the last point (at least 1 s).
fn time_axis(t: &Target) -> (i64, f64) {
    let t0 = t.history.front().map_or(0, |p| p.t);
    let span = t.history.back().map_or(1.0, |p| (p.t - t0).max(1) as f64);
    (t0, span)
}

/// The y-axis labels "0" and `top`, padded to one width so both charts'
/// plots start in the same column.
fn axis_labels(top: String) -> Vec<Line<'static>> {
    vec![
        Line::from(format!("{:>7}", "0")),
        Line::from(format!("{top:>7}")),
    ]
}

/// The latency chart: p50, p95 and p99 in ms over the history.
fn draw_latency(f: &mut Frame, area: Rect, t: &Target, th: Theme) {
    let (t0, span) = time_axis(t);
    let xy = |f: fn(&Point) -> Option<f64>| -> Vec<(f64, f64)> {
        t.history
            .iter()
            .filter_map(|p| f(p).map(|v| ((p.t - t0) as f64, v * 1000.0)))
            .collect()
    };
    let (p50, p95, p99) = (xy(|p| p.p50), xy(|p| p.p95), xy(|p| p.p99));
    let ymax = p99.iter().chain(&p95).map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let lat = Chart::new(vec![
        Dataset::default()
            .name("p50")
            .marker(symbols::Marker::Braille)
            .graph_type(GraphType::Line)
            .style(th.line(Tint::Ok))
            .data(&p50),
        Dataset::default()
            .name("p95")
            .marker(symbols::Marker::Braille)
            .graph_type(GraphType::Line)
            .style(th.line(Tint::Warn))
            .data(&p95),
        Dataset::default()
            .name("p99")
            .marker(symbols::Marker::Braille)
            .graph_type(GraphType::Line)
            .style(th.line(Tint::Bad))
            .data(&p99),
    ])
    .x_axis(Axis::default().bounds([0.0, span]))
    .y_axis(
        Axis::default()
            .bounds([0.0, ymax])
            .labels(axis_labels(format!("{ymax:.0}ms"))),
    )
    .legend_position(Some(ratatui::widgets::LegendPosition::TopLeft));
    f.render_widget(lat, area);
}

/// The error-rate chart: the error percentage over the history, with the
/// configured threshold as a line.
fn draw_error_rate(f: &mut Frame, area: Rect, t: &Target, s: &State, th: Theme) {
    let (t0, span) = time_axis(t);
    let errs: Vec<(f64, f64)> = t
        .history
        .iter()
        .map(|p| ((p.t - t0) as f64, p.err * 100.0))
        .collect();
    let thr = s.settings.error_rate.fraction() * 100.0;
    let line = vec![(0.0, thr), (span, thr)];
    // Headroom above the highest point, never past 100%.
    let emax = (errs.iter().map(|p| p.1).fold(thr * 2.0, f64::max) * 1.1).min(100.0);
    let err = Chart::new(vec![
        Dataset::default()
            .name("error %")
            .marker(symbols::Marker::Braille)
            .graph_type(GraphType::Line)
            .style(th.line(Tint::Bad))
            .data(&errs),
        Dataset::default()
            .name(format!("threshold {thr}%"))
            .marker(symbols::Marker::Dot)
            .graph_type(GraphType::Line)
            .style(th.line(Tint::Dim))
            .data(&line),
    ])
    .x_axis(Axis::default().bounds([0.0, span]))
    .y_axis(
        Axis::default()
            .bounds([0.0, emax])
            .labels(axis_labels(format!("{emax:.0}%"))),
    )
    .legend_position(Some(ratatui::widgets::LegendPosition::TopLeft));
    f.render_widget(err, area);
}

/// The lines under the charts: the failure classes of the last 5 minutes and
/// the last error exemplars (a probed target) or the last scrape's counts (a
/// metrics route), then the detectors firing.
fn draw_lines(f: &mut Frame, area: Rect, t: &Target, s: &State, th: Theme) {
    let mut lines = Vec::new();
    if let Some(w) = t.window() {
        let st = w.stats(std::time::Duration::from_secs(300), s.now);
        let classes: Vec<String> = FailureClass::ALL
            .iter()
            .zip(st.by_class)
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        lines.push(Line::from(format!("classes (5m): {}", classes.join(" · "))));
        for e in w.exemplars().collect::<Vec<_>>().into_iter().rev().take(3) {
            let p = &e.phases;
            let ms = |d: Option<std::time::Duration>| {
                d.map_or("-".into(), |d| format!("{}", d.as_millis()))
            };
            lines.push(Line::styled(
                format!(
                    "{} {} {} dns {} tcp {} tls {} ttfb {} ms {}",
                    e.at.format("%H:%M:%S"),
                    e.class,
                    e.status.map_or("-".into(), |c| c.to_string()),
                    ms(p.dns),
                    ms(p.connect),
                    ms(p.tls),
                    ms(p.ttfb),
                    escape(e.error.as_deref().unwrap_or_default())
                ),
                th.warn(),
            ));
        }
    } else if let Some(v) = t.last_view() {
        lines.push(Line::from(format!(
            "last scrape: {:.0} requests, {:.0} 5xx, {:.0} 4xx",
            v.requests, v.errors_5xx, v.errors_4xx
        )));
    }
    if !t.firing.is_empty() {
        let names: Vec<&str> = t.firing.iter().map(|k| k.as_str()).collect();
        lines.push(Line::styled(
            format!("firing: {}", names.join(", ")),
            th.bad(),
        ));
    }
    f.render_widget(Paragraph::new(lines), area);
}
