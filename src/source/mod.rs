//! I/O that produces observations: HTTP probes and their scheduler.

pub mod alertmanager;
pub mod probe;
pub mod prometheus;
pub mod schedule;
pub mod scrape;
pub mod tls;
