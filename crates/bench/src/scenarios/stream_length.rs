//! Command latency on auctions with a long history: open-loop bids on auctions that already hold
//! 0, 100, 1,000 and 2,000 events, sent to all of them in turn.

use std::sync::Arc;

use gavel_api::auth::Role;
use serde::Serialize;
use tokio::sync::Mutex;

use super::next_max;
use crate::deployment::{Client, Deployment, Outcome};
use crate::measure::{open_loop, Latencies, Summary};

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

/// One auction under measurement: its listing, the last maximum bid on it and the bids so far.
struct Auction {
    listing: String,
    state: Mutex<(i64, usize)>,
}

impl Auction {
    /// Bids on the auction as the rival of its last bidder, outbidding them.
    async fn bid_next(&self, client: &Client, bidders: &[String; 2]) -> Outcome {
        let (amount, bidder) = {
            let mut state = self.state.lock().await;
            let amount = if state.0 == 0 {
                10_000
            } else {
                next_max(state.0)
            };
            state.0 = amount;
            state.1 += 1;
            (amount, bidders[state.1 % 2].clone())
        };
        client.bid(&bidder, &self.listing, amount).await
    }
}

/// Fills a fresh auction for each stream length with that many bids, then sends `samples` more
/// to each, `rate` per second in all, taking the auctions in turn: a noisy moment on the shared
/// machine then falls on every length alike, and each ratio against the fresh auction compares
/// bids sent over the same seconds.
pub async fn run(
    deployment: &Deployment,
    lengths: &[usize],
    samples: u64,
    rate: f64,
) -> anyhow::Result<Vec<Point>> {
    let client = deployment.client();
    let seller = client.token(&[Role::VerifiedSeller]);
    let bidders = Arc::new([client.token(&[Role::Buyer]), client.token(&[Role::Buyer])]);
    let mut auctions = Vec::with_capacity(lengths.len());
    for &prior in lengths {
        let auction = Auction {
            listing: client.create_auction(&seller).await?,
            state: Mutex::new((0, 0)),
        };
        for _ in 0..prior {
            if let outcome @ (Outcome::Rejected(_) | Outcome::Failed(_)) =
                auction.bid_next(&client, &bidders).await
            {
                anyhow::bail!("filling the auction: {outcome:?}");
            }
        }
        auctions.push(auction);
    }
    let auctions = Arc::new(auctions);
    // Per auction: the latency of each measured bid from its intended send time, and how many
    // were not accepted.
    let measured: Arc<Vec<Mutex<(Latencies, u64)>>> = Arc::new(
        lengths
            .iter()
            .map(|_| Mutex::new((Latencies::default(), 0)))
            .collect(),
    );
    {
        let measured = measured.clone();
        let count = samples * lengths.len() as u64;
        open_loop(rate, count, move |n, intended| {
            let which = n as usize % auctions.len();
            let auctions = auctions.clone();
            let client = client.clone();
            let bidders = bidders.clone();
            let measured = measured.clone();
            async move {
                let outcome = auctions[which].bid_next(&client, &bidders).await;
                let latency = intended.elapsed();
                let mut measured = measured[which].lock().await;
                measured.0.record(latency);
                if !matches!(outcome, Outcome::Accepted(_)) {
                    measured.1 += 1;
                }
            }
        })
        .await;
    }
    let mut points: Vec<Point> = Vec::with_capacity(lengths.len());
    for (&prior, measured) in lengths.iter().zip(measured.iter()) {
        let (latencies, rejected) = &*measured.lock().await;
        let summary = latencies.summary();
        let fresh_p99 = points.first().map_or(summary.p99_ms, |p| p.latency.p99_ms);
        points.push(Point {
            prior_events: prior,
            latency: summary,
            p99_vs_fresh: summary.p99_ms / fresh_p99.max(f64::EPSILON),
            rejected: *rejected,
        });
    }
    Ok(points)
}
