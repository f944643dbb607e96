//! incident-commander (`ic`): a terminal incident commander for API teams.
//!
//! The binary is a thin shell over this library; the module map is in the README's
//! "Architecture" section.

pub mod app;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod core;
pub mod demo;
pub mod files;
pub mod journal;
pub mod logging;
pub mod notify;
pub mod paths;
pub mod responder;
pub mod runner;
pub mod runtime;
pub mod signals;
pub mod sim;
pub mod source;
pub mod team;
pub mod tui;
