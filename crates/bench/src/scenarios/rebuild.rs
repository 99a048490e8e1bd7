//! Rebuild: events per second when `gavel rebuild` replays a whole event store into empty read
//! models, and the role's peak memory.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::Utc;
use gavel_config::Settings;
use gavel_domain::listing::{
    Condition, ItemDetails, ListingEvent, ListingTerms, PublicAuctionState,
};
use gavel_tests::listings::{plain_auction, usd};
use gavel_tests::{isolated_settings_for, owned_name, peak_rss_bytes, postgres_pool};
use serde::Serialize;
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use super::next_max;
use crate::cpu::{self, CpuUse};
use crate::deployment::{drop_data, BENCH};

/// One rebuild.
#[derive(Debug, Clone, Serialize)]
pub struct Rebuild {
    /// Events in the store.
    pub events: u64,
    /// Events replayed per second, as `gavel rebuild` measured it.
    pub events_per_second: f64,
    /// `gavel rebuild`'s peak resident memory, in MiB.
    pub peak_rss_mib: f64,
    /// Where the processor time went while it ran.
    pub cpu: CpuUse,
}

/// Every generated auction: its creation and this many bids.
const BIDS_PER_AUCTION: usize = 19;

/// For each size, fills a fresh event store with that many events and rebuilds it.
pub async fn run(
    binary: &std::path::Path,
    base: &Settings,
    sizes: &[u64],
) -> anyhow::Result<Vec<Rebuild>> {
    let mut results = vec![];
    for &size in sizes {
        let settings = isolated_settings_for(BENCH, base).await;
        fill(&settings, size).await?;
        let target = owned_name(BENCH, "rebuild");
        let (run, mut cpu) = cpu::during(rebuild(binary, &settings, &target, size)).await;
        let run = run?;
        cpu.add("gavel rebuild", run.own_seconds);
        results.push(Rebuild {
            events: run.events,
            events_per_second: run.events_per_second,
            peak_rss_mib: run.peak_rss_mib,
            cpu,
        });
        drop_data(&settings, &[&target]).await?;
    }
    Ok(results)
}

/// The events of one auction with two bidders outbidding each other.
fn auction_events(listing: Uuid) -> Vec<ListingEvent> {
    let now = Utc::now();
    let bidders = [Uuid::now_v7(), Uuid::now_v7()];
    let mut events = vec![ListingEvent::ListingCreated {
        listing_id: listing,
        seller_id: Uuid::now_v7(),
        item: ItemDetails {
            title: "Rolex Submariner 124060".into(),
            brand: "Rolex".into(),
            model: "Submariner".into(),
            reference: "124060".into(),
            condition: Condition::VeryGood,
            year: Some(2021),
            box_and_papers: true,
            description: "Full set.".into(),
            image_urls: vec![],
        },
        terms: ListingTerms::Auction(plain_auction(now + chrono::Duration::days(30))),
        created_at: now,
    }];
    let mut previous = None;
    let mut max = 10_000;
    for bid in 0..BIDS_PER_AUCTION {
        let price = match previous {
            None => 10_000,
            Some(runner_up) => (next_max(runner_up) - 1).min(max),
        };
        events.push(ListingEvent::BidPlaced {
            bid_id: Uuid::now_v7(),
            bidder_id: bidders[bid % 2],
            max_amount: usd(max),
            state: PublicAuctionState {
                price: usd(price),
                leader_id: Some(bidders[bid % 2]),
                reserve_met: true,
                buy_now_available: false,
                bid_count: bid as u32 + 1,
            },
            placed_at: now,
        });
        previous = Some(max);
        max = next_max(max);
    }
    events
}

/// Appends about `size` events straight into the store, in batches.
async fn fill(settings: &Settings, size: u64) -> anyhow::Result<()> {
    let pool = postgres_pool(settings);
    // No relay reads this store: the outbox trigger would only double the writes.
    sqlx::query("ALTER TABLE events DISABLE TRIGGER USER")
        .execute(&pool)
        .await?;
    let auctions = size.div_ceil(BIDS_PER_AUCTION as u64 + 1);
    let metadata = serde_json::json!({ "recorded_at": Utc::now().to_rfc3339() }).to_string();
    let mut batch: (Vec<String>, Vec<i64>, Vec<String>, Vec<String>) = Default::default();
    for auction in 0..auctions {
        let listing = Uuid::now_v7();
        for (index, event) in auction_events(listing).into_iter().enumerate() {
            batch.0.push(listing.to_string());
            batch.1.push(index as i64 + 1);
            batch.2.push(event.name().to_string());
            batch.3.push(serde_json::to_string(&event)?);
        }
        if batch.0.len() >= 10_000 || auction + 1 == auctions {
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                 SELECT 'Listing', id, seq, kind, '1', payload::json, $5::json \
                 FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[]) AS e(id, seq, kind, payload)",
            )
            .bind(&batch.0)
            .bind(&batch.1)
            .bind(&batch.2)
            .bind(&batch.3)
            .bind(&metadata)
            .execute(&pool)
            .await?;
            batch = Default::default();
        }
    }
    Ok(())
}

/// What one `gavel rebuild` process reported and used.
struct RebuildRun {
    events: u64,
    events_per_second: f64,
    peak_rss_mib: f64,
    /// Its processor seconds, as last seen before it exited.
    own_seconds: f64,
}

/// Runs `gavel rebuild` into the new read-model database `target`, sampling its memory and
/// processor time while it runs.
async fn rebuild(
    binary: &std::path::Path,
    settings: &Settings,
    target: &str,
    size: u64,
) -> anyhow::Result<RebuildRun> {
    let mut child = tokio::process::Command::new(binary)
        .arg("rebuild")
        .env("GAVEL_POSTGRES_URL", &settings.postgres_url)
        .env("GAVEL_MONGODB_URL", &settings.mongodb_url)
        .env("GAVEL_MONGODB_DATABASE", target)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting gavel rebuild")?;
    let pid = child.id().context("gavel rebuild's pid")?;
    let mut peak = 0_u64;
    let mut own_seconds = 0.0_f64;
    let status = loop {
        if let Some(bytes) = peak_rss_bytes(pid) {
            peak = peak.max(bytes);
        }
        if let Some(seconds) = cpu::process_seconds(pid) {
            own_seconds = own_seconds.max(seconds);
        }
        tokio::select! {
            status = child.wait() => break status?,
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    };
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .context("stdout")?
        .read_to_string(&mut stdout)
        .await?;
    if !status.success() {
        bail!("gavel rebuild failed: {stdout}");
    }
    // "replayed N events into DB in S s (R events/s)"
    let events_per_second = stdout
        .rsplit_once('(')
        .and_then(|(_, rate)| rate.split_whitespace().next())
        .and_then(|rate| rate.parse().ok())
        .with_context(|| format!("no rate in: {stdout}"))?;
    let events = stdout
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(size);
    Ok(RebuildRun {
        events,
        events_per_second,
        peak_rss_mib: peak as f64 / (1024.0 * 1024.0),
        own_seconds,
    })
}
