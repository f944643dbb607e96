//! Engine unit tests: scripted messages in, effects and state out — no
//! runtime, no terminal, no files.

use super::targets::{SourceKind, Target, TargetId};
use super::*;
use crate::core::detect::Settings;
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
