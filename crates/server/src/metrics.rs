//! Prometheus metrics at `/metrics` (admin token required): deployments by status, process
//! starts and restarts with start latency, and MCP requests with their latency, per deployment.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeploymentLabel {
    pub deployment: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HeldLabel {
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabel {
    pub deployment: String,
    /// `2xx`, `4xx`, `5xx`…
    pub code: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    deployments: Family<StatusLabel, Gauge>,
    held: Family<HeldLabel, Gauge>,
    starts: Family<DeploymentLabel, Counter>,
    restarts: Family<DeploymentLabel, Counter>,
    start_seconds: Histograms<DeploymentLabel>,
    requests: Family<RequestLabel, Counter>,
    request_seconds: Histograms<DeploymentLabel>,
    /// Serializes scrapes, which rewrite the status gauges.
    scrape: Mutex<()>,
}

fn start_buckets() -> Histogram {
    // 10 ms to about 80 s.
    Histogram::new(exponential_buckets(0.01, 2.0, 14))
}

fn request_buckets() -> Histogram {
    // 0.1 ms to about 100 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 20))
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("catwalk");
        let deployments = Family::<StatusLabel, Gauge>::default();
        let held = Family::<HeldLabel, Gauge>::default();
        let starts = Family::<DeploymentLabel, Counter>::default();
        let restarts = Family::<DeploymentLabel, Counter>::default();
        let start_seconds: Histograms<DeploymentLabel> =
            Family::new_with_constructor(start_buckets);
        let requests = Family::<RequestLabel, Counter>::default();
        let request_seconds: Histograms<DeploymentLabel> =
            Family::new_with_constructor(request_buckets);
        registry.register(
            "deployments",
            "Deployments by status (running, sleeping, restarting, failed, ...)",
            deployments.clone(),
        );
        registry.register(
            "deployments_held",
            "Deployments in Catwalk's memory by what it holds for them: a launch, a supervised \
             server (running or lightly asleep, with client sessions), or, in deep sleep, an \
             entry and nothing else",
            held.clone(),
        );
        registry.register(
            "process_starts",
            "Server processes started (first start, wake-up or restart)",
            starts.clone(),
        );
        registry.register(
            "process_restarts",
            "Restarts after a crash, a failed health check or a limit",
            restarts.clone(),
        );
        registry.register(
            "process_start_seconds",
            "From spawning a server process to its completed MCP handshake",
            start_seconds.clone(),
        );
        registry.register(
            "mcp_requests",
            "HTTP requests to a deployment's MCP endpoints, by status class",
            requests.clone(),
        );
        registry.register(
            "mcp_request_seconds",
            "Time to the response head of an MCP request (for SSE: to the stream's start)",
            request_seconds.clone(),
        );
        Metrics {
            registry,
            deployments,
            held,
            starts,
            restarts,
            start_seconds,
            requests,
            request_seconds,
            scrape: Mutex::new(()),
        }
    }
}

impl Metrics {
    pub fn started(&self, deployment: &str, took: Duration) {
        let label = DeploymentLabel {
            deployment: deployment.to_string(),
        };
        self.starts.get_or_create(&label).inc();
        self.start_seconds
            .get_or_create(&label)
            .observe(took.as_secs_f64());
    }

    pub fn restarted(&self, deployment: &str) {
        let label = DeploymentLabel {
            deployment: deployment.to_string(),
        };
        self.restarts.get_or_create(&label).inc();
    }

    /// Drops a removed deployment's series.
    pub fn forget(&self, deployment: &str) {
        let label = DeploymentLabel {
            deployment: deployment.to_string(),
        };
        self.starts.remove(&label);
        self.restarts.remove(&label);
        self.start_seconds.remove(&label);
        self.request_seconds.remove(&label);
        for code in ["1xx", "2xx", "3xx", "4xx", "5xx"] {
            self.requests.remove(&RequestLabel {
                deployment: deployment.to_string(),
                code: code.to_string(),
            });
        }
    }

    /// The text exposition, with the status gauges set from `statuses` and the held gauges
    /// from `held`.
    pub fn render(
        &self,
        statuses: impl IntoIterator<Item = String>,
        held: impl IntoIterator<Item = &'static str>,
    ) -> String {
        let _scrape = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        self.deployments.clear();
        for (status, count) in count(statuses) {
            self.deployments
                .get_or_create(&StatusLabel { status })
                .set(count);
        }
        self.held.clear();
        for (state, count) in count(held) {
            self.held.get_or_create(&HeldLabel { state }).set(count);
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

fn count<T: Ord>(items: impl IntoIterator<Item = T>) -> BTreeMap<T, i64> {
    let mut counts = BTreeMap::new();
    for item in items {
        *counts.entry(item).or_default() += 1;
    }
    counts
}

/// Counts and times requests to `/s/{deployment}/…`.
pub async fn track(
    State(metrics): State<std::sync::Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let deployment = request
        .uri()
        .path()
        .strip_prefix("/s/")
        .and_then(|rest| rest.split('/').next())
        .map(str::to_string);
    let began = Instant::now();
    let response = next.run(request).await;
    if let Some(deployment) = deployment {
        let code = format!("{}xx", response.status().as_u16() / 100);
        metrics
            .requests
            .get_or_create(&RequestLabel {
                deployment: deployment.clone(),
                code,
            })
            .inc();
        metrics
            .request_seconds
            .get_or_create(&DeploymentLabel { deployment })
            .observe(began.elapsed().as_secs_f64());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_recorded() {
        let metrics = Metrics::default();
        metrics.started("demo", Duration::from_millis(120));
        metrics.restarted("demo");
        let text = metrics.render(
            ["running".to_string(), "running".into(), "sleeping".into()],
            ["supervised", "asleep", "asleep"],
        );
        assert!(
            text.contains(r#"catwalk_deployments{status="running"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"catwalk_deployments{status="sleeping"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"catwalk_deployments_held{state="asleep"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"catwalk_process_starts_total{deployment="demo"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"catwalk_process_restarts_total{deployment="demo"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"catwalk_process_start_seconds_count{deployment="demo"} 1"#));
        // A status with no deployment left is not reported as a stale count.
        let text = metrics.render(["running".to_string()], ["supervised"]);
        assert!(!text.contains(r#"status="sleeping""#), "{text}");
        assert!(!text.contains(r#"state="asleep""#), "{text}");
        metrics.forget("demo");
        assert!(!metrics.render([], []).contains("demo"));
    }
}
