//! Probe-level detectors of one endpoint: `down` (consecutive failed probes)
//! and certificate expiry.

use super::lifecycle::Health;
use super::{make_signal, ts};
use crate::core::sample::FailureClass;
use crate::core::signal::{DetectorKind, SeverityHint, Signal, SignalState};
use std::collections::VecDeque;

/// What one probe saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeResult {
    /// The check passed.
    Ok,
    /// No (HTTP) answer: DNS, connect, TLS, protocol or timeout.
    Unreachable,
    /// An answer that failed the check: a bad status, body or latency.
    Failed,
}

impl From<FailureClass> for ProbeResult {
    /// How the `down` detector reads a probe's class: no answer (DNS, connect, TLS,
    /// timeout) versus an answer that failed its check.
    fn from(class: FailureClass) -> Self {
        use FailureClass as C;
        match class {
            // A 429 is an answer from a working endpoint that sheds load: not `down`
            // (client_errors and traffic_surge speak for it).
            C::Ok | C::RateLimited => ProbeResult::Ok,
            C::Dns | C::Connect | C::Tls | C::Protocol | C::Timeout => ProbeResult::Unreachable,
            _ => ProbeResult::Failed,
        }
    }
}

/// The `down` detector of one endpoint: fires when 2 of the last 3 probes got
/// no answer, or the last 3 probes in a row failed their check; resolves after
/// `RESOLVE_PROBES` good probes in a row spanning at least `RESOLVE_SPAN`
/// seconds, so an endpoint failing two probes in five does not flap. A 429 is a
/// good probe here: the endpoint answers, it sheds load. The onset is the first
/// failed probe of the streak, the end (on resolution) the last failed one.
///
/// Answered-but-failed probes need three in a row because a route with a
/// normal 0.5% of errors, probed every 2 s, would otherwise page about twenty
/// times a week on 2-of-3 (as `ic simulate assets/scenarios/sim-noise-week.yaml`
/// shows); an unreachable endpoint has no such background rate.
#[derive(Debug, Clone, Default)]
pub struct DownDetector {
    last: VecDeque<(i64, ProbeResult)>,
    firing_since: Option<i64>,
    last_failure: Option<FailureClass>,
    /// When the last failed probe was taken.
    last_bad: Option<i64>,
    /// When the last failed probe next to another failure (2 of the last 3)
    /// was taken: the episode's end, which a lone failure among good probes
    /// later (a route's background errors) does not move.
    last_bad_run: Option<i64>,
    /// The current run of good probes: (how many, when the first was taken).
    good_run: Option<(u32, i64)>,
    /// The last [`RECENT`] probes: (when, good), for [`DownDetector::health`].
    recent: VecDeque<(i64, bool)>,
}

/// Probes kept for [`DownDetector::health`].
const RECENT: usize = 8;

/// Good probes in a row that end a `down`.
const RESOLVE_PROBES: u32 = 3;
/// Seconds the good run must span.
const RESOLVE_SPAN: i64 = 30;

impl DownDetector {
    /// Feeds the class of one probe taken at Unix second `at`, with a description of the failure.
    pub fn observe(
        &mut self,
        target: &str,
        at: i64,
        class: FailureClass,
        what: &str,
    ) -> Option<Signal> {
        let result = ProbeResult::from(class);
        if result != ProbeResult::Ok {
            self.last_failure = Some(class);
            self.last_bad = Some(at);
            self.good_run = None;
        } else {
            let run = self.good_run.get_or_insert((0, at));
            run.0 += 1;
        }
        self.recent.push_back((at, result == ProbeResult::Ok));
        if self.recent.len() > RECENT {
            self.recent.pop_front();
        }
        self.last.push_back((at, result));
        if self.last.len() > 3 {
            self.last.pop_front();
        }
        let count = |r: ProbeResult| self.last.iter().filter(|(_, x)| *x == r).count();
        let (unreachable, failed) = (count(ProbeResult::Unreachable), count(ProbeResult::Failed));
        if result != ProbeResult::Ok && unreachable + failed >= 2 {
            self.last_bad_run = Some(at);
        }
        let last_failure = self.last_failure;
        let signal = |state, evidence, started, severity| Signal {
            class: last_failure,
            ..make_signal(
                DetectorKind::Down,
                target,
                state,
                severity,
                evidence,
                started,
                at,
            )
        };
        let down = unreachable >= 2 || unreachable + failed == 3;
        match self.firing_since {
            None if down => {
                let started = self
                    .last
                    .iter()
                    .find(|(_, r)| *r != ProbeResult::Ok)
                    .map_or(at, |(t, _)| *t);
                self.firing_since = Some(started);
                let evidence = if unreachable >= 2 {
                    format!("{unreachable} of the last 3 probes got no answer: {what}")
                } else {
                    format!("the last 3 probes failed: {what}")
                };
                Some(signal(
                    SignalState::Fired,
                    evidence,
                    started,
                    SeverityHint::Critical,
                ))
            }
            Some(started)
                if self.good_run.is_some_and(|(n, since)| {
                    n >= RESOLVE_PROBES && at - since >= RESOLVE_SPAN
                }) =>
            {
                self.firing_since = None;
                let n = self.good_run.map_or(0, |r| r.0);
                let ended = self
                    .last_bad_run
                    .filter(|t| *t >= started)
                    .or(self.last_bad);
                Some(Signal {
                    ended: Some(ts(ended.unwrap_or(started))),
                    ..signal(
                        SignalState::Resolved,
                        format!("{n} good probes in a row over {RESOLVE_SPAN}s or more"),
                        started,
                        SeverityHint::Info,
                    )
                })
            }
            _ => None,
        }
    }

    /// Whether it is firing.
    pub fn is_firing(&self) -> bool {
        self.firing_since.is_some()
    }

    /// What the probes taken in (`from`, `now`] say, for
    /// [`lifecycle`](super::lifecycle): healed when all passed, bad when two
    /// or more were taken and all failed; `None` without a probe there.
    pub fn health(&self, from: i64, now: i64) -> Option<Health> {
        let (mut good, mut bad) = (0, 0);
        for (_, ok) in self.recent.iter().filter(|(t, _)| *t > from && *t <= now) {
            if *ok {
                good += 1;
            } else {
                bad += 1;
            }
        }
        match (good, bad) {
            (0, 0) => None,
            (_, 0) => Some(Health::Healed),
            (0, b) if b >= 2 => Some(Health::Bad),
            _ => Some(Health::Unsure),
        }
    }

    /// The class of the last failed probe, if any failed.
    pub fn last_failure(&self) -> Option<FailureClass> {
        self.last_failure
    }
}

/// The certificate detector of one endpoint: a warning under 21, 14 and 7 days
/// left (an update at each step down), critical under 48 hours, resolved when a
/// renewed certificate has 21 days or more.
#[derive(Debug, Clone, Default)]
pub struct CertificateDetector {
    /// The step in force: index into `CERT_STEPS`, when firing.
    step: Option<usize>,
    since: i64,
}

/// (days left under which, severity) from the mildest to the worst.
const CERT_STEPS: [(f64, SeverityHint); 4] = [
    (21.0, SeverityHint::Info),
    (14.0, SeverityHint::Warning),
    (7.0, SeverityHint::Warning),
    (2.0, SeverityHint::Critical),
];

impl CertificateDetector {
    /// Feeds the days left on the leaf certificate seen at Unix second `at`.
    pub fn observe(&mut self, target: &str, at: i64, days_left: f64) -> Option<Signal> {
        let step = CERT_STEPS.iter().rposition(|(limit, _)| days_left < *limit);
        let signal = |state, severity, evidence, since| {
            make_signal(
                DetectorKind::Certificate,
                target,
                state,
                severity,
                evidence,
                since,
                at,
            )
        };
        let describe = |i: usize| {
            if days_left < 2.0 {
                format!(
                    "certificate expires in {:.0} hours",
                    (days_left * 24.0).max(0.0)
                )
            } else {
                format!(
                    "certificate expires in {days_left:.1} days (under {})",
                    CERT_STEPS[i].0
                )
            }
        };
        match (self.step, step) {
            (None, Some(i)) => {
                self.step = Some(i);
                self.since = at;
                Some(signal(SignalState::Fired, CERT_STEPS[i].1, describe(i), at))
            }
            (Some(old), Some(i)) if i > old => {
                self.step = Some(i);
                Some(signal(
                    SignalState::Updated,
                    CERT_STEPS[i].1,
                    describe(i),
                    self.since,
                ))
            }
            (Some(_), None) => {
                self.step = None;
                Some(signal(
                    SignalState::Resolved,
                    SeverityHint::Info,
                    format!("certificate renewed: {days_left:.0} days left"),
                    self.since,
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_steps_down_then_resolves_on_renewal() {
        let mut c = CertificateDetector::default();
        assert!(c.observe("api", 1, 30.0).is_none());
        let s = c.observe("api", 2, 20.0).unwrap();
        assert_eq!(
            (s.state, s.severity),
            (SignalState::Fired, SeverityHint::Info)
        );
        assert!(c.observe("api", 3, 19.0).is_none(), "no news inside a step");
        let s = c.observe("api", 4, 6.5).unwrap();
        assert_eq!(
            (s.state, s.severity),
            (SignalState::Updated, SeverityHint::Warning)
        );
        assert_eq!(s.evidence, "certificate expires in 6.5 days (under 7)");
        let s = c.observe("api", 5, 1.5).unwrap();
        assert_eq!(
            (s.severity, s.evidence.as_str()),
            (SeverityHint::Critical, "certificate expires in 36 hours")
        );
        assert_eq!(s.started.timestamp(), 2);
        let s = c.observe("api", 6, 90.0).unwrap();
        assert_eq!(s.state, SignalState::Resolved);
    }

    #[test]
    fn down_needs_two_unanswered_of_three_and_30_good_seconds_to_clear() {
        use FailureClass::{Connect, Ok};
        let mut d = DownDetector::default();
        assert!(d.observe("e", 1, Connect, "connect").is_none());
        assert!(d.observe("e", 2, Ok, "").is_none());
        let fired = d.observe("e", 3, Connect, "connect: refused").unwrap();
        assert_eq!(
            (fired.state, fired.started.timestamp()),
            (SignalState::Fired, 1)
        );
        assert!(fired.evidence.contains("2 of the last 3"));
        for t in (5..35).step_by(2) {
            assert!(d.observe("e", t, Ok, "").is_none(), "resolved at {t}");
        }
        let resolved = d.observe("e", 35, Ok, "").unwrap();
        assert_eq!(resolved.state, SignalState::Resolved);
        assert_eq!(resolved.ended.map(|e| e.timestamp()), Some(3));
    }

    #[test]
    fn a_lone_failure_after_recovery_does_not_move_the_end() {
        use FailureClass::{Connect, Ok};
        let mut d = DownDetector::default();
        let mut resolved = None;
        for t in 0..120 {
            // Down 10..20 s, then one background error at 33 s.
            let class = if (10..20).contains(&t) || t == 33 {
                Connect
            } else {
                Ok
            };
            if let Some(s) = d.observe("e", t, class, "x")
                && s.state == SignalState::Resolved
            {
                resolved = s.ended.map(|e| e.timestamp());
            }
        }
        assert_eq!(
            resolved,
            Some(19),
            "the outage's last failure, not the lone one"
        );
    }

    #[test]
    fn answers_429_are_not_down_and_two_failures_in_five_do_not_flap() {
        use FailureClass::{Http5xx, Ok, RateLimited};
        let mut d = DownDetector::default();
        for t in 0..200 {
            let class = if t % 5 < 2 { RateLimited } else { Ok };
            assert!(d.observe("e", t * 2, class, "429").is_none());
        }
        // Three 5xx in five: it fires, and never resolves while the failures go on.
        let mut states = Vec::new();
        for t in 0..200 {
            let class = if t % 5 < 3 { Http5xx } else { Ok };
            if let Some(s) = d.observe("e", t * 2, class, "500") {
                states.push(s.state);
            }
        }
        assert_eq!(states, vec![SignalState::Fired]);
    }

    #[test]
    fn answered_failures_need_three_in_a_row() {
        use FailureClass::{Http5xx, Ok, Timeout};
        let mut d = DownDetector::default();
        assert!(d.observe("e", 1, Http5xx, "500").is_none());
        assert!(d.observe("e", 2, Http5xx, "500").is_none());
        assert!(d.observe("e", 3, Ok, "").is_none());
        assert!(d.observe("e", 4, Http5xx, "500").is_none());
        assert!(d.observe("e", 5, Timeout, "timeout").is_none());
        let fired = d.observe("e", 6, Http5xx, "503").unwrap();
        assert!(
            fired.evidence.contains("the last 3 probes failed"),
            "{}",
            fired.evidence
        );
        assert_eq!(fired.started.timestamp(), 4);
        assert_eq!(
            fired.class,
            Some(Http5xx),
            "the last failure names the class"
        );
    }
}
