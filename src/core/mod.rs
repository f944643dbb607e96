//! The pure core: plain data and functions, no network, terminal, files or tokio.

pub mod actions;
pub mod chart;
pub mod command;
pub mod detect;
pub mod drill;
pub mod event;
pub mod exposition;
pub mod grammar;
pub mod incident;
pub mod metrics;
pub mod page;
pub mod payload;
pub mod playbook;
pub mod postmortem;
pub mod redact;
pub mod report;
pub mod sample;
pub mod scenario;
pub mod signal;
pub mod silence;
pub mod team;
pub mod text;
pub mod units;
pub mod verify;
pub mod window;
pub mod yaml;
