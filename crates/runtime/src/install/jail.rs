//! The sandbox npm and pip run in when the [`super::Installer`] has one: network on, writable
//! only the package's cache entry and the install's own work folder, a minimal environment.
//!
//! Package managers still need the user's configuration (registry, mirror, proxy, CA bundle,
//! credentials for a private registry), so the jail carries over the variables that configure
//! them and shows their user configuration files read-only. An install script can read those
//! too, as it could outside a sandbox; keep registry credentials there scoped to reading.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Sandbox;
use crate::sandbox::check_not_hidden;

/// Prefixes of variables that configure npm, pip and uv.
const CONFIG_PREFIXES: &[&str] = &["npm_config_", "pip_", "uv_"];
/// Variables that configure networking for every client.
const NETWORK_VARS: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
];
/// Settings that name where a client writes (its cache, prefix, logs): they would point outside
/// the jail's writable folders, so the clients' defaults (inside the jail's HOME) apply instead.
const LOCATION_SETTINGS: &[&str] = &[
    "cache",
    "cache_dir",
    "prefix",
    "global_prefix",
    "local_prefix",
    "tmp",
    "target",
    "root",
    "src",
    "user",
    "log",
    "log_file",
    "logs_dir",
    "build",
    "init_module",
    "userconfig",
    "config_file",
];

/// One install's sandbox.
pub(crate) struct Jail<'a> {
    pub sandbox: &'a Sandbox,
    pub env: BTreeMap<String, String>,
    pub read_only: Vec<PathBuf>,
    pub writable: Vec<PathBuf>,
    /// Bound at `/tmp`.
    pub tmp: PathBuf,
    /// The setting that names a registry, mirror or proxy on the host's loopback, if one does:
    /// then the install runs in the host's network, since the sandbox's own network (see
    /// `sandbox/netstack.rs`) cannot reach the host's loopback.
    pub loopback_config: Option<String>,
}

impl<'a> Jail<'a> {
    /// A jail writing only to `prefix` and `work` (which holds `home/` and `tmp/`), with the
    /// configuration found in Catwalk's own environment.
    pub(crate) fn new(sandbox: &'a Sandbox, prefix: &Path, work: &Path) -> Jail<'a> {
        let host: Vec<(String, String)> = std::env::vars().collect();
        let home = work.join("home");
        let mut jail = Jail {
            sandbox,
            env: BTreeMap::from([
                (
                    "PATH".to_string(),
                    lookup(&host, "PATH")
                        .unwrap_or("/usr/local/bin:/usr/bin:/bin")
                        .to_string(),
                ),
                ("HOME".to_string(), home.to_string_lossy().into_owned()),
                ("LANG".to_string(), "C.UTF-8".to_string()),
            ]),
            read_only: Vec::new(),
            writable: vec![prefix.to_path_buf(), work.to_path_buf()],
            tmp: work.join("tmp"),
            loopback_config: None,
        };
        for (name, value) in &host {
            if carried_over(name) {
                jail.carry(name, value);
            }
        }
        let host_home = lookup(&host, "HOME").map(PathBuf::from);
        let npm_config = lookup(&host, "npm_config_userconfig")
            .or_else(|| lookup(&host, "NPM_CONFIG_USERCONFIG"))
            .map(PathBuf::from)
            .or_else(|| host_home.as_ref().map(|home| home.join(".npmrc")));
        if let Some(file) = npm_config {
            jail.config_file("NPM_CONFIG_USERCONFIG", &file);
        }
        let pip_config = lookup(&host, "PIP_CONFIG_FILE")
            .map(PathBuf::from)
            .or_else(|| {
                let xdg = lookup(&host, "XDG_CONFIG_HOME")
                    .map(PathBuf::from)
                    .or_else(|| host_home.as_ref().map(|home| home.join(".config")));
                [
                    xdg.map(|config| config.join("pip/pip.conf")),
                    host_home.as_ref().map(|home| home.join(".pip/pip.conf")),
                ]
                .into_iter()
                .flatten()
                .find(|file| file.is_file())
            });
        if let Some(file) = pip_config {
            jail.config_file("PIP_CONFIG_FILE", &file);
        }
        jail.loopback_config = jail.find_loopback_config();
        jail
    }

    /// Which of the configuration the install sees names a host on the loopback (a local
    /// mirror or proxy): a carried-over variable, or a configuration file it reads.
    fn find_loopback_config(&self) -> Option<String> {
        for (name, value) in &self.env {
            // Lists of hosts to reach without the proxy name the loopback routinely.
            if name.eq_ignore_ascii_case("no_proxy") || name == "PATH" || name == "HOME" {
                continue;
            }
            if names_loopback(value) {
                return Some(format!("${name}"));
            }
        }
        let files = ["NPM_CONFIG_USERCONFIG", "PIP_CONFIG_FILE"]
            .iter()
            .filter_map(|variable| self.env.get(*variable).map(PathBuf::from))
            .chain(GLOBAL_CONFIG_FILES.iter().map(PathBuf::from));
        for file in files {
            if let Ok(text) = std::fs::read_to_string(&file)
                && text
                    .lines()
                    .filter(|line| !line.to_ascii_lowercase().contains("no_proxy"))
                    .filter(|line| !line.to_ascii_lowercase().contains("no-proxy"))
                    .any(names_loopback)
            {
                return Some(file.display().to_string());
            }
        }
        None
    }

    /// Carries a variable over; a value naming an existing host path is shown read-only, or the
    /// variable is dropped if that path must stay hidden.
    fn carry(&mut self, name: &str, value: &str) {
        let path = Path::new(value);
        if path.is_absolute() && path.exists() {
            if check_not_hidden(path, self.sandbox.hidden()).is_err() {
                return;
            }
            self.read_only.push(path.to_path_buf());
        }
        self.env.insert(name.to_string(), value.to_string());
    }

    fn config_file(&mut self, variable: &str, file: &Path) {
        if file.is_file() && check_not_hidden(file, self.sandbox.hidden()).is_ok() {
            self.read_only.push(file.to_path_buf());
            self.env
                .insert(variable.to_string(), file.to_string_lossy().into_owned());
        }
    }
}

/// System-wide npm and pip configuration the sandbox shows (see `sandbox/binds.rs`).
const GLOBAL_CONFIG_FILES: &[&str] = &["/etc/npmrc", "/etc/pip.conf", "/etc/xdg/pip/pip.conf"];

/// Whether `text` names a loopback host: `localhost`, `127.x.y.z` or `::1`, alone or in a URL
/// (`http://user@127.0.0.1:4873/`, `[::1]:3128`).
pub(crate) fn names_loopback(text: &str) -> bool {
    text.split(|c: char| c.is_whitespace() || matches!(c, '=' | ',' | ';' | '"' | '\''))
        .any(|token| {
            let rest = token.split_once("://").map_or(token, |(_, rest)| rest);
            let authority = rest.split('/').next().unwrap_or_default();
            let host_port = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            let host = match host_port.strip_prefix('[') {
                Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
                None if host_port.parse::<std::net::Ipv6Addr>().is_ok() => host_port,
                None => host_port.split(':').next().unwrap_or_default(),
            };
            let host = host.to_ascii_lowercase();
            host == "localhost"
                || host.ends_with(".localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
}

fn lookup<'v>(vars: &'v [(String, String)], name: &str) -> Option<&'v str> {
    vars.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Whether a variable of Catwalk's environment configures a package manager's downloads.
pub(crate) fn carried_over(name: &str) -> bool {
    if NETWORK_VARS.contains(&name) {
        return true;
    }
    let lower = name.to_ascii_lowercase();
    let Some(setting) = CONFIG_PREFIXES
        .iter()
        .find_map(|prefix| lower.strip_prefix(prefix))
    else {
        return false;
    };
    !LOCATION_SETTINGS.contains(&setting.replace('-', "_").as_str())
}

#[cfg(test)]
mod loopback_tests {
    use super::names_loopback;

    #[test]
    fn registries_and_proxies_on_the_loopback_are_recognised() {
        for text in [
            "registry=http://localhost:4873/",
            "http://user:secret@127.0.0.1:3128",
            "index-url = http://[::1]:3141/root/pypi/+simple/",
            "127.0.0.1:8080",
            "https://mirror.localhost/simple",
        ] {
            assert!(names_loopback(text), "{text}");
        }
        for text in [
            "registry=http://10.0.0.5:4873/",
            "https://localhost-mirror.example/simple",
            "/opt/wheels",
            "cert = /etc/ssl/certs/ca-certificates.crt",
            "http://user@proxy.example:3128",
        ] {
            assert!(!names_loopback(text), "{text}");
        }
    }
}
