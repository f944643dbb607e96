//! The runtime's ports: the clock it reads, where notifications and status
//! updates go, what runs a confirmed command, and where timelines live
//! ([`super::timelines`]). The real ones wrap the process clock, the notifier,
//! `sh` and the timeline directory; tests give a manual clock, a recording
//! notifier, a scripted runner and timelines in memory, and run the real loop.

use super::timelines::{FileTimelines, Timelines};
use crate::config::Notify;
use crate::core::signal::Signal;
use crate::notify::Notifier;
use crate::runner::{CommandOutcome, Confirmed, RunError, RunOptions};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// What time it is.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The process clock ([`crate::clock::now`]): steady across wall-clock steps.
pub struct ProcessClock;

impl Clock for ProcessClock {
    fn now(&self) -> DateTime<Utc> {
        crate::clock::now()
    }
}

/// A clock that moves only when told (tests).
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock reading `at`.
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock(Mutex::new(at))
    }

    /// Sets the time.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut t) = self.0.lock() {
            *t = at;
        }
    }

    /// Moves the time on by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
            .lock()
            .map(|t| *t)
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }
}

/// Where alerts and status updates go.
pub trait Notifications: Send {
    /// A signal worth telling people about.
    fn signal(&mut self, signal: &Signal);
    /// A status update the responder sent.
    fn comms(&mut self, text: &str);
    /// A reminder for the responder (a status update falls due).
    fn reminder(&mut self, text: &str);
}

impl Notifications for Notifier {
    fn signal(&mut self, signal: &Signal) {
        self.notify(signal, std::time::Instant::now());
    }

    fn comms(&mut self, text: &str) {
        Notifier::comms(self, text);
    }

    fn reminder(&mut self, text: &str) {
        Notifier::reminder(self, text);
    }
}

/// What a [`CommandRunner`] returns: the command's outcome, later.
pub type RunFuture = Pin<Box<dyn Future<Output = Result<CommandOutcome, RunError>> + Send>>;

/// Runs a confirmed command.
pub trait CommandRunner: Send + Sync {
    /// Starts `command` (as `sh -c` would take it), confirmed by `confirmed_by`;
    /// `cancel` turning true stops it.
    fn run(
        &self,
        command: String,
        confirmed_by: String,
        opts: RunOptions,
        cancel: watch::Receiver<bool>,
    ) -> RunFuture;
}

/// The real runner: `sh -c` in its own process group ([`crate::runner::run`]).
pub struct ShellRunner;

impl CommandRunner for ShellRunner {
    fn run(
        &self,
        command: String,
        confirmed_by: String,
        opts: RunOptions,
        cancel: watch::Receiver<bool>,
    ) -> RunFuture {
        Box::pin(async move {
            crate::runner::run(&command, Confirmed::by(&confirmed_by), &opts, cancel).await
        })
    }
}

/// Everything the runtime reaches the outside world through (besides the sources).
pub struct Ports {
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Notifications.
    pub notifier: Box<dyn Notifications>,
    /// The command runner.
    pub runner: Arc<dyn CommandRunner>,
    /// The incidents' timelines.
    pub timelines: Box<dyn Timelines>,
}

impl Ports {
    /// The real ports: the process clock, the configured notifier, `sh`, the
    /// timeline files in `dir`.
    pub fn real(notify: &Notify, secrets: &[String], dir: PathBuf) -> Ports {
        Ports {
            clock: Arc::new(ProcessClock),
            notifier: Box::new(Notifier::start(notify, secrets)),
            runner: Arc::new(ShellRunner),
            timelines: Box::new(FileTimelines::new(dir)),
        }
    }
}
