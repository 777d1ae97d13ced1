//! `catwalk serve`: runs the server in this process until it stops.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::error::{CliError, ExitStatus};
use crate::settings::ServeSettings;

pub async fn run(settings: ServeSettings) -> Result<ExitStatus, CliError> {
    init_tracing();
    tracing::info!(
        listen = %settings.listen,
        data_dir = %settings.data_dir.display(),
        "starting catwalk"
    );
    match catwalk_server::serve(settings.into_config()).await {
        Ok(()) => Ok(ExitStatus::Success),
        // `{:#}` prints the whole anyhow chain on one line: "cannot bind ...: Address in use".
        Err(error) => Err(CliError::Failed(format!("{error:#}"))),
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`). Only `serve` logs: the client
/// commands keep stderr for their own progress lines.
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}
