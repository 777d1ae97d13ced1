//! Live introspection: a server is installed, started once in the sandbox with placeholder
//! values, asked for its tools, prompts and resources, and stopped, so that a user sees what it
//! offers before deploying it. Its folder is a throwaway one, removed afterwards.
//!
//! Placeholders stand in for what only the user can give: required variables and required
//! argument fields without a default. Optional ones stay unset, as they would be in a deployment
//! that leaves them out. A server that exits or refuses a list while placeholders are in use
//! most likely checks its credentials: it is reported as `needs_credentials`, and its deployment
//! lists its tools again with the real values (`Deployments::tools_of`).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use catwalk_analyze::{
    Introspection, IntrospectionStatus, PromptInfo, ResourceInfo, ServerSpec, ToolInfo,
};
use catwalk_bridge::{BridgeError, Upstream};
use catwalk_runtime::{Installer, LogSink};
use serde_json::Value;

use crate::deployments::STOP_GRACE;
use crate::isolation::Isolation;
use crate::options::DeploymentOptions;
use crate::process::{self, Launch};

/// How long starting the server and listing everything may take together (the install before
/// it has its own limits).
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);
/// Pages of one list followed at most (`nextCursor`); a server that pages forever stops here.
const MAX_PAGES: usize = 20;
/// Items of one list kept at most.
const MAX_ITEMS: usize = 1000;
/// Descriptions longer than this are cut (some servers put manuals in them).
const MAX_DESCRIPTION: usize = 2000;
/// The server's last stderr lines kept for the report.
const STDERR_LINES: usize = 20;
/// What a value nothing else is known about is set to.
pub(crate) const PLACEHOLDER: &str = "catwalk-placeholder";
/// A host that never resolves (`.invalid` is reserved for that), for URL-like values.
const PLACEHOLDER_HOST: &str = "catwalk-placeholder.invalid";

/// Installs, starts, lists and stops `spec`'s server; `scratch` holds its throwaway folder.
pub(crate) async fn run(
    installer: &Installer,
    isolation: &Arc<Isolation>,
    scratch: &Path,
    spec: &ServerSpec,
) -> Introspection {
    let began = Instant::now();
    let folder = Scratch(scratch.join(uuid::Uuid::new_v4().simple().to_string()));
    let (home, data) = (folder.0.join("home"), folder.0.join("data"));
    let values = Placeholders::for_spec(spec, &data);
    let mut report = Introspection {
        status: IntrospectionStatus::Failed,
        tools: Vec::new(),
        prompts: Vec::new(),
        resources: Vec::new(),
        server_info: None,
        protocol_version: None,
        message: None,
        stderr: Vec::new(),
        placeholders: values.names.clone(),
        duration_ms: 0,
    };
    let stderr = Arc::new(RecentStderr::default());
    let outcome = start_and_list(installer, isolation, spec, values, (home, data), &stderr).await;
    let placeholders_in_use = !report.placeholders.is_empty();
    match outcome {
        Ok(listed) => {
            report.status = IntrospectionStatus::Ok;
            listed.fill(&mut report);
        }
        Err(Failure::Failed(message)) => report.message = Some(message),
        Err(Failure::Refused(message, listed)) => {
            report.message = Some(if placeholders_in_use {
                report.status = IntrospectionStatus::NeedsCredentials;
                format!(
                    "{message}, with placeholder values for {}: it needs real values, and is \
                     listed again with them once deployed",
                    report.placeholders.join(", ")
                )
            } else {
                message
            });
            listed.fill(&mut report);
        }
    }
    report.stderr = stderr.lines();
    drop(folder);
    report.duration_ms = began.elapsed().as_millis().try_into().unwrap_or(u64::MAX);
    report
}

/// What was listed before the end, good or bad.
#[derive(Default)]
struct Listed {
    tools: Vec<ToolInfo>,
    prompts: Vec<PromptInfo>,
    resources: Vec<ResourceInfo>,
    server_info: Option<Value>,
    protocol_version: Option<String>,
}

impl Listed {
    fn fill(self, report: &mut Introspection) {
        report.tools = self.tools;
        report.prompts = self.prompts;
        report.resources = self.resources;
        report.server_info = self.server_info;
        report.protocol_version = self.protocol_version;
    }
}

enum Failure {
    /// It could not be installed or started, or took too long: why.
    Failed(String),
    /// The server exited or answered with an error: what happened, and what it listed before.
    Refused(String, Listed),
}

async fn start_and_list(
    installer: &Installer,
    isolation: &Arc<Isolation>,
    spec: &ServerSpec,
    values: Placeholders,
    folders: (PathBuf, PathBuf),
    stderr: &Arc<RecentStderr>,
) -> Result<Listed, Failure> {
    let installed = installer
        .install(&process::package_of(spec), &|line| {
            tracing::debug!(source = spec.source, "{line}")
        })
        .await
        .map_err(|e| Failure::Failed(format!("it could not be installed: {e}")))?;
    let args = spec
        .command_args(&values.args)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let launch = Launch::new(
        installed,
        args,
        values.env,
        folders,
        &DeploymentOptions::default(),
        isolation.clone(),
    )
    .map_err(Failure::Failed)?;
    let (instance, _exit, stdout) = process::spawn(&launch, stderr)
        .await
        .map_err(|e| Failure::Failed(format!("it could not be started: {e}")))?;

    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut listed = Listed::default();
    let talk = async {
        let (upstream, info) = Upstream::start(process::input(&instance), stdout, DEADLINE).await?;
        let result: Value = serde_json::from_str(info.result.get()).unwrap_or_default();
        listed.protocol_version = Some(info.protocol_version);
        listed.server_info = result.get("serverInfo").cloned();
        let declared = |capability: &str| result["capabilities"].get(capability).is_some();
        let lists = async {
            if declared("tools") {
                listed.tools = list_tools(&upstream, DEADLINE).await?;
            }
            if declared("prompts") {
                listed.prompts = list_all(&upstream, "prompts/list", "prompts", DEADLINE)
                    .await?
                    .iter()
                    .filter_map(named)
                    .map(|(name, description)| PromptInfo { name, description })
                    .collect();
            }
            if declared("resources") {
                listed.resources = list_all(&upstream, "resources/list", "resources", DEADLINE)
                    .await?
                    .iter()
                    .filter_map(resource)
                    .collect();
            }
            Ok::<_, BridgeError>(())
        };
        let listing = lists.await;
        upstream.close("the introspection is over");
        listing
    };
    let talked = tokio::time::timeout_at(deadline, talk).await;
    let ended = instance.stop(STOP_GRACE).await;
    stderr.settle().await;
    match talked {
        Ok(Ok(())) => Ok(listed),
        Err(_) => Err(Failure::Failed(format!(
            "it did not start and list everything within {} s",
            DEADLINE.as_secs()
        ))),
        Ok(Err(BridgeError::Timeout { method, seconds })) => Err(Failure::Failed(format!(
            "it did not answer {method} within {seconds} s"
        ))),
        Ok(Err(BridgeError::Exited(_))) => Err(Failure::Refused(
            format!("the process {ended} before it answered"),
            listed,
        )),
        Ok(Err(BridgeError::Rejected { method, message })) => Err(Failure::Refused(
            format!("it answered {method} with an error ({message})"),
            listed,
        )),
    }
}

/// Every tool the server lists (following its pages), each call within `timeout`.
pub(crate) async fn list_tools(
    upstream: &Upstream,
    timeout: Duration,
) -> Result<Vec<ToolInfo>, BridgeError> {
    Ok(list_all(upstream, "tools/list", "tools", timeout)
        .await?
        .iter()
        .filter_map(named)
        .map(|(name, description)| ToolInfo { name, description })
        .collect())
}

/// The items of a paginated list, following `nextCursor` for at most [`MAX_PAGES`] pages and
/// [`MAX_ITEMS`] items.
async fn list_all(
    upstream: &Upstream,
    method: &str,
    field: &str,
    timeout: Duration,
) -> Result<Vec<Value>, BridgeError> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = cursor
            .take()
            .map(|cursor| catwalk_protocol::raw(&serde_json::json!({ "cursor": cursor })));
        let answer = upstream.call(method, params, timeout).await?;
        items.extend(answer.result_field::<Vec<Value>>(field).unwrap_or_default());
        cursor = answer
            .result_field::<String>("nextCursor")
            .filter(|c| !c.is_empty());
        if cursor.is_none() || items.len() >= MAX_ITEMS {
            break;
        }
    }
    items.truncate(MAX_ITEMS);
    Ok(items)
}

/// `(name, description)` of a tool or prompt.
fn named(item: &Value) -> Option<(String, String)> {
    let name = item.get("name")?.as_str()?.to_string();
    Some((name, description(item)))
}

fn resource(item: &Value) -> Option<ResourceInfo> {
    Some(ResourceInfo {
        uri: item.get("uri")?.as_str()?.to_string(),
        name: item
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    })
}

fn description(item: &Value) -> String {
    let text = item
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match text.char_indices().nth(MAX_DESCRIPTION) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// The values a server is started with for its introspection.
struct Placeholders {
    env: BTreeMap<String, String>,
    args: BTreeMap<String, Vec<String>>,
    /// The variables and argument fields given a made-up value.
    names: Vec<String>,
}

impl Placeholders {
    /// Required variables get their default or a placeholder; required argument fields without
    /// a default get a placeholder (`command_args` applies defaults itself).
    fn for_spec(spec: &ServerSpec, data: &Path) -> Placeholders {
        let mut values = Placeholders {
            env: BTreeMap::new(),
            args: BTreeMap::new(),
            names: Vec::new(),
        };
        for var in spec.env.iter().filter(|var| var.required) {
            let value = match &var.default {
                Some(default) => default.clone(),
                None => {
                    values.names.push(var.name.clone());
                    placeholder(&var.name, var.format.as_deref(), &var.choices, data)
                }
            };
            values.env.insert(var.name.clone(), value);
        }
        for field in spec
            .args
            .iter()
            .filter(|field| field.required && field.default.is_none())
        {
            values.names.push(field.name.clone());
            let value = placeholder(&field.name, field.format.as_deref(), &field.choices, data);
            values.args.insert(field.name.clone(), vec![value]);
        }
        values
    }
}

/// A value of the form a variable or argument probably wants: one of its choices, a number, a
/// URL or host that cannot resolve, the server's own data folder for paths, else
/// [`PLACEHOLDER`].
fn placeholder(name: &str, format: Option<&str>, choices: &[String], data: &Path) -> String {
    if let Some(first) = choices.first() {
        return first.clone();
    }
    let folder = || data.display().to_string();
    match format {
        Some("number") => return "1".into(),
        Some("boolean") => return "false".into(),
        Some("filepath") => return folder(),
        _ => {}
    }
    let upper = name.to_ascii_uppercase().replace('-', "_");
    let ends = |suffixes: &[&str]| suffixes.iter().any(|s| upper.ends_with(s));
    if ends(&["URL", "URI", "ENDPOINT"]) {
        format!("https://{PLACEHOLDER_HOST}/")
    } else if ends(&["HOST", "HOSTNAME", "DOMAIN"]) {
        PLACEHOLDER_HOST.into()
    } else if ends(&["PORT"]) {
        "8080".into()
    } else if upper.contains("EMAIL") {
        format!("placeholder@{PLACEHOLDER_HOST}")
    } else if ends(&[
        "DIR",
        "DIRS",
        "DIRECTORY",
        "DIRECTORIES",
        "FOLDER",
        "PATH",
        "ROOT",
    ]) {
        folder()
    } else {
        PLACEHOLDER.into()
    }
}

/// The server's last stderr lines. Only placeholders are in its environment, so nothing secret
/// can be among them.
#[derive(Default)]
struct RecentStderr(Mutex<VecDeque<String>>);

impl RecentStderr {
    fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Waits (briefly) until the process's stderr has been read to its end: the reader lets go
    /// of its handle on this sink then.
    async fn settle(self: &Arc<Self>) {
        let until = Instant::now() + Duration::from_secs(2);
        while Arc::strong_count(self) > 1 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl LogSink for RecentStderr {
    fn line(&self, stream: &str, line: &str) {
        if stream != "stderr" {
            return;
        }
        let mut recent = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == STDERR_LINES {
            recent.pop_front();
        }
        recent.push_back(line.to_string());
    }
}

/// A throwaway folder, removed when dropped (also when the request that asked is abandoned).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.0.exists()
            && let Err(error) = std::fs::remove_dir_all(&self.0)
        {
            tracing::warn!(%error, "cannot remove {}", self.0.display());
        }
    }
}

/// Removes what introspections left behind when an earlier Catwalk was killed mid-way.
pub(crate) fn clear_scratch(scratch: &Path) {
    if scratch.exists()
        && let Err(error) = std::fs::remove_dir_all(scratch)
    {
        tracing::warn!(%error, "cannot remove {}", scratch.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_the_form_the_name_or_format_asks_for() {
        let data = Path::new("/srv/data");
        let p = |name: &str, format: Option<&str>| placeholder(name, format, &[], data);
        assert_eq!(p("API_KEY", None), PLACEHOLDER);
        assert_eq!(p("BASE_URL", None), "https://catwalk-placeholder.invalid/");
        assert_eq!(p("DB_HOST", None), "catwalk-placeholder.invalid");
        assert_eq!(p("PORT", None), "8080");
        assert_eq!(p("LIMIT", Some("number")), "1");
        assert_eq!(p("allowed-directory", None), "/srv/data");
        assert_eq!(p("CONFIG", Some("filepath")), "/srv/data");
        assert_eq!(
            placeholder("MODE", None, &["fast".into(), "slow".into()], data),
            "fast"
        );
    }

    #[test]
    fn descriptions_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_DESCRIPTION + 5);
        let cut = description(&serde_json::json!({ "description": long }));
        assert_eq!(cut.chars().count(), MAX_DESCRIPTION + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(description(&serde_json::json!({})), "");
    }
}
