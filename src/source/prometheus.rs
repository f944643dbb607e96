//! The scale-out source: a Prometheus-compatible query API (Prometheus, Thanos,
//! Mimir, VictoriaMetrics) via `/api/v1/query` and `/api/v1/query_range`.
//! Default PromQL gives per-route request rate, 5xx and 4xx rates and
//! latency quantiles over the configured metric names; each query can be
//! overridden. Results come back as the same `RouteView`s a scrape gives.

use crate::config::PrometheusSource;
use crate::core::metrics::RouteView;
use crate::core::sample::FailureClass;
use crate::source::scrape::{self, ScrapeError};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The highest per-second figure taken from a server's history (a billion
/// requests a second; anything above is a server's bug or malice).
const MAX_RATE: f64 = 1e9;

/// The PromQL behind each per-route figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queries {
    /// Requests per second by route.
    pub rate: String,
    /// 5xx per second by route.
    pub errors_5xx: String,
    /// 4xx per second by route.
    pub errors_4xx: String,
    /// Median latency by route.
    pub p50: String,
    /// 95th percentile latency by route.
    pub p95: String,
    /// 99th percentile latency by route.
    pub p99: String,
}

impl Queries {
    /// The default queries over the given names and window (e.g. `1m`).
    pub fn defaults(
        requests: &str,
        duration: &str,
        route: &str,
        status: &str,
        window: &str,
    ) -> Queries {
        let q = |p: f64| {
            format!(
                "histogram_quantile({p}, sum by (le, {route}) (rate({duration}_bucket[{window}])))"
            )
        };
        Queries {
            rate: format!("sum by ({route}) (rate({requests}[{window}]))"),
            errors_5xx: format!(
                "sum by ({route}) (rate({requests}{{{status}=~\"5..\"}}[{window}]))"
            ),
            errors_4xx: format!(
                "sum by ({route}) (rate({requests}{{{status}=~\"4..\"}}[{window}]))"
            ),
            p50: q(0.5),
            p95: q(0.95),
            p99: q(0.99),
        }
    }
}

/// A client of one query API.
#[derive(Debug, Clone)]
pub struct PromClient {
    client: reqwest::Client,
    base: url::Url,
    auth: Auth,
    /// The queries `route_views` runs.
    pub queries: Queries,
    route_label: String,
}

#[derive(Debug, Clone)]
enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
}

#[derive(Debug, Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<ApiData>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct VectorItem {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

#[derive(Debug, Deserialize)]
struct MatrixItem {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

/// One series of an instant query.
pub type Instant = (BTreeMap<String, String>, f64);
/// One series of a range query: labels and (unix seconds, value) points.
pub type Range = (BTreeMap<String, String>, Vec<(f64, f64)>);

fn number(s: &str) -> f64 {
    match s {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or(f64::NAN),
    }
}

impl PromClient {
    /// A client for the configured source.
    pub fn new(src: &PrometheusSource) -> Result<PromClient, ScrapeError> {
        let auth = match (&src.bearer_token, &src.basic_auth) {
            (Some(t), _) => Auth::Bearer(t.expose().to_string()),
            (None, Some(b)) => Auth::Basic(
                b.username.expose().to_string(),
                b.password.expose().to_string(),
            ),
            _ => Auth::None,
        };
        let names = &src.metrics;
        let route_label = names.route_label.clone();
        let mut queries = Queries::defaults(
            &names.requests,
            &names.duration,
            &route_label,
            &names.status_label,
            &src.window.to_string(),
        );
        let o = &src.queries;
        for (slot, custom) in [
            (&mut queries.rate, &o.rate),
            (&mut queries.errors_5xx, &o.errors_5xx),
            (&mut queries.errors_4xx, &o.errors_4xx),
            (&mut queries.p50, &o.p50),
            (&mut queries.p95, &o.p95),
            (&mut queries.p99, &o.p99),
        ] {
            if let Some(c) = custom {
                *slot = c.clone();
            }
        }
        Ok(PromClient {
            client: scrape::client(src.timeout.get())?,
            base: src.url.expose().clone(),
            auth,
            queries,
            route_label,
        })
    }

    async fn call(&self, path: &str, params: &[(&str, String)]) -> Result<ApiData, ScrapeError> {
        let url = self.base.join(path).map_err(|e| ScrapeError {
            class: FailureClass::Connect,
            message: format!("bad Prometheus URL {}: {e}", self.base),
        })?;
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in params {
                form.append_pair(k, v);
            }
            form.finish()
        };
        let mut req = self
            .client
            .post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        req = match &self.auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
        };
        let shown = format!(
            "{}{}",
            self.base.as_str().trim_end_matches('/'),
            path.trim_start_matches('.')
        );
        let resp = req.send().await.map_err(|e| ScrapeError {
            class: if e.is_timeout() {
                FailureClass::Timeout
            } else {
                FailureClass::Connect
            },
            message: format!("{shown}: {e}"),
        })?;
        let status = resp.status().as_u16();
        let body: ApiResponse = resp.json().await.map_err(|e| ScrapeError {
            class: match status {
                401 | 403 => FailureClass::Auth,
                500..=599 => FailureClass::Http5xx,
                _ => FailureClass::BodyMismatch,
            },
            message: format!("{shown}: HTTP {status}, not a Prometheus API answer ({e})"),
        })?;
        if body.status != "success" {
            return Err(ScrapeError {
                class: match status {
                    401 | 403 => FailureClass::Auth,
                    500..=599 => FailureClass::Http5xx,
                    _ => FailureClass::Http4xx,
                },
                message: format!(
                    "{shown}: {} error: {}",
                    body.error_type.unwrap_or_default(),
                    body.error.unwrap_or_default()
                ),
            });
        }
        body.data.ok_or_else(|| ScrapeError {
            class: FailureClass::BodyMismatch,
            message: format!("{shown}: success without data"),
        })
    }

    /// Runs an instant query; a vector or scalar result.
    pub async fn query(&self, promql: &str) -> Result<Vec<Instant>, ScrapeError> {
        let data = self
            .call("./api/v1/query", &[("query", promql.to_string())])
            .await?;
        let bad = |e: String| ScrapeError {
            class: FailureClass::BodyMismatch,
            message: format!("query {promql}: {e}"),
        };
        match data.result_type.as_str() {
            "vector" => {
                let items: Vec<VectorItem> =
                    serde_json::from_value(data.result).map_err(|e| bad(e.to_string()))?;
                Ok(items
                    .into_iter()
                    .map(|i| (i.metric, number(&i.value.1)))
                    .collect())
            }
            "scalar" => {
                let (_, v): (f64, String) =
                    serde_json::from_value(data.result).map_err(|e| bad(e.to_string()))?;
                Ok(vec![(BTreeMap::new(), number(&v))])
            }
            other => Err(bad(format!("expected an instant vector, got a {other}"))),
        }
    }

    /// Runs a range query from `start` to `end` (unix seconds) every `step`.
    pub async fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step: Duration,
    ) -> Result<Vec<Range>, ScrapeError> {
        let params = [
            ("query", promql.to_string()),
            ("start", format!("{start:.3}")),
            ("end", format!("{end:.3}")),
            ("step", format!("{}", step.as_secs_f64().max(0.001))),
        ];
        let data = self.call("./api/v1/query_range", &params).await?;
        let items: Vec<MatrixItem> =
            serde_json::from_value(data.result).map_err(|e| ScrapeError {
                class: FailureClass::BodyMismatch,
                message: format!("query_range {promql}: {e}"),
            })?;
        Ok(items
            .into_iter()
            .map(|i| {
                (
                    i.metric,
                    i.values.into_iter().map(|(t, v)| (t, number(&v))).collect(),
                )
            })
            .collect())
    }

    /// The last `span` before `now` (Unix seconds) of per-route figures, one
    /// entry a minute, oldest first: (the minute's start, views whose counts
    /// are that minute's — rate × 60). It ends with the minute before `now`'s,
    /// so live views never count a minute twice. Baselines for a cold start.
    pub async fn history(
        &self,
        now: f64,
        span: Duration,
    ) -> Result<Vec<(i64, Vec<RouteView>)>, ScrapeError> {
        const STEP: f64 = 60.0;
        let end = (now / STEP).floor() * STEP;
        let start = end - span.as_secs_f64().max(STEP);
        let step = Duration::from_secs(60);
        let q = &self.queries;
        let (rate, e5, e4, p50, p95, p99) = tokio::try_join!(
            self.query_range(&q.rate, start, end, step),
            self.query_range(&q.errors_5xx, start, end, step),
            self.query_range(&q.errors_4xx, start, end, step),
            self.query_range(&q.p50, start, end, step),
            self.query_range(&q.p95, start, end, step),
            self.query_range(&q.p99, start, end, step),
        )?;
        // A point at t is the rate over the window ending at t: the minute before t.
        // Points outside what was asked for (a server's bug or malice) are dropped.
        let minute_of = |t: f64| (t / STEP).round() as i64 - 1;
        let asked = |t: f64, v: f64| (start..=end).contains(&t) && (0.0..=MAX_RATE).contains(&v);
        let mut minutes: BTreeMap<i64, BTreeMap<String, RouteView>> = BTreeMap::new();
        for (labels, points) in rate {
            let route = self.route_of(&labels);
            for (t, v) in points.into_iter().filter(|(t, v)| asked(*t, *v)) {
                minutes.entry(minute_of(t)).or_default().insert(
                    route.clone(),
                    RouteView {
                        route: route.clone(),
                        requests: v * STEP,
                        errors_5xx: 0.0,
                        errors_4xx: 0.0,
                        rate: Some(v),
                        span: Some(STEP),
                        p50: None,
                        p95: None,
                        p99: None,
                        by_label: Vec::new(),
                    },
                );
            }
        }
        let set = |minutes: &mut BTreeMap<i64, BTreeMap<String, RouteView>>,
                   series: Vec<Range>,
                   put: fn(&mut RouteView, f64)| {
            for (labels, points) in series {
                let route = self.route_of(&labels);
                for (t, v) in points.into_iter().filter(|(t, v)| asked(*t, *v)) {
                    if let Some(view) = minutes
                        .get_mut(&minute_of(t))
                        .and_then(|m| m.get_mut(&route))
                    {
                        put(view, v);
                    }
                }
            }
        };
        set(&mut minutes, e5, |r, v| {
            r.errors_5xx = (v * STEP).min(r.requests)
        });
        set(&mut minutes, e4, |r, v| {
            r.errors_4xx = (v * STEP).min(r.requests)
        });
        set(&mut minutes, p50, |r, v| r.p50 = Some(v));
        set(&mut minutes, p95, |r, v| r.p95 = Some(v));
        set(&mut minutes, p99, |r, v| r.p99 = Some(v));
        Ok(minutes
            .into_iter()
            .map(|(m, routes)| (m * 60, routes.into_values().collect()))
            .collect())
    }

    /// The route a series is about (`(all)` without the route label).
    fn route_of(&self, labels: &BTreeMap<String, String>) -> String {
        labels
            .get(&self.route_label)
            .cloned()
            .unwrap_or_else(|| "(all)".into())
    }

    /// Per-route rate, 5xx / 4xx and quantiles now, as `RouteView`s (requests = rate).
    pub async fn route_views(&self) -> Result<Vec<RouteView>, ScrapeError> {
        let by_route = |rows: Vec<Instant>| -> HashMap<String, f64> {
            rows.into_iter()
                .map(|(m, v)| (self.route_of(&m), v))
                .collect()
        };
        let q = &self.queries;
        let (rate, e5, e4, p50, p95, p99) = tokio::try_join!(
            self.query(&q.rate),
            self.query(&q.errors_5xx),
            self.query(&q.errors_4xx),
            self.query(&q.p50),
            self.query(&q.p95),
            self.query(&q.p99),
        )?;
        let (rate, e5, e4) = (by_route(rate), by_route(e5), by_route(e4));
        let (p50, p95, p99) = (by_route(p50), by_route(p95), by_route(p99));
        let finite =
            |m: &HashMap<String, f64>, r: &str| m.get(r).copied().filter(|v| v.is_finite());
        let mut routes: Vec<&String> = rate.keys().collect();
        routes.sort();
        Ok(routes
            .into_iter()
            .map(|r| RouteView {
                route: r.clone(),
                requests: rate[r],
                errors_5xx: e5.get(r).copied().unwrap_or(0.0),
                errors_4xx: e4.get(r).copied().unwrap_or(0.0),
                rate: Some(rate[r]),
                span: None,
                p50: finite(&p50, r),
                p95: finite(&p95, r),
                p99: finite(&p99, r),
                by_label: Vec::new(),
            })
            .collect())
    }
}
