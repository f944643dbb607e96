//! The probe scheduler: every endpoint at its own interval from a jittered
//! start, at most `concurrency` probes in flight overall and at most one per
//! endpoint — a tick that finds the previous probe still running is reported
//! as an overrun, never queued. Intervals run on the monotonic clock.

use crate::core::sample::ProbeSample;
use crate::source::probe::{self, ProbeTarget};
use chrono::{DateTime, Utc};
use rand::RngExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;

/// What the scheduler reports.
#[derive(Debug, Clone)]
pub enum ProbeEvent {
    /// A probe finished.
    Sample {
        /// Index of the endpoint in the target list.
        endpoint: usize,
        /// The result.
        sample: Box<ProbeSample>,
    },
    /// A probe was due while the previous one was still running.
    Overrun {
        /// Index of the endpoint.
        endpoint: usize,
        /// When the skipped probe was due.
        at: DateTime<Utc>,
    },
}

/// Probes every target until `shutdown` turns true, sending results to `events`.
pub async fn run(
    targets: Arc<Vec<ProbeTarget>>,
    concurrency: usize,
    events: mpsc::Sender<ProbeEvent>,
    shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut loops = tokio::task::JoinSet::new();
    for index in 0..targets.len() {
        loops.spawn(endpoint_loop(
            targets.clone(),
            index,
            slots.clone(),
            events.clone(),
            shutdown.clone(),
        ));
    }
    while loops.join_next().await.is_some() {}
}

async fn endpoint_loop(
    targets: Arc<Vec<ProbeTarget>>,
    index: usize,
    slots: Arc<Semaphore>,
    events: mpsc::Sender<ProbeEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let interval = targets[index].interval.max(Duration::from_millis(10));
    let jitter = Duration::from_secs_f64(rand::rng().random_range(0.0..interval.as_secs_f64()));
    let mut due = Instant::now() + jitter;
    let busy = Arc::new(AtomicBool::new(false));
    let mut probes = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            () = tokio::time::sleep_until(due) => {}
        }
        let scheduled = due;
        due += interval;
        let now = Instant::now();
        while due <= now {
            due += interval; // the process was stalled: skip, do not burst
        }
        while probes.try_join_next().is_some() {}
        if busy.swap(true, Ordering::AcqRel) {
            let overrun = ProbeEvent::Overrun {
                endpoint: index,
                at: crate::clock::now(),
            };
            if events.send(overrun).await.is_err() {
                break;
            }
            continue;
        }
        let (targets, slots, events, busy) =
            (targets.clone(), slots.clone(), events.clone(), busy.clone());
        probes.spawn(async move {
            let Ok(_permit) = slots.acquire_owned().await else {
                busy.store(false, Ordering::Release);
                return;
            };
            let lateness = Instant::now().saturating_duration_since(scheduled);
            let mut sample = probe::probe(&targets[index], crate::clock::now()).await;
            sample.lateness = lateness;
            busy.store(false, Ordering::Release);
            let _ = events
                .send(ProbeEvent::Sample {
                    endpoint: index,
                    sample: Box::new(sample),
                })
                .await;
        });
    }
    probes.abort_all();
    while probes.join_next().await.is_some() {}
}
