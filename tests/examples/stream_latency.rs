//! How command latency grows with an auction's event stream: the command bus (cached state, only
//! newer events read) against plain replay (cqrs-es loading every event on every command), both on
//! the real event store, measured in the same run.
//!
//! Run with the stack up: `cargo run --release -p gavel-tests --example stream_latency`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use gavel_commands::{CommandBus, CommandContext, RetryPolicy};
use gavel_domain::clock::SystemClock;
use gavel_domain::listing::{Actor, Listing, ListingCommand, ListingServices};
use gavel_domain::Role;
use gavel_tests::listings::{create_auction, usd};
use gavel_tests::{isolated_settings, postgres_pool, stack_settings};
use uuid::Uuid;

const SAMPLES: usize = 60;

fn bid(bidder: Uuid, max_minor: i64) -> ListingCommand {
    ListingCommand::PlaceBid {
        bid_id: Uuid::now_v7(),
        bidder: Actor::new(bidder, [Role::Buyer]),
        max_amount: usd(max_minor),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Times `SAMPLES` raises of the leader's maximum through `execute`, returning p50 and p95.
async fn measure<F, Fut, T, E>(max: &mut i64, mut execute: F) -> (Duration, Duration)
where
    F: FnMut(ListingCommand) -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Debug,
{
    let leader = leader();
    let mut times = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        *max += 1;
        let started = Instant::now();
        execute(bid(leader, *max)).await.expect("raise accepted");
        times.push(started.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.95))
}

/// One bidder for every stream, so each raise is the leader raising their own maximum.
fn leader() -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001)
}

#[tokio::main]
async fn main() {
    let settings = isolated_settings(&stack_settings()).await;
    let pool = postgres_pool(&settings);
    let services = || ListingServices {
        clock: Arc::new(SystemClock),
    };
    let bus = CommandBus::<Listing>::new(pool.clone(), services(), 100, RetryPolicy::default());
    let plain = postgres_es::postgres_cqrs::<Listing>(pool.clone(), vec![], services());
    let context = CommandContext::new(None, Utc::now());
    let leader = leader();

    println!("| prior events | bus p50 | bus p95 | plain replay p50 | plain replay p95 |");
    println!("|---:|---:|---:|---:|---:|");
    let mut baseline = None;
    for prior in [0usize, 100, 1_000, 2_000] {
        let id = Uuid::now_v7();
        let key = id.to_string();
        let seller = Actor::new(Uuid::now_v7(), [Role::VerifiedSeller]);
        let create = create_auction(id, seller, Utc::now() + chrono::Duration::days(30));
        bus.execute(&key, create, &context).await.unwrap();
        let mut max = 10_000;
        for _ in 0..prior {
            max += 1;
            bus.execute(&key, bid(leader, max), &context).await.unwrap();
        }
        // The leader raising their own maximum: valid at any stream length.
        let (bus_p50, bus_p95) =
            measure(&mut max, |command| bus.execute(&key, command, &context)).await;
        let (plain_p50, plain_p95) =
            measure(&mut max, |command| plain.execute(&key, command)).await;
        let base = *baseline.get_or_insert(bus_p50);
        println!(
            "| {prior} | {:.2} ms ({:.2}×) | {:.2} ms | {:.2} ms | {:.2} ms |",
            bus_p50.as_secs_f64() * 1e3,
            bus_p50.as_secs_f64() / base.as_secs_f64(),
            bus_p95.as_secs_f64() * 1e3,
            plain_p50.as_secs_f64() * 1e3,
            plain_p95.as_secs_f64() * 1e3,
        );
    }
}
