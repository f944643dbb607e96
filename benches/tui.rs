//! Full-screen view figures:
//! - render time per frame at 160×45 with 200 endpoints (30 min of history
//!   each) and a 10,000-event timeline, into ratatui's `TestBackend`; and with
//!   5,000 (a frame should cost what a screenful costs, not what is off screen);
//! - start to first frame and idle CPU of `ic demo --rps 0` in tmux (the probes
//!   still run every 2 s), when tmux is installed (`IC_BENCH_IDLE_SECS`, default 60);
//! - CPU of the view (`ic -c`) with 5,000 endpoints probed every 60 s against
//!   `ic demo --serve`, beside `ic watch` on the same config (the probing alone).
//!
//! Run: `cargo build --release && cargo bench --bench tui` (`IC_BENCH_BIN`
//! measures another build of `ic`).

use chrono::{Duration, TimeZone, Utc};
use incident_commander::app::targets::{SourceKind, Target};
use incident_commander::app::{self, Msg, State};
use incident_commander::core::detect::Settings;
use incident_commander::core::event::Draft;
use incident_commander::core::metrics::RouteView;
use incident_commander::core::playbook;
use incident_commander::tui::{self, theme::Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::process::Command;
use std::time::Instant;

fn render_bench() {
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 22, 3, 0, 0)
        .single()
        .unwrap_or_default();
    let targets: Vec<Target> = (0..200)
        .map(|i| {
            Target::new(
                &format!("svc{:03} /api/route{i}", i / 10),
                SourceKind::Metrics,
                None,
            )
        })
        .collect();
    let mut state = State::new(
        "shop",
        "bench",
        Settings::default(),
        Vec::new(),
        playbook::bundled(),
        "/tmp".into(),
        t0,
    );
    let mut view = tui::view::View::new();
    drop(targets);
    // 30 minutes of scrapes every 5 s for 200 routes.
    for s in (0..1800).step_by(5) {
        let at = t0 + Duration::seconds(s);
        let views: Vec<RouteView> = (0..200)
            .map(|i| RouteView {
                route: format!("/api/route{i}"),
                requests: 100.0,
                errors_5xx: if i == 7 && s > 900 {
                    20.0
                } else {
                    (i % 3) as f64
                },
                errors_4xx: 1.0,
                rate: Some(20.0),
                span: None,
                p50: Some(0.04),
                p95: Some(0.1 + i as f64 / 1000.0),
                p99: Some(0.2),
                by_label: Vec::new(),
            })
            .collect();
        app::update(&mut state, Msg::Views("shop".into(), views, at), at);
        app::update(&mut state, Msg::Tick, at);
    }
    let at = t0 + Duration::seconds(1800);
    for seq in 1..=10_000u64 {
        let d = if seq == 1 {
            Draft::opened("ic", "bench", "shop")
        } else {
            Draft::note("bench", &format!("note {seq}"), &[])
        };
        app::update(&mut state, Msg::Appended(d.into_event(seq, at)), at);
    }
    let Ok(mut term) = Terminal::new(TestBackend::new(160, 45));
    let th = Theme::of(incident_commander::tui::theme::ThemeName::Default);
    for _ in 0..5 {
        let _ = term.draw(|f| tui::draw(f, &state, &mut view, th));
    }
    let n = 200;
    let started = Instant::now();
    for _ in 0..n {
        let _ = term.draw(|f| tui::draw(f, &state, &mut view, th));
    }
    let per = started.elapsed().as_secs_f64() * 1000.0 / n as f64;
    println!(
        "tui: {:.2} ms per frame at 160x45 with {} targets and {} timeline events",
        per,
        state.targets.len(),
        state.incident.as_ref().map_or(0, |i| i.events.len())
    );
}

/// Frame time with `n` metric routes (30 minutes of history each), filled in
/// directly (the engine's `Msg::Views` is not what is measured here).
fn render_many(n: usize) {
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 22, 3, 0, 0)
        .single()
        .unwrap_or_default();
    let settings = Settings::default();
    let mut targets: Vec<Target> = (0..n)
        .map(|i| {
            Target::new(
                &format!("svc{:03} /api/route{i}", i / 100),
                SourceKind::Metrics,
                None,
            )
        })
        .collect();
    for s in (0..1800).step_by(5) {
        let at = t0 + Duration::seconds(s);
        for (i, t) in targets.iter_mut().enumerate() {
            let v = RouteView {
                route: format!("/api/route{i}"),
                requests: 100.0,
                errors_5xx: (i % 3) as f64,
                errors_4xx: 1.0,
                rate: Some(20.0),
                span: None,
                p50: Some(0.04),
                p95: Some(0.1 + (i % 100) as f64 / 1000.0),
                p99: Some(0.2),
                by_label: Vec::new(),
            };
            let _ = t.on_view(v, at, &settings);
            t.tick(at, &settings);
        }
    }
    let at = t0 + Duration::seconds(1800);
    let mut state = State::new(
        "shop",
        "bench",
        settings,
        targets,
        playbook::bundled(),
        "/tmp".into(),
        at,
    );
    let mut view = tui::view::View::new();
    let Ok(mut term) = Terminal::new(TestBackend::new(160, 45));
    let th = Theme::of(incident_commander::tui::theme::ThemeName::Default);
    let frames = 100;
    let started = Instant::now();
    for f in 0..frames {
        // A new second every 10 frames, as a redraw 30 times a second would see.
        state.now = at + Duration::milliseconds(f * 100);
        let _ = term.draw(|fr| tui::draw(fr, &state, &mut view, th));
    }
    let per = started.elapsed().as_secs_f64() * 1000.0 / frames as f64;
    println!(
        "tui: {per:.2} ms per frame at 160x45 with {n} targets (a new second every 10 frames)"
    );
}

fn release_bin() -> Option<String> {
    let bin = std::env::var("IC_BENCH_BIN")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/ic").into());
    std::path::Path::new(&bin).is_file().then_some(bin)
}

fn tmux_ok() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// CPU ticks (user + system) of process `pid`.
fn ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The view and `ic watch` with 5,000 endpoints (every 60 s, against the demo API).
fn tmux_many() {
    use std::io::BufRead;
    if !tmux_ok() {
        println!("tui: tmux not installed: CPU with 5,000 endpoints not measured");
        return;
    }
    let Some(bin) = release_bin() else {
        println!("tui: build the release binary first (cargo build --release)");
        return;
    };
    let secs: u64 = std::env::var("IC_BENCH_IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let dir = std::env::temp_dir().join(format!("ic-bench-many-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let Ok(mut server) = Command::new(&bin)
        .args(["demo", "--serve", "--scenario", "calm", "--rps", "0"])
        .env("IC_LOG", "off")
        .stdout(std::process::Stdio::piped())
        .spawn()
    else {
        println!("tui: cannot start the demo API");
        return;
    };
    let mut first = String::new();
    if let Some(out) = server.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut first);
    }
    let Some(base) = first
        .trim()
        .strip_prefix("listening on ")
        .map(str::to_string)
    else {
        println!("tui: the demo API said {first:?}");
        let _ = server.kill();
        return;
    };
    let mut cfg = String::from(
        "service: many\nnotify: {desktop: false, bell: false}\nincidents: {auto_open: false}\npoll: {interval: 60s, timeout: 2s}\nendpoints:\n",
    );
    for i in 0..5000 {
        cfg.push_str(&format!("  - {{name: e{i:04}, url: \"{base}/healthz\"}}\n"));
    }
    let file = dir.join("ic.yaml");
    let _ = std::fs::write(&file, cfg);
    let name = format!("ic-bench-many-{}", std::process::id());
    let cmd = format!(
        "IC_LOG=off {bin} -c {} --log-file {}",
        file.display(),
        dir.join("ic.log").display()
    );
    let _ = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "160",
            "-y",
            "45",
            &cmd,
        ])
        .status();
    let watch = Command::new(&bin)
        .args([
            "-c",
            file.to_str().unwrap_or_default(),
            "watch",
            "--no-incident",
        ])
        .env("IC_LOG", "off")
        .stdout(std::process::Stdio::null())
        .spawn();
    let pane = Command::new("tmux")
        .args(["list-panes", "-t", &name, "-F", "#{pane_pid}"])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u32>()
                .ok()
        });
    let view = pane.map(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .ok()
            .and_then(|c| c.split_whitespace().next().and_then(|p| p.parse().ok()))
            .unwrap_or(pid)
    });
    // Past start-up and the first round of probes.
    std::thread::sleep(std::time::Duration::from_secs(10));
    let watch_pid = watch.as_ref().ok().map(std::process::Child::id);
    let a = (view.and_then(ticks), watch_pid.and_then(ticks));
    std::thread::sleep(std::time::Duration::from_secs(secs));
    let b = (view.and_then(ticks), watch_pid.and_then(ticks));
    let pct = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.1}%", (b - a) as f64 / secs as f64),
        _ => "not measured".into(),
    };
    println!(
        "tui: CPU over {secs} s with 5,000 endpoints probed every 60 s: the view {} of a core, ic watch {}",
        pct(a.0, b.0),
        pct(a.1, b.1)
    );
    let _ = Command::new("tmux")
        .args(["kill-session", "-t", &name])
        .status();
    if let Ok(mut w) = watch {
        let _ = w.kill();
        let _ = w.wait();
    }
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

fn tmux_bench() {
    if !tmux_ok() {
        println!("tui: tmux not installed: start-up and idle CPU not measured");
        return;
    }
    let Some(bin) = release_bin() else {
        println!("tui: build the release binary first (cargo build --release)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("ic-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let log = dir.join("ic.log");
    let name = format!("ic-bench-{}", std::process::id());
    let cmd = format!(
        "IC_LOG=info {bin} --log-file {} demo --rps 0 --timeline-dir {}",
        log.display(),
        dir.join("tl").display()
    );
    let _ = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "160",
            "-y",
            "45",
            &cmd,
        ])
        .status();
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    let mut first = None;
    while Instant::now() < deadline && first.is_none() {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        first = text.lines().find_map(|l| {
            l.split("first frame after ")
                .nth(1)
                .map(|r| r.trim().to_string())
        });
    }
    println!(
        "tui: start to first frame: {}",
        first.unwrap_or_else(|| "not seen".into())
    );
    let pid = Command::new("tmux")
        .args(["list-panes", "-t", &name, "-F", "#{pane_pid}"])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u32>()
                .ok()
        });
    let secs: u64 = std::env::var("IC_BENCH_IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    if let Some(pid) = pid {
        // The pane runs `sh -c`: the ic process is its child (or the pane itself).
        let ic = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .ok()
            .and_then(|c| c.split_whitespace().next().and_then(|p| p.parse().ok()))
            .unwrap_or(pid);
        std::thread::sleep(std::time::Duration::from_secs(3));
        let a = ticks(ic);
        std::thread::sleep(std::time::Duration::from_secs(secs));
        let b = ticks(ic);
        if let (Some(a), Some(b)) = (a, b) {
            let hz = 100.0;
            println!(
                "tui: idle CPU over {secs} s (demo API, 5 probes every 2 s, scrape every 2 s, no traffic): {:.2}% of a core",
                (b - a) as f64 / hz / secs as f64 * 100.0
            );
        }
    }
    let _ = Command::new("tmux")
        .args(["kill-session", "-t", &name])
        .status();
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("tui: benchmark");
        return;
    }
    render_bench();
    render_many(5_000);
    tmux_bench();
    tmux_many();
}
