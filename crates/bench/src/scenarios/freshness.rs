//! Freshness: the time from a mutation's response to its change being visible through a GraphQL
//! query, at fixed offered loads, open loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gavel_api::auth::Role;
use serde::Serialize;
use serde_json::json;
use tokio::sync::Mutex;

use super::next_max;
use super::throughput::create_auctions;
use crate::deployment::{Deployment, Outcome};
use crate::measure::{open_loop, Latencies, Summary};

/// Freshness at one offered load.
#[derive(Debug, Clone, Serialize)]
pub struct Load {
    /// Commands offered per second.
    pub offered_per_second: f64,
    /// Commands sent.
    pub commands: u64,
    /// Commands refused for a business reason or failed.
    pub not_accepted: u64,
    /// Command latency from the intended send time.
    pub command_latency: Summary,
    /// From a command's response to the read model showing it, over the sampled commands.
    pub freshness: Summary,
    /// Sampled commands whose change was not visible within the 2 s read-your-writes bound.
    pub stale: u64,
    /// (seconds into the run, freshness in ms) of each sample, for the chart.
    pub series: Vec<(f64, f64)>,
}

/// Every this many commands, one is followed by a read to measure its freshness.
const SAMPLE_EVERY: u64 = 4;

/// How long the projector may take to apply what came before a load.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(900);

/// Offers each of `rates` for `duration`, over `auctions` auctions.
///
/// Each load starts once the projector has applied everything before it (the auctions'
/// creation, the previous load's bids): otherwise a load's first samples would wait behind that
/// backlog and measure it instead of the load.
pub async fn run(
    deployment: &Deployment,
    rates: &[f64],
    duration: Duration,
    auctions: usize,
) -> anyhow::Result<Vec<Load>> {
    let client = deployment.client();
    let seller = client.token(&[Role::VerifiedSeller]);
    let listings = Arc::new(create_auctions(&client, &seller, auctions).await?);
    let bidders = Arc::new([client.token(&[Role::Buyer]), client.token(&[Role::Buyer])]);
    // Each auction's (last maximum, bids so far), carried from one load to the next.
    let state: Arc<Vec<Mutex<(i64, usize)>>> =
        Arc::new(listings.iter().map(|_| Mutex::new((0, 0))).collect());
    let mut loads = vec![];
    for &rate in rates {
        deployment.drain(DRAIN_TIMEOUT).await?;
        let freshness = Arc::new(Mutex::new((Latencies::default(), 0_u64, Vec::new(), 0_u64)));
        let reads = Arc::new(Mutex::new(Vec::new()));
        let count = (rate * duration.as_secs_f64()) as u64;
        let start = Instant::now();
        let command_latency = {
            let client = client.clone();
            let listings = listings.clone();
            let bidders = bidders.clone();
            let freshness = freshness.clone();
            let state = state.clone();
            let reads = reads.clone();
            open_loop(rate, count, move |n, _| {
                let client = client.clone();
                let listings = listings.clone();
                let bidders = bidders.clone();
                let state = state.clone();
                let freshness = freshness.clone();
                let reads = reads.clone();
                async move {
                    let index = n as usize % listings.len();
                    let (amount, bidder) = {
                        let mut auction = state[index].lock().await;
                        auction.0 = if auction.0 == 0 { 10_000 } else { next_max(auction.0) };
                        auction.1 += 1;
                        (auction.0, bidders[auction.1 % 2].clone())
                    };
                    let outcome = client.bid(&bidder, &listings[index], amount).await;
                    let Outcome::Accepted(version) = outcome else {
                        freshness.lock().await.3 += 1;
                        return;
                    };
                    if n % SAMPLE_EVERY != 0 {
                        return;
                    }
                    // The read runs on its own task: the command's latency ends with its answer.
                    let answered = Instant::now();
                    let read = tokio::spawn(async move {
                        let view = client
                            .graphql(
                                None,
                                "query($id: ID!, $v: Int) { listing(id: $id, minVersion: $v) { stale } }",
                                json!({ "id": listings[index], "v": version }),
                            )
                            .await;
                        let visible = answered.elapsed();
                        let mut freshness = freshness.lock().await;
                        match view {
                            Ok(view) if view["data"]["listing"]["stale"] == false => {
                                freshness.0.record(visible);
                                freshness.2.push((
                                    (answered - start).as_secs_f64(),
                                    visible.as_secs_f64() * 1e3,
                                ));
                            }
                            _ => freshness.1 += 1,
                        }
                    });
                    reads.lock().await.push(read);
                }
            })
            .await
        };
        for read in std::mem::take(&mut *reads.lock().await) {
            read.await?;
        }
        let (fresh, stale, series, not_accepted) = freshness.lock().await.clone();
        loads.push(Load {
            offered_per_second: rate,
            commands: count,
            not_accepted,
            command_latency: command_latency.summary(),
            freshness: fresh.summary(),
            stale,
            series,
        });
    }
    Ok(loads)
}
