//! The pure core: plain data and functions, no network, terminal, files or tokio.

pub mod sample;
pub mod scenario;
pub mod window;
pub mod units;
pub mod yaml;
