//! Silences in the engine: a signal whose target a silence (or a maintenance
//! window) covers when it fires is held — shown and recorded in the silence
//! log, and on the open incident's timeline, but it opens nothing and pages
//! no one. When the silence ends while the signal still fires, it is let
//! through (it pages then). A silence warns once, [`WARN_BEFORE`] before it
//! ends, and the open incident records every silence in force while it is
//! open.

use super::*;
use crate::core::silence::{self, Silence, WARN_BEFORE};

/// A held signal and the silence that holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// The signal as it last stood.
    pub signal: Signal,
    /// The id of the silence that held it first.
    pub silence: String,
    /// How many fires stand behind it (alerts of one name with different
    /// labels are one target): it is let go when the last resolves.
    pub fires: usize,
}

/// The silences in force now for this service: the log's and the config's
/// maintenance windows'.
pub fn in_force(state: &State) -> Vec<Silence> {
    let mut v = silence::in_force(&state.silences, &state.maintenance, state.now);
    v.retain(|s| s.for_service(&state.service));
    v
}

/// The silence in force now that covers `target`, if any.
pub fn covering(state: &State, target: &str) -> Option<Silence> {
    in_force(state)
        .into_iter()
        .find(|s| s.matcher.matches(target))
}

/// Holds `s` when a silence covers it (a new fire), or when it is the
/// change of a signal held already; `false`: it goes on as usual.
pub(super) fn hold(state: &mut State, s: &Signal, fx: &mut Vec<Effect>) -> bool {
    let key = (s.kind.as_str().to_string(), s.target.clone());
    if let Some(held) = state.held.get_mut(&key) {
        match s.state {
            SignalState::Resolved => {
                held.fires = held.fires.saturating_sub(1);
                if held.fires == 0 {
                    let id = held.silence.clone();
                    state.held.remove(&key);
                    record(state, s, &id, "resolved", fx);
                }
            }
            SignalState::Fired => held.fires += 1,
            _ => held.signal = s.clone(),
        }
        return true;
    }
    if s.state != SignalState::Fired {
        return false;
    }
    // What the open incident already records as firing goes on there (a
    // restart or a join meets it again): a silence added since holds only
    // what fires after it.
    let recorded = state.incident_open()
        && state
            .incident
            .as_ref()
            .is_some_and(|i| i.state.signals.get(&key).is_some_and(|r| r.firing));
    if recorded {
        return false;
    }
    let Some(silence) = covering(state, &s.target) else {
        return false;
    };
    state.say(format!(
        "silenced by {} ({}): {} on {} — recorded, not paged",
        silence.id,
        silence.reason,
        s.kind.as_str(),
        s.target
    ));
    state.held.insert(
        key,
        Held {
            signal: s.clone(),
            silence: silence.id.clone(),
            fires: 1,
        },
    );
    record(state, s, &silence.id, "fired", fx);
    true
}

/// `signal_silenced` in the silence log and, with an incident open, its timeline.
fn record(state: &State, s: &Signal, silence: &str, what: &str, fx: &mut Vec<Effect>) {
    let draft = Draft::typed(
        Kind::SignalSilenced,
        "ic",
        format!(
            "silenced by {silence}: {} {what} on {}: {}",
            s.kind.as_str(),
            s.target,
            s.evidence
        ),
        &payload::SignalSilenced {
            silence: silence.to_string(),
            state: what.to_string(),
            signal: Some(match Draft::signal(s).payload() {
                Ok(payload::Payload::Signal(d)) => d,
                _ => payload::SignalData::default(),
            }),
        },
    );
    if state.incident_open() {
        fx.push(Effect::Append(draft.clone()));
    }
    fx.push(Effect::RecordSilenced(draft));
}

/// Once a second: lets through what no silence holds any more, warns of
/// silences about to end, and keeps the open incident's record of them.
pub(super) fn on_tick(state: &mut State, fx: &mut Vec<Effect>) {
    let now = state.now;
    let force = in_force(state);
    // Held signals whose silence is over: they page now, as if they had just fired.
    let released: Vec<(String, String)> = state
        .held
        .iter()
        .filter(|(_, h)| !force.iter().any(|f| f.matcher.matches(&h.signal.target)))
        .map(|(k, _)| k.clone())
        .collect();
    for key in released {
        let Some(h) = state.held.remove(&key) else {
            continue;
        };
        let mut s = h.signal;
        state.say(format!(
            "silence {} ended: {} on {} still fires — paged",
            h.silence,
            s.kind.as_str(),
            s.target
        ));
        s.state = SignalState::Fired;
        s.at = now;
        s.evidence = format!(
            "{} (held by silence {} until it ended)",
            s.evidence, h.silence
        );
        super::on_signal(state, s.clone(), fx);
        // It pages, even within a minute of the last page: the silence hid it
        // until now (one page with the rest of its burst).
        let waiting = state
            .pending_page
            .as_ref()
            .is_some_and(|(_, b)| b.iter().any(|p| p.kind == s.kind && p.target == s.target));
        if !waiting {
            super::grouping::wait_to_page(state, &s);
        }
        // The incident it opens (or joins) says which silence held it.
        let ended = state
            .silences
            .iter()
            .cloned()
            .chain(
                state
                    .maintenance
                    .iter()
                    .enumerate()
                    .flat_map(|(i, w)| w.silences(i + 1, now - chrono::Duration::seconds(1))),
            )
            .find(|s| s.id == h.silence);
        if let Some(ended) = ended
            && (state.incident_open() || state.choosing.is_some())
            && state
                .silence_marks
                .insert((Kind::SilenceAdded, ended.id.clone()))
        {
            fx.push(Effect::Append(added_copy(&ended)));
        }
    }
    for s in &force {
        let key = (s.id.clone(), s.ends);
        if s.ends - now <= WARN_BEFORE && state.silence_warned.insert(key) {
            let held = state.held.values().filter(|h| h.silence == s.id).count();
            let text = format!(
                "silence {} ends in {} min ({}): {held} signal(s) held would page; extend it with `ic silence add` or let it end",
                s.id,
                (s.ends - now).num_minutes().max(1),
                s.describe()
            );
            state.say(text.clone());
            fx.push(Effect::Remind(text));
        }
    }
    // With a team, the pager's ic copies silences into the shared incident.
    if state.incident_open() && state.pages() {
        mark_in_incident(state, &force, fx);
    }
}

/// The open incident records each silence in force (`silence_added`, once)
/// and, once it is over, its end (`silence_expired`, once).
fn mark_in_incident(state: &mut State, force: &[Silence], fx: &mut Vec<Effect>) {
    for s in force {
        if state
            .silence_marks
            .insert((Kind::SilenceAdded, s.id.clone()))
        {
            fx.push(Effect::Append(added_copy(s)));
        }
    }
    let ended: Vec<String> = state
        .silence_marks
        .iter()
        .filter(|(k, id)| {
            *k == Kind::SilenceAdded
                && !force.iter().any(|f| f.id == *id)
                && !state
                    .silence_marks
                    .contains(&(Kind::SilenceExpired, id.clone()))
        })
        .map(|(_, id)| id.clone())
        .collect();
    for id in ended {
        state
            .silence_marks
            .insert((Kind::SilenceExpired, id.clone()));
        fx.push(Effect::Append(Draft::typed(
            Kind::SilenceExpired,
            "ic",
            format!("silence {id} ended"),
            &payload::SilenceExpired { silence: id },
        )));
    }
}

/// Learns what an appended event says of silences (another process's copy
/// of one counts as ours).
pub(super) fn on_appended(state: &mut State, e: &Event) {
    if !matches!(e.kind, Kind::SilenceAdded | Kind::SilenceExpired) {
        return;
    }
    let id = match e.payload() {
        Ok(payload::Payload::SilenceAdded(p)) => p.silence,
        Ok(payload::Payload::SilenceExpired(p)) => p.silence,
        _ => return,
    };
    if !id.is_empty() {
        state.silence_marks.insert((e.kind, id));
    }
}

/// A silence as the incident's timeline records it.
fn added_copy(s: &Silence) -> Draft {
    Draft::typed(
        Kind::SilenceAdded,
        "ic",
        format!("silence: {}", s.describe()),
        &payload::SilenceAdded {
            silence: s.id.clone(),
            target: s.matcher.text().to_string(),
            service: s.service.clone().unwrap_or_default(),
            starts: Some(s.starts),
            ends: Some(s.ends),
            reason: s.reason.clone(),
        },
    )
}
