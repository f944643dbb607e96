//! Per-route views of a metrics exposition: which series mean requests,
//! latency, route and status (from config, or detected on common exporters);
//! per-route totals from one scrape; rates, error ratios and latency quantiles
//! from two successive scrapes (counter resets handled per series); and
//! Prometheus's exact `histogram_quantile`. A snapshot can be capped to a
//! number of routes and series (what a scrape loop keeps between scrapes),
//! the rest counted, not held. Pure.

use crate::core::exposition::{Exposition, MetricType, Sample};
use rustc_hash::FxHashMap as HashMap;
use std::collections::{BTreeMap, BTreeSet};

/// Label names tried for the route, in order.
pub const ROUTE_LABELS: [&str; 5] = ["route", "handler", "path", "uri", "endpoint"];
/// Label names tried for the status code, in order.
pub const STATUS_LABELS: [&str; 3] = ["status", "code", "status_code"];

/// What the user configured (any part may be left to detection).
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    /// Request counter sample name (e.g. `http_requests_total`).
    pub requests: Option<String>,
    /// Duration histogram base name (e.g. `http_request_duration_seconds`).
    pub duration: Option<String>,
    /// Route label.
    pub route_label: Option<String>,
    /// Status label.
    pub status_label: Option<String>,
}

/// The mapping in force for one exposition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Request counter sample name, if one was found.
    pub requests: Option<String>,
    /// Duration histogram base name, if one was found.
    pub duration: Option<String>,
    /// Route label, if one was found.
    pub route_label: Option<String>,
    /// Status label, if one was found.
    pub status_label: Option<String>,
}

/// Finds the request counter, the duration histogram and the labels, honouring `mapping`.
pub fn resolve(expo: &Exposition<'_>, mapping: &Mapping) -> Resolved {
    let names: BTreeSet<&str> = expo.samples.iter().map(|s| s.name).collect();
    // By name through the index: a scan per candidate is quadratic on an exposition
    // that declares a family per series.
    let is_counter = |name: &str| {
        expo.family(name)
            .or_else(|| {
                name.strip_suffix("_total")
                    .and_then(|base| expo.family(base))
            })
            .is_none_or(|f| matches!(f.kind, MetricType::Counter | MetricType::Unknown))
    };
    let requests = mapping.requests.clone().or_else(|| {
        let pick = |suffix: &str| {
            names
                .iter()
                .find(|n| n.ends_with(suffix) && is_counter(n))
                .map(|n| n.to_string())
        };
        pick("http_requests_total").or_else(|| pick("_requests_total"))
    });
    let duration = mapping.duration.clone().or_else(|| {
        let bases: Vec<&str> = names
            .iter()
            .filter_map(|n| n.strip_suffix("_bucket"))
            .collect();
        let pick = |suffix: &str| {
            bases
                .iter()
                .find(|b| b.ends_with(suffix))
                .map(|b| b.to_string())
        };
        pick("_request_duration_seconds").or_else(|| pick("_duration_seconds"))
    });
    let label_of = |metric: Option<&str>, wanted: &Option<String>, candidates: &[&str]| {
        wanted.clone().or_else(|| {
            let metric = metric?;
            let present: BTreeSet<&str> = expo
                .samples
                .iter()
                .filter(|s| s.name == metric || s.name.strip_suffix("_bucket") == Some(metric))
                .flat_map(|s| expo.labels(s).iter().map(|l| l.name))
                .collect();
            candidates
                .iter()
                .find(|c| present.contains(*c))
                .map(|c| c.to_string())
        })
    };
    let route_label = label_of(requests.as_deref(), &mapping.route_label, &ROUTE_LABELS)
        .or_else(|| label_of(duration.as_deref(), &mapping.route_label, &ROUTE_LABELS));
    let status_label = label_of(requests.as_deref(), &mapping.status_label, &STATUS_LABELS);
    Resolved {
        requests,
        duration,
        route_label,
        status_label,
    }
}

/// One scrape reduced to what the views need: per-series values keyed by route.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Request counters: series key → (route, status, value).
    pub requests: HashMap<String, (String, Option<u16>, f64)>,
    /// Histogram buckets: series key (labels without `le`) → (route, [(le, cumulative count)]).
    pub buckets: HashMap<String, (String, Vec<(f64, f64)>)>,
    /// The mapping used.
    pub resolved: Option<Resolved>,
}

fn series_key(expo: &Exposition<'_>, s: &Sample<'_>, skip: &str) -> String {
    let labels = expo.labels(s);
    let mut key = String::with_capacity(s.name.len() + labels.len() * 24);
    key.push_str(s.name.strip_suffix("_bucket").unwrap_or(s.name));
    // Label order is not significant: visit them sorted by name, without allocating for the usual few.
    let mut order = [0u8; 16];
    let n = labels.len().min(order.len());
    for (i, slot) in order.iter_mut().enumerate().take(n) {
        *slot = i as u8;
    }
    order[..n].sort_unstable_by_key(|&i| labels[usize::from(i)].name);
    for &i in &order[..n] {
        let l = &labels[usize::from(i)];
        if l.name == skip {
            continue;
        }
        key.push('\u{1f}');
        key.push_str(l.name);
        key.push('=');
        // The separator cannot come from a value: a label value holding it
        // would forge a label of its own when the key is read back.
        let value = l.value();
        if value.contains('\u{1f}') {
            key.push_str(&value.replace('\u{1f}', "\u{fffd}"));
        } else {
            key.push_str(&value);
        }
    }
    key
}

/// Reduces an exposition to the series the views need.
pub fn snapshot(expo: &Exposition<'_>, mapping: &Mapping) -> Snapshot {
    snapshot_capped(expo, mapping, usize::MAX, usize::MAX).0
}

/// What a capped snapshot left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Routes past the first `max_routes` (their series were not kept).
    pub routes: usize,
    /// Request and bucket series past the first `max_series`.
    pub series: usize,
}

/// [`snapshot`] keeping the series of at most `max_routes` routes (the first
/// seen) and at most `max_series` series in all, so what is held between two
/// scrapes of one target stays bounded whatever the exposition holds.
pub fn snapshot_capped(
    expo: &Exposition<'_>,
    mapping: &Mapping,
    max_routes: usize,
    max_series: usize,
) -> (Snapshot, Dropped) {
    let resolved = resolve(expo, mapping);
    let mut snap = Snapshot::default();
    use std::hash::BuildHasher;
    let hash = |s: &str| rustc_hash::FxBuildHasher.hash_one(s);
    let mut routes: rustc_hash::FxHashSet<String> = Default::default();
    // What was left out, by hash: counted, not held.
    let mut extra_routes: rustc_hash::FxHashSet<u64> = Default::default();
    let mut extra_series: rustc_hash::FxHashSet<u64> = Default::default();
    let mut series = 0usize;
    // Whether the series `key` of `route` is kept; counts what is not.
    let mut keep = |route: &str, key: &str, new_series: bool| -> bool {
        if !routes.contains(route) {
            if routes.len() >= max_routes {
                extra_routes.insert(hash(route));
                return false;
            }
            routes.insert(route.to_string());
        }
        if new_series {
            if series >= max_series {
                extra_series.insert(hash(key));
                return false;
            }
            series += 1;
        }
        true
    };
    let route_of = |s: &Sample<'_>| {
        resolved
            .route_label
            .as_deref()
            .and_then(|l| expo.label(s, l))
            .map_or_else(|| "(all)".to_string(), |v| v.into_owned())
    };
    let bucket_name = resolved.duration.as_ref().map(|d| format!("{d}_bucket"));
    for s in &expo.samples {
        if Some(s.name) == resolved.requests.as_deref() {
            let status = resolved
                .status_label
                .as_deref()
                .and_then(|l| expo.label(s, l))
                .and_then(|v| v.parse::<u16>().ok());
            let route = route_of(s);
            let key = series_key(expo, s, "");
            if !keep(&route, &key, true) {
                continue;
            }
            snap.requests.insert(key, (route, status, s.value));
        } else if Some(s.name) == bucket_name.as_deref() {
            let Some(le) = expo.label(s, "le").and_then(|v| parse_le(&v)) else {
                continue;
            };
            let key = series_key(expo, s, "le");
            let route = route_of(s);
            let known = snap.buckets.contains_key(&key);
            if !keep(&route, &key, !known) {
                continue;
            }
            snap.buckets
                .entry(key)
                .or_insert_with(|| (route, Vec::new()))
                .1
                .push((le, s.value));
        }
    }
    snap.resolved = Some(resolved);
    let dropped = Dropped {
        routes: extra_routes.len(),
        series: extra_series.len(),
    };
    (snap, dropped)
}

fn parse_le(v: &str) -> Option<f64> {
    match v {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        _ => v.parse().ok(),
    }
}

/// Per-route figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouteView {
    /// Route (label value), `(all)` when there is no route label.
    pub route: String,
    /// Requests (a total, or a delta between scrapes).
    pub requests: f64,
    /// Requests answered 5xx.
    pub errors_5xx: f64,
    /// Requests answered 4xx.
    pub errors_4xx: f64,
    /// Requests per second (deltas only).
    pub rate: Option<f64>,
    /// Seconds the counts cover (deltas: since the previous scrape; a query
    /// source's: its interval); `None` for lifetime totals.
    pub span: Option<f64>,
    /// Median latency, seconds.
    pub p50: Option<f64>,
    /// 95th percentile latency, seconds.
    pub p95: Option<f64>,
    /// 99th percentile latency, seconds.
    pub p99: Option<f64>,
    /// Where the 5xx concentrate: label values (other than route and status)
    /// that carry more of the route's 5xx than of its requests, most first
    /// (deltas only; empty without 5xx or without such labels).
    pub by_label: Vec<LabelShare>,
}

/// One label value's part in a route's 5xx.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelShare {
    /// The label (`method`, `region`, `instance`).
    pub label: String,
    /// Its value.
    pub value: String,
    /// Its share of the route's 5xx (0..1).
    pub share: f64,
    /// Its share of the route's requests (0..1).
    pub traffic: f64,
}

/// Label values kept per route in [`RouteView::by_label`].
const BY_LABEL_MAX: usize = 5;

/// The (label, value) pairs of a series key, without the route and status labels.
fn key_labels<'k>(
    key: &'k str,
    skip: [Option<&str>; 2],
) -> impl Iterator<Item = (&'k str, &'k str)> {
    key.split('\u{1f}')
        .skip(1)
        .filter_map(|lv| lv.split_once('='))
        .filter(move |(l, _)| !skip.contains(&Some(*l)))
}

/// Fills `by_label` of the views with 5xx: for each label value, its share of
/// the route's 5xx and of its requests, kept where failures concentrate.
fn concentrate(views: &mut [RouteView], prev: &Snapshot, cur: &Snapshot) {
    let failing: Vec<usize> = (0..views.len())
        .filter(|i| views[*i].errors_5xx > 0.0)
        .collect();
    if failing.is_empty() {
        return;
    }
    let failing_routes: std::collections::HashSet<&str> =
        failing.iter().map(|i| views[*i].route.as_str()).collect();
    let resolved = cur.resolved.as_ref();
    let skip = [
        resolved.and_then(|r| r.route_label.as_deref()),
        resolved.and_then(|r| r.status_label.as_deref()),
    ];
    // (route, label, value) → (requests, 5xx)
    let mut acc: BTreeMap<(&str, &str, &str), (f64, f64)> = BTreeMap::new();
    for (key, (route, status, v)) in &cur.requests {
        if !failing_routes.contains(route.as_str()) {
            continue;
        }
        let d = match prev.requests.get(key) {
            Some(p) if *v >= p.2 => v - p.2,
            _ => *v,
        };
        if d <= 0.0 {
            continue;
        }
        let bad = matches!(status, Some(500..=599));
        for (l, val) in key_labels(key, skip) {
            let e = acc.entry((route.as_str(), l, val)).or_default();
            e.0 += d;
            if bad {
                e.1 += d;
            }
        }
    }
    for i in failing {
        let view = &mut views[i];
        let mut shares: Vec<LabelShare> = acc
            .iter()
            .filter(|((r, ..), _)| *r == view.route)
            .map(|((_, l, v), (req, bad))| LabelShare {
                label: l.to_string(),
                value: v.to_string(),
                share: bad / view.errors_5xx,
                traffic: req / view.requests.max(1.0),
            })
            // Informative only where failures are denser than traffic.
            .filter(|s| s.share > s.traffic + 0.05)
            .collect();
        shares.sort_by(|a, b| {
            (b.share - b.traffic)
                .total_cmp(&(a.share - a.traffic))
                .then(a.label.cmp(&b.label))
        });
        shares.truncate(BY_LABEL_MAX);
        view.by_label = shares;
    }
}

impl RouteView {
    /// Share of requests answered 5xx.
    pub fn error_ratio(&self) -> f64 {
        if self.requests > 0.0 {
            self.errors_5xx / self.requests
        } else {
            0.0
        }
    }
    /// Share of requests answered 4xx.
    pub fn ratio_4xx(&self) -> f64 {
        if self.requests > 0.0 {
            self.errors_4xx / self.requests
        } else {
            0.0
        }
    }
}

/// What changed between two scrapes besides the numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Series whose counters went down (process restarts).
    pub resets: Vec<String>,
    /// Series present before and missing now.
    pub vanished: Vec<String>,
}

/// Per-route accumulators, keyed by route names borrowed from the snapshot.
type RouteAcc<'s> = BTreeMap<&'s str, (RouteView, BTreeMap<u64, f64>)>;

fn route_acc<'m, 's>(
    routes: &'m mut RouteAcc<'s>,
    route: &'s str,
) -> &'m mut (RouteView, BTreeMap<u64, f64>) {
    routes.entry(route).or_default()
}

/// Per-route totals of one scrape (quantiles from the cumulative buckets).
pub fn totals(snap: &Snapshot) -> Vec<RouteView> {
    let mut routes = RouteAcc::new();
    for (route, status, v) in snap.requests.values() {
        add_requests(&mut route_acc(&mut routes, route).0, *status, *v);
    }
    for (route, buckets) in snap.buckets.values() {
        let acc = &mut route_acc(&mut routes, route).1;
        for (le, c) in buckets {
            *acc.entry(le.to_bits()).or_default() += c;
        }
    }
    finish(routes)
}

/// Per-route figures between two scrapes `seconds` apart; a counter that went
/// down is taken as a restart (its new value is the increase).
pub fn deltas(prev: &Snapshot, cur: &Snapshot, seconds: f64) -> (Vec<RouteView>, Changes) {
    let mut changes = Changes::default();
    let mut routes = RouteAcc::new();
    let increase = |key: &str, before: Option<f64>, now: f64, resets: &mut Vec<String>| match before
    {
        Some(b) if now >= b => now - b,
        Some(_) => {
            resets.push(key.to_string());
            now
        }
        None => now, // a new series: everything it counted happened since it appeared
    };
    for (key, (route, status, v)) in &cur.requests {
        let d = increase(
            key,
            prev.requests.get(key).map(|p| p.2),
            *v,
            &mut changes.resets,
        );
        let view = &mut route_acc(&mut routes, route).0;
        add_requests(view, *status, d);
    }
    for (key, (route, buckets)) in &cur.buckets {
        let before = prev.buckets.get(key).map(|b| &b.1);
        // A reset of the whole histogram shows in its +Inf bucket.
        let reset = before.is_some_and(|b| total_of(b) > total_of(buckets));
        if reset {
            changes.resets.push(key.clone());
        }
        let acc = &mut route_acc(&mut routes, route).1;
        for (le, c) in buckets {
            let old = if reset {
                None
            } else {
                before
                    .and_then(|b| b.iter().find(|x| x.0 == *le))
                    .map(|x| x.1)
            };
            *acc.entry(le.to_bits()).or_default() += (c - old.unwrap_or(0.0)).max(0.0);
        }
    }
    changes.vanished = prev
        .requests
        .keys()
        .filter(|k| !cur.requests.contains_key(*k))
        .chain(
            prev.buckets
                .keys()
                .filter(|k| !cur.buckets.contains_key(*k)),
        )
        .cloned()
        .collect();
    changes.resets.sort();
    changes.vanished.sort();
    let mut views = finish(routes);
    for v in &mut views {
        v.rate = (seconds > 0.0).then(|| v.requests / seconds);
        v.span = (seconds > 0.0).then_some(seconds);
    }
    concentrate(&mut views, prev, cur);
    (views, changes)
}

fn total_of(buckets: &[(f64, f64)]) -> f64 {
    buckets
        .iter()
        .find(|b| b.0.is_infinite())
        .map_or(0.0, |b| b.1)
}

fn add_requests(view: &mut RouteView, status: Option<u16>, n: f64) {
    view.requests += n;
    match status {
        Some(500..=599) => view.errors_5xx += n,
        Some(400..=499) => view.errors_4xx += n,
        _ => {}
    }
}

fn finish(routes: RouteAcc) -> Vec<RouteView> {
    routes
        .into_iter()
        .map(|(route, (mut view, buckets))| {
            let buckets: Vec<(f64, f64)> = buckets
                .into_iter()
                .map(|(le, c)| (f64::from_bits(le), c))
                .collect();
            view.route = route.to_string();
            view.p50 = histogram_quantile(0.50, &buckets);
            view.p95 = histogram_quantile(0.95, &buckets);
            view.p99 = histogram_quantile(0.99, &buckets);
            view
        })
        .collect()
}

/// Prometheus's `histogram_quantile` over cumulative `(upper bound, count)` buckets:
/// linear interpolation inside the bucket, the lowest bucket starting at 0 (if
/// its bound is positive), and a rank in the `+Inf` bucket answering the highest
/// finite bound. `None` where Prometheus returns NaN (no `+Inf` bucket, fewer
/// than two buckets, no observations).
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    if q.is_nan() {
        return None;
    }
    if q < 0.0 {
        return Some(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Some(f64::INFINITY);
    }
    let mut b: Vec<(f64, f64)> = buckets
        .iter()
        .copied()
        .filter(|(le, _)| !le.is_nan())
        .collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Merge buckets with the same bound (series summed over other labels arrive here merged already).
    b.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 += later.1;
            true
        } else {
            false
        }
    });
    if b.len() < 2 || b.last().is_none_or(|l| l.0 != f64::INFINITY) {
        return None;
    }
    // Non-monotonic counts (scrapes racing observations) are made monotonic, as Prometheus does.
    let mut max = f64::NEG_INFINITY;
    for x in &mut b {
        max = max.max(x.1);
        x.1 = max;
    }
    let total = b[b.len() - 1].1;
    if total <= 0.0 || total.is_nan() {
        return None;
    }
    let rank = q * total;
    let i = b.iter().position(|x| x.1 >= rank).unwrap_or(b.len() - 1);
    if i == b.len() - 1 {
        return Some(b[b.len() - 2].0);
    }
    if i == 0 && b[0].0 <= 0.0 {
        return Some(b[0].0);
    }
    let (start, below) = if i == 0 {
        (0.0, 0.0)
    } else {
        (b[i - 1].0, b[i - 1].1)
    };
    let (end, count) = (b[i].0, b[i].1 - below);
    if count <= 0.0 {
        return Some(end);
    }
    Some(start + (end - start) * ((rank - below) / count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_concentrated_on_one_label_value_are_named() {
        let scrape = |ok: u32, post_500: u32| {
            format!(
                "http_requests_total{{route=\"/pay\",method=\"GET\",status=\"200\"}} {ok}\n\
                 http_requests_total{{route=\"/pay\",method=\"POST\",status=\"200\"}} {ok}\n\
                 http_requests_total{{route=\"/pay\",method=\"POST\",status=\"500\"}} {post_500}\n\
                 http_requests_total{{route=\"/ok\",method=\"GET\",status=\"200\"}} 100\n"
            )
        };
        let snap = |text: &str| {
            let expo = parse(text, Format::Text);
            snapshot(&expo, &Mapping::default())
        };
        let (a, b) = (scrape(100, 0), scrape(110, 0));
        let (views, _) = deltas(&snap(&a), &snap(&b), 1.0);
        assert!(
            views.iter().all(|v| v.by_label.is_empty()),
            "no 5xx, no breakdown"
        );
        let (a, b) = (scrape(100, 0), scrape(110, 20));
        let (views, _) = deltas(&snap(&a), &snap(&b), 1.0);
        let pay = views.iter().find(|v| v.route == "/pay").expect("route");
        assert_eq!(pay.by_label.len(), 1, "{:?}", pay.by_label);
        let top = &pay.by_label[0];
        assert_eq!((top.label.as_str(), top.value.as_str()), ("method", "POST"));
        // A label value holding the key separator forges no label of its own.
        let forged = |n: u32| {
            format!(
                "http_requests_total{{route=\"/x\",method=\"GET\\u001fregion=evil\",status=\"500\"}} {n}\n\
                 http_requests_total{{route=\"/x\",method=\"POST\",status=\"200\"}} {n}\n"
            )
            .replace("\\u001f", "\u{1f}")
        };
        let (views, _) = deltas(&snap(&forged(0)), &snap(&forged(10)), 1.0);
        let x = views.iter().find(|v| v.route == "/x").expect("route");
        assert!(
            x.by_label.iter().all(|l| l.label == "method"),
            "{:?}",
            x.by_label
        );
        // All of the 5xx, three quarters of the requests (10 GET, 10 + 20 POST).
        assert!(
            (top.share - 1.0).abs() < 1e-9 && (top.traffic - 0.75).abs() < 1e-9,
            "{top:?}"
        );
    }
    use crate::core::exposition::{Format, parse};

    const INF: f64 = f64::INFINITY;

    #[test]
    fn quantile_interpolates_like_prometheus() {
        // 10 observations ≤ 0.1, 10 more ≤ 0.5, 0 more ≤ 1, 0 above.
        let b = [(0.1, 10.0), (0.5, 20.0), (1.0, 20.0), (INF, 20.0)];
        // rank 10 of 20 falls at the top of the first bucket: 0 + 0.1 * 10/10.
        assert_eq!(histogram_quantile(0.5, &b), Some(0.1));
        // rank 15: second bucket, 0.1 + 0.4 * (15 - 10)/10 = 0.3.
        assert!((histogram_quantile(0.75, &b).unwrap() - 0.3).abs() < 1e-12);
        // rank 2: first bucket starting at 0: 0.1 * 2/10 = 0.02.
        assert!((histogram_quantile(0.1, &b).unwrap() - 0.02).abs() < 1e-12);
        // A rank in +Inf answers the highest finite bound.
        let tail = [(0.1, 1.0), (0.5, 2.0), (INF, 10.0)];
        assert_eq!(histogram_quantile(0.99, &tail), Some(0.5));
        assert_eq!(histogram_quantile(-1.0, &b), Some(f64::NEG_INFINITY));
        assert_eq!(histogram_quantile(2.0, &b), Some(INF));
        assert_eq!(histogram_quantile(0.5, &[(0.1, 1.0)]), None);
        assert_eq!(
            histogram_quantile(0.5, &[(0.1, 1.0), (0.2, 2.0)]),
            None,
            "no +Inf bucket"
        );
        assert_eq!(
            histogram_quantile(0.5, &[(0.1, 0.0), (INF, 0.0)]),
            None,
            "no observations"
        );
        // Non-monotonic input is repaired: (0.5, 8) becomes 10.
        let bad = [(0.1, 10.0), (0.5, 8.0), (INF, 20.0)];
        assert_eq!(histogram_quantile(0.5, &bad), Some(0.1));
    }

    const SCRAPE_1: &str = "# TYPE http_requests_total counter\n\
        http_requests_total{route=\"/a\",method=\"GET\",status=\"200\",instance=\"1\"} 90\n\
        http_requests_total{route=\"/a\",method=\"GET\",status=\"500\",instance=\"1\"} 10\n\
        http_requests_total{route=\"/a\",method=\"GET\",status=\"200\",instance=\"2\"} 100\n\
        http_requests_total{route=\"/b\",method=\"POST\",status=\"404\",instance=\"1\"} 5\n\
        # TYPE http_request_duration_seconds histogram\n\
        http_request_duration_seconds_bucket{route=\"/a\",instance=\"1\",le=\"0.1\"} 50\n\
        http_request_duration_seconds_bucket{route=\"/a\",instance=\"1\",le=\"1\"} 100\n\
        http_request_duration_seconds_bucket{route=\"/a\",instance=\"1\",le=\"+Inf\"} 100\n\
        http_request_duration_seconds_bucket{route=\"/a\",instance=\"2\",le=\"0.1\"} 100\n\
        http_request_duration_seconds_bucket{route=\"/a\",instance=\"2\",le=\"1\"} 100\n\
        http_request_duration_seconds_bucket{route=\"/a\",instance=\"2\",le=\"+Inf\"} 100\n";

    #[test]
    fn defaults_detect_common_exporters() {
        let e = parse(SCRAPE_1, Format::Text);
        let r = resolve(&e, &Mapping::default());
        assert_eq!(r.requests.as_deref(), Some("http_requests_total"));
        assert_eq!(r.duration.as_deref(), Some("http_request_duration_seconds"));
        assert_eq!(r.route_label.as_deref(), Some("route"));
        assert_eq!(r.status_label.as_deref(), Some("status"));
        let other = parse(
            "myapp_requests_total{handler=\"/x\",code=\"200\"} 1\n",
            Format::Text,
        );
        let r = resolve(&other, &Mapping::default());
        assert_eq!(
            (
                r.requests.as_deref(),
                r.route_label.as_deref(),
                r.status_label.as_deref()
            ),
            (Some("myapp_requests_total"), Some("handler"), Some("code"))
        );
    }

    #[test]
    fn totals_sum_series_that_share_a_route() {
        let e = parse(SCRAPE_1, Format::Text);
        let views = totals(&snapshot(&e, &Mapping::default()));
        assert_eq!(views.len(), 2);
        let a = &views[0];
        assert_eq!(
            (a.route.as_str(), a.requests, a.errors_5xx, a.errors_4xx),
            ("/a", 200.0, 10.0, 0.0)
        );
        // Merged buckets: ≤0.1: 150, ≤1: 200, +Inf: 200. p50 = rank 100 → 0.1 * 100/150.
        assert!((a.p50.unwrap() - 0.1 * 100.0 / 150.0).abs() < 1e-12);
        // p95 = rank 190 → 0.1 + 0.9 * (190-150)/50.
        assert!((a.p95.unwrap() - (0.1 + 0.9 * 40.0 / 50.0)).abs() < 1e-12);
        let b = &views[1];
        assert_eq!((b.route.as_str(), b.errors_4xx, b.p50), ("/b", 5.0, None));
    }

    #[test]
    fn a_capped_snapshot_keeps_the_first_routes_and_counts_the_rest() {
        let e = parse(SCRAPE_1, Format::Text);
        let (snap, dropped) = snapshot_capped(&e, &Mapping::default(), 1, usize::MAX);
        let views = totals(&snap);
        assert_eq!(views.len(), 1);
        assert_eq!((views[0].route.as_str(), views[0].requests), ("/a", 200.0));
        assert_eq!(
            dropped,
            Dropped {
                routes: 1,
                series: 0
            }
        );
        // Series: three request counters and one histogram series kept of 4 + 2.
        let (snap, dropped) = snapshot_capped(&e, &Mapping::default(), 10, 4);
        assert_eq!(snap.requests.len() + snap.buckets.len(), 4);
        assert_eq!(
            dropped,
            Dropped {
                routes: 0,
                series: 2
            }
        );
        assert_eq!(
            snapshot_capped(&e, &Mapping::default(), 10, 10).0,
            snapshot(&e, &Mapping::default())
        );
    }

    #[test]
    fn deltas_handle_resets_new_and_vanished_series() {
        let prev = snapshot(&parse(SCRAPE_1, Format::Text), &Mapping::default());
        let next = "http_requests_total{route=\"/a\",method=\"GET\",status=\"200\",instance=\"1\"} 130\n\
            http_requests_total{route=\"/a\",method=\"GET\",status=\"500\",instance=\"1\"} 20\n\
            http_requests_total{route=\"/a\",method=\"GET\",status=\"200\",instance=\"2\"} 30\n\
            http_requests_total{route=\"/c\",method=\"GET\",status=\"503\",instance=\"1\"} 4\n\
            http_request_duration_seconds_bucket{route=\"/a\",instance=\"1\",le=\"0.1\"} 50\n\
            http_request_duration_seconds_bucket{route=\"/a\",instance=\"1\",le=\"1\"} 140\n\
            http_request_duration_seconds_bucket{route=\"/a\",instance=\"1\",le=\"+Inf\"} 150\n";
        let cur = snapshot(&parse(next, Format::Text), &Mapping::default());
        let (views, changes) = deltas(&prev, &cur, 10.0);
        let a = views.iter().find(|v| v.route == "/a").unwrap();
        // instance 1: +40 ok, +10 errors; instance 2 restarted: 30 counted as new.
        assert_eq!((a.requests, a.errors_5xx), (80.0, 10.0));
        assert_eq!(a.rate, Some(8.0));
        assert!((a.error_ratio() - 0.125).abs() < 1e-12);
        // Bucket deltas: ≤0.1: 0, ≤1: 40, +Inf: 50 → p50 = rank 25 in (0.1, 1]: 0.1 + 0.9 * 25/40.
        assert!((a.p50.unwrap() - (0.1 + 0.9 * 25.0 / 40.0)).abs() < 1e-12);
        // p99 = rank 49.5 falls in +Inf → highest finite bound.
        assert_eq!(a.p99, Some(1.0));
        let c = views.iter().find(|v| v.route == "/c").unwrap();
        assert_eq!(c.errors_5xx, 4.0);
        assert_eq!(changes.resets.len(), 1);
        assert!(changes.resets[0].contains("instance=2"));
        assert!(changes.vanished.iter().any(|k| k.contains("route=/b")));
        assert!(changes.vanished.iter().any(|k| k.contains("instance=2") && k.starts_with("http_request_duration_seconds")));
    }
}
