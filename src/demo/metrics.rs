//! The demo API's own metrics and their exposition: Prometheus text 0.0.4, or
//! OpenMetrics 1.0 when the scraper asks for it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds (the client libraries' default set).
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const BUCKET_LABELS: [&str; 11] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0",
];

/// Content type of Prometheus text 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics 1.0 text.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which exposition format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// Picks the format from an `Accept` header.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }
    /// The matching `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// Cumulative latency histogram of one route.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Non-cumulative counts per bucket of [`BUCKETS`].
    pub buckets: [u64; 11],
    /// Observations, including those above the last bound.
    pub count: u64,
    /// Sum of observed seconds.
    pub sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Requests by (route, method, status).
    pub requests: BTreeMap<(&'static str, &'static str, u16), u64>,
    /// Latency histograms by route.
    pub durations: BTreeMap<&'static str, Histogram>,
    /// Requests being served right now (including hung ones).
    pub in_flight: u64,
}

/// Thread-safe store of the demo's request metrics.
#[derive(Debug)]
pub struct Registry {
    inner: Mutex<Snapshot>,
    /// Start time, seconds since the Unix epoch.
    started: f64,
}

impl Registry {
    /// A registry with an empty histogram for each route, so every series exists from the start.
    pub fn new(routes: &[&'static str]) -> Self {
        let mut snap = Snapshot::default();
        for r in routes {
            snap.durations.insert(r, Histogram::default());
        }
        Registry {
            inner: Mutex::new(snap),
            started: crate::clock::now().timestamp_millis() as f64 / 1000.0,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Snapshot) -> T) -> T {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Counts a finished request.
    pub fn record(
        &self,
        route: &'static str,
        method: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        self.with(|s| {
            *s.requests.entry((route, method, status)).or_default() += 1;
            s.durations
                .entry(route)
                .or_default()
                .observe(elapsed.as_secs_f64());
        });
    }

    /// Marks a request as started (`+1`) or finished (`-1`).
    pub fn in_flight(&self, delta: i64) {
        self.with(|s| s.in_flight = s.in_flight.saturating_add_signed(delta));
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> Snapshot {
        self.with(|s| s.clone())
    }

    /// The exposition in `format`.
    pub fn render(&self, format: Format) -> String {
        let snap = self.snapshot();
        let om = format == Format::OpenMetrics;
        let mut out = String::with_capacity(16 * 1024);

        family(
            &mut out,
            om,
            "http_requests",
            "counter",
            None,
            "Requests handled, by route, method and status.",
        );
        for ((route, method, status), n) in &snap.requests {
            let _ = writeln!(
                out,
                "http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                escape(route),
                escape(method)
            );
        }

        family(
            &mut out,
            om,
            "http_request_duration_seconds",
            "histogram",
            Some("seconds"),
            "Time from request to response, by route.",
        );
        for (route, h) in &snap.durations {
            let route = escape(route);
            let mut cumulative = 0;
            for (label, n) in BUCKET_LABELS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{label}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
        }

        family(
            &mut out,
            om,
            "demo_requests_in_flight",
            "gauge",
            None,
            "Requests being served now, hung ones included.",
        );
        let _ = writeln!(out, "demo_requests_in_flight {}", snap.in_flight);

        self.render_process(&mut out, om);
        if om {
            out.push_str("# EOF\n");
        }
        out
    }

    fn render_process(&self, out: &mut String, om: bool) {
        let start = self.started;
        family(
            out,
            om,
            "process_start_time_seconds",
            "gauge",
            Some("seconds"),
            "Start time of the process since the Unix epoch.",
        );
        let _ = writeln!(out, "process_start_time_seconds {start}");
        if let Some(cpu) = process::cpu_seconds() {
            family(
                out,
                om,
                "process_cpu_seconds",
                "counter",
                Some("seconds"),
                "User and system CPU time spent.",
            );
            let _ = writeln!(out, "process_cpu_seconds_total {cpu}");
        }
        if let Some(rss) = process::resident_bytes() {
            family(
                out,
                om,
                "process_resident_memory_bytes",
                "gauge",
                Some("bytes"),
                "Resident memory size.",
            );
            let _ = writeln!(out, "process_resident_memory_bytes {rss}");
        }
        if let Some(fds) = process::open_fds() {
            family(
                out,
                om,
                "process_open_fds",
                "gauge",
                None,
                "Open file descriptors.",
            );
            let _ = writeln!(out, "process_open_fds {fds}");
        }
    }
}

/// Writes the HELP / TYPE (/ UNIT) header of a family. In the 0.0.4 text format a
/// counter's family carries its `_total` name; in OpenMetrics it does not.
fn family(out: &mut String, om: bool, name: &str, kind: &str, unit: Option<&str>, help: &str) {
    let name = if kind == "counter" && !om {
        format!("{name}_total")
    } else {
        name.to_string()
    };
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    if let (true, Some(u)) = (om, unit) {
        let _ = writeln!(out, "# UNIT {name} {u}");
    }
}

/// Escapes a label value: backslash, double quote and newline.
pub fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Process figures read from `/proc/self` (Linux); `None` elsewhere.
pub mod process {
    /// User + system CPU seconds of this process.
    pub fn cpu_seconds() -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which is in parentheses and may contain spaces).
        let rest = stat.get(stat.rfind(')')? + 2..)?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = f.get(11)?.parse().ok()?;
        let stime: f64 = f.get(12)?.parse().ok()?;
        // USER_HZ is 100 on every mainstream Linux architecture.
        Some((utime + stime) / 100.0)
    }

    /// Resident set size in bytes.
    pub fn resident_bytes() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// Number of open file descriptors.
    pub fn open_fds() -> Option<usize> {
        Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_openmetrics_differ_where_the_formats_do() {
        let reg = Registry::new(&["/a"]);
        reg.record("/a", "GET", 200, Duration::from_millis(30));
        reg.record("/a", "GET", 500, Duration::from_millis(700));
        let text = reg.render(Format::Text);
        assert!(text.contains("# TYPE http_requests_total counter"));
        assert!(text.contains("http_requests_total{route=\"/a\",method=\"GET\",status=\"500\"} 1"));
        assert!(text.contains("http_request_duration_seconds_bucket{route=\"/a\",le=\"0.05\"} 1"));
        assert!(text.contains("http_request_duration_seconds_bucket{route=\"/a\",le=\"1.0\"} 2"));
        assert!(text.contains("http_request_duration_seconds_count{route=\"/a\"} 2"));
        assert!(!text.contains("# EOF"));
        let om = reg.render(Format::OpenMetrics);
        assert!(om.contains("# TYPE http_requests counter"));
        assert!(om.contains("# UNIT http_request_duration_seconds seconds"));
        assert!(om.ends_with("# EOF\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn accept_header_picks_the_format() {
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(
            Format::negotiate(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
            )),
            Format::OpenMetrics
        );
    }
}
