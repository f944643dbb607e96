//! The demo API's routes: how each behaves at baseline (latency distribution,
//! error rate, share of generated traffic) and the JSON it answers with.

use rand::RngExt;
use rand_distr::{Distribution, LogNormal};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// One route of the demo API.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// Route template, also the `route` label in `/metrics`.
    pub template: &'static str,
    /// The method the route answers.
    pub method: &'static str,
    /// Median latency.
    pub median_ms: f64,
    /// Log-normal shape: larger means a longer tail.
    pub sigma: f64,
    /// Baseline share of 500s.
    pub base_error_rate: f64,
    /// Share of the generated traffic.
    pub traffic_share: f64,
}

/// Every route the demo API serves, in display order.
pub const ROUTES: [Route; 5] = [
    Route {
        template: "/api/payments",
        method: "GET",
        median_ms: 45.0,
        sigma: 0.35,
        base_error_rate: 0.002,
        traffic_share: 0.30,
    },
    Route {
        template: "/api/orders",
        method: "POST",
        median_ms: 80.0,
        sigma: 0.40,
        base_error_rate: 0.003,
        traffic_share: 0.15,
    },
    Route {
        template: "/api/search",
        method: "GET",
        median_ms: 30.0,
        sigma: 0.50,
        base_error_rate: 0.001,
        traffic_share: 0.30,
    },
    Route {
        template: "/api/users/{id}",
        method: "GET",
        median_ms: 15.0,
        sigma: 0.30,
        base_error_rate: 0.001,
        traffic_share: 0.20,
    },
    Route {
        template: "/healthz",
        method: "GET",
        median_ms: 2.0,
        sigma: 0.20,
        base_error_rate: 0.0,
        traffic_share: 0.05,
    },
];

/// The route templates, for validating scenarios.
pub fn templates() -> Vec<&'static str> {
    ROUTES.iter().map(|r| r.template).collect()
}

/// Matches a request path to a route; returns the route and the `{id}` if any.
pub fn match_path(path: &str) -> Option<(&'static Route, Option<&str>)> {
    if let Some(id) = path.strip_prefix("/api/users/") {
        return (!id.is_empty() && !id.contains('/')).then_some((&ROUTES[3], Some(id)));
    }
    ROUTES
        .iter()
        .find(|r| r.template == path)
        .map(|r| (r, None))
}

impl Route {
    /// A latency drawn from the route's log-normal distribution, times `factor`.
    pub fn sample_latency(&self, factor: f64, rng: &mut impl rand::Rng) -> Duration {
        let ms = LogNormal::new(self.median_ms.ln(), self.sigma)
            .map(|d| d.sample(rng))
            .unwrap_or(self.median_ms);
        Duration::from_secs_f64((ms * factor.max(0.0)).min(60_000.0) / 1000.0)
    }

    /// The successful answer: status and JSON body.
    pub fn success(
        &self,
        id: Option<&str>,
        query: Option<&str>,
        rng: &mut impl rand::Rng,
    ) -> (u16, Value) {
        match self.template {
            "/api/payments" => (
                200,
                json!({"status": "ok", "payment_id": format!("pay_{:06}", rng.random_range(0..1_000_000)),
                       "amount_cents": rng.random_range(100..50_000), "currency": "EUR"}),
            ),
            "/api/orders" => (
                201,
                json!({"status": "created", "order_id": format!("ord_{:06}", rng.random_range(0..1_000_000)),
                       "items": rng.random_range(1..6)}),
            ),
            "/api/search" => {
                let q = query
                    .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("q=")))
                    .unwrap_or("");
                let hits = if q.is_empty() {
                    0
                } else {
                    rng.random_range(0..25)
                };
                (200, json!({"status": "ok", "query": q, "hits": hits}))
            }
            "/api/users/{id}" => match id.and_then(|i| i.parse::<u32>().ok()) {
                Some(n) if (1..=10_000).contains(&n) => (
                    200,
                    json!({"status": "ok", "id": n, "name": format!("user{n}"), "plan": "pro"}),
                ),
                _ => (404, json!({"error": "user not found"})),
            },
            _ => (200, json!({"status": "ok"})),
        }
    }
}

/// The JSON body of an error answer.
pub fn error_body(status: u16) -> Value {
    let msg = match status {
        429 => "rate limit exceeded, retry later",
        500 => "internal error: could not acquire a database connection",
        502 => "bad gateway",
        503 => "service unavailable",
        504 => "upstream timed out",
        401 => "missing or invalid credentials",
        403 => "forbidden",
        _ => "request failed",
    };
    json!({"error": msg, "status": status})
}

/// Renames a top-level field of a JSON object (response-schema drift).
pub fn rename_field(body: &mut Value, from: &str, to: &str) {
    if let Value::Object(map) = body
        && let Some(v) = map.remove(from)
    {
        let mut renamed = Map::with_capacity(map.len() + 1);
        renamed.insert(to.to_string(), v);
        renamed.append(map);
        *map = renamed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_their_templates() {
        assert_eq!(
            match_path("/api/payments").unwrap().0.template,
            "/api/payments"
        );
        let (r, id) = match_path("/api/users/42").unwrap();
        assert_eq!((r.template, id), ("/api/users/{id}", Some("42")));
        assert!(match_path("/api/users/").is_none());
        assert!(match_path("/nope").is_none());
    }

    #[test]
    fn traffic_shares_add_up_to_one() {
        let total: f64 = ROUTES.iter().map(|r| r.traffic_share).sum();
        assert!((total - 1.0).abs() < 1e-9);
    }

    #[test]
    fn latency_median_is_near_the_configured_one() {
        let mut rng = rand::rng();
        let route = &ROUTES[0];
        let mut v: Vec<f64> = (0..2001)
            .map(|_| route.sample_latency(1.0, &mut rng).as_secs_f64() * 1000.0)
            .collect();
        v.sort_by(f64::total_cmp);
        let median = v[1000];
        assert!((35.0..57.0).contains(&median), "median {median}");
    }

    #[test]
    fn rename_moves_the_value() {
        let mut b = json!({"status": "ok", "x": 1});
        rename_field(&mut b, "status", "state");
        assert_eq!(b, json!({"state": "ok", "x": 1}));
    }
}
