//! The one error type of the runtime crate.

use std::path::PathBuf;

/// Everything that can go wrong while installing or starting a server.
///
/// Messages never contain environment values: a spawn failure names the program, not its env.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The package could not be installed; `message` carries the installer's last output lines
    /// (for example npm's `E404` line for an unknown package).
    #[error("could not install {package}: {message}")]
    Install { package: String, message: String },
    /// The operating system refused to start the program.
    #[error("could not start {}: {source}", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
