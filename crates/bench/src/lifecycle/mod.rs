//! `catwalk-bench lifecycle`: what starting, sleeping and holding many deployments costs, measured
//! in one run: cold start and wake-up against a raw pipe, Catwalk's memory per running and per
//! sleeping deployment, and the API's latency with thousands of deployments. See BENCHMARKS.md.

mod cold;
mod fleet;
mod memory;
mod replay;
pub mod report;
mod scale;
pub(crate) mod serve;
mod stats;

#[cfg(test)]
mod tests;

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::prepare;

pub use report::LifecycleReport;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    /// Start (wake-up, cold start) of cached server-everything and tiny-server, against a raw pipe
    Cold,
    /// Catwalk's RSS with no deployment, K running and K sleeping ones
    Memory,
    /// The API's latency with S sleeping and R running deployments
    Scale,
}

/// Measures deployment lifecycles: cold start and wake-up of a cached server against a raw pipe,
/// Catwalk's memory per running and per sleeping deployment, and the API's latency with many
/// deployments. Needs bubblewrap (servers run sandboxed), node and npm.
#[derive(Debug, Args)]
pub struct LifecycleArgs {
    /// Parts to run, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "cold,memory,scale")]
    pub parts: Vec<Part>,

    /// Measured rounds of the cold start part (plus one unrecorded warm-up round)
    #[arg(long, default_value_t = 10)]
    pub rounds: usize,

    /// K: running deployments, and then sleeping ones, in the memory part
    #[arg(long, value_name = "K", default_value_t = 100)]
    pub memory_deployments: usize,

    /// S: sleeping deployments in the scale part (the target: 2000)
    #[arg(long, value_name = "S", default_value_t = 500)]
    pub scale_sleeping: usize,

    /// R: running deployments in the scale part (the target: 200)
    #[arg(long, value_name = "R", default_value_t = 50)]
    pub scale_running: usize,

    /// Requests to each API route in the scale part
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub api_requests: usize,

    /// Stop adding running deployments when the machine's MemAvailable falls below this
    #[arg(long, value_name = "MB", default_value_t = 4096)]
    pub min_available_mb: u64,
}

pub async fn run(args: &LifecycleArgs, build: bool) -> Result<LifecycleReport> {
    anyhow::ensure!(!args.parts.is_empty(), "--parts needs at least one part");
    anyhow::ensure!(args.rounds > 0, "--rounds must be at least 1");
    let wants = |part| args.parts.contains(&part);
    anyhow::ensure!(
        !wants(Part::Memory) || args.memory_deployments > 0,
        "--memory-deployments must be at least 1"
    );
    anyhow::ensure!(
        !wants(Part::Scale) || args.scale_sleeping + args.scale_running > 0,
        "--scale-sleeping and --scale-running cannot both be 0"
    );
    anyhow::ensure!(
        !wants(Part::Scale) || args.api_requests > 0,
        "--api-requests must be at least 1"
    );
    let versions = crate::versions().await;
    let target_dir = crate::target_dir();
    let needs = prepare::Needs {
        // The raw pipe runs the copy Catwalk installed, with Catwalk's own command line.
        everything: false,
        supergateway: false,
        mcp_proxy: false,
        catwalk: true,
        build_catwalk: build,
    };
    let tools =
        tokio::task::spawn_blocking(move || prepare::prepare(&target_dir, &needs)).await??;

    let began = std::time::Instant::now();
    let mut loads = vec![report::Load::now("start", began)];
    let cold = match wants(Part::Cold) {
        true => {
            let cold = cold::measure(&tools, args.rounds).await?;
            loads.push(report::Load::now("after cold start", began));
            Some(cold)
        }
        false => None,
    };
    let memory = match wants(Part::Memory) {
        true => {
            let memory = memory::measure(&tools, args.memory_deployments).await?;
            loads.push(report::Load::now("after memory", began));
            Some(memory)
        }
        false => None,
    };
    let scale = match wants(Part::Scale) {
        true => {
            let sizes = scale::Sizes {
                sleeping: args.scale_sleeping,
                running: args.scale_running,
                requests: args.api_requests,
                min_available_mb: args.min_available_mb,
            };
            let scale = scale::measure(&tools, sizes).await?;
            loads.push(report::Load::now("after scale", began));
            Some(scale)
        }
        false => None,
    };
    let goals = report::goals(cold.as_ref(), memory.as_ref(), scale.as_ref());
    Ok(LifecycleReport {
        machine: crate::machine(),
        versions,
        bwrap: bwrap_version().await,
        loads,
        cold,
        memory,
        scale,
        goals,
    })
}

async fn bwrap_version() -> String {
    match tokio::process::Command::new("bwrap")
        .arg("--version")
        .output()
        .await
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        _ => "unknown".to_string(),
    }
}
