//! Grouping: what one page says. When most of the service's targets fail at
//! once (at least [`MIN_FAILING`], at least half of those with data, and the
//! health check among them when there is one), the engine raises one
//! `service_down` signal for the service with the list, instead of a page per
//! target. And a page is not sent the moment its signal fires: it waits
//! [`GROUP_WAIT`] for the rest of the burst (every signal is printed and on
//! the timeline at once), then goes out once — the service-down signal when
//! it formed, else the earliest of the strongest signals, saying how many
//! more fired with it.

use super::*;
use crate::core::signal::{DetectorKind, SeverityHint};

/// How long a page waits for the rest of its burst (the playbook is chosen
/// from the same gathering: [`CHOOSE_AFTER`]).
pub const GROUP_WAIT: chrono::Duration = CHOOSE_AFTER;

/// The fewest failing targets that make a service down.
pub const MIN_FAILING: usize = 3;

/// Whether a target is a health check (its name says so: `health`,
/// `healthz`, `shop /healthz`, `readyz`, `livez`).
fn is_health(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["health", "readyz", "livez"].iter().any(|w| n.contains(w))
}

/// Whether a firing detector means the target is failing (not slow, not quiet).
fn failing_kind(k: DetectorKind) -> bool {
    matches!(k, DetectorKind::Down | DetectorKind::ErrorRate)
}

fn failing_kind_name(kind: &str) -> bool {
    kind == DetectorKind::Down.as_str() || kind == DetectorKind::ErrorRate.as_str()
}

/// Keeps the onset of each firing signal (for the service-down signal's own).
pub(super) fn note_onset(state: &mut State, s: &Signal) {
    let key = (s.kind.as_str().to_string(), s.target.clone());
    match s.state {
        SignalState::Fired => {
            state.onsets.insert(key, s.started);
        }
        SignalState::Resolved => {
            state.onsets.remove(&key);
        }
        _ => {}
    }
}

/// The service-down signal's target: the service, marked so no endpoint
/// named like the service is taken for it.
pub fn service_target(service: &str) -> String {
    format!("{service} (service)")
}

/// After a signal of a target changed: raises, updates or resolves the
/// service-down signal.
pub(super) fn regroup(state: &mut State, fx: &mut Vec<Effect>) {
    let with_data: Vec<&Target> = state
        .targets
        .iter()
        .filter(|t| !t.firing.is_empty() || t.row(state.now).health != targets::Health::Unknown)
        .collect();
    let failing: Vec<&Target> = with_data
        .iter()
        .copied()
        .filter(|t| t.firing.iter().any(|k| failing_kind(*k)))
        .collect();
    let health: Vec<&&Target> = with_data.iter().filter(|t| is_health(&t.name)).collect();
    let health_fails = health.is_empty() || failing.iter().any(|t| is_health(&t.name));
    let down = failing.len() >= MIN_FAILING && failing.len() * 2 >= with_data.len() && health_fails;
    let names: Vec<String> = failing.iter().map(|t| t.name.clone()).collect();
    let evidence = format!(
        "{} of {} targets failing: {}",
        failing.len(),
        with_data.len(),
        names.join(", ")
    );
    // The earliest onset among them (their signals may not be on disk yet).
    let started = state
        .onsets
        .iter()
        .filter(|((kind, target), _)| failing_kind_name(kind) && names.contains(target))
        .map(|(_, t)| *t)
        .min()
        .unwrap_or(state.now);
    let target = service_target(&state.service);
    match (&mut state.service_down, down) {
        (None, true) => {
            let s = Signal {
                kind: DetectorKind::ServiceDown,
                target,
                state: SignalState::Fired,
                severity: SeverityHint::Critical,
                evidence,
                started,
                ended: None,
                at: state.now,
                class: None,
            };
            state.service_down = Some(s.clone());
            super::on_signal(state, s, fx);
        }
        (Some(s), true) => {
            // More (or fewer) of them: the banner and the page say it; the
            // timeline has each target's own signal.
            s.evidence.clone_from(&evidence);
            s.started = s.started.min(started);
            if let Some(b) = &mut state.banner_of
                && b.0 == DetectorKind::ServiceDown.as_str()
            {
                b.2 = evidence;
            }
        }
        (Some(_), false) => {
            if let Some(mut s) = state.service_down.take() {
                s.state = SignalState::Resolved;
                s.evidence = format!("no longer down: {evidence}");
                s.ended = Some(state.now);
                s.at = state.now;
                super::on_signal(state, s, fx);
            }
        }
        (None, false) => {}
    }
}

/// A signal that would page: it joins the waiting page (started now when none waits).
pub(super) fn wait_to_page(state: &mut State, s: &Signal) {
    match &mut state.pending_page {
        Some((_, burst)) => burst.push(s.clone()),
        None => state.pending_page = Some((state.now, vec![s.clone()])),
    }
}

/// Sends the waiting page once its burst has gathered (`force`: now, as the
/// engine stops).
pub(super) fn page_due(state: &mut State, force: bool, fx: &mut Vec<Effect>) {
    let due = state
        .pending_page
        .as_ref()
        .is_some_and(|(since, _)| force || state.now - *since >= GROUP_WAIT);
    if !due {
        return;
    }
    let Some((_, burst)) = state.pending_page.take() else {
        return;
    };
    if let Some(page) = compose(state, &burst) {
        fx.push(Effect::Page(page));
    }
}

/// One page for a burst: the service-down signal (with the list as it is
/// now) when it formed, else the earliest critical (then earliest) signal
/// still firing, its evidence saying what else fired.
fn compose(state: &State, burst: &[Signal]) -> Option<Signal> {
    if let Some(down) = &state.service_down
        && burst.iter().any(|s| s.kind == DetectorKind::ServiceDown)
    {
        return Some(down.clone());
    }
    // Only what still fires: a signal that resolved while its page waited is
    // no news (its resolution was said).
    let live: Vec<&Signal> = burst
        .iter()
        .filter(|s| s.kind != DetectorKind::ServiceDown)
        .filter(|s| {
            state
                .onsets
                .contains_key(&(s.kind.as_str().to_string(), s.target.clone()))
        })
        .collect();
    let first = live
        .iter()
        .min_by_key(|s| (s.severity != SeverityHint::Critical, s.started, s.at))?;
    let mut page = (*first).clone();
    let others: Vec<String> = live
        .iter()
        .filter(|s| !std::ptr::eq(**s, *first))
        .map(|s| format!("{} on {}", s.kind.as_str(), s.target))
        .collect();
    if !others.is_empty() {
        page.evidence = format!(
            "{} (+{} more: {})",
            page.evidence,
            others.len(),
            others.join(", ")
        );
    }
    Some(page)
}
