//! Running a playbook step's shell command — only with a [`Confirmed`] proof
//! that a person said yes — under a timeout and a cancel switch. The command
//! runs as `sh -c` in its own process group, so a timeout or cancel ends it
//! and everything it started (SIGTERM, then SIGKILL after a grace period).
//! Its stdout and stderr are merged in arrival order, capped and redacted;
//! the command echo is redacted too, and only the redacted form is logged.
//! Unix only (process groups and signals).
#![cfg(unix)]

use crate::core::payload::CommandFinished;
use crate::core::redact::redact_text;
use std::fmt;
use std::future::Future;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
use tokio::sync::watch;
use tokio::time::Instant;

/// Time between SIGTERM and SIGKILL when a command is stopped.
pub const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long output is still read once the command has ended or been killed;
/// background children that keep the pipes open do not hold the call longer.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(1);
/// Raw output kept beyond the cap, so a secret cut by the cap is still
/// recognised (and hidden) before the text is cut to size.
const REDACT_MARGIN: usize = 4096;
/// Bytes read from a pipe at a time.
const CHUNK: usize = 8192;

/// Proof that a person confirmed this command; the only way to call [`run`].
#[derive(Debug)]
pub struct Confirmed {
    by: String,
}

impl Confirmed {
    /// Records that `actor` confirmed the command.
    pub fn by(actor: &str) -> Confirmed {
        Confirmed {
            by: actor.to_string(),
        }
    }

    /// Who confirmed.
    pub fn actor(&self) -> &str {
        &self.by
    }
}

/// How to run a command.
#[derive(Clone)]
pub struct RunOptions {
    /// Stop the command after this long (default 60 s).
    pub timeout: Duration,
    /// Most bytes of output kept (default 64 KiB).
    pub output_cap: usize,
    /// Exact values to hide in the command echo and the output (`${ENV}` values).
    pub secrets: Vec<String>,
    /// Working directory; the caller's when `None`.
    pub cwd: Option<PathBuf>,
    /// Extra environment variables for the command.
    pub env: Vec<(String, String)>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            timeout: Duration::from_secs(60),
            output_cap: 64 * 1024,
            secrets: Vec::new(),
            cwd: None,
            env: Vec::new(),
        }
    }
}

impl fmt::Debug for RunOptions {
    /// Shows the secrets' count and the environment's names, never their values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("timeout", &self.timeout)
            .field("output_cap", &self.output_cap)
            .field("secrets", &format_args!("{} hidden", self.secrets.len()))
            .field("cwd", &self.cwd)
            .field(
                "env",
                &self.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What happened when a command ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The command, redacted.
    pub command: String,
    /// Who confirmed it.
    pub confirmed_by: String,
    /// Exit code; `None` when killed by a signal, timed out or cancelled.
    pub exit_code: Option<i32>,
    /// The signal that ended the shell, if one did.
    pub signal: Option<i32>,
    /// From start to the end of output capture.
    pub duration: Duration,
    /// stdout and stderr merged in arrival order: lossy UTF-8, redacted, at
    /// most `output_cap` bytes (cut on a char boundary).
    pub output: String,
    /// Whether output was cut to the cap.
    pub truncated: bool,
    /// Whether the timeout stopped the command.
    pub timed_out: bool,
    /// Whether the cancel switch stopped the command (or it was on before the start).
    pub cancelled: bool,
    /// Whether processes it left in its group (`cmd &`) were still running when
    /// the shell exited, and were ended then.
    pub leftovers_ended: bool,
}

impl CommandOutcome {
    /// Whether the command exited 0 on its own.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && !self.cancelled
    }

    /// The outcome as event data: `command`, `confirmed_by`, `exit_code`,
    /// `signal`, `duration_ms`, `output`, `truncated`, `timed_out`, `cancelled`.
    pub fn to_event_data(&self) -> serde_json::Value {
        crate::core::payload::to_data(&self.payload(None, None))
    }

    /// The outcome as a typed payload, of the run `run` of `step` when known.
    pub fn payload(&self, step: Option<&str>, run: Option<u64>) -> CommandFinished {
        CommandFinished {
            run,
            step: step.map(str::to_string),
            command: self.command.clone(),
            confirmed_by: Some(self.confirmed_by.clone()),
            exit_code: self.exit_code.map(i64::from),
            signal: self.signal.map(i64::from),
            duration_ms: Some(u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX)),
            output: self.output.clone(),
            truncated: self.truncated,
            timed_out: self.timed_out,
            cancelled: self.cancelled,
            leftovers_ended: self.leftovers_ended,
            why: String::new(),
        }
    }

    /// The `command_finished` event of this run of `step`, whose
    /// `command_started` event has `seq` `run` (actor: whoever confirmed it).
    pub fn finished_draft(&self, step: &str, run: u64) -> crate::core::event::Draft {
        let data = self.payload(Some(step), Some(run));
        let first = self.command.lines().next().unwrap_or_default();
        let more = if self.command.lines().nth(1).is_some() {
            " …"
        } else {
            ""
        };
        crate::core::event::Draft::typed(
            crate::core::event::Kind::CommandFinished,
            &self.confirmed_by,
            format!("ran `{first}{more}`: {}", self.summary()),
            &data,
        )
    }

    /// One line: `exit 0 in 1.2 s`, `timed out after 60 s`,
    /// `cancelled after 3.4 s`, `killed by signal 9`.
    pub fn summary(&self) -> String {
        let took = seconds(self.duration);
        let mut line = if self.timed_out {
            format!("timed out after {took}")
        } else if self.cancelled {
            format!("cancelled after {took}")
        } else if let Some(code) = self.exit_code {
            format!("exit {code} in {took}")
        } else if let Some(signal) = self.signal {
            format!("killed by signal {signal}")
        } else {
            format!("ended without an exit status after {took}")
        };
        if self.leftovers_ended {
            line.push_str(", the processes it left running were ended");
        }
        if self.truncated {
            line.push_str(", output truncated");
        }
        line
    }
}

/// `850 ms`, `1.2 s`, `60 s`.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d < Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{:.0} s", d.as_secs_f64())
    }
}

/// Why a command could not be run.
#[derive(thiserror::Error, Debug)]
pub enum RunError {
    /// The command is empty or only whitespace.
    #[error("the command is empty: there is nothing to run; give the step a shell command")]
    EmptyCommand,
    /// `sh` could not be started.
    #[error("cannot start `sh` to run the command: {source}; {hint}")]
    Spawn {
        /// The operating system's error.
        source: io::Error,
        /// What to check.
        hint: String,
    },
}

impl RunError {
    /// A spawn failure with a hint fitting its cause.
    fn spawn(source: io::Error, cwd: Option<&Path>) -> RunError {
        let hint = match cwd {
            Some(dir) if !dir.is_dir() => format!(
                "the working directory {} does not exist or is not a directory; create it or fix the step's working directory",
                dir.display()
            ),
            _ => match source.kind() {
                io::ErrorKind::NotFound => {
                    "/bin/sh was not found; install a POSIX shell".to_string()
                }
                io::ErrorKind::PermissionDenied => {
                    "permission denied; check that /bin/sh and the working directory are accessible"
                        .to_string()
                }
                _ => "check that /bin/sh works and that the system can start more processes (ulimit -u, free memory)"
                    .to_string(),
            },
        };
        RunError::Spawn { source, hint }
    }
}

/// Why the wait for the command stopped.
enum Stop {
    /// The shell exited (or waiting for it failed).
    Exited(io::Result<ExitStatus>),
    /// The timeout ran out.
    TimedOut,
    /// The cancel switch was turned on.
    Cancelled,
}

/// Runs `command` with `sh -c` after confirmation: stdin is empty, stdout and
/// stderr are captured (capped, redacted), and on timeout or cancel the whole
/// process group gets SIGTERM, then SIGKILL after [`KILL_GRACE`]. Returns once
/// the shell has ended and output has been drained (at most [`DRAIN_LIMIT`]
/// more), even if background children still hold the pipes. If `cancel` is
/// already on, the command is not started and the outcome says `cancelled`.
pub async fn run(
    command: &str,
    confirmed: Confirmed,
    opts: &RunOptions,
    mut cancel: watch::Receiver<bool>,
) -> Result<CommandOutcome, RunError> {
    if command.trim().is_empty() {
        return Err(RunError::EmptyCommand);
    }
    let shown = redact_text(command, &opts.secrets);
    let started = Instant::now();
    let mut outcome = CommandOutcome {
        command: shown,
        confirmed_by: confirmed.by,
        exit_code: None,
        signal: None,
        duration: Duration::ZERO,
        output: String::new(),
        truncated: false,
        timed_out: false,
        cancelled: false,
        leftovers_ended: false,
    };
    if *cancel.borrow_and_update() {
        tracing::info!(command = %outcome.command, "command cancelled before it started");
        outcome.cancelled = true;
        return Ok(outcome);
    }

    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &opts.cwd {
        cmd.current_dir(dir);
    }
    cmd.envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut child = cmd
        .spawn()
        .map_err(|e| RunError::spawn(e, opts.cwd.as_deref()))?;
    // `process_group(0)` makes the shell's pid its process group id.
    let group = child.id().and_then(|id| libc::pid_t::try_from(id).ok());
    tracing::info!(
        command = %outcome.command,
        confirmed_by = %outcome.confirmed_by,
        pid = ?child.id(),
        "command started"
    );

    let mut capture = Capture::new(opts.output_cap.saturating_add(REDACT_MARGIN));
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let deadline = started.checked_add(opts.timeout);
    let status = {
        let reading = read_both(stdout, stderr, &mut capture);
        tokio::pin!(reading);
        let mut read_done = false;
        let mut cancel_open = true;
        let stop = loop {
            tokio::select! {
                status = child.wait() => break Stop::Exited(status),
                () = &mut reading, if !read_done => read_done = true,
                () = sleep_until(deadline) => break Stop::TimedOut,
                changed = cancel.changed(), if cancel_open => match changed {
                    Ok(()) if *cancel.borrow_and_update() => break Stop::Cancelled,
                    Ok(()) => {}
                    Err(_) => cancel_open = false,
                },
            }
        };
        let status = match stop {
            Stop::Exited(status) => {
                // "Ended" means the whole group: what the shell left running is stopped too.
                if let Some(g) = group
                    && group_alive(g)
                {
                    outcome.leftovers_ended = true;
                    end_leftovers(g).await;
                }
                status
            }
            Stop::TimedOut | Stop::Cancelled => {
                if matches!(stop, Stop::TimedOut) {
                    outcome.timed_out = true;
                } else {
                    outcome.cancelled = true;
                }
                terminate(&mut child, group, reading.as_mut(), &mut read_done).await
            }
        };
        if !read_done
            && tokio::time::timeout(DRAIN_LIMIT, &mut reading)
                .await
                .is_err()
        {
            tracing::debug!("output still open after the command ended; stopped reading");
        }
        status
    };

    match status {
        Ok(status) => {
            outcome.signal = status.signal();
            if !outcome.timed_out && !outcome.cancelled {
                outcome.exit_code = status.code();
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not learn how the command ended"),
    }
    let (output, truncated) = capture.finish(opts.output_cap, &opts.secrets);
    outcome.output = output;
    outcome.truncated = truncated;
    outcome.duration = started.elapsed();
    tracing::info!(
        command = %outcome.command,
        exit_code = ?outcome.exit_code,
        signal = ?outcome.signal,
        duration_ms = u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
        timed_out = outcome.timed_out,
        cancelled = outcome.cancelled,
        truncated = outcome.truncated,
        "command finished"
    );
    Ok(outcome)
}

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Stops the command: SIGTERM to its group, up to [`KILL_GRACE`] for the shell
/// to end, then SIGKILL to the group (for the shell or anything it left),
/// reading output all the while.
async fn terminate(
    child: &mut Child,
    group: Option<libc::pid_t>,
    mut reading: Pin<&mut impl Future<Output = ()>>,
    read_done: &mut bool,
) -> io::Result<ExitStatus> {
    let Some(group) = group else {
        // No group id (cannot happen for a running child): kill the shell alone.
        let _ = child.start_kill();
        return child.wait().await;
    };
    signal_group(group, libc::SIGTERM);
    let grace = Instant::now() + KILL_GRACE;
    let mut status = None;
    while status.is_none() {
        tokio::select! {
            s = child.wait() => status = Some(s),
            () = &mut reading, if !*read_done => *read_done = true,
            () = tokio::time::sleep_until(grace) => break,
        }
    }
    signal_group(group, libc::SIGKILL);
    match status {
        Some(s) => s,
        None => match tokio::time::timeout(KILL_GRACE, child.wait()).await {
            Ok(s) => s,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the shell did not end after SIGKILL",
            )),
        },
    }
}

/// Whether any process of group `group` is still running (a zombie that only
/// waits for its reaper does not count).
fn group_alive(group: libc::pid_t) -> bool {
    if group <= 1 {
        return false;
    }
    // SAFETY: signal 0 only checks that the group exists and may be signalled.
    if unsafe { libc::killpg(group, 0) } != 0 {
        return false;
    }
    // Members may all be zombies already: look at their states.
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            return false;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|p| p.parse::<libc::pid_t>().ok());
        pgrp == Some(group) && !matches!(state, Some("Z") | Some("X"))
    })
}

/// Ends what a shell that exited left in its group: SIGTERM, up to
/// [`KILL_GRACE`] for it to go, then SIGKILL.
async fn end_leftovers(group: libc::pid_t) {
    tracing::info!(
        group,
        "the command left processes running in its group: ending them"
    );
    signal_group(group, libc::SIGTERM);
    let deadline = Instant::now() + KILL_GRACE;
    while group_alive(group) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if group_alive(group) {
        signal_group(group, libc::SIGKILL);
    }
}

/// Sends `signal` to process group `group`; failures (the group is gone) are only logged.
fn signal_group(group: libc::pid_t, signal: libc::c_int) {
    // 0 and 1 would mean our own group and init's: never signal those.
    if group <= 1 {
        return;
    }
    // SAFETY: killpg only sends a signal and touches no memory of ours. The
    // group is the one the command was started in; its leader is not reaped
    // yet, or was reaped moments ago, so the id still names that group.
    let rc = unsafe { libc::killpg(group, signal) };
    if rc != 0 {
        tracing::debug!(
            group,
            signal,
            error = %io::Error::last_os_error(),
            "could not signal the command's process group"
        );
    }
}

/// Output kept so far: the first `keep` bytes, and how many arrived in all.
struct Capture {
    buf: Vec<u8>,
    keep: usize,
    total: u64,
}

impl Capture {
    /// Keeps at most `keep` bytes.
    fn new(keep: usize) -> Capture {
        Capture {
            buf: Vec::with_capacity(keep.min(CHUNK * 4)),
            keep,
            total: 0,
        }
    }

    /// Appends what fits; counts everything.
    fn push(&mut self, chunk: &[u8]) {
        self.total = self.total.saturating_add(chunk.len() as u64);
        let room = self.keep.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    /// Lossy UTF-8, redacted, cut to `cap` bytes on a char boundary; and
    /// whether anything was cut.
    fn finish(self, cap: usize, secrets: &[String]) -> (String, bool) {
        let mut raw = self.buf;
        let mut truncated = self.total > raw.len() as u64;
        if raw.len() > cap {
            // Drop a token that the keep limit may have cut in half, so no
            // unrecognisable half of a secret survives redaction.
            let stop = |c: &u8| c.is_ascii_whitespace() || b"&,;'\"".contains(c);
            if truncated && let Some(at) = raw[cap..].iter().rposition(stop) {
                raw.truncate(cap + at + 1);
            }
        }
        let mut text = redact_text(&String::from_utf8_lossy(&raw), secrets);
        if text.len() > cap {
            let mut cut = cap;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            truncated = true;
        }
        (text, truncated)
    }
}

/// Reads stdout and stderr concurrently into `capture` until both reach EOF
/// (or fail), draining past the cap so a chatty command never blocks.
async fn read_both(
    mut stdout: Option<ChildStdout>,
    mut stderr: Option<ChildStderr>,
    capture: &mut Capture,
) {
    let mut out_buf = vec![0u8; CHUNK];
    let mut err_buf = vec![0u8; CHUNK];
    while stdout.is_some() || stderr.is_some() {
        tokio::select! {
            r = read_some(&mut stdout, &mut out_buf), if stdout.is_some() => match r {
                Some(n) => capture.push(&out_buf[..n]),
                None => stdout = None,
            },
            r = read_some(&mut stderr, &mut err_buf), if stderr.is_some() => match r {
                Some(n) => capture.push(&err_buf[..n]),
                None => stderr = None,
            },
        }
    }
}

/// One read from `pipe`: `Some(bytes read)`, or `None` at EOF, on error or without a pipe.
async fn read_some<R: tokio::io::AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut [u8],
) -> Option<usize> {
    match pipe.as_mut()?.read(buf).await {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome() -> CommandOutcome {
        CommandOutcome {
            command: "true".into(),
            confirmed_by: "ann".into(),
            exit_code: Some(0),
            signal: None,
            duration: Duration::from_millis(1234),
            output: String::new(),
            truncated: false,
            timed_out: false,
            cancelled: false,
            leftovers_ended: false,
        }
    }

    #[test]
    fn summaries_say_how_the_command_ended() {
        assert_eq!(outcome().summary(), "exit 0 in 1.2 s");
        assert!(outcome().succeeded());
        let o = CommandOutcome {
            exit_code: None,
            timed_out: true,
            duration: Duration::from_millis(60_400),
            ..outcome()
        };
        assert_eq!(o.summary(), "timed out after 60 s");
        assert!(!o.succeeded());
        let o = CommandOutcome {
            exit_code: None,
            cancelled: true,
            duration: Duration::from_millis(3_420),
            ..outcome()
        };
        assert_eq!(o.summary(), "cancelled after 3.4 s");
        let o = CommandOutcome {
            exit_code: None,
            signal: Some(9),
            ..outcome()
        };
        assert_eq!(o.summary(), "killed by signal 9");
        let o = CommandOutcome {
            exit_code: Some(3),
            duration: Duration::from_millis(40),
            truncated: true,
            ..outcome()
        };
        assert_eq!(o.summary(), "exit 3 in 40 ms, output truncated");
        assert!(!o.succeeded());
    }

    #[test]
    fn capture_cuts_on_a_char_boundary_and_drops_a_half_token() {
        let mut c = Capture::new(8);
        c.push("ééééé".as_bytes());
        assert_eq!(c.finish(5, &[]), ("éé".to_string(), true));

        // The kept bytes end inside a token, and redaction before it shrinks
        // the text so far that the token's start would fit under the cap:
        // the cut-off token is dropped, not shown in part.
        let mut c = Capture::new(50);
        c.push(format!("token={} ghp_0123456789abcdefghijKLMNOP", "a".repeat(30)).as_bytes());
        assert_eq!(c.finish(32, &[]), ("token=[redacted] ".to_string(), true));
    }

    #[test]
    fn debug_output_hides_secrets_and_env_values() {
        let opts = RunOptions {
            secrets: vec!["hunter2-xyz".into()],
            env: vec![("DB_PASSWORD".into(), "hunter2-xyz".into())],
            ..RunOptions::default()
        };
        let shown = format!("{opts:?}");
        assert!(
            shown.contains("DB_PASSWORD") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
