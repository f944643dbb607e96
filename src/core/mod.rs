//! The pure core: plain data and functions, no network, terminal, files or tokio.

pub mod detect;
pub mod exposition;
pub mod metrics;
pub mod redact;
pub mod sample;
pub mod scenario;
pub mod signal;
pub mod units;
pub mod window;
pub mod yaml;
