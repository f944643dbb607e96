//! A small SVG line chart for the postmortem: one series over time, value
//! axis from 0 with four gridlines, five time labels, and vertical markers
//! (impact started, detected, …, deploys) each with its label. Our own
//! writer: a chart is a polyline, some lines and text, and a plotting crate
//! would cost more build time than the whole module. Every text is escaped
//! for XML; numbers that are not finite are left out. Pure.

use chrono::{DateTime, Utc};
use std::fmt::Write;

/// What the values are, for the axis labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A ratio, shown as a percentage.
    Percent,
    /// Milliseconds.
    Millis,
    /// Requests per second.
    PerSecond,
    /// A duration in seconds.
    Seconds,
}

impl Unit {
    fn label(self, v: f64) -> String {
        match self {
            Unit::Percent => format!("{}%", trim(v * 100.0)),
            Unit::Millis => format!("{} ms", trim(v)),
            Unit::PerSecond => format!("{}/s", trim(v)),
            Unit::Seconds if v >= 3600.0 => format!("{}h", trim(v / 3600.0)),
            Unit::Seconds if v >= 60.0 => format!("{}m", trim(v / 60.0)),
            Unit::Seconds => format!("{}s", trim(v)),
        }
    }
}

/// A number with at most one decimal, and none when it is whole.
fn trim(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// A vertical line at a moment, with a short label.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// When.
    pub at: DateTime<Utc>,
    /// What (`impact started`, `deploy v42`).
    pub label: String,
    /// A change (deploy, flag) rather than a lifecycle stage: drawn dashed.
    pub change: bool,
}

/// One chart's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The title above it.
    pub title: String,
    /// What the values are.
    pub unit: Unit,
    /// (time, value) points, in any order.
    pub points: Vec<(DateTime<Utc>, f64)>,
    /// The markers.
    pub markers: Vec<Marker>,
    /// The time span shown.
    pub from: DateTime<Utc>,
    /// Its end (after `from`).
    pub to: DateTime<Utc>,
    /// How the time axis is labelled (`%H:%M`; `%Y-%m` for months).
    pub time_format: &'static str,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 270.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 70.0;
const BOTTOM: f64 = 32.0;

/// XML text: `&`, `<`, `>`, `"`, `'` escaped, control characters dropped.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if crate::core::text::is_unsafe(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// A value axis top for `max`: 1, 2 or 5 times a power of ten, at least `max`.
fn nice_top(max: f64, unit: Unit) -> f64 {
    let floor = match unit {
        Unit::Percent => 0.01,
        Unit::Millis | Unit::PerSecond | Unit::Seconds => 1.0,
    };
    let max = max.max(floor);
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|t| *t >= max)
        .unwrap_or(10.0 * magnitude)
}

impl Chart {
    /// The chart as a standalone SVG document.
    pub fn svg(&self) -> String {
        let span = (self.to - self.from).num_milliseconds().max(1) as f64;
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let x = |t: DateTime<Utc>| {
            let f = ((t - self.from).num_milliseconds() as f64 / span).clamp(0.0, 1.0);
            LEFT + f * plot_w
        };
        let mut points: Vec<(DateTime<Utc>, f64)> = self
            .points
            .iter()
            .copied()
            .filter(|(_, v)| v.is_finite() && *v >= 0.0)
            .collect();
        points.sort_by_key(|p| p.0);
        let max = points.iter().map(|p| p.1).fold(0.0, f64::max);
        let top = nice_top(max, self.unit);
        let y = |v: f64| TOP + plot_h - (v / top).clamp(0.0, 1.0) * plot_h;
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" font-family=\"sans-serif\" font-size=\"11\">"
        );
        let _ = write!(out, "<title>{}</title>", xml(&self.title));
        let _ = write!(
            out,
            "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>"
        );
        let _ = write!(
            out,
            "<text x=\"{LEFT}\" y=\"16\" font-size=\"13\" font-weight=\"bold\" fill=\"#222222\">{}</text>",
            xml(&self.title)
        );
        // Gridlines and value labels.
        for i in 0..=4 {
            let v = top * f64::from(i) / 4.0;
            let gy = y(v);
            let _ = write!(
                out,
                "<line x1=\"{LEFT}\" y1=\"{gy:.1}\" x2=\"{:.1}\" y2=\"{gy:.1}\" stroke=\"#e4e4e4\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555555\">{}</text>",
                WIDTH - RIGHT,
                LEFT - 6.0,
                gy + 4.0,
                xml(&self.unit.label(v))
            );
        }
        // Time labels.
        for i in 0..=4 {
            let t = self.from + chrono::Duration::milliseconds((span * f64::from(i) / 4.0) as i64);
            let anchor = match i {
                0 => "start",
                4 => "end",
                _ => "middle",
            };
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"#555555\">{}</text>",
                x(t),
                HEIGHT - 12.0,
                t.format(self.time_format)
            );
        }
        // Markers, their labels staggered over four rows so neighbours do not
        // overwrite each other.
        let mut markers: Vec<&Marker> = self
            .markers
            .iter()
            .filter(|m| m.at >= self.from && m.at <= self.to)
            .collect();
        markers.sort_by_key(|m| m.at);
        for (i, m) in markers.iter().enumerate() {
            let mx = x(m.at);
            let (colour, dash) = if m.change {
                ("#7a4fbf", " stroke-dasharray=\"4 3\"")
            } else {
                ("#c0392b", "")
            };
            let row = (i % 4) as f64;
            let ly = TOP - 4.0 - 11.0 * row;
            let anchor = if mx > WIDTH - 140.0 { "end" } else { "start" };
            let _ = write!(
                out,
                "<line x1=\"{mx:.1}\" y1=\"{:.1}\" x2=\"{mx:.1}\" y2=\"{:.1}\" stroke=\"{colour}\"{dash}/><text x=\"{:.1}\" y=\"{ly:.1}\" text-anchor=\"{anchor}\" font-size=\"10\" fill=\"{colour}\">{}</text>",
                ly + 2.0,
                TOP + plot_h,
                mx + if anchor == "end" { -2.0 } else { 2.0 },
                xml(&m.label)
            );
        }
        // The series.
        if !points.is_empty() {
            let line: Vec<String> = points
                .iter()
                .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
                .collect();
            let _ = write!(
                out,
                "<polyline fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"2\" points=\"{}\"/>",
                line.join(" ")
            );
            for (t, v) in &points {
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#1f6feb\"/>",
                    x(*t),
                    y(*v)
                );
            }
        }
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#888888\"/></svg>",
            TOP + plot_h,
            WIDTH - RIGHT,
            TOP + plot_h
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_chart_places_points_and_markers_and_escapes_every_text() {
        let c = Chart {
            title: "errors <on> \"/a\" & \u{1b}[2J".into(),
            unit: Unit::Percent,
            points: vec![
                (t(60), 0.142),
                (t(0), 0.0),
                (t(120), f64::NAN),
                (t(180), 0.01),
            ],
            markers: vec![
                Marker {
                    at: t(30),
                    label: "deploy <v42>".into(),
                    change: true,
                },
                Marker {
                    at: t(9_999),
                    label: "outside".into(),
                    change: false,
                },
            ],
            from: t(0),
            to: t(240),
            time_format: "%H:%M",
        };
        let svg = c.svg();
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"));
        assert!(
            svg.contains("errors &lt;on&gt; &quot;/a&quot; &amp; [2J"),
            "{svg}"
        );
        assert!(!svg.contains('\u{1b}'));
        assert!(
            svg.contains("deploy &lt;v42&gt;") && !svg.contains("outside"),
            "{svg}"
        );
        // 14.2% tops out at 20%; three finite points, the NaN left out.
        assert!(
            svg.contains(">20%</text>") && svg.contains(">5%</text>"),
            "{svg}"
        );
        assert_eq!(svg.matches("<circle").count(), 3);
        // Sorted by time: the first point is at the left edge, at 0.
        assert!(svg.contains("points=\"64.0,238.0 "), "{svg}");
        // Time labels from the span's start (14:13:20 UTC) to its end.
        assert!(
            svg.contains(">14:13</text>") && svg.contains(">14:17</text>"),
            "{svg}"
        );
    }

    #[test]
    fn axis_tops_are_round_and_never_zero() {
        assert_eq!(nice_top(0.0, Unit::Percent), 0.01);
        assert_eq!(nice_top(0.142, Unit::Percent), 0.2);
        assert_eq!(nice_top(310.0, Unit::Millis), 500.0);
        assert_eq!(nice_top(20.0, Unit::PerSecond), 20.0);
        assert_eq!(nice_top(21.0, Unit::PerSecond), 50.0);
    }
}
