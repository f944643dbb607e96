//! Engine unit tests: scripted messages in, effects and state out — no
//! runtime, no terminal, no files.

use super::targets::{SourceKind, Target, TargetId};
use super::*;
use crate::core::detect::Settings;
use crate::core::signal::DetectorKind;
use chrono::TimeZone;

/// The fixed start of every engine test (also the view's key tests).
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 0).unwrap()
}

/// An engine watching one probe, `payments`, with the bundled playbooks.
pub(crate) fn engine() -> State {
    State::new(
        "shop",
        "ann",
        Settings::default(),
        vec![Target::new("payments", SourceKind::Probe, None)],
        playbook::bundled(),
        "/nowhere".into(),
        t0(),
    )
}

fn ask(s: &mut State, intent: Intent) -> Vec<Effect> {
    update(s, Msg::Do(intent), t0())
}

/// Pretends the runtime wrote what `fx` appends: the events come back in.
fn written(s: &mut State, fx: &[Effect]) {
    let mut seq = s.incident.as_ref().map_or(0, |i| i.events.len() as u64);
    for e in fx {
        let d = match e {
            Effect::Open(title) if !s.incident_open() => Draft::opened("ic", title, "shop"),
            Effect::Append(d) => d.clone(),
            _ => continue,
        };
        seq += 1;
        update(s, Msg::Appended(d.into_event(seq, t0())), t0());
    }
}

fn appended(fx: &[Effect]) -> Vec<&Draft> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Append(d) => Some(d),
            _ => None,
        })
        .collect()
}

#[test]
fn a_note_opens_an_incident_and_is_appended_with_its_tags() {
    let mut s = engine();
    let fx = ask(
        &mut s,
        Intent::Submit(InputKind::Note, "pager worked #well ".into()),
    );
    assert!(matches!(fx.first(), Some(Effect::Open(_))), "{fx:?}");
    let notes = appended(&fx);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, Kind::Note);
    assert_eq!(notes[0].msg, "pager worked");
    assert_eq!(notes[0].data["tags"], json!(["went_well"]));
    assert_eq!(notes[0].actor, "ann");
}

#[test]
fn a_line_the_grammar_refuses_goes_back_to_the_view_to_be_corrected() {
    let mut s = engine();
    let fx = ask(&mut s, Intent::Severity(Severity::Sev2));
    assert_eq!(appended(&fx)[0].kind, Kind::SeveritySet);
    written(&mut s, &fx);
    assert!(s.incident_open());
    let text = "fix the pool due:next-week";
    let fx = ask(&mut s, Intent::Submit(InputKind::ActionItem, text.into()));
    assert!(appended(&fx).is_empty(), "{fx:?}");
    assert!(
        s.message
            .as_deref()
            .unwrap_or_default()
            .contains("YYYY-MM-DD")
    );
    assert_eq!(
        fx,
        [Effect::Ui(Notice::Refused(
            InputKind::ActionItem,
            text.into()
        ))]
    );
}

#[test]
fn errors_stay_listed_when_later_messages_replace_the_footer() {
    let mut s = engine();
    update(&mut s, Msg::TaskFailed("scraper stopped".into()), t0());
    update(&mut s, Msg::Info("later".into()), t0());
    assert_eq!(s.errors.len(), 1);
    assert_eq!(s.message.as_deref(), Some("later"));
}

#[test]
fn a_refusal_is_overridden_only_by_the_very_next_ask() {
    let mut s = engine();
    let fx = ask(&mut s, Intent::Severity(Severity::Sev3));
    written(&mut s, &fx);
    // Exit criteria not met (quiet for 0 s): refused, then overridden by a second ask.
    let fx = ask(&mut s, Intent::Resolve { again: false });
    assert!(appended(&fx).is_empty(), "{fx:?}");
    assert_eq!(s.pending_override, Some(Override::Resolve));
    // Anything asked in between drops the refusal: "again" no longer overrides.
    ask(&mut s, Intent::Snapshot);
    let fx = ask(&mut s, Intent::Resolve { again: true });
    assert!(appended(&fx).is_empty(), "{fx:?}");
    // A selection is not an ask: it keeps the refusal.
    ask(&mut s, Intent::Select(Some("payments".into())));
    let fx = ask(&mut s, Intent::Resolve { again: true });
    let stages: Vec<_> = appended(&fx).iter().map(|d| d.kind).collect();
    assert!(stages.contains(&Kind::Lifecycle), "{stages:?}");
    assert!(
        appended(&fx)
            .iter()
            .any(|d| d.msg.contains("override: exit criteria not met"))
    );
}

#[test]
fn a_step_with_a_command_asks_for_confirmation_and_a_plain_step_is_recorded() {
    let mut s = engine();
    let fx = ask(&mut s, Intent::Severity(Severity::Sev2));
    written(&mut s, &fx);
    let steps: Vec<(Phase, String, bool)> = s
        .playbook()
        .map(|p| {
            p.phases
                .all()
                .map(|(ph, st)| (ph, st.id.clone(), st.command().is_some()))
                .collect()
        })
        .unwrap_or_default();
    let (phase, id, _) = steps.iter().find(|s| s.2).expect("a step with a command");
    let fx = ask(
        &mut s,
        Intent::Step {
            phase: *phase,
            id: id.clone(),
        },
    );
    match fx.as_slice() {
        [Effect::Ui(Notice::ConfirmRun(plan))] => {
            assert_eq!(&plan.step, id);
            assert_eq!(plan.phase, *phase);
        }
        other => panic!("{other:?}"),
    }
    let (phase, id, _) = steps.iter().find(|s| !s.2).expect("a plain step");
    let fx = ask(
        &mut s,
        Intent::Step {
            phase: *phase,
            id: id.clone(),
        },
    );
    assert_eq!(appended(&fx)[0].kind, Kind::StepDone);
    assert_eq!(fx.last(), Some(&Effect::Ui(Notice::StepRecorded)));
    // Not a step of the playbook: nothing recorded, said why.
    let fx = ask(
        &mut s,
        Intent::Step {
            phase: Phase::Detect,
            id: "no-such-step".into(),
        },
    );
    assert!(fx.is_empty());
    assert_eq!(s.message.as_deref(), Some("no step here"));
}

fn view(route: &str, requests: f64) -> RouteView {
    RouteView {
        route: route.into(),
        requests,
        errors_5xx: 0.0,
        errors_4xx: 0.0,
        rate: Some(requests),
        p50: Some(0.04),
        p95: Some(0.1),
        p99: Some(0.2),
        by_label: Vec::new(),
    }
}

#[test]
fn routes_are_told_apart_by_source_and_route_not_by_their_joined_name() {
    let mut s = engine();
    // Source `a` with route `b /x`, source `a b` with route `/x`: the same
    // text `a b /x`, two targets.
    update(
        &mut s,
        Msg::Views("a".into(), vec![view("b /x", 5.0)], t0()),
        t0(),
    );
    update(
        &mut s,
        Msg::Views("a b".into(), vec![view("/x", 5.0)], t0()),
        t0(),
    );
    let routes: Vec<&TargetId> = s
        .targets
        .iter()
        .map(|t| &t.id)
        .filter(|id| id.kind() == SourceKind::Metrics)
        .collect();
    assert_eq!(routes.len(), 2, "{routes:?}");
    assert_eq!(routes[0].source(), Some("a"));
    assert_eq!(routes[1].source(), Some("a b"));
    assert_eq!(routes[0].to_string(), "a b /x");
    // Another scrape of `a` updates its own route, never `a b`'s.
    update(
        &mut s,
        Msg::Views("a".into(), vec![view("b /x", 7.0)], t0()),
        t0(),
    );
    assert_eq!(s.targets.len(), 3);
}

#[test]
fn an_update_falls_due_once_per_period_and_a_sent_update_resets_it() {
    let mut s = engine();
    let fx = ask(&mut s, Intent::Severity(Severity::Sev2));
    written(&mut s, &fx);
    let every = s
        .playbook()
        .and_then(|p| p.severity.get(&Severity::Sev2))
        .and_then(|g| g.update_every)
        .expect("the playbook in use sets update_every for SEV-2")
        .get();
    let every = chrono::Duration::from_std(every).unwrap();
    let reminders = |fx: &[Effect]| fx.iter().filter(|e| matches!(e, Effect::Remind(_))).count();
    let tick = |s: &mut State, at: DateTime<Utc>| update(s, Msg::Tick, at);
    assert_eq!(
        reminders(&tick(&mut s, t0() + every - chrono::Duration::seconds(1))),
        0
    );
    let due = tick(&mut s, t0() + every);
    assert_eq!(reminders(&due), 1, "{due:?}");
    assert!(
        s.message
            .as_deref()
            .unwrap_or_default()
            .contains("status update due")
    );
    assert_eq!(
        reminders(&tick(&mut s, t0() + every + chrono::Duration::seconds(5))),
        0,
        "once"
    );
    // An update sent resets the clock: the next reminder is a period after it.
    let sent_at = t0() + every + chrono::Duration::seconds(10);
    let fx = update(
        &mut s,
        Msg::Do(Intent::Submit(
            InputKind::Comms,
            "Investigating payments".into(),
        )),
        sent_at,
    );
    let mut seq = s.incident.as_ref().map_or(0, |i| i.events.len() as u64);
    for d in appended(&fx) {
        seq += 1;
        update(
            &mut s,
            Msg::Appended(d.clone().into_event(seq, sent_at)),
            sent_at,
        );
    }
    assert_eq!(
        reminders(&tick(
            &mut s,
            sent_at + every - chrono::Duration::seconds(1)
        )),
        0
    );
    assert_eq!(reminders(&tick(&mut s, sent_at + every)), 1);
}

/// An engine watching the metrics route `shop /api/payments` (20 req/s),
/// fed one second at a time: `errors(s)` 5xx in second `s`. Returns every
/// effect, with the events it appends written back in.
fn route_run(secs: i64, errors: impl Fn(i64) -> f64) -> (State, Vec<Effect>) {
    let mut s = State::new(
        "shop",
        "ann",
        Settings::default(),
        Vec::new(),
        playbook::bundled(),
        "/nowhere".into(),
        t0(),
    );
    let mut all = Vec::new();
    for i in 0..secs {
        let at = t0() + chrono::Duration::seconds(i);
        let view = RouteView {
            route: "/api/payments".into(),
            requests: 20.0,
            errors_5xx: errors(i),
            errors_4xx: 0.0,
            rate: Some(20.0),
            p50: Some(0.045),
            p95: Some(0.120),
            p99: Some(0.200),
            by_label: Vec::new(),
        };
        for msg in [Msg::Views("shop".into(), vec![view], at), Msg::Tick] {
            let fx = update(&mut s, msg, at);
            written(&mut s, &fx);
            all.extend(fx);
        }
    }
    (s, all)
}

fn pages(fx: &[Effect]) -> Vec<&Signal> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Notify(s, true) if s.state == SignalState::Fired => Some(s),
            _ => None,
        })
        .collect()
}

#[test]
fn a_blip_is_shown_but_opens_no_incident_and_pages_no_one() {
    let (s, fx) = route_run(200, |i| if (100..103).contains(&i) { 20.0 } else { 0.0 });
    assert!(!fx.iter().any(|e| matches!(e, Effect::Open(_))), "{fx:?}");
    assert!(pages(&fx).is_empty(), "{fx:?}");
    let blips: Vec<&Signal> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Notify(s, false) if s.state == SignalState::Blip => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(blips.len(), 1, "{fx:?}");
    assert_eq!(blips[0].target, "shop /api/payments");
    assert!(!s.incident_open());
    let t = &s.targets[0];
    assert!(t.firing.is_empty());
    assert_eq!(t.last_blip.map(|b| b.1), Some(DetectorKind::ErrorRate));
    assert!(
        s.message
            .as_deref()
            .is_some_and(|m| m.starts_with("blip: error_rate on shop /api/payments")),
        "{:?}",
        s.message
    );
}

#[test]
fn a_blip_during_an_incident_is_on_its_timeline() {
    let mut s = engine();
    let fx = ask(&mut s, Intent::Severity(Severity::Sev2));
    written(&mut s, &fx);
    let blip = Signal {
        kind: DetectorKind::Down,
        target: "payments".into(),
        state: SignalState::Blip,
        severity: crate::core::signal::SeverityHint::Critical,
        evidence: "2 of the last 3 probes got no answer — healed within 5s".into(),
        started: t0(),
        ended: None,
        at: t0(),
        class: None,
    };
    let fx = update(&mut s, Msg::Signal(blip), t0());
    let drafts = appended(&fx);
    assert_eq!(drafts.len(), 1, "{fx:?}");
    assert_eq!(drafts[0].kind, Kind::SignalBlip);
    written(&mut s, &fx);
    let inc = &s.incident.as_ref().unwrap().state;
    assert_eq!(inc.blips.len(), 1);
    assert!(inc.firing().next().is_none());
}

#[test]
fn a_flapping_route_is_one_incident_and_one_notification() {
    // 10% errors 20 s on / 40 s off for 10 minutes, then calm.
    let on = |i: i64| (100..700).contains(&i) && (i - 100) % 60 < 20;
    let (s, fx) = route_run(900, |i| if on(i) { 2.0 } else { 0.0 });
    let opened = fx.iter().filter(|e| matches!(e, Effect::Open(_))).count();
    assert_eq!(opened, 1, "{fx:?}");
    assert_eq!(pages(&fx).len(), 1, "{fx:?}");
    let flaps = fx
        .iter()
        .filter(|e| matches!(e, Effect::Notify(s, false) if s.state == SignalState::Flapping))
        .count();
    assert!(flaps >= 2, "{fx:?}");
    let inc = &s.incident.as_ref().unwrap().state;
    let rec = &inc.signals[&("error_rate".to_string(), "shop /api/payments".to_string())];
    assert_eq!(rec.episodes, 1, "one signal, fired once");
    assert!(rec.evidence.contains("flap"), "{}", rec.evidence);
    assert!(!rec.firing, "resolved once stable");
    // Resolved only after the last episode (640–660 s) and 90 s of quiet.
    let resolved = fx
        .iter()
        .find_map(|e| match e {
            Effect::Notify(s, _) if s.state == SignalState::Resolved => Some(s.at),
            _ => None,
        })
        .unwrap();
    assert!(
        resolved >= t0() + chrono::Duration::seconds(659 + 90),
        "{resolved}"
    );
}
