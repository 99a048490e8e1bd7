//! Builders shared by the listing tests.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use gavel_domain::clock::ManualClock;
use gavel_domain::listing::{
    Actor, AuctionTerms, BuyNowPolicy, ClosePolicy, Condition, FixedPriceTerms, ItemDetails,
    Listing, ListingCommand, ListingEvent, ListingServices, ListingTerms,
};
use gavel_domain::{Currency, Money, Role};
use uuid::Uuid;

/// The moment every test starts at.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
}

pub fn usd(amount: &str) -> Money {
    Money::parse_decimal(amount, Currency::new("USD").unwrap()).unwrap()
}

pub fn listing_id() -> Uuid {
    Uuid::from_u128(1)
}

pub fn seller() -> Actor {
    Actor::new(Uuid::from_u128(100), [Role::Seller, Role::VerifiedSeller])
}

pub fn bidder(n: u128) -> Actor {
    Actor::new(Uuid::from_u128(1000 + n), [Role::Buyer])
}

pub fn item() -> ItemDetails {
    ItemDetails {
        title: "Rolex Submariner 124060".into(),
        brand: "Rolex".into(),
        model: "Submariner".into(),
        reference: "124060".into(),
        condition: Condition::VeryGood,
        year: Some(2021),
        box_and_papers: true,
        description: "Full set.".into(),
        image_urls: vec!["https://img.example/1.jpg".into()],
    }
}

pub fn auction_terms(start: &str) -> AuctionTerms {
    AuctionTerms {
        start_price: usd(start),
        reserve: None,
        buy_now: None,
        buy_now_policy: BuyNowPolicy::FirstBid,
        close_policy: ClosePolicy::default(),
        ends_at: t0() + Duration::days(7),
    }
}

pub fn created(terms: ListingTerms) -> ListingEvent {
    ListingEvent::ListingCreated {
        listing_id: listing_id(),
        seller_id: seller().user_id,
        item: item(),
        terms,
        created_at: t0(),
    }
}

pub fn auction_created(terms: AuctionTerms) -> ListingEvent {
    created(ListingTerms::Auction(terms))
}

pub fn fixed_created(price: &str) -> ListingEvent {
    created(ListingTerms::FixedPrice(FixedPriceTerms {
        price: usd(price),
        quantity: 3,
        sku: Some("SUB-124060".into()),
    }))
}

/// A test framework whose clock stands at `at`.
pub fn at(at: DateTime<Utc>) -> TestFramework<Listing> {
    TestFramework::with(ListingServices {
        clock: Arc::new(ManualClock::new(at)),
    })
}

pub fn bid(n: u128, max: &str) -> ListingCommand {
    ListingCommand::PlaceBid {
        bid_id: Uuid::now_v7(),
        bidder: bidder(n),
        max_amount: usd(max),
    }
}

/// Runs `commands` one after another at `now`, each on the events so far; returns all events.
pub fn run(
    mut events: Vec<ListingEvent>,
    now: DateTime<Utc>,
    commands: Vec<ListingCommand>,
) -> Vec<ListingEvent> {
    for command in commands {
        let new = at(now)
            .given(events.clone())
            .when(command)
            .inspect_result()
            .expect("command accepted");
        events.extend(new);
    }
    events
}

/// The state after `events`.
pub fn state(events: &[ListingEvent]) -> Listing {
    let mut listing = Listing::default();
    for event in events {
        listing.apply(event.clone());
    }
    listing
}
