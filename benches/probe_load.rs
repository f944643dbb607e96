//! Probe engine under load: 1,000 endpoints on one local server (the demo API
//! in its own process), each probed every second, for 30 s (`IC_BENCH_SECS`
//! to change). Reports probes/s, CPU time of this process per probe and as a
//! share of one core, scheduling lateness p50/p99 and peak resident memory.
//!
//! Run: `cargo bench --bench probe_load`

use incident_commander::config::Config;
use incident_commander::source::probe::ProbeTarget;
use incident_commander::source::schedule::{self, ProbeEvent};
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ENDPOINTS: usize = 1000;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let f: Vec<f64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // utime and stime are fields 14 and 15 of /proc/PID/stat (11 and 12 after the state).
    (f.get(10).copied().unwrap_or(0.0) + f.get(11).copied().unwrap_or(0.0)) / 100.0
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("probe_load: benchmark");
        return;
    }
    let secs: u64 = std::env::var("IC_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let mut server = Command::new(env!("CARGO_BIN_EXE_ic"))
        .args(["demo", "--serve", "--scenario", "calm", "--rps", "0"])
        .env("IC_LOG", "off")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the demo API");
    let mut first = String::new();
    std::io::BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("first line");
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_string();

    let mut yaml = String::from(
        "service: bench\npoll: {interval: 1s, timeout: 1s, concurrency: 64}\nendpoints:\n",
    );
    for i in 0..ENDPOINTS {
        yaml.push_str(&format!("  - {{name: ep{i}, url: \"{base}/healthz\"}}\n"));
    }
    let config = Config::parse(Path::new("bench.yaml"), &yaml, |_| None).expect("config");
    let targets: Vec<ProbeTarget> = config
        .endpoints
        .iter()
        .map(|e| ProbeTarget::from_config(e, &config).expect("target"))
        .collect();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (probes, overruns, ok, mut lateness, cpu, wall, first_error) = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        let sched = tokio::spawn(schedule::run(Arc::new(targets), 64, tx, stop_rx));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let (mut probes, mut overruns, mut ok) = (0u64, 0u64, 0u64);
        let mut first_error = None;
        let mut lateness = Vec::with_capacity(ENDPOINTS * secs as usize);
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                ev = rx.recv() => match ev {
                    Some(ProbeEvent::Sample { sample, .. }) => {
                        probes += 1;
                        ok += u64::from(sample.class.is_ok());
                        if !sample.class.is_ok() && first_error.is_none() {
                            first_error = Some(format!("{}: {}", sample.class, sample.error.clone().unwrap_or_default()));
                        }
                        lateness.push(sample.lateness);
                    }
                    Some(ProbeEvent::Overrun { .. }) => overruns += 1,
                    None => break,
                }
            }
        }
        let wall = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        let _ = stop.send(true);
        let _ = sched.await;
        (probes, overruns, ok, lateness, cpu, wall, first_error)
    });
    let _ = server.kill();
    let _ = server.wait();

    lateness.sort();
    let pct = |p: f64| {
        lateness
            .get(((lateness.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!("probe_load: {ENDPOINTS} endpoints, 1 s interval, {secs} s");
    println!(
        "  probes            {probes} ({:.0}/s), ok {ok}, overruns {overruns}",
        probes as f64 / wall
    );
    println!(
        "  CPU (this process) {cpu:.2} s = {:.1}% of one core, {:.1} µs per probe",
        100.0 * cpu / wall,
        1e6 * cpu / probes.max(1) as f64
    );
    println!(
        "  lateness          p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    if let Some(e) = first_error {
        println!("  first failure     {e}");
    }
    println!("  peak RSS          {:.1} MB", peak_rss_mb());
}
