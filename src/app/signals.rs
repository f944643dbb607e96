//! Signals in the engine: a fired or resolved signal joins or opens the
//! incident, raises the ALERT banner, notifies once per burst, and — once the
//! first signals are gathered — chooses the incident's playbook and primary
//! target from the dominant failure class (a later, better fitting playbook is
//! only proposed).

use super::*;
use crate::core::signal::DetectorKind;

/// A blip (a fault healed within `detect.min_duration`): shown and printed,
/// on the open incident's timeline, but it opens nothing and pages no one.
fn on_blip(state: &mut State, s: Signal, fx: &mut Vec<Effect>) {
    if let Some(t) = state.targets.iter_mut().find(|t| t.name == s.target) {
        t.last_blip = Some((state.now, s.kind));
    }
    state.say(format!(
        "blip: {} on {} healed within {} at {} — recorded, not paged",
        s.kind.as_str(),
        s.target,
        state.settings.min_duration,
        s.at.format("%H:%M:%S UTC")
    ));
    if state.incident_open() || state.choosing.is_some() {
        fx.push(Effect::Append(Draft::signal(&s)));
    }
    fx.push(Effect::Notify(s, false));
}

/// Another `ic` of the team holds the paging lease: this one shows what it
/// detects (the target's state, `ic watch`'s lines) but records and pages
/// nothing; what is still firing when the lease comes here is taken up then
/// ([`take_up_deferred`]).
fn defer(state: &mut State, s: Signal, fx: &mut Vec<Effect>) {
    let key = (s.kind.as_str().to_string(), s.target.clone());
    mark_firing(state, &s);
    match s.state {
        SignalState::Fired => {
            state.deferred.insert(key, s.clone());
        }
        SignalState::Resolved => {
            state.deferred.remove(&key);
        }
        _ => {}
    }
    fx.push(Effect::Notify(s, false));
}

/// How long a signal only this `ic` sees waits for the pager to record it
/// before this `ic` pages it itself (the pager may not see that failure).
pub const UNPAGED_AFTER: chrono::Duration = chrono::Duration::seconds(60);

/// Keeps the target's set of firing detectors as `s` says.
fn mark_firing(state: &mut State, s: &Signal) {
    if let Some(t) = state.targets.iter_mut().find(|t| t.name == s.target) {
        match s.state {
            SignalState::Fired | SignalState::Updated | SignalState::Flapping => {
                t.firing.insert(s.kind);
            }
            SignalState::Resolved => {
                t.firing.remove(&s.kind);
            }
            SignalState::Blip => {}
        }
    }
}

/// The lease came here (or the team went quiet), or a deferred signal has
/// waited [`UNPAGED_AFTER`] with no record of it in the shared timeline:
/// signals still firing that the open incident does not record are handled
/// now as if just fired — recorded, opening the incident, paging; those the
/// incident records (another ic wrote them) go on silently.
pub(super) fn take_up_deferred(state: &mut State, fx: &mut Vec<Effect>) {
    if state.deferred.is_empty() {
        return;
    }
    let pages = state.pages();
    let now = state.now;
    let mut waiting: Vec<Signal> = Vec::new();
    state.deferred.retain(|_, s| {
        let due = pages || now - s.at >= UNPAGED_AFTER;
        if due {
            waiting.push(s.clone());
        }
        !due
    });
    waiting.sort_by_key(|s| s.at);
    for s in waiting {
        let key = (s.kind.as_str().to_string(), s.target.clone());
        let recorded = state.incident_open()
            && state
                .incident
                .as_ref()
                .is_some_and(|i| i.state.signals.get(&key).is_some_and(|r| r.firing));
        if recorded {
            continue;
        }
        if let Some(t) = state.targets.iter_mut().find(|t| t.name == s.target) {
            t.firing.remove(&s.kind);
        }
        handle(state, s, fx);
    }
}

/// A signal from a detector or Alertmanager: held by a silence, or joining
/// or opening the incident, and notified once per burst.
pub(super) fn on_signal(state: &mut State, s: Signal, fx: &mut Vec<Effect>) {
    let key = (s.kind.as_str().to_string(), s.target.clone());
    if !state.pages() && !state.recorded_here.contains(&key) {
        defer(state, s, fx);
        return;
    }
    handle(state, s, fx);
}

/// [`on_signal`] for an `ic` that pages (or records how a signal it
/// recorded goes on).
fn handle(state: &mut State, s: Signal, fx: &mut Vec<Effect>) {
    if state.team.is_some() {
        let key = (s.kind.as_str().to_string(), s.target.clone());
        match s.state {
            SignalState::Fired => {
                state.recorded_here.insert(key);
            }
            SignalState::Resolved => {
                state.recorded_here.remove(&key);
            }
            _ => {}
        }
    }
    if s.state == SignalState::Blip {
        on_blip(state, s, fx);
        return;
    }
    if super::silences::hold(state, &s, fx) {
        return;
    }
    // After a restart, detectors start afresh and fire again for what the open
    // incident already records as firing: that is the same signal going on, so
    // it is resumed silently — no second signal_fired, no second notification.
    let live = state
        .targets
        .iter()
        .find(|t| t.name == s.target)
        .is_some_and(|t| t.firing.contains(&s.kind));
    let key = (s.kind.as_str().to_string(), s.target.clone());
    let recorded_firing = state.incident_open()
        && state
            .incident
            .as_ref()
            .is_some_and(|i| i.state.signals.get(&key).is_some_and(|r| r.firing));
    // With a team, another responder's ic may have recorded it first: one
    // record per (detector, target) in the shared timeline, paged once.
    if s.state == SignalState::Fired
        && recorded_firing
        && !live
        && (state.resumed.remove(&key) || state.team.is_some())
    {
        tracing::info!(
            detector = s.kind.as_str(),
            target = %s.target,
            "resumed a signal the open incident already records as firing"
        );
        if let Some(t) = state.targets.iter_mut().find(|t| t.name == s.target) {
            t.firing.insert(s.kind);
        }
        return;
    }
    mark_firing(state, &s);
    // While the service is down, the banner says so, not its latest target.
    let service_banner = state.service_down.is_some() && s.kind != DetectorKind::ServiceDown;
    if s.state == SignalState::Fired && !service_banner {
        state.banner_of = Some((
            s.kind.as_str().to_string(),
            s.target.clone(),
            s.evidence.clone(),
        ));
        state.banner = Some((banner_text(state), state.now));
    }
    // Written first, then sent: what a notification says is already on disk.
    // Correlated signals (this service, while the incident is open or being
    // opened) join the one incident.
    let fired = s.state == SignalState::Fired;
    // The service-down signal stands for the others: it chooses no playbook
    // and is no target of commands.
    let grouped = s.kind == DetectorKind::ServiceDown;
    if state.incident_open() || state.choosing.is_some() {
        fx.push(Effect::Append(Draft::signal(&s)));
        if fired && !grouped {
            match &mut state.choosing {
                Some(c) => c.situations.push((playbook::Situation::of(&s), s.severity)),
                None => propose_playbook(state, &s),
            }
        }
    } else if fired && state.auto_open {
        fx.push(Effect::Open(format!("{} on {}", s.kind.as_str(), s.target)));
        fx.push(Effect::Append(Draft::signal(&s)));
        state.choosing = Some(Choosing {
            since: state.now,
            situations: vec![(playbook::Situation::of(&s), s.severity)],
        });
        fx.push(Effect::Ui(Notice::OpenedBySignal));
    }
    // One page per burst: a signal firing within a minute of the last page
    // joins quietly; a page waits GROUP_WAIT for the rest of its burst (see
    // `grouping`), and a service going down pages even within the minute. A
    // resolution is news once nothing fires any more.
    let notify = match s.state {
        SignalState::Fired => {
            let joins = state.incident_open() || state.choosing.is_some();
            let quiet = joins
                && state
                    .last_notified
                    .is_some_and(|t| state.now - t < NOTIFY_QUIET);
            if state.pending_page.is_some() || !quiet || grouped {
                if !quiet || grouped {
                    state.last_notified = Some(state.now);
                }
                super::grouping::wait_to_page(state, &s);
            }
            false
        }
        SignalState::Updated => true,
        // The open signal going on: on the timeline, printed, never sent.
        SignalState::Flapping | SignalState::Blip => false,
        SignalState::Resolved => state.targets.iter().all(|t| t.firing.is_empty()),
    };
    let regroup = !grouped && matches!(s.state, SignalState::Fired | SignalState::Resolved);
    if regroup {
        super::grouping::note_onset(state, &s);
    }
    fx.push(Effect::Notify(s, notify));
    if regroup {
        super::grouping::regroup(state, fx);
    }
}

/// Decides what is still pending before the engine stops: a new incident's
/// playbook and primary target, whose gathering time has not run out.
pub fn settle(state: &mut State) -> Vec<Effect> {
    let mut fx = Vec::new();
    super::grouping::page_due(state, true, &mut fx);
    if state.choosing.is_some() && state.incident_open() {
        choose_playbook(state, &mut fx);
    }
    fx
}

/// The ALERT banner with live numbers: the signal that raised it and what its
/// target shows now.
pub(super) fn banner_text(state: &State) -> String {
    let Some((kind, target, evidence)) = &state.banner_of else {
        return String::new();
    };
    let name = impact::measured_target(state, target);
    let live = state.targets.iter().find(|t| t.name == name).map(|t| {
        let r = t.row(state.now);
        let p95 = r
            .p95
            .map(|p| format!(", p95 {:.0} ms", p * 1000.0))
            .unwrap_or_default();
        format!("now {:.1}% errors, {:.1} req/s{p95}", r.err * 100.0, r.rps)
    });
    // The live numbers first: at 80 columns the evidence is what gets cut.
    match live {
        Some(live) => format!("ALERT {kind} {target}: {live} · fired on {evidence}"),
        None => format!("ALERT {kind} {target}: {evidence}"),
    }
}

/// Chooses the new incident's playbook and primary target once, from the
/// signals gathered since it opened: the dominant failure class (most
/// signals; critical first on a tie) decides.
pub(super) fn choose_playbook(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(c) = state.choosing.take() else {
        return;
    };
    let key = |s: &playbook::Situation| {
        s.class
            .map_or_else(|| s.detector.as_str().to_string(), |c| c.to_string())
    };
    let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (sit, sev) in &c.situations {
        let e = tally.entry(key(sit)).or_default();
        e.0 += 1;
        e.1 += usize::from(*sev == crate::core::signal::SeverityHint::Critical);
    }
    let dominant = tally
        .iter()
        .max_by_key(|(_, (n, critical))| (*n, *critical))
        .map(|(k, _)| k.clone())
        .unwrap_or_default();
    let situations: Vec<playbook::Situation> = c
        .situations
        .iter()
        .filter(|(s, _)| key(s) == dominant)
        .map(|(s, _)| s.clone())
        .collect();
    let chosen = state
        .incident
        .as_ref()
        .is_some_and(|i| i.state.playbook.is_some());
    if let Some(p) = playbook::rank(&state.playbooks, &situations)
        .first()
        .filter(|_| !chosen)
    {
        let why = if c.situations.len() > 1 {
            format!(
                " (from {} signals; dominant: {dominant})",
                c.situations.len()
            )
        } else {
            String::new()
        };
        fx.push(Effect::Append(Draft::typed(
            Kind::PlaybookSelected,
            "ic",
            format!("playbook {}{why}", p.id),
            &payload::PlaybookSelected {
                playbook: p.id.clone(),
            },
        )));
    }
    // The primary target: the first signal's when it is of the dominant class,
    // else the first critical one of that class — as the target it is counted
    // under (a probe's route when it has one).
    let first = state
        .incident
        .as_ref()
        .and_then(|i| i.state.primary_target.clone());
    let of_dominant: Vec<&(playbook::Situation, crate::core::signal::SeverityHint)> = c
        .situations
        .iter()
        .filter(|(s, _)| key(s) == dominant)
        .collect();
    let primary = of_dominant
        .iter()
        .find(|(s, _)| Some(&s.target) == first.as_ref())
        .or_else(|| {
            of_dominant
                .iter()
                .find(|(_, sev)| *sev == crate::core::signal::SeverityHint::Critical)
        })
        .or(of_dominant.first())
        .map(|(s, _)| impact::canonical(state, &s.target).0);
    if let Some(target) = primary
        && first.as_ref().is_some_and(|f| *f != target)
        && state
            .incident
            .as_ref()
            .is_some_and(|i| i.state.primary_target_by.is_none())
    {
        fx.push(Effect::Append(Draft::typed(
            Kind::TargetSelected,
            "ic",
            format!("primary target: {target} (the dominant failure class: {dominant})"),
            &payload::TargetSelected {
                target: target.to_string(),
            },
        )));
    }
}

/// A signal firing after the playbook was chosen: when the playbook in use
/// does not cover it (or it is critical) and another playbook fits it better,
/// propose that one — the responder decides (`b` switches).
pub(super) fn propose_playbook(state: &mut State, s: &Signal) {
    let sit = playbook::Situation::of(s);
    let Some((best, best_fit)) = playbook::rank(&state.playbooks, std::slice::from_ref(&sit))
        .first()
        .map(|p| (p.id.clone(), playbook::fit(p, &sit)))
    else {
        return;
    };
    let Some(current) = state.playbook() else {
        return;
    };
    let current_fit = playbook::fit(current, &sit);
    let uncovered = current_fit <= 1;
    let critical = s.severity == crate::core::signal::SeverityHint::Critical;
    if current.id != best && best_fit > current_fit && (uncovered || critical) {
        state.say(format!(
            "the new {} signal on {} fits playbook `{best}` better than `{}`: press b to switch",
            s.kind.as_str(),
            s.target,
            current.id
        ));
        state.proposed_playbook = Some(best);
    }
}
