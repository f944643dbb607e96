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
    // Buffers of 1 MiB and more (exposition bodies up to 20 MiB, their parse
    // tables, probe bodies at the cap) come from mmap and go back to the system
    // when freed. glibc's default raises that threshold after the first large
    // free, and each thread's arena then keeps what it freed: against hostile
    // `/metrics` targets peak memory crept from ~85 MB to 150 MB in 12 s.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator setting and is thread-safe (it
    // takes glibc's arena locks); it touches no memory of ours.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
    let cli = Cli::parse();
    incident_commander::source::tls::install_default_provider();
    logging::init(cli.log_file.as_deref());
    match commands::run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {}", commands::error_text(&err));
            ExitCode::from(commands::exit_code(&err))
        }
    }
}
