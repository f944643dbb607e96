//! The demo's traffic generator: Poisson arrivals at `rps` spread over the
//! routes by their traffic share and each route's traffic factor, served
//! in-process through [`DemoApi::serve`] so counters move with nobody calling.

use super::api::{ApiRequest, DemoApi};
use super::routes::ROUTES;
use rand::RngExt;
use rand_distr::{Distribution, Poisson};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};

/// Generator tick.
const TICK: Duration = Duration::from_millis(100);
/// Most generated requests in flight (hung requests hold their slot).
const MAX_IN_FLIGHT: usize = 5000;

const WORDS: [&str; 8] = [
    "shoes", "coffee", "laptop", "tent", "lamp", "socks", "bike", "desk",
];

/// Generates traffic until `shutdown` turns true.
pub async fn run(api: Arc<DemoApi>, rps: f64, mut shutdown: watch::Receiver<bool>) {
    if rps <= 0.0 {
        return;
    }
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => {}
        }
        while tasks.try_join_next().is_some() {}
        for route in &ROUTES {
            let factor = api.effects(route.template).traffic_factor;
            let mean = rps * route.traffic_share * factor * TICK.as_secs_f64();
            let requests = {
                let mut rng = rand::rng();
                let n = if mean > 0.0 {
                    Poisson::new(mean)
                        .map(|p| p.sample(&mut rng) as usize)
                        .unwrap_or(0)
                } else {
                    0
                };
                (0..n)
                    .map(|_| {
                        let delay =
                            Duration::from_micros(rng.random_range(0..TICK.as_micros() as u64));
                        let (path, query) = synthetic_path(route.template, &mut rng);
                        (delay, path, query)
                    })
                    .collect::<Vec<_>>()
            };
            for (delay, path, query) in requests {
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    tracing::debug!(
                        "traffic generator: {MAX_IN_FLIGHT} requests in flight, skipping"
                    );
                    break;
                };
                let api = api.clone();
                let method = route.method;
                tasks.spawn(async move {
                    let _permit = permit;
                    tokio::time::sleep(delay).await;
                    let req = ApiRequest {
                        method,
                        path: &path,
                        query: query.as_deref(),
                        accept: None,
                        body: b"{\"items\": 2}",
                    };
                    let _ = api.serve(req).await;
                });
            }
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

fn synthetic_path(template: &str, rng: &mut impl rand::Rng) -> (String, Option<String>) {
    match template {
        // ~5% of user lookups miss (ids above 10 000 do not exist).
        "/api/users/{id}" => (format!("/api/users/{}", rng.random_range(1..10_500)), None),
        "/api/search" => (
            template.to_string(),
            Some(format!("q={}", WORDS[rng.random_range(0..WORDS.len())])),
        ),
        _ => (template.to_string(), None),
    }
}
