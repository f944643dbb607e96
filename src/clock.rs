//! The process clock. `ic` reads the wall clock once, when it first asks for
//! the time; from then on time advances with the kernel's boot-time clock,
//! which counts suspend but ignores steps of the wall clock (NTP, `date -s`, a
//! VM restored from a snapshot). Every sample, window, detector, countdown and
//! timeline timestamp in a process reads [`now`], so a step can neither open a
//! hole in a window, nor page on "no traffic", nor make a duration negative.
//! A step is logged once, with its size; restart `ic` to adopt the new time.
//!
//! Sleeps and intervals use tokio's timers, which are monotonic already.

use chrono::{DateTime, TimeDelta, Utc};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

/// Wall time and boot time read together at the first call.
struct Anchor {
    wall: DateTime<Utc>,
    since_boot: Duration,
}

static ANCHOR: OnceLock<Anchor> = OnceLock::new();

/// The wall clock's offset from [`now`] last logged, in milliseconds.
static LOGGED_OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Set when a step was logged and the front end has not said so yet.
static STEP_UNSAID: AtomicBool = AtomicBool::new(false);

/// Differences smaller than this are drift or rounding, not a step worth a log line.
const STEP_MS: i64 = 2_000;

/// The current time: the wall time at the first call plus the boot-time clock since.
pub fn now() -> DateTime<Utc> {
    let anchor = ANCHOR.get_or_init(|| Anchor {
        wall: wall(),
        since_boot: since_boot(),
    });
    let elapsed = since_boot().saturating_sub(anchor.since_boot);
    let now = TimeDelta::from_std(elapsed)
        .ok()
        .and_then(|d| anchor.wall.checked_add_signed(d))
        .unwrap_or(anchor.wall);
    log_step(now);
    now
}

/// The calendar date of `at` where the responder is (the local time zone):
/// the `today` that relative due dates (`due:tomorrow`, `due:fri`) count
/// from, so "tomorrow" typed at 22:00 in San Francisco is the next day there.
pub fn local_date(at: DateTime<Utc>) -> chrono::NaiveDate {
    at.with_timezone(&chrono::Local).date_naive()
}

/// Today's date where the responder is: [`local_date`] of [`now`].
pub fn today() -> chrono::NaiveDate {
    local_date(now())
}

/// Logs a step of the wall clock the first time it is seen.
fn log_step(now: DateTime<Utc>) {
    let offset = (wall() - now).num_milliseconds();
    let logged = LOGGED_OFFSET_MS.load(Ordering::Relaxed);
    if (offset - logged).abs() >= STEP_MS
        && LOGGED_OFFSET_MS
            .compare_exchange(logged, offset, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        STEP_UNSAID.store(true, Ordering::Relaxed);
        tracing::warn!(
            "the wall clock stepped: it is now {:+.1} s from ic's clock; ic keeps counting from its start \
             so intervals, windows and durations stay right (restart ic to adopt the new time)",
            offset as f64 / 1000.0
        );
    }
}

/// The wall clock as it reads now, only for comparing with another machine's
/// date (an HTTP `Retry-After` date); everything else uses [`now`].
/// Once per step of the wall clock: how far the wall clock now is from [`now`],
/// for the front end to tell the responder.
pub fn take_step() -> Option<TimeDelta> {
    STEP_UNSAID
        .swap(false, Ordering::Relaxed)
        .then(|| TimeDelta::milliseconds(LOGGED_OFFSET_MS.load(Ordering::Relaxed)))
}

#[allow(clippy::disallowed_methods)] // The one place that reads the wall clock.
pub fn wall() -> DateTime<Utc> {
    Utc::now()
}

/// Time since boot, suspend included, unaffected by steps of the wall clock.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn since_boot() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_BOOTTIME exists on Linux ≥ 2.6.39.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        // Only on kernels without CLOCK_BOOTTIME, where it fails on every call alike.
        return monotonic();
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// Time since boot where there is no boot-time clock: the monotonic clock.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn since_boot() -> Duration {
    monotonic()
}

/// The monotonic clock since the first call in this process.
fn monotonic() -> Duration {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_never_goes_backwards_and_tracks_the_wall_clock() {
        let mut last = now();
        for _ in 0..10_000 {
            let t = now();
            assert!(t >= last);
            last = t;
        }
        assert!((wall() - now()).num_milliseconds().abs() < STEP_MS);
    }
}
