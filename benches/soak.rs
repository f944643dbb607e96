//! Soak: 2,000 endpoints probed every 2 s and 50 `/metrics` targets scraped
//! every 5 s (all on the demo API, in its own process), fed through the same
//! engine as the full-screen view (`app::update`: windows, detectors, history)
//! for 10 minutes (`IC_BENCH_SECS` to change). Reports resident memory over
//! time (it should be flat once the windows are full), probe lateness per
//! minute, and CPU.
//!
//! Run: `cargo bench --bench soak` (`IC_BENCH_SECS=120` for a short run)

use incident_commander::app::targets::{SourceKind, Target};
use incident_commander::app::{self, Msg, State};
use incident_commander::config::Config;
use incident_commander::core::playbook;
use incident_commander::source::probe::ProbeTarget;
use incident_commander::source::schedule::{self, ProbeEvent};
use incident_commander::source::scrape::{self, ScrapeTarget};
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    let names: Vec<String> = scrapes.iter().map(|s| s.name.clone()).collect();
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

    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async {
        let (ptx, mut prx) = tokio::sync::mpsc::channel(8192);
        let (stx, mut srx) = tokio::sync::mpsc::channel(256);
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let sched = tokio::spawn(schedule::run(Arc::new(probes), 128, ptx, stop_rx.clone()));
        let scr = tokio::spawn(scrape::run(scrapes, stx, stop_rx));
        let t0 = Instant::now();
        let cpu0 = cpu_seconds();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut report = tokio::time::interval(Duration::from_secs(60));
        report.tick().await;
        let (mut n_probes, mut n_scrapes, mut overruns) = (0u64, 0u64, 0u64);
        let mut minute: Vec<f64> = Vec::new();
        println!("soak: {ENDPOINTS} endpoints every 2 s, {SCRAPES} scrape targets every 5 s, {secs} s");
        println!("  minute  probes/s  lateness p50/p99/max ms   RSS MB");
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                _ = tick.tick() => { app::update(&mut state, Msg::Tick, incident_commander::clock::now()); }
                _ = report.tick() => {
                    minute.sort_by(f64::total_cmp);
                    let pct = |p: f64| minute.get(((minute.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0);
                    println!("  {:>6}  {:>8.0}  {:>6.2} / {:>6.2} / {:>7.2}   {:>6.1}",
                        t0.elapsed().as_secs() / 60, minute.len() as f64 / 60.0, pct(0.5), pct(0.99), pct(1.0), status_kb("VmRSS:") / 1024.0);
                    minute.clear();
                }
                ev = prx.recv() => match ev {
                    Some(ProbeEvent::Sample { endpoint, sample }) => {
                        n_probes += 1;
                        minute.push(sample.lateness.as_secs_f64() * 1000.0);
                        app::update(&mut state, Msg::Probe(endpoint, sample), incident_commander::clock::now());
                    }
                    Some(ProbeEvent::Overrun { .. }) => overruns += 1,
                    None => break,
                },
                ev = srx.recv() => if let Some(ev) = ev {
                    n_scrapes += 1;
                    if let Ok(o) = ev.result && let Some(views) = o.routes {
                        let name = names.get(ev.target).cloned().unwrap_or_default();
                        app::update(&mut state, Msg::Views(name, views, o.at), incident_commander::clock::now());
                    }
                }
            }
        }
        let wall = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        let _ = stop.send(true);
        let _ = sched.await;
        let _ = scr.await;
        println!("  probes {n_probes} ({:.0}/s), scrapes {n_scrapes}, overruns {overruns}, targets {}", n_probes as f64 / wall, state.targets.len());
        println!("  CPU {:.1}% of one core (probing, scraping, detection, history; the demo API runs apart)", 100.0 * cpu / wall);
        println!("  peak RSS {:.1} MB", status_kb("VmHWM:") / 1024.0);
    });
    let _ = server.kill();
    let _ = server.wait();
}
