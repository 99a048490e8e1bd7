//! Bids per second through GraphQL over HTTP at several concurrencies, closed loop, over many
//! auctions; and in the same run the PostgreSQL ceiling: pgbench inserting one durable event-shaped
//! row per transaction at the same concurrencies.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use gavel_api::auth::Role;
use serde::Serialize;
use tokio::sync::Mutex;

use super::next_max;
use crate::deployment::{Client, Deployment, Outcome};
use crate::measure::{closed_loop, Latencies, Summary};

/// One concurrency level.
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    /// Concurrent clients.
    pub clients: usize,
    /// Accepted bids per second.
    pub bids_per_second: f64,
    /// Bids refused for a business reason (expected: none).
    pub rejected: u64,
    /// Failures surfaced to clients (expected: none).
    pub failed: u64,
    /// Latency of each bid.
    pub latency: Summary,
    /// The latency distribution, (percentile, ms).
    pub curve: Vec<(f64, f64)>,
    /// pgbench's one-row durable inserts per second at the same concurrency.
    pub pgbench_tps: f64,
    /// Gavel's bids per second as a fraction of pgbench's.
    pub fraction_of_pgbench: f64,
}

/// An auction one client owns, with the two bidders who take turns on it.
struct Owned {
    listing: String,
    last_max: i64,
    turn: usize,
}

/// Measures each of `levels` for `duration`, over `auctions` auctions, each followed by pgbench
/// at the same concurrency.
pub async fn run(
    deployment: &Deployment,
    levels: &[usize],
    auctions: usize,
    duration: Duration,
) -> anyhow::Result<Vec<Level>> {
    let bidding = Bidding::new(deployment, auctions).await?;
    let mut results = vec![];
    for &clients in levels {
        let bids = bidding.level(clients, duration).await;
        let pgbench_tps = pgbench(deployment, clients, duration)?;
        results.push(level(bids, pgbench_tps));
    }
    Ok(results)
}

/// One concurrency level of the command path alone.
#[derive(Debug, Clone, Serialize)]
pub struct CommandPathLevel {
    /// Concurrent clients.
    pub clients: usize,
    /// Accepted bids per second.
    pub bids_per_second: f64,
    /// Bids refused for a business reason (expected: none).
    pub rejected: u64,
    /// Failures surfaced to clients (expected: none).
    pub failed: u64,
    /// Latency of each bid.
    pub latency: Summary,
    /// Bids per second as a fraction of pgbench's at the same concurrency in the main runs.
    pub fraction_of_pgbench: f64,
    /// Bids per second as a multiple of the whole stack's at the same concurrency.
    pub vs_whole_stack: f64,
}

/// The same bids as [`run`] against `deployment`, which runs the API alone (no relay, projector
/// or other role beside it), level by level against the whole stack's `levels`: how much of the
/// gap to pgbench is the command path and how much the pipeline sharing its cores.
pub async fn run_command_path(
    deployment: &Deployment,
    levels: &[Level],
    auctions: usize,
    duration: Duration,
) -> anyhow::Result<Vec<CommandPathLevel>> {
    let bidding = Bidding::new(deployment, auctions).await?;
    let mut results = vec![];
    for whole_stack in levels {
        let bids = bidding.level(whole_stack.clients, duration).await;
        results.push(CommandPathLevel {
            clients: bids.clients,
            bids_per_second: bids.per_second,
            rejected: bids.rejected,
            failed: bids.failed,
            latency: bids.latencies.summary(),
            fraction_of_pgbench: ratio(bids.per_second, whole_stack.pgbench_tps),
            vs_whole_stack: ratio(bids.per_second, whole_stack.bids_per_second),
        });
    }
    Ok(results)
}

/// What one closed-loop level of bidding measured.
struct Bids {
    clients: usize,
    per_second: f64,
    rejected: u64,
    failed: u64,
    latencies: Latencies,
}

/// Auctions to bid on, each with the bidders' progress on it.
struct Bidding {
    client: Client,
    auctions: Vec<Arc<Mutex<Owned>>>,
}

impl Bidding {
    /// Creates `auctions` auctions on `deployment`.
    async fn new(deployment: &Deployment, auctions: usize) -> anyhow::Result<Self> {
        let client = deployment.client();
        let seller = client.token(&[Role::VerifiedSeller]);
        let listings = create_auctions(&client, &seller, auctions).await?;
        let auctions = listings
            .into_iter()
            .map(|listing| {
                Arc::new(Mutex::new(Owned {
                    listing,
                    last_max: 0,
                    turn: 0,
                }))
            })
            .collect();
        Ok(Self { client, auctions })
    }

    /// Bids with `clients` clients for `duration`, continuing where the previous level left each
    /// auction.
    async fn level(&self, clients: usize, duration: Duration) -> Bids {
        // Each client owns a disjoint share of the auctions, so bids never race each other and
        // every one is valid: throughput, not contention, is measured here.
        let owned: Vec<Vec<Arc<Mutex<Owned>>>> = (0..clients)
            .map(|c| {
                self.auctions
                    .iter()
                    .skip(c)
                    .step_by(clients)
                    .cloned()
                    .collect()
            })
            .collect();
        let bidders: Arc<Vec<[String; 2]>> = Arc::new(
            (0..clients)
                .map(|_| {
                    [
                        self.client.token(&[Role::Buyer]),
                        self.client.token(&[Role::Buyer]),
                    ]
                })
                .collect(),
        );
        let counts = Arc::new(Mutex::new((0_u64, 0_u64, 0_u64)));
        let (latencies, elapsed) = {
            let client = self.client.clone();
            let counts = counts.clone();
            closed_loop(clients, duration, move |c, n| {
                let client = client.clone();
                let auction = owned[c][n as usize % owned[c].len()].clone();
                let bidders = bidders.clone();
                let counts = counts.clone();
                async move {
                    let mut auction = auction.lock().await;
                    let amount = if auction.last_max == 0 {
                        10_000
                    } else {
                        next_max(auction.last_max)
                    };
                    let bidder = &bidders[c][auction.turn % 2];
                    let outcome = client.bid(bidder, &auction.listing, amount).await;
                    let mut counts = counts.lock().await;
                    match outcome {
                        Outcome::Accepted(_) => {
                            auction.last_max = amount;
                            auction.turn += 1;
                            counts.0 += 1;
                        }
                        Outcome::Rejected(_) => counts.1 += 1,
                        Outcome::Failed(_) => counts.2 += 1,
                    }
                }
            })
            .await
        };
        let (accepted, rejected, failed) = *counts.lock().await;
        Bids {
            clients,
            per_second: accepted as f64 / elapsed.as_secs_f64(),
            rejected,
            failed,
            latencies,
        }
    }
}

/// `part` as a multiple of `whole`, without dividing by zero when `whole` measured nothing.
fn ratio(part: f64, whole: f64) -> f64 {
    part / whole.max(f64::EPSILON)
}

fn level(bids: Bids, pgbench_tps: f64) -> Level {
    Level {
        clients: bids.clients,
        bids_per_second: bids.per_second,
        rejected: bids.rejected,
        failed: bids.failed,
        latency: bids.latencies.summary(),
        curve: bids.latencies.curve(),
        pgbench_tps,
        fraction_of_pgbench: ratio(bids.per_second, pgbench_tps),
    }
}

/// Creates `count` auctions, eight at a time.
pub async fn create_auctions(
    client: &Client,
    seller: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut listings = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(8) {
        let created =
            futures::future::join_all(chunk.iter().map(|_| client.create_auction(seller))).await;
        for listing in created {
            listings.push(listing?);
        }
    }
    Ok(listings)
}

/// The event-shaped row pgbench inserts: the same columns and a payload of the same size as a
/// stored `BidPlaced`.
const PGBENCH_SCRIPT: &str = r#"\set id random(1, 9000000000000000000)
INSERT INTO pgbench_events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) VALUES ('Listing', :id, 1, 'BidPlaced', '1', '{"BidPlaced": {"state": {"price": {"minor": 18250, "currency": "USD"}, "bid_count": 2, "leader_id": "01a2073e-352f-714f-bdc5-b4ad578f4e72", "reserve_met": true, "buy_now_available": false}, "bid_id": "01a2073e-3539-77b5-b44d-d47884538121", "bidder_id": "01a2073e-352f-714f-bdc5-b4ad578f4e72", "placed_at": "2026-11-23T07:10:47.097544729Z", "max_amount": {"minor": 25000, "currency": "USD"}}}', '{"recorded_at": "2026-11-23T07:10:47.087164Z", "correlation_id": "01a2073e-352f-714f-bdc5-b4ab7f47aa3a", "user_id": "01a2073e-352f-714f-bdc5-b4ad578f4e72"}');
"#;

fn pgbench_path() -> anyhow::Result<std::path::PathBuf> {
    let mut versions: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed: run infra/stack.sh up")?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin/pgbench"))
        .filter(|path| path.is_file())
        .collect();
    versions.sort();
    versions
        .pop()
        .context("pgbench not found under /usr/lib/postgresql")
}

/// pgbench's transactions per second inserting one event-shaped row each, with `clients`
/// connections for `duration`, against the deployment's own database.
fn pgbench(deployment: &Deployment, clients: usize, duration: Duration) -> anyhow::Result<f64> {
    let url = &deployment.settings.postgres_url;
    let setup = std::process::Command::new(pgbench_path()?.with_file_name("psql"))
        .args([url.as_str(), "-q", "-c"])
        .arg("CREATE TABLE IF NOT EXISTS pgbench_events (LIKE events INCLUDING DEFAULTS INCLUDING INDEXES)")
        .output()?;
    if !setup.status.success() {
        bail!(
            "creating pgbench_events: {}",
            String::from_utf8_lossy(&setup.stderr)
        );
    }
    let script = std::env::temp_dir().join(format!("gavel-pgbench-{}.sql", std::process::id()));
    std::fs::write(&script, PGBENCH_SCRIPT)?;
    let threads = clients.min(2);
    let output = std::process::Command::new(pgbench_path()?)
        .args(["-n", "-M", "prepared", "-f"])
        .arg(&script)
        .args(["-c", &clients.to_string(), "-j", &threads.to_string()])
        .args(["-T", &duration.as_secs().max(1).to_string()])
        .arg(url)
        .output()
        .context("running pgbench")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
        .lines()
        .find(|line| line.starts_with("tps = "))
        .and_then(|line| line.split_whitespace().nth(2))
        .and_then(|tps| tps.parse().ok())
        .with_context(|| format!("no tps in pgbench output: {stdout}"))
}
