//! What one bid costs the listing aggregate as its auction grows: bids handled the way the command
//! bus handles them (on a copy of the state, the state before kept until the copy is accepted),
//! timed per block of bids, each block against the first block of the same run. No I/O: this is
//! the aggregate alone, so a cost that grows with the bids before it shows here first.
//!
//! Run with `cargo run --release -p gavel-domain --example bid_cost`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use gavel_domain::clock::ManualClock;
use gavel_domain::increment::price_plus_increment;
use gavel_domain::listing::{
    Actor, AuctionTerms, BuyNowPolicy, ClosePolicy, Condition, ItemDetails, Listing,
    ListingCommand, ListingEvent, ListingServices, ListingTerms,
};
use gavel_domain::{Currency, Money, Role};
use uuid::Uuid;

const BLOCKS: usize = 20;
const BIDS_PER_BLOCK: usize = 1_000;
const BIDDERS: u128 = 64;

fn new_auction(now: chrono::DateTime<Utc>, currency: Currency) -> Listing {
    let mut listing = Listing::default();
    listing.apply(ListingEvent::ListingCreated {
        listing_id: Uuid::now_v7(),
        seller_id: Uuid::from_u128(1),
        item: ItemDetails {
            title: "Omega Speedmaster 310.30.42".into(),
            brand: "Omega".into(),
            model: "Speedmaster".into(),
            reference: "310.30.42".into(),
            condition: Condition::VeryGood,
            year: Some(2022),
            box_and_papers: true,
            description: "Full set.".into(),
            image_urls: vec![],
        },
        terms: ListingTerms::Auction(AuctionTerms {
            start_price: Money::from_minor(10_000, currency),
            reserve: None,
            buy_now: None,
            buy_now_policy: BuyNowPolicy::FirstBid,
            close_policy: ClosePolicy::default(),
            ends_at: now + chrono::Duration::days(7),
        }),
        created_at: now,
    });
    listing
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let now = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    let currency = Currency::new("USD").expect("USD is a currency");
    let services = ListingServices {
        clock: Arc::new(ManualClock::new(now)),
    };
    let bidders: Vec<Actor> = (0..BIDDERS)
        .map(|n| Actor::new(Uuid::from_u128(1_000 + n), [Role::Buyer]))
        .collect();
    let mut listing = new_auction(now, currency);
    let mut per_block: Vec<Duration> = Vec::with_capacity(BLOCKS);
    for block in 0..BLOCKS {
        let started = Instant::now();
        for n in 0..BIDS_PER_BLOCK {
            let minimum = price_plus_increment(listing.price().expect("an auction has a price"));
            let command = ListingCommand::PlaceBid {
                bid_id: Uuid::now_v7(),
                bidder: bidders[(block * BIDS_PER_BLOCK + n) % bidders.len()].clone(),
                max_amount: Money::from_minor(minimum.minor + 5_000, currency),
            };
            let mut next = listing.clone();
            let sink = EventSink::default();
            next.handle(command, &services, &sink)
                .await
                .expect("a bid above the minimum is accepted");
            listing = next;
        }
        per_block.push(started.elapsed());
    }

    println!("| bids before | µs per bid | against the first block |");
    println!("|---:|---:|---:|");
    let first = per_block[0].as_secs_f64();
    for (block, took) in per_block.iter().enumerate() {
        if block % 5 == 0 || block == BLOCKS - 1 {
            println!(
                "| {} | {:.1} | {:.2} × |",
                block * BIDS_PER_BLOCK,
                took.as_secs_f64() * 1e6 / BIDS_PER_BLOCK as f64,
                took.as_secs_f64() / first
            );
        }
    }
}
