//! Status updates: the pre-filled draft from the comms template, and the
//! reminder when the severity's `update_every` falls due.

use super::*;

/// When the severity's `update_every` has passed since the last status
/// update (or the opening), a reminder once per due time: notification and message.
pub(super) fn update_reminder(state: &mut State, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
    if !state.incident_open() {
        return;
    }
    let Some(inc) = state.incident.as_ref().map(|i| &i.state) else {
        return;
    };
    if inc.stage(Stage::Resolved).is_some() {
        return;
    }
    let every = state
        .playbook()
        .zip(inc.current_severity())
        .and_then(|(p, s)| p.severity.get(&s).and_then(|g| g.update_every));
    let last = inc.comms.last().map(|c| c.at).or(inc.opened);
    let (Some(every), Some(last)) = (every, last) else {
        return;
    };
    let due = last + chrono::Duration::from_std(every.get()).unwrap_or_default();
    if now < due || state.reminded_for == Some(due) {
        return;
    }
    state.reminded_for = Some(due);
    let text = format!(
        "status update due: the last went out at {} UTC and this severity asks for one every {} — u composes it",
        last.format("%H:%M"),
        crate::core::units::format_duration(every.get())
    );
    state.say(text.clone());
    fx.push(Effect::Remind(text));
}

/// The comms template filled from the data and the timeline.
pub fn comms_draft(state: &State) -> String {
    let inc = state.incident.as_ref().map(|i| &i.state);
    let what_changed = inc
        .and_then(|i| i.signals.values().next())
        .map(|s| {
            format!(
                "{} on {} since {}",
                s.detector,
                s.target,
                s.started.unwrap_or(s.first_fired).format("%H:%M UTC")
            )
        })
        .unwrap_or_else(|| "—".into());
    let impact = state
        .targets
        .iter()
        .filter(|t| !t.firing.is_empty())
        .map(|t| {
            let r = t.row(state.now);
            format!("{} {:.1}% errors", t.name, r.err * 100.0)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let update_every = state
        .playbook()
        .zip(inc.and_then(|i| i.current_severity()))
        .and_then(|(p, s)| p.severity.get(&s).and_then(|g| g.update_every))
        .map_or(std::time::Duration::from_secs(1800), |d| d.get());
    let next = state.now + chrono::Duration::from_std(update_every).unwrap_or_default();
    let template = state
        .playbook()
        .and_then(|p| p.comms.as_ref())
        .map(|c| c.template.clone())
        .unwrap_or_else(|| "What changed: {what_changed}\nImpact: {impact}\nWorkaround: {workaround}\nNext update: {next_update}".into());
    let vars = BTreeMap::from([
        ("what_changed", what_changed),
        (
            "impact",
            if impact.is_empty() {
                "recovering".into()
            } else {
                impact
            },
        ),
        ("workaround", "none yet".to_string()),
        ("next_update", next.format("%H:%M UTC").to_string()),
        ("service", state.service.clone()),
        (
            "severity",
            inc.and_then(|i| i.current_severity())
                .map_or("unset".into(), |s| s.to_string()),
        ),
        ("title", inc.map_or(String::new(), |i| i.title.clone())),
        (
            "status",
            if state.incident_open() {
                "investigating".into()
            } else {
                "resolved".into()
            },
        ),
    ]);
    // Lines as the template has them: the editor takes several.
    playbook::render_comms(&template, &vars).unwrap_or(template)
}
