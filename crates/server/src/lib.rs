//! catwalk-server: the REST API, the dashboard, and the wiring of every part.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Resolved settings for `catwalk serve`.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `None`: SQLite at `<data_dir>/catwalk.db`.
    pub database_url: Option<String>,
    /// The base URL clients reach Catwalk at; `None`: `http://<listen>`.
    pub public_url: Option<String>,
}

/// The file in the data directory that holds the admin token for the local CLI.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let _ = config;
    todo!()
}
