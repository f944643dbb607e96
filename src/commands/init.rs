//! `ic init`: writes a commented starter `ic.yaml`.

use super::{EXIT_OK, UsageError};
use crate::cli::InitArgs;
use crate::config::CONFIG_FILE_NAME;
use anyhow::Context;

/// The starter config `ic init` writes.
pub const STARTER_CONFIG: &str = include_str!("../../assets/starter-config.yaml");

pub(super) fn run(args: &InitArgs) -> anyhow::Result<u8> {
    let path = args.dir.join(CONFIG_FILE_NAME);
    if path.exists() && !args.force {
        return Err(UsageError(format!(
            "{} already exists; not overwriting it (pass --force to replace it)",
            path.display()
        ))
        .into());
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create directory {}", args.dir.display()))?;
    std::fs::write(&path, STARTER_CONFIG)
        .with_context(|| format!("cannot write {}", path.display()))?;
    out!("wrote {}", path.display());
    out!("next: try it against the demo API with `ic demo --serve --port 8080`,");
    out!(
        "      then point the endpoints at your own API and check it with `ic lint {}`",
        path.display()
    );
    Ok(EXIT_OK)
}
