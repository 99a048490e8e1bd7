//! One hot auction: 64 clients bidding on it at once, closed loop. Every bid must be accepted or
//! refused for a business reason (a rival got there first); none may surface a conflict. The final
//! state is checked against the event store and an independent second-price computation.

use std::sync::Arc;
use std::time::Duration;

use gavel_api::auth::Role;
use serde::Serialize;
use serde_json::json;
use tokio::sync::Mutex;

use super::next_max;
use crate::deployment::{Deployment, Outcome};
use crate::measure::{closed_loop, Summary};

/// What the hot auction took.
#[derive(Debug, Clone, Serialize)]
pub struct HotAuction {
    /// Concurrent bidders.
    pub clients: usize,
    /// Accepted bids per second.
    pub accepted_per_second: f64,
    /// Accepted bids.
    pub accepted: u64,
    /// Bids refused for a business reason (outbid while in flight).
    pub rejected: u64,
    /// Conflicts or other failures surfaced to clients (must be 0).
    pub conflicts_surfaced: u64,
    /// Latency of each bid.
    pub latency: Summary,
    /// Whether the event store holds exactly the accepted bids, the read model shows the state
    /// they lead to, and the price is the second-price rule's.
    pub final_state_correct: bool,
}

/// Runs `clients` bidders on one auction for `duration`.
pub async fn run(
    deployment: &Deployment,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<HotAuction> {
    let client = deployment.client();
    let seller = client.token(&[Role::VerifiedSeller]);
    let listing = Arc::new(client.create_auction(&seller).await?);
    let bidders: Arc<Vec<String>> =
        Arc::new((0..clients).map(|_| client.token(&[Role::Buyer])).collect());
    // Each bid offers the next maximum of one shared sequence; bids overtaken in flight are
    // refused as too low, which is a business answer.
    let sequence = Arc::new(Mutex::new(0_i64));
    let counts = Arc::new(Mutex::new((0_u64, 0_u64, 0_u64)));
    let accepted_maxima = Arc::new(Mutex::new(Vec::new()));
    let (latencies, elapsed) = {
        let client = client.clone();
        let listing = listing.clone();
        let counts = counts.clone();
        let accepted_maxima = accepted_maxima.clone();
        closed_loop(clients, duration, move |c, _| {
            let client = client.clone();
            let listing = listing.clone();
            let bidders = bidders.clone();
            let sequence = sequence.clone();
            let counts = counts.clone();
            let accepted_maxima = accepted_maxima.clone();
            async move {
                let amount = {
                    let mut last = sequence.lock().await;
                    *last = if *last == 0 { 10_000 } else { next_max(*last) };
                    *last
                };
                let outcome = client.bid(&bidders[c], &listing, amount).await;
                let mut counts = counts.lock().await;
                match outcome {
                    Outcome::Accepted(_) => {
                        counts.0 += 1;
                        accepted_maxima.lock().await.push((c, amount));
                    }
                    Outcome::Rejected(_) => counts.1 += 1,
                    Outcome::Failed(_) => counts.2 += 1,
                }
            }
        })
        .await
    };
    let (accepted, rejected, failed) = *counts.lock().await;
    let maxima = accepted_maxima.lock().await.clone();
    let final_state_correct = check_final_state(deployment, &listing, accepted, &maxima).await?;
    Ok(HotAuction {
        clients,
        accepted_per_second: accepted as f64 / elapsed.as_secs_f64(),
        accepted,
        rejected,
        conflicts_surfaced: failed,
        latency: latencies.summary(),
        final_state_correct,
    })
}

/// The event store holds one `BidPlaced` per accepted bid, and the read model (once caught up)
/// shows that many bids and the price the second-price rule gives for the accepted maxima.
async fn check_final_state(
    deployment: &Deployment,
    listing: &str,
    accepted: u64,
    maxima: &[(usize, i64)],
) -> anyhow::Result<bool> {
    let pool = gavel_tests::postgres_pool(&deployment.settings);
    let (stored, version): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE event_type = 'BidPlaced'), max(sequence) FROM events \
         WHERE aggregate_type = 'Listing' AND aggregate_id = $1",
    )
    .bind(listing)
    .fetch_one(&pool)
    .await?;
    // The read model may trail a burst; wait (bounded) until it has caught up.
    let client = deployment.client();
    let mut view = serde_json::Value::Null;
    for _ in 0..60 {
        view = client
            .graphql(
                None,
                r#"query($id: ID!, $v: Int) { listing(id: $id, minVersion: $v) { stale bidCount price { amount } } }"#,
                json!({ "id": listing, "v": version }),
            )
            .await
            .map_err(anyhow::Error::msg)?;
        if view["data"]["listing"]["stale"] == false {
            break;
        }
    }
    let view = &view["data"]["listing"];
    let expected = second_price(maxima);
    let shown = format!("{}.{:02}", expected / 100, expected % 100);
    Ok(stored as u64 == accepted
        && view["stale"] == false
        && view["bidCount"].as_u64() == Some(accepted)
        && view["price"]["amount"] == shown.as_str())
}

/// The second-price rule, computed from the accepted (bidder, maximum) pairs alone: each bidder
/// counts with their highest maximum; the highest pays the runner-up's maximum plus its increment,
/// capped at its own; a lone bidder pays the start price.
fn second_price(maxima: &[(usize, i64)]) -> i64 {
    let mut best: std::collections::HashMap<usize, i64> = std::collections::HashMap::new();
    for &(bidder, amount) in maxima {
        let entry = best.entry(bidder).or_insert(amount);
        *entry = (*entry).max(amount);
    }
    let mut sorted: Vec<i64> = best.into_values().collect();
    sorted.sort_unstable();
    match sorted.as_slice() {
        [] | [_] => 10_000,
        [.., runner_up, top] => (next_max(*runner_up) - 1).min(*top),
    }
}
