//! Platform directories (config, data, logs) from the `directories` crate.

use std::path::PathBuf;

fn project() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "incident-commander")
}

/// Where `ic.yaml` lives when it is not in the current directory.
pub fn config_dir() -> Option<PathBuf> {
    project().map(|p| p.config_dir().to_path_buf())
}

/// Where timelines go by default.
pub fn data_dir() -> Option<PathBuf> {
    project().map(|p| p.data_dir().to_path_buf())
}

/// Where the log file goes.
pub fn log_dir() -> Option<PathBuf> {
    project().map(|p| p.data_local_dir().join("logs"))
}
