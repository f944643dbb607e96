//! The demo API's behaviour, independent of transport: which route a request
//! hits, what the scenario and the runtime faults do to it, how long it takes,
//! what it answers, and the `/_demo/fault` control surface. The HTTP server and
//! the traffic generator both go through [`DemoApi::serve`].

use super::metrics::{Format, Registry};
use super::routes::{self, Route};
use crate::core::scenario::{Fault, Rename, RouteEffects, RouteSelector, Scenario};
use crate::core::units::{Factor, HumanDuration, Percent, Ramp};
use bytes::Bytes;
use rand::RngExt;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a hung request is held before the connection is dropped without an answer.
pub const HANG_LIMIT: Duration = Duration::from_secs(120);

/// A request as the demo API sees it.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path without the query.
    pub path: &'a str,
    /// Query string, without `?`.
    pub query: Option<&'a str>,
    /// `Accept` header.
    pub accept: Option<&'a str>,
    /// Request body.
    pub body: &'a [u8],
}

/// An answer to send back.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body.
    pub body: Bytes,
}

impl ApiResponse {
    fn json(status: u16, body: &Value) -> Self {
        ApiResponse {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: Bytes::from(body.to_string()),
        }
    }
}

#[derive(Debug, Default)]
struct RuntimeFaults {
    faults: Vec<Fault>,
    scenario_cleared: bool,
    /// Requests failed so far by each `fail_requests` fault, by fault name.
    forced: std::collections::HashMap<String, u64>,
}

/// The demo API: scenario, runtime faults and metrics.
#[derive(Debug)]
pub struct DemoApi {
    scenario: Scenario,
    started: Instant,
    runtime: Mutex<RuntimeFaults>,
    /// Request metrics, exposed on `/metrics`.
    pub metrics: Registry,
}

/// Decrements the in-flight gauge when a request ends, however it ends.
struct InFlight<'a>(&'a Registry);
impl<'a> InFlight<'a> {
    fn new(r: &'a Registry) -> Self {
        r.in_flight(1);
        InFlight(r)
    }
}
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight(-1);
    }
}

enum Plan {
    Answer {
        status: u16,
        body: Value,
        retry_after: Option<u64>,
        latency: Duration,
    },
    Hang,
}

impl DemoApi {
    /// An API playing `scenario`, timed from now.
    pub fn new(scenario: Scenario) -> Self {
        DemoApi {
            scenario,
            started: Instant::now(),
            runtime: Mutex::new(RuntimeFaults::default()),
            metrics: Registry::new(&routes::templates()),
        }
    }

    /// The scenario being played.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Time since the scenario started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn runtime<T>(&self, f: impl FnOnce(&mut RuntimeFaults) -> T) -> T {
        f(&mut self.runtime.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// What is being done to `route` now: the scenario (unless cleared) plus runtime faults.
    pub fn effects(&self, route: &str) -> RouteEffects {
        let elapsed = self.elapsed();
        let (cleared, manual) = self.runtime(|r| (r.scenario_cleared, r.faults.clone()));
        let mut fx = if cleared {
            RouteEffects::calm()
        } else {
            self.scenario.effects_at(route, elapsed)
        };
        for f in manual.iter().filter(|f| f.route.matches(route)) {
            fx.merge(&f.name, f, 1.0);
        }
        fx
    }

    /// Answers one request; `None` when it hung and is dropped without an answer.
    pub async fn serve(&self, req: ApiRequest<'_>) -> Option<ApiResponse> {
        match req.path {
            "/metrics" => {
                let format = Format::negotiate(req.accept);
                return Some(ApiResponse {
                    status: 200,
                    content_type: format.content_type(),
                    headers: Vec::new(),
                    body: Bytes::from(self.metrics.render(format)),
                });
            }
            "/_demo/fault" => return Some(self.control(req.method, req.body)),
            _ => {}
        }
        let Some((route, id)) = routes::match_path(req.path) else {
            return Some(ApiResponse::json(
                404,
                &json!({"error": format!("no route {}", req.path)}),
            ));
        };
        let method = if req.method == route.method {
            route.method
        } else {
            "OTHER"
        };
        let _guard = InFlight::new(&self.metrics);
        let started = Instant::now();
        let plan = self.plan(route, id, req, method);
        let (status, body, retry_after) = match plan {
            Plan::Hang => {
                tokio::time::sleep(HANG_LIMIT).await;
                return None;
            }
            Plan::Answer {
                status,
                body,
                retry_after,
                latency,
            } => {
                tokio::time::sleep(latency).await;
                (status, body, retry_after)
            }
        };
        self.metrics
            .record(route.template, method, status, started.elapsed());
        let mut resp = ApiResponse::json(status, &body);
        if let Some(s) = retry_after {
            resp.headers.push(("retry-after", s.to_string()));
        }
        Some(resp)
    }

    fn plan(&self, route: &Route, id: Option<&str>, req: ApiRequest<'_>, method: &str) -> Plan {
        let fx = self.effects(route.template);
        let mut rng = rand::rng();
        let latency = route.sample_latency(fx.latency_factor, &mut rng);
        let answer =
            |status: u16, body: Value, retry_after: Option<u64>, latency: Duration| Plan::Answer {
                status,
                body,
                retry_after,
                latency,
            };
        if method == "OTHER" {
            return answer(
                405,
                json!({"error": format!("use {}", route.method)}),
                None,
                Duration::ZERO,
            );
        }
        if fx.outage {
            return answer(503, routes::error_body(503), None, Duration::from_millis(2));
        }
        if self.take_forced_failure(&fx) {
            return answer(500, routes::error_body(500), None, latency);
        }
        if rng.random::<f64>() < fx.hang {
            return Plan::Hang;
        }
        if rng.random::<f64>() < fx.error_rate {
            let status = fx
                .statuses
                .get(rng.random_range(0..fx.statuses.len().max(1)))
                .copied()
                .unwrap_or(500);
            let retry = (status == 429).then(|| fx.retry_after_s.unwrap_or(1));
            return answer(status, routes::error_body(status), retry, latency);
        }
        if rng.random::<f64>() < route.base_error_rate {
            return answer(500, routes::error_body(500), None, latency);
        }
        let (status, mut body) = route.success(id, req.query, &mut rng);
        if let Some(Rename { from, to }) = &fx.rename {
            routes::rename_field(&mut body, from, to);
        }
        answer(status, body, None, latency)
    }

    /// Whether a `fail_requests` fault in force still has failures to hand out (and takes one).
    fn take_forced_failure(&self, fx: &RouteEffects) -> bool {
        if fx.fail_requests.is_empty() {
            return false;
        }
        self.runtime(|r| {
            fx.fail_requests.iter().any(|(name, budget)| {
                let used = r.forced.entry(name.clone()).or_default();
                let take = *used < *budget;
                *used += u64::from(take);
                take
            })
        })
    }

    /// `GET` shows the faults, `POST` applies one to a route, `DELETE` clears them all.
    fn control(&self, method: &str, body: &[u8]) -> ApiResponse {
        match method {
            "GET" => ApiResponse::json(200, &self.fault_state()),
            "DELETE" => {
                self.clear_faults();
                ApiResponse::json(200, &self.fault_state())
            }
            "POST" => match parse_fault_request(body) {
                Ok(fault) => {
                    self.apply_fault(fault);
                    ApiResponse::json(200, &self.fault_state())
                }
                Err(e) => ApiResponse::json(400, &json!({"error": e})),
            },
            _ => ApiResponse::json(405, &json!({"error": "use GET, POST or DELETE"})),
        }
    }

    /// Applies a runtime fault, replacing any earlier one on the same route.
    pub fn apply_fault(&self, fault: Fault) {
        self.runtime(|r| {
            r.faults.retain(|f| f.route != fault.route);
            r.faults.push(fault);
        });
    }

    /// Clears the runtime faults and stops the scenario's faults.
    pub fn clear_faults(&self) {
        self.runtime(|r| {
            r.faults.clear();
            r.scenario_cleared = true;
        });
    }

    /// The faults in force, as JSON.
    pub fn fault_state(&self) -> Value {
        let routes: BTreeMap<&str, RouteEffects> = routes::ROUTES
            .iter()
            .map(|r| (r.template, self.effects(r.template)))
            .filter(|(_, fx)| !fx.active.is_empty())
            .collect();
        let cleared = self.runtime(|r| r.scenario_cleared);
        json!({
            "scenario": self.scenario.name,
            "elapsed_s": self.elapsed().as_secs(),
            "scenario_cleared": cleared,
            "routes": routes,
        })
    }
}

/// The body of `POST /_demo/fault`. Rates are fractions (0 to 1).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    #[serde(default)]
    route: Option<String>,
    #[serde(default)]
    error_rate: Option<f64>,
    #[serde(default)]
    status: Option<Value>,
    #[serde(default)]
    latency_factor: Option<f64>,
    #[serde(default)]
    hang: Option<f64>,
    #[serde(default)]
    retry_after_s: Option<u64>,
    #[serde(default)]
    traffic_factor: Option<f64>,
    #[serde(default)]
    outage: bool,
    #[serde(default)]
    rename_field: Option<Rename>,
}

fn parse_fault_request(body: &[u8]) -> Result<Fault, String> {
    let req: FaultRequest = serde_json::from_slice(body)
        .map_err(|e| format!("invalid fault JSON: {e}; expected e.g. {{\"route\": \"/api/payments\", \"error_rate\": 1.0, \"status\": 503}}"))?;
    let route = match req.route.as_deref().unwrap_or("*") {
        "*" => RouteSelector::All,
        r => match routes::match_path(r) {
            Some((route, _)) => RouteSelector::Route(route.template.to_string()),
            None => {
                return Err(format!(
                    "unknown route `{r}`: use one of {} or *",
                    routes::templates().join(", ")
                ));
            }
        },
    };
    let share = |name: &str, v: Option<f64>| -> Result<Option<Ramp<Percent>>, String> {
        match v {
            None => Ok(None),
            Some(x) if (0.0..=1.0).contains(&x) => Ok(Some(Ramp::step(Percent::from_fraction(x)))),
            Some(x) => Err(format!("{name} is {x}: give a fraction from 0 to 1")),
        }
    };
    let factor = |name: &str, v: Option<f64>| -> Result<Option<Ramp<Factor>>, String> {
        match v {
            None => Ok(None),
            Some(x) => Factor::new(x)
                .map(|f| Some(Ramp::step(f)))
                .ok_or_else(|| format!("{name} is {x}: give a number from 0 to 10000")),
        }
    };
    let status: Vec<u16> = match &req.status {
        None => vec![500],
        Some(Value::Number(n)) => vec![n.as_u64().unwrap_or(0).try_into().unwrap_or(0)],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_u64().and_then(|n| u16::try_from(n).ok()).unwrap_or(0))
            .collect(),
        Some(other) => return Err(format!("status {other}: give a code or a list of codes")),
    };
    if status.is_empty() || status.iter().any(|s| !(400..=599).contains(s)) {
        return Err("status: injected errors use 4xx or 5xx codes, e.g. 503 or [500, 503]".into());
    }
    let fault = Fault {
        name: format!("manual {}", req.route.as_deref().unwrap_or("*")),
        route,
        start: HumanDuration::default(),
        ramp: HumanDuration::default(),
        end: None,
        error_rate: share("error_rate", req.error_rate)?,
        retry_after: req
            .retry_after_s
            .map(|s| HumanDuration(Duration::from_secs(s))),
        status,
        latency_factor: factor("latency_factor", req.latency_factor)?,
        tail_factor: None,
        hang: share("hang", req.hang)?,
        gateway_timeout: None,
        reaches: Default::default(),
        rename_field: req.rename_field,
        traffic_factor: factor("traffic_factor", req.traffic_factor)?,
        outage: req.outage,
        fail_requests: None,
        repeat: None,
        periods: Vec::new(),
        incident: true,
        detect_within: None,
    };
    Ok(fault)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn calm() -> DemoApi {
        DemoApi::new(Scenario::parse(Path::new("calm.yaml"), "name: calm\n").unwrap())
    }

    fn get(path: &str) -> ApiRequest<'_> {
        ApiRequest {
            method: "GET",
            path,
            query: None,
            accept: None,
            body: b"",
        }
    }

    #[tokio::test(start_paused = true)]
    async fn outage_fault_answers_503_and_is_counted() {
        let api = calm();
        api.apply_fault(
            parse_fault_request(br#"{"route": "/api/payments", "outage": true}"#).unwrap(),
        );
        let r = api.serve(get("/api/payments")).await.unwrap();
        assert_eq!(r.status, 503);
        let snap = api.metrics.snapshot();
        assert_eq!(snap.requests.get(&("/api/payments", "GET", 503)), Some(&1));
        api.clear_faults();
        assert!(api.effects("/api/payments").active.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_sends_retry_after() {
        let api = calm();
        api.apply_fault(
            parse_fault_request(br#"{"route": "/api/search", "error_rate": 1.0, "status": 429, "retry_after_s": 7}"#)
                .unwrap(),
        );
        let r = api.serve(get("/api/search")).await.unwrap();
        assert_eq!(r.status, 429);
        assert_eq!(r.headers, vec![("retry-after", "7".to_string())]);
    }

    #[tokio::test(start_paused = true)]
    async fn schema_drift_renames_the_field() {
        let api = calm();
        api.apply_fault(
            parse_fault_request(
                br#"{"route": "/api/payments", "rename_field": {"from": "status", "to": "state"}}"#,
            )
            .unwrap(),
        );
        let mut drifted = 0;
        for _ in 0..50 {
            let r = api.serve(get("/api/payments")).await.unwrap();
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            if r.status == 200 {
                assert!(v.get("status").is_none() && v.get("state").is_some());
                drifted += 1;
            }
        }
        assert!(drifted > 40);
    }

    #[test]
    fn bad_fault_requests_say_what_is_wrong() {
        assert!(
            parse_fault_request(b"{")
                .unwrap_err()
                .contains("invalid fault JSON")
        );
        assert!(
            parse_fault_request(br#"{"route": "/x", "outage": true}"#)
                .unwrap_err()
                .contains("unknown route")
        );
        assert!(
            parse_fault_request(br#"{"error_rate": 3}"#)
                .unwrap_err()
                .contains("fraction")
        );
        assert!(
            parse_fault_request(br#"{"error_rate": 1, "status": 200}"#)
                .unwrap_err()
                .contains("4xx or 5xx")
        );
        assert!(
            parse_fault_request(br#"{"eror_rate": 1}"#)
                .unwrap_err()
                .contains("unknown field")
        );
    }
}
