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
        span: None,
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
    route_run_with(secs, errors, |_| {})
}

/// [`route_run`] with the engine prepared first (silences, maintenance).
fn route_run_with(
    secs: i64,
    errors: impl Fn(i64) -> f64,
    prepare: impl FnOnce(&mut State),
) -> (State, Vec<Effect>) {
    let mut s = State::new(
        "shop",
        "ann",
        Settings::default(),
        Vec::new(),
        playbook::bundled(),
        "/nowhere".into(),
        t0(),
    );
    prepare(&mut s);
    let mut all = Vec::new();
    for i in 0..secs {
        let at = t0() + chrono::Duration::seconds(i);
        let view = RouteView {
            route: "/api/payments".into(),
            requests: 20.0,
            errors_5xx: errors(i),
            errors_4xx: 0.0,
            rate: Some(20.0),
            span: None,
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
            Effect::Page(s) if s.state == SignalState::Fired => Some(s),
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

fn silence(id: &str, pattern: &str, from: i64, until: i64) -> crate::core::silence::Silence {
    crate::core::silence::Silence {
        id: id.into(),
        matcher: crate::core::silence::Matcher::parse(pattern).unwrap(),
        starts: t0() + chrono::Duration::seconds(from),
        ends: t0() + chrono::Duration::seconds(until),
        reason: "deploy 4.2".into(),
        origin: crate::core::silence::Origin::Added("ann".into()),
        service: None,
    }
}

fn silenced(fx: &[Effect]) -> Vec<payload::SignalSilenced> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::RecordSilenced(d) => match d.payload() {
                Ok(payload::Payload::SignalSilenced(p)) => Some(p),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn a_silenced_outage_is_recorded_but_opens_nothing_and_pages_no_one() {
    // Every request fails from 100 s to 300 s, under a silence of `shop /api/*`.
    let (s, fx) = route_run_with(
        500,
        |i| if (100..300).contains(&i) { 20.0 } else { 0.0 },
        |s| s.silences = vec![silence("s1", "shop /api/*", 0, 600)],
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::Open(_))), "{fx:?}");
    assert!(pages(&fx).is_empty(), "{fx:?}");
    assert!(!s.incident_open());
    let held = silenced(&fx);
    let states: Vec<&str> = held.iter().map(|h| h.state.as_str()).collect();
    assert!(
        states.contains(&"fired") && states.contains(&"resolved"),
        "{states:?}"
    );
    assert!(held.iter().all(|h| h.silence == "s1"));
    let signal = held[0].signal.as_ref().unwrap();
    assert_eq!(signal.target, "shop /api/payments");
    // The onset is the fault's, as the detector estimated it.
    let onset = signal.started.unwrap();
    assert!(
        (onset - (t0() + chrono::Duration::seconds(100)))
            .num_seconds()
            .abs()
            <= 5,
        "{onset}"
    );
    assert!(s.held.is_empty(), "resolved while held: let go");
}

#[test]
fn a_silence_of_another_target_holds_nothing() {
    let (s, fx) = route_run_with(
        200,
        |i| if i >= 100 { 20.0 } else { 0.0 },
        |s| {
            s.silences = vec![
                silence("s1", "search", 0, 600),
                silence("s2", "shop /api/payments", 300, 600),
            ]
        },
    );
    assert_eq!(pages(&fx).len(), 1, "s2 has not started: {fx:?}");
    assert!(silenced(&fx).is_empty());
    assert!(s.incident_open());
}

#[test]
fn a_signal_still_firing_when_its_silence_ends_pages_then() {
    let (s, fx) = route_run_with(
        400,
        |i| if i >= 100 { 20.0 } else { 0.0 },
        |s| s.silences = vec![silence("s1", "*", 0, 200)],
    );
    let paged = pages(&fx);
    assert_eq!(paged.len(), 1, "{fx:?}");
    assert_eq!(
        paged[0].at,
        t0() + chrono::Duration::seconds(200),
        "paged as the silence ended"
    );
    assert!(
        paged[0].evidence.contains("held by silence s1"),
        "{}",
        paged[0].evidence
    );
    assert!(
        (paged[0].started - (t0() + chrono::Duration::seconds(100)))
            .num_seconds()
            .abs()
            <= 5
    );
    assert!(s.incident_open());
    // The incident records the silence that held its first signal.
    let inc = s.incident.as_ref().unwrap();
    assert!(
        inc.events
            .iter()
            .any(|e| e.kind == Kind::SilenceAdded && e.data["silence"] == "s1"),
        "{:?}",
        inc.events.iter().map(|e| e.kind).collect::<Vec<_>>()
    );
}

#[test]
fn a_silence_warns_once_five_minutes_before_it_ends() {
    let mut s = engine();
    s.silences = vec![silence("s1", "payments", 0, 600)];
    let reminders = |fx: &[Effect]| fx.iter().filter(|e| matches!(e, Effect::Remind(_))).count();
    let mut count = Vec::new();
    for i in [0, 299, 300, 301, 400, 599] {
        count.push(reminders(&update(
            &mut s,
            Msg::Tick,
            t0() + chrono::Duration::seconds(i),
        )));
    }
    assert_eq!(count, [0, 0, 1, 0, 0, 0]);
    assert!(
        s.message
            .as_deref()
            .is_some_and(|m| m.contains("silence s1 ends in 5 min")),
        "{:?}",
        s.message
    );
}

#[test]
fn a_maintenance_window_holds_like_a_silence() {
    let window: crate::core::silence::Window = yaml_serde::from_str(
        "{name: db vacuum, targets: [\"shop *\"], from: 2026-11-22T03:00:00Z, until: 2026-11-22T04:00:00Z}",
    )
    .unwrap();
    let (s, fx) = route_run_with(
        300,
        |i| if i >= 100 { 20.0 } else { 0.0 },
        |s| s.maintenance = vec![window],
    );
    assert!(pages(&fx).is_empty(), "{fx:?}");
    let held = silenced(&fx);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].silence, "m1");
    assert_eq!(s.held.len(), 1, "still failing, still held");
}

#[test]
fn an_open_incident_records_each_silence_in_force_and_its_end_once() {
    let mut s = engine();
    let fx = ask(&mut s, Intent::Severity(Severity::Sev2));
    written(&mut s, &fx);
    update(
        &mut s,
        Msg::Silences(vec![silence("s1", "payments", 0, 60)]),
        t0(),
    );
    let mut kinds = Vec::new();
    for i in 1..120 {
        let at = t0() + chrono::Duration::seconds(i);
        let fx = update(&mut s, Msg::Tick, at);
        for d in appended(&fx) {
            if matches!(d.kind, Kind::SilenceAdded | Kind::SilenceExpired) {
                kinds.push((i, d.kind, d.data["silence"].clone()));
            }
        }
        written(&mut s, &fx);
    }
    assert_eq!(
        kinds,
        [
            (1, Kind::SilenceAdded, json!("s1")),
            (60, Kind::SilenceExpired, json!("s1"))
        ]
    );
}

fn probe_sample(at: DateTime<Utc>, ok: bool) -> ProbeSample {
    use crate::core::sample::FailureClass;
    ProbeSample {
        at,
        status: Some(if ok { 200 } else { 503 }),
        latency: std::time::Duration::from_millis(if ok { 40 } else { 5 }),
        phases: Default::default(),
        bytes: 100,
        cert_days_left: None,
        retry_after: None,
        class: if ok {
            FailureClass::Ok
        } else {
            FailureClass::Http5xx
        },
        error: (!ok).then(|| "HTTP 503".to_string()),
        warnings: Vec::new(),
        lateness: std::time::Duration::ZERO,
        exemplar: None,
        redirects: Vec::new(),
    }
}

/// Probes `names`, one sample a second for `secs`; `fails(name, s)` says
/// which fail. Every effect, with the appends written back.
fn probes_run(
    names: &[&str],
    secs: i64,
    fails: impl Fn(&str, i64) -> bool,
) -> (State, Vec<Effect>) {
    let mut s = State::new(
        "shop",
        "ann",
        Settings::default(),
        names
            .iter()
            .map(|n| Target::new(n, SourceKind::Probe, None))
            .collect(),
        playbook::bundled(),
        "/nowhere".into(),
        t0(),
    );
    let mut all = Vec::new();
    for i in 0..secs {
        let at = t0() + chrono::Duration::seconds(i);
        let mut msgs: Vec<Msg> = names
            .iter()
            .map(|n| {
                Msg::Probe(
                    TargetId::Probe(n.to_string()),
                    Box::new(probe_sample(at, !fails(n, i))),
                )
            })
            .collect();
        msgs.push(Msg::Tick);
        for msg in msgs {
            let fx = update(&mut s, msg, at);
            written(&mut s, &fx);
            all.extend(fx);
        }
    }
    (s, all)
}

const SHOP: [&str; 5] = ["payments", "orders", "search", "users", "health"];

#[test]
fn a_full_outage_is_one_service_down_signal_and_one_page_with_the_list() {
    let (s, fx) = probes_run(&SHOP, 300, |_, i| (30..90).contains(&i));
    let paged = pages(&fx);
    assert_eq!(paged.len(), 1, "{paged:?}");
    assert_eq!(paged[0].kind, DetectorKind::ServiceDown);
    assert_eq!(paged[0].target, "shop (service)");
    assert!(
        paged[0].evidence.starts_with("5 of 5 targets failing: "),
        "{}",
        paged[0].evidence
    );
    for n in SHOP {
        assert!(paged[0].evidence.contains(n), "{}", paged[0].evidence);
    }
    // The onset is the earliest of theirs; every target's own signal is on the timeline.
    assert!(
        (paged[0].started - (t0() + chrono::Duration::seconds(30)))
            .num_seconds()
            .abs()
            <= 2
    );
    let inc = s.incident.as_ref().unwrap();
    let key = |d: &str, t: &str| (d.to_string(), t.to_string());
    assert!(
        inc.state
            .signals
            .contains_key(&key("service_down", "shop (service)"))
    );
    for n in SHOP {
        assert!(inc.state.signals.contains_key(&key("down", n)), "{n}");
    }
    // It chose no playbook of its own and is no command target.
    assert_ne!(inc.state.primary_target.as_deref(), Some("shop (service)"));
    // Over when they recover.
    assert!(!inc.state.signals[&key("service_down", "shop (service)")].firing);
    assert!(s.service_down.is_none());
}

#[test]
fn one_failing_target_or_a_healthy_health_check_is_no_service_down() {
    let (_, fx) = probes_run(&SHOP, 60, |n, i| n == "payments" && i >= 30);
    let paged = pages(&fx);
    assert_eq!(paged.len(), 1);
    assert_eq!(paged[0].kind, DetectorKind::Down);
    // Four of five fail but the health check answers: a dependency, not the service.
    let (s, fx) = probes_run(&SHOP, 60, |n, i| n != "health" && i >= 30);
    assert!(
        !pages(&fx)
            .iter()
            .any(|p| p.kind == DetectorKind::ServiceDown),
        "{:?}",
        pages(&fx)
    );
    assert!(s.service_down.is_none());
}

#[test]
fn a_burst_is_one_page_naming_the_others() {
    let (_, fx) = probes_run(&SHOP, 60, |n, i| {
        (n == "payments" && i >= 30) || (n == "orders" && i >= 31)
    });
    let paged = pages(&fx);
    assert_eq!(paged.len(), 1, "{paged:?}");
    assert_eq!(paged[0].target, "payments", "the earliest");
    assert!(
        paged[0].evidence.ends_with("(+1 more: down on orders)"),
        "{}",
        paged[0].evidence
    );
    // It waited for the burst, no longer.
    let page_at = fx
        .iter()
        .position(|e| matches!(e, Effect::Page(_)))
        .unwrap();
    let fired_at = fx
        .iter()
        .position(|e| matches!(e, Effect::Notify(s, _) if s.target == "payments"))
        .unwrap();
    assert!(fired_at < page_at);
}

#[test]
fn while_the_service_is_down_the_banner_says_so() {
    let (s, _) = probes_run(&SHOP, 40, |_, i| i >= 30);
    let banner = s.banner.as_ref().map(|b| b.0.clone()).unwrap_or_default();
    assert!(
        banner.starts_with("ALERT service_down shop (service): 5 of 5 targets failing"),
        "{banner}"
    );
}

fn sig(kind: DetectorKind, target: &str, state: SignalState, at: i64) -> Signal {
    Signal {
        kind,
        target: target.into(),
        state,
        severity: crate::core::signal::SeverityHint::Critical,
        evidence: "e".into(),
        started: t0() + chrono::Duration::seconds(at),
        ended: None,
        at: t0() + chrono::Duration::seconds(at),
        class: None,
    }
}

/// Sends `msg` at second `at`, writing back what it appends.
fn send(s: &mut State, msg: Msg, at: i64) -> Vec<Effect> {
    let fx = update(s, msg, t0() + chrono::Duration::seconds(at));
    written(s, &fx);
    fx
}

#[test]
fn two_alerts_of_one_name_stay_held_until_both_resolve_and_the_rest_pages_when_the_silence_ends() {
    let mut s = engine();
    s.silences = vec![silence("s1", "HighLatency", 0, 100)];
    let fire = |st| sig(DetectorKind::Alert, "HighLatency", st, 10);
    send(&mut s, Msg::Signal(fire(SignalState::Fired)), 10);
    send(&mut s, Msg::Signal(fire(SignalState::Fired)), 11);
    send(&mut s, Msg::Signal(fire(SignalState::Resolved)), 20);
    assert_eq!(s.held.len(), 1, "one of the two still fires");
    let mut all = Vec::new();
    for i in 21..110 {
        all.extend(send(&mut s, Msg::Tick, i));
    }
    assert_eq!(
        pages(&all).len(),
        1,
        "released and paged when the silence ended"
    );
    assert!(s.incident_open());
}

#[test]
fn what_the_open_incident_records_as_firing_is_not_held_by_a_later_silence() {
    let mut s = engine();
    send(
        &mut s,
        Msg::Signal(sig(DetectorKind::Down, "payments", SignalState::Fired, 0)),
        0,
    );
    assert!(s.incident_open());
    s.silences = vec![silence("s1", "payments", 5, 600)];
    // A restart's detectors fire again for it: it goes on in the incident.
    let fx = send(
        &mut s,
        Msg::Signal(sig(DetectorKind::Down, "payments", SignalState::Fired, 10)),
        10,
    );
    assert!(silenced(&fx).is_empty(), "{fx:?}");
    let fx = send(
        &mut s,
        Msg::Signal(sig(
            DetectorKind::Down,
            "payments",
            SignalState::Resolved,
            20,
        )),
        20,
    );
    assert!(
        appended(&fx).iter().any(|d| d.kind == Kind::SignalResolved),
        "{fx:?}"
    );
}

#[test]
fn with_auto_open_off_a_released_signal_opens_nothing() {
    let mut s = engine();
    s.auto_open = false;
    s.silences = vec![silence("s1", "payments", 0, 30)];
    send(
        &mut s,
        Msg::Signal(sig(DetectorKind::Down, "payments", SignalState::Fired, 5)),
        5,
    );
    let mut all = Vec::new();
    for i in 6..40 {
        all.extend(send(&mut s, Msg::Tick, i));
    }
    assert!(
        !all.iter()
            .any(|e| matches!(e, Effect::Open(_) | Effect::Append(_))),
        "{all:?}"
    );
    assert_eq!(pages(&all).len(), 1, "it still pages: {all:?}");
}

#[test]
fn a_signal_that_resolves_while_its_page_waits_is_not_paged() {
    let mut s = engine();
    let mut all = send(
        &mut s,
        Msg::Signal(sig(DetectorKind::Down, "payments", SignalState::Fired, 0)),
        0,
    );
    all.extend(send(
        &mut s,
        Msg::Signal(sig(
            DetectorKind::Down,
            "payments",
            SignalState::Resolved,
            2,
        )),
        2,
    ));
    for i in 3..10 {
        all.extend(send(&mut s, Msg::Tick, i));
    }
    assert!(pages(&all).is_empty(), "{all:?}");
}

#[test]
fn a_scrape_after_a_gap_carries_its_span_and_pages_no_surge() {
    let mut s = engine();
    let mut signals = Vec::new();
    let mut feed = |s: &mut State, at: i64, requests: f64, span: f64| {
        let view = RouteView {
            span: Some(span),
            ..view("/api/orders", requests)
        };
        let at = t0() + chrono::Duration::seconds(at);
        let fx = update(s, Msg::Views("shop".into(), vec![view], at), at);
        written(s, &fx);
        signals.extend(fx.into_iter().filter_map(|e| match e {
            Effect::Notify(sig, _) | Effect::Page(sig) => Some(sig.kind),
            _ => None,
        }));
    };
    // Two hours of 5 s scrapes at 50/s, then /metrics unreachable for 90 s.
    let mut t = 0;
    while t < 7200 {
        t += 5;
        feed(&mut s, t, 250.0, 5.0);
    }
    t += 95;
    feed(&mut s, t, 4750.0, 95.0);
    for _ in 0..12 {
        t += 5;
        feed(&mut s, t, 250.0, 5.0);
    }
    assert!(
        !signals.contains(&DetectorKind::TrafficSurge),
        "{signals:?}"
    );
}

#[test]
fn an_action_item_of_the_open_incident_is_closed_by_its_short_id_once() {
    let mut s = engine();
    let fx = ask(&mut s, Intent::Severity(Severity::Sev2));
    written(&mut s, &fx);
    let fx = ask(
        &mut s,
        Intent::Submit(InputKind::ActionItem, "pool alarm @bob".into()),
    );
    // As the runtime does: the item gets its id when written.
    let mut item = appended(&fx)[0].clone();
    let id = crate::core::event::EventId::parse("0190c2a4-0000-7000-8000-00000000c0de").unwrap();
    item.id = Some(id.clone());
    let seq = s.incident.as_ref().map_or(0, |i| i.events.len() as u64) + 1;
    update(&mut s, Msg::Appended(item.into_event(seq, t0())), t0());

    // Unknown: said, nothing written, the text kept for correcting.
    let fx = ask(
        &mut s,
        Intent::Submit(InputKind::ActionDone, "deadbeef live".into()),
    );
    assert!(appended(&fx).is_empty(), "{fx:?}");
    assert!(
        s.message
            .as_deref()
            .unwrap_or_default()
            .contains("no action item `deadbeef`")
    );

    let fx = ask(
        &mut s,
        Intent::Submit(InputKind::ActionDone, "0000C0DE alarm live".into()),
    );
    let done = appended(&fx);
    assert_eq!(done.len(), 1, "{fx:?}");
    assert_eq!(done[0].kind, Kind::ActionDone);
    assert_eq!(done[0].data["item"], id.as_str(), "the whole id");
    assert_eq!(done[0].msg, "alarm live");
    written(&mut s, &fx);
    let inc = &s.incident.as_ref().unwrap().state;
    assert!(inc.action_items[0].done.is_some());

    // Again: already done, nothing written.
    let fx = ask(
        &mut s,
        Intent::Submit(InputKind::ActionDone, "0000c0de".into()),
    );
    assert!(appended(&fx).is_empty(), "{fx:?}");
    assert!(
        s.message
            .as_deref()
            .unwrap_or_default()
            .contains("already done")
    );
}

/// Like [`send`], with the effects of the written-back events too (a
/// notification goes out once its signal is on disk).
fn send_through(s: &mut State, msg: Msg, at: i64) -> Vec<Effect> {
    let now = t0() + chrono::Duration::seconds(at);
    let mut all = Vec::new();
    let mut fx = update(s, msg, now);
    for _ in 0..5 {
        let mut next = Vec::new();
        let mut seq = s.incident.as_ref().map_or(0, |i| i.events.len() as u64);
        for e in &fx {
            let d = match e {
                Effect::Open(title) if !s.incident_open() => Draft::opened("ic", title, "shop"),
                Effect::Append(d) => d.clone(),
                _ => continue,
            };
            seq += 1;
            next.extend(update(s, Msg::Appended(d.into_event(seq, now)), now));
        }
        all.append(&mut fx);
        if next.is_empty() {
            break;
        }
        fx = next;
    }
    all
}

fn sent_notifications(fx: &[Effect]) -> usize {
    fx.iter()
        .filter(|e| matches!(e, Effect::Notify(_, true) | Effect::Page(_)))
        .count()
}

#[test]
fn without_the_paging_lease_signals_are_shown_not_recorded_and_taken_up_with_it() {
    let mut s = engine();
    s.team = Some(crate::core::team::TeamStatus {
        online: true,
        ..Default::default()
    });
    let theirs = crate::core::team::Lease {
        holder: Some("bob".into()),
        ours: false,
    };
    send_through(&mut s, Msg::Lease(theirs.clone()), 0);
    assert!(!s.pages());
    let fx = send_through(
        &mut s,
        Msg::Signal(sig(DetectorKind::Down, "payments", SignalState::Fired, 5)),
        5,
    );
    assert!(appended(&fx).is_empty(), "bob's ic records it: {fx:?}");
    assert!(!fx.iter().any(|e| matches!(e, Effect::Open(_))));
    assert_eq!(sent_notifications(&fx), 0, "bob's ic pages");
    assert!(
        s.targets[0].firing.contains(&DetectorKind::Down),
        "shown here all the same"
    );
    // The lease comes here (bob's ic died): what still fires is recorded and paged once.
    let fx = send(
        &mut s,
        Msg::Lease(crate::core::team::Lease {
            holder: Some("ann".into()),
            ours: true,
        }),
        20,
    );
    assert!(
        appended(&fx).iter().any(|d| d.kind == Kind::SignalFired),
        "{fx:?}"
    );
    let mut fx = fx;
    fx.extend(send_through(&mut s, Msg::Tick, 80));
    assert_eq!(sent_notifications(&fx), 1, "{fx:?}");
    assert!(s.deferred.is_empty());
    // Handed back and forth again: nothing twice.
    send_through(&mut s, Msg::Lease(theirs), 30);
    let fx = send(
        &mut s,
        Msg::Lease(crate::core::team::Lease {
            holder: Some("ann".into()),
            ours: true,
        }),
        40,
    );
    let mut fx = fx;
    fx.extend(send_through(&mut s, Msg::Tick, 100));
    assert!(
        appended(&fx).iter().all(|d| d.kind != Kind::SignalFired),
        "{fx:?}"
    );
    assert_eq!(sent_notifications(&fx), 0, "{fx:?}");
    // A signal the previous holder already recorded goes on silently after a takeover.
    let mut s2 = engine();
    s2.team = s.team.clone();
    send_through(
        &mut s2,
        Msg::Lease(crate::core::team::Lease {
            holder: Some("bob".into()),
            ours: false,
        }),
        0,
    );
    send_through(
        &mut s2,
        Msg::Signal(sig(DetectorKind::Down, "payments", SignalState::Fired, 5)),
        5,
    );
    let mut fired = Draft::signal(&sig(DetectorKind::Down, "payments", SignalState::Fired, 5));
    fired.actor = "ic".into();
    let opened = Draft::opened("ic", "payments down", "shop").into_event(1, t0());
    update(&mut s2, Msg::Appended(opened), t0());
    update(&mut s2, Msg::Appended(fired.into_event(2, t0())), t0());
    let mut fx = send_through(
        &mut s2,
        Msg::Lease(crate::core::team::Lease {
            holder: Some("ann".into()),
            ours: true,
        }),
        20,
    );
    fx.extend(send_through(&mut s2, Msg::Tick, 80));
    assert!(
        appended(&fx).iter().all(|d| d.kind != Kind::SignalFired),
        "{fx:?}"
    );
    assert_eq!(sent_notifications(&fx), 0, "{fx:?}");
    // Offline, the team cannot page for us: this ic pages.
    let mut s3 = engine();
    s3.team = Some(crate::core::team::TeamStatus::default());
    send_through(
        &mut s3,
        Msg::Lease(crate::core::team::Lease {
            holder: Some("bob".into()),
            ours: false,
        }),
        0,
    );
    assert!(s3.pages(), "offline");
}

#[test]
fn handing_a_role_over_says_from_whom_to_whom() {
    let mut s = engine();
    let fx = ask(
        &mut s,
        Intent::Submit(InputKind::Role, "incident-lead alice".into()),
    );
    written(&mut s, &fx);
    assert_eq!(
        appended(&fx)[appended(&fx).len() - 1].msg,
        "alice is incident-lead"
    );
    let fx = ask(
        &mut s,
        Intent::Submit(InputKind::Role, "incident-lead bob".into()),
    );
    let handoff = appended(&fx)
        .into_iter()
        .find(|d| d.kind == Kind::RoleAssigned)
        .cloned();
    written(&mut s, &fx);
    assert_eq!(
        handoff.map(|d| d.msg).as_deref(),
        Some("incident-lead: alice → bob")
    );
    assert_eq!(
        s.incident.as_ref().unwrap().state.roles["incident-lead"],
        "bob"
    );
}

#[test]
fn a_signal_only_this_ic_sees_is_paged_after_a_minute_and_its_end_recorded_by_it() {
    let mut s = engine();
    s.team = Some(crate::core::team::TeamStatus {
        online: true,
        ..Default::default()
    });
    let theirs = crate::core::team::Lease {
        holder: Some("bob".into()),
        ours: false,
    };
    send_through(&mut s, Msg::Lease(theirs), 0);
    let fire = sig(DetectorKind::Down, "payments", SignalState::Fired, 5);
    let fx = send_through(&mut s, Msg::Signal(fire), 5);
    assert!(appended(&fx).is_empty());
    // The pager's ic never records it: a minute on, this ic records and pages it.
    let mut fx = send_through(&mut s, Msg::Tick, 66);
    fx.extend(send_through(&mut s, Msg::Tick, 70));
    assert!(
        appended(&fx).iter().any(|d| d.kind == Kind::SignalFired),
        "{fx:?}"
    );
    assert_eq!(sent_notifications(&fx), 1, "{fx:?}");
    // Its resolution is this ic's to record too, lease or not.
    let mut end = sig(DetectorKind::Down, "payments", SignalState::Resolved, 90);
    end.ended = Some(t0() + chrono::Duration::seconds(90));
    let fx = send_through(&mut s, Msg::Signal(end), 90);
    assert!(
        appended(&fx).iter().any(|d| d.kind == Kind::SignalResolved),
        "{fx:?}"
    );
    let key = ("down".to_string(), "payments".to_string());
    assert!(!s.incident.as_ref().unwrap().state.signals[&key].firing);
}

#[test]
fn the_pager_goes_on_paging_through_a_blip_of_the_server() {
    let mut s = engine();
    s.team = Some(crate::core::team::TeamStatus {
        online: true,
        ..Default::default()
    });
    let ours = crate::core::team::Lease {
        holder: Some("ann".into()),
        ours: true,
    };
    send_through(&mut s, Msg::Lease(ours), 0);
    send_through(
        &mut s,
        Msg::Team(crate::core::team::TeamStatus {
            online: false,
            offline_since: Some(t0()),
            ..Default::default()
        }),
        1,
    );
    assert!(s.pages(), "the holder pages while the server blips");
    let mut other = engine();
    other.team = s.team.clone();
    send_through(
        &mut other,
        Msg::Lease(crate::core::team::Lease {
            holder: Some("ann".into()),
            ours: false,
        }),
        0,
    );
    other.now = t0() + chrono::Duration::seconds(5);
    assert!(!other.pages(), "the others wait out the grace");
    other.now = t0() + chrono::Duration::seconds(25);
    assert!(other.pages(), "then page on their own");
}
