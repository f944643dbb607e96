//! Driving `ic` in a real terminal: a tmux session per test, keys in, screen
//! captures out, polling with deadlines.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether tmux can run here; without it a test skips unless `IC_REQUIRE_TMUX=1`.
pub fn available() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("IC_REQUIRE_TMUX").is_none(),
            "tmux is required (IC_REQUIRE_TMUX=1)"
        );
        eprintln!("skipped: tmux is not installed");
    }
    ok
}

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tmux session, killed when dropped.
pub struct Session(pub String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

/// A scenario where payments fail 40% of the time from the first second.
pub fn fast_scenario(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("fast.yaml");
    std::fs::write(
        &file,
        "name: fast\nfaults:\n  - {name: pool, route: /api/payments, start: 1s, error_rate: 40%, status: [500]}\n",
    )
    .unwrap();
    file
}

/// The screen as one line: after a SIGKILL the view's screen stays and the
/// shell's next words wrap wherever the cursor was (`…IC-` / `EXIT=137`).
pub fn unwrapped(screen: &str) -> String {
    screen.replace('\n', "")
}

impl Session {
    /// Starts `sh -c "<shell>; echo IC-EXIT=$?; sleep 60"` at `w`×`h`, named after `tag`.
    pub fn start(tag: &str, w: u16, h: u16, shell: &str) -> Session {
        let name = format!("ic-{tag}-{}", std::process::id());
        let cmd = format!("{shell}; echo IC-EXIT=$?; sleep 60");
        let (w, h) = (w.to_string(), h.to_string());
        // A session started while the last one's server is exiting (a test that
        // just dropped its session) fails with "server exited unexpectedly":
        // tried again, a few times, with a fresh server.
        let mut tries = 0;
        let out = loop {
            let out = Command::new("tmux")
                .args(["new-session", "-d", "-s", &name, "-x", &w, "-y", &h, &cmd])
                .output()
                .unwrap();
            tries += 1;
            let raced = String::from_utf8_lossy(&out.stderr).contains("server exited unexpectedly");
            if out.status.success() || !raced || tries == 5 {
                break out;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Session(name)
    }

    /// `ic demo` on the fast scenario with timelines in `timelines`, at 160×45.
    pub fn demo(tag: &str, dir: &Path, timelines: &Path) -> Session {
        Session::demo_at(tag, dir, timelines, 160, 45)
    }

    /// `ic demo` on the fast scenario at `w`×`h`.
    pub fn demo_at(tag: &str, dir: &Path, timelines: &Path, w: u16, h: u16) -> Session {
        let shell = format!(
            "IC_LOG=off {} demo --scenario {} --timeline-dir {} --rps 60",
            env!("CARGO_BIN_EXE_ic"),
            fast_scenario(dir).display(),
            timelines.display()
        );
        Session::start(tag, w, h, &shell)
    }

    /// The visible screen.
    pub fn screen(&self) -> String {
        tmux(&["capture-pane", "-p", "-t", &self.0])
    }

    /// Sends keys (tmux names: `Enter`, `Escape`, `Right`, …).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.0];
        args.extend_from_slice(keys);
        tmux(&args);
    }

    /// Types text literally.
    pub fn type_text(&self, text: &str) {
        tmux(&["send-keys", "-t", &self.0, "-l", text]);
    }

    /// Pastes text as a terminal paste (bracketed, when the app asked for it).
    pub fn paste(&self, text: &str) {
        tmux(&["set-buffer", "-b", &self.0, "--", text]);
        tmux(&["paste-buffer", "-p", "-d", "-b", &self.0, "-t", &self.0]);
    }

    /// Resizes the window.
    pub fn resize(&self, w: u16, h: u16) {
        tmux(&[
            "resize-window",
            "-t",
            &self.0,
            "-x",
            &w.to_string(),
            "-y",
            &h.to_string(),
        ]);
    }

    /// The pid of `ic` (the child of the pane's shell).
    pub fn ic_pid(&self) -> u32 {
        let shell: u32 = tmux(&["list-panes", "-t", &self.0, "-F", "#{pane_pid}"])
            .trim()
            .parse()
            .expect("a pane pid");
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
            .unwrap_or_default();
        children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .expect("ic runs under the pane's shell")
    }

    /// Waits for the triage summary a signal-opened incident shows, closes it,
    /// and returns the screen that showed it.
    pub fn close_triage(&self) -> String {
        let shown = self.wait("the triage summary", 30, |t| {
            t.contains("Triage summary at")
        });
        self.keys(&["Escape"]);
        // (The timeline then lists the recorded summary: wait for the overlay's own line.)
        self.wait("the summary closed", 5, |t| {
            !t.contains("u sends it as a status update")
        });
        shown
    }

    /// Polls the screen until `pred` holds, up to `secs`.
    pub fn wait(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "waited {secs}s for {what}; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}
