//! What a page is: the layer between a detector's raw fire / resolve
//! transitions (per detector and target) and the signals the rest of `ic`
//! acts on — the engine, `ic watch` and `ic simulate` all go through it, so
//! the simulator counts pages the way the live program pages.
//!
//! - **Blips.** A fire is held until `detect.min_duration` has passed since
//!   its estimated onset. Then the target's data since shortly before that
//!   moment is asked whether the anomaly is still there ([`Health`]): healed,
//!   it becomes a [`SignalState::Blip`] — recorded and shown, never paged; not
//!   healed (or unsure), it is released as `Fired`. With no data to tell yet
//!   it waits, at most another `min_duration`. A blip whose detector keeps
//!   firing (its windows still hold the burst) is released after all if the
//!   data turns surely bad again, or if the detector has not resolved within
//!   the stability time (below).
//! - **Flapping.** A paged signal whose episode was short (under the
//!   stability time, with no other signal of the target open beside it — then
//!   it is part of that one's incident) or that fired 3 times within 10
//!   minutes is not resolved
//!   when its detector resolves: it stays open until the stability time
//!   (`detect.stable_for`, default 90 s: three times the 30 s a route
//!   detector needs to resolve) has passed since the episode's last bad second
//!   (the detector's estimated end). A fire in
//!   between is the same signal going on, a [`SignalState::Flapping`] update
//!   with the number of flaps in its evidence: one page, not seven.
//!
//! Certificates and Alertmanager alerts pass through untouched (a certificate
//! does not blip; an alert has its own `for:`).

use super::ts;
use crate::core::signal::{DetectorKind, Signal, SignalState};
use std::collections::VecDeque;

/// What the data since a moment says about an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Surely back to normal: well under half the anomaly's own level.
    Healed,
    /// Surely still bad.
    Bad,
    /// Neither can be told apart (or the detector's data cannot say).
    Unsure,
}

/// Asks a target's data about the anomaly of detector `kind` that began at
/// `onset`: its health over the seconds in (`from`, `now`], `None` with no
/// data there yet.
pub type Evidence<'a> = &'a dyn Fn(DetectorKind, i64, i64, i64) -> Option<Health>;

/// How sure "healed" and "bad" must be (binomial tails).
pub const ALPHA: f64 = 1e-3;
/// Seconds of data before the end of the hold that decide a blip.
pub const TAIL: i64 = 2;
/// Fires within this long of each other count towards flapping.
pub const FLAP_WINDOW: i64 = 600;
/// Fires within [`FLAP_WINDOW`] that make a signal flapping.
pub const FLAP_FIRES: usize = 3;

/// The default stability time (`detect.stable_for`): three times the 30 s a
/// route detector (or a `down`) needs to resolve. A flapping (or short)
/// signal resolves only once its target has been quiet this long.
pub const STABLE_FOR: i64 = 90;

/// The lifecycle's two waits, in seconds, from `detect:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holds {
    /// `detect.min_duration`: a fault healed within this long of its onset is a blip.
    pub min_duration: i64,
    /// `detect.stable_for`: how long a flapping or short signal must stay
    /// quiet before it resolves (and what counts as short).
    pub stable_for: i64,
}

impl Default for Holds {
    fn default() -> Self {
        Holds {
            min_duration: 5,
            stable_for: STABLE_FOR,
        }
    }
}

fn passes_through(kind: DetectorKind) -> bool {
    matches!(kind, DetectorKind::Certificate | DetectorKind::Alert)
}

#[derive(Debug, Clone)]
enum Phase {
    /// Nothing going on.
    Quiet,
    /// The detector fired; waiting until `min_duration` after the onset.
    Held(Signal),
    /// Judged a blip at the second given while the detector still fires.
    Blip(Signal, i64),
    /// Paged and firing.
    Open(Signal),
    /// Paged; the detector resolved (this signal) and the signal is held open:
    /// quiet since the second given (the episode's last bad second).
    Settling(Signal, Signal, i64),
}

#[derive(Debug, Clone)]
struct Entry {
    kind: DetectorKind,
    phase: Phase,
    /// Fires (paged or absorbed) within the last [`FLAP_WINDOW`].
    fires: VecDeque<i64>,
    /// Fires absorbed into the open signal.
    flaps: u32,
    /// When it was last paged and until when it was open (`i64::MAX`: it is).
    open: Option<(i64, i64)>,
}

/// The layer for one target: one entry per detector that has spoken.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    entries: Vec<Entry>,
}

impl Lifecycle {
    /// The entry of `kind`, made on its first signal.
    fn index(&mut self, kind: DetectorKind) -> usize {
        match self.entries.iter().position(|e| e.kind == kind) {
            Some(i) => i,
            None => {
                self.entries.push(Entry {
                    kind,
                    phase: Phase::Quiet,
                    fires: VecDeque::new(),
                    flaps: 0,
                    open: None,
                });
                self.entries.len() - 1
            }
        }
    }

    /// Feeds one raw transition of a detector at Unix second `now`; appends
    /// what the rest of `ic` should see to `out`.
    pub fn feed(
        &mut self,
        raw: Signal,
        now: i64,
        holds: Holds,
        health: Evidence,
        out: &mut Vec<Signal>,
    ) {
        if passes_through(raw.kind) {
            out.push(raw);
            return;
        }
        let i = self.index(raw.kind);
        // Another signal of this target paged before this one and still open
        // when this episode began: a short episode beside it belongs to that
        // incident, and ends with its data.
        let began = match &self.entries[i].phase {
            Phase::Open(open) => raw.started.max(open.started).timestamp(),
            _ => now,
        };
        let paged = self.entries[i].open.map_or(now, |(from, _)| from);
        let beside =
            self.entries.iter().enumerate().any(|(j, e)| {
                j != i && e.open.is_some_and(|(from, to)| from < paged && to >= began)
            });
        let e = &mut self.entries[i];
        let phase = std::mem::replace(&mut e.phase, Phase::Quiet);
        e.phase = match (phase, raw.state) {
            (Phase::Quiet, SignalState::Fired) => Phase::Held(raw),
            (Phase::Held(_), SignalState::Fired | SignalState::Updated) => Phase::Held(raw),
            // Healed before the hold ended: a blip, and nothing to resolve.
            (Phase::Held(held), SignalState::Resolved) => {
                out.push(blip(&held, now, holds.min_duration));
                Phase::Quiet
            }
            (Phase::Blip(..), SignalState::Resolved) => Phase::Quiet,
            (Phase::Open(_), SignalState::Updated) => {
                out.push(raw.clone());
                Phase::Open(raw)
            }
            (Phase::Open(open), SignalState::Resolved) => {
                prune(&mut e.fires, now);
                // The last episode's own length (`began`): a detector's long
                // windows may have carried earlier episodes into this one.
                let lasted = raw.ended.map_or(now, |t| t.timestamp()) - began;
                let short = lasted < holds.stable_for && !beside;
                if short || e.fires.len() >= FLAP_FIRES {
                    let last_bad = raw.ended.map_or(now, |t| t.timestamp()).min(now);
                    Phase::Settling(open, raw, last_bad)
                } else {
                    e.flaps = 0;
                    e.open = e.open.map(|(from, _)| (from, now));
                    out.push(raw);
                    Phase::Quiet
                }
            }
            (Phase::Settling(open, _, _), SignalState::Fired) => {
                prune(&mut e.fires, now);
                e.fires.push_back(now);
                e.flaps += 1;
                out.push(flapping(&open, &raw, e.flaps, e.fires.len(), now, holds));
                Phase::Open(open)
            }
            // Anything else (a resolution of what never fired here, a fire
            // while already firing) changes nothing.
            (phase, _) => phase,
        };
        self.poll_entry(i, now, holds, health, out);
    }

    /// Lets time pass to Unix second `now`: releases holds that are due,
    /// resolves settled signals. Called at least once a second of data.
    pub fn poll(&mut self, now: i64, holds: Holds, health: Evidence, out: &mut Vec<Signal>) {
        for i in 0..self.entries.len() {
            self.poll_entry(i, now, holds, health, out);
        }
    }

    fn poll_entry(
        &mut self,
        i: usize,
        now: i64,
        holds: Holds,
        health: Evidence,
        out: &mut Vec<Signal>,
    ) {
        let min_duration = holds.min_duration;
        let Some(e) = self.entries.get_mut(i) else {
            return;
        };
        let phase = std::mem::replace(&mut e.phase, Phase::Quiet);
        e.phase = match phase {
            Phase::Held(held) => {
                let onset = held.started.timestamp();
                let due = onset + min_duration;
                if now < due {
                    Phase::Held(held)
                } else {
                    match health(held.kind, onset, due - TAIL, now) {
                        Some(Health::Healed) => {
                            out.push(blip(&held, now, min_duration));
                            Phase::Blip(held, now)
                        }
                        None if now < due + min_duration => Phase::Held(held),
                        _ => page(e, held, now, out),
                    }
                }
            }
            Phase::Blip(held, decided) => {
                let since = health(held.kind, held.started.timestamp(), decided, now);
                let back = since == Some(Health::Bad);
                // Not resolved within `stable_for` pages after all — unless the
                // data since the blip says healed (a `down` detector resolves only
                // after 30 s of good probes, longer than a short `stable_for`).
                let healed = since == Some(Health::Healed);
                if back || (now >= decided + holds.stable_for && !healed) {
                    page(e, held, now, out)
                } else {
                    Phase::Blip(held, decided)
                }
            }
            Phase::Settling(open, resolved, since) if now >= since + holds.stable_for => {
                let evidence = if e.flaps > 0 {
                    format!(
                        "{} (after {} flap{}, quiet for {}s)",
                        resolved.evidence,
                        e.flaps,
                        if e.flaps == 1 { "" } else { "s" },
                        now - since
                    )
                } else {
                    format!("{} (quiet for {}s)", resolved.evidence, now - since)
                };
                e.flaps = 0;
                e.open = e.open.map(|(from, _)| (from, now));
                out.push(Signal {
                    evidence,
                    started: open.started,
                    at: ts(now),
                    ..resolved
                });
                Phase::Quiet
            }
            other => other,
        };
    }

    /// Whether the signal of `kind` is paged and not resolved (held fires and
    /// blips are not).
    pub fn is_open(&self, kind: DetectorKind) -> bool {
        self.entries
            .iter()
            .any(|e| e.kind == kind && matches!(e.phase, Phase::Open(_) | Phase::Settling(..)))
    }
}

fn prune(fires: &mut VecDeque<i64>, now: i64) {
    while fires.front().is_some_and(|t| *t <= now - FLAP_WINDOW) {
        fires.pop_front();
    }
}

/// Releases a held fire as a page at `now`.
fn page(e: &mut Entry, held: Signal, now: i64, out: &mut Vec<Signal>) -> Phase {
    prune(&mut e.fires, now);
    e.fires.push_back(now);
    e.flaps = 0;
    e.open = Some((now, i64::MAX));
    let fired = Signal {
        state: SignalState::Fired,
        at: ts(now),
        ..held
    };
    out.push(fired.clone());
    Phase::Open(fired)
}

fn blip(held: &Signal, now: i64, min_duration: i64) -> Signal {
    Signal {
        state: SignalState::Blip,
        evidence: format!(
            "{} — healed within {min_duration}s: a blip, not paged",
            held.evidence
        ),
        at: ts(now),
        ..held.clone()
    }
}

fn flapping(
    open: &Signal,
    raw: &Signal,
    flaps: u32,
    fires: usize,
    now: i64,
    holds: Holds,
) -> Signal {
    let what = if fires >= FLAP_FIRES {
        format!("flapping: fired {fires} times in 10 min")
    } else {
        "fired again".to_string()
    };
    Signal {
        state: SignalState::Flapping,
        evidence: format!(
            "{what} ({flaps} flap{}; open until quiet for {}s): {}",
            if flaps == 1 { "" } else { "s" },
            holds.stable_for,
            raw.evidence
        ),
        started: open.started,
        at: ts(now),
        ..raw.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::detect::testing::{T0, Traffic};
    use crate::core::detect::{DownDetector, RouteDetectors, Settings};
    use crate::core::sample::FailureClass;

    /// One route at 20 req/s with error share `p(t)` for `secs` seconds after
    /// an hour of calm, through the detectors and the layer: what comes out,
    /// as (second from the start, signal), and whether the signal was open at each second.
    fn route(seed: u64, secs: i64, p: impl Fn(i64) -> f64) -> (Vec<(i64, Signal)>, Vec<bool>) {
        route_with(seed, secs, Holds::default(), p)
    }

    /// [`route`] with the given holds.
    fn route_with(
        seed: u64,
        secs: i64,
        holds: Holds,
        p: impl Fn(i64) -> f64,
    ) -> (Vec<(i64, Signal)>, Vec<bool>) {
        let settings = Settings::default();
        let mut traffic = Traffic { seed };
        let mut detectors = RouteDetectors::default();
        let mut layer = Lifecycle::default();
        let (mut raw, mut out, mut open) = (Vec::new(), Vec::new(), Vec::new());
        for t in -3600..secs {
            let now = T0 + t;
            let share = if t < 0 { 0.001 } else { p(t) };
            detectors.observe(
                "r",
                now,
                traffic.second(20, share),
                None,
                &settings,
                &mut raw,
            );
            let health = |k, o, f, n| detectors.health(k, o, f, n);
            let mut here = Vec::new();
            for s in raw.drain(..) {
                layer.feed(s, now, holds, &health, &mut here);
            }
            layer.poll(now, holds, &health, &mut here);
            out.extend(here.into_iter().map(|s| (t, s)));
            if t >= 0 {
                open.push(layer.is_open(DetectorKind::ErrorRate));
            }
        }
        (out, open)
    }

    fn count(out: &[(i64, Signal)], state: SignalState) -> usize {
        out.iter().filter(|(_, s)| s.state == state).count()
    }

    #[test]
    fn a_three_second_blip_is_recorded_and_never_paged() {
        for seed in 1..=10 {
            let (out, open) = route(
                seed,
                300,
                |t| if (60..63).contains(&t) { 1.0 } else { 0.001 },
            );
            assert_eq!(count(&out, SignalState::Fired), 0, "seed {seed}: {out:?}");
            assert_eq!(
                count(&out, SignalState::Resolved),
                0,
                "seed {seed}: {out:?}"
            );
            assert_eq!(count(&out, SignalState::Blip), 1, "seed {seed}: {out:?}");
            assert!(open.iter().all(|o| !o), "seed {seed}");
            let (t, blip) = out
                .iter()
                .find(|(_, s)| s.state == SignalState::Blip)
                .unwrap();
            assert!((60..=70).contains(t), "seed {seed}: blip at {t}");
            assert!(blip.evidence.contains("blip"), "{}", blip.evidence);
        }
    }

    #[test]
    fn an_outage_pages_by_five_seconds_after_its_onset() {
        for seed in 1..=10 {
            let (out, _) = route(seed, 200, |t| if t >= 60 { 1.0 } else { 0.001 });
            let fired: Vec<&(i64, Signal)> = out
                .iter()
                .filter(|(_, s)| s.state == SignalState::Fired)
                .collect();
            assert_eq!(fired.len(), 1, "seed {seed}: {out:?}");
            let (t, s) = fired[0];
            assert!(*t <= 65, "seed {seed}: paged at {t}");
            assert_eq!(s.started.timestamp(), T0 + 60);
            assert_eq!(s.at.timestamp(), T0 + t);
        }
    }

    #[test]
    fn a_blip_then_an_outage_still_pages_the_outage() {
        let (out, _) = route(3, 200, |t| {
            if (60..63).contains(&t) || t >= 75 {
                1.0
            } else {
                0.001
            }
        });
        assert_eq!(count(&out, SignalState::Blip), 1, "{out:?}");
        let fired: Vec<i64> = out
            .iter()
            .filter(|(_, s)| s.state == SignalState::Fired)
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(fired.len(), 1, "{out:?}");
        assert!(fired[0] <= 80, "paged at {}", fired[0]);
    }

    #[test]
    fn flapping_pages_once_stays_open_and_resolves_after_stability() {
        // 10% errors 20 s on / 40 s off for 10 minutes.
        let on = |t: i64| (0..600).contains(&t) && t % 60 < 20;
        for seed in 1..=5 {
            let (out, open) = route(seed, 1000, |t| if on(t) { 0.10 } else { 0.001 });
            assert_eq!(count(&out, SignalState::Fired), 1, "seed {seed}: {out:?}");
            assert_eq!(
                count(&out, SignalState::Resolved),
                1,
                "seed {seed}: {out:?}"
            );
            assert!(
                count(&out, SignalState::Flapping) >= 2,
                "seed {seed}: {out:?}"
            );
            let first = out
                .iter()
                .position(|(_, s)| s.state == SignalState::Fired)
                .unwrap();
            let paged = out[first].0 as usize;
            let (resolved, last) = out
                .iter()
                .find(|(_, s)| s.state == SignalState::Resolved)
                .map(|(t, s)| (*t, s))
                .unwrap();
            // Open from the page through the last episode (540–560 s) and the
            // stability after it: quiet for 90 s once the detector has resolved.
            assert!(open[paged..560].iter().all(|o| *o), "seed {seed}");
            assert!(resolved >= 559 + STABLE_FOR, "seed {seed}: {resolved}");
            assert!(resolved <= 560 + 60 + STABLE_FOR, "seed {seed}: {resolved}");
            assert!(last.evidence.contains("flaps"), "{}", last.evidence);
            let flapping = out
                .iter()
                .rev()
                .find(|(_, s)| s.state == SignalState::Flapping)
                .unwrap();
            assert!(
                flapping.1.evidence.starts_with("flapping: fired"),
                "{}",
                flapping.1.evidence
            );
        }
    }

    #[test]
    fn a_short_episode_stays_open_for_stable_for_after_its_last_bad_second() {
        // 15 s of 30% errors: shorter than the default 90 s, so held open;
        // with `stable_for: 20s` it is not short and resolves with its detector.
        let fault = |t: i64| if (60..75).contains(&t) { 0.30 } else { 0.001 };
        let resolved_at = |holds| {
            let (out, _) = route_with(3, 400, holds, fault);
            assert_eq!(count(&out, SignalState::Fired), 1, "{out:?}");
            let (t, s) = out
                .iter()
                .find(|(_, s)| s.state == SignalState::Resolved)
                .unwrap()
                .clone();
            // Either way the episode's end is the fault's.
            let ended = s.ended.unwrap().timestamp() - T0;
            assert!((70..=78).contains(&ended), "ended at {ended}");
            t
        };
        let held = resolved_at(Holds::default());
        assert!(
            (74 + STABLE_FOR..=76 + STABLE_FOR).contains(&held),
            "{held}"
        );
        let quick = resolved_at(Holds {
            stable_for: 20,
            ..Holds::default()
        });
        assert!((90..=130).contains(&quick), "{quick}");
    }

    #[test]
    fn a_long_episode_resolves_as_soon_as_its_detector_does() {
        let (out, _) = route(
            1,
            900,
            |t| if (60..360).contains(&t) { 0.15 } else { 0.001 },
        );
        assert_eq!(count(&out, SignalState::Fired), 1, "{out:?}");
        let resolved = out
            .iter()
            .find(|(_, s)| s.state == SignalState::Resolved)
            .unwrap()
            .0;
        assert!((360..420).contains(&resolved), "resolved at {resolved}");
    }

    /// Probes every 2 s: unreachable while `down(t)`.
    fn probes(secs: i64, down: impl Fn(i64) -> bool) -> Vec<(i64, Signal)> {
        probes_with(secs, Holds::default(), down)
    }

    fn probes_with(secs: i64, holds: Holds, down: impl Fn(i64) -> bool) -> Vec<(i64, Signal)> {
        let mut d = DownDetector::default();
        let mut layer = Lifecycle::default();
        let mut out = Vec::new();
        for t in 0..secs {
            let now = T0 + t;
            let health = |_, _, f, n| d.health(f, n);
            let mut here = Vec::new();
            layer.poll(now, holds, &health, &mut here);
            if t % 2 == 0 {
                let class = if down(t) {
                    FailureClass::Connect
                } else {
                    FailureClass::Ok
                };
                let raw = d.observe("e", now, class, "connect: refused");
                let health = |_, _, f, n| d.health(f, n);
                if let Some(s) = raw {
                    layer.feed(s, now, holds, &health, &mut here);
                }
                layer.poll(now, holds, &health, &mut here);
            }
            out.extend(here.into_iter().map(|s| (t, s)));
        }
        out
    }

    #[test]
    fn a_probe_blip_that_healed_never_pages_even_with_a_short_stable_for() {
        // `down` resolves after 30 s of good probes; a `stable_for` of 20 s
        // must not page a blip whose probes have all passed since.
        let holds = Holds {
            stable_for: 20,
            ..Holds::default()
        };
        let out = probes_with(200, holds, |t| (60..63).contains(&t));
        assert_eq!(count(&out, SignalState::Fired), 0, "{out:?}");
        assert_eq!(count(&out, SignalState::Blip), 1, "{out:?}");
    }

    #[test]
    fn a_probe_blip_is_recorded_and_an_endpoint_that_stays_down_pages() {
        let out = probes(200, |t| (60..63).contains(&t));
        assert_eq!(count(&out, SignalState::Fired), 0, "{out:?}");
        assert_eq!(count(&out, SignalState::Blip), 1, "{out:?}");
        let out = probes(200, |t| t >= 60);
        let fired: Vec<i64> = out
            .iter()
            .filter(|(_, s)| s.state == SignalState::Fired)
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(fired, vec![65], "{out:?}");
    }

    #[test]
    fn a_flapping_endpoint_pages_once() {
        // Down 20 s of every minute for 10 minutes: `down` resolves after 30 s of good probes.
        let out = probes(1200, |t| t < 600 && t % 60 < 20);
        assert_eq!(count(&out, SignalState::Fired), 1, "{out:?}");
        assert_eq!(count(&out, SignalState::Resolved), 1, "{out:?}");
    }

    #[test]
    fn certificates_pass_through() {
        let mut layer = Lifecycle::default();
        let mut out = Vec::new();
        let mut cert = crate::core::detect::CertificateDetector::default();
        let raw = cert.observe("e", T0, 10.0);
        if let Some(s) = raw {
            layer.feed(s, T0, Holds::default(), &|_, _, _, _| None, &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].state, SignalState::Fired);
    }
}
