//! Running `ic` as a child process: a command with a clean environment, its
//! output lines collected by a thread as they arrive (with the instant each was
//! read), stopping it with SIGTERM within a deadline, and timeline files.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `ic` with logging off, no `IC_CONFIG`, and its data dir in a fresh directory of the target dir.
pub fn ic() -> Command {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    let n = RUN.fetch_add(1, Ordering::Relaxed);
    let data = format!(
        "{}/xdg-data-proc-{}-{n}",
        env!("CARGO_TARGET_TMPDIR"),
        std::process::id()
    );
    let mut c = Command::new(env!("CARGO_BIN_EXE_ic"));
    c.env("IC_LOG", "off")
        .env_remove("IC_CONFIG")
        .env("XDG_DATA_HOME", data);
    c
}

/// Lines read so far from a child's output, each with the instant it was read.
#[derive(Clone, Default)]
pub struct Lines {
    inner: Arc<Mutex<Vec<(Instant, String)>>>,
    /// Bytes 0x07 (terminal bells) seen.
    pub bells: Arc<AtomicUsize>,
}

impl Lines {
    /// Starts a thread reading `out` until it closes: bells are counted as they
    /// arrive (they come without a newline), lines once complete.
    pub fn collect(mut out: impl Read + Send + 'static) -> Lines {
        let lines = Lines::default();
        let l = lines.clone();
        std::thread::spawn(move || {
            let mut pending = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = match out.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let bells = chunk[..n].iter().filter(|b| **b == 0x07).count();
                l.bells.fetch_add(bells, Ordering::Relaxed);
                pending.extend(chunk[..n].iter().filter(|b| **b != 0x07));
                while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    l.push(&line);
                }
            }
            if !pending.is_empty() {
                l.push(&pending);
            }
        });
        lines
    }

    fn push(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line).trim_end().to_string();
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((Instant::now(), text));
    }

    /// A copy of every line so far.
    pub fn all(&self) -> Vec<(Instant, String)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Every line so far that is a JSON object, with the instant it was read.
    pub fn json(&self) -> Vec<(Instant, serde_json::Value)> {
        self.all()
            .into_iter()
            .filter_map(|(t, l)| Some((t, serde_json::from_str(&l).ok()?)))
            .filter(|(_, v): &(Instant, serde_json::Value)| v.is_object())
            .collect()
    }

    /// Polls until a line satisfies `want` or `within` passes; the line's text.
    pub fn wait_for(&self, within: Duration, want: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some((_, l)) = self.all().into_iter().find(|(_, l)| want(l)) {
                return Some(l);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Sends SIGTERM and waits up to `within` for the exit (then kills it); the exit status.
pub fn terminate(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    if let Ok(Some(s)) = child.try_wait() {
        return Some(s);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The incident timelines (`*.jsonl` but the silence log) in `dir`, sorted.
pub fn timelines(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .filter(|p| p.file_name().is_some_and(|n| n != "silences.jsonl"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every event (one JSON object a line) of every timeline in `dir`.
pub fn events(dir: &Path) -> Vec<serde_json::Value> {
    timelines(dir)
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect::<Vec<serde_json::Value>>()
        })
        .collect()
}

/// `ic demo --serve` on `scenario` at `rps`, stderr discarded: the child and
/// the port it printed on its first line.
pub fn demo_serve(scenario: &str, rps: &str) -> (Child, u16) {
    let mut demo = ic()
        .args(["demo", "--serve", "--scenario", scenario, "--rps", rps])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn ic demo --serve");
    let out = Lines::collect(demo.stdout.take().expect("stdout"));
    let first = out
        .wait_for(Duration::from_secs(15), |_| true)
        .expect("ic demo --serve printed its address");
    let port = first
        .strip_prefix("listening on http://127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    (demo, port)
}
