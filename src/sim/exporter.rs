//! The simulated service's `/metrics` (a scenario's `scrape:`): cumulative
//! request counters by route and status class, and a latency histogram per
//! route, rendered as Prometheus text exposition for `ic` to read through the
//! same parser and deltas as `ic watch`. As client libraries do, a series
//! exists from its first count (a route's first request, its first 5xx), and
//! a restart drops every series and starts the process's clock again.

use super::world::{BUCKETS, RouteSecond, bucket_bound};
use std::fmt::Write;

/// The statuses a route's requests are counted under: one per class.
const OK: &str = "200";
const SERVER_ERROR: &str = "500";
const CLIENT_ERROR: &str = "400";

/// One route's counters since the exporter started.
#[derive(Debug, Clone)]
struct RouteCounters {
    ok: u64,
    server_errors: u64,
    client_errors: u64,
    /// Cumulative: answers at or under each bucket's bound.
    buckets: [u64; BUCKETS],
}

impl Default for RouteCounters {
    fn default() -> Self {
        RouteCounters {
            ok: 0,
            server_errors: 0,
            client_errors: 0,
            buckets: [0; BUCKETS],
        }
    }
}

/// The exporter of the simulated routes.
#[derive(Debug, Clone)]
pub struct Exporter {
    /// The routes as label values, escaped.
    labels: Vec<String>,
    counters: Vec<RouteCounters>,
    /// `process_start_time_seconds`.
    started: i64,
    text: String,
}

impl Exporter {
    /// An exporter over `routes`, started at Unix second `started`.
    pub fn new(routes: &[String], started: i64) -> Self {
        Exporter {
            labels: routes
                .iter()
                .map(|r| {
                    r.replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n")
                })
                .collect(),
            counters: vec![RouteCounters::default(); routes.len()],
            started,
            text: String::new(),
        }
    }

    /// Counts Unix second `unix` of every route (a restart that second first
    /// zeroes everything).
    pub fn second(&mut self, unix: i64, seconds: &[RouteSecond]) {
        if seconds.iter().any(|r| r.restarted) {
            self.counters.fill(RouteCounters::default());
            self.started = unix;
        }
        for (c, r) in self.counters.iter_mut().zip(seconds) {
            let failed = r.errors + r.client_errors;
            c.ok += r.total.saturating_sub(failed);
            c.server_errors += r.errors;
            c.client_errors += r.client_errors;
            let mut below = 0;
            for (b, n) in c.buckets.iter_mut().zip(r.buckets) {
                below += n;
                *b += below;
            }
        }
    }

    /// The exposition as a scrape reads it now (route label values escaped as
    /// the text format wants: `\\`, `\"`, `\n`).
    pub fn render(&mut self) -> &str {
        let text = &mut self.text;
        text.clear();
        text.push_str("# TYPE http_requests_total counter\n");
        for (route, c) in self.labels.iter().zip(&self.counters) {
            for (status, n) in [
                (OK, c.ok),
                (SERVER_ERROR, c.server_errors),
                (CLIENT_ERROR, c.client_errors),
            ] {
                if n > 0 {
                    let _ = writeln!(
                        text,
                        "http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }
        text.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (route, c) in self.labels.iter().zip(&self.counters) {
            let count = c.buckets[BUCKETS - 1];
            if count == 0 {
                continue;
            }
            for (k, n) in c.buckets.iter().enumerate() {
                let le = bucket_bound(k);
                if le.is_finite() {
                    let _ = writeln!(
                        text,
                        "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {n}"
                    );
                } else {
                    let _ = writeln!(
                        text,
                        "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {n}"
                    );
                }
            }
            let _ = writeln!(
                text,
                "http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
        let _ = writeln!(
            text,
            "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {}",
            self.started
        );
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::exposition::Format;
    use crate::core::metrics::Mapping;
    use chrono::DateTime;

    fn second(total: u64, errors: u64) -> RouteSecond {
        let mut buckets = [0; BUCKETS];
        buckets[10] = total;
        RouteSecond {
            total,
            errors,
            buckets,
            ..RouteSecond::default()
        }
    }

    #[test]
    fn a_scrape_reads_the_counts_a_series_appears_with_its_first_count_and_a_restart_resets() {
        let mut e = Exporter::new(&["/a".to_string(), "/new".to_string()], 1000);
        let read = |e: &mut Exporter, prev: Option<(&_, f64)>, at: i64| {
            let at = DateTime::from_timestamp(at, 0).unwrap();
            crate::source::scrape::read(e.render(), Format::Text, &Mapping::default(), prev, at)
        };
        // A route with a quote, a backslash and a newline is read back as itself.
        let mut odd = Exporter::new(&["/a\"b\\c\nd".to_string()], 0);
        odd.second(10, &[second(3, 0)]);
        let (o, snap_odd) = read(&mut odd, None, 10);
        assert!(o.warnings.is_empty(), "{:?}", o.warnings);
        let life = crate::core::metrics::totals(&snap_odd);
        assert_eq!(life[0].route, "/a\"b\\c\nd");
        for t in 0..10 {
            e.second(1000 + t, &[second(10, 0), second(0, 0)]);
        }
        let (first, snap) = read(&mut e, None, 1010);
        let life = first.lifetime.unwrap();
        assert_eq!(life.len(), 1, "{life:?}");
        assert_eq!(life[0].requests, 100.0);
        assert_eq!(life[0].rate, Some(10.0));
        assert!(!e.render().contains("status=\"500\""));
        for t in 10..15 {
            e.second(1000 + t, &[second(10, 2), second(3, 0)]);
        }
        let (next, snap) = read(&mut e, Some((&snap, 5.0)), 1015);
        let views = next.routes.unwrap();
        let a = views.iter().find(|v| v.route == "/a").unwrap();
        assert_eq!((a.requests, a.errors_5xx), (50.0, 10.0));
        let new = views.iter().find(|v| v.route == "/new").unwrap();
        assert_eq!(new.requests, 15.0, "a new series counts from 0");
        let mut restart = [second(4, 0), second(0, 0)];
        restart[0].restarted = true;
        e.second(1015, &restart);
        // Scraped 20 s after the previous scrape, 5 s after the restart: the
        // counts cover those 5 s, not the 20.
        for t in 16..20 {
            e.second(1000 + t, &[second(4, 0), second(0, 0)]);
        }
        let (after, _) = read(&mut e, Some((&snap, 20.0)), 1020);
        assert_eq!(after.changes.resets.len(), 2, "{:?}", after.changes);
        let views = after.routes.unwrap();
        assert_eq!(views.len(), 1, "/new has no series since the restart");
        assert_eq!(views[0].requests, 20.0);
        assert_eq!(views[0].span, Some(5.0));
        assert!(e.render().contains("process_start_time_seconds 1015"));
    }
}
