//! The embedded demo API: a small shop API on 127.0.0.1 with realistic
//! latency, `/metrics`, a traffic generator and scripted fault scenarios.
//! `ic demo` and the tests of later layers run against it.

pub mod api;
pub mod metrics;
pub mod routes;
pub mod server;
pub mod traffic;

use crate::core::scenario::Scenario;
use crate::core::yaml::{self, YamlError};
use api::DemoApi;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The scenarios shipped in the binary: (name, YAML text).
pub const BUNDLED_SCENARIOS: [(&str, &str); 6] = [
    ("calm", include_str!("../../assets/scenarios/calm.yaml")),
    (
        "payments-pool-exhaustion",
        include_str!("../../assets/scenarios/payments-pool-exhaustion.yaml"),
    ),
    (
        "search-latency-regression",
        include_str!("../../assets/scenarios/search-latency-regression.yaml"),
    ),
    (
        "partner-retry-storm",
        include_str!("../../assets/scenarios/partner-retry-storm.yaml"),
    ),
    (
        "schema-drift",
        include_str!("../../assets/scenarios/schema-drift.yaml"),
    ),
    (
        "full-outage",
        include_str!("../../assets/scenarios/full-outage.yaml"),
    ),
];

/// The scenario `ic demo` plays when none is named.
pub const DEFAULT_SCENARIO: &str = "payments-pool-exhaustion";

/// Default generated load, requests per second.
pub const DEFAULT_RPS: f64 = 80.0;

/// Loads a scenario by bundled name or by file path, and checks its routes exist in the demo API.
pub fn load_scenario(name_or_path: &str) -> Result<Scenario, YamlError> {
    let scenario =
        if let Some((name, text)) = BUNDLED_SCENARIOS.iter().find(|(n, _)| *n == name_or_path) {
            let file = PathBuf::from(format!("assets/scenarios/{name}.yaml"));
            Scenario::parse(&file, text)?
        } else if Path::new(name_or_path).is_file() {
            crate::files::load_scenario(Path::new(name_or_path))?
        } else {
            let names: Vec<&str> = BUNDLED_SCENARIOS.iter().map(|(n, _)| *n).collect();
            let hint = match yaml::nearest(name_or_path, &names) {
                Some(n) => format!("did you mean `{n}`? bundled: {}", names.join(", ")),
                None => format!(
                    "bundled: {}; or give the path of a scenario file",
                    names.join(", ")
                ),
            };
            return Err(YamlError::whole_file(
                Path::new(name_or_path),
                "no bundled scenario has this name and no such file exists",
                Some(hint),
            ));
        };
    scenario.check_routes(Path::new(name_or_path), &routes::templates())?;
    Ok(scenario)
}

/// A running demo API: server plus traffic generator.
pub struct DemoServer {
    addr: SocketAddr,
    api: Arc<DemoApi>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl DemoServer {
    /// Binds 127.0.0.1:`port` and starts serving `scenario` with `rps` of generated traffic.
    pub async fn start(scenario: Scenario, port: u16, rps: f64) -> std::io::Result<DemoServer> {
        let (listener, addr) = server::bind(port).await?;
        let api = Arc::new(DemoApi::new(scenario));
        let (shutdown, rx) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(server::run(listener, api.clone(), rx.clone())),
            tokio::spawn(traffic::run(api.clone(), rps, rx)),
        ];
        tracing::info!(
            "demo API on http://{addr} playing `{}`",
            api.scenario().name
        );
        Ok(DemoServer {
            addr,
            api,
            shutdown,
            tasks,
        })
    }

    /// Where the API listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The API state (metrics, faults).
    pub fn api(&self) -> &Arc<DemoApi> {
        &self.api
    }

    /// Stops accepting, drops open connections and stops the generator.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_scenario_loads() {
        for (name, _) in BUNDLED_SCENARIOS {
            let s = load_scenario(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(s.name, name);
        }
    }

    #[test]
    fn unknown_scenario_names_the_nearest() {
        let e = load_scenario("ful-outage").unwrap_err();
        assert!(e.hint.unwrap().starts_with("did you mean `full-outage`?"));
    }

    #[test]
    fn pool_exhaustion_crosses_one_percent_within_thirty_seconds() {
        let s = load_scenario("payments-pool-exhaustion").unwrap();
        let at = |t| {
            s.effects_at("/api/payments", std::time::Duration::from_secs(t))
                .error_rate
        };
        assert!(at(30) > 0.01, "{}", at(30));
        assert!(at(0) < 0.01);
        let peak = (0..3600).map(at).fold(0.0, f64::max);
        assert!((peak - 0.15).abs() < 1e-9, "peak {peak}");
    }
}
