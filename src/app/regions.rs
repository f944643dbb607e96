//! Probes from several locations: with `team.location` set, an endpoint's
//! `down` is a team verdict. This `ic`'s own `down` detector only says how
//! the endpoint looks from here (shared after every probe, as a
//! [`LocationSample`]); the endpoint is down — the signal fires, opens, pages
//! — when a majority of the locations heard from within the quorum window
//! see it down. One location's trouble is regional: said, shown per location
//! in the endpoints pane, never an outage. A location gone silent is
//! unknown, never down.

use super::*;
use crate::core::signal::{DetectorKind, SeverityHint, SignalState};
use crate::core::team::{LocationSample, Verdict};

/// Whether this `ic` takes part in location quorums.
pub(super) fn enabled(state: &State) -> bool {
    state.location.is_some()
}

/// After a probe of `target` here: its `down` signals become this
/// location's word (shared, then judged with the others'); the other
/// signals are returned to be handled as usual.
pub(super) fn on_local_probe(
    state: &mut State,
    target: &str,
    signals: Vec<Signal>,
    fx: &mut Vec<Effect>,
) -> Vec<Signal> {
    let Some(location) = state.location.clone() else {
        return signals;
    };
    let mut rest = Vec::new();
    for s in signals {
        if s.kind != DetectorKind::Down {
            rest.push(s);
            continue;
        }
        match s.state {
            SignalState::Fired | SignalState::Updated | SignalState::Flapping => {
                let since = state.local_down.get(target).map_or(s.started, |(t, _)| *t);
                state
                    .local_down
                    .insert(target.to_string(), (since, s.evidence.clone()));
            }
            SignalState::Resolved | SignalState::Blip => {
                state.local_down.remove(target);
            }
        }
    }
    let here = state.local_down.get(target).cloned();
    let sample = LocationSample {
        location,
        endpoint: target.to_string(),
        down: here.is_some(),
        since: here.as_ref().map(|(t, _)| *t),
        evidence: here.map(|(_, e)| e).unwrap_or_default(),
        at: state.now,
    };
    state.regions.record(sample.clone(), state.now);
    fx.push(Effect::ShareSample(sample));
    judge(state, target, fx);
    rest
}

/// Another location's word on an endpoint this `ic` probes too.
pub(super) fn on_remote(state: &mut State, sample: LocationSample, fx: &mut Vec<Effect>) {
    if !enabled(state)
        || state.location.as_deref() == Some(sample.location.as_str())
        || !state.targets.iter().any(|t| t.name == sample.endpoint)
    {
        return;
    }
    let endpoint = sample.endpoint.clone();
    state.regions.record(sample, state.now);
    judge(state, &endpoint, fx);
}

/// Once a second: locations falling silent change verdicts too.
pub(super) fn on_tick(state: &mut State, fx: &mut Vec<Effect>) {
    if !enabled(state) {
        return;
    }
    for endpoint in state.regions.endpoints() {
        if state.targets.iter().any(|t| t.name == endpoint) {
            judge(state, &endpoint, fx);
        }
    }
}

/// The endpoint's verdict now, across locations.
pub(super) fn verdict(state: &State, endpoint: &str) -> Verdict {
    state
        .regions
        .verdict(endpoint, state.now, state.quorum_window)
}

/// Fires or resolves the team's `down` of `endpoint` as its verdict changes,
/// and says when trouble is regional.
fn judge(state: &mut State, endpoint: &str, fx: &mut Vec<Effect>) {
    let v = verdict(state, endpoint);
    let was = state.quorum_down.contains(endpoint);
    let down = v.down();
    if down && !was {
        let failing = state
            .regions
            .samples(endpoint, state.now, state.quorum_window);
        let failing: Vec<&LocationSample> = failing.into_iter().filter(|s| s.down).collect();
        let since = failing
            .iter()
            .filter_map(|s| s.since)
            .min()
            .unwrap_or(state.now);
        let seen = failing
            .iter()
            .map(|s| s.evidence.as_str())
            .find(|e| !e.is_empty())
            .unwrap_or("no answer");
        state.quorum_down.insert(endpoint.to_string());
        state.regional_said.remove(endpoint);
        let s = signal(
            endpoint,
            SignalState::Fired,
            since,
            None,
            format!("{seen} — down from {}", v.text()),
            state.now,
        );
        super::on_signal(state, s, fx);
    } else if !down && was {
        state.quorum_down.remove(endpoint);
        let since = state
            .incident
            .as_ref()
            .and_then(|i| {
                i.state.signals.get(&(
                    DetectorKind::Down.as_str().to_string(),
                    endpoint.to_string(),
                ))
            })
            .map_or(state.now, |r| r.first_fired);
        let s = signal(
            endpoint,
            SignalState::Resolved,
            since,
            Some(state.now),
            format!("answers again: {}", v.text()),
            state.now,
        );
        super::on_signal(state, s, fx);
    } else if !down && v.failing() > 0 {
        let text = format!(
            "regional: {endpoint} fails from {} — not an outage while most locations answer",
            v.text()
        );
        if state.regional_said.get(endpoint) != Some(&text) {
            state.say(text.clone());
            state.regional_said.insert(endpoint.to_string(), text);
        }
    } else if v.failing() == 0 {
        state.regional_said.remove(endpoint);
    }
}

fn signal(
    endpoint: &str,
    st: SignalState,
    started: DateTime<Utc>,
    ended: Option<DateTime<Utc>>,
    evidence: String,
    at: DateTime<Utc>,
) -> Signal {
    Signal {
        kind: DetectorKind::Down,
        target: endpoint.to_string(),
        state: st,
        severity: SeverityHint::Critical,
        evidence,
        started,
        ended,
        at,
        class: None,
    }
}
