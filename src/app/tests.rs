//! Engine unit tests: scripted messages in, effects and state out — no
//! runtime, no terminal, no files.

use super::input::Key;
use super::targets::{SourceKind, Target, TargetId};
use super::*;
use crate::core::detect::Settings;
use chrono::TimeZone;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 0).unwrap()
}

fn engine() -> State {
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

fn keys(s: &mut State, keys: &[Key]) -> Vec<Effect> {
    keys.iter()
        .flat_map(|k| update(s, Msg::Key(*k), t0()))
        .collect()
}

fn typed(text: &str) -> Vec<Key> {
    text.chars().map(Key::Char).collect()
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
    let mut script = vec![Key::Char('n')];
    script.extend(typed("pager worked #well"));
    script.push(Key::Enter);
    let fx = keys(&mut s, &script);
    assert!(matches!(fx.first(), Some(Effect::Open(_))), "{fx:?}");
    let notes = appended(&fx);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, Kind::Note);
    assert_eq!(notes[0].msg, "pager worked");
    assert_eq!(notes[0].data["tags"], json!(["went_well"]));
    assert_eq!(notes[0].actor, "ann");
}

#[test]
fn incident_only_keys_are_refused_by_the_table_with_no_effect() {
    let mut s = engine();
    for k in ['p', 'R', 'A', 'u', 'P'] {
        let fx = keys(&mut s, &[Key::Char(k)]);
        assert!(fx.is_empty(), "{k}: {fx:?}");
        assert!(
            s.message
                .as_deref()
                .unwrap_or_default()
                .contains("no incident is open"),
            "{k}: {:?}",
            s.message
        );
        assert_eq!(s.mode, Mode::Normal);
    }
}

#[test]
fn a_line_the_grammar_refuses_stays_in_the_input_to_be_corrected() {
    let mut s = engine();
    let mut script = vec![Key::Char('a')];
    // `a` needs an incident: open one with a severity first.
    let fx = keys(&mut s, &script);
    assert!(fx.is_empty());
    let fx = keys(&mut s, &[Key::Char('s'), Key::Char('2')]);
    assert_eq!(appended(&fx)[0].kind, Kind::SeveritySet);
    // Pretend the runtime wrote it: the incident is open now.
    let opened = Draft::opened("ic", "incident", "shop").into_event(1, t0());
    update(&mut s, Msg::Appended(opened), t0());
    script.extend(typed("fix the pool due:friday"));
    script.push(Key::Enter);
    let fx = keys(&mut s, &script);
    assert!(appended(&fx).is_empty(), "{fx:?}");
    assert!(
        s.message
            .as_deref()
            .unwrap_or_default()
            .contains("YYYY-MM-DD")
    );
    assert_eq!(
        s.mode,
        Mode::Input(InputKind::ActionItem, "fix the pool due:friday".into())
    );
}

#[test]
fn errors_stay_listed_and_e_opens_them() {
    let mut s = engine();
    update(&mut s, Msg::TaskFailed("scraper stopped".into()), t0());
    update(&mut s, Msg::Info("later".into()), t0());
    assert_eq!(s.errors.len(), 1);
    keys(&mut s, &[Key::Char('E')]);
    assert_eq!(s.mode, Mode::Errors);
    keys(&mut s, &[Key::Esc]);
    assert_eq!(s.mode, Mode::Normal);
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
