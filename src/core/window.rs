//! Rolling windows of probe results per endpoint: the last hour in 1-second
//! buckets, queried over any window (10 s … 1 h) for rate, error and 4xx
//! ratios, the class breakdown and latency percentiles (hdrhistogram, 3
//! significant figures), plus the last error exemplars. Pure: `now` is passed in.
//!
//! Memory: a bucket holds its probes as 12-byte records (second, latency in µs,
//! status, class) in one ring, so an hour costs 12 bytes per probe — 43 KiB at
//! one probe a second — instead of a histogram per second.

use crate::core::sample::{Exemplar, FailureClass, ProbeSample};
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::time::Duration;

/// How much history a window keeps.
pub const RETENTION: Duration = Duration::from_secs(3600);
/// How many error exemplars are kept.
pub const EXEMPLARS: usize = 20;
/// Longest latency the histograms record (larger values are clamped).
const MAX_LATENCY_US: u64 = 3_600_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    /// Bucket: Unix second of the probe.
    second: u32,
    /// Latency in microseconds (saturating).
    latency_us: u32,
    /// HTTP status, 0 when none.
    status: u16,
    /// `FailureClass` index.
    class: u8,
}

/// The last hour of one endpoint's probes.
#[derive(Debug, Clone, Default)]
pub struct EndpointWindow {
    records: VecDeque<Record>,
    exemplars: VecDeque<Exemplar>,
    first_second: Option<u32>,
}

/// Figures over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowStats {
    /// The window asked for.
    pub window: Duration,
    /// Probes in the window.
    pub total: u64,
    /// Probes per class, indexed like [`FailureClass::ALL`].
    pub by_class: [u64; FailureClass::ALL.len()],
    /// Probes per second over the covered part of the window.
    pub rate: f64,
    /// Share of probes whose class is not `ok`.
    pub error_ratio: f64,
    /// Share of probes answered 4xx (auth, rate_limited, http_4xx).
    pub ratio_4xx: f64,
    /// Median latency.
    pub p50: Option<Duration>,
    /// 95th percentile latency.
    pub p95: Option<Duration>,
    /// 99th percentile latency.
    pub p99: Option<Duration>,
    /// Largest latency.
    pub max: Option<Duration>,
}

impl WindowStats {
    /// Probes of `class` in the window.
    pub fn count(&self, class: FailureClass) -> u64 {
        self.by_class[class.index()]
    }
}

fn unix_second(t: DateTime<Utc>) -> u32 {
    u32::try_from(t.timestamp().max(0)).unwrap_or(u32::MAX)
}

impl EndpointWindow {
    /// An empty window.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty window sized for an hour of probes every `interval`.
    pub fn for_interval(interval: Duration) -> Self {
        let per_hour = RETENTION.as_secs_f64() / interval.as_secs_f64().max(0.001);
        let mut w = Self::default();
        w.records
            .reserve_exact((per_hour.ceil() as usize + 16).min(1 << 20));
        w
    }

    /// Adds a probe result and drops what is older than an hour before `now`.
    pub fn record(&mut self, sample: &ProbeSample, now: DateTime<Utc>) {
        let second = unix_second(sample.at);
        let rec = Record {
            second,
            latency_us: u32::try_from(sample.latency.as_micros()).unwrap_or(u32::MAX),
            status: sample.status.unwrap_or(0),
            class: sample.class.index() as u8,
        };
        // Probes finish out of order by at most their timeout: keep the ring sorted.
        let pos = self
            .records
            .iter()
            .rposition(|r| r.second <= second)
            .map_or(0, |p| p + 1);
        self.records.insert(pos, rec);
        self.first_second = Some(self.first_second.map_or(second, |f| f.min(second)));
        if let Some(ex) = &sample.exemplar {
            if self.exemplars.len() == EXEMPLARS {
                self.exemplars.pop_front();
            }
            self.exemplars.push_back(ex.clone());
        }
        self.prune(now);
    }

    /// Drops buckets older than [`RETENTION`].
    pub fn prune(&mut self, now: DateTime<Utc>) {
        let oldest = unix_second(now).saturating_sub(RETENTION.as_secs() as u32 - 1);
        while self.records.front().is_some_and(|r| r.second < oldest) {
            self.records.pop_front();
        }
        if self.records.is_empty() {
            self.first_second = None;
        } else if self.first_second.is_some_and(|f| f < oldest) {
            self.first_second = Some(oldest);
        }
    }

    /// Probes kept.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no probe is kept.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The last error exemplars, oldest first.
    pub fn exemplars(&self) -> impl Iterator<Item = &Exemplar> {
        self.exemplars.iter()
    }

    /// Figures over the last `window` (the current second's bucket included).
    pub fn stats(&self, window: Duration, now: DateTime<Utc>) -> WindowStats {
        let now_s = unix_second(now);
        let secs = window.as_secs().clamp(1, RETENTION.as_secs()) as u32;
        let from = now_s.saturating_sub(secs - 1);
        let mut by_class = [0u64; FailureClass::ALL.len()];
        let mut hist = Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, 3).ok();
        let mut total = 0u64;
        for r in self.records.iter().rev().take_while(|r| r.second >= from) {
            if r.second > now_s {
                continue;
            }
            total += 1;
            by_class[usize::from(r.class).min(FailureClass::ALL.len() - 1)] += 1;
            if let Some(h) = hist.as_mut() {
                h.saturating_record(u64::from(r.latency_us).clamp(1, MAX_LATENCY_US));
            }
        }
        let covered = self
            .first_second
            .map_or(secs, |f| now_s.saturating_sub(f.max(from)) + 1)
            .clamp(1, secs);
        let ratio = |n: u64| {
            if total == 0 {
                0.0
            } else {
                n as f64 / total as f64
            }
        };
        let errors = total - by_class[FailureClass::Ok.index()];
        let c4xx: u64 = FailureClass::ALL
            .iter()
            .filter(|c| c.is_4xx())
            .map(|c| by_class[c.index()])
            .sum();
        let q = |p: f64| {
            hist.as_ref()
                .filter(|_| total > 0)
                .map(|h| Duration::from_micros(h.value_at_quantile(p)))
        };
        WindowStats {
            window,
            total,
            by_class,
            rate: total as f64 / f64::from(covered),
            error_ratio: ratio(errors),
            ratio_4xx: ratio(c4xx),
            p50: q(0.50),
            p95: q(0.95),
            p99: q(0.99),
            max: hist
                .as_ref()
                .filter(|_| total > 0)
                .map(|h| Duration::from_micros(h.max())),
        }
    }

    /// Approximate heap bytes used (records and exemplars).
    pub fn heap_bytes(&self) -> usize {
        let ex: usize = self
            .exemplars
            .iter()
            .map(|e| {
                std::mem::size_of::<Exemplar>()
                    + e.body.capacity()
                    + e.error.as_ref().map_or(0, String::capacity)
                    + e.headers.capacity()
            })
            .sum();
        self.records.capacity() * std::mem::size_of::<Record>() + ex
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sample::Phases;

    fn t0() -> DateTime<Utc> {
        "2026-03-01T12:00:00Z".parse().unwrap()
    }

    fn sample(at: DateTime<Utc>, ms: u64, class: FailureClass, status: Option<u16>) -> ProbeSample {
        ProbeSample {
            at,
            status,
            latency: Duration::from_millis(ms),
            phases: Phases::default(),
            bytes: 0,
            cert_days_left: None,
            retry_after: None,
            class,
            error: None,
            warnings: vec![],
            lateness: Duration::ZERO,
            exemplar: (!class.is_ok()).then(|| Exemplar {
                at,
                class,
                status,
                error: None,
                body: String::new(),
                headers: String::new(),
                phases: Phases::default(),
            }),
            redirects: Vec::new(),
        }
    }

    fn secs(n: i64) -> chrono::TimeDelta {
        chrono::TimeDelta::seconds(n)
    }

    #[test]
    fn rates_ratios_and_percentiles_match_hand_computed_values() {
        let mut w = EndpointWindow::new();
        // 100 probes, one per second, latencies 1..=100 ms; probes 10, 20, ... 100 fail.
        for i in 1..=100i64 {
            let class = match i {
                _ if i % 20 == 0 => FailureClass::Http5xx,
                _ if i % 10 == 0 => FailureClass::RateLimited,
                _ => FailureClass::Ok,
            };
            w.record(
                &sample(t0() + secs(i), i as u64, class, Some(200)),
                t0() + secs(i),
            );
        }
        let now = t0() + secs(100);
        let s = w.stats(Duration::from_secs(100), now);
        assert_eq!(s.total, 100);
        assert_eq!(s.count(FailureClass::Http5xx), 5);
        assert_eq!(s.count(FailureClass::RateLimited), 5);
        assert!((s.rate - 1.0).abs() < 1e-9);
        assert!((s.error_ratio - 0.10).abs() < 1e-9);
        assert!((s.ratio_4xx - 0.05).abs() < 1e-9);
        // 3 significant figures: 50 ms is 50 000 µs exactly representable within 0.1%.
        let within = |d: Option<Duration>, ms: f64| {
            (d.unwrap().as_secs_f64() * 1000.0 - ms).abs() <= ms * 0.001 + 0.001
        };
        assert!(within(s.p50, 50.0), "{:?}", s.p50);
        assert!(within(s.p95, 95.0), "{:?}", s.p95);
        assert!(within(s.p99, 99.0), "{:?}", s.p99);
        assert!(within(s.max, 100.0), "{:?}", s.max);

        // The last 10 s hold probes 91..=100: latencies 91..100, one 5xx (100), one 429 (90 is outside).
        let s = w.stats(Duration::from_secs(10), now);
        assert_eq!(s.total, 10);
        assert_eq!(s.count(FailureClass::Http5xx), 1);
        assert!(within(s.p50, 95.0), "{:?}", s.p50);
        assert_eq!(w.exemplars().count(), 10);
    }

    #[test]
    fn rate_counts_only_the_covered_part_of_a_fresh_window() {
        let mut w = EndpointWindow::new();
        for i in 0..10 {
            for _ in 0..2 {
                w.record(
                    &sample(t0() + secs(i), 5, FailureClass::Ok, Some(200)),
                    t0() + secs(i),
                );
            }
        }
        let s = w.stats(Duration::from_secs(300), t0() + secs(9));
        assert!((s.rate - 2.0).abs() < 1e-9, "{}", s.rate);
    }

    #[test]
    fn buckets_expire_after_an_hour() {
        let mut w = EndpointWindow::new();
        w.record(&sample(t0(), 5, FailureClass::Ok, Some(200)), t0());
        w.record(
            &sample(t0() + secs(1800), 5, FailureClass::Ok, Some(200)),
            t0() + secs(1800),
        );
        assert_eq!(w.len(), 2);
        w.prune(t0() + secs(3599));
        assert_eq!(w.len(), 2, "exactly one hour old is kept");
        w.prune(t0() + secs(3600));
        assert_eq!(w.len(), 1);
        assert_eq!(
            w.stats(Duration::from_secs(3600), t0() + secs(3600)).total,
            1
        );
        w.prune(t0() + secs(10_000));
        assert!(w.is_empty());
        assert_eq!(
            w.stats(Duration::from_secs(60), t0() + secs(10_000)).p50,
            None
        );
    }

    #[test]
    fn out_of_order_completions_stay_in_their_bucket() {
        let mut w = EndpointWindow::new();
        w.record(
            &sample(t0() + secs(5), 5, FailureClass::Ok, Some(200)),
            t0() + secs(5),
        );
        w.record(
            &sample(t0() + secs(3), 900, FailureClass::Timeout, None),
            t0() + secs(5),
        );
        let s = w.stats(Duration::from_secs(2), t0() + secs(5));
        assert_eq!(
            s.total, 1,
            "the probe that started at second 3 is outside a 2 s window"
        );
        assert_eq!(w.stats(Duration::from_secs(3), t0() + secs(5)).total, 2);
    }

    #[test]
    fn exemplars_keep_the_last_twenty() {
        let mut w = EndpointWindow::new();
        for i in 0..30 {
            w.record(
                &sample(t0() + secs(i), 5, FailureClass::Http5xx, Some(500)),
                t0() + secs(i),
            );
        }
        let ex: Vec<_> = w.exemplars().collect();
        assert_eq!(ex.len(), EXEMPLARS);
        assert_eq!(ex[0].at, t0() + secs(10));
    }

    #[test]
    fn an_hour_at_one_probe_a_second_fits_in_64_kib() {
        let mut w = EndpointWindow::for_interval(Duration::from_secs(1));
        for i in 0..3600 {
            let class = if i % 100 == 0 {
                FailureClass::Http5xx
            } else {
                FailureClass::Ok
            };
            let mut s = sample(t0() + secs(i), 40, class, Some(200));
            if let Some(e) = s.exemplar.as_mut() {
                e.body = "x".repeat(200);
                e.headers = "h".repeat(crate::core::sample::EXEMPLAR_HEADER_BYTES);
            }
            w.record(&s, t0() + secs(i));
        }
        let bytes = std::mem::size_of::<EndpointWindow>() + w.heap_bytes();
        println!("one endpoint, one probe a second for an hour: {bytes} bytes");
        assert!(bytes <= 64 * 1024, "{bytes} bytes");
    }
}
