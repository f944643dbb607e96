//! A step's command on its way to running: the plan the engine hands the
//! view to confirm (everything the confirmation shows), and the request the
//! runtime records and runs once a person has confirmed it.

use crate::core::command::{Command, Values};
use crate::core::event::{Draft, Phase};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// A step's command waiting for confirmation: what it is, with which values,
/// for which target and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    /// The step it belongs to.
    pub step: String,
    /// The step's title, as the dialog names it.
    pub title: String,
    /// Its phase.
    pub phase: Phase,
    /// The rendered command.
    pub command: Command,
    /// The placeholders' values.
    pub values: Values,
    /// The target `{target}` stands for, and why (`the signal that opened the incident`).
    pub target: Option<(String, String)>,
    /// How long it may run.
    pub timeout: Duration,
}

/// A confirmed command, for the runtime to record and run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRequest {
    /// The step it belongs to.
    pub step: String,
    /// Its phase.
    pub phase: Phase,
    /// The exact text handed to `sh -c`.
    pub command: String,
    /// The placeholders' variables (all of them).
    pub env: Vec<(String, String)>,
    /// How long it may run.
    pub timeout: Duration,
    /// Who confirmed it.
    pub confirmed_by: String,
    /// When.
    pub confirmed_at: DateTime<Utc>,
    /// The `command_started` event, written before the command starts.
    pub started: Draft,
}
