//! The pure core: plain data and functions, no network, terminal, files or tokio.

pub mod scenario;
pub mod units;
pub mod yaml;
