//! The full-screen view's entry point: bare `ic` (the configured sources) and
//! `ic demo` in a terminal (the embedded demo API), both through `tui::run`.

use super::setup::{Engine, Setup};

/// Runs the view over `setup` until the responder quits; exit 1 when events
/// could not be written (the record is incomplete).
pub(super) async fn run(setup: Setup) -> anyhow::Result<u8> {
    let Engine {
        mut state,
        feeds,
        notify,
        secrets,
        env,
    } = setup.engine();
    state.interactive = true;
    let unsaved = crate::tui::run(crate::tui::Options {
        feeds,
        state,
        notify,
        secrets,
        command_env: env,
    })
    .await?;
    Ok(if unsaved > 0 {
        super::EXIT_FINDINGS
    } else {
        super::EXIT_OK
    })
}
