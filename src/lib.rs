//! incident-commander (`ic`): a terminal incident commander for API teams.
//!
//! The binary is a thin shell over this library; see `DESIGN.md` for the module map.

pub mod cli;
pub mod commands;
pub mod config;
pub mod core;
pub mod demo;
pub mod logging;
pub mod notify;
pub mod paths;
pub mod runner;
pub mod signals;
pub mod sim;
pub mod source;
