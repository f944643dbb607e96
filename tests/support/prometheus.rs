//! A real Prometheus (Debian's `prometheus`) on 127.0.0.1 for the tests: started
//! with a config and rule files in a temp dir (and, when asked, a past
//! backfilled by `promtool`), waited on until ready, queried
//! through its HTTP API, reloaded after a rule file changes, killed when dropped.

use super::{free_port, http};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    /// Its port.
    pub port: u16,
    /// Its base URL.
    pub url: String,
    dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus with `config` (its `prometheus.yml`) and `files` (name,
    /// text) beside it; `None`, with a printed reason, when it is not installed,
    /// unless `IC_REQUIRE_PROMETHEUS=1`, which makes that a failure.
    pub fn start(config: &str, files: &[(&str, &str)]) -> Option<Prometheus> {
        Prometheus::start_with_past(config, files, None)
    }

    /// As [`Prometheus::start`], its storage first filled with `past`, an
    /// OpenMetrics text with timestamps (`promtool tsdb create-blocks-from
    /// openmetrics`): hours of history a test cannot wait for.
    pub fn start_with_past(
        config: &str,
        files: &[(&str, &str)],
        past: Option<&str>,
    ) -> Option<Prometheus> {
        if Command::new("prometheus")
            .arg("--version")
            .output()
            .is_err()
        {
            assert_ne!(
                std::env::var("IC_REQUIRE_PROMETHEUS").as_deref(),
                Ok("1"),
                "IC_REQUIRE_PROMETHEUS=1 but the prometheus binary is missing (apt-get install prometheus)"
            );
            eprintln!("SKIPPED: prometheus is not installed (apt-get install prometheus)");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, config).expect("write prometheus.yml");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write a Prometheus file");
        }
        if let Some(text) = past {
            let om = dir.path().join("past.om");
            std::fs::write(&om, text).expect("write the OpenMetrics history");
            let out = Command::new("promtool")
                .args(["tsdb", "create-blocks-from", "openmetrics"])
                .arg(&om)
                .arg(dir.path().join("data"))
                .output()
                .expect("run promtool (it comes with Prometheus)");
            assert!(
                out.status.success(),
                "promtool could not backfill: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-lifecycle")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let prom = Prometheus {
            child,
            port,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !matches!(http::request(port, "GET", "/-/ready", ""), Ok((200, _))) {
            assert!(Instant::now() < deadline, "Prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(prom)
    }

    /// The path of a file beside its config.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Rewrites the file `name` and reloads the configuration.
    pub fn rewrite_and_reload(&self, name: &str, text: &str) {
        std::fs::write(self.file(name), text).expect("rewrite a Prometheus file");
        let (status, body) =
            http::request(self.port, "POST", "/-/reload", "").expect("POST /-/reload");
        assert_eq!(status, 200, "Prometheus refused the reload: {body}");
    }

    /// `GET /api/v1/<what>`'s `data` (e.g. `alerts`, `rules`, `query?query=…` with
    /// the query already URL-encoded).
    pub fn api(&self, what: &str) -> Value {
        let (status, body) = http::request(self.port, "GET", &format!("/api/v1/{what}"), "")
            .unwrap_or_else(|e| panic!("GET /api/v1/{what}: {e}"));
        assert_eq!(status, 200, "GET /api/v1/{what}: {body}");
        let v: Value = serde_json::from_str(&body).expect("Prometheus answers JSON");
        v["data"].clone()
    }

    /// The value of an instant query that returns one sample, if it does.
    pub fn scalar(&self, query: &str) -> Option<f64> {
        let data = self.api(&format!("query?query={}", encode(query)));
        data["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

/// Percent-encodes a query for a URL.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
