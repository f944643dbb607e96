//! The incident's lifecycle rules: severity, playbook steps (done, skipped,
//! undone, ticked by what they wait for), moving between phases, resolving and
//! closing — each refusal says why, and a second ask in a row overrides it
//! where that is allowed.

use super::*;

pub(super) fn set_severity(state: &mut State, sev: Severity, fx: &mut Vec<Effect>) {
    ensure_open(state, fx, "incident");
    let draft = Command::Severity {
        severity: sev,
        reason: String::new(),
    }
    .draft(&state.actor, state.now, None);
    fx.push(Effect::Append(draft));
}

pub(super) fn step_event(
    state: &State,
    phase: Phase,
    id: &str,
    done: bool,
    verify: Option<&Verdict>,
) -> Effect {
    let kind = if done {
        Kind::StepDone
    } else {
        Kind::StepSkipped
    };
    let text = state
        .playbook()
        .and_then(|p| p.step(id))
        .map(|(_, s)| s.text.clone())
        .unwrap_or_else(|| id.to_string());
    Effect::Append(Draft::typed(
        kind,
        &state.actor,
        text,
        &payload::StepData {
            playbook: state.playbook().map(|p| p.id.clone()),
            phase: phase.as_str().to_string(),
            step: id.to_string(),
            verify: verify.map(|v| json!({"passed": v.passed, "value": v.value, "text": v.text})),
            reason: None,
        },
    ))
}

pub(super) fn enter_step(state: &mut State, phase: Phase, id: &str, fx: &mut Vec<Effect>) {
    let Some(step) = state
        .steps_of(phase)
        .into_iter()
        .find(|s| s.id == id)
        .cloned()
    else {
        state.say("no step here");
        return;
    };
    if state.step_state(phase, &step.id) == Some(true) {
        state.say(format!(
            "“{}” is already done (U un-ticks it)",
            state.step_title(&step.id)
        ));
        return;
    }
    if let Some(command) = step.command() {
        if let Some(r) = &state.running {
            state.say(format!(
                "a command is already running (step “{}”)",
                state.step_title(r)
            ));
            return;
        }
        match command {
            Ok(command) => {
                let timeout = step
                    .timeout
                    .map_or(std::time::Duration::from_secs(60), |t| t.get());
                fx.push(Effect::Ui(Notice::ConfirmRun(Box::new(RunPlan {
                    step: step.id.clone(),
                    title: state.step_title(&step.id),
                    phase,
                    command,
                    values: state.command_values(),
                    target: state.primary_target(),
                    timeout,
                }))));
            }
            Err(e) => state.say(format!("cannot build the command: {e}")),
        }
        return;
    }
    ensure_open(state, fx, "incident");
    let verdict = state.checks.get(&step.id).and_then(|c| c.1.clone());
    if let Some(v) = &verdict
        && v.passed != Some(true)
    {
        state.say(format!(
            "recorded; note the check does not pass yet: {}",
            v.text
        ));
    }
    fx.push(step_event(state, phase, &step.id, true, verdict.as_ref()));
    fx.push(Effect::Ui(Notice::StepRecorded));
}

/// Required steps of `phase` still open.
pub(super) fn open_required(state: &State, phase: Phase) -> Vec<String> {
    let sev = state
        .incident
        .as_ref()
        .and_then(|i| i.state.current_severity());
    state
        .playbook()
        .map(|p| {
            p.phases
                .of(phase)
                .iter()
                .filter(|s| {
                    s.required && s.applies(sev) && state.step_state(phase, &s.id).is_none()
                })
                .map(|s| s.id.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Un-ticks a step: it is open again, and the timeline says who undid it.
pub(super) fn undo_step(state: &mut State, phase: Phase, id: &str, fx: &mut Vec<Effect>) {
    if state.step_state(phase, id).is_none() {
        state.say(format!(
            "“{}” is not ticked: nothing to undo",
            state.step_title(id)
        ));
        return;
    }
    let title = state.step_title(id);
    fx.push(Effect::Append(Draft::typed(
        Kind::StepUndone,
        &state.actor,
        format!("undone: {title}"),
        &payload::StepData {
            playbook: state.playbook().map(|p| p.id.clone()),
            phase: phase.as_str().to_string(),
            step: id.to_string(),
            verify: None,
            reason: Some(format!("un-ticked by {}", state.actor)),
        },
    )));
    state.say(format!("“{title}” is open again"));
}

/// Ticks the steps of the current and earlier phases that an action done
/// elsewhere fulfils (`done_by:`), each once, with a note of why.
pub(super) fn auto_tick(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(inc) = state.incident.as_ref().map(|i| &i.state) else {
        return;
    };
    let Some(current) = inc.phase else {
        return;
    };
    let mut due = Vec::new();
    for phase in Phase::ALL.iter().take_while(|p| **p <= current) {
        for step in state.steps_of(*phase) {
            let Some(by) = step.done_by else { continue };
            let key = (*phase, step.id.clone());
            if state.step_state(*phase, &step.id).is_some() || state.auto_ticked.contains(&key) {
                continue;
            }
            let began = inc.phases.iter().rev().find(|p| p.0 == *phase).map(|p| p.1);
            let done = match by {
                playbook::DoneBy::Severity => inc.current_severity().is_some(),
                playbook::DoneBy::Acknowledge => inc.stage(Stage::Acknowledged).is_some(),
                playbook::DoneBy::StatusUpdate => {
                    inc.comms.iter().any(|c| began.is_none_or(|b| c.at >= b))
                }
                playbook::DoneBy::Role => !inc.roles.is_empty(),
                playbook::DoneBy::ActionItem => !inc.action_items.is_empty(),
                playbook::DoneBy::Change => !inc.changes.is_empty(),
            };
            if done {
                due.push((key, by));
            }
        }
    }
    for ((phase, id), by) in due {
        let Effect::Append(mut d) = step_event(state, phase, &id, true, None) else {
            continue;
        };
        d.msg = format!("{} (ticked itself: {})", d.msg, by.as_str());
        fx.push(Effect::Append(d));
        state.auto_ticked.insert((phase, id));
    }
}

pub(super) fn next_phase(state: &mut State, repeat: bool, fx: &mut Vec<Effect>) {
    let current = state
        .incident
        .as_ref()
        .and_then(|i| i.state.phase)
        .unwrap_or(Phase::Detect);
    let Some(next) = current.next() else {
        state.say("already in the last phase (learn): R resolves");
        return;
    };
    let open = open_required(state, current);
    if !open.is_empty() && !repeat {
        state.pending_override = Some(Override::NextPhase);
        let titles: Vec<String> = open.iter().map(|id| state.step_title(id)).collect();
        state.say(format!(
            "press p again to move on anyway (recorded): {} required step(s) open in {current}: {}",
            open.len(),
            titles.join(" · ")
        ));
        return;
    }
    state.say(format!(
        "now in {next}{}",
        if open.is_empty() {
            String::new()
        } else {
            format!(
                " ({} required step(s) of {current} left open, recorded)",
                open.len()
            )
        }
    ));
    fx.push(Effect::Append(Draft::typed(
        Kind::PhaseEntered,
        &state.actor,
        format!(
            "phase {next}{}",
            if open.is_empty() {
                ""
            } else {
                " (override: required steps open)"
            }
        ),
        &payload::PhaseEntered {
            phase: Some(next),
            forced: !open.is_empty(),
            open_steps: open,
        },
    )));
}

pub(super) fn resolve(state: &mut State, repeat: bool, fx: &mut Vec<Effect>) {
    if let Some(step) = &state.running {
        state.say(format!(
            "not resolved: the command of step “{}” is still running — wait for its end, or quit (which stops it and records how it ended)",
            state.step_title(step)
        ));
        return;
    }
    let quiet_for = state
        .playbook()
        .and_then(|p| p.exit_criteria.as_ref())
        .map_or(std::time::Duration::from_secs(900), |e| e.quiet_for.get());
    let firing: Vec<String> = state
        .targets
        .iter()
        .filter(|t| !t.firing.is_empty())
        .map(|t| t.name.clone())
        .collect();
    let quiet_since = state
        .incident
        .as_ref()
        .and_then(|i| i.state.last_signal_change());
    let quiet = quiet_since.map_or(chrono::Duration::zero(), |t| state.now - t);
    let met = firing.is_empty() && quiet.to_std().unwrap_or_default() >= quiet_for;
    if !met && !repeat {
        state.pending_override = Some(Override::Resolve);
        let why = if firing.is_empty() {
            format!(
                "quiet for {} of the {} the exit criteria ask",
                crate::core::units::format_duration(quiet.to_std().unwrap_or_default()),
                crate::core::units::format_duration(quiet_for)
            )
        } else {
            format!("still firing: {}", firing.join(", "))
        };
        state.say(format!(
            "not resolved: {why} — press R again to resolve anyway (recorded)"
        ));
        return;
    }
    let actor = state.actor.clone();
    let mut resolved = Draft::lifecycle(&actor, Stage::Resolved, state.now);
    resolved.msg = if met {
        "resolved: exit criteria met".to_string()
    } else {
        "resolved (override: exit criteria not met)".to_string()
    };
    resolved.data = payload::to_data(&payload::Lifecycle {
        stage: Some(Stage::Resolved),
        at: Some(state.now),
        forced: Some(!met),
    });
    if let Some(d) = impact::measure(state) {
        fx.push(Effect::Append(d));
    }
    fx.push(Effect::Append(resolved));
    let phase = state.incident.as_ref().and_then(|i| i.state.phase);
    if phase != Some(Phase::Learn) {
        fx.push(Effect::Append(Draft::typed(
            Kind::PhaseEntered,
            &actor,
            "phase learn",
            &payload::PhaseEntered {
                phase: Some(Phase::Learn),
                forced: false,
                open_steps: Vec::new(),
            },
        )));
    }
    let missing: Vec<&str> = state
        .incident
        .as_ref()
        .map(|i| i.state.missing_before_close())
        .unwrap_or_default()
        .into_iter()
        .filter(|m| !m.starts_with("it is not resolved"))
        .collect();
    state.say(if missing.is_empty() {
        "resolved; open for the learn phase: C closes it".to_string()
    } else {
        format!(
            "resolved; open for the learn phase: C closes it (still missing: {})",
            missing.join(", ")
        )
    });
}

/// Closes the incident; asks once when something is still missing (not
/// resolved, no root cause, no action items).
pub(super) fn close(state: &mut State, repeat: bool, fx: &mut Vec<Effect>) {
    if let Some(step) = &state.running {
        state.say(format!(
            "not closed: the command of step “{}” is still running — wait for its end",
            state.step_title(step)
        ));
        return;
    }
    let missing = state
        .incident
        .as_ref()
        .map(|i| i.state.missing_before_close())
        .unwrap_or_default();
    if !missing.is_empty() && !repeat {
        state.pending_override = Some(Override::Close);
        state.say(format!(
            "not closed: {} — press C again to close anyway (recorded)",
            missing.join(", ")
        ));
        return;
    }
    fx.push(Effect::Append(Draft::typed(
        Kind::IncidentClosed,
        &state.actor,
        if missing.is_empty() {
            "closed".to_string()
        } else {
            format!("closed (override: {})", missing.join(", "))
        },
        &payload::Closed {
            forced: Some(!missing.is_empty()),
            missing: Some(missing.iter().map(|m| m.to_string()).collect()),
            stale: None,
        },
    )));
}
