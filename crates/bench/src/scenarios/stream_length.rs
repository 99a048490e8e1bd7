//! Command latency on auctions with a long history: open-loop bids on auctions that already hold
//! 0, 100, 1,000 and 2,000 events.

use std::sync::Arc;

use gavel_api::auth::Role;
use serde::Serialize;
use tokio::sync::Mutex;

use super::next_max;
use crate::deployment::{Deployment, Outcome};
use crate::measure::{open_loop, Summary};

/// Latency at one stream length.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// Bids the auction held before the measured ones (plus its creation event).
    pub prior_events: usize,
    /// Latency of each measured bid, from its intended send time.
    pub latency: Summary,
    /// p99 as a multiple of the p99 on a fresh auction.
    pub p99_vs_fresh: f64,
    /// Measured bids refused for a business reason (arrivals out of order).
    pub rejected: u64,
}

/// For each stream length, fills a fresh auction with that many bids, then sends `samples` more
/// at `rate` per second.
pub async fn run(
    deployment: &Deployment,
    lengths: &[usize],
    samples: u64,
    rate: f64,
) -> anyhow::Result<Vec<Point>> {
    let client = deployment.client();
    let seller = client.token(&[Role::VerifiedSeller]);
    let bidders = Arc::new([client.token(&[Role::Buyer]), client.token(&[Role::Buyer])]);
    let mut points: Vec<Point> = vec![];
    for &prior in lengths {
        let listing = Arc::new(client.create_auction(&seller).await?);
        // (last maximum, bids so far): the rival of the last bidder outbids them each time.
        let state = Arc::new(Mutex::new((0_i64, 0_usize)));
        let bid_next = {
            let client = client.clone();
            let listing = listing.clone();
            let bidders = bidders.clone();
            let state = state.clone();
            move || {
                let client = client.clone();
                let listing = listing.clone();
                let bidders = bidders.clone();
                let state = state.clone();
                async move {
                    let (amount, bidder) = {
                        let mut state = state.lock().await;
                        let amount = if state.0 == 0 {
                            10_000
                        } else {
                            next_max(state.0)
                        };
                        state.0 = amount;
                        state.1 += 1;
                        (amount, bidders[state.1 % 2].clone())
                    };
                    client.bid(&bidder, &listing, amount).await
                }
            }
        };
        for _ in 0..prior {
            if let outcome @ (Outcome::Rejected(_) | Outcome::Failed(_)) = bid_next().await {
                anyhow::bail!("filling the auction: {outcome:?}");
            }
        }
        let rejected = Arc::new(Mutex::new(0_u64));
        let latencies = {
            let rejected = rejected.clone();
            let bid_next = bid_next.clone();
            open_loop(rate, samples, move |_, _| {
                let rejected = rejected.clone();
                let attempt = bid_next();
                async move {
                    if !matches!(attempt.await, Outcome::Accepted(_)) {
                        *rejected.lock().await += 1;
                    }
                }
            })
            .await
        };
        let summary = latencies.summary();
        let fresh_p99 = points.first().map_or(summary.p99_ms, |p| p.latency.p99_ms);
        points.push(Point {
            prior_events: prior,
            latency: summary,
            p99_vs_fresh: summary.p99_ms / fresh_p99.max(f64::EPSILON),
            rejected: *rejected.lock().await,
        });
    }
    Ok(points)
}
