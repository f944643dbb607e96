//! Wall-clock steps under a running `ic watch`: the wall clock is moved an hour
//! back and two hours forward with libfaketime (the monotonic clock left alone)
//! while `ic` probes and scrapes the demo API. Probing keeps its cadence, a fault
//! that starts after the step is still detected, nothing pages on the step, and
//! the timeline's times stay on the real clock and in order.
//!
//! Needs Debian's `faketime` package (`.ci/run` installs it); without it the
//! test says so and passes, unless `IC_REQUIRE_FAKETIME=1`.

use incident_commander::core::event::Kind;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const LIBFAKETIME: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
];

fn libfaketime() -> Option<PathBuf> {
    let found = LIBFAKETIME.iter().map(PathBuf::from).find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("IC_REQUIRE_FAKETIME").as_deref() != Ok("1"),
            "libfaketime is required (IC_REQUIRE_FAKETIME=1): apt-get install -y faketime"
        );
        eprintln!("skipped: libfaketime not installed (apt-get install -y faketime)");
    }
    found
}

/// Lines of `ic watch --json`, parsed, as they arrive.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
    seen: Vec<serde_json::Value>,
}

impl Watch {
    fn start(
        lib: &Path,
        offset_file: &Path,
        config: &Path,
        log: &Path,
        stderr_file: &Path,
    ) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ic"))
            .args(["-c", config.to_str().unwrap(), "--log-file"])
            .arg(log)
            .args(["watch", "--json"])
            .env("LD_PRELOAD", lib)
            .env("FAKETIME_TIMESTAMP_FILE", offset_file)
            .env("FAKETIME_NO_CACHE", "1")
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .env("IC_LOG", "info")
            .env_remove("IC_CONFIG")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr_file).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        Watch {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Collects lines until `done` holds for the lines seen since `from`, or panics at the deadline.
    fn until(
        &mut self,
        what: &str,
        within: Duration,
        from: usize,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) {
        let deadline = Instant::now() + within;
        while !done(&self.seen[from..]) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{what}: not within {within:?}; saw {:#?}",
                &self.seen[from..]
            );
            if let Ok(v) = self
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                self.seen.push(v);
            }
        }
    }

    /// Collects lines for `d` of real time.
    fn for_a_while(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if let Ok(v) = self.lines.recv_timeout(left) {
                self.seen.push(v);
            }
        }
    }
}

fn probes_of(lines: &[serde_json::Value], endpoint: &str) -> usize {
    lines.iter().filter(|l| l["name"] == endpoint).count()
}

fn signals(lines: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    lines.iter().filter(|l| l["type"] == "signal").collect()
}

#[test]
fn wall_clock_steps_bend_no_interval_window_or_timestamp() {
    let Some(lib) = libfaketime() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Search breaks 9 s in, after the wall clock has been stepped back an hour.
    let scenario = incident_commander::core::scenario::Scenario::parse(
        Path::new("t.yaml"),
        "name: t\nfaults:\n  - {name: broken-search, route: /api/search, start: 9s, error_rate: 60%, status: [503]}\n",
    )
    .unwrap();
    let server = rt
        .block_on(incident_commander::demo::DemoServer::start(
            scenario, 0, 200.0,
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (offset, cfg, log) = (
        dir.path().join("offset"),
        dir.path().join("ic.yaml"),
        dir.path().join("ic.log"),
    );
    std::fs::write(&offset, "+0\n").unwrap();
    std::fs::write(
        &cfg,
        format!(
            "service: t\nnotify: {{desktop: false, bell: false}}\npoll: {{interval: 250ms, timeout: 1s}}\n\
             timeline_dir: {}\n\
             endpoints:\n  - {{name: health, url: \"{url}/healthz\"}}\n\
             metrics:\n  - {{name: shop, url: \"{url}/metrics\", interval: 500ms}}\n",
            dir.path().join("incidents").display(),
            url = server.url()
        ),
    )
    .unwrap();
    #[allow(clippy::disallowed_methods)] // The real wall clock, to compare the timeline with.
    let real_start = chrono::Utc::now();
    let stderr_file = dir.path().join("stderr");
    let mut watch = Watch::start(&lib, &offset, &cfg, &log, &stderr_file);

    // Healthy: probes arrive, the scrape has produced route rates.
    watch.until(
        "first probes and scrapes",
        Duration::from_secs(10),
        0,
        |l| {
            probes_of(l, "health") >= 4
                && l.iter()
                    .any(|v| v["metrics_target"] == "shop" && v["routes"].is_array())
        },
    );

    // One hour back. Probes go on at their interval: 250 ms → about 12 in 3 s.
    std::fs::write(&offset, "-1h\n").unwrap();
    let from = watch.seen.len();
    watch.for_a_while(Duration::from_secs(3));
    let n = probes_of(&watch.seen[from..], "health");
    assert!(
        (8..=16).contains(&n),
        "{n} probes in 3 s after the step back"
    );

    // The fault begins after the step; it is detected all the same (with wall-clock
    // windows the new seconds fell an hour behind the newest and were dropped).
    watch.until(
        "error-rate alert on search after the step back",
        Duration::from_secs(20),
        from,
        |l| {
            signals(l)
                .iter()
                .any(|s| s["kind"] == "error_rate" && s["target"] == "shop /api/search")
        },
    );

    // Two hours forward: still the same cadence, and nothing pages for the "gap".
    std::fs::write(&offset, "+1h\n").unwrap();
    let from = watch.seen.len();
    watch.for_a_while(Duration::from_secs(3));
    let n = probes_of(&watch.seen[from..], "health");
    assert!(
        (8..=16).contains(&n),
        "{n} probes in 3 s after the step forward"
    );
    let unexpected: Vec<_> = signals(&watch.seen)
        .into_iter()
        .filter(|s| s["target"] != "shop /api/search")
        .collect();
    assert!(unexpected.is_empty(), "the steps paged: {unexpected:#?}");

    // Every time ic printed or wrote stays on the real clock, in order.
    let stop = Instant::now();
    // SAFETY: signalling our own child, which has not been reaped yet.
    assert_eq!(
        unsafe { libc::kill(watch.child.id() as i32, libc::SIGTERM) },
        0
    );
    loop {
        if let Some(status) = watch.child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0));
            break;
        }
        assert!(
            stop.elapsed() < Duration::from_secs(10),
            "ic watch ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    #[allow(clippy::disallowed_methods)]
    let real_end = chrono::Utc::now();
    let on_real_clock = |t: chrono::DateTime<chrono::Utc>| {
        t >= real_start - chrono::TimeDelta::seconds(2)
            && t <= real_end + chrono::TimeDelta::seconds(2)
    };
    for l in watch.seen.iter().filter(|l| l["name"] == "health") {
        let at: chrono::DateTime<chrono::Utc> = l["at"].as_str().unwrap().parse().unwrap();
        assert!(
            on_real_clock(at),
            "probe stamped {at}, real time {real_start}..{real_end}"
        );
    }
    let timelines = incident_commander::journal::timelines(&dir.path().join("incidents"));
    assert_eq!(timelines.len(), 1);
    let replay = incident_commander::journal::read(&timelines[0]).unwrap();
    assert!(replay.problems.is_empty(), "{:?}", replay.problems);
    assert!(replay.events.iter().any(|e| e.kind == Kind::IncidentOpened));
    for pair in replay.events.windows(2) {
        assert!(pair[0].ts <= pair[1].ts && pair[0].seq < pair[1].seq);
    }
    for e in &replay.events {
        assert!(
            on_real_clock(e.ts),
            "{:?} stamped {}, real time {real_start}..{real_end}",
            e.kind,
            e.ts
        );
    }
    // The step is in the log, with its size.
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("the wall clock stepped: it is now -3600"),
        "{log}"
    );
    assert!(
        log.contains("the wall clock stepped: it is now +3600"),
        "{log}"
    );
    // And the responder is told, once per step.
    let told = std::fs::read_to_string(&stderr_file).unwrap();
    assert_eq!(
        told.matches("the wall clock stepped -3600 s").count(),
        1,
        "{told}"
    );
    assert_eq!(
        told.matches("the wall clock stepped +3600 s").count(),
        1,
        "{told}"
    );
    rt.block_on(server.shutdown());
}
