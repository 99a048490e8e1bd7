//! `gavel-bench`: Gavel's benchmark suite on the local stack.
//!
//! It starts Gavel's roles as real processes (the release build of `gavel` next to this binary)
//! on a database, topics and read models of their own, measures command throughput against
//! pgbench's ceiling (and again with the API alone, to show what the pipeline beside the commands
//! costs them), latency against stream length, a hot auction, freshness at fixed loads,
//! rebuild speed, search and each role's peak memory, then writes the results as JSON, SVG charts
//! and `docs/benchmarks.md`. `docs/benchmarks.md` says how to run it.

mod cpu;
mod deployment;
mod measure;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use gavel_config::Settings;
use serde::Serialize;

use deployment::{gavel_binary, Deployment};
use scenarios::{freshness, hot_auction, rebuild, search, stream_length, throughput};

/// How much to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Suite {
    /// Every measurement at the sizes the targets name (about 15 minutes).
    Full,
    /// Every measurement, smaller and shorter (under 5 minutes), for development.
    Quick,
    /// The smallest case of each, in seconds: checks that the suite runs.
    Smoke,
}

/// Measures Gavel on the local stack and writes the results.
#[derive(Debug, Parser)]
#[command(name = "gavel-bench", version, about)]
struct Cli {
    /// Which suite to run.
    #[arg(long, value_enum, default_value_t = Suite::Quick)]
    suite: Suite,
    /// Where the JSON results and the charts go.
    #[arg(long, default_value = "docs/benchmarks")]
    out: PathBuf,
    /// The report to write; none when omitted.
    #[arg(long)]
    report: Option<PathBuf>,
}

/// The sizes and durations of one suite.
struct Plan {
    levels: Vec<usize>,
    auctions: usize,
    run: Duration,
    stream_lengths: Vec<usize>,
    stream_samples: u64,
    hot_clients: usize,
    rates: Vec<f64>,
    rebuild_sizes: Vec<u64>,
    search_sizes: Vec<u64>,
}

impl Plan {
    fn for_suite(suite: Suite) -> Self {
        match suite {
            Suite::Full => Self {
                levels: vec![1, 8, 32, 64],
                auctions: 512,
                run: Duration::from_secs(15),
                stream_lengths: vec![0, 100, 1_000, 2_000],
                stream_samples: 1_000,
                hot_clients: 64,
                rates: vec![100.0, 250.0, 500.0, 1_000.0],
                rebuild_sizes: vec![100_000, 1_000_000],
                search_sizes: vec![10_000, 100_000],
            },
            Suite::Quick => Self {
                levels: vec![1, 8, 32, 64],
                auctions: 256,
                run: Duration::from_secs(5),
                stream_lengths: vec![0, 100, 1_000, 2_000],
                stream_samples: 300,
                hot_clients: 64,
                rates: vec![100.0, 250.0, 500.0, 1_000.0],
                rebuild_sizes: vec![100_000],
                search_sizes: vec![10_000],
            },
            Suite::Smoke => Self {
                levels: vec![1],
                auctions: 4,
                run: Duration::from_secs(1),
                stream_lengths: vec![0, 10],
                stream_samples: 10,
                hot_clients: 4,
                rates: vec![20.0],
                rebuild_sizes: vec![200],
                search_sizes: vec![200],
            },
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Serialize)]
pub struct Results {
    suite: Suite,
    /// When the run started (RFC 3339).
    started_at: String,
    /// The machine it ran on.
    machine: report::Machine,
    throughput: Vec<throughput::Level>,
    /// The same bids with only the API running, level by level.
    command_path: Vec<throughput::CommandPathLevel>,
    /// How fast the projector applied the backlog the throughput runs left.
    projector_catch_up: report::CatchUp,
    /// Where the processor time went while the projector caught up.
    projector_catch_up_cpu: cpu::CpuUse,
    stream_length: Vec<stream_length::Point>,
    hot_auction: hot_auction::HotAuction,
    /// Where the processor time went during the hot auction.
    hot_auction_cpu: cpu::CpuUse,
    freshness: Vec<freshness::Load>,
    /// Where the processor time went during the freshness runs.
    freshness_cpu: cpu::CpuUse,
    rebuild: Vec<rebuild::Rebuild>,
    search: Vec<search::Search>,
    /// Peak resident memory of each role over the command runs, in MiB.
    peak_rss_mib: Vec<(String, f64)>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let plan = Plan::for_suite(cli.suite);
    let binary = gavel_binary()?;
    let base = Settings::load(None)?;
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let step = |name: &str| eprintln!("[bench] {name}");

    let deployment = Deployment::start(
        &binary,
        &base,
        &["api", "relay", "project", "purchases", "scheduler"],
    )
    .await?;
    step("command throughput and the pgbench ceiling");
    let throughput = throughput::run(&deployment, &plan.levels, plan.auctions, plan.run).await?;
    step("waiting for the projector to drain");
    let (drained, projector_catch_up_cpu) =
        cpu::during(deployment.drain(Duration::from_secs(900))).await;
    let (drain_time, drained) = drained?;
    let projector_catch_up = report::CatchUp::new(drained, drain_time);
    step("latency against stream length");
    let stream_length =
        stream_length::run(&deployment, &plan.stream_lengths, plan.stream_samples, 50.0).await?;
    deployment.drain(Duration::from_secs(900)).await?;
    step("hot auction");
    let (hot_auction, hot_auction_cpu) =
        cpu::during(hot_auction::run(&deployment, plan.hot_clients, plan.run)).await;
    let hot_auction = hot_auction?;
    deployment.drain(Duration::from_secs(900)).await?;
    step("freshness at fixed loads");
    let (freshness, freshness_cpu) = cpu::during(freshness::run(
        &deployment,
        &plan.rates,
        plan.run,
        plan.auctions,
    ))
    .await;
    let freshness = freshness?;
    let peak_rss_mib = deployment.peak_rss_mib();
    deployment.remove().await?;
    step("command throughput with the API alone");
    let api_alone = Deployment::start(&binary, &base, &["api"]).await?;
    let command_path =
        throughput::run_command_path(&api_alone, &throughput, plan.auctions, plan.run).await?;
    api_alone.remove().await?;
    step("rebuild");
    let rebuild = rebuild::run(&binary, &base, &plan.rebuild_sizes).await?;
    step("search");
    let search = search::run(&binary, &base, &plan.search_sizes, 8, plan.run).await?;

    let results = Results {
        suite: cli.suite,
        started_at,
        machine: report::Machine::here(),
        throughput,
        command_path,
        projector_catch_up,
        projector_catch_up_cpu,
        stream_length,
        hot_auction,
        hot_auction_cpu,
        freshness,
        freshness_cpu,
        rebuild,
        search,
        peak_rss_mib,
    };
    report::write(&results, &cli.out, cli.report.as_deref())?;
    println!("{}", report::summary_tables(&results));
    Ok(())
}
