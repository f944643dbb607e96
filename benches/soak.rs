//! Soak: 2,000 endpoints probed every 2 s and 50 `/metrics` targets scraped
//! every 5 s (all on the demo API, in its own process), through the engine the
//! full-screen view and `ic watch` run on (`runtime::Runtime`: sources, one
//! channel, `app::update`, windows, detectors, history) for 10 minutes
//! (`IC_BENCH_SECS` to change; past an hour the one-hour windows are full and
//! memory should stay flat). Reports resident memory, probe lateness per
//! minute, and CPU.
//!
//! Run: `cargo bench --bench soak` (`IC_BENCH_SECS=120` for a short run)

use incident_commander::app::State;
use incident_commander::app::targets::{SourceKind, Target};
use incident_commander::config::{Config, Notify};
use incident_commander::core::playbook;
use incident_commander::runtime::{Feeds, Runtime, Tap};
use incident_commander::source::probe::ProbeTarget;
use incident_commander::source::schedule::ProbeEvent;
use incident_commander::source::scrape::{ScrapeEvent, ScrapeTarget};
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the sources delivered: probe lateness of the current minute, counts.
#[derive(Default)]
struct Counted {
    minute: Vec<f64>,
    probes: u64,
    overruns: u64,
    scrapes: u64,
}

#[derive(Default)]
struct Counter(Mutex<Counted>);

impl Counter {
    fn with<T>(&self, f: impl FnOnce(&mut Counted) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Tap for Counter {
    fn probe(&self, event: &ProbeEvent) {
        self.with(|c| match event {
            ProbeEvent::Sample { sample, .. } => {
                c.probes += 1;
                c.minute.push(sample.lateness.as_secs_f64() * 1000.0);
            }
            ProbeEvent::Overrun { .. } => c.overruns += 1,
        });
    }

    fn scrape(&self, _event: &ScrapeEvent) {
        self.with(|c| c.scrapes += 1);
    }
}

const ENDPOINTS: usize = 2000;
const SCRAPES: usize = 50;

fn status_kb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0)
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let f: Vec<f64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    (f.get(10).copied().unwrap_or(0.0) + f.get(11).copied().unwrap_or(0.0)) / 100.0
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("soak: benchmark");
        return;
    }
    let secs: u64 = std::env::var("IC_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let Ok(mut server) = Command::new(env!("CARGO_BIN_EXE_ic"))
        .args(["demo", "--serve", "--scenario", "calm", "--rps", "20"])
        .env("IC_LOG", "off")
        .stdout(Stdio::piped())
        .spawn()
    else {
        eprintln!("soak: cannot start the demo API");
        return;
    };
    let mut first = String::new();
    if let Some(out) = server.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut first);
    }
    let base = first.trim().trim_start_matches("listening on ").to_string();
    let mut yaml = String::from(
        "service: soak\npoll: {interval: 2s, timeout: 1500ms, concurrency: 128}\nendpoints:\n",
    );
    for i in 0..ENDPOINTS {
        yaml.push_str(&format!("  - {{name: ep{i}, url: \"{base}/healthz\"}}\n"));
    }
    yaml.push_str("metrics:\n");
    for i in 0..SCRAPES {
        yaml.push_str(&format!(
            "  - {{name: m{i}, url: \"{base}/metrics\", interval: 5s}}\n"
        ));
    }
    let config = match Config::parse(Path::new("soak.yaml"), &yaml, |_| None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("soak: {e}");
            return;
        }
    };
    let probes: Vec<ProbeTarget> = config
        .endpoints
        .iter()
        .filter_map(|e| ProbeTarget::from_config(e, &config).ok())
        .collect();
    let scrapes: Vec<ScrapeTarget> = config
        .metrics
        .iter()
        .map(ScrapeTarget::from_config)
        .collect();
    let targets: Vec<Target> = probes
        .iter()
        .map(|p| Target::new(&p.name, SourceKind::Probe, Some(p.interval)))
        .collect();
    let mut state = State::new(
        "soak",
        "bench",
        config.detect,
        targets,
        playbook::bundled(),
        std::env::temp_dir(),
        incident_commander::clock::now(),
    );
    state.auto_open = false;
    let notify = Notify {
        desktop: false,
        bell: false,
        ..Notify::default()
    };

    let Ok(tokio_rt) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    tokio_rt.block_on(async {
        let mut rt = Runtime::new(state, &notify, Vec::new(), Vec::new(), false);
        let counter = Arc::new(Counter::default());
        rt.start(
            Feeds {
                probes,
                concurrency: 128,
                scrapes,
                ..Feeds::default()
            },
            counter.clone(),
        );
        let t0 = Instant::now();
        let cpu0 = cpu_seconds();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut report = tokio::time::interval(Duration::from_secs(60));
        report.tick().await;
        println!("soak: {ENDPOINTS} endpoints every 2 s, {SCRAPES} scrape targets every 5 s, {secs} s");
        println!("  minute  probes/s  lateness p50/p99/max ms   RSS MB");
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                _ = report.tick() => {
                    let mut minute = counter.with(|c| std::mem::take(&mut c.minute));
                    minute.sort_by(f64::total_cmp);
                    let pct = |p: f64| minute.get(((minute.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0);
                    println!("  {:>6}  {:>8.0}  {:>6.2} / {:>6.2} / {:>7.2}   {:>6.1}",
                        t0.elapsed().as_secs() / 60, minute.len() as f64 / 60.0, pct(0.5), pct(0.99), pct(1.0), status_kb("VmRSS:") / 1024.0);
                }
                batch = rt.next_batch() => {
                    let Some(batch) = batch else { break };
                    rt.handle_all(batch);
                }
            }
        }
        let wall = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        let targets = rt.state.targets.len();
        rt.stop().await;
        let (probes, scrapes, overruns) = counter.with(|c| (c.probes, c.scrapes, c.overruns));
        println!("  probes {probes} ({:.0}/s), scrapes {scrapes}, overruns {overruns}, targets {targets}", probes as f64 / wall);
        println!("  CPU {:.1}% of one core (probing, scraping, detection, history; the demo API runs apart)", 100.0 * cpu / wall);
        println!("  peak RSS {:.1} MB", status_kb("VmHWM:") / 1024.0);
    });
    let _ = server.kill();
    let _ = server.wait();
}
