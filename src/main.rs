//! The `ic` binary: parses the command line, runs the command, maps errors to exit codes.

use clap::Parser;
use incident_commander::{cli::Cli, commands, logging};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    incident_commander::tui::mark_start();
    // Anchors the process clock: wall time now, boot time from here on.
    incident_commander::clock::now();
    // A file-size limit must surface as an error (EFBIG) we can report and retry,
    // not kill the process mid-incident.
    // SAFETY: setting a signal's disposition to SIG_IGN before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = Cli::parse();
    incident_commander::source::tls::install_default_provider();
    logging::init(cli.log_file.as_deref());
    match commands::run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(commands::exit_code(&err))
        }
    }
}
