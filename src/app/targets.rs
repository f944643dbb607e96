//! One row of the endpoints table: a probed endpoint or a metrics route —
//! each with the state only its kind has ([`Feed`]) — its recent history (for
//! sparklines and charts) and the figures shown for it.

use crate::core::detect::lifecycle::{self, Lifecycle};
use crate::core::detect::{
    CertificateDetector, Counts, DownDetector, Lifetime, RouteDetectors, Settings, view_figures,
    view_span,
};
use crate::core::metrics::RouteView;
use crate::core::playbook::Situation;
use crate::core::sample::{FailureClass, ProbeSample};
use crate::core::signal::{DetectorKind, Signal};
use crate::core::verify::Measure;
use crate::core::window::EndpointWindow;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

/// Where a row's numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// Our probes.
    Probe,
    /// A `/metrics` route (or a Prometheus route).
    Metrics,
}

/// A target's identity: a probed endpoint by its name, or a route of a
/// metrics source (a `/metrics` target's name, or `prometheus`). Written to
/// events as its display form, `payments` or `shop /api/payments`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetId {
    /// An endpoint `ic` probes.
    Probe(String),
    /// A route a metrics source reports.
    Route {
        /// The source's name.
        source: String,
        /// The route label, e.g. `/api/payments`.
        route: String,
    },
}

impl TargetId {
    /// The metrics source of a route.
    pub fn source(&self) -> Option<&str> {
        match self {
            TargetId::Probe(_) => None,
            TargetId::Route { source, .. } => Some(source),
        }
    }

    /// The route of a metrics route.
    pub fn route(&self) -> Option<&str> {
        match self {
            TargetId::Probe(_) => None,
            TargetId::Route { route, .. } => Some(route),
        }
    }

    /// Probe or metrics.
    pub fn kind(&self) -> SourceKind {
        match self {
            TargetId::Probe(_) => SourceKind::Probe,
            TargetId::Route { .. } => SourceKind::Metrics,
        }
    }
}

impl std::fmt::Display for TargetId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetId::Probe(name) => f.write_str(name),
            TargetId::Route { source, route } => write!(f, "{source} {route}"),
        }
    }
}

/// OK < DEGRADED < DOWN (ordering is "worse").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    /// No data yet.
    Unknown,
    /// Fine.
    Ok,
    /// A detector is firing.
    Degraded,
    /// Not answering.
    Down,
}

impl Health {
    /// As shown.
    pub fn label(self) -> &'static str {
        match self {
            Health::Unknown => "…",
            Health::Ok => "OK",
            Health::Degraded => "DEGRADED",
            Health::Down => "DOWN",
        }
    }
}

/// A point of history (every 5 s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Unix second.
    pub t: i64,
    /// Requests per second.
    pub rps: f64,
    /// Error share.
    pub err: f64,
    /// p50, p95, p99 in seconds.
    pub p50: Option<f64>,
    /// p95.
    pub p95: Option<f64>,
    /// p99.
    pub p99: Option<f64>,
}

/// The figures of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// State.
    pub health: Health,
    /// Requests per second (last minute).
    pub rps: f64,
    /// Error share (last minute).
    pub err: f64,
    /// 4xx share.
    pub r4xx: f64,
    /// Latency quantiles, seconds.
    pub p50: Option<f64>,
    /// p95.
    pub p95: Option<f64>,
    /// p99.
    pub p99: Option<f64>,
    /// Certificate days left.
    pub cert_days: Option<f64>,
    /// Failed in the last minute.
    pub failed_last_minute: u64,
}

/// History kept: 30 minutes at 5 s.
const HISTORY: usize = 360;
const POINT_EVERY: i64 = 5;

/// One endpoint or route.
#[derive(Debug, Clone)]
pub struct Target {
    /// Who it is.
    pub id: TargetId,
    /// `id` as written in events and shown (`payments`, `shop /api/payments`).
    pub name: String,
    /// Where its numbers come from, with what only that kind keeps.
    pub feed: Feed,
    /// Between the detectors and the signals: holds blips back, keeps a flapping signal open.
    lifecycle: Lifecycle,
    /// The latest blip on it: (when, detector), shown in its row.
    pub last_blip: Option<(DateTime<Utc>, DetectorKind)>,
    /// Detectors firing now.
    pub firing: BTreeSet<DetectorKind>,
    /// Recent history.
    pub history: VecDeque<Point>,
    /// The first second data arrived (an onset here began before `ic` started).
    pub first_seen: Option<i64>,
}

/// What a target's numbers come from, and the state only that kind has.
#[derive(Debug, Clone)]
pub enum Feed {
    /// Probes `ic` sends.
    Probe(Box<ProbeFeed>),
    /// A route of a metrics source.
    Route(Box<RouteFeed>),
}

/// A probed endpoint's own state.
#[derive(Debug, Clone)]
pub struct ProbeFeed {
    /// The recent probes.
    pub window: EndpointWindow,
    down: DownDetector,
    cert: CertificateDetector,
    /// Certificate days left, as the last probe saw.
    pub cert_days: Option<f64>,
    /// Whether TLS verification is off for it.
    pub insecure: bool,
}

/// A metrics route's own state.
#[derive(Debug, Clone, Default)]
pub struct RouteFeed {
    /// The route's detectors (and their per-second series).
    pub detectors: RouteDetectors,
    /// The latest view of the route.
    pub last_view: Option<RouteView>,
    /// The latest scrape whose 5xx concentrated on label values: when, and
    /// where (a scrape without 5xx leaves it as it was).
    pub breakdown: Option<(DateTime<Utc>, Vec<crate::core::metrics::LabelShare>)>,
}

impl Target {
    /// A row for the probed endpoint `name`, its window sized for `interval`.
    pub fn probe(name: &str, interval: Option<Duration>) -> Target {
        Target::with_id(TargetId::Probe(name.to_string()), interval)
    }

    /// A row for `route` of the metrics source `source`.
    pub fn route(source: &str, route: &str) -> Target {
        Target::with_id(
            TargetId::Route {
                source: source.to_string(),
                route: route.to_string(),
            },
            None,
        )
    }

    /// A row from its display name (`payments`, or `shop /api/payments` for a
    /// metrics route: the source's name, a space, the route).
    pub fn new(name: &str, source: SourceKind, interval: Option<Duration>) -> Target {
        match (source, name.split_once(' ')) {
            (SourceKind::Metrics, Some((src, route))) => Target::route(src, route),
            (SourceKind::Metrics, None) => Target::route(name, ""),
            (SourceKind::Probe, _) => Target::probe(name, interval),
        }
    }

    fn with_id(id: TargetId, interval: Option<Duration>) -> Target {
        let feed = match id.kind() {
            SourceKind::Probe => Feed::Probe(Box::new(ProbeFeed {
                window: EndpointWindow::for_interval(interval.unwrap_or(Duration::from_secs(2))),
                down: DownDetector::default(),
                cert: CertificateDetector::default(),
                cert_days: None,
                insecure: false,
            })),
            SourceKind::Metrics => Feed::Route(Box::default()),
        };
        Target {
            name: id.to_string(),
            id,
            feed,
            lifecycle: Lifecycle::default(),
            last_blip: None,
            firing: BTreeSet::new(),
            // Exactly the points kept: a growing deque would double to 512.
            history: VecDeque::with_capacity(HISTORY),
            first_seen: None,
        }
    }

    /// Where its numbers come from.
    pub fn kind(&self) -> SourceKind {
        match self.feed {
            Feed::Probe(_) => SourceKind::Probe,
            Feed::Route(_) => SourceKind::Metrics,
        }
    }

    /// A probed endpoint's own state (`None` for a route).
    pub fn probe_feed(&self) -> Option<&ProbeFeed> {
        match &self.feed {
            Feed::Probe(p) => Some(p.as_ref()),
            Feed::Route(_) => None,
        }
    }

    /// A route's own state (`None` for a probed endpoint).
    pub fn route_feed(&self) -> Option<&RouteFeed> {
        match &self.feed {
            Feed::Route(r) => Some(r.as_ref()),
            Feed::Probe(_) => None,
        }
    }

    /// The recent probes (probed endpoints only).
    pub fn window(&self) -> Option<&EndpointWindow> {
        self.probe_feed().map(|p| &p.window)
    }

    /// The latest route view (routes only).
    pub fn last_view(&self) -> Option<&RouteView> {
        self.route_feed().and_then(|r| r.last_view.as_ref())
    }

    /// Marks a probed endpoint's TLS verification as off (shown in the table).
    pub fn set_insecure(&mut self, insecure: bool) {
        if let Feed::Probe(p) = &mut self.feed {
            p.insecure = insecure;
        }
    }

    /// What is firing on it, as playbooks are matched: detector, name and failure class.
    pub fn situations(&self) -> impl Iterator<Item = Situation> + '_ {
        self.firing.iter().map(|k| Situation {
            detector: *k,
            target: self.name.clone(),
            class: match (k, &self.feed) {
                (DetectorKind::Down, Feed::Probe(p)) => p.down.last_failure(),
                (other, _) => other.usual_class(),
            },
        })
    }

    /// Passes the detectors' raw transitions through the lifecycle at `now`
    /// (Unix second), then lets its holds run to `now`: the signals to act on.
    fn settle(&mut self, raw: Vec<Signal>, now: i64, settings: &Settings) -> Vec<Signal> {
        let feed = &self.feed;
        let health = |kind, onset, from, to| -> Option<lifecycle::Health> {
            match (kind, feed) {
                (DetectorKind::Down, Feed::Probe(p)) => p.down.health(from, to),
                (_, Feed::Route(r)) => r.detectors.health(kind, onset, from, to),
                (_, Feed::Probe(_)) => None,
            }
        };
        let holds = settings.holds();
        let mut out = Vec::new();
        for s in raw {
            self.lifecycle.feed(s, now, holds, &health, &mut out);
        }
        self.lifecycle.poll(now, holds, &health, &mut out);
        out
    }

    /// Once a second: held fires that are due, flapping signals that have
    /// been quiet long enough.
    pub fn poll(&mut self, now: DateTime<Utc>, settings: &Settings) -> Vec<Signal> {
        self.settle(Vec::new(), now.timestamp(), settings)
    }

    /// Records a probe; returns the signals it caused (none on a route).
    pub fn on_probe(
        &mut self,
        s: &ProbeSample,
        now: DateTime<Utc>,
        settings: &Settings,
    ) -> Vec<Signal> {
        let Feed::Probe(p) = &mut self.feed else {
            return Vec::new();
        };
        self.first_seen.get_or_insert(s.at.timestamp());
        p.window.record(s, now);
        let what = format!("{}: {}", s.class, s.error.clone().unwrap_or_default());
        let mut out: Vec<Signal> = p
            .down
            .observe(&self.name, s.at.timestamp(), s.class, &what)
            .into_iter()
            .collect();
        if let Some(days) = s.cert_days_left {
            p.cert_days = Some(days);
            out.extend(p.cert.observe(&self.name, s.at.timestamp(), days));
        }
        self.settle(out, s.at.timestamp().max(now.timestamp()), settings)
    }

    /// Seeds the route's cold-start baselines from its figures over the
    /// counters' lifetime (the first scrape): a probe ignores it.
    pub fn seed_lifetime(&mut self, v: &RouteView, settings: &Settings) {
        let Feed::Route(r) = &mut self.feed else {
            return;
        };
        r.detectors
            .seed(&Lifetime::of_view(v, settings.latency_quantile));
    }

    /// A minute of the route's past (`at`: the minute's start), learnt as
    /// baselines, judging nothing.
    pub fn learn(&mut self, v: &RouteView, at: DateTime<Utc>, settings: &Settings) {
        let Feed::Route(r) = &mut self.feed else {
            return;
        };
        let (counts, reading) = view_figures(v, settings.latency_quantile);
        r.detectors
            .learn_minute(at.timestamp().div_euclid(60), counts, reading);
    }

    /// A route's figures since the last scrape: the detectors' verdicts.
    pub fn on_view(&mut self, v: RouteView, at: DateTime<Utc>, settings: &Settings) -> Vec<Signal> {
        let Feed::Route(r) = &mut self.feed else {
            return Vec::new();
        };
        // The view's counts begin where its span does.
        self.first_seen
            .get_or_insert(at.timestamp() - view_span(&v) + 1);
        let (counts, reading) = view_figures(&v, settings.latency_quantile);
        let mut out = Vec::new();
        r.detectors.observe_over(
            &self.name,
            at.timestamp(),
            view_span(&v),
            counts,
            reading,
            settings,
            &mut out,
        );
        if !v.by_label.is_empty() {
            r.breakdown = Some((at, v.by_label.clone()));
        }
        r.last_view = Some(v);
        self.settle(out, at.timestamp(), settings)
    }

    /// Records that the route was missing from a scrape at `at`: no traffic at all.
    pub fn on_silence(&mut self, at: DateTime<Utc>, settings: &Settings) -> Vec<Signal> {
        let mut out = Vec::new();
        let Feed::Route(r) = &mut self.feed else {
            return out;
        };
        r.detectors.observe(
            &self.name,
            at.timestamp(),
            Counts::default(),
            None,
            settings,
            &mut out,
        );
        self.settle(out, at.timestamp(), settings)
    }

    /// Once a second: history points.
    pub fn tick(&mut self, now: DateTime<Utc>, _settings: &Settings) {
        let t = now.timestamp();
        if self.history.back().is_some_and(|p| t - p.t < POINT_EVERY) {
            return;
        }
        let r = self.stats(now, Duration::from_secs(30));
        self.history.push_back(Point {
            t,
            rps: r.rps,
            err: r.err,
            p50: r.p50,
            p95: r.p95,
            p99: r.p99,
        });
        while self.history.len() > HISTORY {
            self.history.pop_front();
        }
        if let Feed::Probe(p) = &mut self.feed {
            p.window.prune(now);
        }
    }

    /// The row's figures over the last minute.
    pub fn row(&self, now: DateTime<Utc>) -> Row {
        self.stats(now, Duration::from_secs(60))
    }

    fn stats(&self, now: DateTime<Utc>, window: Duration) -> Row {
        let firing = !self.firing.is_empty();
        match &self.feed {
            Feed::Probe(p) => {
                let s = p.window.stats(window, now);
                let health = if s.total == 0 {
                    Health::Unknown
                } else if self.firing.contains(&DetectorKind::Down) {
                    Health::Down
                } else if firing {
                    Health::Degraded
                } else {
                    Health::Ok
                };
                Row {
                    health,
                    rps: s.rate,
                    err: s.error_ratio,
                    r4xx: s.ratio_4xx,
                    p50: s.p50.map(|d| d.as_secs_f64()),
                    p95: s.p95.map(|d| d.as_secs_f64()),
                    p99: s.p99.map(|d| d.as_secs_f64()),
                    cert_days: p.cert_days,
                    failed_last_minute: (s.error_ratio * s.total as f64).round() as u64,
                }
            }
            Feed::Route(r) => {
                let c = r
                    .detectors
                    .series()
                    .window(now.timestamp(), window.as_secs() as i64);
                // Over the seconds the data covers: a route seen for 15 s of a
                // 1-minute window runs at its count over 15 s, not over 60.
                let covered = self
                    .first_seen
                    .map_or(1, |f| now.timestamp() - f + 1)
                    .clamp(1, window.as_secs().max(1) as i64);
                let secs = covered as f64;
                let v = r.last_view.as_ref();
                let health = if v.is_none() {
                    Health::Unknown
                } else if firing {
                    Health::Degraded
                } else {
                    Health::Ok
                };
                Row {
                    health,
                    rps: c.total as f64 / secs,
                    err: c.ratio(),
                    r4xx: if c.total == 0 {
                        0.0
                    } else {
                        c.client_errors as f64 / c.total as f64
                    },
                    p50: v.and_then(|v| v.p50),
                    p95: v.and_then(|v| v.p95),
                    p99: v.and_then(|v| v.p99),
                    cert_days: None,
                    failed_last_minute: c.errors,
                }
            }
        }
    }

    /// A `verify` measure over `window`.
    pub fn measure(&self, m: &Measure, window: Duration, now: DateTime<Utc>) -> Option<f64> {
        let r = self.stats(now, window);
        if r.health == Health::Unknown {
            return None;
        }
        match m {
            Measure::ErrorRate => Some(r.err),
            Measure::Ratio4xx => Some(r.r4xx),
            // A probe's rate is how often we probe, not the traffic: unknown.
            Measure::Rate => (self.kind() == SourceKind::Metrics).then_some(r.rps),
            Measure::Quantile(500) => r.p50,
            Measure::Quantile(950) => r.p95,
            Measure::Quantile(_) => r.p99,
            Measure::ClassShare(class) => {
                let w = self.window()?;
                let s = w.stats(window, now);
                let i = FailureClass::ALL
                    .iter()
                    .position(|c| c.to_string() == *class)?;
                (s.total > 0).then(|| s.by_class[i] as f64 / s.total as f64)
            }
        }
    }
}
